"""`ltrl report`: a browsable report about any stage's records, at any size.

For each question: its chain with each hop's anchor evidence, the question and answer,
every rollout step by step (queries with their hits, opened and cited pages, chain pages
marked wherever they appear, a failed rollout's first step off the chain flagged), the
tiers or why there are none, and each assembled context as a strip of documents coloured
by tier, gold documents marked, each one's text a click away; for the dataset, its
distributions as inline SVG charts. The list of questions filters and sorts on the
figures an audit needs.

Modules: `data` (the inputs, streamed into a temporary SQLite store), `question` (one
question's list row and detail; the dataset's counts), `build` (the two passes),
`output` (a folder, or one HTML file), `page` and `charts` (the HTML around the data, the
dataset view), `assets` (app.css, app.js), `sections` (extra sections from other
commands' JSON).
"""

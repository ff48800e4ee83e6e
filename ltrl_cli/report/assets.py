"""The report's style sheet and script (app.css and app.js beside this file, written into
the page itself), and the few fixed pieces of its markup."""

from functools import cache
from importlib.resources import files

from ltrl_cli.report.charts import TIER_COLOURS

CONTROLS = (
    '<div class="controls"><input id="find" type="search" placeholder="Find: words, or hops>=6 k=0 tier1<3 …" '
    'aria-label="Find questions by words or figures">'
    '<select id="solved" aria-label="Solved"><option value="">all</option><option value="1">solved</option>'
    '<option value="0">unsolved</option><option value="-1">no rollouts</option></select>'
    '<select id="sort" aria-label="Sort by"><option value="id">sort: id</option><option value="k">k correct</option>'
    '<option value="hops">hops</option><option value="turns">turns (mean)</option>'
    '<option value="opened">opened (mean)</option><option value="cited">cited (mean)</option>'
    '<option value="reached">chain pages reached</option><option value="gold">gold</option>'
    '<option value="tier1">tier1</option><option value="tier2">tier2</option></select>'
    '<button id="order" type="button" title="Sort order: ascending (↑) or descending (↓)">↑</button></div>'
    '<p id="count"></p><p class="hint">Figures to filter on: k, rollouts, hops, turns, opened, cited, gold, tier1, '
    "tier2, reached, solved (1, 0, -1); with = != &lt; &gt; &lt;= &gt;=</p>"
)
DOC_PANE = ('<aside id="doc" hidden aria-label="Document text"><header><b id="doc-title"></b>'
            '<button id="close-doc" type="button">close (Esc)</button></header><pre id="doc-text"></pre></aside>')


@cache
def css() -> str:
    tiers = "".join(f".t-{tier}{{background:{colour}}}" for tier, colour in TIER_COLOURS.items())
    return files("ltrl_cli.report").joinpath("app.css").read_text() + tiers


@cache
def js() -> str:
    return files("ltrl_cli.report").joinpath("app.js").read_text()

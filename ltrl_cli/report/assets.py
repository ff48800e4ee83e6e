"""The report's style sheet and its one small script, written into the page itself."""

from ltrl_cli.report.charts import TIER_COLOURS

_TIERS = "".join(f".t-{tier}{{background:{colour}}}" for tier, colour in TIER_COLOURS.items())

CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;
display:flex;height:100vh}
#side{width:320px;min-width:240px;border-right:1px solid #ddd;display:flex;flex-direction:column;background:#fafafa}
#side h1{font-size:16px;margin:10px 12px}#side h1 a{color:#222;text-decoration:none}
#find{margin:0 12px 6px;padding:6px 8px;font-size:14px;border:1px solid #bbb;border-radius:4px}
#count{margin:0 12px 6px;color:#666;font-size:12px}
#list{list-style:none;margin:0;padding:0 0 20px;overflow-y:auto;flex:1}
#list li a{display:block;padding:4px 12px;color:#222;text-decoration:none;font-size:13px;border-bottom:1px solid #eee}
#list li a:hover{background:#eef4fb}#list li.hide{display:none}
main{flex:1;overflow-y:auto;padding:12px 24px 40px;max-width:1200px}
.view{display:none}.view:target{display:block}main:not(:has(.view:target)) #overview{display:block}
h2{margin:4px 0 6px;font-size:20px}h3{margin:18px 0 6px;font-size:16px}
.question{font-size:15px;background:#f4f6f8;padding:8px 10px;border-radius:4px}
.meta{color:#555;font-size:13px}.id{color:#888;font-size:12px}.ok{color:#1e8449;font-weight:600;margin-right:4px}
.no{color:#b03a2e;font-weight:600;margin-right:4px}
.chain{padding-left:22px}.chain li{margin:3px 0}.evidence{color:#555;font-size:13px;margin-left:6px}
mark{background:#fdebd0}
details{margin:4px 0;border:1px solid #e3e3e3;border-radius:4px;padding:4px 8px}summary{cursor:pointer}
table{border-collapse:collapse;margin:6px 0;font-size:13px}td,th{border-bottom:1px solid #eee;padding:3px 8px;
text-align:left;vertical-align:top}.steps td:nth-child(3){max-width:360px}
tr.open td:nth-child(2){color:#c0392b}tr.cite td:nth-child(2),tr.answer td:nth-child(2){color:#1e8449;font-weight:600}
.strip{display:flex;height:34px;border:1px solid #ccc;margin:6px 0}.doc{min-width:1px;border-right:1px solid #fff}
.doc:hover{outline:2px solid #222}
.sw{display:inline-block;width:11px;height:11px;margin:0 4px 0 8px;vertical-align:-1px}
dl.tiers dd{margin:0 0 8px 24px;font-size:13px}.measure{font-size:15px;background:#eef6ee;padding:8px 10px}
""" + _TIERS

JS = """
(function(){var f=document.getElementById('find'),items=document.querySelectorAll('#list li'),
c=document.getElementById('count');f.addEventListener('input',function(){var words=f.value.toLowerCase().split(/\\s+/)
.filter(Boolean),n=0;items.forEach(function(li){var t=li.getAttribute('data-text'),ok=words.every(function(w){
return t.indexOf(w)>=0});li.classList.toggle('hide',!ok);n+=ok});c.textContent=n+' of '+items.length+' questions'})})();
"""

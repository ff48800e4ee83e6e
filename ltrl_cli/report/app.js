// The report's script: the question list (virtual: only the rows in sight are in the
// document), its filters and sort, and a question's detail, drawn from the data scripts
// the page loads on demand (data/q-N.js) or, in a single-file report, from inert JSON
// blocks in the page (<script type="application/json" id="q-N">). No network, no library.
var LTRL = (function () {
  "use strict";
  var L = {meta: null, rows: [], cache: {}, cached: [], pending: {}};
  var ROW = 50, CACHE = 40;  // row height in px (fixed, for the virtual list); shards kept
  var C = {}, view = [], byId = {}, hay = null, current = null, sel = -1;
  var $ = function (id) { return document.getElementById(id); };

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  L.list = function (rows) { L.rows = rows; };

  L.shard = function (kind, n, data) {
    var key = kind + "-" + n, waiting = L.pending[key] || [];
    remember(key, data);
    delete L.pending[key];
    waiting.forEach(function (cb) { cb(data); });
  };

  function remember(key, data) {
    L.cache[key] = data;
    L.cached.push(key);
    if (L.cached.length > CACHE) delete L.cache[L.cached.shift()];
  }

  // A shard from the page itself (single file) or from data/KEY.js (folder).
  function load(kind, n, cb) {
    var key = kind + "-" + n, inline;
    if (L.cache[key]) return cb(L.cache[key]);
    inline = document.getElementById(key);
    if (inline) { remember(key, JSON.parse(inline.textContent)); return cb(L.cache[key]); }
    if (L.meta.inline && document.readyState === "loading") {  // its block is not parsed yet
      document.addEventListener("DOMContentLoaded", function () { load(kind, n, cb); });
      return;
    }
    if (L.pending[key]) { L.pending[key].push(cb); return; }
    L.pending[key] = [cb];
    var s = document.createElement("script");
    s.src = "data/" + key + ".js";
    s.onerror = function () {
      delete L.pending[key];
      $("detail").innerHTML = '<p class="no">Could not load data/' + esc(key) +
        '.js: the report folder is incomplete or was moved without its data folder.</p>';
    };
    document.head.appendChild(s);
  }

  L.start = function () {
    L.meta.columns.forEach(function (name, i) { C[name] = i; });
    L.rows.forEach(function (r, i) { byId[r[C.id]] = i; });
    ["find", "solved", "sort"].forEach(function (id) { $(id).addEventListener("input", refilter); });
    $("order").addEventListener("click", function () {
      $("order").textContent = $("order").textContent === "↓" ? "↑" : "↓";
      refilter();
    });
    $("list").addEventListener("scroll", function () { requestAnimationFrame(drawRows); });
    window.addEventListener("resize", function () { requestAnimationFrame(drawRows); });
    window.addEventListener("hashchange", route);
    document.addEventListener("keydown", keys);
    $("detail").addEventListener("click", clickPage);
    $("detail").addEventListener("mouseover", hoverDoc);
    $("detail").addEventListener("focusin", hoverDoc);
    $("close-doc").addEventListener("click", function () { $("doc").hidden = true; });
    refilter();
    route();
    afterPaint(function () { L.ready = performance.now(); });  // what the browser test and bench read
  };

  function afterPaint(cb) { requestAnimationFrame(function () { setTimeout(cb, 0); }); }

  // ---- the list: filter, sort, draw the rows in sight ----

  // "hops>=6 k=0 tier1<3 paris": comparisons on the list's numeric columns, and words that
  // the id, question, answer or chain titles must all hold.
  function parse(text) {
    var tests = [], words = [];
    text.toLowerCase().split(/\s+/).filter(Boolean).forEach(function (w) {
      var m = /^([a-z0-9_]+)(<=|>=|!=|=|<|>)(-?[0-9.]+)$/.exec(w);
      if (m && m[1] in C) tests.push([C[m[1]], m[2], parseFloat(m[3])]);
      else words.push(w);
    });
    return {tests: tests, words: words};
  }

  function compare(v, op, x) {
    if (v == null) return false;
    return op === "=" ? v === x : op === "!=" ? v !== x : op === "<" ? v < x : op === ">" ? v > x :
      op === "<=" ? v <= x : v >= x;
  }

  function haystack(i) {
    if (!hay) hay = new Array(L.rows.length);
    if (hay[i] === undefined) {
      var r = L.rows[i];
      hay[i] = (r[C.id] + " " + r[C.text] + " " + r[C.answer] + " " + r[C.chain]).toLowerCase();
    }
    return hay[i];
  }

  function refilter() {
    var q = parse($("find").value), solved = $("solved").value, key = $("sort").value;
    var down = $("order").textContent === "↓";
    view = [];
    for (var i = 0; i < L.rows.length; i++) {
      var r = L.rows[i], ok = solved === "" || String(r[C.solved]) === solved;
      for (var t = 0; ok && t < q.tests.length; t++) ok = compare(r[q.tests[t][0]], q.tests[t][1], q.tests[t][2]);
      for (var w = 0; ok && w < q.words.length; w++) ok = haystack(i).indexOf(q.words[w]) >= 0;
      if (ok) view.push(i);
    }
    if (key !== "id") {
      var c = C[key];
      view.sort(function (a, b) {
        var x = L.rows[a][c], y = L.rows[b][c];
        if (x == null || y == null) return (x == null) - (y == null) || a - b;
        return (down ? y - x : x - y) || a - b;
      });
    } else if (down) view.reverse();
    $("count").textContent = view.length.toLocaleString() + " of " + L.rows.length.toLocaleString() + " questions";
    $("spacer").style.height = view.length * ROW + "px";
    $("list").scrollTop = 0;
    drawRows();
  }

  function drawRows() {
    var list = $("list"), first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
    var last = Math.min(view.length, first + Math.ceil(list.clientHeight / ROW) + 10), html = [];
    for (var n = first; n < last; n++) html.push(rowHtml(view[n], n));
    $("spacer").innerHTML = html.join("");
  }

  function rowHtml(i, n) {
    var r = L.rows[i], s = r[C.solved];
    var mark = s === 1 ? '<span class="ok" title="solved">✓</span>' : s === 0 ?
      '<span class="no" title="no rollout correct">✗</span>' : '<span class="na" title="no rollouts">·</span>';
    var figs = [];
    if (r[C.rollouts]) figs.push(r[C.k] + "/" + r[C.rollouts] + " correct");
    if (r[C.hops] != null) figs.push(r[C.hops] + " hops");
    if (r[C.turns] != null) figs.push(Math.round(r[C.turns]) + " turns");
    if (r[C.tier1] != null) figs.push("T1 " + r[C.tier1] + "/T2 " + r[C.tier2]);
    return '<a class="row' + (i === sel ? " sel" : "") + '" style="top:' + n * ROW + 'px" href="#q/' +
      encodeURIComponent(r[C.id]) + '"><span class="l1">' + mark + '<b class="rid">' + esc(r[C.id]) +
      '</b><span class="figs">' + figs.join(" · ") + '</span></span><span class="qt">' + esc(r[C.text]) + "</span></a>";
  }

  function keys(e) {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT" || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "Escape") { $("doc").hidden = true; return; }
    var step = e.key === "j" || e.key === "ArrowDown" && e.target.id === "list" ? 1 :
      e.key === "k" || e.key === "ArrowUp" && e.target.id === "list" ? -1 : 0;
    if (!step || !view.length) return;
    var at = view.indexOf(sel), next = view[Math.min(view.length - 1, Math.max(0, at + step))];
    location.hash = "#q/" + encodeURIComponent(L.rows[next][C.id]);
    e.preventDefault();
  }

  // ---- routes: #q/ID a question, #find/QUERY the list filtered, else the dataset ----

  function route() {
    var h = location.hash.slice(1);
    try { h = decodeURIComponent(h); } catch (e) { /* a hand-typed "%": take the address as it is */ }
    if (h.indexOf("find/") === 0) {
      $("find").value = h.slice(5);
      refilter();
    }
    if (h.indexOf("q/") === 0 && h.slice(2) in byId) return openQuestion(byId[h.slice(2)]);
    sel = -1;
    $("detail").hidden = true;
    $("overview").hidden = false;
    drawRows();
  }

  function openQuestion(i) {
    var r = L.rows[i], id = r[C.id];
    sel = i;
    drawRows();
    var at = view.indexOf(i), list = $("list");
    if (at >= 0 && (at * ROW < list.scrollTop || (at + 1) * ROW > list.scrollTop + list.clientHeight))
      list.scrollTop = Math.max(0, at * ROW - list.clientHeight / 2);
    load("q", r[C.shard], function (data) {
      if (sel !== i) return;  // another question was opened meanwhile
      current = data[id];
      $("overview").hidden = true;
      $("detail").hidden = false;
      $("detail").innerHTML = detailHtml(current, at);
      $("main").scrollTop = 0;
      afterPaint(function () { L.shown = {id: id, at: performance.now()}; });
    });
  }

  // ---- a question's detail ----

  function detailHtml(d, at) {
    var chain = {}, keys = {}, parts = [];
    d.path.forEach(function (h, n) { chain[h.id] = n + 1; });
    d.contexts.forEach(function (c) { c.docs.forEach(function (doc) { if (doc[4] != null) keys[doc[0]] = doc[4]; }); });
    Object.keys(d.texts || {}).forEach(function (p) { if (!(p in keys)) keys[p] = d.texts[p]; });  // from --index
    var ctx = {chain: chain, keys: keys, titles: d.titles || {}};
    parts.push(nav(at), "<h2>" + esc(d.id) + "</h2>", '<p class="question">' + esc(d.question) + "</p>",
      "<p><b>Answer:</b> " + esc(d.answer) + "</p>");
    if (d.gold_entities && d.gold_entities.length)
      parts.push('<p class="meta">Rubric (gold entities): ' + esc(d.gold_entities.join(", ")) + "</p>");
    if (d.synth) parts.push(synth(d.synth));
    if (d.path.length) parts.push(chainHtml(d, ctx));
    if (d.rollouts.length) {
      var k = d.rollouts.filter(function (x) { return x.correct === true; }).length;
      parts.push("<h3>Rollouts: " + k + " of " + d.rollouts.length + " correct</h3>");
      d.rollouts.forEach(function (x, n) { parts.push(rollout(x, n + 1, d.path.length, ctx)); });
    }
    parts.push(tiersHtml(d, ctx));
    d.contexts.forEach(function (c, n) { parts.push(strip(c, n, ctx)); });
    return parts.join("");
  }

  function nav(at) {
    if (at < 0) return "";
    var link = function (n, text) {
      return n >= 0 && n < view.length ? '<a href="#q/' + encodeURIComponent(L.rows[view[n]][C.id]) + '">' + text + "</a>" :
        '<span class="meta">' + text + "</span>";
    };
    return '<p class="nav">' + link(at - 1, "‹ previous") + " · " + (at + 1) + " of " + view.length + " in the list · " +
      link(at + 1, "next ›") + ' <span class="meta">(keys j / k)</span></p>';
  }

  function synth(s) {
    var checks = s.checks.map(function (c) { return esc(c[0]) + (c[1] ? " passed" : " FAILED"); }).join(", ");
    return '<p class="meta">Written by ' + esc(s.model) + ": " + (s.accepted ? "accepted" : "rejected (" +
      esc(s.reason) + ")") + ". Checks: " + (checks || "none") + ".</p>";
  }

  function page(id, ctx, opened) {
    var n = ctx.chain[id], title = ctx.titles[id] || "", cls = "pg";
    if (n) cls += opened === false ? " chain missed" : " chain";
    var label = (n ? '<i class="e">E' + n + "</i>" : "") + esc(title) + ' <span class="id">[' + esc(id) + "]</span>";
    if (id in ctx.keys) return '<a class="' + cls + '" href="javascript:void 0" data-key="' + ctx.keys[id] +
      '" data-page="' + esc(id) + '">' + label + "</a>";
    return '<span class="' + cls + '">' + label + "</span>";
  }

  function chainHtml(d, ctx) {
    var items = d.path.map(function (h, n) {
      var by = d.rollouts.filter(function (x) { return x.opened.indexOf(h.id) >= 0; }).length;
      var via = h.anchor ? '<div class="evidence">linked from E' + n + " by “" + esc(h.anchor[0]) + "<mark>" +
        esc(h.anchor[1]) + "</mark>" + esc(h.anchor[2]) + "”</div>" : "";
      var reach = d.rollouts.length ? ' <span class="meta">opened by ' + by + " of " + d.rollouts.length + "</span>" : "";
      return "<li>" + page(h.id, ctx) + reach + via + "</li>";
    });
    return "<h3>Chain (" + d.path.length + " pages)</h3><ol class=\"chain\">" + items.join("") + "</ol>";
  }

  function rollout(x, n, hops, ctx) {
    var verdict = x.correct === true ? '<span class="ok">correct</span>' : x.correct === false ?
      '<span class="no">wrong</span>' : '<span class="meta">no verdict</span>';
    var onChain = x.opened.filter(function (p) { return p in ctx.chain; }).length;
    var summary = "Rollout " + n + ": " + verdict + ", answer “" + esc(x.answer) + "”; " + x.turns + " turns, " +
      x.seen + " seen, " + x.opened.length + " opened (" + onChain + " of " + hops + " chain pages), " +
      x.cited.length + " cited; stop: " + esc(x.stop) + (x.error ? '; <span class="no">' + esc(x.error) + "</span>" : "");
    if (x.off != null) summary += ' <span class="off-tag">⚑ off the chain at step ' + (x.off + 1) + "</span>";
    var opened = {};
    x.opened.forEach(function (p) { opened[p] = true; });
    var rows = x.steps.map(function (s, i) { return step(s, i, x, opened, ctx); }).join("");
    return "<details" + (x.off != null ? " open" : "") + "><summary>" + summary + '</summary><table class="steps">' +
      "<thead><tr><th>#</th><th>turn</th><th>action</th><th>argument</th><th>result</th></tr></thead><tbody>" +
      rows + "</tbody></table></details>";
  }

  function step(s, i, x, opened, ctx) {
    var action = s[1], result;
    if (s[5]) result = '<span class="no">error: ' + esc(s[5]) + "</span>";
    else if (action === "search") {
      result = s[3].map(function (p) { return page(p, ctx, opened[p] === true); }).join(", ") || "no results";
      if (s[4]) result += ' <span class="meta">and ' + s[4] + " more</span>";
    } else result = s[3].map(function (p) { return page(p, ctx); }).join(", ");
    if (s[6]) result += '<details class="think"><summary>thinking</summary><pre>' + esc(s[6]) + "</pre></details>";
    var off = x.off === i;
    return '<tr class="' + esc(action) + (off ? " off" : "") + '"><td>' + (i + 1) + "</td><td>" + esc(s[0]) +
      "</td><td>" + esc(action) + "</td><td>" + esc(s[2]) + "</td><td>" + result +
      (off ? '<div class="off-why">⚑ first step off the chain: ' + esc(x.off_why) + "</div>" : "") + "</td></tr>";
  }

  function tiersHtml(d, ctx) {
    if (!d.tiers) return '<h3>Tiers</h3><p class="why">' + esc(d.why) + "</p>";
    var parts = ["<h3>Tiers</h3>" + (d.why ? '<p class="why">' + esc(d.why) + "</p>" : "") + '<dl class="tiers">'];
    ["gold", "tier1", "tier2"].forEach(function (t) {
      var ids = d.tiers[t] || [], shown = ids.slice(0, 150);
      parts.push('<dt><i class="sw t-' + t + '"></i>' + t + " (" + ids.length + ")</dt><dd>" +
        shown.map(function (p) { return page(p, ctx); }).join(", ") +
        (ids.length > shown.length ? ' <span class="meta">and ' + (ids.length - shown.length) + " more</span>" : "") +
        "</dd>");
    });
    return parts.join("") + "</dl>";
  }

  // A context as a strip of its documents in prompt order, each as wide as its tokens;
  // a marker above each gold document (E-number for chain pages) so that a 1-px gold
  // document is still found; hover or focus names a document, a click opens its text.
  function strip(c, n, ctx) {
    var total = 0, offset = 0, blocks = [], marks = [], tiers = {}, order = [];
    c.docs.forEach(function (doc) { total += doc[2]; });
    total = total || 1;
    c.docs.forEach(function (doc, i) {
      var tier = doc[1], left = 100 * offset / total;
      if (!(tier in tiers)) { tiers[tier] = 0; order.push(tier); }
      tiers[tier] += doc[2];
      blocks.push('<span class="doc t-' + esc(tier) + '" style="flex-grow:' + doc[2] + '" tabindex="0" data-c="' + n +
        '" data-i="' + i + '"' + (doc[4] != null ? ' data-key="' + doc[4] + '" data-page="' + esc(doc[0]) + '"' : "") +
        "></span>");
      if (tier === "gold" || doc[0] in ctx.chain) {
        var e = ctx.chain[doc[0]];
        marks.push('<span class="mk" style="left:' + left.toFixed(2) + '%" title="' + (e ? "E" + e + " " : "gold ") +
          esc(ctx.titles[doc[0]] || doc[0]) + '">' + (e ? "E" + e : "▼") + "</span>");
      }
      offset += doc[2];
    });
    var shares = order.map(function (t) {
      return '<i class="sw t-' + esc(t) + '"></i>' + esc(t) + " " + tiers[t].toLocaleString() + " tokens (" +
        (100 * tiers[t] / total).toFixed(1) + "%)";
    }).join(" · ");
    return "<h3>Context: " + esc(c.strategy) + ", " + (c.tokens || 0).toLocaleString() + " tokens, " + c.docs.length +
      ' documents</h3><div class="marks">' + marks.join("") + '</div><div class="strip">' + blocks.join("") +
      '</div><p class="info" id="info-' + n + '">Hover or focus a document to name it; click it to read it. ' +
      "Markers: the chain's pages (E1…) and the other gold documents, at their place in the prompt.</p>" +
      '<p class="meta">' + shares + "</p>";
  }

  function hoverDoc(e) {
    var t = e.target;
    if (!t.classList || !t.classList.contains("doc") || !current) return;
    var c = current.contexts[+t.getAttribute("data-c")], i = +t.getAttribute("data-i"), doc = c.docs[i];
    var offset = 0, total = 0;
    c.docs.forEach(function (x, j) { total += x[2]; if (j < i) offset += x[2]; });
    var e1 = chainNumber(doc[0]);
    $("info-" + t.getAttribute("data-c")).innerHTML = "Document " + (i + 1) + " of " + c.docs.length + ": <b>" +
      esc(current.titles[doc[0]] || "") + "</b> [" + esc(doc[0]) + "] — " + esc(doc[1]) + (e1 ? ", chain page E" + e1 : "") +
      ", " + doc[2].toLocaleString() + " tokens" + (doc[3] ? " (cut)" : "") + ", starts at " +
      (100 * offset / (total || 1)).toFixed(0) + "% of the prompt" + (doc[4] != null ? ". Click to read it." : ".");
  }

  function chainNumber(id) {
    for (var n = 0; n < current.path.length; n++) if (current.path[n].id === id) return n + 1;
    return 0;
  }

  function clickPage(e) {
    var t = e.target.closest ? e.target.closest("[data-key]") : null;
    if (!t) return;
    e.preventDefault();
    var key = +t.getAttribute("data-key"), id = t.getAttribute("data-page");
    $("doc-title").textContent = (current.titles[id] || id) + " [" + id + "]";
    $("doc-text").textContent = "loading…";
    $("doc").hidden = false;
    load("d", Math.floor(key / L.meta.docs_per_shard), function (texts) {
      $("doc-text").textContent = texts[key] != null ? texts[key] : "(text not in this report)";
      $("doc-text").scrollTop = 0;
    });
  }

  return L;
})();

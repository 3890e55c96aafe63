// The docs site's behaviour, plain JavaScript with no network: the menu button (narrow screens), the
// table of contents following the reader, and full-text search over `_static/search-index.js` (written by
// docs/build.py), both in the header's drop-down and on search.html (`?q=...` or `#q=...`).
(function () {
  'use strict';
  var body = document.body, root = body.getAttribute('data-rpx-root') || '';

  // -- menu
  var btn = document.querySelector('.rpx-menu'), scrim = document.querySelector('.rpx-scrim');
  function setNav(open) {
    body.classList.toggle('rpx-nav-open', open);
    if (btn) btn.setAttribute('aria-expanded', String(open));
    if (scrim) scrim.hidden = !open;
  }
  if (btn) btn.addEventListener('click', function () { setNav(!body.classList.contains('rpx-nav-open')); });
  if (scrim) scrim.addEventListener('click', function () { setNav(false); });
  var side = document.querySelector('.rpx-sidebar');
  if (side) side.addEventListener('click', function (e) { if (e.target.closest('a')) setNav(false); });
  var cur = side && side.querySelector('a.current');
  if (cur) side.scrollTop = Math.max(0, cur.offsetTop - side.clientHeight / 3);

  // -- table of contents: mark the section being read
  var tocLinks = Array.prototype.slice.call(document.querySelectorAll('.rpx-toc a'));
  if (tocLinks.length && 'IntersectionObserver' in window) {
    var byId = {};
    tocLinks.forEach(function (a) { byId[decodeURIComponent(a.getAttribute('href').slice(1))] = a; });
    var obs = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (!e.isIntersecting) return;
        tocLinks.forEach(function (a) { a.classList.remove('active'); });
        var a = byId[e.target.id]; if (a) a.classList.add('active');
      });
    }, {rootMargin: '-60px 0px -70% 0px'});
    Object.keys(byId).forEach(function (id) { var h = document.getElementById(id); if (h) obs.observe(h); });
  }

  // -- search
  var docs = null, waiting = [];
  function loadIndex(cb) {
    if (docs) return cb(docs);
    waiting.push(cb);
    if (waiting.length > 1) return;
    var ready = function () { docs = prepare(window.RPX_SEARCH_INDEX || []); waiting.splice(0).forEach(function (f) { f(docs); }); };
    if (window.RPX_SEARCH_INDEX) return ready();
    var s = document.createElement('script');
    s.src = root + '_static/search-index.js';
    s.onload = ready;
    document.head.appendChild(s);
  }
  function prepare(pages) {
    var out = [];
    pages.forEach(function (p) {
      var api = {};
      p.a.forEach(function (a) { api[a[0]] = a[1]; });
      p.s.forEach(function (s) {
        var head = s[1] || p.t;
        out.push({url: p.u + (s[0] ? '#' + s[0] : ''), page: p.t, head: head, text: s[2], code: s[3], lh: head.toLowerCase(),
                  lt: s[2].toLowerCase(), lc: s[3].toLowerCase(), ld: (p.t + ' ' + p.d).toLowerCase(),
                  api: Object.prototype.hasOwnProperty.call(api, s[0]), top: !s[0]});
      });
    });
    return out;
  }
  function occurrences(text, t, max) {
    var n = 0, i = text.indexOf(t);
    while (i >= 0 && n < max) { n++; i = text.indexOf(t, i + t.length); }
    return n;
  }
  function search(q) {
    var terms = q.toLowerCase().split(/\s+/).filter(Boolean), res = [];
    if (!terms.length) return res;
    docs.forEach(function (d) {
      var score = 0;
      for (var k = 0; k < terms.length; k++) {
        var t = terms[k], s = 0, last = d.lh.split('.').pop();
        if (d.api && (d.lh === t || last === t)) s += 100;
        else if (d.api && d.lh.indexOf(t) >= 0) s += 30;
        if (new RegExp('(^|\\W)' + t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '(\\W|$)').test(d.lh)) s += 20;
        else if (d.lh.indexOf(t) >= 0) s += 8;
        s += 2 * occurrences(d.lt, t, 5) + occurrences(d.lc, t, 3);   // prose counts more than code
        if (!s) return;
        if (d.ld.indexOf(t) >= 0) s += 6;                               // a page about it
        score += s;
      }
      res.push({d: d, score: score + (d.top ? 1 : 0)});
    });
    res.sort(function (a, b) { return b.score - a.score; });
    return res;
  }
  function esc(s) { return s.replace(/[&<>"]/g, function (c) { return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); }
  function snippet(d, q) {
    var terms = q.toLowerCase().split(/\s+/).filter(Boolean), i = -1, text = d.text;
    for (var k = 0; k < terms.length && i < 0; k++) i = d.lt.indexOf(terms[k]);
    for (k = 0; k < terms.length && i < 0; k++) { i = d.lc.indexOf(terms[k]); text = d.code; }
    if (i < 0) return esc(d.text.slice(0, 140));
    var a = Math.max(0, i - 60), s = esc((a ? '…' : '') + text.slice(a, i + 100) + '…');
    terms.forEach(function (t) {
      s = s.replace(new RegExp('(' + esc(t).replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + ')', 'ig'), '<mark>$1</mark>');
    });
    return s;
  }
  function hit(r, q) {
    return '<a href="' + esc(root + r.d.url) + '"><span class="rpx-hit-head">' + esc(r.d.head) + '</span>' +
           '<span class="rpx-hit-page">' + esc(r.d.page) + '</span><span class="rpx-hit-snip">' + snippet(r.d, q) + '</span></a>';
  }

  var form = document.querySelector('.rpx-search'), input = form && form.querySelector('input'),
      drop = form && form.querySelector('.rpx-search-drop'), timer = null, active = -1;
  function closeDrop() { if (drop) { drop.hidden = true; active = -1; } }
  function showDrop() {
    var q = input.value.trim();
    if (!q) return closeDrop();
    loadIndex(function () {
      var res = search(q);
      drop.innerHTML = res.length ? res.slice(0, 8).map(function (r) { return hit(r, q); }).join('') +
        '<a class="rpx-all" href="' + esc(root + 'search.html?q=' + encodeURIComponent(q)) + '">All ' + res.length + ' results</a>'
        : '<a class="rpx-all" href="' + esc(root + 'search.html?q=' + encodeURIComponent(q)) + '">No match for “' + esc(q) + '”</a>';
      drop.hidden = false; active = -1;
    });
  }
  if (input && drop) {
    input.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(showDrop, 120); });
    input.addEventListener('focus', function () { loadIndex(function () {}); if (input.value.trim()) showDrop(); });
    input.addEventListener('keydown', function (e) {
      var links = drop.hidden ? [] : drop.querySelectorAll('a');
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        if (!links.length) return;
        e.preventDefault();
        active = (active + (e.key === 'ArrowDown' ? 1 : links.length - 1)) % links.length;
        links.forEach(function (a, k) { a.classList.toggle('active', k === active); });
      } else if (e.key === 'Enter' && active >= 0 && links[active]) { e.preventDefault(); window.location.href = links[active].href; }
    });
    document.addEventListener('click', function (e) { if (!form.contains(e.target)) closeDrop(); });
  }
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') { setNav(false); closeDrop(); }
    if (e.key === '/' && input && document.activeElement !== input && !/INPUT|TEXTAREA/.test(document.activeElement.tagName)) {
      e.preventDefault(); input.focus();
    }
  });

  // -- search.html: every result of ?q= (or #q=)
  var list = document.getElementById('rpx-search-results');
  if (list) {
    var params = new URLSearchParams(window.location.search), q = params.get('q');
    if (!q && window.location.hash.indexOf('#q=') === 0) q = decodeURIComponent(window.location.hash.slice(3).replace(/\+/g, ' '));
    q = (q || '').trim();
    if (input) input.value = q;
    var count = document.getElementById('rpx-search-count');
    if (q) loadIndex(function () {
      var res = search(q);
      count.textContent = res.length ? res.length + ' result' + (res.length > 1 ? 's' : '') + ' for “' + q + '”' : 'No match for “' + q + '”.';
      list.innerHTML = res.slice(0, 200).map(function (r) { return '<li>' + hit(r, q) + '</li>'; }).join('');
    });
    else count.textContent = 'Type words to search every page, heading and API name.';
  }
})();

// The page's style and its one small script (no build step): live numbers and charts from /api/stats, batch progress
// from /api/batches, select-all and confirm dialogs. The script writes only text and SVG attributes, never HTML.
export const CONSOLE_CSS = `
:root{font:14px/1.4 system-ui,sans-serif;color:#1d2433;background:#f6f7f9}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#1d2433;color:#fff}
header a{color:#cfd8ff;margin-right:1em;text-decoration:none}header a[aria-current]{color:#fff;font-weight:600}
header .who{margin-left:auto;color:#aab}main{padding:1em 1.2em;max-width:1400px}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.4em}h3{font-size:.95em;margin:.2em 0 .5em}
code{background:#e8eaf0;padding:0 .3em;border-radius:3px}.muted{color:#667}.empty{color:#889;font-style:italic}
.numbers{display:flex;flex-wrap:wrap;gap:.6em;margin:0}.numbers div{background:#fff;border:1px solid #dde;border-radius:6px;padding:.5em .8em;min-width:9em}
.numbers dt{color:#667;font-size:.85em}.numbers dd{margin:0;font-size:1.5em;font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1em;margin-top:1em}
.chart{background:#fff;border:1px solid #dde;border-radius:6px;padding:.6em .8em}.chart ul{list-style:none;margin:0;padding:0}
.chart li{display:grid;grid-template-columns:15em 1fr 3em;gap:.5em;align-items:center;margin:.15em 0}
.chart .label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.chart .n{text-align:right}
svg{height:.8em;width:100%}svg rect{fill:#4a6cf7}svg.hours{height:5em}svg.hours text{font-size:6px;fill:#667}
table{border-collapse:collapse;background:#fff;margin:.5em 0;width:100%}th,td{border:1px solid #dde;padding:.25em .45em;text-align:left;vertical-align:top}
th{background:#eef0f5}td.clip{max-width:16em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.class-permanent,.class-account{color:#b3261e;font-weight:600}.warn{background:#fff4e5;border:1px solid #f0b35a;padding:.5em .8em;border-radius:6px}
.error{background:#fde8e8;border:1px solid #e39b9b;padding:.5em .8em;border-radius:6px}
form.filter{display:flex;flex-wrap:wrap;gap:.5em;align-items:end}form.filter input{width:10em}.actions{margin:.6em 0}
.fields{display:grid;grid-template-columns:10em 1fr;gap:.2em .8em}.fields dt{color:#667}.fields dd{margin:0;overflow-wrap:anywhere}
.reason{display:block;margin:.8em 0}.reason textarea{display:block;width:40em;max-width:100%}
svg.progress{width:8em;display:inline-block}td form{display:inline-block;margin-right:.3em}td form input{width:7em}
`;

export const CONSOLE_JS = `'use strict';
(function () {
  var POLL_MS = 3000;
  function setText(el, v) { if (el && el.textContent !== String(v)) el.textContent = String(v); }
  function svgEl(name) { return document.createElementNS('http://www.w3.org/2000/svg', name); }
  function renderBars(ul, series) {
    var peak = Math.max.apply(null, [1].concat(series.map(function (s) { return s[1]; })));
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    series.forEach(function (s) {
      var li = document.createElement('li');
      var label = document.createElement('span'); label.className = 'label'; label.title = s[0]; label.textContent = s[0];
      var svg = svgEl('svg'); svg.setAttribute('viewBox', '0 0 100 8'); svg.setAttribute('preserveAspectRatio', 'none');
      var rect = svgEl('rect'); rect.setAttribute('height', '8'); rect.setAttribute('width', (100 * s[1] / peak).toFixed(1)); svg.appendChild(rect);
      var n = document.createElement('span'); n.className = 'n'; n.textContent = String(s[1]);
      li.appendChild(label); li.appendChild(svg); li.appendChild(n); ul.appendChild(li);
    });
  }
  function renderHours(svg, values) {
    var peak = Math.max.apply(null, [1].concat(values));
    svg.querySelectorAll('rect').forEach(function (r, h) {
      var height = 56 * (values[h] || 0) / peak;
      r.setAttribute('y', (56 - height).toFixed(1)); r.setAttribute('height', height.toFixed(1));
      var t = r.querySelector('title'); if (t) t.textContent = String(h).padStart(2, '0') + ':00 · ' + (values[h] || 0);
    });
  }
  function pollStats() {
    fetch('/api/stats', { headers: { accept: 'application/json' } }).then(function (r) { return r.ok ? r.json() : null; }).then(function (v) {
      if (!v) return;
      document.querySelectorAll('[data-stat]').forEach(function (el) { setText(el, v.numbers[el.getAttribute('data-stat')] || 0); });
      document.querySelectorAll('[data-chart]').forEach(function (ul) { renderBars(ul, v.charts[ul.getAttribute('data-chart')] || []); });
      document.querySelectorAll('[data-hours]').forEach(function (svg) { renderHours(svg, v.hours); });
      document.querySelectorAll('[data-asof]').forEach(function (el) { setText(el, v.asOf || ''); });
    }).catch(function () {}).finally(function () { setTimeout(pollStats, POLL_MS); });
  }
  function pollBatches() {
    fetch('/api/batches', { headers: { accept: 'application/json' } }).then(function (r) { return r.ok ? r.json() : null; }).then(function (rows) {
      (rows || []).forEach(function (b) {
        var tr = document.querySelector('tr[data-batch="' + CSS.escape(b.batchId) + '"]');
        var p = b.progress || b.summary;
        if (!tr || !p) return;
        var done = p.solved + p.deadLettered + p.cancelled;
        setText(tr.querySelector('[data-field=status]'), (b.progress && b.progress.status) || b.status.toLowerCase());
        setText(tr.querySelector('[data-field=done]'), done);
        ['solved', 'deadLettered', 'inFlight'].forEach(function (k) { if (p[k] !== undefined) setText(tr.querySelector('[data-field=' + k + ']'), p[k]); });
        var bar = tr.querySelector('[data-field=pct]'); if (bar && p.total) bar.setAttribute('width', (100 * done / p.total).toFixed(1));
      });
    }).catch(function () {}).finally(function () { setTimeout(pollBatches, POLL_MS); });
  }
  function pollOrder(panel) {
    fetch('/api/orders/' + encodeURIComponent(panel.getAttribute('data-request-id')), { headers: { accept: 'application/json' } }).then(function (r) { return r.ok ? r.json() : null; }).then(function (p) {
      if (!p) return;
      panel.querySelectorAll('[data-order-field]').forEach(function (el) { setText(el, p[el.getAttribute('data-order-field')]); });
      if (p.inFlight === 0) panel.setAttribute('data-settled', '');
    }).catch(function () {}).finally(function () { if (!panel.hasAttribute('data-settled')) setTimeout(function () { pollOrder(panel); }, POLL_MS); });
  }
  document.addEventListener('DOMContentLoaded', function () {
    if (document.querySelector('[data-live=stats]')) setTimeout(pollStats, POLL_MS);
    document.querySelectorAll('[data-live=order]').forEach(function (panel) { setTimeout(function () { pollOrder(panel); }, POLL_MS); });
    if (document.querySelector('[data-live=batches]')) setTimeout(pollBatches, POLL_MS);
    var all = document.querySelector('[data-select-all]');
    if (all) all.addEventListener('change', function () { document.querySelectorAll('input[name=ids]').forEach(function (c) { c.checked = all.checked; }); });
    document.querySelectorAll('form[data-confirm]').forEach(function (f) {
      f.addEventListener('submit', function (e) { if (!window.confirm(f.getAttribute('data-confirm'))) e.preventDefault(); });
    });
  });
})();
`;

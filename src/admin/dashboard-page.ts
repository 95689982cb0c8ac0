/**
 * The dashboard: one self-contained page (inline CSS and script, no CDN, no
 * external font) that fetches `/monitoring/statistics` every 2 s with the
 * session cookie `/monitoring/dashboard?token=...` set, and draws per
 * router the pool, breaker, queue, cache, request rate and latency, errors,
 * active users, the login lockouts in force and recent events, with charts
 * of the last five minutes (history kept in the page, 150 points per series).
 *
 * The page builds its DOM with textContent only: names and event messages
 * are never parsed as HTML. Its Content-Security-Policy allows exactly its
 * own inline style and script (by hash) and fetches to the same origin.
 */
import { createHash } from 'node:crypto';

const STYLE = String.raw`
:root { --bg:#f5f6f8; --card:#fff; --ink:#1d2330; --dim:#667085; --line:#e3e6eb;
  --ok:#12805c; --warn:#b54708; --bad:#c01048; --accent:#2e6fdb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background:var(--bg); color:var(--ink); }
header { display:flex; align-items:baseline; gap:16px; padding:14px 24px; background:var(--card);
  border-bottom:1px solid var(--line); }
header h1 { margin:0; font-size:18px; }
header .meta { color:var(--dim); }
#banner { display:none; margin:16px 24px 0; padding:10px 14px; border-radius:6px;
  background:#fef3f2; color:var(--bad); border:1px solid #fecdca; }
#banner.shown { display:block; }
main { padding:16px 24px; display:grid; gap:16px; }
.router { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px; }
.router h2 { margin:0 0 12px; font-size:16px; display:flex; gap:10px; align-items:center; }
.badge { font-size:12px; font-weight:600; padding:2px 8px; border-radius:10px; background:var(--line); }
.badge.ok { background:#ecfdf3; color:var(--ok); }
.badge.warn { background:#fffaeb; color:var(--warn); }
.badge.bad { background:#fef3f2; color:var(--bad); }
.tiles { display:grid; grid-template-columns:repeat(auto-fill, minmax(130px, 1fr)); gap:10px; }
.tile { border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
.tile .label { color:var(--dim); font-size:12px; }
.tile .value { font-size:20px; font-weight:600; font-variant-numeric:tabular-nums; }
.tile .sub { color:var(--dim); font-size:12px; font-variant-numeric:tabular-nums; }
.charts { display:grid; grid-template-columns:repeat(auto-fill, minmax(200px, 1fr)); gap:10px; margin-top:12px; }
.chart { border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
.chart .label { color:var(--dim); font-size:12px; display:flex; justify-content:space-between; }
.chart svg { display:block; width:100%; height:48px; }
.chart polyline { fill:none; stroke:var(--accent); stroke-width:1.5; }
.events, .lockouts { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px; }
.events h2, .lockouts h2 { margin:0 0 8px; font-size:16px; }
.events ol, .lockouts ol { list-style:none; margin:0; padding:0; }
.events li, .lockouts li { padding:4px 0; border-top:1px solid var(--line); display:flex; gap:10px; }
.events time, .lockouts time { color:var(--dim); font-variant-numeric:tabular-nums; white-space:nowrap; }
.events .kind, .lockouts .kind { font-weight:600; min-width:60px; }
.empty { color:var(--dim); }
`;

const SCRIPT = String.raw`
(function () {
'use strict';
var REFRESH_MS = 2000;
var HISTORY = 150;
var histories = {};
var previous = {};
var isBusy = false;

function el(tag, className, text) {
  var node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function fixed(value, digits) {
  return value === null || value === undefined ? '-' : Number(value).toFixed(digits);
}

function tile(figure, label, value, sub) {
  var node = el('div', 'tile');
  node.setAttribute('data-figure', figure);
  node.appendChild(el('div', 'label', label));
  node.appendChild(el('div', 'value', value));
  node.appendChild(el('div', 'sub', sub || ''));
  return node;
}

function chart(label, points, unit) {
  var node = el('div', 'chart');
  var head = el('div', 'label');
  var last = points.length ? points[points.length - 1] : null;
  head.appendChild(el('span', '', label));
  head.appendChild(el('span', '', last === null ? '-' : fixed(last, 1) + unit));
  node.appendChild(head);
  var ns = 'http://www.w3.org/2000/svg';
  var svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 ' + HISTORY + ' 48');
  svg.setAttribute('preserveAspectRatio', 'none');
  var max = Math.max.apply(null, points.concat([1e-9]));
  var coords = points.map(function (v, i) {
    return (HISTORY - points.length + i) + ',' + (46 - (v / max) * 44).toFixed(1);
  });
  var line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', coords.join(' '));
  svg.appendChild(line);
  node.appendChild(svg);
  return node;
}

function remember(name, point) {
  var list = histories[name] || (histories[name] = []);
  list.push(point);
  if (list.length > HISTORY) list.shift();
  return list;
}

function series(list, key) {
  return list.map(function (p) { return p[key]; });
}

function routerCard(r, at) {
  var before = previous[r.name];
  var seconds = before ? (at - before.at) / 1000 : 0;
  var rate = seconds > 0 ? Math.max(0, r.requests.total - before.total) / seconds : 0;
  var failed = r.requests.byOutcome.refused + r.requests.byOutcome.error;
  var errorRate = seconds > 0 ? Math.max(0, failed - before.failed) / seconds : 0;
  previous[r.name] = { at: at, total: r.requests.total, failed: failed };
  var queued = r.flow ? r.flow.queued.high + r.flow.queued.normal + r.flow.queued.low : 0;
  var list = remember(r.name, {
    rate: rate,
    p99: r.latency.read.p99,
    hitRate: r.cache && r.cache.hitRate !== null ? r.cache.hitRate * 100 : 0,
    waiting: queued + r.pool.waiting,
    errors: errorRate
  });

  var card = el('section', 'router');
  card.setAttribute('data-router', r.name);
  var title = el('h2', '', r.name);
  title.appendChild(el('span', 'badge ' + (r.up ? 'ok' : 'bad'), r.up ? 'up' : 'down'));
  if (r.breaker) {
    var state = r.breaker.state;
    title.appendChild(el('span', 'badge ' + (state === 'closed' ? 'ok' : state === 'open' ? 'bad' : 'warn'),
      'breaker ' + state));
  }
  card.appendChild(title);

  var tiles = el('div', 'tiles');
  tiles.appendChild(tile('pool', 'Sessions busy / ready', r.pool.busy + ' / ' + r.pool.ready,
    r.pool.opening + ' opening, ' + r.pool.waiting + ' waiting'));
  tiles.appendChild(tile('queue', 'Rate-limit queue', r.flow ? String(queued) : '-',
    r.flow ? fixed(r.flow.tokens, 0) + ' tokens' : 'off'));
  tiles.appendChild(tile('cache', 'Cache hit rate',
    r.cache && r.cache.hitRate !== null ? fixed(r.cache.hitRate * 100, 1) + ' %' : '-',
    r.cache ? r.cache.entries + ' entries' : 'off'));
  tiles.appendChild(tile('requests', 'Requests / s', fixed(rate, 1), r.requests.total + ' in all'));
  tiles.appendChild(tile('latency', 'Read latency p99', fixed(r.latency.read.p99, 1) + ' ms',
    'p50 ' + fixed(r.latency.read.p50, 1) + ' ms'));
  tiles.appendChild(tile('errors', 'Refused / failed', String(failed),
    r.requests.byOutcome.trap + ' router traps'));
  var hotspot = r.business.activeUsersHotspot;
  var ppp = r.business.activeUsersPppoe;
  tiles.appendChild(tile('users', 'Active users', hotspot ? String(hotspot.count) : '-',
    'PPP ' + (ppp ? ppp.count : '-') + ', vouchers ' + r.business.vouchersCreated));
  tiles.appendChild(tile('clients', 'Clients', String(r.proxy.clientsConnected),
    r.proxy.loginsFailed + ' failed logins'));
  card.appendChild(tiles);

  var charts = el('div', 'charts');
  charts.appendChild(chart('Requests / s', series(list, 'rate'), ''));
  charts.appendChild(chart('Read latency p99', series(list, 'p99'), ' ms'));
  charts.appendChild(chart('Cache hit rate', series(list, 'hitRate'), ' %'));
  charts.appendChild(chart('Waiting commands', series(list, 'waiting'), ''));
  charts.appendChild(chart('Refused or failed / s', series(list, 'errors'), ''));
  card.appendChild(charts);
  return card;
}

function eventList(events) {
  var box = el('section', 'events');
  box.appendChild(el('h2', '', 'Recent events'));
  if (events.length === 0) {
    box.appendChild(el('div', 'empty', 'Nothing yet.'));
    return box;
  }
  var list = el('ol');
  events.slice().reverse().forEach(function (e) {
    var item = el('li');
    item.appendChild(el('time', '', new Date(e.at).toLocaleTimeString()));
    item.appendChild(el('span', 'kind', e.kind));
    item.appendChild(el('span', '', (e.router ? e.router + ': ' : '') + e.message));
    list.appendChild(item);
  });
  box.appendChild(list);
  return box;
}

function lockoutWho(l) {
  if (l.scope === 'source') return 'address ' + l.source;
  if (l.scope === 'user') return 'user ' + l.user;
  return 'user ' + l.user + ' from ' + l.source;
}

function lockoutList(lockouts) {
  var box = el('section', 'lockouts');
  box.appendChild(el('h2', '', 'Login lockouts'));
  if (lockouts.length === 0) {
    box.appendChild(el('div', 'empty', 'None.'));
    return box;
  }
  var list = el('ol');
  lockouts.forEach(function (l) {
    var item = el('li');
    item.setAttribute('data-scope', l.scope);
    item.appendChild(el('time', '', 'until ' + new Date(l.until).toLocaleTimeString()));
    item.appendChild(el('span', 'kind', l.scope));
    item.appendChild(el('span', '', l.router + ': ' + lockoutWho(l) + ', ' + l.failures +
      ' failed logins'));
    list.appendChild(item);
  });
  box.appendChild(list);
  box.appendChild(el('div', 'empty', 'DELETE /monitoring/lockouts ends them (?source=, ?user=).'));
  return box;
}

function render(stats) {
  var at = Date.parse(stats.at);
  document.getElementById('meta').textContent = 'version ' + stats.version + ', up ' +
    Math.floor(stats.uptimeSeconds / 60) + ' min' + (stats.draining ? ', draining' : '') +
    ', updated ' + new Date(at).toLocaleTimeString();
  var main = document.getElementById('routers');
  main.replaceChildren.apply(main, stats.routers.map(function (r) { return routerCard(r, at); })
    .concat([lockoutList(stats.lockouts || []), eventList(stats.events)]));
}

function problem(text) {
  var banner = document.getElementById('banner');
  banner.textContent = text;
  banner.className = text ? 'shown' : '';
}

function refresh() {
  if (isBusy) return;
  isBusy = true;
  fetch('/monitoring/statistics', { headers: { accept: 'application/json' }, credentials: 'same-origin' })
    .then(function (res) {
      if (res.status === 401 || res.status === 403) {
        throw new Error('Not signed in: open /monitoring/dashboard?token=<your token>.');
      }
      if (!res.ok) throw new Error('The admin port answered ' + res.status + '.');
      return res.json();
    })
    .then(function (stats) { problem(''); render(stats); })
    .catch(function (err) { problem(err.message); })
    .then(function () { isBusy = false; });
}

refresh();
setInterval(refresh, REFRESH_MS);
})();
`;

function hash(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}

/** The page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>rosgate dashboard</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>rosgate</h1><span class="meta" id="meta">loading…</span></header>
<div id="banner" role="alert"></div>
<main id="routers"></main>
<script>${SCRIPT}</script>
</body>
</html>
`;

/** The page's Content-Security-Policy: its own style and script, fetches to its origin. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `style-src ${hash(STYLE)}`,
  `script-src ${hash(SCRIPT)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

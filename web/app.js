// leakwatch dashboard: plain JS, no dependencies, works offline (served from the binary).
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
const POLL_MS = 5000;
const TOKEN_KEY = 'leakwatch.token';

const state = {
  range: 21600, // seconds; 0 = all
  status: null,
  snapshots: [],
  snapshotsKey: null,
  selected: new Set(),
  timer: null,
};

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- formatting -------------------------------------------------------------------------------

function fmtBytes(n) {
  if (n === null || n === undefined || !isFinite(n)) return '–';
  const neg = n < 0;
  let v = Math.abs(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  const s = i === 0 ? String(Math.round(v)) : v.toFixed(v < 10 ? 2 : 1);
  return (neg ? '−' : '') + s + ' ' + units[i];
}

function fmtAxisBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (Number.isInteger(v) ? String(v) : v.toFixed(1)) + ' ' + units[i];
}

function fmtSignedBytes(n) {
  return (n > 0 ? '+' : '') + fmtBytes(n);
}

function fmtDuration(sec) {
  if (sec === null || sec === undefined || !isFinite(sec)) return '–';
  sec = Math.max(0, Math.round(sec));
  const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min`;
  return `${sec} s`;
}

function fmtTime(t, withDate) {
  const d = new Date(t * 1000);
  const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (!withDate) return hm;
  return d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + hm;
}

function fmtDateTime(t) {
  return new Date(t * 1000).toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function fmtCount(n) {
  return Number(n).toLocaleString('en-US');
}

const STATE_WORDS = {
  learning: { icon: '…', text: 'Learning — not enough history yet' },
  ok: { icon: '✓', text: 'OK — no leak found' },
  leak_suspected: { icon: '⚠', text: 'Leak suspected' },
  oom_imminent: { icon: '⛔', text: 'Out of memory soon' },
};

// ---- API --------------------------------------------------------------------------------------

function token() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
}

async function api(path, auth) {
  const headers = {};
  if (auth && token()) headers.Authorization = 'Bearer ' + token();
  const res = await fetch(path, { headers, cache: 'no-store' });
  return res;
}

async function errorText(res) {
  try {
    const j = await res.json();
    return j.message || j.error || res.statusText;
  } catch (e) {
    return res.statusText || String(res.status);
  }
}

// ---- status + chart ---------------------------------------------------------------------------

async function refreshStatus() {
  const anchor = state.status ? state.status.now : Date.now() / 1000;
  const width = Math.max(320, $('#chart').clientWidth || 800);
  let q = `?max_points=${Math.min(4000, Math.round(width * 2))}`;
  if (state.range > 0) q += `&since=${Math.floor(anchor - state.range)}`;
  try {
    const res = await api('/api/v1/status' + q, false);
    if (!res.ok) throw new Error(await errorText(res));
    state.status = await res.json();
    $('#conn').textContent = '';
    render();
  } catch (e) {
    $('#conn').textContent = 'Cannot reach leakwatch (' + e.message + '); retrying…';
  }
}

// Where the target runs (status.identity, core/identity.h names): the ECS task's cluster, service,
// family:revision, task id, container, AZ and image digest; the host name outside ECS. Values come
// from the task metadata (external text): always set as text, never parsed as HTML.
function identityItems(id) {
  if (!id || typeof id !== 'object') return [];
  const str = (v) => (typeof v === 'string' && v !== '' ? v : null);
  const items = [];
  const add = (label, value, title) => { if (value) items.push({ label, value, title }); };
  add('Cluster', str(id.cluster));
  add('Service', str(id.service));
  const family = str(id.task_family);
  add('Task definition', family && (str(id.task_revision) ? family + ':' + id.task_revision : family));
  add('Task', str(id.task_id), str(id.task_arn));
  add('Container', str(id.container), str(id.container_id));
  add('AZ', str(id.availability_zone));
  const digest = str(id.image_digest);
  // "sha256:" and 12 hex digits, as `docker images` shortens ids; the full digest on hover.
  if (digest) add('Image', digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, '$1'), digest);
  if (items.length === 0) add('Host', str(id.host));
  return items;
}

function renderIdentity(id) {
  const box = $('#identity');
  const items = identityItems(id);
  const key = JSON.stringify(items);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.replaceChildren();
  for (const it of items) {
    const pair = el('div', { class: 'identity-item' });
    pair.append(el('dt', {}, it.label));
    const dd = el('dd', {}, it.value);
    if (it.title) dd.setAttribute('title', it.title);
    pair.append(dd);
    box.append(pair);
  }
  box.hidden = items.length === 0;
}

function render() {
  const st = state.status;
  if (!st) return;
  $('#target').textContent = st.target ? '— ' + st.target : '';
  document.title = `leakwatch — ${st.target || ''} (${(STATE_WORDS[st.detector.state] || {}).text || st.detector.state})`;
  $('#source').textContent = st.source ? 'Watching ' + st.source : '';
  renderIdentity(st.identity);
  renderDetector(st);
  drawChart(st);
  renderEvents(st);
  const b = st.build || {};
  $('#build').textContent = `leakwatch ${b.version || ''}${b.revision ? ' (' + b.revision + ')' : ''} · started ${fmtDateTime(st.started_at)}`;
}

function renderDetector(st) {
  const d = st.detector;
  const words = STATE_WORDS[d.state] || { icon: '?', text: d.state };
  $('#state').dataset.state = d.state;
  $('#state-badge').textContent = `${words.icon} ${words.text}`;
  let expl = d.explanation || '';
  if (d.since) expl += (expl ? ' ' : '') + `(since ${fmtDateTime(d.since)})`;
  $('#explanation').textContent = expl;
  const last = st.samples.length ? st.samples[st.samples.length - 1] : null;
  const figs = [
    ['Usage now', last ? fmtBytes(last.usage) : '–'],
    ['Working set now', last ? fmtBytes(last.working_set) : '–'],
    ['Limit', st.limit_bytes ? fmtBytes(st.limit_bytes) : 'none'],
    ['Floor', d.floor_bytes ? fmtBytes(d.floor_bytes) : '–'],
    ['Floor slope', d.slope_bytes_per_hour ? fmtSignedBytes(d.slope_bytes_per_hour) + '/h' : 'flat'],
    ['Limit reached in', d.forecast_seconds !== null ? '~' + fmtDuration(d.forecast_seconds) : 'not forecast'],
    ['Confidence', Math.round((d.confidence || 0) * 100) + ' %'],
    ['OOM kills (recent)', String(d.oom_kills || 0)],
  ];
  const dl = $('#figures');
  dl.replaceChildren();
  for (const [k, v] of figs) {
    const div = el('div');
    div.append(el('dt', {}, k), el('dd', {}, v));
    dl.append(div);
  }
}

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function niceByteStep(span, count) {
  const raw = span / Math.max(1, count);
  const mib = 1024 * 1024;
  for (const s of [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192].map((x) => x * mib)) {
    if (s >= raw) return s;
  }
  return niceStep(span, count);
}

const TIME_STEPS = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

function drawChart(st) {
  const box = $('#chart');
  const W = Math.max(300, Math.round(box.clientWidth || 800));
  const H = W < 560 ? 260 : 340;
  const m = { l: 64, r: 14, t: 14, b: 30 };
  const samples = st.samples;
  const now = st.now;
  let t0 = state.range > 0 ? now - state.range : (samples.length ? samples[0].t : now - 3600);
  if (state.range === 0 && st.floor.length) t0 = Math.min(t0, st.floor[0].t);
  let t1 = now;
  const fc = st.forecast || [];
  if (fc.length >= 2) {
    // Show the forecast, but keep the past readable: extend the axis by at most 40 % of the range.
    t1 = Math.max(now, Math.min(fc[fc.length - 1].t, now + (now - t0) * 0.4));
  }
  if (t1 <= t0) t1 = t0 + 60;
  const limit = st.limit_bytes;
  let ymax = 0;
  for (const s of samples) ymax = Math.max(ymax, s.usage, s.working_set);
  if (limit) ymax = Math.max(ymax, limit);
  for (const p of fc) if (p.t <= t1) ymax = Math.max(ymax, Math.min(p.bytes, limit || p.bytes));
  ymax = ymax > 0 ? ymax * 1.08 : 1024 * 1024;

  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const x = (t) => m.l + (t - t0) / (t1 - t0) * pw;
  const y = (b) => m.t + ph - b / ymax * ph;
  const fx = (v) => v.toFixed(1);

  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-labelledby': 'chart-title chart-desc', 'data-points': samples.length,
    'data-markers': 0,
  });
  root.append(svg('title', { id: 'chart-title' }, 'Memory of ' + (st.target || 'the target')));
  const desc = svg('desc', { id: 'chart-desc' });
  root.append(desc);
  const clipId = 'plot-clip';
  const defs = svg('defs');
  const clip = svg('clipPath', { id: clipId });
  clip.append(svg('rect', { x: m.l, y: m.t, width: pw, height: ph }));
  defs.append(clip);
  root.append(defs);

  // Grid and axes.
  const grid = svg('g', { class: 'grid' });
  const axis = svg('g', { class: 'axis' });
  const ystep = niceByteStep(ymax, H < 300 ? 4 : 6);
  for (let v = 0; v <= ymax; v += ystep) {
    grid.append(svg('line', { x1: m.l, x2: W - m.r, y1: fx(y(v)), y2: fx(y(v)) }));
    axis.append(svg('text', { x: m.l - 6, y: fx(y(v) + 4), 'text-anchor': 'end' }, fmtAxisBytes(v)));
  }
  const span = t1 - t0;
  const wanted = Math.max(2, Math.floor(pw / 90));
  const tstep = TIME_STEPS.find((s) => span / s <= wanted) || 604800;
  const withDate = span > 86400;
  const tz = new Date().getTimezoneOffset() * 60;
  for (let t = Math.ceil((t0 - tz) / tstep) * tstep + tz; t <= t1; t += tstep) {
    grid.append(svg('line', { x1: fx(x(t)), x2: fx(x(t)), y1: m.t, y2: m.t + ph }));
    // Skip labels that would be cut at the edges.
    if (x(t) < m.l + 24 || x(t) > W - m.r - 30) continue;
    axis.append(svg('text', { x: fx(x(t)), y: H - 10, 'text-anchor': 'middle' }, fmtTime(t, withDate)));
  }
  root.append(grid, axis);

  const plot = svg('g', { 'clip-path': `url(#${clipId})` });
  const line = (pts, cls, count) => {
    const p = svg('polyline', { class: cls, points: pts.map(([t, b]) => fx(x(t)) + ',' + fx(y(b))).join(' ') });
    if (count !== undefined) p.setAttribute('data-count', count);
    plot.append(p);
    return p;
  };
  if (limit) {
    plot.append(svg('line', { class: 's-limit', x1: m.l, x2: W - m.r, y1: fx(y(limit)), y2: fx(y(limit)) }));
  }
  line(samples.map((s) => [s.t, s.working_set]), 's-ws', samples.length);
  line(samples.map((s) => [s.t, s.usage]), 's-usage', samples.length);
  if (st.floor.length) line(st.floor.map((p) => [p.t, p.bytes]), 's-floor', st.floor.length);
  if (st.trend.length >= 2) line(st.trend.map((p) => [p.t, p.bytes]), 's-trend', st.trend.length);
  if (fc.length >= 2) line(fc.map((p) => [p.t, p.bytes]), 's-forecast', fc.length);
  if (now < t1) plot.append(svg('line', { class: 'now-line', x1: fx(x(now)), x2: fx(x(now)), y1: m.t, y2: m.t + ph }));
  root.append(plot);
  if (limit) {
    root.append(svg('text', { class: 'limit-label', x: W - m.r - 4, y: fx(y(limit) - 5), 'text-anchor': 'end' }, 'limit ' + fmtBytes(limit)));
  }

  // Markers: a dashed vertical line and a lettered shape (the letter, not the colour, says what).
  const letters = { alert: 'A', capture: 'C', capture_skipped: 'S', oom_kill: 'K', restart: 'R' };
  let nm = 0;
  for (const mk of st.markers) {
    if (mk.t < t0 || mk.t > t1) continue;
    const g = svg('g', { class: 'marker ' + mk.kind, 'data-kind': mk.kind });
    const mx = x(mk.t);
    g.append(svg('line', { x1: fx(mx), x2: fx(mx), y1: m.t + 10, y2: m.t + ph }));
    let shape;
    if (mk.kind === 'capture') shape = svg('circle', { class: 'shape', cx: fx(mx), cy: m.t + 8, r: 8 });
    else if (mk.kind === 'alert') shape = svg('path', { class: 'shape', d: `M${fx(mx)},${m.t - 2} l9,17 h-18 z` });
    else shape = svg('rect', { class: 'shape', x: fx(mx - 8), y: m.t, width: 16, height: 16, rx: 2 });
    g.append(shape, svg('text', { x: fx(mx), y: m.t + 9 }, letters[mk.kind] || '?'));
    g.append(svg('title', {}, `${mk.label} — ${fmtDateTime(mk.t)}`));
    root.append(g);
    nm++;
  }
  root.setAttribute('data-markers', nm);

  const last = samples.length ? samples[samples.length - 1] : null;
  const d = st.detector;
  const text = last
    ? `${samples.length} samples shown. Usage now ${fmtBytes(last.usage)}${limit ? ' of a ' + fmtBytes(limit) + ' limit' : ''}; ` +
      `floor slope ${d.slope_bytes_per_hour ? fmtSignedBytes(d.slope_bytes_per_hour) + ' per hour' : 'flat'}; ` +
      (d.forecast_seconds !== null ? `limit forecast in about ${fmtDuration(d.forecast_seconds)}; ` : '') +
      `${nm} event markers.`
    : 'No samples in this range yet.';
  desc.textContent = text;
  $('#chart-caption').textContent = text;
  box.replaceChildren(root);
}

function renderEvents(st) {
  const ol = $('#events');
  ol.replaceChildren();
  const names = { alert: 'Alert', capture: 'Capture', capture_skipped: 'Capture skipped', oom_kill: 'OOM kill', restart: 'Restart' };
  const list = st.markers.slice(-50).reverse();
  for (const mk of list) {
    const li = el('li', { 'data-kind': mk.kind });
    li.append(el('strong', {}, (names[mk.kind] || mk.kind) + ': '), document.createTextNode(`${mk.label} — ${fmtDateTime(mk.t)}`));
    ol.append(li);
  }
}

// ---- snapshots --------------------------------------------------------------------------------

async function refreshSnapshots() {
  try {
    const res = await api('/api/v1/snapshots', false);
    if (!res.ok) throw new Error(await errorText(res));
    const j = await res.json();
    state.snapshots = j.snapshots || [];
    const ids = new Set(state.snapshots.map((s) => s.id));
    for (const id of [...state.selected]) if (!ids.has(id)) state.selected.delete(id);
    // Rebuild the table only when the listing changed (keeps keyboard focus while polling).
    const key = state.snapshots.map((s) => s.id).join('\n');
    if (key !== state.snapshotsKey) {
      state.snapshotsKey = key;
      renderSnapshots();
    } else {
      syncSelection();
    }
  } catch (e) {
    $('#compare-state').textContent = 'Cannot list snapshots: ' + e.message;
  }
}

function renderSnapshots() {
  const tbody = $('#snapshots tbody');
  tbody.replaceChildren();
  $('#snapshots-empty').hidden = state.snapshots.length > 0;
  const rows = [...state.snapshots].reverse(); // newest first
  for (const s of rows) {
    const tr = el('tr', { 'data-id': s.id });
    if (state.selected.has(s.id)) tr.classList.add('selected');
    const cb = el('input', { type: 'checkbox', 'aria-label': `Select snapshot of ${fmtDateTime(s.time)} for comparison` });
    cb.checked = state.selected.has(s.id);
    cb.addEventListener('change', () => {
      if (cb.checked) {
        state.selected.add(s.id);
        if (state.selected.size > 2) state.selected.delete([...state.selected][0]);
      } else {
        state.selected.delete(s.id);
      }
      syncSelection();
    });
    const tdSel = el('td');
    tdSel.append(cb);
    const tdTime = el('td');
    tdTime.append(el('time', { datetime: s.time_utc, title: s.time_utc }, fmtDateTime(s.time)));
    const dl = el('button', { type: 'button', 'aria-label': `Download ${s.file_name}` }, 'Download');
    dl.addEventListener('click', () => download(s, dl));
    const tdDl = el('td');
    tdDl.append(dl, document.createTextNode(' ' + (s.compression === 'zstd' ? '(zstd)' : '')));
    tr.append(tdSel, tdTime, el('td', {}, s.reason), el('td', { class: 'num' }, fmtBytes(s.size_bytes)), tdDl);
    tbody.append(tr);
  }
  syncSelection();
}

function syncSelection() {
  for (const tr of document.querySelectorAll('#snapshots tbody tr')) {
    const on = state.selected.has(tr.dataset.id);
    tr.classList.toggle('selected', on);
    const cb = tr.querySelector('input[type=checkbox]');
    if (cb) cb.checked = on;
  }
  $('#compare').disabled = state.selected.size !== 2;
  $('#compare-state').textContent = state.selected.size === 2 ? '2 selected' : `${state.selected.size} of 2 selected`;
}

function needToken(where) {
  if (token()) return false;
  where.textContent = 'Enter the access token above first.';
  $('#token').focus();
  return true;
}

async function download(s, button) {
  const status = $('#compare-state');
  if (needToken(status)) return;
  button.disabled = true;
  status.textContent = `Downloading ${s.file_name}…`;
  try {
    const res = await api(`/api/v1/snapshots/${encodeURI(s.id)}/download`, true);
    if (!res.ok) throw new Error(await errorText(res));
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: s.file_name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    status.textContent = `Downloaded ${s.file_name} (${fmtBytes(blob.size)}).`;
  } catch (e) {
    status.textContent = 'Download failed: ' + e.message;
  } finally {
    button.disabled = false;
  }
}

async function compare() {
  const status = $('#compare-state');
  if (needToken(status)) return;
  const picked = state.snapshots.filter((s) => state.selected.has(s.id)).sort((a, b) => a.time - b.time);
  if (picked.length !== 2) return;
  const [base, target] = picked;
  status.textContent = 'Comparing… (parsing two snapshots can take a while)';
  $('#compare').disabled = true;
  try {
    let res;
    for (let attempt = 0; attempt < 6; attempt++) {
      res = await api(`/api/v1/diff?base=${encodeURIComponent(base.id)}&target=${encodeURIComponent(target.id)}&limit=25`, true);
      if (res.status !== 503) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    if (!res.ok) throw new Error(await errorText(res));
    renderComparison(await res.json(), base, target);
    status.textContent = '';
  } catch (e) {
    status.textContent = 'Comparison failed: ' + e.message;
  } finally {
    $('#compare').disabled = state.selected.size !== 2;
  }
}

function renderComparison(j, base, target) {
  $('#comparison').hidden = false;
  $('#comparison-note').textContent = `Base ${fmtDateTime(base.time)} (${base.reason}) → target ${fmtDateTime(target.time)} (${target.reason}). Top constructors by size delta.`;
  const tbody = $('#diff tbody');
  tbody.replaceChildren();
  for (const c of j.classes || []) {
    const tr = el('tr');
    const sd = el('td', { class: 'num ' + (c.size_delta > 0 ? 'pos' : c.size_delta < 0 ? 'neg' : '') }, fmtSignedBytes(c.size_delta));
    tr.append(el('th', { scope: 'row' }, c.name),
      el('td', { class: 'num' }, fmtCount(c.new_count)),
      el('td', { class: 'num' }, fmtCount(c.deleted_count)),
      el('td', { class: 'num' }, (c.delta_count > 0 ? '+' : '') + fmtCount(c.delta_count)),
      el('td', { class: 'num' }, fmtBytes(c.alloc_size)),
      el('td', { class: 'num' }, fmtBytes(c.freed_size)),
      sd);
    tbody.append(tr);
  }
  const box = $('#retainers');
  box.replaceChildren();
  const top = (j.top_growers || [])[0];
  if (!top) {
    box.append(el('p', { class: 'muted' }, 'No constructor grew between these snapshots.'));
    return;
  }
  box.append(el('p', {}, `${top.name}: ${fmtSignedBytes(top.size_delta)}, ${(top.delta_count > 0 ? '+' : '') + fmtCount(top.delta_count)} objects; ${fmtCount(top.count || 0)} instances retaining ${fmtBytes(top.retained_size || 0)} in the target.`));
  if (top.retainer_path) {
    box.append(el('p', { class: 'path', id: 'retainer-path' }, top.retainer_path.text));
    box.append(el('p', { class: 'muted' }, `${fmtCount(top.retainer_path.instances)} instances are held this way (read from the object, right to left, back to the GC roots).`));
  } else {
    box.append(el('p', { class: 'muted' }, 'No retainer path found (the instances may be unreachable).'));
  }
}

// ---- wiring -----------------------------------------------------------------------------------

function setRange(r) {
  state.range = r;
  for (const b of document.querySelectorAll('[data-range]')) {
    b.setAttribute('aria-pressed', String(Number(b.dataset.range) === r));
  }
  refreshStatus();
}

function updateTokenState() {
  $('#token-state').textContent = token() ? 'A token is set for this browser tab.' : 'No token set: downloads and comparisons need one.';
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => {
    if (!document.hidden) {
      await refreshStatus();
      await refreshSnapshots();
    }
    schedule();
  }, POLL_MS);
}

function init() {
  for (const b of document.querySelectorAll('[data-range]')) {
    b.addEventListener('click', () => setRange(Number(b.dataset.range)));
  }
  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = $('#token').value.trim();
    try { if (v) sessionStorage.setItem(TOKEN_KEY, v); } catch (e) { /* storage disabled */ }
    $('#token').value = '';
    updateTokenState();
  });
  $('#forget').addEventListener('click', () => {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage disabled */ }
    updateTokenState();
  });
  $('#compare').addEventListener('click', compare);
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => state.status && drawChart(state.status), 150);
  });
  updateTokenState();
  setRange(state.range);
  refreshSnapshots();
  schedule();
}

document.addEventListener('DOMContentLoaded', init);

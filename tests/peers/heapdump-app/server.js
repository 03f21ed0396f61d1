#!/usr/bin/env node
// A real Node.js app serving the heap-dump endpoint exactly as DESIGN.md's contract says, for
// leakwatch's tests and benchmarks. No npm dependencies (plain `http`/`https` + `v8`). Node >= 18.
//
//   GET <path> with header <header>: <key>
//     200 application/octet-stream, Content-Disposition: attachment; filename="<name>.heapsnapshot"
//     403 wrong or missing key; 500 the snapshot failed.
//
// Options (CLI flags; env in brackets):
//   --port N          (PORT, default 0)   listens on 127.0.0.1; prints "LISTENING <port>" when ready
//   --key K           (HEAP_SECRET_KEY)   the shared key (required)
//   --header NAME     default x-key
//   --path P          default /api/heapdump
//   --mode M          default ok (see modes below); --times N: the mode applies to the next N
//                     heap-dump requests, then back to ok (0 = forever)
//   --bytes N         body size for synthetic/huge modes
//   --delay-ms N      for slow_start (delay before the response head) and stall (stall time)
//   --start-delay-ms N  wait this long before listening (a slow-to-start app)
//   --tls-cert F --tls-key F  serve HTTPS
//   --leak-mb-per-s R grow retained memory by R MB per second (a leaking app)
//
// Modes: ok (real v8.writeHeapSnapshot), synthetic (a valid-looking snapshot of --bytes, fast),
// error500, forbidden (403 even with the right key), stall (head + part of the body, then silence),
// cut (head with Content-Length + part of the body, then the connection is destroyed), cut_chunked
// (same, chunked encoding), truncated_close (no length, part of the snapshot, clean close), huge
// (a snapshot header then --bytes of filler, chunked), huge_announced (Content-Length of --bytes),
// garbage (200 with an HTML page), slow_start (wait --delay-ms before answering), empty (200, no body).
//
// Admin routes (no key, loopback tests only):
//   POST /admin/mode?mode=M&times=N&bytes=N&delay_ms=N   change behaviour
//   POST /admin/leak?mb=N                                  retain N more MB now
//   GET  /admin/stats                                      {"requests":..,"ok":..,"forbidden":..,"last_key":..}
'use strict';
const http = require('http');
const https = require('https');
const fs = require('fs');
const os = require('os');
const path = require('path');
const v8 = require('v8');
const crypto = require('crypto');

function parseArgs(argv) {
  const out = {};
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else out[a.slice(2)] = argv[++i];
  }
  return out;
}

const args = parseArgs(process.argv);
const opt = {
  port: Number(args.port ?? process.env.PORT ?? 0),
  key: args.key ?? process.env.HEAP_SECRET_KEY,
  header: (args.header ?? 'x-key').toLowerCase(),
  path: args.path ?? '/api/heapdump',
  startDelayMs: Number(args['start-delay-ms'] ?? 0),
  leakRate: Number(args['leak-mb-per-s'] ?? 0),
};
if (!opt.key) {
  console.error('heapdump-app: --key or HEAP_SECRET_KEY is required');
  process.exit(2);
}

const behaviour = {
  mode: args.mode ?? 'ok',
  times: Number(args.times ?? 0),
  bytes: Number(args.bytes ?? 64 * 1024 * 1024),
  delayMs: Number(args['delay-ms'] ?? 60000),
};
const stats = { requests: 0, ok: 0, forbidden: 0, failed: 0, admin: 0, last_key: null };
const leaked = [];

function leakMb(mb) {
  for (let i = 0; i < mb; i++) {
    // Many small objects (like a real leak), about 1 MB per iteration.
    const chunk = [];
    for (let j = 0; j < 8192; j++) chunk.push({ id: j, payload: 'x'.repeat(96) + Math.random() });
    leaked.push(chunk);
  }
}

function keyMatches(given) {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(opt.key);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function currentMode() {
  const m = behaviour.mode;
  if (behaviour.times > 0 && --behaviour.times === 0) behaviour.mode = 'ok';
  return m;
}

const SNAPSHOT_HEAD = '{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count",' +
  '"trace_node_id","detachedness"],"node_types":[["hidden"],"string","number","number","number","number",' +
  '"number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context"],"string_or_number",' +
  '"node"]},"node_count":0,"edge_count":0,"trace_function_count":0},\n"nodes":[';
const SNAPSHOT_TAIL = '],\n"edges":[],\n"strings":[]}\n';

// Writes `total` bytes of a syntactically valid snapshot-like body, honouring back-pressure.
function writeSynthetic(res, total, done) {
  const filler = Buffer.from('0,'.repeat(32768));  // 64 KiB
  let left = Math.max(0, total - SNAPSHOT_HEAD.length - SNAPSHOT_TAIL.length - 1);
  res.write(SNAPSHOT_HEAD);
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, filler.length);
      left -= n;
      if (!res.write(n === filler.length ? filler : filler.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end('0' + SNAPSHOT_TAIL, done);
  };
  pump();
}

function snapshotFile() {
  const file = path.join(os.tmpdir(), `heapdump-app-${process.pid}-${Date.now()}.heapsnapshot`);
  return v8.writeHeapSnapshot(file);
}

function sendRealSnapshot(res) {
  let file;
  try {
    file = snapshotFile();
  } catch (e) {
    stats.failed++;
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('heap snapshot failed: ' + e.message);
    return;
  }
  const size = fs.statSync(file).size;
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': size,
    'Content-Disposition': `attachment; filename="${path.basename(file)}"`,
  });
  const stream = fs.createReadStream(file);
  stream.pipe(res);
  const cleanup = () => fs.unlink(file, () => {});
  stream.on('close', cleanup);
  res.on('close', () => { stream.destroy(); });
  stats.ok++;
}

// Head + the first 64 KiB of a (synthetic, so immediate) snapshot of --bytes, then `then(socket)`.
function sendPartial(req, res, { chunked, then }) {
  const total = Math.max(behaviour.bytes, 128 * 1024);
  const part = Buffer.concat([Buffer.from(SNAPSHOT_HEAD), Buffer.from('0,'.repeat(32768))]).subarray(0, 64 * 1024);
  const headers = { 'Content-Type': 'application/octet-stream',
                    'Content-Disposition': 'attachment; filename="partial.heapsnapshot"' };
  if (!chunked) headers['Content-Length'] = total;
  res.writeHead(200, headers);
  res.write(part, () => setTimeout(() => then(req.socket, res), 50));
}

function handleDump(req, res) {
  stats.requests++;
  const given = req.headers[opt.header];
  stats.last_key = given === undefined ? null : keyMatches(given) ? 'match' : 'mismatch';
  if (!keyMatches(given)) {
    stats.forbidden++;
    res.writeHead(403, { 'Content-Type': 'text/plain' });
    res.end('forbidden');
    return;
  }
  const mode = currentMode();
  switch (mode) {
    case 'ok':
      return sendRealSnapshot(res);
    case 'slow_start':
      return setTimeout(() => sendRealSnapshot(res), behaviour.delayMs);
    case 'synthetic':
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': behaviour.bytes,
                           'Content-Disposition': 'attachment; filename="synthetic.heapsnapshot"' });
      return writeSynthetic(res, behaviour.bytes, () => { stats.ok++; });
    case 'error500':
      stats.failed++;
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      return res.end('heap snapshot failed: simulated failure');
    case 'forbidden':
      stats.forbidden++;
      res.writeHead(403, { 'Content-Type': 'text/plain' });
      return res.end('forbidden');
    case 'garbage':
      res.writeHead(200, { 'Content-Type': 'text/html' });
      return res.end('<html><body>Welcome to the app</body></html>');
    case 'empty':
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': 0 });
      return res.end();
    case 'stall':
      return sendPartial(req, res, { chunked: false, then: () => { /* silence */ } });
    case 'cut':
      return sendPartial(req, res, { chunked: false, then: (sock) => sock.destroy() });
    case 'cut_chunked':
      return sendPartial(req, res, { chunked: true, then: (sock) => sock.destroy() });
    case 'truncated_close': {
      // HTTP/1.1 without Content-Length or chunking: the body ends when the connection closes.
      const sock = req.socket;
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n');
      sock.end(SNAPSHOT_HEAD + '1,2,3');
      return;
    }
    case 'huge':
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      return writeSynthetic(res, behaviour.bytes, () => {});
    case 'huge_announced':
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': behaviour.bytes });
      return writeSynthetic(res, behaviour.bytes, () => {});
    default:
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      return res.end('unknown mode ' + mode);
  }
}

function handleAdmin(req, res, url) {
  stats.admin++;
  const q = url.searchParams;
  if (url.pathname === '/admin/stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ ...stats, mode: behaviour.mode, leaked_mb: leaked.length,
                                    rss: process.memoryUsage().rss }));
  }
  if (url.pathname === '/admin/mode' && req.method === 'POST') {
    if (q.has('mode')) behaviour.mode = q.get('mode');
    behaviour.times = Number(q.get('times') ?? 0);
    if (q.has('bytes')) behaviour.bytes = Number(q.get('bytes'));
    if (q.has('delay_ms')) behaviour.delayMs = Number(q.get('delay_ms'));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify(behaviour));
  }
  if (url.pathname === '/admin/leak' && req.method === 'POST') {
    leakMb(Number(q.get('mb') ?? 1));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ leaked_mb: leaked.length }));
  }
  res.writeHead(404);
  res.end();
}

function handler(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname.startsWith('/admin/')) return handleAdmin(req, res, url);
  if (url.pathname === opt.path && req.method === 'GET') return handleDump(req, res);
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found');
}

const server = args['tls-cert']
  ? https.createServer({ cert: fs.readFileSync(args['tls-cert']), key: fs.readFileSync(args['tls-key']) }, handler)
  : http.createServer(handler);
server.keepAliveTimeout = 1000;

setTimeout(() => {
  server.listen(opt.port, '127.0.0.1', () => {
    process.stdout.write(`LISTENING ${server.address().port}\n`);
  });
}, opt.startDelayMs);

if (opt.leakRate > 0) {
  setInterval(() => leakMb(opt.leakRate), 1000).unref();
}

process.on('SIGTERM', () => { server.close(); process.exit(0); });

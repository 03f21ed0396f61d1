#!/usr/bin/env node
// A Node.js service with a big, ordinary heap and a slow leak, for bench/sidecar/run.sh: the
// watchdog in a small memory cgroup must get through a capture series of this app without dying.
//
//   node --max-old-space-size=1500 big_heap_app.js [--heap-mb N] [--leak-kb-per-s R]
//   env HEAP_SECRET_KEY (required)
//
// At start it builds long-lived data until the JS heap holds N MB (default 540, heapUsed), the way
// a service holds a cache and its sessions: CacheEntry objects with a 1000-character string each
// (5/6 of it) and Session objects with a few small fields, an array and a nested object (1/6).
// Then, every 100 ms, it leaks RequestStore objects (about R KB/s of heap, default 250): each
// subscribes a closure to a process-wide EventEmitter and is never unsubscribed, as in
// tests/peers/demo-app. So the heap passes ~600 MB a few minutes in.
//
// Prints "LISTENING <port>" once the ballast is built. Routes (127.0.0.1 only):
//   GET /api/heapdump  the heap-dump endpoint per leakwatch's contract (key in the x-key header;
//                      403 without it); the snapshot is written to $TMPDIR, streamed, then removed
//   GET /healthz       200 ok
//   GET /stats         {"heap_used", "rss", "stores"}
'use strict';
const http = require('http');
const fs = require('fs');
const os = require('os');
const path = require('path');
const v8 = require('v8');
const crypto = require('crypto');
const { EventEmitter } = require('events');

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a.startsWith('--')) args[a.slice(2)] = process.argv[++i];
}
const KEY = process.env.HEAP_SECRET_KEY;
if (!KEY) {
  console.error('big_heap_app: HEAP_SECRET_KEY is required');
  process.exit(2);
}
const HEAP_MB = Number(args['heap-mb'] ?? 540);
const LEAK_KB_PER_S = Number(args['leak-kb-per-s'] ?? 250);

class CacheEntry {
  constructor(key, value) {
    this.key = key;
    this.value = value;
    this.hits = 0;
    this.createdAt = Date.now();
  }
}
class Session {
  constructor(id) {
    this.id = id;
    this.user = 'user-' + id.toString(36) + '-' + crypto.randomBytes(6).toString('hex');
    this.roles = ['reader', id % 7 === 0 ? 'admin' : 'member'];
    this.prefs = { theme: id % 2 ? 'dark' : 'light', lang: 'en', pageSize: 20 + (id % 5) };
    this.lastSeen = Date.now();
  }
}
class RequestStore {
  constructor(id) {
    this.id = id;
    this.startedAt = Date.now();
    this.traceId = id.toString(16).padStart(16, '0');
    this.tenant = id % 97;
    this.headers = { accept: 'application/json', 'x-request-id': this.traceId };
    this.body = 'b'.repeat(200) + id;
  }
}

// Long-lived data: about 5/6 cache, 1/6 sessions (by bytes).
const cache = new Map();
const sessions = new Map();
// Grows in batches (5 cache entries per session, which is about 5/6 of the bytes in the cache)
// until heapUsed reaches the target, so the heap size does not depend on V8's object layout.
function ballast(mb) {
  const pool = crypto.randomBytes(4096).toString('hex');
  let c = 0;
  let s = 0;
  while (process.memoryUsage().heapUsed < mb * 1024 * 1024) {
    for (let b = 0; b < 2000; b++) {
      for (let k = 0; k < 5; k++, c++) {
        // A flat string of its own (not a slice or a cons of the pool), as a parsed response is.
        const value = JSON.stringify({ i: c, pad: pool.substr(c % 7000, 960) });
        cache.set('k' + c, new CacheEntry('k' + c, value));
      }
      sessions.set(s, new Session(s));
      s++;
    }
  }
}

const bus = new EventEmitter();
bus.setMaxListeners(0);
let stores = 0;
function leak(bytes) {
  const n = Math.max(1, Math.round(bytes / 400));  // ~400 B per store with its listener
  for (let i = 0; i < n; i++) {
    const store = new RequestStore(stores++);
    bus.on('config', () => { store.startedAt = Date.now(); });
  }
}

function handleHeapdump(req, res) {
  const given = Buffer.from(String(req.headers['x-key'] ?? ''));
  const want = Buffer.from(KEY);
  if (given.length !== want.length || !crypto.timingSafeEqual(given, want)) {
    res.writeHead(403, { 'Content-Type': 'text/plain' });
    return res.end('forbidden');
  }
  const name = `big-heap-app-${process.pid}-${Date.now()}.heapsnapshot`;
  let file;
  let size;
  try {
    file = v8.writeHeapSnapshot(path.join(os.tmpdir(), name));
    size = fs.statSync(file).size;
  } catch (e) {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    return res.end('heap snapshot failed: ' + e.message);
  }
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': size,
    'Content-Disposition': `attachment; filename="${name}"`,
  });
  const stream = fs.createReadStream(file);
  stream.pipe(res);
  stream.on('close', () => fs.unlink(file, () => {}));
  res.on('close', () => stream.destroy());
}

ballast(HEAP_MB);
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/api/heapdump') return handleHeapdump(req, res);
  if (req.method === 'GET' && url.pathname === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end('ok');
  }
  if (req.method === 'GET' && url.pathname === '/stats') {
    const m = process.memoryUsage();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ heap_used: m.heapUsed, rss: m.rss, stores }));
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found');
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
setInterval(() => leak((LEAK_KB_PER_S * 1024) / 10), 100).unref();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.close(); process.exit(0); });

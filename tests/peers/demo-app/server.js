#!/usr/bin/env node
// leakwatch's demo app: a small Node.js "orders" service in the spirit of the incident that
// motivated leakwatch. Every request builds a per-request RequestStore; creating a store subscribes
// it to process-wide events (a config-change bus and a fake connection pool) so it can refresh
// itself. In MODE=leak the subscriptions are never removed, so every store stays reachable from the
// global listeners for ever: the memory floor climbs request after request. In MODE=healthy the
// store unsubscribes when the response is sent and is garbage collected.
//
// Plain Node.js (18+), no npm dependencies.
//
//   node server.js [--mode leak|healthy] [--port N] [--key K] [--heapdump on|off]
//   env: MODE, PORT (default 0 = any), HEAP_SECRET_KEY (required unless --heapdump off),
//        HEAPDUMP_HEADER (default x-key)
//   --heapdump off: no heap-dump route at all (404), as most services have none; leakwatch then
//   captures through the inspector or a signal (the demo's zero-code target)
//
// Prints "LISTENING <port>" on stdout when ready. Routes:
//   GET /api/orders?id=N  the business route (what the load generator calls)
//   GET /healthz          200 ok
//   GET /stats            {"mode", "requests", "live_stores", "listeners", "rss", "heap_used"}
//   GET /api/heapdump     the heap-dump endpoint, exactly per leakwatch's contract: the key in the
//                         x-key header; 200 application/octet-stream with Content-Disposition
//                         filename="<name>.heapsnapshot"; 403 on a wrong or missing key; 500 when
//                         the snapshot failed.
'use strict';
const http = require('http');
const fs = require('fs');
const os = require('os');
const path = require('path');
const v8 = require('v8');
const crypto = require('crypto');
const { EventEmitter } = require('events');

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
const MODE = args.mode ?? process.env.MODE ?? 'leak';
const PORT = Number(args.port ?? process.env.PORT ?? 0);
const KEY = args.key ?? process.env.HEAP_SECRET_KEY;
const HEADER = (args.header ?? process.env.HEAPDUMP_HEADER ?? 'x-key').toLowerCase();
const HEAPDUMP = (args.heapdump ?? 'on') !== 'off';
if (MODE !== 'leak' && MODE !== 'healthy') {
  console.error(`demo-app: MODE must be leak or healthy (got ${MODE})`);
  process.exit(2);
}
if (!KEY && HEAPDUMP) {
  console.error('demo-app: HEAP_SECRET_KEY (or --key) is required');
  process.exit(2);
}

// Process-wide things a store subscribes to.
const configBus = new EventEmitter();
configBus.setMaxListeners(0);
const pool = { sockets: new Set() };  // stand-in for a shared connection pool's watchers

let requests = 0;
let liveStores = 0;
const registry = new FinalizationRegistry(() => { liveStores--; });

// One per request. Many small fields, as such request contexts usually have.
class RequestStore {
  constructor(id, url) {
    this.id = id;
    this.url = url;
    this.startedAt = Date.now();
    this.tenant = id % 97;
    this.userId = id * 7;
    this.locale = 'en-GB';
    this.currency = 'EUR';
    this.region = 'eu-west-1';
    this.traceId = id.toString(16);
    this.spanId = (id * 31).toString(16);
    this.retries = 0;
    this.cacheHits = 0;
    this.cacheMisses = 0;
    this.dbQueries = 0;
    this.dbMillis = 0;
    this.items = 0;
    this.total = 0;
    this.discount = 0;
    this.tax = 0;
    this.shipping = 0;
    this.priority = id % 3;
    this.flags = 0;
    this.featureA = false;
    this.featureB = true;
    this.featureC = false;
    this.status = 0;
    this.bytesOut = 0;
    this.refreshedAt = 0;
    this.configVersion = 1;
    this.poolGeneration = 1;
    this.slot0 = 0; this.slot1 = 1; this.slot2 = 2; this.slot3 = 3; this.slot4 = 4; this.slot5 = 5;
    this.slot6 = 6; this.slot7 = 7; this.slot8 = 8; this.slot9 = 9; this.slot10 = 10; this.slot11 = 11;
    this.slot12 = 12; this.slot13 = 13; this.slot14 = 14; this.slot15 = 15; this.slot16 = 16;
    this.slot17 = 17; this.slot18 = 18; this.slot19 = 19; this.slot20 = 20; this.slot21 = 21;
    this.slot22 = 22; this.slot23 = 23; this.slot24 = 24; this.slot25 = 25; this.slot26 = 26;
    this.slot27 = 27; this.slot28 = 28; this.slot29 = 29; this.slot30 = 30; this.slot31 = 31;
    this.slot32 = 32; this.slot33 = 33; this.slot34 = 34; this.slot35 = 35; this.slot36 = 36;
    this.slot37 = 37; this.slot38 = 38; this.slot39 = 39; this.slot40 = 40; this.slot41 = 41;
    this.slot42 = 42; this.slot43 = 43; this.slot44 = 44; this.slot45 = 45; this.slot46 = 46;
    this.slot47 = 47; this.slot48 = 48; this.slot49 = 49; this.slot50 = 50; this.slot51 = 51;
    this.slot52 = 52; this.slot53 = 53; this.slot54 = 54; this.slot55 = 55; this.slot56 = 56;
    this.slot57 = 57; this.slot58 = 58; this.slot59 = 59; this.slot60 = 60; this.slot61 = 61;
    this.slot62 = 62; this.slot63 = 63; this.slot64 = 64; this.slot65 = 65; this.slot66 = 66;
    this.slot67 = 67; this.slot68 = 68; this.slot69 = 69; this.slot70 = 70; this.slot71 = 71;
    this.slot72 = 72; this.slot73 = 73; this.slot74 = 74; this.slot75 = 75; this.slot76 = 76;
    this.slot77 = 77; this.slot78 = 78; this.slot79 = 79; this.slot80 = 80; this.slot81 = 81;
    this.slot82 = 82; this.slot83 = 83; this.slot84 = 84; this.slot85 = 85; this.slot86 = 86;
    this.slot87 = 87; this.slot88 = 88; this.slot89 = 89; this.slot90 = 90; this.slot91 = 91;
    this.slot92 = 92; this.slot93 = 93; this.slot94 = 94; this.slot95 = 95;
    // The bug: subscribe to process-wide events with closures that hold the store.
    this.onConfigChange = (version) => { this.configVersion = version; this.refreshedAt = Date.now(); };
    this.onPoolReset = () => { this.poolGeneration++; };
    configBus.on('change', this.onConfigChange);
    pool.sockets.add(this.onPoolReset);
    liveStores++;
    registry.register(this, id);
  }

  // The fix: what HEALTHY mode calls when the response is sent.
  dispose() {
    configBus.off('change', this.onConfigChange);
    pool.sockets.delete(this.onPoolReset);
  }
}

function handleOrders(req, res, url) {
  requests++;
  const store = new RequestStore(requests, url.pathname);
  // Some per-request garbage, so the heap has the usual sawtooth.
  const lines = [];
  for (let i = 0; i < 50; i++) lines.push({ sku: `SKU-${(store.id + i) % 1000}`, qty: (i % 4) + 1, price: i * 1.25 });
  store.items = lines.length;
  store.total = lines.reduce((s, l) => s + l.qty * l.price, 0);
  const body = JSON.stringify({ order: Number(url.searchParams.get('id') ?? store.id), items: store.items,
                                total: store.total, mode: MODE });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  if (MODE === 'healthy') res.on('finish', () => store.dispose());
}

function keyMatches(given) {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(KEY);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function handleHeapdump(req, res) {
  if (!keyMatches(req.headers[HEADER])) {
    res.writeHead(403, { 'Content-Type': 'text/plain' });
    res.end('forbidden');
    return;
  }
  const name = `demo-app-${MODE}-${new Date().toISOString().replace(/[:.]/g, '-')}.heapsnapshot`;
  let file;
  try {
    file = v8.writeHeapSnapshot(path.join(os.tmpdir(), `${process.pid}-${name}`));
  } catch (e) {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('heap snapshot failed: ' + e.message);
    return;
  }
  let size;
  try {
    size = fs.statSync(file).size;
  } catch (e) {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('heap snapshot failed: ' + e.message);
    return;
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

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/api/orders') return handleOrders(req, res, url);
  if (HEAPDUMP && req.method === 'GET' && url.pathname === '/api/heapdump') return handleHeapdump(req, res);
  if (req.method === 'GET' && url.pathname === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end('ok');
  }
  if (req.method === 'GET' && url.pathname === '/stats') {
    const m = process.memoryUsage();
    const body = JSON.stringify({ mode: MODE, requests, live_stores: liveStores,
                                  listeners: configBus.listenerCount('change'), rss: m.rss,
                                  heap_used: m.heapUsed });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(body);
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found');
});
server.keepAliveTimeout = 5000;
server.listen(PORT, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});

// Config changes happen now and then; every live subscriber refreshes.
setInterval(() => configBus.emit('change', Date.now()), 30000).unref();

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.close(); process.exit(0); });

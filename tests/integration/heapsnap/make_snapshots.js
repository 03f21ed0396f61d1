// Writes real V8 heap snapshots of many shapes into OUTDIR (Node 18+):
//   shapes.heapsnapshot         closures, Map/Set/WeakMap, strings of every kind, typed arrays,
//                               shared subtrees, same-named classes, plain-object shapes, cycles
//   leak-a / leak-b             a growing leak between A and B
//   sockets-a / sockets-b       the incident in miniature: a server whose handler keeps every socket
// usage: node make_snapshots.js OUTDIR
'use strict';
const v8 = require('v8');
const fs = require('fs');
const path = require('path');
const http = require('http');

const out = process.argv[2];
if (!out) { console.error('usage: make_snapshots.js OUTDIR'); process.exit(2); }
fs.mkdirSync(out, {recursive: true});
const snap = (name) => v8.writeHeapSnapshot(path.join(out, name + '.heapsnapshot'));

function shapes() {
  const keep = globalThis.__shapes = {};
  // Closures sharing a context, and one capturing a big array.
  keep.closures = [];
  for (let i = 0; i < 50; i++) { const big = new Array(100).fill(i); keep.closures.push(() => big.length + i); }
  // Maps, Sets, WeakMaps (ephemeron edges), WeakRefs.
  keep.map = new Map(); keep.set = new Set(); keep.weak = new WeakMap(); keep.keys = [];
  for (let i = 0; i < 200; i++) {
    const k = {k: i}; keep.keys.push(k);
    keep.map.set('key' + i, {value: i, label: 'v' + i});
    keep.set.add(k);
    keep.weak.set(k, {payload: new Array(20).fill(i)});
  }
  keep.weakRefs = keep.keys.slice(0, 10).map((k) => new WeakRef(k));
  // Strings of every kind: flat, concatenated (cons), sliced, internalized, external-ish big.
  const base = 'abcdefghij'.repeat(20);
  keep.cons = []; keep.sliced = []; keep.flat = [];
  for (let i = 0; i < 100; i++) {
    keep.cons.push(base + i + base);                      // cons string
    keep.sliced.push((base + base + i).substring(3, 150)); // sliced string
    keep.flat.push(JSON.parse(JSON.stringify('s' + i)));   // sequential
  }
  keep.bigString = 'x'.repeat(1 << 20);
  keep.unicode = ['héllo wörld', '日本語のテキスト', '😀 emoji', 'quote " and \\ backslash'];
  // Typed arrays and buffers.
  keep.typed = [new Uint8Array(1024), new Float64Array(512), new Int32Array(new ArrayBuffer(4096)),
                Buffer.alloc(2048), new BigInt64Array(8), new DataView(new ArrayBuffer(64))];
  keep.numbers = [1.5, 2.25, -0, NaN, 1e300, 123456789012];
  keep.bigints = [10n ** 30n, -5n];
  keep.symbols = [Symbol('a'), Symbol.for('b')];
  keep.regexps = [/ab+c/g, new RegExp('x*', 'i')];
  // Shared subtree: retained sizes differ from sums.
  const shared = {blob: new Array(1000).fill('shared')};
  keep.holders = [];
  for (let i = 0; i < 20; i++) keep.holders.push({id: i, shared, own: new Array(50).fill(i)});
  // Two classes with the same name in different scopes (DevTools keys them by location).
  const A = (() => class Thing { constructor() { this.a = 1; } })();
  const B = (() => class Thing { constructor() { this.b = 2; } })();
  keep.things = [];
  for (let i = 0; i < 30; i++) keep.things.push(new A(), new B());
  // Plain objects of several shapes ({a, b} naming), odd property names, a cycle, dictionary mode.
  keep.points = []; keep.odd = [];
  for (let i = 0; i < 300; i++) keep.points.push({x: i, y: i * 2});
  for (let i = 0; i < 10; i++) keep.odd.push({'with,comma': i, 'q"uote': i, '{brace}': i});
  const c1 = {name: 'c1'}; const c2 = {name: 'c2', c1}; c1.c2 = c2; keep.cycle = c1;
  const dict = {}; for (let i = 0; i < 100; i++) dict['p' + i] = i; delete dict.p5; keep.dict = dict;
  keep.arrays = [[1, 2, 3], new Array(1000), Array.from({length: 100}, (_, i) => ({i}))];
  keep.promise = Promise.resolve(42);
  keep.date = new Date(0);
  keep.err = new Error('kept');
  snap('shapes');
}

function leak() {
  class LeakyRecord { constructor(i) { this.id = i; this.body = 'record-' + i + '-'.repeat(64); this.tags = [i]; } }
  const cache = globalThis.__cache = [];
  for (let i = 0; i < 500; i++) cache.push(new LeakyRecord(i));
  snap('leak-a');
  for (let i = 500; i < 5500; i++) cache.push(new LeakyRecord(i));
  cache.splice(0, 100);  // some freed
  snap('leak-b');
}

async function sockets() {
  // A backend the app talks to over TCP, and the app: every request opens a new connection to the
  // backend (as a buggy client library would) and never closes it.
  const net = require('net');
  const backendConns = [];
  const backend = net.createServer((c) => { backendConns.push(c); c.on('data', () => c.write('pong')); });
  await new Promise((r) => backend.listen(0, '127.0.0.1', r));
  const pool = globalThis.__backendClient = {connections: []};
  const server = http.createServer((req, res) => {
    const conn = net.connect(backend.address().port, '127.0.0.1');
    // Like many client libraries, tag the socket with bookkeeping properties (and drop one, which
    // turns its properties into a dictionary owned by the socket).
    Object.assign(conn, {poolId: 1, requestUrl: req.url, createdAt: Date.now(), lastUsed: Date.now(),
                         retries: 0, timeoutMs: 30000, keepAliveMs: 60000, tlsSession: null, inFlight: true});
    delete conn.poolId;
    pool.connections.push(conn);  // the leak: kept forever, never ended
    conn.once('connect', () => conn.write('ping'));
    conn.once('data', () => res.end('ok'));
  });
  // Idle keep-alive sockets stay open: writing a snapshot can take longer than the default 5 s
  // timeout on a busy machine, and Node 18's agent then reuses a socket the server is closing
  // (ECONNRESET).
  server.keepAliveTimeout = 0;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const agent = new http.Agent({keepAlive: true, maxSockets: 4});
  const fire = async (n) => {
    for (let i = 0; i < n; i += 10) {
      await Promise.all(Array.from({length: Math.min(10, n - i)}, () => new Promise((resolve, reject) => {
        const req = http.get({host: '127.0.0.1', port, path: '/', agent}, (res) => { res.resume(); res.on('end', resolve); });
        req.on('error', reject);
      })));
    }
  };
  await fire(100);  // warm-up: code is compiled and caches fill before the baseline
  snap('sockets-a');
  await fire(200);
  snap('sockets-b');
  process.exit(0);
}

shapes();
leak();
sockets().catch((e) => { console.error(e); process.exit(1); });

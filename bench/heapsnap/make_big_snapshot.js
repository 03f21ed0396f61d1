// Grows a heap of many small objects (records, strings, closures, maps) until a snapshot of about
// TARGET_MB megabytes, writes a.heapsnapshot, grows it by ~10% (a leak) and writes b.heapsnapshot.
// usage: node --max-old-space-size=8192 make_big_snapshot.js OUTDIR TARGET_MB
'use strict';
const v8 = require('v8');
const path = require('path');
const [out, mbArg] = process.argv.slice(2);
const targetMb = Number(mbArg || 500);
// Measured: ~ 95 bytes of snapshot per object created below.
const perUnit = 95 * 6;
const units = Math.round(targetMb * 1e6 / perUnit);
class Session { constructor(i) { this.id = i; this.user = {name: 'u' + i, roles: ['r' + (i % 7)]}; this.cb = () => this.id; } }
const world = globalThis.__world = {sessions: [], index: new Map()};
function grow(n) {
  for (let i = 0; i < n; i++) {
    const s = new Session(world.sessions.length);
    world.sessions.push(s);
    if (i % 4 === 0) world.index.set('k' + s.id, s);
  }
}
grow(units);
v8.writeHeapSnapshot(path.join(out, 'a.heapsnapshot'));
world.sessions.splice(0, Math.floor(units / 20));
grow(Math.floor(units / 10));
v8.writeHeapSnapshot(path.join(out, 'b.heapsnapshot'));

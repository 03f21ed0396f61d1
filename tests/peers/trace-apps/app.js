// Workload app for scripts/record-traces: a small service under a synthetic load whose memory
// behaviour is chosen by WORKLOAD. Node 18 compatible, no dependencies, low CPU (ticks at 10 Hz).
//   steady   fixed working set, constant garbage
//   bursty   random traffic bursts (garbage and short-lived buffers scale with traffic)
//   cache    bounded LRU cache that fills then stays at its bound
//   batch    a job every BATCH_EVERY s that holds BATCH_MIB for BATCH_HOLD s, then frees it
//   writer   appends to log files on disk (page cache) and rotates them; heap stays flat
//   leak     retains LEAK_KIB_S KiB/s after WARMUP s (the seed-like incident when fast)
//   steps    retains STEP_MIB every STEP_EVERY s
//   traffic  retains a fixed share of each request; traffic follows a TRAFFIC_PERIOD s wave
// Every workload first warms up: WARM_MIB of long-lived state built over WARMUP s.
'use strict';
const fs = require('fs');
const path = require('path');

const env = (k, d) => (process.env[k] === undefined ? d : Number(process.env[k]));
const workload = process.env.WORKLOAD || 'steady';
const warmup = env('WARMUP', 120);
const warmMiB = env('WARM_MIB', 40);
const garbageKiB = env('GARBAGE_KIB_S', 2048);  // short-lived allocation per second
const leakKiB = env('LEAK_KIB_S', 0);
const leakStart = env('LEAK_START', warmup);
const stepMiB = env('STEP_MIB', 16);
const stepEvery = env('STEP_EVERY', 150);
const period = env('TRAFFIC_PERIOD', 240);
const cacheMiB = env('CACHE_MIB', 32);
// Keys are drawn from CACHE_KEYS: a key set smaller than the bound fills ever slower (a warm-up of
// time constant CACHE_KEYS / (80 x load) s), as a real cache's hit rate rises.
const cacheKeys = env('CACHE_KEYS', 1e6);
const cacheKiB = env('CACHE_KIB', 4);
const batchEvery = env('BATCH_EVERY', 120);
const batchMiB = env('BATCH_MIB', 40);
const batchHold = env('BATCH_HOLD', 30);
const writeKiB = env('WRITE_KIB_S', 1024);
const rotateMiB = env('ROTATE_MIB', 64);
const logDir = process.env.LOG_DIR || '/var/tmp';

const t0 = Date.now();
const now = () => (Date.now() - t0) / 1000;
const chunk = (kib, seed) => Buffer.alloc(kib * 1024, seed & 0xff);  // touched, so resident
// Strings live in the V8 heap, Buffers outside it; mix both like a real service. The string is
// flat and unique (String.prototype.repeat would share one rope between all of them).
const heapChunk = (kib, seed) => Buffer.alloc(kib * 1024, 97 + (seed % 26)).toString('latin1');

const warm = [];
const leaked = [];
const cache = new Map();
let batch = [];
let seq = 0;

function traffic(t) {
  if (workload === 'bursty') return Math.random() < 0.1 ? 4 + 4 * Math.random() : 0.5 + Math.random();
  if (workload === 'traffic') return 1 + 0.9 * Math.sin((2 * Math.PI * t) / period);
  return 1;
}

let leakDebt = 0;
let lastStep = 0;
let fd = -1;
let written = 0;
let fileNo = 0;
const logBase = path.join(logDir, `leakwatch-trace-${process.pid}`);
function openLog() {
  if (fd >= 0) fs.closeSync(fd);
  const name = `${logBase}.${fileNo++ % 3}.log`;  // three files in rotation, oldest replaced
  fd = fs.openSync(name, 'w');
  written = 0;
}

function tick() {
  const t = now();
  const load = traffic(t);
  // Garbage: per-request objects that die young (the GC sawtooth).
  const perTick = (garbageKiB * load) / 10;
  const scratch = [];
  for (let k = 0; k < perTick; k += 4) scratch.push(heapChunk(4, seq++));
  if (scratch.length < 0) throw new Error('unreachable');
  // Warm-up: long-lived state built progressively (connection pools, JIT, lookup tables).
  if (warm.length * 256 < warmMiB * 1024 && t <= warmup) {
    const want = Math.min(warmMiB * 4, Math.ceil((t / Math.max(warmup, 1)) * warmMiB * 4));
    while (warm.length < want) warm.push(warm.length % 2 ? chunk(256, seq++) : heapChunk(256, seq++));
  }
  if (workload === 'leak' && t >= leakStart) {
    leakDebt += leakKiB / 10;
    while (leakDebt >= 16) { leaked.push(leaked.length % 2 ? heapChunk(16, seq++) : { s: heapChunk(16, seq++) }); leakDebt -= 16; }
  }
  if (workload === 'traffic' && t >= leakStart) {
    leakDebt += (leakKiB * load) / 10;
    while (leakDebt >= 8) { leaked.push(heapChunk(8, seq++)); leakDebt -= 8; }
  }
  if (workload === 'steps' && t >= leakStart && t - lastStep >= stepEvery) {
    lastStep = t;
    for (let k = 0; k < stepMiB * 4; ++k) leaked.push(k % 2 ? chunk(256, seq++) : heapChunk(256, seq++));
  }
  if (workload === 'cache') {
    for (let k = 0; k < 8 * load; ++k) {
      const key = Math.floor(Math.random() * cacheKeys);
      cache.delete(key);
      cache.set(key, heapChunk(cacheKiB, key));
      while (cache.size * cacheKiB > cacheMiB * 1024) cache.delete(cache.keys().next().value);
    }
  }
  if (workload === 'batch' && t > warmup) {
    const phase = (t - warmup) % batchEvery;
    if (phase < batchHold && batch.length * 256 < batchMiB * 1024) batch.push(heapChunk(256, seq++));
    if (phase >= batchHold && batch.length) batch = [];
  }
  if (workload === 'writer') {
    if (fd < 0 || written >= rotateMiB * 1024 * 1024) openLog();
    const line = Buffer.alloc((writeKiB * 1024) / 10, 0x61 + (seq++ % 26));
    fs.writeSync(fd, line);
    written += line.length;
  }
}

setInterval(tick, 100);
const stop = () => {
  if (fd >= 0) for (let i = 0; i < 3; ++i) try { fs.unlinkSync(`${logBase}.${i}.log`); } catch (e) { /* absent */ }
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// Load test of the daemon's HTTP API from a separate process: api_demo_server (the real server,
// router and dashboard) is hammered with keep-alive and fresh connections over loopback, with a
// bounded request count and time, and its RSS (from /proc/PID/status) must not grow once warm.
//
//   node load_test.mjs /path/to/api_demo_server [--requests N] [--concurrency C]
//
// Prints one JSON line with the figures; exit 0 = pass, 1 = fail.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import http from 'node:http';

const args = process.argv.slice(2);
const bin = args[0];
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const REQUESTS = opt('--requests', 20000);
const CONCURRENCY = opt('--concurrency', 16);
const MAX_SECONDS = opt('--max-seconds', 90);
const MAX_GROWTH_KIB = opt('--max-growth-kib', 1024);

const paths = ['/healthz', '/metrics', '/api/v1/status?max_points=300', '/api/v1/snapshots', '/',
  '/app.js', '/api/v1/snapshots/web/nope', '/api/v1/diff?base=a&target=b', '/nope'];

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

const work = mkdtempSync(join(tmpdir(), 'leakwatch-load-'));
const server = spawn(bin, ['--archive', join(work, 'archive'), '--rate-limit', '0', '--token', 't'],
  { stdio: ['ignore', 'pipe', 'ignore'] });
const port = await new Promise((resolve, reject) => {
  createInterface({ input: server.stdout }).on('line', (l) => {
    const m = /^port=(\d+)$/.exec(l);
    if (m) resolve(Number(m[1]));
  });
  server.on('exit', (c) => reject(new Error('server exited ' + c)));
  setTimeout(() => reject(new Error('no port')), 20000);
});

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const fresh = new http.Agent({ keepAlive: false, maxSockets: CONCURRENCY });
const counts = {};
let errors = 0;

function request(i) {
  return new Promise((resolve) => {
    const path = paths[i % paths.length];
    const agent = i % 4 === 0 ? fresh : keepAlive;
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 10000 }, (res) => {
      counts[res.statusCode] = (counts[res.statusCode] || 0) + 1;
      res.resume();
      res.on('end', resolve);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => { errors++; resolve(); });
  });
}

async function phase(n, deadline) {
  let next = 0;
  const worker = async () => {
    while (next < n && Date.now() < deadline) await request(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return next;
}

const t0 = Date.now();
const deadline = t0 + MAX_SECONDS * 1000;
await phase(Math.min(2000, REQUESTS), deadline); // warm-up: buffers, allocator arenas
const rssWarm = rssKiB(server.pid);
const tMain = Date.now();
const done = await phase(REQUESTS, deadline);
const seconds = (Date.now() - tMain) / 1000;
await new Promise((r) => setTimeout(r, 300));
const rssAfter = rssKiB(server.pid);
// A slowloris-style burst: many idle connections, then gone.
const idle = [];
for (let i = 0; i < 100; i++) {
  const s = (await import('node:net')).connect(port, '127.0.0.1');
  s.on('error', () => {});
  idle.push(s);
}
await new Promise((r) => setTimeout(r, 300));
for (const s of idle) s.destroy();
await new Promise((r) => setTimeout(r, 300));
const rssEnd = rssKiB(server.pid);
server.kill('SIGTERM');
keepAlive.destroy();
fresh.destroy();
rmSync(work, { recursive: true, force: true });

const growth = rssEnd - rssWarm;
const result = {
  requests: done, seconds, requests_per_second: Math.round(done / seconds), concurrency: CONCURRENCY,
  statuses: counts, errors, rss_warm_kib: rssWarm, rss_after_kib: rssAfter, rss_end_kib: rssEnd,
  rss_growth_kib: growth,
};
console.log(JSON.stringify(result));
let fail = false;
if (errors > 0) { console.error(`FAIL: ${errors} requests failed`); fail = true; }
if (done < Math.min(REQUESTS, 1000)) { console.error('FAIL: too few requests completed'); fail = true; }
if (growth > MAX_GROWTH_KIB) { console.error(`FAIL: RSS grew ${growth} KiB under load (limit ${MAX_GROWTH_KIB})`); fail = true; }
process.exit(fail ? 1 : 0);

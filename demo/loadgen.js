#!/usr/bin/env node
// leakwatch demo: a load generator that sends the same steady traffic to every URL given.
//
//   node loadgen.js [--rate N] [--duration S] URL...
//     --rate N       requests per second to EACH url (default 80)
//     --duration S   stop after S seconds (default 0 = until killed)
//
// Plain Node.js 18+, no dependencies. Keep-alive connections, at most 16 requests in flight per
// url (a slow target never makes it pile up). Prints one line every 30 s with the counts.
'use strict';
const http = require('http');

const urls = [];
let rate = 80;
let duration = 0;
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--rate') rate = Number(process.argv[++i]);
  else if (a === '--duration') duration = Number(process.argv[++i]);
  else urls.push(new URL(a));
}
if (!urls.length || !(rate > 0)) {
  console.error('usage: node loadgen.js [--rate N] [--duration S] URL...');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const targets = urls.map((u) => ({ url: u, sent: 0, ok: 0, failed: 0, inFlight: 0 }));
let n = 0;

function fire(t) {
  if (t.inFlight >= 16) return;
  t.inFlight++;
  t.sent++;
  const req = http.get({ host: t.url.hostname, port: t.url.port, path: `${t.url.pathname}?id=${++n}`, agent }, (res) => {
    res.resume();
    res.on('end', () => {
      t.inFlight--;
      if (res.statusCode === 200) t.ok++; else t.failed++;
    });
  });
  req.setTimeout(10000, () => req.destroy(new Error('timeout')));
  req.on('error', () => { t.inFlight--; t.failed++; });
}

// Ticks of 50 ms, carrying fractions over so the rate is exact.
const perTick = rate / 20;
let carry = 0;
const tick = setInterval(() => {
  carry += perTick;
  const k = Math.floor(carry);
  carry -= k;
  for (let i = 0; i < k; i++) for (const t of targets) fire(t);
}, 50);

const report = setInterval(() => {
  console.log('loadgen: ' + targets.map((t) => `${t.url.host} sent=${t.sent} ok=${t.ok} failed=${t.failed}`).join('  '));
}, 30000);

function stop() {
  clearInterval(tick);
  clearInterval(report);
  agent.destroy();
  process.exit(0);
}
if (duration > 0) setTimeout(stop, duration * 1000);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

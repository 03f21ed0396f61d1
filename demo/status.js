#!/usr/bin/env node
// leakwatch demo: one status line per watched app, from each daemon's /api/v1/status.
//
//   node status.js LABEL=http://127.0.0.1:9464 [LABEL=URL...]   one line per app, then exit
//   node status.js --json URL                                   the raw status object
//
// Plain Node.js 18+, no dependencies. Never fails loudly: an unreachable daemon prints "down".
'use strict';
const http = require('http');

function get(base) {
  return new Promise((resolve) => {
    const since = Math.floor(Date.now() / 1000) - 10;  // only the latest samples
    const req = http.get(new URL(`/api/v1/status?since=${since}`, base), (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch (e) { resolve(null); }
      });
    });
    req.setTimeout(3000, () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

const mib = (b) => (b == null ? '?' : `${(b / 1048576).toFixed(1)}MiB`);

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--json') {
    const s = await get(argv[1]);
    process.stdout.write(JSON.stringify(s) + '\n');
    return;
  }
  const parts = [];
  for (const a of argv) {
    const eq = a.indexOf('=');
    const label = a.slice(0, eq);
    const s = await get(a.slice(eq + 1));
    if (!s) { parts.push(`${label}: down`); continue; }
    const last = (s.samples || [])[s.samples.length - 1] || {};
    const caps = (s.counters && s.counters.captures) || {};
    const d = s.detector || {};
    // The capture in flight, as the daemon reports it (V8's own progress for the inspector).
    const c = s.capture;
    const now = c && c.active
      ? ` [capturing: ${c.method} ${c.phase}${c.fraction == null ? '' : ` ${Math.round(c.fraction * 100)}%`}]`
      : '';
    parts.push(`${label}: ${d.state || '?'} ws=${mib(last.working_set)}/${mib(s.limit_bytes)} captures=${caps.ok || 0}${now}`);
  }
  process.stdout.write(parts.join(' | ') + '\n');
}
main();

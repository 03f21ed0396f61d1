#!/usr/bin/env node
// leakwatch demo: a local webhook receiver that prints every alert leakwatch sends, readably.
//
//   node receiver.js [--port N] [--record FILE] [--quiet]
//     --port N       listen on 127.0.0.1:N (default 0 = any free port)
//     --record FILE  also append each alert body as one JSON line to FILE
//     --quiet        do not print the alerts (tests)
//   env LEAKWATCH_WEBHOOK_SECRET: when set, the X-Leakwatch-Signature header is verified
//   (HMAC-SHA256 over "<t>.<raw body>", docs/alerts.md) and the result printed.
//
// Prints "LISTENING <port>" on stdout when ready. Plain Node.js 18+, no dependencies.
'use strict';
const http = require('http');
const fs = require('fs');
const crypto = require('crypto');

let port = 0;
let record = null;
let quiet = false;
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--port') port = Number(process.argv[++i]);
  else if (a === '--record') record = process.argv[++i];
  else if (a === '--quiet') quiet = true;
  else { console.error(`receiver: unknown argument ${a}`); process.exit(2); }
}
const secret = process.env.LEAKWATCH_WEBHOOK_SECRET || '';
const tty = process.stdout.isTTY;
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);

function verify(header, body) {
  if (!secret) return 'unsigned (no secret configured)';
  if (!header) return 'MISSING signature';
  const parts = {};
  for (const p of header.split(',')) { const [k, v] = p.trim().split('=', 2); parts[k] = v; }
  const expected = crypto.createHmac('sha256', secret).update(parts.t + '.' + body).digest('hex');
  const a = Buffer.from(expected);
  const b = Buffer.from(parts.v1 || '');
  const ok = a.length === b.length && crypto.timingSafeEqual(a, b);
  const fresh = Math.abs(Date.now() / 1000 - Number(parts.t)) <= 300;
  return ok && fresh ? 'signature valid' : 'signature INVALID';
}

const mib = (b) => (b == null ? '?' : `${(b / 1048576).toFixed(1)} MiB`);
function duration(s) {
  if (s == null) return 'n/a';
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

function show(e, sig) {
  const lines = [];
  const when = (e.time || '').replace('T', ' ').replace('Z', ' UTC');
  lines.push(bold(`[receiver] ALERT ${e.type} (${e.severity}) — ${e.target && e.target.name}`) + `  ${when}  ${sig}`);
  lines.push(`           ${e.summary}`);
  if (e.memory) {
    const m = e.memory;
    lines.push(`           memory: working set ${mib(m.working_set_bytes)}, usage ${mib(m.usage_bytes)}, limit ${m.limit_bytes ? mib(m.limit_bytes) : 'none'}`);
  }
  if (e.leak) {
    const l = e.leak;
    lines.push(`           leak: floor +${mib(l.slope_bytes_per_hour)}/h over ${duration(l.window_seconds)}, OOM in ${duration(l.forecast_seconds)}, confidence ${Math.round((l.confidence || 0) * 100)}%`);
    if (l.explanation) lines.push(`           why: ${l.explanation}`);
  }
  if (e.capture) {
    const c = e.capture;
    lines.push(`           snapshots: ${(c.archive_ids || []).join(', ')}`);
    for (const g of c.top_growers || []) {
      lines.push(`           grows: ${g.name}  ${g.size_delta >= 0 ? '+' : ''}${mib(g.size_delta)}  (${g.count_delta >= 0 ? '+' : ''}${g.count_delta} objects)`);
      if (g.retainer_path && g.retainer_path.length) lines.push(`                  held by: ${g.retainer_path.join(' -> ')}`);
    }
    if (c.diff_command) lines.push(`           diff: ${c.diff_command}`);
  }
  if (e.reason) lines.push(`           reason: ${e.reason}`);
  if (e.next_step) lines.push(`           next: ${e.next_step}`);
  return lines.join('\n');
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > 1 << 20) { res.writeHead(413); res.end(); req.destroy(); return; }
    chunks.push(c);
  });
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let event;
    try { event = JSON.parse(body); } catch (e) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('not JSON');
      return;
    }
    const sig = verify(req.headers['x-leakwatch-signature'], body);
    if (record) fs.appendFileSync(record, JSON.stringify({ ...event, _signature: sig }) + '\n');
    if (!quiet) process.stdout.write(show(event, sig) + '\n');
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok');
  });
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));

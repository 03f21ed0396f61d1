// A scripted HTTP/HTTPS receiver for leakwatch's alert tests (Node 18+, no dependencies).
//
//   node receiver.js --record FILE [--script JSON] [--cert PEM --key PEM] [--secret-env NAME]
//
// Listens on 127.0.0.1:0 and prints {"port": N} on stdout. Each request is appended to FILE as one
// JSON line {method, url, headers, body, t_ms, signature_valid?} BEFORE the answer is written, so a
// client that got an answer always finds its request recorded. Answers follow the script, one entry
// per request (the last entry repeats): {"status": 200, "body": "ok", "headers": {...},
// "delay_ms": 0}. With --secret-env, the X-Leakwatch-Signature header is verified independently
// with Node's crypto (HMAC-SHA256 over "<t>.<body>", constant-time compare).
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const crypto = require('crypto');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const script = args.script ? JSON.parse(args.script) : [{ status: 200, body: 'ok' }];
const secret = args['secret-env'] ? process.env[args['secret-env']] : undefined;
let count = 0;

function verify(header, body) {
  if (!secret || !header) return undefined;
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2)));
  if (!parts.t || !parts.v1) return false;
  const expected = crypto.createHmac('sha256', secret).update(parts.t + '.' + body).digest('hex');
  const a = Buffer.from(expected), b = Buffer.from(parts.v1);
  const fresh = Math.abs(Date.now() / 1000 - Number(parts.t)) <= 300;
  return a.length === b.length && crypto.timingSafeEqual(a, b) && fresh;
}

function handler(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const step = script[Math.min(count, script.length - 1)];
    count++;
    const rec = { method: req.method, url: req.url, headers: req.headers, body, t_ms: Date.now() };
    const sig = verify(req.headers['x-leakwatch-signature'], body);
    if (sig !== undefined) rec.signature_valid = sig;
    fs.appendFileSync(args.record, JSON.stringify(rec) + '\n');
    const answer = () => {
      res.writeHead(step.status || 200, Object.assign({ 'content-type': 'text/html' }, step.headers || {}));
      res.end(step.body === undefined ? '' : step.body);
    };
    if (step.delay_ms) setTimeout(answer, step.delay_ms); else answer();
  });
}

const server = args.cert
  ? https.createServer({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) }, handler)
  : http.createServer(handler);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
// Exit when the test closes our stdin (or dies), never outliving it.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(0), 120000).unref();

// Test peer for the real-trace recordings: a Node.js service under a steady synthetic load.
// MODE=leak keeps every request's payload in a global list (the classic leak);
// MODE=healthy keeps only the last 500 in a bounded cache (same allocation rate, same load).
'use strict';
const mode = process.env.MODE || 'healthy';
const rate = Number(process.env.RATE || 40);          // requests per second
const payload = Number(process.env.PAYLOAD || 4096);   // bytes kept per request
const kept = [];
let n = 0;
function handle() {
  const req = { id: n++, at: Date.now(), body: Buffer.alloc(payload, n & 0xff).toString('latin1') };
  const scratch = new Array(200).fill(0).map((_, i) => ({ i, s: 'x'.repeat(64) }));  // garbage
  if (scratch.length !== 200) throw new Error('unreachable');
  kept.push(req);
  if (mode !== 'leak' && kept.length > 500) kept.shift();
}
setInterval(() => { for (let i = 0; i < rate / 10; i++) handle(); }, 100);
process.on('SIGTERM', () => process.exit(0));

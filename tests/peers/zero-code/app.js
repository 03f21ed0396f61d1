#!/usr/bin/env node
// A Node.js app with no heap-dump route, for the zero-code capture tests: it only grows instances
// of one class (LeakwatchZeroCodeLeak) so a snapshot's Summary can be checked for it. Start it with
// the Node flags under test (--inspect=127.0.0.1:0, --heapsnapshot-signal=SIGUSR2,
// --heapsnapshot-near-heap-limit=1 --max-old-space-size=N, or nothing for SIGUSR1 activation).
// No npm dependencies; Node >= 18.
//
//   --objects N     instances retained at start (default 2000)
//   --grow-mb R     then allocate about R MB per 100 ms, forever (to reach the heap limit)
//   --busy-ms N     make short-lived garbage every N ms, as a service handling requests does
//   --exit-after-ms N   exit on its own after N ms
//   --partial-on-usr2 keep-open|close   on SIGUSR2 write half a snapshot file (as a writer that
//                   got stuck or died would leave it), keeping it open or closing it
// Prints "READY <pid>" on stdout once the objects exist. The inspector prints its own
// "Debugger listening on ws://127.0.0.1:<port>/<id>" on stderr.
'use strict';

class LeakwatchZeroCodeLeak {
  constructor(i) {
    this.index = i;
    this.payload = 'leak-' + i + '-' + 'x'.repeat(64);
  }
}

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const retained = [];
const objects = Number(args.objects ?? 2000);
for (let i = 0; i < objects; i++) retained.push(new LeakwatchZeroCodeLeak(i));
globalThis.__leakwatchRetained = retained;

const growMb = Number(args['grow-mb'] ?? 0);
if (growMb > 0) {
  setInterval(() => {
    for (let j = 0; j < growMb * 100; j++) {
      const batch = [];
      for (let k = 0; k < 100; k++) batch.push(new LeakwatchZeroCodeLeak(retained.length + k));
      retained.push(batch);
    }
  }, 100);
}
if (args['partial-on-usr2']) {
  const fs = require('fs');
  process.on('SIGUSR2', () => {
    const fd = fs.openSync(`Heap.20260101.000000.${process.pid}.0.001.heapsnapshot`, 'w');
    fs.writeSync(fd, '{"snapshot":{"meta":{"node_fields":["type","name"');
    if (args['partial-on-usr2'] === 'close') fs.closeSync(fd);
    else globalThis.__leakwatchOpenFd = fd;
  });
}
// A busy service: short-lived garbage every few ms, as request handling makes.
const busyMs = Number(args['busy-ms'] ?? 0);
if (busyMs > 0) {
  setInterval(() => {
    const garbage = [];
    for (let k = 0; k < 2000; k++) garbage.push({ k, s: 'req-' + k + '-' + 'y'.repeat(32) });
    globalThis.__leakwatchLastGarbage = garbage.length;
  }, busyMs);
}
if (args['exit-after-ms']) setTimeout(() => process.exit(0), Number(args['exit-after-ms']));
// Keep the event loop alive (an idle service).
setInterval(() => {}, 1000);
process.stdout.write('READY ' + process.pid + '\n');

#!/usr/bin/env node
// leakwatch demo: the verdict, from what happened to each target. The leaking app must have been
// alerted (leak_suspected) and captured (at least two snapshots archived, so that they can be
// diffed, and a capture_completed alert); the healthy twin must have had no alert of any kind and no
// capture. Anything else is a failure, said plainly.
//
//   node verdict.js ALERTS_JSONL ARCHIVE_DIR LEAKY_TARGET HEALTHY_TARGET [--progress]
//     --progress   print one word instead: "done" (the leaking app's story is complete),
//                  "healthy-alerted" (the healthy twin was alerted or captured: no need to wait)
//                  or "waiting"; always exit 0
//
// Exit 0 when the verdict is a pass, 1 otherwise. Plain Node.js 18+, no dependencies.
'use strict';
const fs = require('fs');
const path = require('path');

const [alertsFile, archiveDir, leakyName, healthyName] = process.argv.slice(2, 6);
const progress = process.argv.includes('--progress');
if (!alertsFile || !archiveDir || !leakyName || !healthyName) {
  console.error('usage: node verdict.js ALERTS_JSONL ARCHIVE_DIR LEAKY_TARGET HEALTHY_TARGET [--progress]');
  process.exit(2);
}

function alertsOf(name) {
  let text = '';
  try { text = fs.readFileSync(alertsFile, 'utf8'); } catch (e) { /* no alert received yet */ }
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let e;
    try { e = JSON.parse(line); } catch (err) { continue; }  // a line cut by a concurrent write
    if (e && e.target && e.target.name === name) out.push(e);
  }
  return out;
}

// Archived snapshots of one target: the snapshot files (not their .json metadata, not temporary
// dot-files being written).
function snapshotsOf(name) {
  const dir = path.join(archiveDir, name);
  const found = [];
  const walk = (d, depth) => {
    let entries = [];
    try { entries = fs.readdirSync(d, {withFileTypes: true}); } catch (e) { return; }
    for (const ent of entries) {
      if (ent.name.startsWith('.')) continue;
      const p = path.join(d, ent.name);
      if (ent.isDirectory() && depth < 4) walk(p, depth + 1);
      else if (ent.isFile() && /\.heapsnapshot(\.zst)?$/.test(ent.name)) found.push(p);
    }
  };
  walk(dir, 0);
  return found.sort();
}

const count = (list, type) => list.filter((e) => e.type === type).length;
const leaky = alertsOf(leakyName);
const healthy = alertsOf(healthyName);
const leakySnaps = snapshotsOf(leakyName);
const healthySnaps = snapshotsOf(healthyName);
const leakAlerts = count(leaky, 'leak_suspected');
const captureAlerts = count(leaky, 'capture_completed');
const seriesSnaps = Math.max(0, ...leaky.filter((e) => e.type === 'capture_completed' && e.capture)
                                       .map((e) => (e.capture.archive_ids || []).length));

if (progress) {
  if (healthy.length > 0 || healthySnaps.length > 0) console.log('healthy-alerted');
  else if (leakAlerts > 0 && seriesSnaps >= 3) console.log('done');
  else if (leakAlerts > 0 && seriesSnaps >= 2) console.log('diffed');
  else console.log('waiting');
  process.exit(0);
}

const problems = [];
if (leakAlerts === 0) problems.push(`the leaking app (${leakyName}) was never alerted as leaking`);
if (leakySnaps.length < 2) {
  problems.push(`the leaking app has ${leakySnaps.length} snapshot(s) archived; a diff needs 2`);
}
if (captureAlerts === 0) problems.push('no capture_completed alert arrived for the leaking app');
if (healthy.length > 0) {
  const kinds = [...new Set(healthy.map((e) => e.type))].join(', ');
  const first = healthy[0].summary ? `: "${healthy[0].summary}"` : '';
  problems.push(`the healthy twin (${healthyName}) was alerted ${healthy.length} time(s) (${kinds})${first}`);
}
if (healthySnaps.length > 0) {
  problems.push(`the healthy twin had ${healthySnaps.length} snapshot(s) captured`);
}

console.log(`  leaking app:  leak alerts ${leakAlerts}, capture alerts ${captureAlerts}, ` +
            `snapshots archived ${leakySnaps.length}`);
console.log(`  healthy twin: alerts ${healthy.length}, snapshots archived ${healthySnaps.length}`);
if (problems.length === 0) {
  console.log('PASS: the leaking app was alerted and captured; the healthy twin had no alert and no capture.');
  process.exit(0);
}
console.log('FAIL:');
for (const p of problems) console.log(`  - ${p}`);
process.exit(1);

#!/usr/bin/env node
// leakwatch demo: the verdict, from what happened to each target. The leaking app must have been
// alerted (leak_suspected) and captured (at least two snapshots archived, so that they can be
// diffed, and a capture_completed alert); the healthy twin must have had no alert of any kind and no
// capture. Anything else is a failure, said plainly.
//
// With --zero-code, a third target, a leaking app with no heap-dump route that leakwatch captures
// through the Node inspector, must have been alerted and captured too: at least two snapshots in its
// archive, each taken over the inspector (metadata source ws://...), a capture_completed alert, and
// the Summary of its last snapshot (`leakwatch summary --json`, written by scripts/demo to
// SUMMARY_JSON) must parse and hold the class the app leaks (RequestStore).
//
//   node verdict.js ALERTS_JSONL ARCHIVE_DIR LEAKY_TARGET HEALTHY_TARGET
//                   [--zero-code TARGET ARCHIVE_DIR SUMMARY_JSON] [--progress]
//     --progress   print one word instead: "done" (the leaking apps' stories are complete),
//                  "healthy-alerted" (the healthy twin was alerted or captured: no need to wait)
//                  or "waiting"; always exit 0
//
// Exit 0 when the verdict is a pass, 1 otherwise. Plain Node.js 18+, no dependencies.
'use strict';
const fs = require('fs');
const path = require('path');

const [alertsFile, archiveDir, leakyName, healthyName] = process.argv.slice(2, 6);
const progress = process.argv.includes('--progress');
const zcAt = process.argv.indexOf('--zero-code');
const zeroCode = zcAt > 0 ? {name: process.argv[zcAt + 1], archive: process.argv[zcAt + 2],
                             summary: process.argv[zcAt + 3]} : null;
if (zeroCode && (!zeroCode.name || !zeroCode.archive || !zeroCode.summary)) {
  console.error('verdict.js: --zero-code needs TARGET ARCHIVE_DIR SUMMARY_JSON');
  process.exit(2);
}
const LEAK_CLASS = 'RequestStore';  // what tests/peers/demo-app/server.js leaks
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
function snapshotsOf(name, archive = archiveDir) {
  const dir = path.join(archive, name);
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
const seriesOf = (alerts) => Math.max(0, ...alerts.filter((e) => e.type === 'capture_completed' && e.capture)
                                               .map((e) => (e.capture.archive_ids || []).length));
const seriesSnaps = seriesOf(leaky);

// The zero-code target: its alerts, its snapshots and how each was taken.
let zc = null;
if (zeroCode) {
  const alerts = alertsOf(zeroCode.name);
  const snaps = snapshotsOf(zeroCode.name, zeroCode.archive);
  const sources = snaps.map((f) => {
    const meta = f.replace(/\.heapsnapshot(\.zst)?$/, '.json');
    try { return String(JSON.parse(fs.readFileSync(meta, 'utf8')).source || ''); } catch (e) { return ''; }
  });
  zc = {alerts, snaps, sources, leakAlerts: count(alerts, 'leak_suspected'),
        captureAlerts: count(alerts, 'capture_completed'), series: seriesOf(alerts)};
}

if (progress) {
  const zcDone = !zc || (zc.leakAlerts > 0 && zc.series >= 2);
  if (healthy.length > 0 || healthySnaps.length > 0) console.log('healthy-alerted');
  else if (leakAlerts > 0 && seriesSnaps >= 3 && zcDone) console.log('done');
  else if (leakAlerts > 0 && seriesSnaps >= 2 && zcDone) console.log('diffed');
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

let leakClassCount = null;
if (zc) {
  const n = zeroCode.name;
  if (zc.leakAlerts === 0) problems.push(`the zero-code app (${n}) was never alerted as leaking`);
  if (zc.snaps.length < 2) {
    problems.push(`the zero-code app has ${zc.snaps.length} snapshot(s) archived; a diff needs 2`);
  }
  const notInspector = zc.sources.filter((s) => !s.startsWith('ws://')).length;
  if (notInspector > 0) {
    problems.push(`${notInspector} of the zero-code app's snapshots were not taken through the inspector`);
  }
  if (zc.captureAlerts === 0) problems.push('no capture_completed alert arrived for the zero-code app');
  let summary = null;
  try { summary = JSON.parse(fs.readFileSync(zeroCode.summary, 'utf8')); } catch (e) { /* below */ }
  if (!summary || !Array.isArray(summary.classes)) {
    problems.push("the zero-code app's last snapshot did not parse (no Summary)");
  } else {
    const row = summary.classes.find((c) => c && c.name === LEAK_CLASS);
    leakClassCount = row ? Number(row.count) || 0 : 0;
    if (leakClassCount === 0) {
      problems.push(`the Summary of the zero-code app's last snapshot holds no ${LEAK_CLASS}`);
    }
  }
}

console.log(`  leaking app:  leak alerts ${leakAlerts}, capture alerts ${captureAlerts}, ` +
            `snapshots archived ${leakySnaps.length}`);
if (zc) {
  console.log(`  zero-code app (no heap-dump route, inspector): leak alerts ${zc.leakAlerts}, ` +
              `capture alerts ${zc.captureAlerts}, snapshots archived ${zc.snaps.length}` +
              (leakClassCount === null ? '' : `, ${LEAK_CLASS} in the last one: ${leakClassCount}`));
}
console.log(`  healthy twin: alerts ${healthy.length}, snapshots archived ${healthySnaps.length}`);
if (problems.length === 0) {
  console.log('PASS: the leaking app was alerted and captured' +
              (zc ? ', so was the zero-code app, through its inspector' : '') +
              '; the healthy twin had no alert and no capture.');
  process.exit(0);
}
console.log('FAIL:');
for (const p of problems) console.log(`  - ${p}`);
process.exit(1);

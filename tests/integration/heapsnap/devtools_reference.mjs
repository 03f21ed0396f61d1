// Independent reference: Chrome DevTools' own heap snapshot worker code (npm chrome-devtools-frontend),
// bundled with esbuild and run under Node. Prints DevTools' Summary or Comparison as JSON.
//   node devtools_reference.mjs summary FILE
//   node devtools_reference.mjs diff BASE TARGET
// The bundle is built once into $HEAPSNAP_REF_CACHE (default: node_modules/.cache/leakwatch-ref).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import {MessageChannel} from 'node:worker_threads';
import {fileURLToPath, pathToFileURL} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const workerDir = path.join(here, 'node_modules/chrome-devtools-frontend/front_end/entrypoints/heap_snapshot_worker');
const cacheDir = process.env.HEAPSNAP_REF_CACHE || path.join(here, 'node_modules/.cache/leakwatch-ref');

// DevTools targets the newest Chrome; Debian 12 ships Node 18. esbuild lowers the syntax (target
// below); the few newer library functions the worker calls are supplied here.
if (!Array.prototype.toSorted) {  // Node < 20
  Object.defineProperty(Array.prototype, 'toSorted', {
    value: function(compare) { return Array.prototype.slice.call(this).sort(compare); },
    writable: true, configurable: true,
  });
}
if (!Promise.withResolvers) {  // Node < 22
  Promise.withResolvers = function() {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return {promise, resolve, reject};
  };
}

async function bundle() {
  const out = path.join(cacheDir, 'devtools-heap-snapshot-node18.mjs');
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(cacheDir, {recursive: true});
  // Tests run in parallel: each process builds in its own directory and renames the result into
  // place (atomic; the same bundle whoever wins).
  const work = fs.mkdtempSync(path.join(cacheDir, 'build-'));
  const entry = path.join(work, 'entry.ts');
  const stub = path.join(work, 'i18n-stub.js');
  fs.writeFileSync(entry,
      `import * as HeapSnapshotLoader from ${JSON.stringify(path.join(workerDir, 'HeapSnapshotLoader.js'))};\n` +
      `import * as HeapSnapshot from ${JSON.stringify(path.join(workerDir, 'HeapSnapshot.js'))};\n` +
      `export {HeapSnapshotLoader, HeapSnapshot};\n`);
  // Only progress messages use i18n; the real module needs generated locale files.
  const fns = `
const any = () => new Proxy(function() {}, {get: (t, k) => k === Symbol.toPrimitive ? () => '' : any(), apply: () => any()});
export const registerUIStrings = () => 'ui';
export const getLocalizedString = (_, s) => s;
export const getLazilyComputedLocalizedString = (_, s) => () => s;
export const lockedString = s => s;
export const lockedLazyString = s => () => s;
export const serializeUIString = (s, v) => JSON.stringify({string: s, values: v || {}});
export const i18n = {registerUIStrings, getLocalizedString, getLazilyComputedLocalizedString, lockedString,
  lockedLazyString, serializeUIString};
export const DevToolsLocale = any();
export const ByteUtilities = any();
export const time = any();
export const NumberFormatter = any();
export const TimeUtilities = any();
export const localizedStringSet = any();
`;
  fs.writeFileSync(stub, fns);
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [entry], bundle: true, platform: 'node', target: 'node18', format: 'esm', outfile: path.join(work, 'out.mjs'), logLevel: 'warning',
    plugins: [{name: 'stub-i18n', setup(b) {
      b.onResolve({filter: /(^|\/)i18n(Impl)?\.js$/}, () => ({path: stub}));
    }}],
  });
  fs.renameSync(path.join(work, 'out.mjs'), out);
  fs.rmSync(work, {recursive: true, force: true});
  return out;
}

const {HeapSnapshotLoader, HeapSnapshot} = await import(pathToFileURL(await bundle()).href);

async function load(file) {
  const loader = new HeapSnapshotLoader.HeapSnapshotLoader({sendEvent() {}});
  let stream = fs.createReadStream(file);
  const fd = fs.openSync(file, 'r');
  const magic = Buffer.alloc(4);
  fs.readSync(fd, magic, 0, 4, 0);
  fs.closeSync(fd);
  if (magic.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) {
    if (!zlib.createZstdDecompress) throw new Error('this Node has no zstd support');
    stream = stream.pipe(zlib.createZstdDecompress());
  }
  stream.setEncoding('utf8');
  for await (const chunk of stream) loader.write(chunk);
  loader.close();
  const {port1, port2} = new MessageChannel();
  new HeapSnapshot.SecondaryInitManager(port2);
  const snapshot = await loader.buildSnapshot(port1);
  port1.close();
  port2.close();
  return snapshot;
}

const [cmd, a, b] = process.argv.slice(2);
if (cmd === 'summary') {
  const snap = await load(a);
  const aggs = snap.aggregatesWithFilter({});
  const classes = Object.entries(aggs).map(([key, g]) => ({
    key, name: g.name, count: g.count, self_size: g.self, retained_size: g.maxRet}));
  process.stdout.write(JSON.stringify({classes, total_size: snap.totalSize, node_count: snap.nodeCount}) + '\n');
} else if (cmd === 'diff') {
  const target = await load(b);
  const base = await load(a);
  const baseAggs = base.aggregatesForDiff(target.interfaceDefinitions());
  const diff = target.calculateSnapshotDiff(1, baseAggs);
  const classes = Object.entries(diff).map(([key, d]) => ({
    key, name: d.name, new_count: d.addedCount, deleted_count: d.removedCount, delta_count: d.countDelta,
    alloc_size: d.addedSize, freed_size: d.removedSize, size_delta: d.sizeDelta}));
  process.stdout.write(JSON.stringify({classes}) + '\n');
} else if (cmd === 'dominators') {
  // Debugging aid: one line per node, in node order: id, immediate dominator's id, shallow size,
  // retained size.
  const snap = await load(a);
  const {nodes, nodeFieldCount, nodeIdOffset, nodeSelfSizeOffset} = snap;
  const id = ordinal => nodes.getValue(ordinal * nodeFieldCount + nodeIdOffset);
  const lines = [];
  for (let v = 0; v < snap.nodeCount; ++v) {
    lines.push(`${id(v)} ${id(snap.dominatorsTree[v])} ${nodes.getValue(v * nodeFieldCount + nodeSelfSizeOffset)} ` +
        `${snap.retainedSizes[v]}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
} else {
  process.stderr.write('usage: devtools_reference.mjs summary FILE | diff BASE TARGET | dominators FILE\n');
  process.exit(2);
}

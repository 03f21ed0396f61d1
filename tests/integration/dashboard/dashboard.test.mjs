// Browser test of the dashboard: the real API server (api_demo_server, recorded data and a real
// archive holding two heap snapshots of a real Node.js process) and headless Debian chromium
// driven by playwright-core.
//
//   node dashboard.test.mjs /path/to/api_demo_server
//
// Exit 0 = pass, 1 = fail. A missing browser or driver is a failure, not a skip: scripts/setup
// installs both (chromium, playwright-core 1.61, which runs on Debian 12's Node 18). Screenshots
// are kept in tests/artifacts/.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, '..', '..', 'artifacts');
const serverBin = process.argv[2];
const CHROMIUM = process.env.LEAKWATCH_CHROMIUM || '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token';
const DEADLINE_MS = 150_000;
const HOSTILE = '<img src=x onerror="window.__pwned=1">';
const IDENTITY = {
  platform: 'ecs',
  cluster: 'prod',
  service: HOSTILE,
  task_family: 'web-api',
  task_revision: '42',
  task_arn: 'arn:aws:ecs:eu-west-1:111122223333:task/prod/5f2c9d0e8b1a4c6e',
  task_id: '5f2c9d0e8b1a4c6e',
  container: 'app',
  container_id: '5f2c9d0e8b1a4c6e-3935363592',
  availability_zone: 'eu-west-1b',
  image_digest: 'sha256:e68d4993ccda3a65a72cf4213e8edf9ce1b36ca0fbfdd9029e504715354cb4fe',
  host: 'ip-10-0-1-23',
};

function fail(why) {
  console.error(`FAIL: ${why}`);
  process.exit(1);
}

if (!serverBin || !existsSync(serverBin)) {
  console.error('usage: node dashboard.test.mjs /path/to/api_demo_server');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} not found (apt-get install chromium)`);
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  fail(`playwright-core is not installed (run npm install in ${here}): ${e.message}`);
}

const deadline = setTimeout(() => {
  console.error('FAIL: the test took longer than ' + DEADLINE_MS / 1000 + ' s');
  process.exit(1);
}, DEADLINE_MS);

const work = mkdtempSync(join(tmpdir(), 'leakwatch-dashboard-'));
let server;
let browser;

async function main() {
  // Two snapshots of a real Node.js process, with LeakyThing instances growing in between.
  const snapA = join(work, 'a.heapsnapshot');
  const snapB = join(work, 'b.heapsnapshot');
  const gen = `
    const v8 = require('v8');
    class LeakyThing { constructor(i) { this.payload = 'x'.repeat(200) + i; this.at = Date.now(); } }
    globalThis.cache = { items: [] };
    for (let i = 0; i < 200; i++) globalThis.cache.items.push(new LeakyThing(i));
    v8.writeHeapSnapshot(process.argv[1]);
    for (let i = 0; i < 3000; i++) globalThis.cache.items.push(new LeakyThing(i));
    v8.writeHeapSnapshot(process.argv[2]);`;
  execFileSync(process.execPath, ['-e', gen, snapA, snapB], { stdio: 'inherit', timeout: 60_000 });

  // An ECS identity whose service name is hostile markup: the dashboard must show it as text.
  server = spawn(serverBin, ['--archive', join(work, 'archive'), '--token', TOKEN,
    '--snapshot', snapA, '--snapshot', snapB, ...Object.entries(IDENTITY).flatMap(([k, v]) => ['--identity', `${k}=${v}`])],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: server.stdout });
    rl.on('line', (line) => {
      const m = /^port=(\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', (code) => reject(new Error(`api_demo_server exited with ${code}`)));
    setTimeout(() => reject(new Error('api_demo_server did not report its port')), 20_000);
  });
  const base = `http://127.0.0.1:${port}`;
  const status = await (await fetch(`${base}/api/v1/status`)).json();
  const expectedPoints = status.samples.length;
  const expectedMarkers = status.markers.length;
  assert.equal(expectedPoints, 121);
  assert.equal(expectedMarkers, 5);

  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
  } catch (e) {
    throw new Error(`chromium cannot start here: ${e.message.split('\n')[0]}`);
  }
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => { if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on('response', (res) => { if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`); });
  const external = [];
  page.on('request', (req) => { if (!req.url().startsWith(base) && !req.url().startsWith('data:') && !req.url().startsWith('blob:')) external.push(req.url()); });

  await page.goto(base + '/', { waitUntil: 'load' });
  await page.waitForSelector('#chart svg');
  await page.click('button[data-range="0"]');
  await page.waitForFunction((n) => document.querySelector('#chart svg')?.getAttribute('data-points') === String(n), expectedPoints);

  // Chart: every sample is a point of the usage and working-set lines; every marker is drawn.
  const chart = await page.evaluate(() => {
    const count = (sel) => { const el = document.querySelector(sel); return el ? el.getAttribute('points').trim().split(/\s+/).length : 0; };
    return {
      usage: count('#chart polyline.s-usage'),
      ws: count('#chart polyline.s-ws'),
      floor: count('#chart polyline.s-floor'),
      trend: count('#chart polyline.s-trend'),
      forecast: count('#chart polyline.s-forecast'),
      limit: document.querySelectorAll('#chart line.s-limit').length,
      markers: [...document.querySelectorAll('#chart g.marker')].map((g) => g.dataset.kind),
      label: document.querySelector('#chart svg').getAttribute('aria-labelledby'),
      events: document.querySelectorAll('#events li').length,
    };
  });
  assert.equal(chart.usage, expectedPoints, 'usage line has one point per sample');
  assert.equal(chart.ws, expectedPoints, 'working-set line has one point per sample');
  assert.equal(chart.floor, status.floor.length);
  assert.equal(chart.trend, 2);
  assert.equal(chart.forecast, 2);
  assert.equal(chart.limit, 1);
  assert.equal(chart.markers.length, expectedMarkers);
  assert.deepEqual([...chart.markers].sort(), ['alert', 'capture', 'capture', 'oom_kill', 'restart']);
  assert.equal(chart.events, expectedMarkers);

  // The header names the task, each value as text: the hostile service name is shown, not run.
  assert.deepEqual(status.identity.service, HOSTILE, 'the API returns the identity as given');
  const identity = await page.$$eval('#identity .identity-item', (items) => items.map((i) => [i.querySelector('dt').textContent, i.querySelector('dd').textContent]));
  assert.deepEqual(identity, [
    ['Cluster', 'prod'],
    ['Service', HOSTILE],
    ['Task definition', 'web-api:42'],
    ['Task', '5f2c9d0e8b1a4c6e'],
    ['Container', 'app'],
    ['AZ', 'eu-west-1b'],
    ['Image', 'sha256:e68d4993ccda'],
  ]);
  assert.equal(await page.getAttribute('#identity dd:text("sha256:e68d4993ccda")', 'title'), IDENTITY.image_digest);
  assert.equal(await page.$$eval('header img, header script', (els) => els.length), 0, 'no element made from the identity');
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'the hostile markup did not run');

  // Outside ECS the host name stands alone.
  await page.route('**/api/v1/status*', async (route) => {
    const res = await route.fetch();
    const j = await res.json();
    j.identity = { platform: 'host', host: 'build-7' };
    await route.fulfill({ response: res, json: j });
  });
  await page.reload({ waitUntil: 'load' });
  await page.waitForFunction(() => document.querySelector('#identity dd')?.textContent === 'build-7');
  assert.deepEqual(await page.$$eval('#identity dt', (d) => d.map((x) => x.textContent)), ['Host']);
  await page.unroute('**/api/v1/status*');
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('#chart svg');
  await page.click('button[data-range="0"]');
  await page.waitForFunction((n) => document.querySelector('#chart svg')?.getAttribute('data-points') === String(n), expectedPoints);
  await page.waitForFunction(() => document.querySelectorAll('#identity .identity-item').length === 7);

  // Detector state in words, not only colour.
  const badge = await page.textContent('#state-badge');
  assert.match(badge, /Leak suspected/);
  assert.match(await page.textContent('#explanation'), /floor rising 60 MiB\/h/);
  assert.match(await page.textContent('#figures'), /Limit reached in/);

  // Zoom: 1 h shows about half of the two hours of samples.
  await page.click('button[data-range="3600"]');
  await page.waitForFunction(() => Number(document.querySelector('#chart svg')?.getAttribute('data-points')) <= 61);
  assert.equal(await page.getAttribute('button[data-range="3600"]', 'aria-pressed'), 'true');
  await page.click('button[data-range="0"]');
  await page.waitForFunction((n) => document.querySelector('#chart svg')?.getAttribute('data-points') === String(n), expectedPoints);

  // Archive table.
  await page.waitForFunction(() => document.querySelectorAll('#snapshots tbody tr').length === 2);
  const rows = await page.$$eval('#snapshots tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert.match(rows[0], /leak_series 2 of 2/);
  assert.match(rows[1], /leak_series 1 of 2/);

  // Without a token, comparing asks for one.
  const boxes = await page.$$('#snapshots tbody input[type=checkbox]');
  await boxes[0].check();
  await (await page.$$('#snapshots tbody input[type=checkbox]'))[1].check();
  await page.click('#compare');
  assert.match(await page.textContent('#compare-state'), /token/);

  await page.fill('#token', TOKEN);
  await page.click('#token-form button[type=submit]');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('leakwatch.token')), TOKEN);
  await page.click('#compare');
  await page.waitForSelector('#diff tbody tr', { timeout: 60_000 });
  const diffRows = await page.$$eval('#diff tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.ok(diffRows.length >= 1);
  const leaky = diffRows.find((r) => r[0] === 'LeakyThing');
  assert.ok(leaky, 'LeakyThing is in the comparison: ' + JSON.stringify(diffRows.slice(0, 5)));
  assert.equal(leaky[1], '3,000', '#New of LeakyThing');
  assert.equal(leaky[3], '+3,000', '#Delta of LeakyThing');
  const pathText = await page.textContent('#retainers');
  assert.match(pathText, /←/, 'a retainer path is shown: ' + pathText);

  // Download through the token.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#snapshots tbody tr:first-child button'),
  ]);
  assert.match(download.suggestedFilename(), /\.heapsnapshot$/);

  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, 'dashboard-desktop.png'), fullPage: true });

  // Phone width: nothing wider than the screen except the scrollable tables.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(400);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than a phone screen`);
  await page.screenshot({ path: join(artifacts, 'dashboard-phone.png'), fullPage: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(artifacts, 'dashboard-phone-top.png') });

  // Headings in order.
  const headings = await page.$$eval('h1, h2, h3', (hs) => hs.map((h) => h.tagName + ' ' + h.textContent.trim()));
  assert.ok(headings[0].startsWith('H1 leakwatch'));

  assert.deepEqual(external, [], 'no request leaves the daemon (works offline)');
  assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
  writeFileSync(join(artifacts, 'dashboard-headings.txt'), headings.join('\n') + '\n');
  console.log(`PASS: ${expectedPoints} points, ${expectedMarkers} markers, ${rows.length} snapshots, ${diffRows.length} comparison rows`);
}

let code = 0;
try {
  await main();
} catch (e) {
  console.error('FAIL:', e.stack || e.message);
  code = 1;
} finally {
  clearTimeout(deadline);
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null) server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
process.exit(code);

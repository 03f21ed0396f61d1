// An ECS task metadata endpoint v4 stand-in that reports a LIVE memory cgroup, for leakwatch's
// end-to-end ECS test. Node 18+, no dependencies.
//
//   node ecs_live_server.js FIXTURES_DIR CGROUP_DIR CONTAINER_NAME
//
// GET /task        the real task metadata document of FIXTURES_DIR/ecs/<template>/task-metadata.json
//                  with its application container renamed CONTAINER_NAME and Limits.Memory set from
//                  the cgroup's limit (MiB)
// GET /task/stats  the real Docker stats document of the same fixture, the application container's
//                  memory_stats replaced by the cgroup's live figures, in the format Docker uses for
//                  that cgroup version (v1: usage/max_usage/limit + memory.stat verbatim with the
//                  total_* keys; v2: usage/limit + memory.stat)
// Template: aws-docs-ec2 (an EC2 task, cgroup v1 stats) for a v1 cgroup, ecs-exporter-2025-04-fargate
// (cgroup v2 stats) for a v2 cgroup. Listens on 127.0.0.1:0, prints "LISTENING <port>", counts
// requests (GET /_count), exits on SIGTERM.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const [fixtures, cgroup, name] = process.argv.slice(2);
if (!fixtures || !cgroup || !name) {
  console.error('usage: node ecs_live_server.js FIXTURES_DIR CGROUP_DIR CONTAINER_NAME');
  process.exit(2);
}
const v2 = fs.existsSync(path.join(cgroup, 'memory.current'));
const template = v2 ? 'ecs-exporter-2025-04-fargate' : 'aws-docs-ec2';
const task = JSON.parse(fs.readFileSync(path.join(fixtures, 'ecs', template, 'task-metadata.json'), 'utf8'));
const statsTemplate = JSON.parse(fs.readFileSync(path.join(fixtures, 'ecs', template, 'task-stats.json'), 'utf8'));
// The application container: the first NORMAL one (preferably one the stats document has).
const normal = task.Containers.filter((c) => (c.Type || 'NORMAL') === 'NORMAL');
const app = normal.find((c) => statsTemplate[c.DockerId]) || normal[0];
if (!app) {
  console.error(`no application container in fixture ${template}`);
  process.exit(2);
}
// Its stats entry (the AWS documentation's example pairs documents of different tasks: then the
// first entry of the stats document serves as the template).
const entryTemplate = statsTemplate[app.DockerId] || Object.values(statsTemplate)[0];
app.Name = name;
const id = app.DockerId;
let requests = 0;

const read = (f) => fs.readFileSync(path.join(cgroup, f), 'utf8').trim();
const num = (f) => { const s = read(f); return s === 'max' ? null : Number(s); };
function memoryStat() {
  const out = {};
  for (const line of read('memory.stat').split('\n')) {
    const [k, v] = line.split(' ');
    if (k) out[k] = Number(v);
  }
  return out;
}

function liveMemoryStats() {
  if (v2) {
    const limit = num('memory.max');
    return { usage: num('memory.current'), stats: memoryStat(), limit: limit ?? 9223372036854771712 };
  }
  return { usage: num('memory.usage_in_bytes'), max_usage: num('memory.max_usage_in_bytes'),
           stats: memoryStat(), limit: num('memory.limit_in_bytes') };
}

function limitMiB() {
  const lim = v2 ? num('memory.max') : num('memory.limit_in_bytes');
  return lim && lim < 2 ** 60 ? Math.round(lim / 1048576) : 0;
}

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  requests++;
  try {
    if (req.url === '/task') {
      app.Limits = { ...(app.Limits || {}), Memory: limitMiB() };
      return send(res, 200, task);
    }
    if (req.url === '/task/stats') {
      const stats = JSON.parse(JSON.stringify(statsTemplate));
      stats[id] = JSON.parse(JSON.stringify(entryTemplate));
      stats[id].id = id;
      stats[id].memory_stats = liveMemoryStats();
      stats[id].name = name;
      stats[id].read = new Date().toISOString();
      return send(res, 200, stats);
    }
    if (req.url === '/_count') return send(res, 200, { requests });
    return send(res, 404, { error: 'no route' });
  } catch (e) {
    return send(res, 500, { error: String(e.message) });
  }
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`LISTENING ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));

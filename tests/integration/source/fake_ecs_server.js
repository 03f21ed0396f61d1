// A stand-in for the ECS task metadata endpoint v4, serving the real captures in the shared
// fixtures plus the failure modes leakwatch must survive. Node 18+, no dependencies.
//
//   node fake_ecs_server.js FIXTURES_DIR
// prints the port it listens on (127.0.0.1, port 0) as the first stdout line, and exits when its
// stdin closes (so a crashed test never leaves it behind).
//
// The first path segment selects the scenario; the endpoint base URL is http://127.0.0.1:PORT/<s>:
//   fx-<dir>      /task, /task/stats from FIXTURES_DIR/ecs/<dir>/{task-metadata,task-stats}.json
//   status-<n>    every request answers HTTP <n> with a short text body
//   stats-500     /task from fx-ecs-exporter-2026-09-managed-instances, /task/stats HTTP 500
//   slow          waits 3 s before answering (client timeouts)
//   stall-body    sends the headers and half a body, then nothing
//   malformed     /task is truncated JSON
//   restart       a one-container task whose DockerId changes after GET /restart/_bump
//   restart-count same, but RestartCount increments on _bump and the DockerId stays
//   oom-restart   the derived restart-policy captures (ecs/restart-policy-derived): container
//                 "main" at its limit with RestartCount 0, then, after GET /oom-restart/_bump,
//                 restarted in place (RestartCount 1, no ExitCode) with a small working set
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const fixtures = process.argv[2];
if (!fixtures) {
  console.error('usage: node fake_ecs_server.js FIXTURES_DIR');
  process.exit(2);
}

let generation = 1;
let oomRestarted = false;

function send(res, status, body, type) {
  res.writeHead(status, {'Content-Type': type || 'application/json', 'Content-Length': Buffer.byteLength(body)});
  res.end(body);
}

function fixture(dir, which) {
  const file = which === 'stats' ? 'task-stats.json' : 'task-metadata.json';
  return fs.readFileSync(path.join(fixtures, 'ecs', dir, file), 'utf8');
}

function syntheticTask(withRestartCount) {
  const id = withRestartCount ? 'abcd1234-1' : `abcd1234-${generation}`;
  const container = {Name: 'web', DockerId: id, DockerName: 'web', KnownStatus: 'RUNNING',
                     Limits: {CPU: 2, Memory: 256}};
  if (withRestartCount) container.RestartCount = generation - 1;
  const task = {TaskARN: 'arn:aws:ecs:us-east-1:1:task/c/abcd1234', LaunchType: 'FARGATE',
                Limits: {CPU: 0.25, Memory: 512}, Containers: [container]};
  const stats = {};
  stats[id] = {name: 'web', memory_stats: {usage: 1000000 * generation, limit: 9223372036854771712,
               stats: {anon: 600000, file: 400000, inactive_file: 300000}}};
  return {task: JSON.stringify(task), stats: JSON.stringify(stats)};
}

const server = http.createServer((req, res) => {
  const parts = req.url.split('/').filter(Boolean);
  const scenario = parts[0] || '';
  const rest = parts.slice(1).join('/');
  const which = rest === 'task/stats' ? 'stats' : rest === 'task' ? 'task' : rest;
  try {
    if (scenario.startsWith('fx-')) {
      if (which !== 'task' && which !== 'stats') return send(res, 404, '{"error":"no route"}');
      return send(res, 200, fixture(scenario.slice(3), which));
    }
    if (scenario.startsWith('status-')) {
      const code = parseInt(scenario.slice(7), 10);
      return send(res, code, `status ${code} from the fake endpoint`, 'text/plain');
    }
    switch (scenario) {
      case 'stats-500':
        if (which === 'stats') return send(res, 500, 'internal error', 'text/plain');
        return send(res, 200, fixture('ecs-exporter-2026-09-managed-instances', 'task'));
      case 'slow':
        return setTimeout(() => send(res, 200, fixture('ecs-exporter-2025-02-ec2', which)), 3000);
      case 'stall-body':
        res.writeHead(200, {'Content-Type': 'application/json', 'Content-Length': 1000});
        res.write('{"Containers": [');
        return;  // never finishes
      case 'malformed':
        if (which === 'task') return send(res, 200, '{"Containers": [{"Name": "web", "Dock');
        return send(res, 200, '{}');
      case 'oom-restart': {
        if (rest === '_bump') {
          oomRestarted = true;
          return send(res, 200, '{}');
        }
        const dir = path.join(fixtures, 'ecs', 'restart-policy-derived');
        const file = which === 'stats'
          ? (oomRestarted ? 'task-stats-after-restart.json' : 'task-stats-anon-at-limit.json')
          : (oomRestarted ? 'task-metadata-restart1.json' : 'task-metadata-restart0.json');
        return send(res, 200, fs.readFileSync(path.join(dir, file), 'utf8'));
      }
      case 'restart':
      case 'restart-count': {
        if (rest === '_bump') {
          generation += 1;
          return send(res, 200, '{}');
        }
        const t = syntheticTask(scenario === 'restart-count');
        return send(res, 200, which === 'stats' ? t.stats : t.task);
      }
      default:
        return send(res, 404, '{"error":"unknown scenario"}');
    }
  } catch (e) {
    return send(res, 500, String(e.message), 'text/plain');
  }
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

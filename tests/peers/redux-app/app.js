#!/usr/bin/env node
// A test peer that leaks as the incident behind leakwatch did: a server-side-rendering app creates
// a Redux store per request with redux-state-sync, whose middleware opens a broadcast-channel
// BroadcastChannel. On Node that channel listens on a unix socket and connects to every other
// reader, and nothing closes it: each request leaves sockets (Socket, Pipe, Node / PipeWrap)
// retained by the library's own objects. Node >= 18, no Node-20-only API.
//
//   node app.js --out DIR [--requests N] [--phases 2]
//     Serves N requests per phase over loopback HTTP (each creating a store), then writes
//     DIR/phase<k>.heapsnapshot after each phase and prints "SNAPSHOT <path>".
'use strict';
const http = require('http');
const path = require('path');
const v8 = require('v8');
const { createStore, applyMiddleware } = require('redux');
const { createStateSyncMiddleware, initMessageListener } = require('redux-state-sync');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const out = arg('out', '.');
const perPhase = Number(arg('requests', 40));
const phases = Number(arg('phases', 2));

function reducer(state = { user: null, cart: [] }, action) {
  if (action.type === 'login') return { ...state, user: action.user };
  return state;
}

// A store per request, as the app did in getServerSideProps.
function renderPage(req) {
  const store = createStore(
    reducer,
    applyMiddleware(createStateSyncMiddleware({ channel: 'app-state' })),
  );
  initMessageListener(store);
  store.dispatch({ type: 'login', user: req.url });
  return '<html>' + JSON.stringify(store.getState()) + '</html>';
}

const server = http.createServer((req, res) => {
  res.end(renderPage(req));
});

function get(port, i) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/page/' + i, agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  let n = 0;
  for (let p = 1; p <= phases; p++) {
    for (let i = 0; i < perPhase; i++) await get(port, n++);
    await delay(1500);  // let the channels connect to each other
    if (global.gc) global.gc();
    const file = path.join(out, 'phase' + p + '.heapsnapshot');
    v8.writeHeapSnapshot(file);
    console.log('SNAPSHOT ' + file);
  }
  // The channels keep the event loop alive (that is the leak): leave explicitly.
  process.exit(0);
});

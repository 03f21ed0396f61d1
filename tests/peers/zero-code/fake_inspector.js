#!/usr/bin/env node
// A hostile or broken "inspector" on loopback for the fault tests of the inspector method: it
// answers /json/list like Node, accepts the WebSocket upgrade (hand-written frames, no npm
// dependencies) and then misbehaves as told. Node >= 18.
//
//   node fake_inspector.js MODE      prints "LISTENING <port>" on stdout
//
// Modes, after HeapProfiler.takeHeapSnapshot arrives:
//   endless      a valid snapshot start, then filler chunks forever, never a reply
//   garbage      chunks of an HTML page, then the reply
//   close_early  a valid snapshot start, then the TCP connection is destroyed
//   stall        a valid snapshot start, then silence
//   not_json     a text message that is not JSON
//   bad_utf8     a text frame holding invalid UTF-8
//   huge_frame   one frame announcing 64 MiB (and sending some of it)
//   ok           a complete small snapshot in chunks, then the reply (webSocketDebuggerUrl names a
//                foreign host, which leakwatch must ignore)
// Other modes without a WebSocket:
//   http404      an ordinary web server: 404 for everything (a non-Node listener)
//   raw          a TCP service that greets with a banner and ignores HTTP
'use strict';
const http = require('http');
const net = require('net');
const crypto = require('crypto');

const mode = process.argv[2] || 'ok';

function frame(payload, opcode = 1, announce) {
  const len = announce ?? payload.length;
  let head;
  if (len < 126) head = Buffer.from([0x80 | opcode, len]);
  else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode; head[1] = 126; head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode; head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}
const text = (obj) => frame(Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj)));
const chunk = (s) => text({ method: 'HeapProfiler.addHeapSnapshotChunk', params: { chunk: s } });

// Reads masked client frames; calls onMessage(text) for each complete text frame.
function reader(onMessage) {
  let buf = Buffer.alloc(0);
  return (data) => {
    buf = Buffer.concat([buf, data]);
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      const masked = buf[1] & 0x80;
      const need = off + (masked ? 4 : 0) + len;
      if (buf.length < need) return;
      const mask = masked ? buf.subarray(off, off + 4) : null;
      const body = Buffer.from(buf.subarray(off + (masked ? 4 : 0), need));
      if (mask) for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
      const opcode = buf[0] & 0x0f;
      buf = buf.subarray(need);
      if (opcode === 1) onMessage(body.toString());
      if (opcode === 8) onMessage(null);  // a close frame
    }
  };
}

const SNAPSHOT_START = '{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[["hidden"],"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context"],"string_or_number","node"],"trace_function_info_fields":[],"trace_node_fields":[],"sample_fields":[],"location_fields":[]},"node_count":1,"edge_count":0,"trace_function_count":0},"nodes":[';
const SNAPSHOT_END = '0,0,1,0,0,0,0],"edges":[],"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[],"strings":["(root)"]}';

function onSession(socket, id) {
  const send = (b) => { if (!socket.destroyed) socket.write(b); };
  switch (mode) {
    case 'endless': {
      send(chunk(SNAPSHOT_START));
      const filler = '0,0,1,0,0,0,0,'.repeat(8000);
      const pump = () => {
        if (socket.destroyed) return;
        if (socket.write(chunk(filler))) setImmediate(pump);
        else socket.once('drain', pump);
      };
      pump();
      break;
    }
    case 'garbage':
      for (let i = 0; i < 5; i++) send(chunk('<html><body>not a snapshot ' + i + '</body></html>'));
      send(text({ id, result: {} }));
      break;
    case 'close_early':
      send(chunk(SNAPSHOT_START));
      setTimeout(() => socket.destroy(), 50);
      break;
    case 'stall':
      send(chunk(SNAPSHOT_START));
      break;
    case 'not_json':
      send(text('this is not json {'));
      break;
    case 'bad_utf8':
      send(frame(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d])));
      break;
    case 'huge_frame':
      send(frame(Buffer.alloc(1 << 20, 0x20), 1, 64 << 20));
      break;
    default:
      send(text({ method: 'HeapProfiler.reportHeapSnapshotProgress', params: { done: 1, total: 2 } }));
      send(chunk(SNAPSHOT_START));
      send(chunk(SNAPSHOT_END));
      send(text({ method: 'HeapProfiler.reportHeapSnapshotProgress', params: { done: 2, total: 2, finished: true } }));
      send(text({ id, result: {} }));
  }
}

let server;
if (mode === 'raw') {
  server = net.createServer((s) => { s.on('error', () => {}); s.write('SSH-2.0-OpenSSH_9.2\r\n'); });
} else {
  server = http.createServer((req, res) => {
    if (mode !== 'http404' && req.url === '/json/list') {
      const port = server.address().port;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify([{
        id: 'fake', type: 'node', title: 'fake',
        webSocketDebuggerUrl: mode === 'ok' ? 'ws://203.0.113.7:9229/fake-target' : `ws://127.0.0.1:${port}/fake-target`,
      }]));
      return;
    }
    res.statusCode = 404;
    res.end('<html><body>Not Found</body></html>');
  });
  server.on('upgrade', (req, socket) => {
    socket.on('error', () => {});
    if (mode === 'http404') return socket.destroy();
    const accept = crypto.createHash('sha1')
      .update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
                 `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on('data', reader((msg) => {
      if (msg === null) {  // answer a close like a real peer, then hang up
        socket.end(frame(Buffer.from([0x03, 0xe8]), 8));
        return;
      }
      let m;
      try { m = JSON.parse(msg); } catch { return; }
      if (m.method === 'HeapProfiler.takeHeapSnapshot') onSession(socket, m.id);
      else if (m.id !== undefined) socket.write(text({ id: m.id, result: {} }));
    }));
  });
}
server.listen(0, '127.0.0.1', () => process.stdout.write('LISTENING ' + server.address().port + '\n'));

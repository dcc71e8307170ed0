// Imitates: the Node.js docs, `net` module, net.createServer() example made into the tutorial's
// uppercase server: 'data' -> write the bytes with a-z uppercased (on Buffers, not strings, so
// other bytes pass unchanged), back-pressure with pause()/resume() on 'drain', an 'error' listener
// per connection. TCP port or Unix socket path from argv; for a path, a stale socket file is
// removed first and anything else is refused (listen() then fails with EADDRINUSE).
//
//     node node_upper.js PORT|PATH
//
// Expected verdict: correct, concurrent: every scenario passes over TCP and Unix sockets.
const net = require('node:net');
const fs = require('node:fs');

function upper(buf) {
  const out = Buffer.from(buf);
  for (let i = 0; i < out.length; i++) {
    if (out[i] >= 0x61 && out[i] <= 0x7a) out[i] -= 0x20;
  }
  return out;
}

const server = net.createServer((c) => {
  c.on('error', () => {}); // ECONNRESET/EPIPE end this connection only
  c.on('data', (data) => {
    if (!c.write(upper(data))) {
      c.pause();
      c.once('drain', () => c.resume());
    }
  });
  // allowHalfOpen is false: when the client ends, Node ends our side after the queued writes.
});
server.on('error', (err) => {
  console.error(`node_upper: ${err.message}`);
  process.exit(1);
});

const where = process.argv[2];
if (/^\d+$/.test(where)) {
  server.listen(Number(where), '127.0.0.1');
} else {
  try {
    if (fs.lstatSync(where).isSocket()) fs.unlinkSync(where); // stale, left by a crashed server
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  server.listen(where);
}

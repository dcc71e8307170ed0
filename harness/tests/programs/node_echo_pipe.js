// Imitates: the Node.js docs, `net` module, net.createServer() example, without the greeting and
// with an 'error' listener on each connection: a plain echo (c.pipe(c)), concurrent. TCP port or
// Unix socket path from argv.
//
//     node node_echo_pipe.js PORT|PATH    (check with --transform echo)
//
// Expected verdict (with --transform echo): correct, concurrent, over TCP. (Over a Unix socket it
// would fail stale_socket_file_is_replaced: like the docs, it does not remove a stale socket file,
// so listen() fails with EADDRINUSE. Not part of the proof set; see node_upper.js for Unix.)
const net = require('node:net');
const where = process.argv[2];
const server = net.createServer((c) => {
  c.on('error', () => {}); // a client that resets ends only its own connection
  c.pipe(c);
});
server.on('error', (err) => {
  throw err;
});
if (/^\d+$/.test(where)) server.listen(Number(where), '127.0.0.1');
else server.listen(where);

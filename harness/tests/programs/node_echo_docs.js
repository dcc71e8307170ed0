// Imitates: the Node.js docs, `net` module, net.createServer() example, verbatim except the port
// (from argv): it greets each client with 'hello\r\n', then c.pipe(c) (a PLAIN echo, no uppercase).
//
//     node node_echo_docs.js PORT       (check with --transform echo)
//
// Expected verdict (with --transform echo): FAIL. Its bugs:
// - the greeting: the server sends 7 bytes before being asked, "hello\r\n", so every scenario that
//   reads fails for that one reason;
// - no 'error' listener on the connection: a client that resets makes the socket emit
//   ECONNRESET, which nobody handles, and the whole process dies with an uncaught exception (a
//   stack trace on stderr). Whether that happens depends on timing (the reset must hit a read or a
//   write in flight), so the reset scenarios may pass or fail; a correct tool names the crash and
//   shows the stack trace when it happens.
const net = require('node:net');
const server = net.createServer((c) => {
  // 'connection' listener.
  console.log('client connected');
  c.on('end', () => {
    console.log('client disconnected');
  });
  c.write('hello\r\n');
  c.pipe(c);
});
server.on('error', (err) => {
  throw err;
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => {
  console.log('server bound');
});

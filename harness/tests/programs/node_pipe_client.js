// Imitates: the Node.js docs, `net` module, net.createConnection() example reduced to the
// "netcat in three lines" idiom found in many tutorials: process.stdin.pipe(socket);
// socket.pipe(process.stdout). A raw byte pipe: the port from argv.
//
//     node node_pipe_client.js PORT
//
// Expected verdict: FAIL on what the protocol asks of a client beyond piping bytes:
// - lines are sent unstripped, newline included ("hello, world\n" instead of "hello, world"), so the
//   server receives something else than the stripped line;
// - empty and blank lines are sent (and echoed back as blank lines);
// - when the server closes, stdin keeps the process alive: it does not exit;
// - when the server resets, the unhandled 'error' event kills it with a stack trace.
// Replies are printed as they come (uppercase-agnostic), so the reassembly scenarios pass, and
// at the end of stdin it half-closes and exits 0 once the server closes.
const net = require('node:net');
const socket = net.createConnection({ port: Number(process.argv[2]), host: '127.0.0.1' });
process.stdin.pipe(socket);
socket.pipe(process.stdout);

// Imitates: a Node.js line client as the `readline` and `net` docs build one: readline's 'line'
// events from stdin, each line trimmed, empty ones skipped, sent with socket.write(), and the reply
// (as many bytes as were sent) printed before the next line is sent; the end of input ends the
// connection and the program with 0, a server that goes away ends it with 1 and a message.
// The port from argv.
//
//     node harness/tests/programs/mutants/node_tab_client.js PORT
//
// Its one bug (a mutant, written to be caught): tabs inside a line are replaced by spaces
// before sending ("a\tb" goes out as "a b"). Only the ends of a line are stripped; what is inside
// is the message. It passes every catalogue scenario of `sockcheck check-client` before
// `spaces_and_tabs_inside_a_line_are_sent_as_typed` (see README.md here).
const net = require('node:net');
const readline = require('node:readline');

const lines = []; // typed lines waiting for their turn
let waiting = null; // the bytes sent whose reply is still coming
let reply = Buffer.alloc(0);
let inputEnded = false;

const socket = net.connect(Number(process.argv[2]), '127.0.0.1');

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function next() {
  while (waiting === null && lines.length > 0) {
    const line = lines.shift().trim().replace(/\t/g, ' '); // the bug: tabs become spaces
    if (line === '') continue;
    waiting = Buffer.from(line, 'utf8');
    reply = Buffer.alloc(0);
    socket.write(waiting);
  }
  if (waiting === null && inputEnded) {
    socket.end();
    process.exitCode = 0;
  }
}

socket.on('connect', () => {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    lines.push(line);
    next();
  });
  rl.on('close', () => {
    inputEnded = true;
    next();
  });
});
socket.on('data', (data) => {
  reply = Buffer.concat([reply, data]);
  if (waiting !== null && reply.length >= waiting.length) {
    process.stdout.write(`${reply.toString('utf8')}\n`);
    waiting = null;
    next();
  }
});
socket.on('end', () => {
  if (waiting !== null || !inputEnded) fail('the server closed the connection');
});
socket.on('error', (err) => fail(`connection failed: ${err.message}`));

// Imitates: the Node.js docs, `net` module, net.createServer() example made into the tutorial's
// uppercase server (bytes a-z uppercased on Buffers, back-pressure with pause()/resume() on
// 'drain', an 'error' listener per connection), plus a friendly touch learners add: a message
// `help` (any case, surrounding whitespace ignored) is answered with a usage line. TCP port from argv.
//
//     node harness/tests/programs/mutants/node_help_server.js PORT
//
// Its one bug (a mutant, written to be caught): `help` gets the usage line instead of `HELP`.
// In this protocol every message is text to echo uppercased, whatever its words. It passes every
// catalogue scenario of sockcheck before `command_words_are_echoed_like_any_text` (see README.md here).
const net = require('node:net');

const USAGE = Buffer.from('usage: send any text, it comes back in uppercase\n');

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
    // The bug: a word is treated as a command instead of as text.
    const reply = data.toString('latin1').trim().toLowerCase() === 'help' ? USAGE : upper(data);
    if (!c.write(reply)) {
      c.pause();
      c.once('drain', () => c.resume());
    }
  });
});
server.on('error', (err) => {
  console.error(`node_help_server: ${err.message}`);
  process.exit(1);
});
server.listen(Number(process.argv[2]), '127.0.0.1');

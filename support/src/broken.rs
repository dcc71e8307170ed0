//! Deliberately broken loops, kept to show that the oracles catch them; nothing else may use them.

use std::io::{self, Read, Write};

use sockcheck_proto::{ConnStats, EchoConn, NextIo};

/// A copy of [`sockcheck_proto::serve`] that forgets the unwritten tail when a write is short: the
/// classic `send()`-instead-of-`sendall()` bug. The fuzz target `recv_loop_broken` and the
/// property tests use it to show that the oracle catches it.
pub fn serve_dropping_short_write_tail<S: Read + Write>(stream: &mut S, conn: &mut EchoConn) -> io::Result<ConnStats> {
    loop {
        let result = match conn.next_io() {
            NextIo::Done => return Ok(conn.stats()),
            NextIo::Read(buf) => stream.read(buf).map(|n| conn.on_read(n)),
            NextIo::Write(buf) => match stream.write(buf) {
                Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {
                    conn.on_written(conn.pending());
                    Ok(())
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

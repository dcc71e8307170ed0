//! Fuzz inputs shared by the targets in `fuzz_targets/`.
//!
//! The oracle itself lives in `sockcheck::testkit`, so the property tests check the same thing.

use std::io;

use arbitrary::Arbitrary;
use sockcheck::proto::{ConnStats, EchoConn, NextIo};
use sockcheck::testkit::Script;
use sockcheck::Transform;

/// The largest receive buffer tried; small ones split more.
pub const MAX_BUFSIZE: usize = 4096;
/// Longer inputs only repeat what shorter ones cover and slow every execution.
pub const MAX_INPUT: usize = 64 * 1024;

/// One connection, structure-aware: the bytes the peer sends, the server's buffer size, and how
/// each read and write call goes ([`sockcheck::testkit::Step`] codes: sizes, `Interrupted`,
/// `WouldBlock`, reset). Everything is borrowed from the fuzzer's input: no allocation.
#[derive(Arbitrary, Debug)]
pub struct Conn<'a> {
    pub bufsize: u16,
    pub echo: bool,
    pub reads: &'a [u8],
    pub writes: &'a [u8],
    /// Last, so it takes the rest of the input.
    pub data: &'a [u8],
}

impl<'a> Conn<'a> {
    /// The script, or `None` for an oversized input.
    pub fn script(&self) -> Option<Script<'a>> {
        if self.data.len() > MAX_INPUT {
            return None;
        }
        Some(Script {
            input: self.data,
            bufsize: 1 + self.bufsize as usize % MAX_BUFSIZE,
            transform: if self.echo { Transform::Echo } else { Transform::Upper },
            reads: self.reads,
            writes: self.writes,
        })
    }
}

/// A deliberately broken copy of `sockcheck::proto::serve`: when a write is short it forgets the
/// unwritten tail, the classic `send()`-instead-of-`sendall()` bug. `recv_loop_broken` exists to
/// show that the oracle catches it in seconds; nothing else may use it.
pub fn serve_dropping_short_write_tail<S: io::Read + io::Write>(
    stream: &mut S,
    conn: &mut EchoConn,
) -> io::Result<ConnStats> {
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

//! The tutorial's communication loop, `data = recv(1024); if not data: break; sendall(data.upper())`,
//! as a state machine.
//!
//! [`EchoConn`] says which I/O it needs next ([`EchoConn::next_io`]) and the caller reports what
//! happened ([`EchoConn::on_read`], [`EchoConn::on_written`]). [`serve`] is the blocking driver;
//! `sockcheck::proto` adds the tokio ones. They are thin, so there is one implementation of the loop.

use std::io::{self, Read, Write};

use crate::spare;
use crate::Transform;

/// The next I/O the connection needs.
#[derive(Debug)]
pub enum NextIo<'a> {
    /// Read into this buffer (up to `bufsize` bytes) and call [`EchoConn::on_read`].
    Read(&'a mut [u8]),
    /// Write (part of) these bytes and call [`EchoConn::on_written`].
    Write(&'a [u8]),
    /// The peer closed its write side and every reply byte has been written: close the connection.
    Done,
}

/// Byte counts of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes written back.
    pub bytes_out: u64,
    /// Reads that returned bytes.
    pub reads: u64,
    /// Writes that took bytes.
    pub writes: u64,
}

/// One connection's communication loop as a state machine.
///
/// Its methods are `#[inline]` so that a driver in another crate (the tokio ones, the fuzz
/// harness) keeps the state in registers instead of reaching through a pointer on every step.
///
/// It reads only when everything it has received has been written back, so its memory is the one
/// buffer of `bufsize` bytes whatever the peer does: a peer that never reads gets backpressure, not
/// an ever-growing queue. The buffer is allocated at the first read and may be released while
/// nothing is pending (`sockcheck::proto::serve_async_lean` does so while it waits for data).
#[derive(Debug)]
pub struct EchoConn {
    /// Empty until the first read, and again after [`EchoConn::release_buffer`]: an idle
    /// connection need not hold `bufsize` bytes.
    buf: Vec<u8>,
    bufsize: usize,
    filled: usize,
    sent: usize,
    eof: bool,
    transform: Transform,
    stats: ConnStats,
}

impl EchoConn {
    /// A new connection with a receive buffer of `bufsize` bytes.
    ///
    /// # Panics
    /// If `bufsize` is 0: a `recv(0)` can never tell data from end of stream.
    #[inline]
    pub fn new(bufsize: usize, transform: Transform) -> Self {
        assert!(bufsize > 0, "bufsize must be at least 1");
        EchoConn { buf: Vec::new(), bufsize, filled: 0, sent: 0, eof: false, transform, stats: ConnStats::default() }
    }

    /// The most one read takes (the tutorial's `recv(1024)`).
    pub fn bufsize(&self) -> usize {
        self.bufsize
    }

    /// True while the receive buffer is allocated.
    pub fn holds_buffer(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Free the receive buffer if nothing in it is pending; the next [`NextIo::Read`] allocates a
    /// new one. For connections that sit idle: their memory is then only the state machine.
    pub fn release_buffer(&mut self) {
        if self.pending() == 0 && !self.buf.is_empty() {
            spare::put(std::mem::take(&mut self.buf));
        }
    }

    /// The counts so far.
    #[inline]
    pub fn stats(&self) -> ConnStats {
        self.stats
    }

    /// Bytes received and transformed but not yet written.
    #[inline]
    pub fn pending(&self) -> usize {
        self.filled - self.sent
    }

    /// True once the peer's EOF has been seen and every reply byte written.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.eof && self.pending() == 0
    }

    /// What the connection needs next: bytes written, a read into a buffer, or nothing more.
    #[inline]
    pub fn next_io(&mut self) -> NextIo<'_> {
        if self.sent < self.filled {
            NextIo::Write(&self.buf[self.sent..self.filled])
        } else if self.eof {
            NextIo::Done
        } else {
            if self.buf.is_empty() {
                self.buf = spare::take(self.bufsize);
            }
            NextIo::Read(&mut self.buf[..])
        }
    }

    /// `n` bytes were read into the buffer given by [`NextIo::Read`]; 0 means the peer closed.
    #[inline]
    pub fn on_read(&mut self, n: usize) {
        debug_assert!(self.pending() == 0 && !self.eof, "on_read without a Read");
        assert!(n <= self.buf.len(), "read of {n} bytes into a {}-byte buffer", self.buf.len());
        if n == 0 {
            self.eof = true;
            return;
        }
        self.transform.apply(&mut self.buf[..n]);
        self.filled = n;
        self.sent = 0;
        self.stats.bytes_in += n as u64;
        self.stats.reads += 1;
    }

    /// What a `write` of the slice given by [`NextIo::Write`] returned: `n` bytes were written
    /// ([`EchoConn::on_written`]); 0 is `WriteZero`; an error is passed on. For every driver.
    #[inline]
    pub fn wrote(&mut self, written: io::Result<usize>) -> io::Result<()> {
        match written? {
            0 => Err(io::ErrorKind::WriteZero.into()),
            n => {
                self.on_written(n);
                Ok(())
            }
        }
    }

    /// `n` bytes of the slice given by [`NextIo::Write`] were written.
    #[inline]
    pub fn on_written(&mut self, n: usize) {
        assert!(n <= self.pending(), "wrote {n} bytes of {} pending", self.pending());
        self.sent += n;
        self.stats.bytes_out += n as u64;
        self.stats.writes += 1;
        if self.sent == self.filled {
            self.sent = 0;
            self.filled = 0;
        }
    }
}

/// Drive `conn` over a blocking stream until the peer closes and the last reply byte is written.
///
/// `Interrupted` is retried. Any other error (including `WouldBlock` from a non-blocking stream) is
/// returned with the connection's state intact, so the caller may call `serve` again once the stream
/// is ready: no byte is lost or repeated. A write of 0 bytes is `WriteZero`.
#[inline]
pub fn serve<S: Read + Write + ?Sized>(stream: &mut S, conn: &mut EchoConn) -> io::Result<ConnStats> {
    loop {
        let result = match conn.next_io() {
            NextIo::Done => return Ok(conn.stats()),
            NextIo::Read(buf) => stream.read(buf).map(|n| conn.on_read(n)),
            NextIo::Write(buf) => {
                let written = stream.write(buf);
                conn.wrote(written)
            }
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that yields reads of at most `chunk` bytes and accepts writes of at most `chunk`.
    struct Chunky<'a> {
        input: &'a [u8],
        out: Vec<u8>,
        chunk: usize,
    }
    impl Read for Chunky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk).min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input = &self.input[n..];
            Ok(n)
        }
    }
    impl Write for Chunky<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn serve_echoes_everything_with_short_reads_and_writes() {
        let input: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
        for (bufsize, chunk) in [(1, 1), (1024, 3), (7, 1000), (1024, 1024)] {
            let mut s = Chunky { input: &input, out: vec![], chunk };
            let mut conn = EchoConn::new(bufsize, Transform::Upper);
            let stats = serve(&mut s, &mut conn).unwrap();
            assert_eq!(s.out, Transform::Upper.to_vec(&input), "bufsize {bufsize} chunk {chunk}");
            assert_eq!(stats.bytes_in, input.len() as u64);
            assert_eq!(stats.bytes_out, input.len() as u64);
        }
    }

    #[test]
    fn buffer_is_allocated_at_the_first_read_and_released_only_when_nothing_is_pending() {
        let mut conn = EchoConn::new(1024, Transform::Upper);
        assert!(!conn.holds_buffer());
        assert_eq!(conn.bufsize(), 1024);
        let NextIo::Read(buf) = conn.next_io() else { panic!("expected a read") };
        assert_eq!(buf.len(), 1024);
        buf[..2].copy_from_slice(b"hi");
        conn.on_read(2);
        conn.release_buffer();
        assert!(conn.holds_buffer(), "released with 2 bytes pending");
        assert!(matches!(conn.next_io(), NextIo::Write(b"HI")));
        conn.on_written(2);
        conn.release_buffer();
        assert!(!conn.holds_buffer());
        assert!(matches!(conn.next_io(), NextIo::Read(b) if b.len() == 1024));
    }

    #[test]
    fn a_short_write_leaves_the_rest_pending_and_done_waits_for_eof_and_the_last_byte() {
        let mut conn = EchoConn::new(16, Transform::Upper);
        assert!(!conn.is_done());
        let NextIo::Read(buf) = conn.next_io() else { panic!("a new connection reads") };
        buf[..10].copy_from_slice(b"abcdefghij");
        conn.on_read(10);
        conn.on_written(4);
        assert_eq!(conn.pending(), 6);
        assert!(matches!(conn.next_io(), NextIo::Write(b"EFGHIJ")));
        conn.on_written(6);
        assert_eq!(conn.pending(), 0);
        assert!(!conn.is_done(), "no EOF yet");
        let NextIo::Read(buf) = conn.next_io() else { panic!("all written: reads again") };
        buf[..2].copy_from_slice(b"kl");
        conn.on_read(2);
        conn.on_written(2);
        assert!(!conn.is_done(), "still no EOF");
        assert!(matches!(conn.next_io(), NextIo::Read(_)));
        conn.on_read(0);
        assert!(conn.is_done());
        assert!(matches!(conn.next_io(), NextIo::Done));
        let stats = conn.stats();
        assert_eq!((stats.reads, stats.writes, stats.bytes_in, stats.bytes_out), (2, 3, 12, 12));
    }

    /// Fails every other call with `Interrupted`, as a syscall cut short by a signal does.
    struct Interrupting<'a> {
        inner: Chunky<'a>,
        calls: u32,
    }
    impl Interrupting<'_> {
        fn interrupted(&mut self) -> bool {
            self.calls += 1;
            self.calls % 2 == 1
        }
    }
    impl Read for Interrupting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.interrupted() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.inner.read(buf)
        }
    }
    impl Write for Interrupting<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.interrupted() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.inner.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn interrupted_reads_and_writes_are_retried() {
        let mut stream = Interrupting { inner: Chunky { input: b"hello", out: vec![], chunk: 3 }, calls: 0 };
        let mut conn = EchoConn::new(8, Transform::Upper);
        serve(&mut stream, &mut conn).unwrap();
        assert_eq!(stream.inner.out, b"HELLO");
    }
}

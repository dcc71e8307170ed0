//! The echo protocol, free of I/O.
//!
//! The tutorial's communication loop is `data = recv(1024); if not data: break; sendall(data.upper())`.
//! [`EchoConn`] is that loop as a state machine: the caller does the reads and writes it asks for
//! ([`EchoConn::next_io`]) and reports what happened. [`serve`] (blocking) and [`serve_async`] (tokio)
//! are the two thin drivers; the reference server, the fuzz targets, the property tests and the benches
//! all go through them, so there is exactly one implementation of the loop.
//!
//! The protocol has no framing: the reply to N bytes is N bytes, so a client knows a reply is whole
//! when it has read as many bytes as it sent ([`ReplyAssembler`]).

use std::io::{self, Read, Write};

/// What the server does to each byte it receives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Transform {
    /// ASCII `a-z` become `A-Z`; every other byte passes unchanged (Python's `bytes.upper()`).
    #[default]
    Upper,
    /// Every byte passes unchanged (`cat`, `ncat --exec /bin/cat`).
    Echo,
}

impl Transform {
    /// Transform `buf` in place. Length-preserving.
    #[inline]
    pub fn apply(self, buf: &mut [u8]) {
        match self {
            Transform::Upper => upper_in_place(buf),
            Transform::Echo => {}
        }
    }

    /// The transformed copy of `input`.
    pub fn to_vec(self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        self.apply(&mut out);
        out
    }

    /// The transform of one byte.
    #[inline]
    pub fn byte(self, b: u8) -> u8 {
        match self {
            Transform::Upper => b.to_ascii_uppercase(),
            Transform::Echo => b,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Transform::Upper => "upper",
            Transform::Echo => "echo",
        }
    }
}

impl std::str::FromStr for Transform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "upper" => Ok(Transform::Upper),
            "echo" => Ok(Transform::Echo),
            other => Err(format!("unknown transform `{other}` (expected `upper` or `echo`)")),
        }
    }
}

impl std::fmt::Display for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// ASCII-uppercase `buf` in place.
///
/// Branch-free per byte so LLVM vectorises it; on x86-64 the AVX2 copy is picked at run time.
#[inline]
pub fn upper_in_place(buf: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        if buf.len() >= 64 && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { upper_avx2(buf) };
            return;
        }
    }
    upper_generic(buf);
}

#[inline(always)]
fn upper_generic(buf: &mut [u8]) {
    for b in buf {
        let is_lower = b.wrapping_sub(b'a') < 26;
        *b -= (is_lower as u8) << 5;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn upper_avx2(buf: &mut [u8]) {
    upper_generic(buf);
}

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
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub reads: u64,
    pub writes: u64,
}

/// One connection's communication loop as a state machine.
///
/// It reads only when everything it has received has been written back, so its memory is the one
/// buffer of `bufsize` bytes whatever the peer does: a peer that never reads gets backpressure, not
/// an ever-growing queue. The buffer is allocated at the first read and may be released while
/// nothing is pending ([`serve_async_lean`] does so while it waits for data).
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
    pub fn new(bufsize: usize, transform: Transform) -> Self {
        assert!(bufsize > 0, "bufsize must be at least 1");
        EchoConn { buf: Vec::new(), bufsize, filled: 0, sent: 0, eof: false, transform, stats: ConnStats::default() }
    }

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

    pub fn stats(&self) -> ConnStats {
        self.stats
    }

    /// Bytes received and transformed but not yet written.
    pub fn pending(&self) -> usize {
        self.filled - self.sent
    }

    /// True once the peer's EOF has been seen and every reply byte written.
    pub fn is_done(&self) -> bool {
        self.eof && self.pending() == 0
    }

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

    /// `n` bytes of the slice given by [`NextIo::Write`] were written.
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

/// A few released receive buffers per thread, so a busy connection that waits for data many
/// times a second does not pay for a fresh zeroed allocation each time. Idle connections still
/// hold nothing: at most [`spare::KEEP`] buffers per thread are kept.
mod spare {
    use std::cell::RefCell;

    pub const KEEP: usize = 8;

    thread_local! {
        static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    /// A buffer of `len` bytes (its contents are whatever the last user left: only bytes that a
    /// read fills are ever used).
    pub fn take(len: usize) -> Vec<u8> {
        SPARE
            .try_with(|s| {
                let mut s = s.borrow_mut();
                s.iter().rposition(|b| b.len() == len).map(|i| s.swap_remove(i))
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| vec![0; len])
    }

    pub fn put(buf: Vec<u8>) {
        let _ = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < KEEP {
                s.push(buf);
            }
        });
    }
}

/// Drive `conn` over a blocking stream until the peer closes and the last reply byte is written.
///
/// `Interrupted` is retried. Any other error (including `WouldBlock` from a non-blocking stream) is
/// returned with the connection's state intact, so the caller may call `serve` again once the stream
/// is ready: no byte is lost or repeated. A write of 0 bytes is `WriteZero`.
pub fn serve<S: Read + Write + ?Sized>(stream: &mut S, conn: &mut EchoConn) -> io::Result<ConnStats> {
    loop {
        let result = match conn.next_io() {
            NextIo::Done => return Ok(conn.stats()),
            NextIo::Read(buf) => stream.read(buf).map(|n| conn.on_read(n)),
            NextIo::Write(buf) => match stream.write(buf) {
                Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    conn.on_written(n);
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

/// [`serve`] for tokio streams.
pub async fn serve_async<S>(stream: &mut S, conn: &mut EchoConn) -> io::Result<ConnStats>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + ?Sized,
{
    drive_async(stream, conn, None).await
}

/// A stream that can wait until a read would not block, without a buffer to read into (tokio's
/// `TcpStream` and `UnixStream` can).
pub trait PollReadReady {
    fn poll_read_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>>;
}

impl PollReadReady for tokio::net::TcpStream {
    fn poll_read_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        tokio::net::TcpStream::poll_read_ready(self, cx)
    }
}

impl PollReadReady for tokio::net::UnixStream {
    fn poll_read_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        tokio::net::UnixStream::poll_read_ready(self, cx)
    }
}

/// [`serve_async`] that gives its receive buffer back while it waits for data: a connection
/// that is idle holds no `bufsize` bytes. A busy one keeps its buffer: it is released only when
/// a read would block.
pub async fn serve_async_lean<S>(stream: &mut S, conn: &mut EchoConn) -> io::Result<ConnStats>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + PollReadReady + Unpin + ?Sized,
{
    drive_async(stream, conn, Some(<S as PollReadReady>::poll_read_ready)).await
}

type ReadyFn<S> = fn(&mut S, &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>>;

/// The one async loop behind [`serve_async`] and [`serve_async_lean`].
async fn drive_async<S>(stream: &mut S, conn: &mut EchoConn, ready: Option<ReadyFn<S>>) -> io::Result<ConnStats>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + ?Sized,
{
    use std::task::Poll;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let result = match conn.next_io() {
            NextIo::Done => return Ok(conn.stats()),
            NextIo::Read(buf) => match ready {
                None => stream.read(buf).await.map(|n| conn.on_read(n)),
                Some(ready) => {
                    // One attempt; if it would block, give the buffer back and wait for data
                    // without it (tokio reports a new socket readable before its first read).
                    let attempt = std::future::poll_fn(|cx| {
                        let mut rb = tokio::io::ReadBuf::new(&mut *buf);
                        match std::pin::Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                            Poll::Pending => Poll::Ready(None),
                            Poll::Ready(r) => Poll::Ready(Some(r.map(|()| rb.filled().len()))),
                        }
                    })
                    .await;
                    match attempt {
                        Some(r) => r.map(|n| conn.on_read(n)),
                        None => {
                            conn.release_buffer();
                            std::future::poll_fn(|cx| ready(stream, cx)).await
                        }
                    }
                }
            },
            NextIo::Write(buf) => match stream.write(buf).await {
                Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    conn.on_written(n);
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

/// Collects one reply of a known length from however many reads it takes.
///
/// The client sends N bytes and the reply is exactly N bytes; a reply is never cut at the first
/// read (the tutorial's `recv(1024)`) nor mixed with the next one.
#[derive(Debug, Default)]
pub struct ReplyAssembler {
    want: usize,
    got: Vec<u8>,
}

impl ReplyAssembler {
    /// Wait for a reply of `len` bytes.
    pub fn expect(len: usize) -> Self {
        ReplyAssembler { want: len, got: Vec::with_capacity(len.min(1 << 20)) }
    }

    /// How many more bytes the reply needs; read at most this many so that nothing of a later
    /// reply is taken.
    pub fn remaining(&self) -> usize {
        self.want - self.got.len()
    }

    /// Add bytes that were read. More bytes than [`Self::remaining`] is a caller bug.
    pub fn push(&mut self, bytes: &[u8]) {
        assert!(bytes.len() <= self.remaining(), "more bytes than the reply holds");
        self.got.extend_from_slice(bytes);
    }

    pub fn is_complete(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes so far (the whole reply once complete).
    pub fn bytes(&self) -> &[u8] {
        &self.got
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.got
    }
}

/// Python's `str.strip()` on the bytes of one input line: the client sends nothing for an empty line.
pub fn strip_line(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_changes_only_ascii_lowercase() {
        let all: Vec<u8> = (0..=255).collect();
        let up = Transform::Upper.to_vec(&all);
        for (i, (a, b)) in all.iter().zip(&up).enumerate() {
            let want = if a.is_ascii_lowercase() { a - 32 } else { *a };
            assert_eq!(*b, want, "byte {i}");
        }
        // Long enough for the vector path, with a lowercase run across the 32-byte lanes.
        let long: Vec<u8> = (0..1000u32).map(|i| (i % 256) as u8).collect();
        let want: Vec<u8> = long.iter().map(|b| b.to_ascii_uppercase()).collect();
        assert_eq!(Transform::Upper.to_vec(&long), want);
        assert_eq!(Transform::Echo.to_vec(&long), long);
    }

    #[test]
    fn utf8_multibyte_passes_unchanged() {
        let s = "héllo, 世界 ß".as_bytes();
        assert_eq!(Transform::Upper.to_vec(s), "HéLLO, 世界 ß".as_bytes());
    }

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

    #[tokio::test(flavor = "current_thread")]
    async fn lean_driver_echoes_and_holds_no_buffer_while_idle() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut server, mut client) = tokio::net::UnixStream::pair().unwrap();
        let mut conn = EchoConn::new(4096, Transform::Upper);
        {
            let serving = serve_async_lean(&mut server, &mut conn);
            tokio::pin!(serving);
            client.write_all(b"hello").await.unwrap();
            let mut reply = [0u8; 5];
            tokio::select! {
                r = &mut serving => panic!("server ended early: {r:?}"),
                r = client.read_exact(&mut reply) => { r.unwrap(); }
                _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => panic!("no reply within 10 s"),
            }
            assert_eq!(&reply, b"HELLO");
            // Let the server reach its wait for more data, then stop it there.
            tokio::select! {
                biased;
                r = &mut serving => panic!("server ended early: {r:?}"),
                _ = tokio::task::yield_now() => {}
            }
        }
        assert!(!conn.holds_buffer(), "idle connection still holds its buffer");
        assert_eq!(conn.stats().bytes_out, 5);
        // And it goes on where it stopped.
        client.write_all(b"again").await.unwrap();
        client.shutdown().await.unwrap();
        let limit = std::time::Duration::from_secs(10);
        let stats = tokio::time::timeout(limit, serve_async_lean(&mut server, &mut conn)).await.unwrap().unwrap();
        drop(server);
        let mut rest = Vec::new();
        tokio::time::timeout(limit, client.read_to_end(&mut rest)).await.unwrap().unwrap();
        assert_eq!(rest, b"AGAIN");
        assert_eq!(stats.bytes_in, 10);
    }

    #[test]
    fn reply_assembler_takes_exactly_the_reply() {
        let mut r = ReplyAssembler::expect(5);
        r.push(b"HE");
        assert_eq!(r.remaining(), 3);
        r.push(b"LLO");
        assert!(r.is_complete());
        assert_eq!(r.bytes(), b"HELLO");
    }

    #[test]
    fn strip_line_is_python_strip() {
        assert_eq!(strip_line(b"  hi there \r\n"), b"hi there");
        assert_eq!(strip_line(b" \t\r\n"), b"");
    }
}

//! Test support: an in-memory stream driven by a script, and the oracles that the property tests
//! (`harness/tests/properties.rs`) and the fuzz targets (`fuzz/`) share.
//!
//! Public only because `fuzz/` is a separate crate; it is not part of the tool's interface.
//!
//! A [`Script`] says what the peer sends and how the "kernel" behaves: each read and each write of
//! the connection consumes the next [`Step`] (move at most N bytes, move everything, fail with
//! `Interrupted` / `WouldBlock`, or reset). When the steps run out every call moves as much as it
//! can, so a script always terminates. Steps are stored one byte each ([`Step::code`]) so that a
//! fuzz target can borrow them straight from its input with no allocation.
//!
//! [`check_echo`] runs the real [`serve`] over a [`ScriptedStream`] and checks the echo property:
//! every byte written is the transform of the byte received at the same offset, nothing is written
//! before it was received, a completed connection has written back exactly what it received,
//! no write is larger than the receive buffer and nothing queues beyond it.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::proto::{
    serve, serve_async, serve_async_lean, ConnStats, EchoConn, NextIo, PollReadReady, ReplyAssembler, Transform,
};

/// What the scripted stream does on one read or write call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Move at most this many bytes (1..=[`Step::MAX_TAKE`]).
    Take(u8),
    /// Move as many bytes as the call allows.
    All,
    /// Fail with `Interrupted` (EINTR): the loop must retry.
    Interrupted,
    /// Fail with `WouldBlock` (EAGAIN); in async, return `Pending` after waking the task.
    WouldBlock,
    /// The peer resets: this call and every later one fail with `ConnectionReset`.
    Reset,
}

impl Step {
    pub const MAX_TAKE: u8 = 252;

    /// Decode one step from a byte; every byte is a valid step.
    #[inline]
    pub fn from_code(code: u8) -> Step {
        match code {
            0 => Step::Interrupted,
            1 => Step::WouldBlock,
            2 => Step::Reset,
            3 => Step::All,
            n => Step::Take(n - 3),
        }
    }

    /// The byte that [`Step::from_code`] decodes back to this step.
    pub fn code(self) -> u8 {
        match self {
            Step::Interrupted => 0,
            Step::WouldBlock => 1,
            Step::Reset => 2,
            Step::All => 3,
            Step::Take(n) => {
                assert!((1..=Self::MAX_TAKE).contains(&n), "Take({n}) out of range");
                n + 3
            }
        }
    }

    /// Encode a list of steps.
    pub fn encode(steps: &[Step]) -> Vec<u8> {
        steps.iter().map(|s| s.code()).collect()
    }
}

/// One connection's worth of peer behaviour. Step lists are [`Step::code`] bytes.
#[derive(Clone, Copy, Debug)]
pub struct Script<'a> {
    /// Everything the peer sends before it half-closes (read returns 0 after it).
    pub input: &'a [u8],
    pub bufsize: usize,
    pub transform: Transform,
    /// One step per read call.
    pub reads: &'a [u8],
    /// One step per write call.
    pub writes: &'a [u8],
}

impl Script<'_> {
    /// The script as Rust code, for pasting a fuzzer's find into a regression test.
    pub fn to_rust(&self) -> String {
        let steps = |codes: &[u8]| {
            if codes.is_empty() {
                return "&[]".to_string();
            }
            let decoded: Vec<String> = codes.iter().map(|&c| format!("{:?}", Step::from_code(c))).collect();
            format!(
                "&[{}] /* {} */",
                codes.iter().map(u8::to_string).collect::<Vec<_>>().join(", "),
                decoded.join(", ")
            )
        };
        format!(
            "Script {{ input: b\"{}\", bufsize: {}, transform: Transform::{:?}, reads: {}, writes: {} }}",
            self.input.escape_ascii(),
            self.bufsize,
            self.transform,
            steps(self.reads),
            steps(self.writes),
        )
    }
}

/// How a connection that passed [`check_echo`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The peer's EOF was seen and everything received was written back.
    Completed(ConnStats),
    /// The peer reset after `written` of the `delivered` bytes had come back.
    Reset { delivered: usize, written: usize },
}

/// An in-memory `Read + Write` (and tokio `AsyncRead + AsyncWrite`) peer that follows a [`Script`]
/// and checks every byte written against the transform of the input, without storing the output.
#[derive(Debug)]
pub struct ScriptedStream<'a> {
    input: &'a [u8],
    transform: Transform,
    reads: &'a [u8],
    writes: &'a [u8],
    /// Input bytes handed to the connection so far.
    delivered: usize,
    /// Output bytes accepted so far.
    written: usize,
    reset: bool,
    eof_returned: bool,
    largest_write: usize,
    would_blocks: usize,
    violation: Option<String>,
}

impl<'a> ScriptedStream<'a> {
    pub fn new(script: &Script<'a>) -> Self {
        ScriptedStream {
            input: script.input,
            transform: script.transform,
            reads: script.reads,
            writes: script.writes,
            delivered: 0,
            written: 0,
            reset: false,
            eof_returned: false,
            largest_write: 0,
            would_blocks: 0,
            violation: None,
        }
    }

    pub fn delivered(&self) -> usize {
        self.delivered
    }

    pub fn written(&self) -> usize {
        self.written
    }

    /// The largest single write the connection asked for.
    pub fn largest_write(&self) -> usize {
        self.largest_write
    }

    /// The first broken rule seen, if any.
    pub fn violation(&self) -> Option<&str> {
        self.violation.as_deref()
    }

    fn next_step(steps: &mut &[u8]) -> Step {
        match steps.split_first() {
            Some((&code, rest)) => {
                *steps = rest;
                Step::from_code(code)
            }
            None => Step::All,
        }
    }

    fn step_error(&mut self, step: Step) -> Option<io::Error> {
        if self.reset {
            return Some(io::ErrorKind::ConnectionReset.into());
        }
        match step {
            Step::Interrupted => Some(io::ErrorKind::Interrupted.into()),
            Step::WouldBlock => {
                self.would_blocks += 1;
                Some(io::ErrorKind::WouldBlock.into())
            }
            Step::Reset => {
                self.reset = true;
                Some(io::ErrorKind::ConnectionReset.into())
            }
            Step::All | Step::Take(_) => None,
        }
    }

    fn limit(step: Step, len: usize) -> usize {
        match step {
            Step::Take(n) => len.min(n as usize),
            _ => len,
        }
    }

    fn do_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let step = Self::next_step(&mut self.reads);
        if let Some(e) = self.step_error(step) {
            return Err(e);
        }
        if self.eof_returned {
            fail_once(&mut self.violation, || "read again after the peer's EOF (a read of 0 must end the loop)".into());
        }
        let rest = &self.input[self.delivered..];
        let n = Self::limit(step, buf.len()).min(rest.len());
        if n == 0 && !buf.is_empty() {
            self.eof_returned = true;
        }
        buf[..n].copy_from_slice(&rest[..n]);
        self.delivered += n;
        Ok(n)
    }

    fn do_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.largest_write = self.largest_write.max(buf.len());
        let step = Self::next_step(&mut self.writes);
        if let Some(e) = self.step_error(step) {
            return Err(e);
        }
        let n = Self::limit(step, buf.len());
        for (i, &got) in buf[..n].iter().enumerate() {
            let at = self.written + i;
            if at >= self.delivered {
                let delivered = self.delivered;
                fail_once(&mut self.violation, || {
                    format!("wrote byte {at} before it was received ({delivered} received)")
                });
                break;
            }
            let sent = self.input[at];
            let want = self.transform.byte(sent);
            if got != want {
                fail_once(&mut self.violation, || {
                    format!(
                        "output byte {at} is {:?}, want {:?} (transform of input byte {:?})",
                        got as char, want as char, sent as char
                    )
                });
                break;
            }
        }
        self.written += n;
        Ok(n)
    }
}

fn fail_once(slot: &mut Option<String>, msg: impl FnOnce() -> String) {
    if slot.is_none() {
        *slot = Some(msg());
    }
}

impl Read for ScriptedStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.do_read(buf)
    }
}

impl Write for ScriptedStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.do_write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `WouldBlock` steps become `Pending` (after waking the task, as a reactor would once ready).
fn to_poll<T>(cx: &mut Context<'_>, r: io::Result<T>) -> Poll<io::Result<T>> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        r => Poll::Ready(r),
    }
}

impl tokio::io::AsyncRead for ScriptedStream<'_> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = this.do_read(buf.initialize_unfilled()).map(|n| buf.advance(n));
        to_poll(cx, r)
    }
}

/// The script decides what each read does, so the stream is always "ready" to try one.
impl PollReadReady for ScriptedStream<'_> {
    fn poll_read_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for ScriptedStream<'_> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = self.get_mut().do_write(buf);
        to_poll(cx, r)
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The echo property for the real blocking loop, [`serve`].
pub fn check_echo(script: &Script<'_>) -> Result<Outcome, String> {
    check_echo_with(script, |s, c| serve(s, c))
}

/// The echo property for any driver of [`EchoConn`] (tests use it to show a broken loop is caught).
///
/// On `WouldBlock` the driver is called again with the same connection, as a non-blocking server
/// would once the socket is ready again.
pub fn check_echo_with<F>(script: &Script<'_>, mut drive: F) -> Result<Outcome, String>
where
    F: FnMut(&mut ScriptedStream<'_>, &mut EchoConn) -> io::Result<ConnStats>,
{
    let mut stream = ScriptedStream::new(script);
    let mut conn = EchoConn::new(script.bufsize, script.transform);
    // Every `WouldBlock` consumes a step and the steps are finite, so this ends for a sane driver;
    // the bound stops a driver that returns `WouldBlock` without a step.
    for _ in 0..=script.reads.len() + script.writes.len() {
        let result = drive(&mut stream, &mut conn);
        if let Some(v) = stream.violation() {
            return Err(v.to_string());
        }
        check_bounds(&stream, &conn, script.bufsize)?;
        match result {
            Ok(stats) => return completed(&stream, stats),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && stream.reset => {
                return Ok(Outcome::Reset { delivered: stream.delivered, written: stream.written });
            }
            Err(e) => return Err(format!("unexpected error from the loop: {e}")),
        }
    }
    Err("the loop keeps returning WouldBlock when the stream is ready".into())
}

/// The echo property for the real tokio loop, [`serve_async`].
pub async fn check_echo_async(script: &Script<'_>) -> Result<Outcome, String> {
    let outcome = check_async_driver(script, false).await?;
    // The concurrent server runs the lean variant (it gives its buffer back while it waits):
    // the same property, and the same outcome, must hold for it.
    let lean = check_async_driver(script, true).await.map_err(|e| format!("serve_async_lean: {e}"))?;
    if lean != outcome {
        return Err(format!("serve_async ended with {outcome:?} but serve_async_lean with {lean:?}"));
    }
    Ok(outcome)
}

async fn check_async_driver(script: &Script<'_>, lean: bool) -> Result<Outcome, String> {
    let mut stream = ScriptedStream::new(script);
    let mut conn = EchoConn::new(script.bufsize, script.transform);
    let result =
        if lean { serve_async_lean(&mut stream, &mut conn).await } else { serve_async(&mut stream, &mut conn).await };
    if let Some(v) = stream.violation() {
        return Err(v.to_string());
    }
    check_bounds(&stream, &conn, script.bufsize)?;
    match result {
        Ok(stats) => completed(&stream, stats),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset && stream.reset => {
            Ok(Outcome::Reset { delivered: stream.delivered, written: stream.written })
        }
        Err(e) => Err(format!("unexpected error from the async loop: {e}")),
    }
}

fn check_bounds(stream: &ScriptedStream<'_>, conn: &EchoConn, bufsize: usize) -> Result<(), String> {
    if stream.largest_write > bufsize {
        return Err(format!("a write of {} bytes with a {bufsize}-byte buffer", stream.largest_write));
    }
    if conn.pending() > bufsize {
        return Err(format!("{} bytes pending with a {bufsize}-byte buffer", conn.pending()));
    }
    Ok(())
}

fn completed(stream: &ScriptedStream<'_>, stats: ConnStats) -> Result<Outcome, String> {
    if stream.delivered != stream.input.len() || !stream.eof_returned {
        return Err(format!(
            "the loop finished after reading {} of {} bytes, before the peer's EOF",
            stream.delivered,
            stream.input.len()
        ));
    }
    if stream.written != stream.delivered {
        return Err(format!("the loop finished having written {} of {} bytes", stream.written, stream.delivered));
    }
    if stats.bytes_in != stream.delivered as u64 || stats.bytes_out != stream.written as u64 {
        return Err(format!(
            "stats say {} in / {} out; the stream saw {} / {}",
            stats.bytes_in, stats.bytes_out, stream.delivered, stream.written
        ));
    }
    Ok(Outcome::Completed(stats))
}

/// Client reply reassembly: a reply of `reply.len()` bytes followed on the stream by `next` (the
/// start of a later reply), read in pieces following `reads` with a read buffer of `bufsize` bytes
/// the way the client does (never more than [`ReplyAssembler::remaining`]). The assembled reply
/// must be exactly `reply` and none of `next` may have been taken.
pub fn check_reply(reply: &[u8], next: &[u8], reads: &[u8], bufsize: usize) -> Result<(), String> {
    let mut wire = Vec::with_capacity(reply.len() + next.len());
    wire.extend_from_slice(reply);
    wire.extend_from_slice(next);
    let script = Script { input: &wire, bufsize, transform: Transform::Echo, reads, writes: &[] };
    let mut stream = ScriptedStream::new(&script);
    let mut assembler = ReplyAssembler::expect(reply.len());
    let mut buf = vec![0u8; bufsize.max(1)];
    while !assembler.is_complete() {
        let want = assembler.remaining().min(buf.len());
        match stream.read(&mut buf[..want]) {
            Ok(0) => return Err(format!("EOF with {} of {} reply bytes", assembler.bytes().len(), reply.len())),
            Ok(n) => assembler.push(&buf[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(format!("unexpected error: {e}")),
        }
    }
    if assembler.bytes() != reply {
        return Err(format!("assembled {:?}, want {:?}", assembler.bytes(), reply));
    }
    if stream.delivered() != reply.len() {
        return Err(format!("read {} bytes for a {}-byte reply", stream.delivered(), reply.len()));
    }
    Ok(())
}

/// A deliberately broken copy of `sockcheck::proto::serve`: when a write is short it forgets the
/// unwritten tail, the classic `send()`-instead-of-`sendall()` bug. The fuzz target
/// `recv_loop_broken` and the property tests use it to show that the oracle catches it; nothing
/// else may.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(Step::from_code(code).code(), code);
        }
    }

    #[test]
    fn scripted_stream_flags_a_wrong_byte() {
        let script = Script { input: b"ab", bufsize: 4, transform: Transform::Upper, reads: &[], writes: &[] };
        let mut s = ScriptedStream::new(&script);
        let mut buf = [0u8; 4];
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        s.write_all(b"Ab").unwrap();
        assert_eq!(s.violation(), Some("output byte 1 is 'b', want 'B' (transform of input byte 'b')"));
    }

    #[test]
    fn a_script_prints_as_rust() {
        let reads = Step::encode(&[Step::Take(2), Step::WouldBlock]);
        let script = Script { input: b"a\xff\"", bufsize: 7, transform: Transform::Upper, reads: &reads, writes: &[] };
        assert_eq!(
            script.to_rust(),
            r#"Script { input: b"a\xff\"", bufsize: 7, transform: Transform::Upper, reads: &[5, 1] /* Take(2), WouldBlock */, writes: &[] }"#
        );
    }

    #[test]
    fn reset_is_sticky() {
        let reads = Step::encode(&[Step::Reset]);
        let script = Script { input: b"ab", bufsize: 4, transform: Transform::Upper, reads: &reads, writes: &[] };
        let mut s = ScriptedStream::new(&script);
        let mut buf = [0u8; 4];
        for _ in 0..3 {
            assert_eq!(s.read(&mut buf).unwrap_err().kind(), io::ErrorKind::ConnectionReset);
        }
        assert_eq!(check_echo(&script), Ok(Outcome::Reset { delivered: 0, written: 0 }));
    }
}

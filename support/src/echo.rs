//! The echo oracle: a driver of [`EchoConn`] over a [`ScriptedStream`] must write back the
//! transform of exactly what it received, however reads and writes were split or failed.
//!
//! Checked: every byte written is the transform of the byte received at the same offset, nothing is
//! written before it was received, a completed connection has written back exactly what it
//! received (and its stats say so), no write is larger than the receive buffer and nothing queues
//! beyond it.

use std::io;

use sockcheck_proto::{serve, ConnStats, EchoConn};

use crate::script::{Script, ScriptedStream};

/// How a connection that passed [`check_echo`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The peer's EOF was seen and everything received was written back.
    Completed(ConnStats),
    /// The peer reset after `written` of the `delivered` bytes had come back.
    Reset { delivered: usize, written: usize },
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
        if let Some(v) = stream.violated() {
            return Err(v.describe(script.transform, script.input));
        }
        check_bounds(&stream, &conn, script.bufsize)?;
        match result {
            Ok(stats) => return completed(&stream, stats),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && stream.reset => {
                return Ok(Outcome::Reset { delivered: stream.delivered, written: stream.written });
            }
            Err(e) => return Err(unexpected(e)),
        }
    }
    Err("the loop keeps returning WouldBlock when the stream is ready".into())
}

#[cold]
#[inline(never)]
fn unexpected(e: io::Error) -> String {
    format!("unexpected error from the loop: {e}")
}

#[inline(always)]
pub(crate) fn check_bounds(stream: &ScriptedStream<'_>, conn: &EchoConn, bufsize: usize) -> Result<(), String> {
    let (largest_write, pending) = (stream.largest_write, conn.pending());
    if largest_write > bufsize || pending > bufsize {
        return Err(out_of_bounds(largest_write, pending, bufsize));
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn out_of_bounds(largest_write: usize, pending: usize, bufsize: usize) -> String {
    if largest_write > bufsize {
        format!("a write of {largest_write} bytes with a {bufsize}-byte buffer")
    } else {
        format!("{pending} bytes pending with a {bufsize}-byte buffer")
    }
}

#[inline(always)]
pub(crate) fn completed(stream: &ScriptedStream<'_>, stats: ConnStats) -> Result<Outcome, String> {
    let (delivered, written, sent) = (stream.delivered, stream.written, stream.input.len());
    let whole = delivered == sent && stream.eof_returned && written == delivered;
    if !whole || stats.bytes_in != delivered as u64 || stats.bytes_out != written as u64 {
        return Err(incomplete(delivered, written, sent, stream.eof_returned, stats));
    }
    Ok(Outcome::Completed(stats))
}

#[cold]
#[inline(never)]
fn incomplete(delivered: usize, written: usize, sent: usize, eof_returned: bool, stats: ConnStats) -> String {
    if delivered != sent || !eof_returned {
        return format!("the loop finished after reading {delivered} of {sent} bytes, before the peer's EOF");
    }
    if written != delivered {
        return format!("the loop finished having written {written} of {delivered} bytes");
    }
    format!("stats say {} in / {} out; the stream saw {delivered} / {written}", stats.bytes_in, stats.bytes_out)
}

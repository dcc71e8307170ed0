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

pub(crate) fn check_bounds(stream: &ScriptedStream<'_>, conn: &EchoConn, bufsize: usize) -> Result<(), String> {
    if stream.largest_write > bufsize {
        return Err(format!("a write of {} bytes with a {bufsize}-byte buffer", stream.largest_write));
    }
    if conn.pending() > bufsize {
        return Err(format!("{} bytes pending with a {bufsize}-byte buffer", conn.pending()));
    }
    Ok(())
}

pub(crate) fn completed(stream: &ScriptedStream<'_>, stats: ConnStats) -> Result<Outcome, String> {
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

//! [`ScriptedStream`] as a tokio stream, and the echo oracle for `sockcheck`'s async drivers.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use sockcheck::proto::{serve_async, serve_async_lean, EchoConn, PollReadReady};

use crate::echo::{check_bounds, completed, Outcome};
use crate::script::{Script, ScriptedStream};

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

/// The echo property for the real tokio loop, `serve_async`.
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
        return Err(v);
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

//! Serving one connection on the event loop: the lean async driver of the protocol core with an
//! idle timeout and the grace period at shutdown.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ServerConfig;
use crate::net;
use crate::proto::{serve_async_lean, EchoConn, PollReadReady};

/// Serve one connection. On shutdown, a connection stops reading, writes what it already owes
/// (up to the grace period) and closes.
pub(super) async fn serve_conn(
    mut stream: net::Conn,
    mut conn: EchoConn,
    cfg: &ServerConfig,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let served = {
        let mut stream = IdleTimeout::new(&mut stream, cfg.idle_timeout);
        tokio::select! {
            r = serve_async_lean(&mut stream, &mut conn) => Some(r),
            _ = shutdown.cancelled() => None,
        }
    };
    match served {
        Some(r) => r.map(|_| ()),
        None => {
            use tokio::io::AsyncWriteExt;
            let owed = async {
                while let crate::proto::NextIo::Write(buf) = conn.next_io() {
                    let written = stream.write(buf).await;
                    conn.wrote(written)?;
                }
                Ok(())
            };
            match tokio::time::timeout(cfg.grace, owed).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "reply unfinished at shutdown")),
            }
        }
    }
}

/// A stream that fails with `TimedOut` when neither a read nor a write has made progress for
/// the idle period. Without a period it is the stream itself.
struct IdleTimeout<'a, S> {
    inner: &'a mut S,
    idle: Option<Duration>,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<'a, S> IdleTimeout<'a, S> {
    fn new(inner: &'a mut S, idle: Option<Duration>) -> Self {
        let timer = idle.map(|d| Box::pin(tokio::time::sleep(d)));
        IdleTimeout { inner, idle, timer }
    }

    fn progress(&mut self) {
        if let (Some(timer), Some(d)) = (&mut self.timer, self.idle) {
            timer.as_mut().reset(tokio::time::Instant::now() + d);
        }
    }

    fn check(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Error> {
        match &mut self.timer {
            Some(timer) => timer.as_mut().poll(cx).map(|_| io::Error::new(io::ErrorKind::TimedOut, "idle timeout")),
            None => std::task::Poll::Pending,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for IdleTimeout<'_, S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut *self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                self.progress();
                Poll::Ready(r)
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }
}

impl<S: PollReadReady> PollReadReady for IdleTimeout<'_, S> {
    // Waiting for data is not progress: the idle timer keeps running.
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.inner.poll_read_ready(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => self.check(cx).map(Err),
        }
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for IdleTimeout<'_, S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut *self.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.progress();
                Poll::Ready(r)
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}

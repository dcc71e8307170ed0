//! The echo protocol: the I/O-free core of `sockcheck-proto`, plus its tokio drivers.
//!
//! The core ([`EchoConn`], [`Transform`], [`serve`], [`ReplyAssembler`], ...) lives in the
//! `sockcheck-proto` crate so that the fuzz targets and other crates can use it without sockets or
//! a runtime; it is re-exported here. [`serve_async`] and [`serve_async_lean`] drive the same
//! [`EchoConn`] over tokio streams: there is still one implementation of the loop.

use std::io;

pub use sockcheck_proto::{
    serve, strip_line, upper_in_place, Answer, ConnStats, DatagramEcho, DatagramRequest, DatagramStats, EchoConn,
    NextIo, OnTimeout, Received, ReplyAssembler, Stray, Transform,
};

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
    /// Ready when a read would not block (bytes, EOF or an error wait).
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
            NextIo::Write(buf) => {
                let written = stream.write(buf).await;
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
}

//! Connected streams: [`Conn`] for tokio, [`StdConn`] blocking, connecting with a deadline.

use std::io;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::unix_sockaddr;
use crate::addr::Endpoint;
use crate::error::{Error, Result};

/// A connected stream over either transport, for tokio.
#[derive(Debug)]
pub struct Conn {
    /// `None` only once handed on by [`Conn::into_std`].
    stream: Option<ConnStream>,
    /// Set through a [`LingerHandle`]: the close is to be a reset.
    reset: Arc<AtomicBool>,
}

/// The socket of a [`Conn`].
#[derive(Debug)]
pub enum ConnStream {
    /// A TCP connection.
    Tcp(tokio::net::TcpStream),
    /// A Unix stream connection.
    Unix(tokio::net::UnixStream),
}

impl From<tokio::net::TcpStream> for Conn {
    fn from(s: tokio::net::TcpStream) -> Conn {
        Conn::new(ConnStream::Tcp(s))
    }
}

impl From<tokio::net::UnixStream> for Conn {
    fn from(s: tokio::net::UnixStream) -> Conn {
        Conn::new(ConnStream::Unix(s))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.stream.is_some() && self.reset.load(Ordering::SeqCst) {
            let _ = self.set_linger_zero();
        }
    }
}

impl Conn {
    fn new(stream: ConnStream) -> Conn {
        Conn { stream: Some(stream), reset: Arc::default() }
    }

    /// The socket.
    pub fn stream(&self) -> &ConnStream {
        self.stream.as_ref().expect("a connection not handed on")
    }

    /// The socket, to read and write.
    pub fn stream_mut(&mut self) -> &mut ConnStream {
        self.stream.as_mut().expect("a connection not handed on")
    }

    fn sock(&self) -> SockRef<'_> {
        match self.stream() {
            ConnStream::Tcp(s) => SockRef::from(s),
            ConnStream::Unix(s) => SockRef::from(s),
        }
    }

    /// `SO_LINGER 0`: the next close sends RST instead of FIN (TCP). Unix sockets have no RST; a
    /// close with unread data makes the peer's next read fail with `ECONNRESET` all the same.
    pub fn set_linger_zero(&self) -> io::Result<()> {
        self.sock().set_linger(Some(Duration::ZERO))
    }

    /// A handle that can turn the close of this connection into a reset after the connection is
    /// split into halves (which hide the socket).
    pub fn linger_handle(&self) -> LingerHandle {
        LingerHandle(self.reset.clone())
    }

    /// The kernel's send and receive buffer sizes.
    pub fn buffer_sizes(&self) -> (usize, usize) {
        let s = self.sock();
        (s.send_buffer_size().unwrap_or(0), s.recv_buffer_size().unwrap_or(0))
    }

    /// Set the kernel's receive buffer size (`SO_RCVBUF`).
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        self.sock().set_recv_buffer_size(size)
    }

    /// The same connection as a blocking stream, out of the event loop.
    pub fn into_std(mut self) -> io::Result<StdConn> {
        let s = match self.stream.take().expect("a connection not handed on") {
            ConnStream::Tcp(s) => StdConn::Tcp(s.into_std()?),
            ConnStream::Unix(s) => StdConn::Unix(s.into_std()?),
        };
        s.socket().set_nonblocking(false)?;
        Ok(s)
    }
}

/// See [`Conn::linger_handle`]: a share of the connection's wish to be reset, not its socket, so
/// it may outlive the connection harmlessly.
#[derive(Clone, Debug)]
pub struct LingerHandle(Arc<AtomicBool>);

impl LingerHandle {
    /// [`Conn::set_linger_zero`] through the handle: applied when the connection closes (both its
    /// halves gone); nothing once it is closed.
    pub fn set_linger_zero(&self) -> io::Result<()> {
        self.0.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl std::os::fd::AsFd for Conn {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self.stream() {
            ConnStream::Tcp(s) => s.as_fd(),
            ConnStream::Unix(s) => s.as_fd(),
        }
    }
}

impl crate::proto::PollReadReady for Conn {
    fn poll_read_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        match self.stream_mut() {
            ConnStream::Tcp(s) => s.poll_read_ready(cx),
            ConnStream::Unix(s) => s.poll_read_ready(cx),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream_mut() {
            ConnStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            ConnStream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut().stream_mut() {
            ConnStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            ConnStream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream_mut() {
            ConnStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            ConnStream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream_mut() {
            ConnStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            ConnStream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

fn connect_err(endpoint: &Endpoint) -> impl Fn(io::Error) -> Error + '_ {
    move |reason| Error::Connect { addr: endpoint.to_string(), reason }
}

/// A non-blocking Unix `connect()`, retried while the listener's backlog is full (`EAGAIN`) until
/// the deadline: a full backlog means "wait", not "refused".
fn connect_unix_std(endpoint: &Endpoint, deadline: Instant) -> Result<StdUnixStream> {
    let sockaddr = unix_sockaddr(endpoint)?;
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(s) = connect_unix_once(endpoint, &sockaddr, deadline, None)? {
            return Ok(s);
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// One non-blocking `connect()`: `None` when the listener's backlog is full (retry after a pause:
/// no readiness event exists for "backlog has room"), an error once that lasts past `deadline`.
fn connect_unix_once(
    endpoint: &Endpoint,
    sockaddr: &SockAddr,
    deadline: Instant,
    recv_buffer: Option<usize>,
) -> Result<Option<StdUnixStream>> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(connect_err(endpoint))?;
    if let Some(n) = recv_buffer {
        socket.set_recv_buffer_size(n).map_err(connect_err(endpoint))?;
    }
    socket.set_cloexec(true).map_err(connect_err(endpoint))?;
    socket.set_nonblocking(true).map_err(connect_err(endpoint))?;
    match socket.connect(sockaddr) {
        Ok(()) => Ok(Some(socket.into())),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(Error::Connect {
            addr: endpoint.to_string(),
            reason: io::Error::new(io::ErrorKind::TimedOut, "backlog full until the deadline"),
        }),
        Err(e) => Err(connect_err(endpoint)(e)),
    }
}

/// Connect with a deadline (tokio). TCP gets `TCP_NODELAY`: replies are small and latency matters.
pub async fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<Conn> {
    connect_with(endpoint, None, timeout).await
}

/// [`connect`], with the socket's receive buffer (`SO_RCVBUF`) set first when `recv_buffer` says.
pub async fn connect_with(endpoint: &Endpoint, recv_buffer: Option<usize>, timeout: Duration) -> Result<Conn> {
    not_datagram(endpoint)?;
    let deadline = Instant::now() + timeout;
    match endpoint {
        Endpoint::Tcp(addr) => {
            let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }
                .map_err(connect_err(endpoint))?;
            if let Some(n) = recv_buffer {
                socket.set_recv_buffer_size(n as u32).map_err(connect_err(endpoint))?;
            }
            let stream = tokio::time::timeout(timeout, socket.connect(*addr))
                .await
                .map_err(|_| connect_err(endpoint)(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")))?
                .map_err(connect_err(endpoint))?;
            stream.set_nodelay(true).map_err(connect_err(endpoint))?;
            Ok(Conn::from(stream))
        }
        _ => {
            // The same attempts as the blocking connect, with the pauses on the event loop.
            let sockaddr = unix_sockaddr(endpoint)?;
            let mut pause = Duration::from_micros(200);
            let std = loop {
                if let Some(s) = connect_unix_once(endpoint, &sockaddr, deadline, recv_buffer)? {
                    break s;
                }
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
                pause = (pause * 2).min(Duration::from_millis(20));
            };
            Ok(Conn::from(tokio::net::UnixStream::from_std(std).map_err(connect_err(endpoint))?))
        }
    }
}

/// Streams connect; datagram endpoints have nothing to connect to.
fn not_datagram(endpoint: &Endpoint) -> Result<()> {
    if endpoint.transport().is_datagram() {
        return Err(connect_err(endpoint)(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a datagram address: nothing to connect to",
        )));
    }
    Ok(())
}

/// A blocking stream over either transport (the reference client).
#[derive(Debug)]
pub enum StdConn {
    /// A TCP connection.
    Tcp(std::net::TcpStream),
    /// A Unix stream connection.
    Unix(StdUnixStream),
}

impl StdConn {
    /// Connect to a stream `endpoint` within `timeout` (`TCP_NODELAY` set over TCP).
    pub fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<StdConn> {
        not_datagram(endpoint)?;
        match endpoint {
            Endpoint::Tcp(addr) => {
                let s = std::net::TcpStream::connect_timeout(addr, timeout).map_err(connect_err(endpoint))?;
                s.set_nodelay(true).map_err(connect_err(endpoint))?;
                Ok(StdConn::Tcp(s))
            }
            _ => {
                let s = connect_unix_std(endpoint, Instant::now() + timeout)?;
                s.set_nonblocking(false).map_err(connect_err(endpoint))?;
                Ok(StdConn::Unix(s))
            }
        }
    }

    /// How long a read may block (`None`: for ever).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            StdConn::Tcp(s) => s.set_read_timeout(t),
            StdConn::Unix(s) => s.set_read_timeout(t),
        }
    }

    /// How long a write may block (`None`: for ever).
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            StdConn::Tcp(s) => s.set_write_timeout(t),
            StdConn::Unix(s) => s.set_write_timeout(t),
        }
    }

    /// Shut the write side: the peer reads end of file once everything sent is in.
    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            StdConn::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            StdConn::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        }
    }

    /// `SO_LINGER 0`: the next close sends RST instead of FIN (TCP); see [`Conn::set_linger_zero`].
    pub fn set_linger_zero(&self) -> io::Result<()> {
        self.socket().set_linger(Some(Duration::ZERO))
    }

    /// The socket, for options and `shutdown(2)` in either direction.
    pub fn socket(&self) -> SockRef<'_> {
        match self {
            StdConn::Tcp(s) => SockRef::from(s),
            StdConn::Unix(s) => SockRef::from(s),
        }
    }

    /// The same connection back in the event loop (call it inside a tokio runtime).
    pub fn into_async(self) -> io::Result<Conn> {
        self.socket().set_nonblocking(true)?;
        Ok(match self {
            StdConn::Tcp(s) => Conn::from(tokio::net::TcpStream::from_std(s)?),
            StdConn::Unix(s) => Conn::from(tokio::net::UnixStream::from_std(s)?),
        })
    }

    /// A second handle on the same connection (`dup(2)`).
    pub fn try_clone(&self) -> io::Result<StdConn> {
        Ok(match self {
            StdConn::Tcp(s) => StdConn::Tcp(s.try_clone()?),
            StdConn::Unix(s) => StdConn::Unix(s.try_clone()?),
        })
    }
}

impl io::Read for StdConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl io::Write for StdConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads and writes through a shared reference, as `&TcpStream` does (a connection listed in
/// [`super::Wakeable`] is only lent out).
impl io::Read for &StdConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            StdConn::Tcp(s) => (&*s).read(buf),
            StdConn::Unix(s) => (&*s).read(buf),
        }
    }
}

impl io::Write for &StdConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            StdConn::Tcp(s) => (&*s).write(buf),
            StdConn::Unix(s) => (&*s).write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::os::fd::AsFd for StdConn {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            StdConn::Tcp(s) => s.as_fd(),
            StdConn::Unix(s) => s.as_fd(),
        }
    }
}

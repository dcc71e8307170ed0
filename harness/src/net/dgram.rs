//! Datagram sockets (`SOCK_DGRAM` over UDP and Unix socket files): binding with the same socket
//! file safety as listeners, `recvfrom` that reports truncation (`MSG_TRUNC`), and the peer
//! address of either family. The reference server, the client and the engine use these.

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use socket2::{Domain, MaybeUninitSlice, SockAddr, SockRef, Socket, Type};
use tokio::io::Interest;

use super::bind_error;
use super::{clear_stale_socket_of, unix_sockaddr, ListenOpts, SocketFile};
use crate::addr::{check_unix_path, Endpoint};
use crate::error::{Error, Result};

/// The largest UDP payload over IPv4 (65,535 - 8 - 20).
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// Where a datagram came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A UDP sender's address.
    Udp(SocketAddr),
    /// A Unix datagram socket's path; `None`: an unnamed socket, which cannot be answered.
    Unix(Option<PathBuf>),
    /// A Unix datagram socket's name in Linux's abstract namespace.
    Abstract(Vec<u8>),
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Udp(a) => write!(f, "{a}"),
            Peer::Unix(Some(p)) => write!(f, "{}", p.display()),
            Peer::Unix(None) => f.write_str("an unnamed unix socket"),
            Peer::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
        }
    }
}

impl Peer {
    fn from_sockaddr(a: &SockAddr) -> Peer {
        match a.as_socket() {
            Some(s) => Peer::Udp(s),
            None => match a.as_abstract_namespace() {
                Some(name) => Peer::Abstract(name.to_vec()),
                None => Peer::Unix(a.as_pathname().map(PathBuf::from)),
            },
        }
    }

    /// The address to send to.
    pub fn sockaddr(&self) -> io::Result<SockAddr> {
        match self {
            Peer::Udp(a) => Ok(SockAddr::from(*a)),
            Peer::Unix(Some(p)) => SockAddr::unix(p),
            Peer::Unix(None) => Err(io::Error::new(io::ErrorKind::AddrNotAvailable, "an unnamed unix socket")),
            Peer::Abstract(name) => unix_sockaddr(&Endpoint::AbstractDgram(name.clone()))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string())),
        }
    }

    /// The peer of `endpoint`: where its datagrams come from.
    pub fn of(endpoint: &Endpoint) -> Option<Peer> {
        match endpoint {
            Endpoint::Udp(a) => Some(Peer::Udp(*a)),
            Endpoint::UnixDgram(p) => Some(Peer::Unix(Some(p.clone()))),
            Endpoint::AbstractDgram(n) => Some(Peer::Abstract(n.clone())),
            _ => None,
        }
    }
}

/// A datagram socket in tokio's event loop.
#[derive(Debug)]
pub enum Dgram {
    /// A UDP socket.
    Udp(tokio::net::UdpSocket),
    /// A Unix datagram socket (a path or an abstract name).
    Unix(tokio::net::UnixDatagram),
}

/// A bound datagram socket, the address it really has, and the socket file it owns (removed
/// when this is dropped).
#[derive(Debug)]
pub struct DgramBound {
    /// The bound socket.
    pub socket: Socket,
    /// Its address, with the port the system chose when 0 was asked.
    pub endpoint: Endpoint,
    /// The Unix socket file this bind created, removed on drop; `None` over UDP and for abstract
    /// names.
    pub socket_file: Option<SocketFile>,
}

/// Bind a datagram socket at `endpoint` (UDP port 0: a free port). A Unix path gets the stream
/// listener's rules: a stale socket is replaced, a live one is "in use", anything else is refused
/// untouched, and the file has `opts.unix_mode` from its creation.
pub fn bind_dgram(endpoint: &Endpoint, opts: &ListenOpts) -> Result<DgramBound> {
    let bind_err = bind_error(endpoint);
    match endpoint {
        Endpoint::Udp(addr) => {
            let socket = Socket::new(Domain::for_address(*addr), Type::DGRAM, None).map_err(bind_err)?;
            socket.set_cloexec(true).map_err(bind_err)?;
            socket.bind(&(*addr).into()).map_err(bind_err)?;
            let local = socket.local_addr()?.as_socket().ok_or_else(|| bind_err(io::ErrorKind::InvalidInput.into()))?;
            Ok(DgramBound { socket, endpoint: Endpoint::Udp(local), socket_file: None })
        }
        Endpoint::UnixDgram(path) => {
            check_unix_path(path)?;
            clear_stale_socket_of(path, Type::DGRAM)?;
            let socket = Socket::new(Domain::UNIX, Type::DGRAM, None).map_err(bind_err)?;
            socket.set_cloexec(true).map_err(bind_err)?;
            let socket_file = super::bind_socket_file(&socket, endpoint, path, opts.unix_mode)?;
            Ok(DgramBound { socket, endpoint: endpoint.clone(), socket_file: Some(socket_file) })
        }
        Endpoint::AbstractDgram(_) => {
            let socket = Socket::new(Domain::UNIX, Type::DGRAM, None).map_err(bind_err)?;
            socket.set_cloexec(true).map_err(bind_err)?;
            socket.bind(&unix_sockaddr(endpoint)?).map_err(bind_err)?;
            Ok(DgramBound { socket, endpoint: endpoint.clone(), socket_file: None })
        }
        other => Err(Error::Usage(format!("{other} is not a datagram address"))),
    }
}

/// A client's datagram socket for talking to `server`: UDP on a free port of the same family;
/// Unix on a fresh path in a new temp dir (an unnamed datagram socket cannot be answered),
/// removed with the dir when the returned guard drops; an abstract server, a fresh abstract name.
pub fn client_socket(server: &Endpoint) -> Result<(Dgram, Option<tempfile::TempDir>)> {
    let (socket, dir) = bind_client(server)?;
    Ok((Dgram::from_socket(socket)?, dir))
}

/// [`client_socket`], bound but blocking and outside any runtime.
fn bind_client(server: &Endpoint) -> Result<(Socket, Option<tempfile::TempDir>)> {
    let local = match server {
        Endpoint::Udp(_) => super::loopback_endpoint(server.transport(), Path::new("")),
        Endpoint::UnixDgram(_) => {
            // A fresh dir of its own: no stale file to clear, and the file goes with the dir (so
            // no socket-file guard, which would remove it while the socket is still in use).
            let dir = tempfile::Builder::new().prefix("sockcheck-dgram-").tempdir()?;
            let ep = Endpoint::UnixDgram(dir.path().join("client.sock"));
            let bind_err = bind_error(&ep);
            let socket = Socket::new(Domain::UNIX, Type::DGRAM, None).map_err(bind_err)?;
            socket.set_cloexec(true).map_err(bind_err)?;
            socket.bind(&unix_sockaddr(&ep)?).map_err(bind_err)?;
            return Ok((socket, Some(dir)));
        }
        Endpoint::AbstractDgram(_) => Endpoint::AbstractDgram(super::fresh_abstract_name()),
        other => return Err(Error::Usage(format!("{other} is not a datagram address"))),
    };
    Ok((bind_dgram(&local, &ListenOpts::default())?.socket, None))
}

/// One `recvmsg` into `buf` with `flags`: length, cut (`MSG_TRUNC`), sender.
fn recv_once(sock: SockRef<'_>, buf: &mut [u8], flags: i32) -> io::Result<(usize, bool, Peer)> {
    // SAFETY: an initialised buffer seen as maybe-uninitialised; recvmsg only writes to it.
    let raw: &mut [MaybeUninit<u8>] =
        unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr() as *mut MaybeUninit<u8>, buf.len()) };
    let (n, got_flags, from) = sock.recv_from_vectored_with_flags(&mut [MaybeUninitSlice::new(raw)], flags)?;
    Ok((n, got_flags.is_truncated(), Peer::from_sockaddr(&from)))
}

/// A blocking datagram socket for the reference client, with its temp dir (Unix) that goes
/// when it drops.
#[derive(Debug)]
pub struct StdDgram {
    socket: Socket,
    server: Peer,
    dir: Option<tempfile::TempDir>,
}

impl StdDgram {
    /// A socket of its own for talking to `server` (see [`client_socket`]).
    pub fn for_server(server: &Endpoint) -> Result<StdDgram> {
        let peer = Peer::of(server).ok_or_else(|| Error::Usage(format!("{server} is not a datagram address")))?;
        let (socket, dir) = bind_client(server)?;
        // Connected over UDP, so that the kernel says "connection refused" (an ICMP port
        // unreachable) when nothing listens there, rather than a silence.
        if let Peer::Udp(_) = &peer {
            socket.connect(&peer.sockaddr()?).map_err(bind_error(server))?;
        }
        // Room for the largest datagram both ways, over Unix sockets too.
        let _ = socket.set_send_buffer_size(1 << 18);
        let _ = socket.set_recv_buffer_size(1 << 18);
        Ok(StdDgram { socket, server: peer, dir })
    }

    /// The temp dir that holds its socket file (Unix).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// Send one datagram to the server.
    pub fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        self.socket.send_to(bytes, &self.server.sockaddr()?)
    }

    /// The next datagram within `timeout` (`None`: none came), and whether the server sent it.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<(usize, bool, bool)>> {
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // Under a microsecond would round to a zero timeval: no timeout at all.
            self.socket.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            match recv_once(SockRef::from(&self.socket), buf, 0) {
                Ok((n, cut, from)) => return Ok(Some((n, cut, from == self.server))),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Throw away every datagram already waiting (late or duplicate replies); how many there were.
    pub fn drain(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        loop {
            match recv_once(SockRef::from(&self.socket), buf, nix::libc::MSG_DONTWAIT) {
                Ok(_) => n += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(n),
                Err(e) => return Err(e),
            }
        }
    }
}

/// `recvfrom` on a blocking socket: the datagram's length in `buf`, whether the kernel cut it
/// (`MSG_TRUNC`), and who sent it. What [`Dgram::recv_from`] does, for a thread of its own.
pub fn recv_from_blocking(socket: &Socket, buf: &mut [u8]) -> io::Result<(usize, bool, Peer)> {
    recv_once(SockRef::from(socket), buf, 0)
}

/// `sendto` on a blocking socket.
pub fn send_to_blocking(socket: &Socket, bytes: &[u8], to: &Peer) -> io::Result<usize> {
    socket.send_to(bytes, &to.sockaddr()?)
}

impl Dgram {
    /// Take datagrams from `to` only, and hear from the kernel when nothing listens there: a
    /// UDP send to a port with no socket comes back as "connection refused" (ICMP port
    /// unreachable) on the next call, where an unconnected socket hears nothing.
    pub fn connect(&self, to: &Endpoint) -> io::Result<()> {
        let peer = Peer::of(to).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a datagram address"))?;
        self.sock().connect(&peer.sockaddr()?)
    }

    /// The error the kernel holds for this socket, if any (`SO_ERROR`, then cleared): on a
    /// connected UDP socket, "connection refused" when an ICMP port unreachable came back.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock().take_error()
    }

    /// Hand a bound socket to the event loop (call it inside a tokio runtime).
    pub fn from_socket(socket: Socket) -> io::Result<Dgram> {
        socket.set_nonblocking(true)?;
        Ok(match socket.domain()? {
            Domain::UNIX => Dgram::Unix(tokio::net::UnixDatagram::from_std(socket.into())?),
            _ => Dgram::Udp(tokio::net::UdpSocket::from_std(socket.into())?),
        })
    }

    fn sock(&self) -> SockRef<'_> {
        match self {
            Dgram::Udp(s) => SockRef::from(s),
            Dgram::Unix(s) => SockRef::from(s),
        }
    }

    /// `SO_SNDBUF` and `SO_RCVBUF` of at least `n` bytes (the kernel may double them).
    pub fn set_buffers(&self, n: usize) -> io::Result<()> {
        self.sock().set_send_buffer_size(n)?;
        self.sock().set_recv_buffer_size(n)
    }

    /// The next datagram into `buf`: its length in the buffer, whether the kernel cut it
    /// (`MSG_TRUNC`: it was longer than `buf`), and who sent it.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, bool, Peer)> {
        let mut once = || recv_once(self.sock(), &mut *buf, 0);
        loop {
            let r = match self {
                Dgram::Udp(s) => {
                    s.readable().await?;
                    s.try_io(Interest::READABLE, &mut once)
                }
                Dgram::Unix(s) => {
                    s.readable().await?;
                    s.try_io(Interest::READABLE, &mut once)
                }
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }

    /// Send one datagram to `to`.
    pub async fn send_to(&self, bytes: &[u8], to: &Peer) -> io::Result<usize> {
        match (self, to) {
            (Dgram::Udp(s), Peer::Udp(a)) => s.send_to(bytes, a).await,
            (Dgram::Unix(s), Peer::Unix(Some(p))) => s.send_to(bytes, p).await,
            (Dgram::Unix(s), Peer::Abstract(_)) => {
                let to = to.sockaddr()?;
                loop {
                    s.writable().await?;
                    match s.try_io(Interest::WRITABLE, || SockRef::from(s).send_to(bytes, &to)) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        other => return other,
                    }
                }
            }
            (_, Peer::Unix(None)) => Err(io::Error::new(io::ErrorKind::AddrNotAvailable, "an unnamed unix socket")),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "address of the other family")),
        }
    }

    /// Send one datagram to `endpoint`.
    pub async fn send_to_endpoint(&self, bytes: &[u8], endpoint: &Endpoint) -> io::Result<usize> {
        let peer =
            Peer::of(endpoint).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a datagram address"))?;
        self.send_to(bytes, &peer).await
    }

    /// Where this socket is bound.
    pub fn local(&self) -> Option<Peer> {
        self.sock().local_addr().ok().map(|a| Peer::from_sockaddr(&a))
    }
}

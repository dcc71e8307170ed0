//! Sockets: binding listeners (with the tutorial's `SO_REUSEADDR` and `listen(backlog)`), safe Unix
//! socket files, and connecting with a deadline. Both the reference server and the runner use these.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use crate::addr::{check_unix_path, Endpoint, Transport};
use crate::error::{Error, Result};

mod conn;
pub mod dgram;
pub mod listeners;
mod wakeable;

pub use conn::{connect, connect_with, Conn, ConnStream, LingerHandle, StdConn};
pub use wakeable::{Listed, Wakeable};

pub use dgram::{bind_dgram, Dgram, DgramBound, Peer, StdDgram};

/// How to bind a listener.
#[derive(Clone, Debug)]
pub struct ListenOpts {
    /// `listen(backlog)`; the tutorial's 5.
    pub backlog: i32,
    /// Permission bits of a Unix socket file, set right after bind() and before listen() (with
    /// the usual umask the file is narrower than that until then, never wider).
    pub unix_mode: u32,
}

impl Default for ListenOpts {
    fn default() -> Self {
        ListenOpts { backlog: 5, unix_mode: 0o600 }
    }
}

// StdListener, AsyncListener, StdConn and Conn each have a `Tcp` and a `Unix` variant but are
// not one concept: listeners and connected streams, blocking (std) and in tokio's event loop,
// with different methods; one generic enum would only move the matches. What they share is the
// socket (`SockRef`), which each gives through `socket()`/`sock()`.
/// A bound, listening socket (the blocking std type; the concurrent server hands it to tokio).
#[derive(Debug)]
pub enum StdListener {
    /// A TCP listener.
    Tcp(std::net::TcpListener),
    /// A Unix stream listener (a path or an abstract name).
    Unix(StdUnixListener),
}

impl StdListener {
    /// The socket, for options and `shutdown(2)`.
    pub fn socket(&self) -> SockRef<'_> {
        match self {
            StdListener::Tcp(l) => SockRef::from(l),
            StdListener::Unix(l) => SockRef::from(l),
        }
    }

    /// The next connection (`TCP_NODELAY` set over TCP) and who it is from, blocking.
    pub fn accept(&self) -> io::Result<(StdConn, String)> {
        match self {
            StdListener::Tcp(l) => {
                let (s, peer) = l.accept()?;
                let _ = s.set_nodelay(true);
                Ok((StdConn::Tcp(s), peer.to_string()))
            }
            StdListener::Unix(l) => Ok((StdConn::Unix(l.accept()?.0), "unix peer".to_string())),
        }
    }
}

/// A listening socket in tokio's event loop (the reference server, the proxy, `check-client`'s
/// stand-in server).
#[derive(Debug)]
pub enum AsyncListener {
    /// A TCP listener.
    Tcp(tokio::net::TcpListener),
    /// A Unix stream listener (a path or an abstract name).
    Unix(tokio::net::UnixListener),
}

impl AsyncListener {
    /// Hand a bound listener to the event loop (call it inside a tokio runtime).
    pub fn from_std(socket: StdListener) -> io::Result<Self> {
        Ok(match socket {
            StdListener::Tcp(l) => {
                l.set_nonblocking(true)?;
                AsyncListener::Tcp(tokio::net::TcpListener::from_std(l)?)
            }
            StdListener::Unix(l) => {
                l.set_nonblocking(true)?;
                AsyncListener::Unix(tokio::net::UnixListener::from_std(l)?)
            }
        })
    }

    /// The next connection (`TCP_NODELAY` set over TCP) and who it is from.
    pub async fn accept(&self) -> io::Result<(Conn, String)> {
        match self {
            AsyncListener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((Conn::from(s), peer.to_string()))
            }
            AsyncListener::Unix(l) => Ok((Conn::from(l.accept().await?.0), "unix peer".to_string())),
        }
    }
}

/// A listening socket, the address it really has (the port when 0 was asked), and the socket
/// file it owns, removed when the listener is dropped.
#[derive(Debug)]
pub struct Listener {
    /// The listening socket.
    pub socket: StdListener,
    /// Its address, with the port the system chose when 0 was asked.
    pub endpoint: Endpoint,
    /// The Unix socket file this listener created, removed on drop; `None` over TCP and for
    /// abstract names.
    pub socket_file: Option<SocketFile>,
}

/// A Unix socket file this process created. Dropping it removes the file, but only while the
/// path still holds the same inode: a file someone else put there since is left alone.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    /// The socket file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle that removes this socket file (same checks as drop) from elsewhere, e.g. right
    /// before `process::exit` on a second signal, where destructors do not run.
    pub fn remover(&self) -> SocketFileRemover {
        SocketFileRemover { path: self.path.clone(), dev: self.dev, ino: self.ino }
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        remove_if_same(&self.path, self.dev, self.ino);
    }
}

/// See [`SocketFile::remover`].
#[derive(Clone, Debug)]
pub struct SocketFileRemover {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFileRemover {
    /// Remove the socket file, if the path still holds the same one.
    pub fn remove(&self) {
        remove_if_same(&self.path, self.dev, self.ino);
    }
}

fn remove_if_same(path: &Path, dev: u64, ino: u64) {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() && meta.dev() == dev && meta.ino() == ino {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn file_kind(ft: std::fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_file() {
        "regular file"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_char_device() || ft.is_block_device() {
        "device"
    } else {
        "special file"
    }
}

/// Make `path` free for a new Unix listener: nothing there is fine; a stale socket (nobody
/// listening) is removed; a live socket is "address in use"; anything else is refused untouched.
pub fn clear_stale_socket(path: &Path) -> Result<()> {
    clear_stale_socket_of(path, Type::STREAM)
}

/// [`clear_stale_socket`] for a socket of this type: a live datagram socket answers a datagram
/// `connect()`, not a stream one.
pub fn clear_stale_socket_of(path: &Path, kind: Type) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::Bind { addr: format!("unix:{}", path.display()), reason: e }),
    };
    if !meta.file_type().is_socket() {
        return Err(Error::NotASocket { path: path.to_path_buf(), kind: file_kind(meta.file_type()) });
    }
    // Non-blocking: a blocking connect to a live server with a full backlog would wait forever.
    let probe = Socket::new(Domain::UNIX, kind, None)
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
        .and_then(|s| SockAddr::unix(path).and_then(|a| s.connect(&a)));
    match probe {
        Ok(()) => Err(Error::AddrInUse { addr: format!("unix:{}", path.display()) }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            // Check again right before removing: only ever unlink a socket.
            let again = std::fs::symlink_metadata(path)?;
            if again.file_type().is_socket() && again.ino() == meta.ino() {
                std::fs::remove_file(path)?;
            }
            Ok(())
        }
        // A full backlog answers EAGAIN: someone is listening.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            Err(Error::AddrInUse { addr: format!("unix:{}", path.display()) })
        }
        Err(e) => Err(Error::Bind { addr: format!("unix:{}", path.display()), reason: e }),
    }
}

fn unix_sockaddr(endpoint: &Endpoint) -> Result<SockAddr> {
    let addr = match endpoint {
        Endpoint::Unix(path) | Endpoint::UnixDgram(path) => SockAddr::unix(path),
        Endpoint::Abstract(name) | Endpoint::AbstractDgram(name) => {
            use std::os::unix::ffi::OsStrExt;
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(name);
            SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes))
        }
        Endpoint::Tcp(_) | Endpoint::Udp(_) => unreachable!("unix_sockaddr on an IP endpoint"),
    };
    addr.map_err(|e| Error::BadAddress { input: endpoint.to_string(), reason: e.to_string() })
}

/// Bind `socket` at `path` (the path of `endpoint`) and give the socket file `mode`. Not by
/// setting the umask around bind(): the umask is the whole process's, so a program spawned by
/// another thread meanwhile would inherit it, and two binds at once could leave it changed for good
/// (seen: a browser started later could not use its own profile directory). The file is made with
/// the process's umask (for a socket 0755 under the usual 022: nobody else may connect, which needs
/// write permission), then set to `mode` before anything listens on it.
pub(crate) fn bind_socket_file(socket: &Socket, endpoint: &Endpoint, path: &Path, mode: u32) -> Result<SocketFile> {
    use std::os::unix::fs::PermissionsExt;
    socket.bind(&unix_sockaddr(endpoint)?).map_err(bind_error(endpoint))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o777))
        .map_err(|e| Error::Bind { addr: endpoint.to_string(), reason: e })?;
    let meta = std::fs::symlink_metadata(path)?;
    Ok(SocketFile { path: path.to_path_buf(), dev: meta.dev(), ino: meta.ino() })
}

/// A loopback endpoint of `transport` that nothing uses yet: port 0 on `127.0.0.1` or `[::1]`
/// (the bind picks the port), `socket_file` for the transports with a socket file (unused by the
/// others), or a fresh abstract name. The one place a transport becomes an address to bind.
pub fn loopback_endpoint(transport: Transport, socket_file: &Path) -> Endpoint {
    let v4 = ([127, 0, 0, 1], 0).into();
    let v6 = (std::net::Ipv6Addr::LOCALHOST, 0).into();
    match transport {
        Transport::Tcp => Endpoint::Tcp(v4),
        Transport::Tcp6 => Endpoint::Tcp(v6),
        Transport::Udp => Endpoint::Udp(v4),
        Transport::Udp6 => Endpoint::Udp(v6),
        Transport::Unix => Endpoint::Unix(socket_file.to_path_buf()),
        Transport::UnixDgram => Endpoint::UnixDgram(socket_file.to_path_buf()),
        Transport::Abstract => Endpoint::Abstract(fresh_abstract_name()),
        Transport::AbstractDgram => Endpoint::AbstractDgram(fresh_abstract_name()),
    }
}

/// A free endpoint of `transport` ([`loopback_endpoint`]): a Unix path in a new temp dir (which
/// lives as long as the returned handle).
pub fn fresh_endpoint(transport: Transport) -> io::Result<(Endpoint, Option<tempfile::TempDir>)> {
    if !transport.has_socket_file() {
        return Ok((loopback_endpoint(transport, Path::new("")), None));
    }
    let dir = tempfile::Builder::new().prefix("sockcheck-").tempdir()?;
    Ok((loopback_endpoint(transport, &dir.path().join("echo.sock")), Some(dir)))
}

/// A name in Linux's abstract namespace that nobody else uses: the process id, a counter and
/// the clock (names are per network namespace and vanish with their socket).
pub fn fresh_abstract_name() -> Vec<u8> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("sockcheck-{}-{}-{nanos:x}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)).into_bytes()
}

/// Why this machine cannot run `transport`, if it cannot: no IPv6 loopback (a kernel or a
/// container without IPv6), or abstract names on a system other than Linux.
pub fn transport_unsupported(transport: Transport) -> Option<String> {
    match transport {
        Transport::Tcp6 | Transport::Udp6 => {
            let ty = if transport == Transport::Tcp6 { Type::STREAM } else { Type::DGRAM };
            let addr: std::net::SocketAddr = (std::net::Ipv6Addr::LOCALHOST, 0).into();
            match Socket::new(Domain::IPV6, ty, None).and_then(|s| s.bind(&addr.into())) {
                Ok(()) => None,
                Err(e) => Some(format!("this machine has no IPv6 loopback ([::1]: {e})")),
            }
        }
        Transport::Abstract | Transport::AbstractDgram if !cfg!(any(target_os = "linux", target_os = "android")) => {
            Some("abstract socket names (@name) exist only on Linux".into())
        }
        _ => None,
    }
}

/// How a failed `bind()` at `endpoint` is reported: "address in use" on its own.
pub(crate) fn bind_error(endpoint: &Endpoint) -> impl Fn(io::Error) -> Error + Copy + '_ {
    move |source| {
        if source.kind() == io::ErrorKind::AddrInUse {
            Error::AddrInUse { addr: endpoint.to_string() }
        } else {
            Error::Bind { addr: endpoint.to_string(), reason: source }
        }
    }
}

/// Bind and listen. TCP sets `SO_REUSEADDR` first, so a restarted server binds at once.
pub fn bind(endpoint: &Endpoint, opts: &ListenOpts) -> Result<Listener> {
    let bind_err = bind_error(endpoint);
    match endpoint {
        Endpoint::Tcp(addr) => {
            let socket = Socket::new(Domain::for_address(*addr), Type::STREAM, None).map_err(bind_err)?;
            socket.set_reuse_address(true).map_err(bind_err)?;
            socket.set_cloexec(true).map_err(bind_err)?;
            socket.bind(&(*addr).into()).map_err(bind_err)?;
            socket.listen(opts.backlog).map_err(bind_err)?;
            let listener: std::net::TcpListener = socket.into();
            let local = listener.local_addr()?;
            Ok(Listener { socket: StdListener::Tcp(listener), endpoint: Endpoint::Tcp(local), socket_file: None })
        }
        Endpoint::Unix(path) => {
            check_unix_path(path)?;
            clear_stale_socket(path)?;
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(bind_err)?;
            socket.set_cloexec(true).map_err(bind_err)?;
            let socket_file = bind_socket_file(&socket, endpoint, path, opts.unix_mode)?;
            socket.listen(opts.backlog).map_err(bind_err)?;
            Ok(Listener {
                socket: StdListener::Unix(socket.into()),
                endpoint: endpoint.clone(),
                socket_file: Some(socket_file),
            })
        }
        Endpoint::Abstract(_) => {
            let sockaddr = unix_sockaddr(endpoint)?;
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(bind_err)?;
            socket.set_cloexec(true).map_err(bind_err)?;
            socket.bind(&sockaddr).map_err(bind_err)?;
            socket.listen(opts.backlog).map_err(bind_err)?;
            Ok(Listener { socket: StdListener::Unix(socket.into()), endpoint: endpoint.clone(), socket_file: None })
        }
        Endpoint::Udp(_) | Endpoint::UnixDgram(_) | Endpoint::AbstractDgram(_) => {
            Err(Error::Usage(format!("{endpoint} is a datagram address: nothing listens there (see bind_dgram)")))
        }
    }
}

/// An address where nothing listens: connects to it are refused, and while this is held nobody
/// else can take the address.
pub struct Refusing {
    /// The address: connects to it are refused.
    pub endpoint: Endpoint,
    /// TCP: bound, never listening.
    _socket: Option<Socket>,
    /// Unix: the file of a socket that was bound and closed (removed on drop).
    _socket_file: Option<SocketFile>,
}

/// Hold `endpoint` without listening (port 0: a free port), so that a connect to it is refused
/// (`ECONNREFUSED`) at once: a TCP socket bound but never listening; over Unix sockets, a socket
/// file whose socket is closed.
pub fn bind_refusing(endpoint: &Endpoint) -> Result<Refusing> {
    let bind_err = |source: io::Error| Error::Bind { addr: endpoint.to_string(), reason: source };
    let domain = match endpoint {
        Endpoint::Tcp(addr) => Domain::for_address(*addr),
        _ => Domain::UNIX,
    };
    let socket = Socket::new(domain, Type::STREAM, None).map_err(bind_err)?;
    socket.set_cloexec(true).map_err(bind_err)?;
    match endpoint {
        Endpoint::Tcp(addr) => {
            socket.bind(&(*addr).into()).map_err(bind_err)?;
            let local = socket.local_addr()?.as_socket().ok_or_else(|| bind_err(io::ErrorKind::InvalidInput.into()))?;
            Ok(Refusing { endpoint: Endpoint::Tcp(local), _socket: Some(socket), _socket_file: None })
        }
        Endpoint::Unix(path) => {
            check_unix_path(path)?;
            clear_stale_socket(path)?;
            socket.bind(&unix_sockaddr(endpoint)?).map_err(bind_err)?;
            drop(socket);
            let meta = std::fs::symlink_metadata(path)?;
            let socket_file = SocketFile { path: path.clone(), dev: meta.dev(), ino: meta.ino() };
            Ok(Refusing { endpoint: endpoint.clone(), _socket: None, _socket_file: Some(socket_file) })
        }
        Endpoint::Udp(_) | Endpoint::UnixDgram(_) | Endpoint::AbstractDgram(_) => {
            Err(Error::Usage(format!("{endpoint} is a datagram address: nothing connects there")))
        }
        // A closed abstract socket leaves no name behind: connects to it are refused.
        Endpoint::Abstract(_) => Ok(Refusing { endpoint: endpoint.clone(), _socket: None, _socket_file: None }),
    }
}

/// What to do after `accept()` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptFailure {
    /// Out of descriptors or memory: no event says when that ends, so pause this long instead of
    /// spinning, then accept again.
    Backoff(Duration),
    /// That one connection failed (e.g. reset while queued): accept the next at once.
    Next,
}

/// Classify an `accept()` error; with `log`, say it on stderr as `WHO: accept on ADDR: ERROR`
/// (a connection aborted while queued is not worth a line).
pub fn accept_failed(e: &io::Error, log: Option<(&str, &Endpoint)>) -> AcceptFailure {
    use nix::errno::Errno;
    let exhausted = [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM]
        .iter()
        .any(|&errno| e.raw_os_error() == Some(errno as i32));
    match (exhausted, log) {
        (true, Some((who, at))) => eprintln!("{who}: accept on {at}: {e}; retrying in 100 ms"),
        (false, Some((who, at))) if e.kind() != io::ErrorKind::ConnectionAborted => {
            eprintln!("{who}: accept on {at}: {e}")
        }
        _ => {}
    }
    if exhausted {
        AcceptFailure::Backoff(Duration::from_millis(100))
    } else {
        AcceptFailure::Next
    }
}

/// Make `cmd` start in a session of its own (so also a process group of its own, whose id is its
/// pid) with the terminal `slave` as its controlling terminal, as a login shell has. Here because
/// it is the crate's one `unsafe` outside sockets: every raw descriptor and `unsafe` block lives in
/// `net`.
pub fn in_session_with_terminal(cmd: &mut std::process::Command, slave: std::os::fd::OwnedFd) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec; it makes two system calls and
    // neither allocates nor takes a lock.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::setsid()?;
            rustix::process::ioctl_tiocsctty(&slave)?;
            Ok(())
        });
    }
}

/// Raise the soft open-file limit to the hard limit, so a thousand connections need no `ulimit -n`.
/// Returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(_) => soft,
        },
        Ok((soft, _)) => soft,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Binds on many threads at once leave the process's umask alone (programs spawned meanwhile
    /// inherit it) and give each socket file the asked mode.
    #[test]
    fn concurrent_binds_keep_the_umask_and_set_the_mode() {
        let before = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        nix::sys::stat::umask(before);
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let dir = dir.path();
                s.spawn(move || {
                    for i in 0..50 {
                        let ep = Endpoint::Unix(dir.join(format!("s{t}-{i}.sock")));
                        let l = bind(&ep, &ListenOpts { backlog: 1, unix_mode: 0o600 }).unwrap();
                        let mode = std::fs::metadata(ep.unix_path().unwrap()).unwrap().permissions().mode();
                        assert_eq!(mode & 0o777, 0o600);
                        drop(l);
                    }
                });
            }
        });
        let after = nix::sys::stat::umask(before);
        assert_eq!(after, before, "the umask changed");
    }
}

//! The reference server: the tutorial's connection loop around the communication loop of [`crate::proto`].
//!
//! - `Sequential` is the tutorial: one client at a time, on one blocking thread, through the
//!   blocking driver [`crate::proto::serve`]; the others wait in the listen backlog and are served
//!   in arrival order.
//! - `Concurrent` serves every client at once. With few clients (up to [`ServerConfig::threads`])
//!   each connection has a blocking thread of its own running the same blocking loop (a `recv` and
//!   a `send` a message and nothing else: as fast as a plain `std::io::copy` echo); with more, they
//!   are tokio tasks (an event loop: an `epoll_wait` more per message, about 2 us on a Unix socket,
//!   but 1.5 KiB per idle connection instead of a thread, and a fair share of the CPU for each).
//!
//! A connection that errors (reset, vanished peer, broken pipe) ends only itself, with one line on
//! stderr. [`run`] takes a bound [`Listener`] and a [`CancellationToken`], so tests bind port 0
//! and stop it when they like; [`spawn`] does both on a thread of its own.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::addr::Endpoint;
use crate::error::{Error, Result};
use crate::net::{self, ListenOpts, Listener, StdListener};
use crate::proto::{serve_async_lean, EchoConn, PollReadReady, Transform};

/// How connections are served (defined in `sockcheck-proto`, which needs no harness).
pub use sockcheck_proto::Mode;

/// What the server does with each connection.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub mode: Mode,
    /// Bytes per `recv`: [`default_bufsize`] unless told.
    pub bufsize: usize,
    pub transform: Transform,
    /// Concurrent mode: at most this many connections are served; the rest wait in the backlog.
    pub max_conns: Option<usize>,
    /// Concurrent mode: while the server holds at most this many connections, each is served on a
    /// thread of its own (a blocking `recv` and `send` per message, the lowest latency there is);
    /// beyond that, by tokio tasks (an event loop: about 1.5 KiB per idle connection), and the
    /// threads hand theirs to the event loop between two messages, so that every connection gets
    /// its share of the CPU. 0: tasks only.
    pub threads: usize,
    /// Close a connection that has neither sent nor taken a byte for this long.
    pub idle_timeout: Option<Duration>,
    /// On shutdown, how long in-flight replies get to finish.
    pub grace: Duration,
    /// One line on stderr per failed connection.
    pub log_errors: bool,
}

/// Bytes per `recv` unless told: the tutorial's 1024 in sequential mode, which is the tutorial's
/// server; 64 KiB in concurrent mode, the fast one (a KiB a `recv` caps a stream at what 128
/// system calls per 64 KiB allow, about a quarter of a plain `std::io::copy` echo's throughput).
/// An idle connection on the event loop holds no buffer either way.
pub fn default_bufsize(mode: Mode) -> usize {
    match mode {
        Mode::Sequential => 1024,
        Mode::Concurrent => 64 * 1024,
    }
}

/// Concurrent mode's default for [`ServerConfig::threads`].
pub const DEFAULT_THREADS: usize = 16;

/// The most [`ServerConfig::threads`] can be: the threads come from tokio's blocking pool, which
/// runs at most 512 at once (one more is the sequential server's) and would queue the rest, unserved.
pub const MAX_THREADS: usize = 256;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            mode: Mode::Sequential,
            bufsize: default_bufsize(Mode::Sequential),
            transform: Transform::Upper,
            max_conns: None,
            threads: DEFAULT_THREADS,
            idle_timeout: None,
            grace: Duration::from_secs(5),
            log_errors: true,
        }
    }
}

/// Errors from `accept()` that mean "out of resources for now": pause, then accept again.
fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc_errno::EMFILE | libc_errno::ENFILE | libc_errno::ENOBUFS | libc_errno::ENOMEM))
}

mod libc_errno {
    pub const EMFILE: i32 = nix::errno::Errno::EMFILE as i32;
    pub const ENFILE: i32 = nix::errno::Errno::ENFILE as i32;
    pub const ENOBUFS: i32 = nix::errno::Errno::ENOBUFS as i32;
    pub const ENOMEM: i32 = nix::errno::Errno::ENOMEM as i32;
}

/// Serve connections from `listener` until `shutdown` is cancelled, then let in-flight replies
/// finish (up to `cfg.grace`) and return. The Unix socket file is removed when `listener` drops.
pub async fn run(listener: Listener, cfg: ServerConfig, shutdown: CancellationToken) -> Result<()> {
    if cfg.bufsize == 0 {
        return Err(Error::Usage("bufsize must be at least 1".into()));
    }
    if cfg.mode == Mode::Sequential {
        return run_sequential(listener, cfg, shutdown).await;
    }
    let Listener { socket, endpoint, socket_file } = listener;
    let accept = net::AsyncListener::from_std(socket)?;
    let cfg = Arc::new(cfg);
    let tracker = TaskTracker::new();
    let permits = cfg.max_conns.map(|n| Arc::new(Semaphore::new(n)));
    let threads = Threads::new(cfg.threads.min(MAX_THREADS));
    let mut seq: u64 = 0;
    loop {
        // Take a slot before accepting, so clients over the limit wait in the kernel's backlog.
        let permit = match &permits {
            Some(sem) => tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                p = sem.clone().acquire_owned() => Some(p.expect("semaphore never closed")),
            },
            None => None,
        };
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            r = accept.accept() => r,
        };
        let (conn, peer) = match accepted {
            Ok(c) => c,
            Err(e) if is_resource_exhaustion(&e) => {
                if cfg.log_errors {
                    eprintln!("sockcheck serve: accept on {endpoint}: {e}; retrying in 100 ms");
                }
                // No event says "a descriptor is free again": back off instead of spinning.
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
            Err(e) => {
                if cfg.log_errors && e.kind() != io::ErrorKind::ConnectionAborted {
                    eprintln!("sockcheck serve: accept on {endpoint}: {e}");
                }
                continue;
            }
        };
        seq += 1;
        let served = Served {
            seq,
            peer,
            permit,
            cfg: cfg.clone(),
            stop: shutdown.clone(),
            tracker: tracker.clone(),
            _open: Open::new(&threads),
        };
        let conn = match threads.take_slot(conn.as_raw_fd()) {
            Some(slot) => match conn.into_std() {
                Ok(stream) => {
                    tracker.spawn_blocking(move || serve_on_thread(stream, slot, served));
                    continue;
                }
                Err(e) => {
                    // The descriptor is closed and still listed until `slot` drops at the end of this
                    // arm: harmless, as listed descriptors are shut down only after this loop.
                    served.log(&e);
                    continue;
                }
            },
            None => conn,
        };
        tracker.spawn(serve_on_task(conn, EchoConn::new(cfg.bufsize, cfg.transform), served));
    }
    // The file first: once connecting is refused, the path is already free.
    drop(socket_file);
    drop(accept);
    tracker.close();
    // Threads blocked in `recv` stop reading; what they owe gets the grace period, like a task's.
    threads.serving.shutdown_all(std::net::Shutdown::Read);
    tokio::select! {
        _ = tracker.wait() => {}
        _ = tokio::time::sleep(cfg.grace) => {
            threads.serving.shutdown_all(std::net::Shutdown::Both);
            tracker.wait().await;
        }
    }
    Ok(())
}

/// One accepted connection, wherever it is served.
struct Served {
    seq: u64,
    peer: String,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    cfg: Arc<ServerConfig>,
    stop: CancellationToken,
    tracker: TaskTracker,
    _open: Open,
}

/// Counts the connection among the server's open ones while it lives.
struct Open(Arc<Threads>);

impl Open {
    fn new(threads: &Arc<Threads>) -> Open {
        threads.open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Open(threads.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Served {
    fn log(&self, why: &dyn fmt::Display) {
        if self.cfg.log_errors {
            eprintln!("sockcheck serve: connection #{} from {}: {why}", self.seq, self.peer);
        }
    }
}

async fn serve_on_task(stream: net::Conn, conn: EchoConn, served: Served) {
    if let Err(e) = serve_conn(stream, conn, &served.cfg, &served.stop).await {
        served.log(&e);
    }
    drop(served.permit);
}

/// The connections concurrent mode serves on threads: how many, and their descriptors, so that
/// stopping can wake a thread blocked in `recv` with `shutdown(2)`; and how many the server holds.
///
/// Threads are for a server with few clients. Once it holds more connections than threads, each
/// thread hands its connection to the event loop after its current reply: the kernel shares the CPU
/// among threads, not connections, and 16 threads beside 2 event-loop workers would take most of it
/// for 16 clients and starve the others (1,000 clients: p99 39 ms instead of 26).
struct Threads {
    limit: usize,
    serving: Blocking,
    open: std::sync::atomic::AtomicUsize,
}

/// A thread's place among [`Threads`], for the connection on this descriptor; dropping it frees the
/// place (drop it before the descriptor is closed).
struct Slot {
    threads: Arc<Threads>,
    fd: RawFd,
}

impl Threads {
    fn new(limit: usize) -> Arc<Threads> {
        Arc::new(Threads { limit, serving: Blocking::default(), open: Default::default() })
    }

    /// More connections open than threads to serve them.
    fn crowded(&self) -> bool {
        self.open.load(std::sync::atomic::Ordering::Relaxed) > self.limit
    }

    /// A thread for the connection on `fd`, listed from now on (so stopping reaches it wherever
    /// its thread is), unless every thread is taken or the server is crowded.
    fn take_slot(self: &Arc<Self>, fd: RawFd) -> Option<Slot> {
        let listed = self.serving.list_if(fd, |n| n < self.limit && !self.crowded());
        listed.then(|| Slot { threads: self.clone(), fd })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.threads.serving.unlist(self.fd);
    }
}

/// The descriptors of the connections being served by blocking loops (the sequential server's one,
/// the concurrent server's threads), so that stopping can wake a `recv` or `send` blocked in them
/// with `shutdown(2)`. A descriptor is taken off the list before it is closed or handed on.
#[derive(Default)]
struct Blocking(std::sync::Mutex<std::collections::HashSet<RawFd>>);

impl Blocking {
    /// List `fd` if `room` says yes to the number listed now.
    fn list_if(&self, fd: RawFd, room: impl FnOnce(usize) -> bool) -> bool {
        let mut fds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        room(fds.len()) && fds.insert(fd)
    }

    fn unlist(&self, fd: RawFd) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&fd);
    }

    fn shutdown_all(&self, how: std::net::Shutdown) {
        for &fd in self.0.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            // SAFETY: a listed descriptor is open: it is unlisted (under this lock) before it is closed.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            let _ = socket2::SockRef::from(&fd).shutdown(how);
        }
    }
}

/// Serve a connection with the blocking loop, as the sequential server does (so the thread's only
/// system calls are the `recv` and `send` of each message), to its end or until the server is
/// [crowded](Threads::crowded); then the event loop takes over between two messages.
fn serve_on_thread(mut stream: net::StdConn, slot: Slot, served: Served) {
    let cfg = &served.cfg;
    // Idle timeout: no progress on a recv or a send for that long ends the connection.
    let set = stream.set_read_timeout(cfg.idle_timeout).and_then(|()| stream.set_write_timeout(cfg.idle_timeout));
    if let Err(e) = set {
        drop(slot);
        return served.log(&e);
    }
    let mut conn = EchoConn::new(cfg.bufsize, cfg.transform);
    let mut until = UntilCrowded { stream: &mut stream, threads: &slot.threads, crowded: false };
    let result = crate::proto::serve(&mut until, &mut conn);
    let crowded = until.crowded;
    drop(slot);
    match result {
        Err(_) if crowded => {
            conn.release_buffer();
            match stream.into_async() {
                Ok(stream) => {
                    let tracker = served.tracker.clone();
                    tracker.spawn(serve_on_task(stream, conn, served));
                }
                Err(e) => served.log(&e),
            }
        }
        Err(e) => served.log(&blocking_failure(&e, served.stop.is_cancelled())),
        Ok(_) => {}
    }
}

/// A thread's stream, which stops the loop at its next `recv` (the previous reply all written) once
/// the server is crowded.
struct UntilCrowded<'a> {
    stream: &'a mut net::StdConn,
    threads: &'a Threads,
    crowded: bool,
}

impl io::Read for UntilCrowded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.threads.crowded() {
            self.crowded = true;
            return Err(io::Error::other("handed to the event loop"));
        }
        self.stream.read(buf)
    }
}

impl io::Write for UntilCrowded<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// What went wrong with a connection served by the blocking loop, in the log's words.
fn blocking_failure(e: &io::Error, stopping: bool) -> String {
    match e.kind() {
        _ if stopping => "reply unfinished at shutdown".to_string(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "idle timeout".to_string(),
        _ => e.to_string(),
    }
}

/// What the canceller shares with the sequential server's thread.
#[derive(Default)]
struct Sequential {
    stopping: std::sync::atomic::AtomicBool,
    /// The connection being served, so that cancelling can wake its blocked `recv`.
    serving: Blocking,
}

impl Sequential {
    fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Sequential mode is the tutorial's server, literally: one thread, a blocking `accept()`, and the
/// blocking driver of the communication loop ([`crate::proto::serve`]), so a message costs a `recv`
/// and a `send` and nothing else (no event loop, no wake-ups). Cancelling wakes that thread with
/// `shutdown(2)`: on the listener (stop accepting; the socket file goes at once) and on the
/// connection being served (stop reading; what is owed is still written, up to the grace period).
async fn run_sequential(listener: Listener, cfg: ServerConfig, shutdown: CancellationToken) -> Result<()> {
    let Listener { socket, endpoint, socket_file } = listener;
    // Shared, not duplicated: no descriptor more than the listener itself.
    let socket = Arc::new(socket);
    let state = Arc::new(Sequential::default());
    let (shared, listening) = (state.clone(), socket.clone());
    let grace = cfg.grace;
    let mut worker = tokio::task::spawn_blocking(move || serve_sequentially(&listening, &endpoint, &cfg, &shared));
    let joined = |r: std::result::Result<io::Result<()>, tokio::task::JoinError>| -> Result<()> {
        r.map_err(|e| Error::Io(io::Error::other(e)))?.map_err(Error::Io)
    };
    tokio::select! {
        r = &mut worker => return joined(r),
        _ = shutdown.cancelled() => {}
    }
    state.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    // The file first: once connecting is refused, the path is already free.
    drop(socket_file);
    let _ = socket.socket().shutdown(std::net::Shutdown::Both);
    state.serving.shutdown_all(std::net::Shutdown::Read);
    match tokio::time::timeout(grace, &mut worker).await {
        Ok(r) => joined(r),
        Err(_) => {
            state.serving.shutdown_all(std::net::Shutdown::Both);
            joined(worker.await)
        }
    }
}

/// The accept loop of the sequential server, on a thread of its own.
fn serve_sequentially(
    listener: &StdListener,
    endpoint: &Endpoint,
    cfg: &ServerConfig,
    st: &Sequential,
) -> io::Result<()> {
    listener.socket().set_nonblocking(false)?;
    let mut seq: u64 = 0;
    while !st.stopping() {
        let (mut stream, peer) = match listener.accept() {
            Ok(c) => c,
            Err(_) if st.stopping() => break,
            Err(e) if is_resource_exhaustion(&e) => {
                if cfg.log_errors {
                    eprintln!("sockcheck serve: accept on {endpoint}: {e}; retrying in 100 ms");
                }
                // No event says "a descriptor is free again": back off instead of spinning.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) => {
                if cfg.log_errors && e.kind() != io::ErrorKind::ConnectionAborted {
                    eprintln!("sockcheck serve: accept on {endpoint}: {e}");
                }
                continue;
            }
        };
        seq += 1;
        // Idle timeout: no progress on a recv or a send for that long ends the connection.
        stream.set_read_timeout(cfg.idle_timeout)?;
        stream.set_write_timeout(cfg.idle_timeout)?;
        let fd = stream.socket().as_raw_fd();
        st.serving.list_if(fd, |_| true);
        // Stopping may have come before the descriptor was listed.
        if st.stopping() {
            let _ = stream.socket().shutdown(std::net::Shutdown::Read);
        }
        let mut conn = EchoConn::new(cfg.bufsize, cfg.transform);
        let served = crate::proto::serve(&mut stream, &mut conn);
        st.serving.unlist(fd);
        if let Err(e) = served {
            if cfg.log_errors {
                eprintln!("sockcheck serve: connection #{seq} from {peer}: {}", blocking_failure(&e, st.stopping()));
            }
        }
    }
    Ok(())
}

/// Serve one connection. On shutdown, a connection stops reading, writes what it already owes
/// (up to the grace period) and closes.
async fn serve_conn(
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
                    let n = stream.write(buf).await?;
                    if n == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                    conn.on_written(n);
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

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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

impl PollReadReady for net::Conn {
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            net::Conn::Tcp(s) => s.poll_read_ready(cx),
            net::Conn::Unix(s) => s.poll_read_ready(cx),
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

/// A server running on a thread of its own, for tests, benches and the in-process target.
/// Dropping the handle stops it.
pub type ServerHandle = crate::background::Background;

/// Bind `endpoint` (errors come back here) and serve it on a new thread.
pub fn spawn(endpoint: &Endpoint, listen: &ListenOpts, cfg: ServerConfig) -> Result<ServerHandle> {
    let listener = net::bind(endpoint, listen)?;
    spawn_listener(listener, cfg)
}

/// Serve an already-bound listener on a new thread.
pub fn spawn_listener(listener: Listener, cfg: ServerConfig) -> Result<ServerHandle> {
    let endpoint = listener.endpoint.clone();
    let rt = runtime_for(cfg.mode)?;
    ServerHandle::spawn(format!("sockcheck-server {endpoint}"), endpoint, rt, move |stop| run(listener, cfg, stop))
}

/// The runtime a server of this mode runs on. A sequential server serves on one blocking thread;
/// its runtime only waits for the signal to stop.
pub fn runtime_for(mode: Mode) -> io::Result<tokio::runtime::Runtime> {
    match mode {
        Mode::Sequential => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        Mode::Concurrent => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_thread_hands_its_connection_over_at_the_next_read_once_the_server_is_crowded() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (mut stream, mut peer) = (net::StdConn::Unix(a), net::StdConn::Unix(b));
        let threads = Threads::new(1);
        let first = Open::new(&threads);
        let slot = threads.take_slot(stream.socket().as_raw_fd()).expect("a thread for the first connection");
        let mut until = UntilCrowded { stream: &mut stream, threads: &threads, crowded: false };
        peer.write_all(b"abc").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(until.read(&mut buf).unwrap(), 3, "one connection, one thread: reads go through");
        assert!(!until.crowded);
        let second = Open::new(&threads);
        assert!(threads.crowded());
        assert!(threads.take_slot(peer.socket().as_raw_fd()).is_none(), "no thread for a connection while crowded");
        peer.write_all(b"def").unwrap();
        assert!(until.read(&mut buf).is_err(), "crowded: the loop stops instead of reading");
        assert!(until.crowded);
        // The bytes are still there for the event loop.
        drop(second);
        assert!(!threads.crowded());
        let mut until = UntilCrowded { stream: &mut stream, threads: &threads, crowded: false };
        assert_eq!(until.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"def");
        drop(first);
        assert_eq!(threads.open.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert!(threads.take_slot(peer.socket().as_raw_fd()).is_none(), "one thread, and it is taken");
        drop(slot);
        assert!(threads.take_slot(peer.socket().as_raw_fd()).is_some(), "the thread is free again");
    }
}

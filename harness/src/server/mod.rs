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

use std::io;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::addr::Endpoint;
use crate::error::{Error, Result};
use crate::net::{self, ListenOpts, Listener};
use crate::proto::Transform;

/// How connections are served (defined in `sockcheck-proto`, which needs no harness).
pub use sockcheck_proto::Mode;

mod concurrent;
pub mod datagram;
mod drive;
mod sequential;

/// What went wrong with a connection served by the blocking loop, in the log's words.
fn blocking_failure(e: &io::Error, stopping: bool) -> String {
    match e.kind() {
        _ if stopping => "reply unfinished at shutdown".to_string(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "idle timeout".to_string(),
        _ => e.to_string(),
    }
}

/// What the server does with each connection.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Sequential (one client at a time) or concurrent.
    pub mode: Mode,
    /// Bytes per `recv`: [`default_bufsize`] unless told.
    pub bufsize: usize,
    /// What it does to the bytes: uppercase or echo.
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

/// Serve connections from `listener` until `shutdown` is cancelled, then let in-flight replies
/// finish (up to `cfg.grace`) and return. The Unix socket file is removed when `listener` drops.
pub async fn run(listener: Listener, cfg: ServerConfig, shutdown: CancellationToken) -> Result<()> {
    if cfg.bufsize == 0 {
        return Err(Error::Usage("bufsize must be at least 1".into()));
    }
    if cfg.mode == Mode::Sequential {
        return sequential::run(listener, cfg, shutdown).await;
    }
    concurrent::run(listener, cfg, shutdown).await
}

/// A server running on a thread of its own, for tests, benches and the in-process target.
/// Dropping the handle stops it.
pub type ServerHandle = crate::background::Background;

/// Bind `endpoint` (errors come back here) and serve it on a new thread. A datagram endpoint
/// gets the datagram server ([`datagram::run`]).
pub fn spawn(endpoint: &Endpoint, listen: &ListenOpts, cfg: ServerConfig) -> Result<ServerHandle> {
    if endpoint.transport().is_datagram() {
        datagram::check_config(&cfg)?;
        let bound = net::bind_dgram(endpoint, listen)?;
        let endpoint = bound.endpoint.clone();
        let rt = runtime_for(Mode::Sequential)?;
        return ServerHandle::spawn(format!("sockcheck-server {endpoint}"), endpoint, rt, move |stop| {
            datagram::run(bound, cfg, stop)
        });
    }
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

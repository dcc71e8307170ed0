//! Helpers shared by the criterion benches: the baselines every result is compared with, and
//! long-lived clients that reuse one connection across iterations.
//!
//! # Layout
//! - [`Server`]: what a bench talks to — the reference server ([`sockcheck::server::spawn`]),
//!   the raw `std::io::copy` echo baseline, or the one-way sink baseline — over TCP or Unix.
//! - [`StreamClient`]: one connection streaming messages (a writer thread, the caller reads).
//! - [`PingPong`]: one connection doing request/reply round trips.
//! - [`dgram`]: datagram servers (the reference one, the `recv_from`/`send_to` echo baseline) and
//!   a round-trip client.
//! - [`placement`]: pinning client and server threads to CPUs.
//!
//! Every server here runs on threads of the bench process, so clients and servers share the
//! machine's cores: on 2 cores a streaming bench has a writer, a reader and a server thread or two
//! competing. The ratios between servers are measured under the same conditions, which is the point.

pub mod dgram;
pub mod placement;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sockcheck::net::{self, ListenOpts, Listener, StdConn};
use sockcheck::server::{self, ServerHandle};
use sockcheck::{Endpoint, Mode, ServerConfig, Transform, Transport};

/// `iters` round trips: their total time and each one's nanoseconds (for the latency histogram).
pub fn time_round_trips(iters: u64, mut round_trip: impl FnMut() -> Duration) -> (Duration, Vec<u64>) {
    let mut total = Duration::ZERO;
    let mut lat = Vec::with_capacity(iters as usize);
    for _ in 0..iters {
        let t = round_trip();
        total += t;
        lat.push(t.as_nanos() as u64);
    }
    (total, lat)
}

/// Message bytes: lowercase text, so the reference server's transform has work to do.
pub fn payload(size: usize) -> Vec<u8> {
    const TEXT: &[u8] = b"the quick brown fox jumps over the lazy dog 0123456789, ";
    (0..size).map(|i| TEXT[i % TEXT.len()]).collect()
}

/// What kind of server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `sockcheck::server` in this mode with this bufsize, uppercasing; `threads` as in
    /// [`ServerConfig::threads`] (0: every connection on the event loop).
    Reference { mode: Mode, bufsize: usize, threads: usize },
    /// Baseline: a thread per connection running `std::io::copy(conn, conn)`, no transform.
    CopyEcho,
    /// Baseline: a thread per connection reading into a 64 KiB buffer and writing all of it back, no
    /// transform: the least a user-space echo with the reference's buffer can do.
    RawEcho64K,
    /// Baseline: reads a length header and that many bytes, answers one byte; nothing echoed.
    Sink,
}

impl Kind {
    pub fn label(self) -> String {
        match self {
            Kind::Reference { mode: Mode::Concurrent, bufsize, threads: 0 } => {
                format!("event-loop-{}", size_label(bufsize))
            }
            Kind::Reference { mode, bufsize, .. } => format!("{mode}-{}", size_label(bufsize)),
            Kind::CopyEcho => "copy-echo".into(),
            Kind::RawEcho64K => "raw-echo-64KiB".into(),
            Kind::Sink => "sink".into(),
        }
    }
}

/// `1024` -> `1KiB`, `65536` -> `64KiB`, `1048576` -> `1MiB`, `64` -> `64B`.
pub fn size_label(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{}MiB", n >> 20)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{}KiB", n >> 10)
    } else {
        format!("{n}B")
    }
}

/// A running server of any [`Kind`]; stopped on drop.
pub struct Server {
    pub endpoint: Endpoint,
    _reference: Option<ServerHandle>,
    _baseline: Option<Baseline>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start(kind: Kind, transport: Transport) -> Server {
        let (endpoint, dir) = net::fresh_endpoint(transport).expect("temp dir");
        match kind {
            Kind::Reference { mode, bufsize, threads } => {
                let cfg = ServerConfig {
                    mode,
                    bufsize,
                    threads,
                    transform: Transform::Upper,
                    log_errors: false,
                    ..Default::default()
                };
                let listen = ListenOpts { backlog: 1024, ..ListenOpts::default() };
                let handle = server::spawn(&endpoint, &listen, cfg).expect("start reference server");
                Server { endpoint: handle.endpoint().clone(), _reference: Some(handle), _baseline: None, _dir: dir }
            }
            Kind::CopyEcho | Kind::RawEcho64K | Kind::Sink => {
                let b = Baseline::start(&endpoint, kind);
                Server { endpoint: b.endpoint.clone(), _reference: None, _baseline: Some(b), _dir: dir }
            }
        }
    }

    pub fn connect(&self) -> StdConn {
        StdConn::connect(&self.endpoint, Duration::from_secs(10)).expect("connect to bench server")
    }
}

/// The minimal blocking baselines: a thread per connection.
struct Baseline {
    endpoint: Endpoint,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Baseline {
    fn start(endpoint: &Endpoint, kind: Kind) -> Baseline {
        let listen = ListenOpts { backlog: 1024, ..ListenOpts::default() };
        let Listener { socket, endpoint, socket_file } = net::bind(endpoint, &listen).expect("bind baseline");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let _socket_file = socket_file;
            while let Ok((conn, _)) = socket.accept() {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::spawn(move || match kind {
                    Kind::Sink => sink_conn(conn),
                    Kind::RawEcho64K => raw_echo_conn(conn),
                    _ => copy_echo_conn(conn),
                });
            }
        });
        Baseline { endpoint, stop, thread: Some(thread) }
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept() with one last connection.
        let _ = StdConn::connect(&self.endpoint, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn copy_echo_conn(conn: StdConn) {
    let Ok(mut writer) = conn.try_clone() else { return };
    let mut reader = conn;
    let _ = io::copy(&mut reader, &mut writer);
}

fn raw_echo_conn(mut conn: StdConn) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// The one-way baseline: `u64` length, then that many bytes, then a one-byte ack.
fn sink_conn(mut conn: StdConn) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut header = [0u8; 8];
        if conn.read_exact(&mut header).is_err() {
            return;
        }
        let mut left = u64::from_le_bytes(header);
        while left > 0 {
            let want = (left as usize).min(buf.len());
            match conn.read(&mut buf[..want]) {
                Ok(0) | Err(_) => return,
                Ok(n) => left -= n as u64,
            }
        }
        if conn.write_all(b"k").is_err() {
            return;
        }
    }
}

/// One connection streaming messages: a writer thread sends, the caller reads the replies (or,
/// against a sink, the ack). Reused across iterations.
pub struct StreamClient {
    reader: StdConn,
    jobs: Option<mpsc::Sender<(u64, usize)>>,
    writer: Option<JoinHandle<()>>,
    buf: Vec<u8>,
    sink: bool,
}

impl StreamClient {
    pub fn new(server: &Server, sink: bool, max_size: usize) -> StreamClient {
        let reader = server.connect();
        let mut writer = reader.try_clone().expect("clone connection");
        let (tx, rx) = mpsc::channel::<(u64, usize)>();
        let msg = payload(max_size);
        let thread = std::thread::spawn(move || {
            for (count, size) in rx {
                if sink && writer.write_all(&(count * size as u64).to_le_bytes()).is_err() {
                    return;
                }
                for _ in 0..count {
                    if writer.write_all(&msg[..size]).is_err() {
                        return;
                    }
                }
            }
        });
        StreamClient { reader, jobs: Some(tx), writer: Some(thread), buf: vec![0; 256 * 1024], sink }
    }

    /// Stream `count` messages of `size` bytes and wait until all have come back (or been acked).
    pub fn stream(&mut self, count: u64, size: usize) -> Duration {
        let start = Instant::now();
        self.jobs.as_ref().expect("writer running").send((count, size)).expect("writer thread alive");
        if self.sink {
            self.reader.read_exact(&mut self.buf[..1]).expect("sink ack");
        } else {
            let mut left = count * size as u64;
            while left > 0 {
                let want = (left as usize).min(self.buf.len());
                match self.reader.read(&mut self.buf[..want]) {
                    Ok(0) => panic!("server closed with {left} bytes outstanding"),
                    Ok(n) => left -= n as u64,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => panic!("read: {e}"),
                }
            }
        }
        start.elapsed()
    }
}

impl Drop for StreamClient {
    fn drop(&mut self) {
        drop(self.jobs.take());
        let _ = self.reader.shutdown_write();
        if let Some(t) = self.writer.take() {
            let _ = t.join();
        }
    }
}

/// One connection doing blocking request/reply round trips.
pub struct PingPong {
    conn: StdConn,
    msg: Vec<u8>,
    reply: Vec<u8>,
}

impl PingPong {
    pub fn new(server: &Server, size: usize) -> PingPong {
        PingPong { conn: server.connect(), msg: payload(size), reply: vec![0; size] }
    }

    /// One round trip; its latency.
    pub fn round_trip(&mut self) -> Duration {
        let start = Instant::now();
        self.conn.write_all(&self.msg).expect("send");
        self.conn.read_exact(&mut self.reply).expect("reply");
        start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_kind_streams_and_answers_over_both_transports() {
        for transport in [Transport::Tcp, Transport::Unix] {
            for kind in [
                Kind::Reference { mode: Mode::Concurrent, bufsize: 1024, threads: 16 },
                Kind::Reference { mode: Mode::Concurrent, bufsize: 1024, threads: 0 },
                Kind::Reference { mode: Mode::Sequential, bufsize: 65536, threads: 0 },
                Kind::CopyEcho,
                Kind::RawEcho64K,
                Kind::Sink,
            ] {
                let server = Server::start(kind, transport);
                // A sequential server serves one connection at a time: this one closes first.
                {
                    let mut c = StreamClient::new(&server, kind == Kind::Sink, 300_000);
                    for _ in 0..3 {
                        c.stream(5, 300_000);
                    }
                }
                if kind != Kind::Sink {
                    let mut p = PingPong::new(&server, 64);
                    p.round_trip();
                    let echoes = matches!(kind, Kind::CopyEcho | Kind::RawEcho64K);
                    let want = if echoes { payload(64) } else { Transform::Upper.to_vec(&payload(64)) };
                    assert_eq!(p.reply, want, "{kind:?} over {transport}");
                }
            }
        }
    }
}

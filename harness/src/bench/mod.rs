//! `sockcheck bench`: a closed-loop load generator for any echo server.
//!
//! Each of `conns` connections sends a message of `size` bytes and waits for the whole reply, again
//! and again, for `duration`. Every reply byte is checked against the transform of what was sent:
//! a wrong reply is an error, never a fast result. Latencies (send of the first byte to receipt of
//! the last) go into an HDR histogram.
//!
//! The message is mostly ASCII lowercase (so a server that does not uppercase is caught) with an
//! 8-byte request counter at its start (so a stale or repeated reply is caught).
//!
//! Against a datagram server (`bench::dgram`) each client is a socket sending one datagram and waiting
//! for its reply; a reply that does not come within the timeout is counted as lost, and the
//! client goes on with the next datagram.

mod dgram;

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::addr::Endpoint;
use crate::error::{Error, Result};
use crate::net::{self, Conn, ConnStream};
use crate::proto::Transform;
use crate::target::Target;
use crate::target::{SpawnOpts, SpawnTarget};

/// What to load and how.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The server to load.
    pub endpoint: Endpoint,
    /// Connections (datagrams: client sockets), each with one request in flight.
    pub conns: usize,
    /// Bytes per message.
    pub size: usize,
    /// How long to send new requests (each connection makes at least one).
    pub duration: Duration,
    /// What the server does to bytes: every reply is checked against it.
    pub transform: Transform,
    /// Deadline for each connect and for each whole reply.
    pub timeout: Duration,
    /// Print a progress line on stderr once a second.
    pub progress: bool,
}

/// The figures of one run.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// The server's address.
    pub target: String,
    /// The transform replies were checked against.
    pub transform: String,
    /// Connections (datagrams: client sockets).
    pub conns: usize,
    /// Bytes per message.
    pub size: usize,
    /// How long the run took, in seconds.
    pub seconds: f64,
    /// Requests answered whole and right.
    pub requests: u64,
    /// Requests that failed: a wrong reply, an I/O error, or (streams) no whole reply in time.
    pub errors: u64,
    /// Connections that got at least one whole, right reply.
    pub served_conns: usize,
    /// `requests` per second.
    pub requests_per_sec: f64,
    /// Payload bytes of whole replies per second, one way (MiB = 2^20 bytes).
    pub mib_per_sec: f64,
    /// Round-trip latencies of the right replies, in microseconds.
    pub latency_us: Latency,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// Datagrams: those whose reply did not come within the timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
    /// Datagrams: `lost` as a percentage of the datagrams sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_percent: Option<f64>,
}

/// Round-trip latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Latency {
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The slowest.
    pub max: f64,
}

impl BenchReport {
    /// The human-readable summary.
    pub fn to_text(&self) -> String {
        let l = &self.latency_us;
        let mut s = format!(
            "target {}  transform {}  conns {}  size {} B  {:.2} s\n\
             requests {}  errors {}  connections served {}/{}\n\
             {:.0} requests/s  {:.2} MiB/s\n\
             latency p50 {:.1} us  p90 {:.1} us  p99 {:.1} us  max {:.1} us\n",
            self.target,
            self.transform,
            self.conns,
            self.size,
            self.seconds,
            self.requests,
            self.errors,
            self.served_conns,
            self.conns,
            self.requests_per_sec,
            self.mib_per_sec,
            l.p50,
            l.p90,
            l.p99,
            l.max,
        );
        if let (Some(lost), Some(pct)) = (self.lost, self.loss_percent) {
            s.push_str(&format!("lost {lost} ({pct:.2}%): no reply within the timeout\n"));
        }
        if let Some(e) = &self.first_error {
            s.push_str(&format!("first error: {e}\n"));
        }
        s
    }
}

/// Shared by every connection task.
struct Shared {
    requests: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    fn error(&self, msg: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(msg);
        }
    }
}

fn histogram() -> Histogram<u64> {
    // Nanoseconds, 1 ns to 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("valid histogram bounds")
}

/// The message a connection sends: lowercase letters with some digits and punctuation.
fn base_message(size: usize, conn: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 .,-abcdefghij";
    (0..size).map(|i| ALPHABET[(i + conn * 7) % ALPHABET.len()]).collect()
}

/// Run the load. Connections are all opened first; the clock starts when the last one is up.
/// A datagram endpoint gets datagram clients (`bench::dgram`).
pub fn run(cfg: &BenchConfig) -> Result<BenchReport> {
    if cfg.conns == 0 || cfg.size == 0 {
        return Err(Error::Usage("--conns and --size must be at least 1".into()));
    }
    let datagram = cfg.endpoint.transport().is_datagram();
    if datagram {
        dgram::check(cfg)?;
    }
    net::raise_fd_limit();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(cfg.conns);
    let rt = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?
    };
    if datagram {
        rt.block_on(dgram::run(cfg))
    } else {
        rt.block_on(run_async(cfg))
    }
}

async fn run_async(cfg: &BenchConfig) -> Result<BenchReport> {
    // Connect everything first, a bounded number at a time so a small backlog is not flooded.
    let mut conns = Vec::with_capacity(cfg.conns);
    let mut pending = tokio::task::JoinSet::new();
    let mut next = 0;
    while conns.len() < cfg.conns {
        while next < cfg.conns && pending.len() < 64 {
            let ep = cfg.endpoint.clone();
            let timeout = cfg.timeout;
            pending.spawn(async move { net::connect(&ep, timeout).await });
            next += 1;
        }
        match pending.join_next().await {
            Some(Ok(Ok(c))) => conns.push(c),
            Some(Ok(Err(e))) => return Err(e),
            Some(Err(e)) => return Err(Error::Io(io::Error::other(e))),
            None => break,
        }
    }

    let shared = Arc::new(Shared {
        requests: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        first_error: Mutex::new(None),
    });
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let shared = shared.clone();
        let cfg = cfg.clone();
        tasks.spawn(async move { drive(conn, i, &cfg, deadline, &shared).await });
    }
    let progress = cfg.progress.then(|| tokio::spawn(progress_line(shared.clone(), start, cfg.duration)));
    Ok(finish(cfg, &shared, start, progress, tasks).await)
}

/// Number request `seq`: its first bytes (up to 8) carry the sequence number, and the expected
/// reply's first bytes follow (transformed), so a reply to another request never matches.
fn stamp(msg: &mut [u8], want: &mut [u8], seq: u64, transform: Transform) -> usize {
    let prefix = msg.len().min(8);
    msg[..prefix].copy_from_slice(&seq.to_le_bytes()[..prefix]);
    want[..prefix].copy_from_slice(&msg[..prefix]);
    transform.apply(&mut want[..prefix]);
    prefix
}

/// Wait for every client task, merge their latencies and report the run.
async fn finish(
    cfg: &BenchConfig,
    shared: &Shared,
    start: Instant,
    progress: Option<tokio::task::JoinHandle<()>>,
    mut tasks: tokio::task::JoinSet<Histogram<u64>>,
) -> BenchReport {
    let mut hist = histogram();
    let mut served = 0;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(h) => {
                served += usize::from(!h.is_empty());
                hist.add(&h).expect("same histogram bounds")
            }
            Err(e) => shared.error(format!("client task failed: {e}")),
        }
    }
    report(cfg, shared, progress, &hist, served, start.elapsed().as_secs_f64()).await
}

/// The figures of a run that took `seconds`, once its progress line is gone.
async fn report(
    cfg: &BenchConfig,
    shared: &Shared,
    progress: Option<tokio::task::JoinHandle<()>>,
    hist: &Histogram<u64>,
    served_conns: usize,
    seconds: f64,
) -> BenchReport {
    shared.stop.store(true, Ordering::Relaxed);
    if let Some(p) = progress {
        p.abort();
        let _ = p.await;
        eprint!("\r\x1b[K");
    }
    let requests = shared.requests.load(Ordering::Relaxed);
    let us = |ns: u64| ns as f64 / 1000.0;
    let latency = if hist.is_empty() {
        Latency::default()
    } else {
        Latency {
            p50: us(hist.value_at_quantile(0.50)),
            p90: us(hist.value_at_quantile(0.90)),
            p99: us(hist.value_at_quantile(0.99)),
            max: us(hist.max()),
        }
    };
    let first_error = shared.first_error.lock().unwrap_or_else(|p| p.into_inner()).take();
    BenchReport {
        target: cfg.endpoint.to_string(),
        transform: cfg.transform.to_string(),
        conns: cfg.conns,
        size: cfg.size,
        seconds,
        requests,
        errors: shared.errors.load(Ordering::Relaxed),
        served_conns,
        requests_per_sec: requests as f64 / seconds,
        mib_per_sec: (requests * cfg.size as u64) as f64 / seconds / (1024.0 * 1024.0),
        latency_us: latency,
        first_error,
        lost: None,
        loss_percent: None,
    }
}

async fn progress_line(shared: Arc<Shared>, start: Instant, duration: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = 0;
    loop {
        tick.tick().await;
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let now = shared.requests.load(Ordering::Relaxed);
        let errors = shared.errors.load(Ordering::Relaxed);
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[K{:>5.1}/{:.0} s  {} req/s  {} requests  {} errors",
            start.elapsed().as_secs_f64(),
            duration.as_secs_f64(),
            now - last,
            now,
            errors
        );
        let _ = err.flush();
        last = now;
    }
}

/// One connection's closed loop until the deadline. An I/O failure ends the connection; a wrong
/// reply is counted and the loop goes on (the reply had the right length, so the stream is in step).
async fn drive(mut conn: Conn, index: usize, cfg: &BenchConfig, deadline: Instant, shared: &Shared) -> Histogram<u64> {
    let mut hist = histogram();
    let mut msg = base_message(cfg.size, index);
    let mut want = cfg.transform.to_vec(&msg);
    let mut reply = vec![0u8; cfg.size];
    let mut seq: u64 = 0;
    // At least one request per connection, however long connecting took on a loaded machine.
    while seq == 0 || Instant::now() < deadline {
        seq += 1;
        stamp(&mut msg, &mut want, seq, cfg.transform);
        let sent = Instant::now();
        let result = tokio::time::timeout(cfg.timeout, round_trip(&mut conn, &msg, &mut reply)).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                shared.error(format!("connection {index}, request {seq}: {e}"));
                return hist;
            }
            Err(_) => {
                shared.error(format!("connection {index}, request {seq}: no whole reply within {:?}", cfg.timeout));
                return hist;
            }
        }
        let took = sent.elapsed();
        if reply != want {
            let at = reply.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
            shared.error(format!(
                "connection {index}, request {seq}: wrong reply: byte {at} is {:#04x}, expected {:#04x}",
                reply[at], want[at]
            ));
            continue;
        }
        hist.saturating_record(took.as_nanos() as u64);
        shared.requests.fetch_add(1, Ordering::Relaxed);
    }
    hist
}

/// Write `msg` while reading `reply.len()` bytes back, so a message larger than the kernel
/// buffers cannot deadlock the two directions.
async fn round_trip(conn: &mut Conn, msg: &[u8], reply: &mut [u8]) -> io::Result<()> {
    match conn.stream_mut() {
        ConnStream::Tcp(s) => {
            let (r, w) = s.split();
            exchange(r, w, msg, reply).await
        }
        ConnStream::Unix(s) => {
            let (r, w) = s.split();
            exchange(r, w, msg, reply).await
        }
    }
}

async fn exchange<R, W>(mut r: R, mut w: W, msg: &[u8], reply: &mut [u8]) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let read = async {
        r.read_exact(reply).await.map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => io::Error::new(e.kind(), "server closed the connection mid-reply"),
            _ => e,
        })
    };
    tokio::try_join!(w.write_all(msg), read)?;
    Ok(())
}

/// Descriptors a bench needs besides one per connection: the runtime, stdio, the spawned
/// server's pipes, a few sockets of its own.
const FD_OVERHEAD: u64 = 64;

/// Whether `conns` connections fit the open-file limit `limit` (as raised to the hard one),
/// checked before anything starts: a bench that fails halfway with "Too many open files" says
/// nothing useful.
fn check_fd_limit(conns: u64, limit: u64) -> Result<()> {
    if limit > 0 && conns + FD_OVERHEAD > limit {
        return Err(Error::Usage(format!(
            "--conns {conns} needs about {} open files, but this process may open {limit} (RLIMIT_NOFILE, \
             raised to its hard limit): raise the limit (ulimit -Hn) or use at most --conns {}",
            conns + FD_OVERHEAD,
            limit.saturating_sub(FD_OVERHEAD)
        )));
    }
    Ok(())
}

/// Run `sockcheck bench`. `Ok(false)` when the run saw errors or a connection got no reply.
pub fn main(args: crate::cli::BenchArgs) -> Result<bool> {
    check_fd_limit(args.conns, net::raise_fd_limit())?;
    // The same spawning as `check --spawn`: placeholders, readiness, process group, stop on drop,
    // and the same interrupt handling.
    let _run = args.addr.spawn.is_some().then(crate::cli::interruptible).transpose()?;
    let spawned = match &args.addr.spawn {
        Some(cmd) => {
            let opts = SpawnOpts { transport: args.transport, ..SpawnOpts::new(cmd.clone()) };
            let mut target = SpawnTarget::new(opts)?;
            target.start().map_err(|e| Error::Io(io::Error::other(format!("the server did not start: {e}"))))?;
            Some(target)
        }
        None => None,
    };
    let endpoint = match (&spawned, args.addr.running()) {
        (Some(s), _) => s.endpoint(),
        (None, Some(e)) => e,
        (None, None) => return Err(Error::Usage("give --tcp, --unix, --udp, --unix-dgram or --spawn".into())),
    };
    let datagram = endpoint.transport().is_datagram();
    let cfg = BenchConfig {
        endpoint,
        conns: args.conns as usize,
        size: args.size as usize,
        duration: args.duration,
        transform: args.transform,
        timeout: args.timeout.unwrap_or(if datagram { dgram::DEFAULT_TIMEOUT } else { Duration::from_secs(10) }),
        progress: io::stderr().is_terminal(),
    };
    let report = run(&cfg)?;
    drop(spawned);
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report).map_err(io::Error::other)?)?;
    } else {
        out.write_all(report.to_text().as_bytes())?;
    }
    out.flush()?;
    if report.requests == 0 && report.errors == 0 {
        eprintln!("sockcheck bench: no request completed");
    }
    Ok(report.errors == 0 && report.served_conns == report.conns)
}

//! `sockcheck bench --udp | --unix-dgram`: closed-loop datagram clients.
//!
//! Each client is a datagram socket of its own (on a Unix server: bound to a fresh path in a temp
//! dir, so the server can answer it). It sends one datagram and waits for the reply; a reply that
//! does not come within the timeout counts as lost and the client sends the next datagram. A
//! reply to an earlier, lost datagram that comes late is read past. A reply from another address,
//! of the wrong length or with wrong bytes is an error.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::{base_message, finish, histogram, progress_line, stamp, BenchConfig, BenchReport, Shared};
use crate::error::{Error, Result};
use crate::net::{self, Dgram, Peer};

/// How long a client waits for a reply before counting its datagram as lost, unless told.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// Why this configuration cannot be run over datagrams, if it cannot.
pub(super) fn check(cfg: &BenchConfig) -> Result<()> {
    let max = net::dgram::MAX_UDP_PAYLOAD;
    if cfg.endpoint.transport() == crate::Transport::Udp && cfg.size > max {
        return Err(Error::Usage(format!("--size {} is more than a UDP datagram carries ({max} bytes)", cfg.size)));
    }
    // A Unix datagram must fit the sender's buffer; 4 MiB is as far as the kernel lets it grow.
    if cfg.size > 4 << 20 {
        return Err(Error::Usage(format!("--size {} is more than a datagram this bench sends (4 MiB)", cfg.size)));
    }
    Ok(())
}

/// Run the datagram load: every client socket first, then the clock.
pub(super) async fn run(cfg: &BenchConfig) -> Result<BenchReport> {
    let mut socks = Vec::with_capacity(cfg.conns);
    for _ in 0..cfg.conns {
        let (sock, dir) = net::dgram::client_socket(&cfg.endpoint)?;
        // Connected: a port where nothing listens is "connection refused", not 100 % lost.
        sock.connect(&cfg.endpoint)?;
        let _ = sock.set_buffers((2 * cfg.size).max(1 << 16));
        socks.push((sock, dir));
    }
    let shared = Arc::new(Shared {
        requests: Default::default(),
        errors: Default::default(),
        stop: Default::default(),
        first_error: Default::default(),
    });
    let lost = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let refused = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (sock, dir)) in socks.into_iter().enumerate() {
        let (shared, lost, refused, cfg) = (shared.clone(), lost.clone(), refused.clone(), cfg.clone());
        tasks.spawn(async move {
            let h = drive(&sock, i, &cfg, deadline, &shared, &lost, &refused).await;
            drop(dir);
            h
        });
    }
    let progress = cfg.progress.then(|| tokio::spawn(progress_line(shared.clone(), start, cfg.duration)));
    let mut out = finish(cfg, &shared, start, progress, tasks).await;
    if refused.load(Ordering::Relaxed) && out.requests == 0 {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            format!(
                "nothing listens at {}: connection refused (the kernel got an ICMP port unreachable)",
                cfg.endpoint
            ),
        )));
    }
    let lost = lost.load(Ordering::Relaxed);
    let sent = out.requests + lost + out.errors;
    out.lost = Some(lost);
    out.loss_percent = Some(if sent == 0 { 0.0 } else { lost as f64 * 100.0 / sent as f64 });
    Ok(out)
}

/// One client's closed loop until the deadline (at least one datagram).
async fn drive(
    sock: &Dgram,
    index: usize,
    cfg: &BenchConfig,
    deadline: Instant,
    shared: &Shared,
    lost: &std::sync::atomic::AtomicU64,
    refused: &std::sync::atomic::AtomicBool,
) -> Histogram<u64> {
    let mut hist = histogram();
    let mut msg = base_message(cfg.size, index);
    let mut want = cfg.transform.to_vec(&msg);
    let mut buf = vec![0u8; cfg.size + 1];
    let server = Peer::of(&cfg.endpoint);
    let mut seq: u64 = 0;
    while seq == 0 || Instant::now() < deadline {
        seq += 1;
        let prefix = stamp(&mut msg, &mut want, seq, cfg.transform);
        let sent = Instant::now();
        if let Err(e) = sock.send_to_endpoint(&msg, &cfg.endpoint).await {
            refused.fetch_or(e.kind() == std::io::ErrorKind::ConnectionRefused, Ordering::Relaxed);
            shared.error(format!("client {index}, datagram {seq}: sendto: {e}"));
            return hist;
        }
        let answer = tokio::time::timeout(cfg.timeout, async {
            loop {
                let (n, truncated, from) = sock.recv_from(&mut buf).await?;
                if Some(&from) != server.as_ref() {
                    return Ok(Err(format!("a datagram of {n} bytes from {from}, not from the server")));
                }
                if truncated || n != cfg.size {
                    return Ok(Err(format!(
                        "a reply of {n}{} bytes to {} bytes",
                        if truncated { "+" } else { "" },
                        cfg.size
                    )));
                }
                // A late reply to an earlier datagram carries an older counter: read past it.
                if buf[..prefix] != want[..prefix] {
                    continue;
                }
                return std::io::Result::Ok(Ok(buf[..n] == want[..]));
            }
        })
        .await;
        match answer {
            Err(_) => {
                // The event loop is woken by data, not by a socket error: ask for one.
                if let Ok(Some(e)) = sock.take_error() {
                    refused.fetch_or(e.kind() == std::io::ErrorKind::ConnectionRefused, Ordering::Relaxed);
                    shared.error(format!("client {index}, datagram {seq}: {e}"));
                    return hist;
                }
                lost.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                // ECONNREFUSED (nothing at the port) or the like: this client cannot go on.
                refused.fetch_or(e.kind() == std::io::ErrorKind::ConnectionRefused, Ordering::Relaxed);
                shared.error(format!("client {index}, datagram {seq}: recvfrom: {e}"));
                return hist;
            }
            Ok(Ok(Err(wrong))) => shared.error(format!("client {index}, datagram {seq}: {wrong}")),
            Ok(Ok(Ok(false))) => {
                let at = buf.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
                shared.error(format!(
                    "client {index}, datagram {seq}: wrong reply: byte {at} is {:#04x}, expected {:#04x}",
                    buf[at], want[at]
                ));
            }
            Ok(Ok(Ok(true))) => {
                hist.saturating_record(sent.elapsed().as_nanos() as u64);
                shared.requests.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    hist
}

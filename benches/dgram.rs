//! Datagram servers for the benches: the reference server (`sockcheck serve --udp` /
//! `--unix-dgram`, in-process) and the baseline, a blocking `recv_from` / `send_to` loop that
//! sends every datagram back unchanged (no transform: the reference point); and a blocking client
//! doing request/reply round trips. The `dgram-echo` binary runs the same baseline on an address.
//! Sockets come from `sockcheck::net` (its blocking `recvfrom` / `sendto`): nothing here touches a
//! descriptor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sockcheck::net::dgram::{recv_from_blocking, send_to_blocking};
use sockcheck::net::{self, DgramBound, ListenOpts, Peer};
use sockcheck::server::{self, ServerHandle};
use sockcheck::{Endpoint, Mode, ServerConfig, Transform, Transport};

use crate::payload;

/// The baseline's loop on a bound socket: every datagram back to its sender as it came, until
/// `stop` is set (and a `shutdown(2)` wakes the blocked `recvfrom`).
pub fn echo_loop(bound: &DgramBound, stop: &AtomicBool) {
    let mut buf = vec![0u8; 1 << 16];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, _, from)) = recv_from_blocking(&bound.socket, &mut buf) else { continue };
        let _ = send_to_blocking(&bound.socket, &buf[..n], &from);
    }
}

/// Which datagram server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DgramKind {
    /// `sockcheck::server` over datagrams (uppercasing, 64 KiB buffer).
    Reference,
    /// Baseline: [`echo_loop`] on a thread.
    Echo,
}

impl DgramKind {
    pub fn label(self) -> &'static str {
        match self {
            DgramKind::Reference => "sockcheck-serve",
            DgramKind::Echo => "recvfrom-sendto-echo",
        }
    }
}

/// A running datagram server of either kind; stopped on drop.
pub struct DgramServer {
    pub endpoint: Endpoint,
    _reference: Option<ServerHandle>,
    echo: Option<(Arc<AtomicBool>, Arc<DgramBound>, JoinHandle<()>)>,
    _dir: Option<tempfile::TempDir>,
}

impl DgramServer {
    pub fn start(kind: DgramKind, transport: Transport) -> DgramServer {
        let (endpoint, dir) = net::fresh_endpoint(transport).expect("temp dir");
        match kind {
            DgramKind::Reference => {
                let cfg = ServerConfig {
                    mode: Mode::Sequential,
                    bufsize: server::datagram::DEFAULT_DGRAM_BUFSIZE,
                    transform: Transform::Upper,
                    log_errors: false,
                    ..Default::default()
                };
                let handle = server::spawn(&endpoint, &ListenOpts::default(), cfg).expect("start reference server");
                DgramServer { endpoint: handle.endpoint().clone(), _reference: Some(handle), echo: None, _dir: dir }
            }
            DgramKind::Echo => {
                let bound = Arc::new(net::bind_dgram(&endpoint, &ListenOpts::default()).expect("bind the baseline"));
                let stop = Arc::new(AtomicBool::new(false));
                let (flag, serving) = (stop.clone(), bound.clone());
                let thread = std::thread::spawn(move || echo_loop(&serving, &flag));
                let endpoint = bound.endpoint.clone();
                DgramServer { endpoint, _reference: None, echo: Some((stop, bound, thread)), _dir: dir }
            }
        }
    }
}

impl Drop for DgramServer {
    fn drop(&mut self) {
        if let Some((stop, bound, thread)) = self.echo.take() {
            stop.store(true, Ordering::Relaxed);
            // Wakes the blocked recvfrom (ENOTCONN on an unconnected socket, but it wakes).
            let _ = bound.socket.shutdown(std::net::Shutdown::Both);
            let _ = thread.join();
        }
    }
}

/// One client socket doing blocking datagram round trips (each reply waited for 5 s at most).
pub struct DgramPingPong {
    sock: DgramBound,
    server: Peer,
    msg: Vec<u8>,
    reply: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl DgramPingPong {
    pub fn new(server: &Endpoint, size: usize) -> DgramPingPong {
        let dir = tempfile::Builder::new().prefix("sockcheck-bench-").tempdir().expect("temp dir");
        let local = net::loopback_endpoint(server.transport(), &dir.path().join("client.sock"));
        let sock = net::bind_dgram(&local, &ListenOpts::default()).expect("bind the client");
        sock.socket.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
        let server = Peer::of(server).expect("a datagram server");
        DgramPingPong { sock, server, msg: payload(size), reply: vec![0; size + 1], _dir: dir }
    }

    /// One round trip; its latency. Panics on a lost or wrong-sized reply (on loopback, a bug).
    pub fn round_trip(&mut self) -> Duration {
        let start = Instant::now();
        send_to_blocking(&self.sock.socket, &self.msg, &self.server).expect("sendto");
        let (n, _, _) = recv_from_blocking(&self.sock.socket, &mut self.reply).expect("a reply within 5 s");
        assert_eq!(n, self.msg.len(), "reply length");
        start.elapsed()
    }

    pub fn reply(&self) -> &[u8] {
        &self.reply[..self.msg.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_datagram_servers_answer_over_both_transports() {
        for transport in Transport::DATAGRAM {
            for kind in [DgramKind::Reference, DgramKind::Echo] {
                let server = DgramServer::start(kind, transport);
                let mut p = DgramPingPong::new(&server.endpoint, 64);
                p.round_trip();
                let want = if kind == DgramKind::Echo { payload(64) } else { Transform::Upper.to_vec(&payload(64)) };
                assert_eq!(p.reply(), &want[..], "{kind:?} over {transport}");
            }
        }
    }
}

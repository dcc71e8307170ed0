//! Datagram servers for the benches: the reference server (`sockcheck serve --udp` /
//! `--unix-dgram`, in-process) and the baseline, a blocking `recv_from` / `send_to` loop that
//! sends every datagram back unchanged (no transform: the reference point); and a blocking client
//! doing request/reply round trips. The `dgram-echo` binary runs the same baseline on an address.

use std::io;
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sockcheck::net::{self, ListenOpts};
use sockcheck::server::{self, ServerHandle};
use sockcheck::{Endpoint, Mode, ServerConfig, Transform, Transport};

use crate::payload;

/// A blocking datagram socket of either family.
pub enum StdDgram {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

impl StdDgram {
    /// Bind at `endpoint` (`udp://HOST:PORT`, port 0 for any; `unix-dgram:PATH`).
    pub fn bind(endpoint: &Endpoint) -> io::Result<StdDgram> {
        let s = match endpoint {
            Endpoint::Udp(a) => StdDgram::Udp(UdpSocket::bind(a)?),
            Endpoint::UnixDgram(p) => StdDgram::Unix(UnixDatagram::bind(p)?),
            other => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{other} is not a datagram address")))
            }
        };
        Ok(s)
    }

    pub fn local(&self) -> io::Result<Endpoint> {
        Ok(match self {
            StdDgram::Udp(s) => Endpoint::Udp(s.local_addr()?),
            StdDgram::Unix(s) => {
                Endpoint::UnixDgram(s.local_addr()?.as_pathname().unwrap_or(std::path::Path::new("")).into())
            }
        })
    }

    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            StdDgram::Udp(s) => s.set_read_timeout(d),
            StdDgram::Unix(s) => s.set_read_timeout(d),
        }
    }

    pub fn send_to(&self, bytes: &[u8], to: &Endpoint) -> io::Result<usize> {
        match (self, to) {
            (StdDgram::Udp(s), Endpoint::Udp(a)) => s.send_to(bytes, a),
            (StdDgram::Unix(s), Endpoint::UnixDgram(p)) => s.send_to(bytes, p),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "an address of the other family")),
        }
    }

    /// The next datagram and its sender (`None`: an unnamed Unix socket).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Option<Endpoint>)> {
        match self {
            StdDgram::Udp(s) => s.recv_from(buf).map(|(n, a)| (n, Some(Endpoint::Udp(a)))),
            StdDgram::Unix(s) => {
                s.recv_from(buf).map(|(n, a)| (n, a.as_pathname().map(|p| Endpoint::UnixDgram(p.to_path_buf()))))
            }
        }
    }
}

/// The baseline's loop: every datagram back to its sender as it came, until `stop` is set (and a
/// datagram wakes the loop).
pub fn echo_loop(sock: &StdDgram, stop: &AtomicBool) {
    let mut buf = vec![0u8; 1 << 16];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, Some(from))) = sock.recv_from(&mut buf) else { continue };
        let _ = sock.send_to(&buf[..n], &from);
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
    echo: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
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
                let sock = StdDgram::bind(&endpoint).expect("bind the baseline echo");
                let endpoint = sock.local().expect("local address");
                let stop = Arc::new(AtomicBool::new(false));
                let flag = stop.clone();
                let thread = std::thread::spawn(move || echo_loop(&sock, &flag));
                DgramServer { endpoint, _reference: None, echo: Some((stop, thread)), _dir: dir }
            }
        }
    }
}

impl Drop for DgramServer {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.echo.take() {
            stop.store(true, Ordering::Relaxed);
            // Wake the blocking recv_from with one last datagram.
            let waker = match &self.endpoint {
                Endpoint::Udp(_) => UdpSocket::bind("127.0.0.1:0").map(StdDgram::Udp),
                _ => UnixDatagram::unbound().map(StdDgram::Unix),
            };
            if let Ok(w) = waker {
                let _ = w.send_to(b"", &self.endpoint);
            }
            let _ = thread.join();
        }
    }
}

/// One client socket doing blocking datagram round trips (each reply waited for 5 s at most).
pub struct DgramPingPong {
    sock: StdDgram,
    server: Endpoint,
    msg: Vec<u8>,
    reply: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl DgramPingPong {
    pub fn new(server: &Endpoint, size: usize) -> DgramPingPong {
        let dir = tempfile::Builder::new().prefix("sockcheck-bench-").tempdir().expect("temp dir");
        let local = match server {
            Endpoint::Udp(_) => Endpoint::Udp(([127, 0, 0, 1], 0).into()),
            _ => Endpoint::UnixDgram(dir.path().join("client.sock")),
        };
        let sock = StdDgram::bind(&local).expect("bind the client");
        sock.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
        DgramPingPong { sock, server: server.clone(), msg: payload(size), reply: vec![0; size + 1], _dir: dir }
    }

    /// One round trip; its latency. Panics on a lost or wrong-sized reply (on loopback, a bug).
    pub fn round_trip(&mut self) -> Duration {
        let start = Instant::now();
        self.sock.send_to(&self.msg, &self.server).expect("sendto");
        let (n, _) = self.sock.recv_from(&mut self.reply).expect("a reply within 5 s");
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

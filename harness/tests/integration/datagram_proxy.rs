//! The proxy between datagram endpoints: the datagram catalogue passes through it untouched, and
//! each fault (drop every Nth, duplicate, swap pairs, delay) delivers exactly the datagrams it
//! should to a recording server and to the client. Faults are counted, never timed, so every
//! expectation is exact; every wait has a deadline.

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::support::{run, Server, BIN, T};
use sockcheck::engine::{Engine, RunOpts};
use sockcheck::proxy::{self, Faults, ProxyHandle};
use sockcheck::server::{self, ServerHandle};
use sockcheck::target::AddressTarget;
use sockcheck::{Endpoint, Mode, ServerConfig, Transform};

const WAIT: Duration = Duration::from_secs(5);

/// A blocking datagram socket of either family, bound (Unix: in `dir`), with a read timeout.
enum Sock {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

impl Sock {
    fn bind(t: T, dir: &std::path::Path, name: &str) -> Sock {
        let s = match t {
            T::Udp => Sock::Udp(UdpSocket::bind("127.0.0.1:0").unwrap()),
            _ => Sock::Unix(UnixDatagram::bind(dir.join(name)).unwrap()),
        };
        s.timeout(Duration::from_millis(50));
        s
    }

    fn timeout(&self, d: Duration) {
        match self {
            Sock::Udp(s) => s.set_read_timeout(Some(d)).unwrap(),
            Sock::Unix(s) => s.set_read_timeout(Some(d)).unwrap(),
        }
    }

    fn endpoint(&self) -> Endpoint {
        match self {
            Sock::Udp(s) => Endpoint::Udp(s.local_addr().unwrap()),
            Sock::Unix(s) => Endpoint::UnixDgram(s.local_addr().unwrap().as_pathname().unwrap().to_path_buf()),
        }
    }

    fn send_to(&self, bytes: &[u8], to: &Endpoint) {
        match (self, to) {
            (Sock::Udp(s), Endpoint::Udp(a)) => s.send_to(bytes, a).map(drop).unwrap(),
            (Sock::Unix(s), Endpoint::UnixDgram(p)) => s.send_to(bytes, p).map(drop).unwrap(),
            _ => panic!("{to} is of the other family"),
        }
    }

    /// The next datagram and its sender, or `None` after the read timeout.
    fn recv(&self) -> Option<(Vec<u8>, Endpoint)> {
        let mut buf = vec![0u8; 1 << 17];
        let r = match self {
            Sock::Udp(s) => s.recv_from(&mut buf).map(|(n, a)| (n, Endpoint::Udp(a))),
            Sock::Unix(s) => s.recv_from(&mut buf).map(|(n, a)| {
                let p = a.as_pathname().map(|p| p.to_path_buf()).unwrap_or_default();
                (n, Endpoint::UnixDgram(p))
            }),
        };
        match r {
            Ok((n, from)) => Some((buf[..n].to_vec(), from)),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => None,
            Err(e) => panic!("recvfrom: {e}"),
        }
    }

    /// Datagrams until `want` came (then a short look for extras) or `WAIT` passed; each must
    /// come from `from`.
    fn collect(&self, want: usize, from: &Endpoint) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut got = vec![];
        while got.len() < want && Instant::now() < deadline {
            if let Some((d, sender)) = self.recv() {
                assert_eq!(&sender, from, "a datagram from elsewhere");
                got.push(String::from_utf8(d).unwrap());
            }
        }
        // Anything more is wrong: one more read timeout (50 ms) to see it.
        if let Some((d, _)) = self.recv() {
            got.push(String::from_utf8(d).unwrap());
        }
        got
    }
}

/// A played server: records each datagram it gets (in order) and answers it uppercased.
struct Recorder {
    endpoint: Endpoint,
    seen: mpsc::Receiver<String>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    fn start(t: T, dir: &std::path::Path) -> Recorder {
        let sock = Sock::bind(t, dir, "recorder.sock");
        let endpoint = sock.endpoint();
        let (tx, seen) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                if let Some((d, from)) = sock.recv() {
                    sock.send_to(&d.to_ascii_uppercase(), &from);
                    let _ = tx.send(String::from_utf8(d).unwrap());
                }
            }
        });
        Recorder { endpoint, seen, stop, thread: Some(thread) }
    }

    /// What it got: `want` datagrams, or fewer once `WAIT` passed, plus any extra within 50 ms.
    fn seen(&self, want: usize) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut got = vec![];
        while got.len() < want {
            match self.seen.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(d) => got.push(d),
                Err(_) => break,
            }
        }
        got.extend(self.seen.recv_timeout(Duration::from_millis(50)));
        got
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A fresh proxy address of transport `t` in `dir`.
fn proxy_at(t: T, dir: &std::path::Path) -> Endpoint {
    match t {
        T::Udp => Endpoint::parse("udp://127.0.0.1:0").unwrap(),
        _ => Endpoint::UnixDgram(dir.join("proxy.sock")),
    }
}

/// Send `n` datagrams `d1`..`dn` through a proxy with `faults` to a recording server: what the
/// server got, and what came back to the client.
fn through(t: T, faults: Faults, n: usize, want_seen: usize, want_back: usize) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(t, dir.path());
    let proxy: ProxyHandle = proxy::spawn(&proxy_at(t, dir.path()), recorder.endpoint.clone(), faults).unwrap();
    let client = Sock::bind(t, dir.path(), "client.sock");
    for i in 1..=n {
        client.send_to(format!("d{i}").as_bytes(), proxy.endpoint());
    }
    let seen = recorder.seen(want_seen);
    let back = client.collect(want_back, proxy.endpoint());
    (seen, back)
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

per_transport! {
    datagram:
    fn every_third_datagram_is_dropped_each_way(t) {
        let faults = Faults::datagrams(sockcheck::faults::DatagramFaults { drop_every: Some(3), ..Default::default() });
        let (seen, back) = through(t, faults, 6, 4, 3);
        assert_eq!(seen, strings(&["d1", "d2", "d4", "d5"]));
        // Replies D1 D2 D4 D5: the third of them is dropped on the way back.
        assert_eq!(back, strings(&["D1", "D2", "D5"]));
    }

    fn duplicated_datagrams_come_twice_each_way(t) {
        let faults = Faults { duplicate: true, ..Faults::default() };
        let (seen, back) = through(t, faults, 2, 4, 8);
        assert_eq!(seen, strings(&["d1", "d1", "d2", "d2"]));
        assert_eq!(back, strings(&["D1", "D1", "D1", "D1", "D2", "D2", "D2", "D2"]));
    }

    fn pairs_are_swapped_each_way(t) {
        let faults = Faults { reorder: true, ..Faults::default() };
        let (seen, back) = through(t, faults, 5, 4, 4);
        // The fifth waits for a partner that never comes.
        assert_eq!(seen, strings(&["d2", "d1", "d4", "d3"]));
        // The replies D2 D1 D4 D3 are swapped back into order.
        assert_eq!(back, strings(&["D1", "D2", "D3", "D4"]));
    }

    fn delayed_datagrams_all_arrive_in_order_no_sooner_than_the_delays(t) {
        let started = Instant::now();
        let (seen, back) = through(t, Faults::default().with_delay(Duration::from_millis(40)), 3, 3, 3);
        assert_eq!(seen, strings(&["d1", "d2", "d3"]));
        assert_eq!(back, strings(&["D1", "D2", "D3"]));
        // One client's datagrams wait in turn: three pauses each way.
        assert!(started.elapsed() >= Duration::from_millis(240), "{:?}", started.elapsed());
    }

    fn the_datagram_catalogue_passes_through_a_proxy_without_faults(t) {
        let dir = tempfile::tempdir().unwrap();
        let at = match t {
            T::Udp => Endpoint::parse("udp://127.0.0.1:0").unwrap(),
            _ => Endpoint::UnixDgram(dir.path().join("server.sock")),
        };
        let cfg = ServerConfig {
            bufsize: server::datagram::DEFAULT_DGRAM_BUFSIZE,
            log_errors: false,
            ..ServerConfig::default()
        };
        let server: ServerHandle = server::spawn(&at, &Default::default(), cfg).unwrap();
        let proxy = proxy::spawn(&proxy_at(t, dir.path()), server.endpoint().clone(), Faults::default()).unwrap();
        let engine = Engine::new(RunOpts { step_timeout: Duration::from_secs(2), ..Default::default() }).unwrap();
        let mut target =
            AddressTarget { endpoint: proxy.endpoint().clone(), model: Some(Mode::Sequential), transform: Transform::Upper };
        let mut ran = 0;
        for s in sockcheck_scenarios::datagram_catalogue::all() {
            let o = engine.check(&s, &mut target);
            assert!(!o.failed(), "{} through the proxy over {t}: {:?}", s.name(), o.failure);
            ran += usize::from(!matches!(o.verdict, sockcheck::report::Verdict::Skip(_)));
        }
        assert_eq!(ran, 10, "the scenarios that need no restart");
    }
}

#[test]
fn two_clients_each_get_their_own_replies_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(T::Udp, dir.path());
    let proxy = proxy::spawn(&proxy_at(T::Udp, dir.path()), recorder.endpoint.clone(), Faults::default()).unwrap();
    let (a, b) = (Sock::bind(T::Udp, dir.path(), "a"), Sock::bind(T::Udp, dir.path(), "b"));
    a.send_to(b"from a", proxy.endpoint());
    b.send_to(b"from b", proxy.endpoint());
    a.send_to(b"a again", proxy.endpoint());
    // Each client has a socket and a task of its own: order holds per client, not across them.
    let seen = recorder.seen(3);
    let of_a: Vec<&str> = seen.iter().map(String::as_str).filter(|d| d.contains('a')).collect();
    assert_eq!((seen.len(), of_a), (3, vec!["from a", "a again"]), "{seen:?}");
    assert_eq!(a.collect(2, proxy.endpoint()), strings(&["FROM A", "A AGAIN"]));
    assert_eq!(b.collect(1, proxy.endpoint()), strings(&["FROM B"]));
}

#[test]
fn the_proxy_command_drops_every_second_datagram_between_udp_and_unix_dgram() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(T::UnixDgram, dir.path());
    let upstream = recorder.endpoint.to_string();
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["proxy", "--listen", "udp://127.0.0.1:0", "--upstream", &upstream, "--drop-every", "2"]);
    let proxy = Server::start_cmd(cmd, None);
    let client = Sock::bind(T::Udp, dir.path(), "client");
    for i in 1..=4 {
        client.send_to(format!("d{i}").as_bytes(), &proxy.endpoint);
    }
    assert_eq!(recorder.seen(2), strings(&["d1", "d3"]));
    assert_eq!(client.collect(1, &proxy.endpoint), strings(&["D1"]));
}

#[test]
fn faults_of_the_other_kind_and_mixed_addresses_are_one_line_usage_errors() {
    for (args, needle) in [
        (
            &["--listen", "udp://127.0.0.1:0", "--upstream", "udp://127.0.0.1:9", "--slice", "3"][..],
            "--slice cuts a byte stream: a stream fault",
        ),
        (
            &["--listen", "udp://127.0.0.1:0", "--upstream", "udp://127.0.0.1:9", "--reset-after", "3"][..],
            "a stream fault",
        ),
        (
            &["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--duplicate"][..],
            "--duplicate is a datagram fault",
        ),
        (
            &["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--drop-every", "2"][..],
            "--drop-every is a datagram fault",
        ),
        (
            &["--listen", "udp://127.0.0.1:0", "--upstream", "127.0.0.1:9"][..],
            "forwards streams to streams and datagrams to datagrams",
        ),
        (&["--listen", "udp://127.0.0.1:0", "--upstream", "udp://127.0.0.1:9", "--drop-every", "0"][..], "0"),
    ] {
        let args: Vec<&str> = ["proxy"].iter().chain(args).copied().collect();
        let r = run(&args, b"");
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr_lines().len(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
}

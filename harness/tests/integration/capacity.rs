//! Capacity of the real `sockcheck serve --mode concurrent` process: a thousand connections at
//! once are all served, and idle connections cost at most 2 KiB of RSS each.
//!
//! The 10,000-connection memory check is `#[ignore]`d (it needs about 20,000 descriptors):
//! `cargo test --release -p sockcheck --test integration capacity:: -- --ignored --nocapture`

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use crate::support::{proc_status_field, Server, BIN as EXE};

/// Resident memory of the server process, in bytes.
fn rss(server: &Server) -> u64 {
    proc_status_field(server.pid(), "VmRSS:") * 1024
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn connect(listening: &str) -> Stream {
        let s = if let Some(addr) = listening.strip_prefix("tcp://") {
            let s = TcpStream::connect(addr).expect("connect");
            s.set_nodelay(true).unwrap();
            Stream::Tcp(s)
        } else {
            Stream::Unix(UnixStream::connect(listening.strip_prefix("unix:").unwrap()).expect("connect"))
        };
        let t = Some(Duration::from_secs(20));
        match &s {
            Stream::Tcp(s) => s.set_read_timeout(t).unwrap(),
            Stream::Unix(s) => s.set_read_timeout(t).unwrap(),
        }
        s
    }

    fn round_trip(&mut self, msg: &[u8]) -> Vec<u8> {
        let mut reply = vec![0; msg.len()];
        match self {
            Stream::Tcp(s) => {
                s.write_all(msg).unwrap();
                s.read_exact(&mut reply).unwrap();
            }
            Stream::Unix(s) => {
                s.write_all(msg).unwrap();
                s.read_exact(&mut reply).unwrap();
            }
        }
        reply
    }
}

#[test]
fn a_thousand_connections_at_once_are_all_served() {
    sockcheck::net::raise_fd_limit();
    let cmd = format!("exec {EXE} serve --mode concurrent --backlog 1024 --tcp {{addr}}");
    let out = Command::new(EXE)
        .args(["bench", "--spawn", &cmd, "--conns", "1000", "--size", "64", "--duration", "1", "--json"])
        .output()
        .expect("run sockcheck bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout: {stdout} stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["served_conns"].as_u64(), Some(1000), "{v}");
    assert_eq!(v["errors"].as_u64(), Some(0), "{v}");
}

/// Open `n` connections, then one round trip on each; RSS growth per connection, before and
/// after the round trips.
fn idle_memory(server: &Server, n: usize) -> (f64, f64) {
    let mut warm = Stream::connect(&server.addr);
    assert_eq!(warm.round_trip(b"warm up"), b"WARM UP");
    let before = rss(server);
    let mut conns: Vec<Stream> = (0..n).map(|_| Stream::connect(&server.addr)).collect();
    // A round trip on the last one proves the server has accepted all before it.
    assert_eq!(conns.last_mut().unwrap().round_trip(b"x"), b"X");
    let opened = rss(server);
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(c.round_trip(b"idle?"), b"IDLE?", "connection {i}");
    }
    let used = rss(server);
    let per = |rss: u64| rss.saturating_sub(before) as f64 / n as f64;
    (per(opened), per(used))
}

#[test]
#[ignore = "opens 10,000 connections; run with --ignored --nocapture"]
fn idle_connections_cost_at_most_2_kib_of_rss_each() {
    const N: usize = 10_000;
    let limit = sockcheck::net::raise_fd_limit();
    assert!(limit >= N as u64 + 100, "need {} open files (ulimit -n), have {limit}", N + 100);
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    for args in [
        vec!["--mode", "concurrent", "--backlog", "4096", "--tcp", "127.0.0.1:0"],
        vec!["--mode", "concurrent", "--backlog", "4096", "--unix", sock.to_str().unwrap()],
    ] {
        let server = Server::start_with(&args, None);
        let (opened, used) = idle_memory(&server, N);
        println!(
            "{}: {N} idle connections: {opened:.0} B of RSS each just opened, {used:.0} B each after one round trip",
            server.addr.split(':').next().unwrap()
        );
        assert!(opened <= 2048.0 && used <= 2048.0, "{}: {opened:.0} / {used:.0} B per connection", server.addr);
    }
}

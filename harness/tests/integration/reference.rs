//! The reference server and client (issue 3), tested as users run them: the real `sockcheck`
//! binary as a child process, over TCP and Unix sockets.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;
use sockcheck::Transform;

per_transport! {
    fn uppercase_echo_in_both_modes(t) {
        for mode in ["sequential", "concurrent"] {
            let server = Server::start(t, &["--mode", mode]);
            let mut c = server.connect();
            assert_eq!(roundtrip(&mut c, b"hello, World 42!"), b"HELLO, WORLD 42!", "{mode}");
            assert_eq!(roundtrip(&mut c, b"again"), b"AGAIN", "{mode}: second message on the same connection");
        }
    }

    fn one_mib_with_bufsize_1024_comes_back_exactly(t) {
        let server = Server::start(t, &["--bufsize", "1024"]);
        let msg: Vec<u8> = (0..1 << 20).map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37]).collect();
        let mut c = server.connect();
        let reply = roundtrip(&mut c, &msg);
        assert_eq!(reply.len(), 1 << 20);
        assert!(reply == Transform::Upper.to_vec(&msg), "1 MiB reply differs from the uppercased input");
        // Exactly 1 MiB: nothing more follows.
        assert!(silent_for(&mut c, Duration::from_millis(100)), "bytes after the 1 MiB reply");
    }

    fn binary_bytes_and_utf8_pass_through(t) {
        let server = Server::start(t, &[]);
        let mut c = server.connect();
        let all: Vec<u8> = (0..=255).collect();
        let reply = roundtrip(&mut c, &all);
        for (i, (&sent, &got)) in all.iter().zip(&reply).enumerate() {
            let want = if sent.is_ascii_lowercase() { sent - 32 } else { sent };
            assert_eq!(got, want, "byte {i}: sent {sent:#04x}");
        }
        let text = "héllo wörld, straße — 日本語 ok";
        let reply = roundtrip(&mut c, text.as_bytes());
        assert_eq!(String::from_utf8(reply).unwrap(), "HéLLO WöRLD, STRAßE — 日本語 OK");

        let echo = Server::start(t, &["--transform", "echo"]);
        let mut c = echo.connect();
        assert_eq!(roundtrip(&mut c, &all), all, "--transform echo changes nothing");
    }

    fn sequential_mode_queues_the_second_client_until_the_first_closes(t) {
        let server = Server::start(t, &["--mode", "sequential"]);
        let mut first = server.connect();
        assert_eq!(roundtrip(&mut first, b"one"), b"ONE");
        let mut second = server.connect();
        second.write_all(b"two").unwrap();
        assert!(silent_for(&mut second, Duration::from_millis(300)), "second client served while the first is connected");
        assert_eq!(roundtrip(&mut first, b"still first"), b"STILL FIRST");
        drop(first);
        let mut reply = [0u8; 3];
        second.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"TWO");
    }

    fn a_client_reset_with_unread_reply_does_not_stop_the_server(t) {
        let server = Server::start(t, &[]);
        let baseline = server.fd_count();
        for _ in 0..3 {
            let mut c = server.connect();
            c.write_all(&[b'x'; 64 * 1024]).unwrap();
            let mut some = [0u8; 1024];
            c.read_exact(&mut some).unwrap();
            c.set_linger_zero().unwrap();
            drop(c); // RST (TCP) / close with unread data (Unix)
        }
        server.assert_serves();
        server.wait_fds(baseline);
    }

    fn a_client_vanishing_during_a_large_reply_does_not_stop_the_server(t) {
        let server = Server::start(t, &["--mode", "concurrent"]);
        let baseline = server.fd_count();
        let mut c = server.connect();
        let mut w = c.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = w.write_all(&vec![b'v'; 4 << 20]);
        });
        let mut part = vec![0u8; 64 * 1024];
        c.read_exact(&mut part).unwrap();
        assert!(part.iter().all(|&b| b == b'V'));
        // Gone mid-reply, as if killed.
        sockcheck_shutdown(&c);
        writer.join().unwrap();
        drop(c);
        server.assert_serves();
        server.wait_fds(baseline);
        assert!(server.stderr().iter().all(|l| !l.contains("panicked")));
    }

    fn reference_client_skips_empty_lines(t) {
        let server = Server::start(t, &[]);
        let mut args = vec!["client".to_string()];
        args.extend(server.client_args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&args, b"\n   \nhello\n\t \r\n\nworld  \n\n");
        assert_eq!(r.code(), Some(0), "{r:?}");
        assert_eq!(String::from_utf8_lossy(&r.stdout), "HELLO\nWORLD\n");
    }

    fn reference_client_prints_a_reply_larger_than_64k_whole(t) {
        let server = Server::start(t, &["--bufsize", "1024"]);
        let mut args = vec!["client".to_string()];
        args.extend(server.client_args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let big = "abc".repeat(100 * 1024); // 300 KiB
        let r = run(&args, format!("{big}\nnext\n").as_bytes());
        assert_eq!(r.code(), Some(0), "{r:?}");
        let want = format!("{}\nNEXT\n", big.to_uppercase());
        assert!(r.stdout == want.as_bytes(), "client output ({} bytes) is not the whole reply ({} bytes) then NEXT", r.stdout.len(), want.len());
    }
}

fn sockcheck_shutdown(c: &sockcheck::net::StdConn) {
    use sockcheck::net::StdConn;
    let _ = match c {
        StdConn::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
        StdConn::Unix(s) => s.shutdown(std::net::Shutdown::Both),
    };
}

/// A TCP server in the test, recording every byte it receives and answering uppercase.
fn recording_server() -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return seen,
                Ok(n) => {
                    seen.extend_from_slice(&buf[..n]);
                    s.write_all(&Transform::Upper.to_vec(&buf[..n])).unwrap();
                }
            }
        }
    });
    (addr, h)
}

#[test]
fn reference_client_never_sends_empty_or_unstripped_lines() {
    let (addr, server) = recording_server();
    let r = run(&["client", "--tcp", &addr], b"\n \n\t\nab c\n   \r\n  x  \n\n");
    assert_eq!(r.code(), Some(0), "{r:?}");
    assert_eq!(String::from_utf8_lossy(&r.stdout), "AB C\nX\n");
    assert_eq!(server.join().unwrap(), b"ab cx", "the server saw exactly the stripped non-empty lines");
}

#[test]
fn reference_client_exits_0_at_end_of_stdin() {
    let server = Server::start(T::Tcp, &[]);
    let r = run(&["client", "--tcp", &server.addr], b"");
    assert_eq!(r.code(), Some(0), "{r:?}");
    assert!(r.stdout.is_empty() && r.stderr.is_empty(), "{r:?}");
    server.assert_serves();
}

/// Start `sockcheck client` against `addr` with stdin left open (a pipe we hold).
fn client_with_open_stdin(addr: &str, first_line: &[u8]) -> (std::process::Child, std::process::ChildStdin) {
    let mut child = Command::new(BIN)
        .args(["client", "--tcp", addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(first_line).unwrap();
    (child, stdin)
}

#[test]
fn reference_client_exits_nonzero_with_one_line_when_the_server_closes() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (child, stdin) = client_with_open_stdin(&addr, b"");
    let (s, _) = l.accept().unwrap();
    drop(s); // FIN while the client waits for input
    let r = finish(child, None, vec![], &["client"]);
    drop(stdin);
    assert_eq!(r.code(), Some(1), "{r:?}");
    assert_eq!(r.stderr_lines(), ["sockcheck client: server closed the connection"]);
}

#[test]
fn reference_client_exits_nonzero_with_one_line_when_the_server_resets() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (child, stdin) = client_with_open_stdin(&addr, b"hello\n");
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut got = [0u8; 5];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)).unwrap();
    drop(s); // RST instead of a reply
    let r = finish(child, None, vec![], &["client"]);
    drop(stdin);
    assert_eq!(r.code(), Some(1), "{r:?}");
    assert_eq!(r.stderr_lines(), ["sockcheck client: server reset the connection"]);
}

#[test]
fn restart_on_the_same_port_binds_at_once_despite_time_wait() {
    let mut server = Server::start(T::Tcp, &[]);
    let port = match server.endpoint {
        sockcheck::Endpoint::Tcp(a) => a.port(),
        _ => unreachable!(),
    };
    let mut c = server.connect();
    assert_eq!(roundtrip(&mut c, b"hi"), b"HI");
    server.signal(nix::sys::signal::Signal::SIGKILL);
    server.wait_exit(DEADLINE);
    // The server's side closed first, so once we close too, its end sits in TIME_WAIT.
    let mut b = [0u8; 1];
    assert_eq!(c.read(&mut b).unwrap(), 0);
    drop(c);
    wait_until("a TIME_WAIT socket on the server's port", DEADLINE, || time_wait_on(port));
    let again = Server::start_with(&["--tcp", &format!("127.0.0.1:{port}")], None);
    again.assert_serves();
}

/// Is there a TCP socket in TIME_WAIT (state 06) with local port `port`?
fn time_wait_on(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f[1].ends_with(&format!(":{port:04X}")) && f[3] == "06"
    })
}

#[test]
fn a_regular_file_at_the_unix_path_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("precious.txt");
    std::fs::write(&path, b"do not delete me\n").unwrap();
    let r = run(&["serve", "--unix", path.to_str().unwrap()], b"");
    assert_eq!(r.code(), Some(1), "{r:?}");
    assert_eq!(r.stderr_lines().len(), 1, "{r:?}");
    assert!(r.stderr.contains("is a regular file, not a socket; refusing to replace it"), "{r:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"do not delete me\n");
}

//! The tests whose precondition is a property of the machine, not of sockcheck: an IPv6 loopback,
//! an open-file limit that allows a thousand connections, ports that an unprivileged user cannot
//! bind. A machine that lacks one lists the test as ignored, with the reason printed first; libtest's
//! `#[test]` cannot decide that at run time, so they run here under libtest-mimic (as the catalogue
//! does in `conformance.rs`), with the integration tests' support module.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use libtest_mimic::{Arguments, Trial};
use sockcheck::net::StdConn;

#[path = "integration/support/mod.rs"]
#[allow(dead_code, unused_macros)]
mod support;

use support::*;

fn main() {
    let args = Arguments::from_args();
    let no_ipv6 = sockcheck::net::transport_unsupported(T::Tcp6);
    let limit = sockcheck::net::raise_fd_limit();
    let few_fds = (limit < 4096).then(|| format!("the hard open-file limit is {limit}; this test needs 4096"));
    let privileged = privileged_port();
    let mut trials = vec![];
    let mut trial = |name: &str, lacking: &Option<String>, test: fn()| {
        if let Some(why) = lacking {
            eprintln!("machine: {name} ignored: {why}");
        }
        trials.push(
            Trial::test(name, move || {
                test();
                Ok(())
            })
            .with_ignored_flag(lacking.is_some()),
        );
    };
    trial("check_reaches_an_ipv6_server", &no_ipv6, check_reaches_an_ipv6_server);
    trial("ipv6_loopback_works_for_server_and_client", &no_ipv6, ipv6_loopback_works_for_server_and_client);
    trial("a_thousand_connections_at_once::tcp", &few_fds, || a_thousand_connections_at_once(T::Tcp));
    trial("a_thousand_connections_at_once::unix", &few_fds, || a_thousand_connections_at_once(T::Unix));
    let why_not = privileged.as_ref().err().cloned();
    trial("permission_denied_is_one_line_and_exit_1", &why_not, permission_denied_is_one_line_and_exit_1);
    libtest_mimic::run(&args, trials).exit();
}

fn check_reaches_an_ipv6_server() {
    let server = Server::start_with(&["--tcp", "[::1]:0"], None);
    let addr = server.client_args()[1].clone();
    assert!(addr.starts_with("[::1]:"), "{addr}");
    let r = run(&["check", "--tcp", &addr, "--filter", "short_message"], b"");
    assert_eq!(r.code(), Some(0), "{}", String::from_utf8_lossy(&r.stdout));
}

fn ipv6_loopback_works_for_server_and_client() {
    let server = Server::start_with(&["--tcp", "[::1]:0"], None);
    assert!(server.addr.starts_with("tcp://[::1]:"), "{}", server.addr);
    server.assert_serves();
    let mut args = vec!["client".to_string()];
    args.extend(server.client_args());
    let r = run(&args.iter().map(String::as_str).collect::<Vec<_>>(), b"six\n");
    assert_eq!(r.code(), Some(0), "{r:?}");
    assert_eq!(r.stdout, b"SIX\n");
}

fn a_thousand_connections_at_once(t: T) {
    let server = Server::start(t, &["--mode", "concurrent", "--backlog", "1024"]);
    let baseline = server.fd_count();
    let start = Instant::now();
    let mut conns: Vec<StdConn> = (0..1000).map(|_| server.connect()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(format!("client {i:04}").as_bytes()).unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let mut reply = [0u8; 11];
        c.read_exact(&mut reply).unwrap();
        assert_eq!(reply, *format!("CLIENT {i:04}").as_bytes());
    }
    wait_until("1,000 connections open in the server", DEADLINE, || server.fd_count() >= baseline + 1000);
    eprintln!("1,000 concurrent connections served in {:?}", start.elapsed());
    drop(conns);
    server.wait_fds(baseline);
    server.assert_serves();
}

/// How this test process can meet a privileged port: `Ok(true)` through `setpriv` as `nobody`
/// (it runs as root), `Ok(false)` as itself; `Err` why it cannot.
fn privileged_port() -> Result<bool, String> {
    let unprivileged_from: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024);
    if unprivileged_from <= 1 {
        return Err(format!("every port is unprivileged here (ip_unprivileged_port_start = {unprivileged_from})"));
    }
    if std::fs::metadata("/proc/self").map_err(|e| e.to_string())?.uid() != 0 {
        return Ok(false);
    }
    let probe = as_nobody(&["--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !probe.is_ok_and(|s| s.success()) {
        return Err(format!("running as root and cannot run {BIN} as nobody with setpriv"));
    }
    Ok(true)
}

fn as_nobody(args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]).args(args);
    cmd
}

fn permission_denied_is_one_line_and_exit_1() {
    let mut cmd = if privileged_port() == Ok(true) {
        as_nobody(&["serve", "--tcp", "127.0.0.1:1"])
    } else {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--tcp", "127.0.0.1:1"]);
        cmd
    };
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let r = finish(child, None, vec![], &["serve"]);
    assert_eq!(r.code(), Some(1), "{r:?}");
    assert_eq!(r.stderr_lines(), ["sockcheck: error: cannot bind tcp://127.0.0.1:1: Permission denied (os error 13)"]);
}

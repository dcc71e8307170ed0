//! Proof that the catalogue catches broken servers: each server here has one of the bugs real
//! servers of the tutorial's kind have, and must fail exactly the scenarios meant for it, over
//! TCP and Unix sockets; a correct server written the same blocking way must pass everything.
//!
//! The servers are small blocking programs, written the way the tutorial writes its server
//! (accept loop around a recv/send loop), so they behave like a student's Python script would.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sockcheck::addr::Endpoint;
use sockcheck::net::{self, ListenOpts, Listener, StdListener};
use sockcheck::runner::{RunOpts, Runner};
use sockcheck::scenario::{Mode, Transport};
use sockcheck::target::{FnTarget, Stopper};

/// An accepted connection of either transport.
enum Stream {
    Tcp(std::net::TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }
    fn shutdown(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
    fn sock(&self) -> socket2::SockRef<'_> {
        match self {
            Stream::Tcp(s) => socket2::SockRef::from(s),
            Stream::Unix(s) => socket2::SockRef::from(s),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Shared state of one running server.
#[derive(Default)]
struct Ctl {
    stop: AtomicBool,
    /// The connections being served, so that stopping can unblock their handlers.
    conns: Mutex<HashMap<u64, Stream>>,
    /// Connections a leaky handler never closes.
    leaked: Mutex<Vec<Stream>>,
    /// The buffer the mixing server wrongly shares between connections.
    shared: Mutex<Vec<u8>>,
}

impl Ctl {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// What a handler tells the accept loop.
enum After {
    Next,
    /// The server process dies.
    Die,
}

type Handler = fn(&mut Stream, &Ctl) -> After;
type Bind = fn(&Endpoint) -> Result<Listener, String>;

fn bind_safely(ep: &Endpoint) -> Result<Listener, String> {
    net::bind(ep, &ListenOpts::default()).map_err(|e| e.to_string())
}

/// The tutorial's server without `setsockopt(SO_REUSEADDR)`.
fn bind_without_reuseaddr(ep: &Endpoint) -> Result<Listener, String> {
    match ep {
        Endpoint::Tcp(addr) => {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).map_err(|e| e.to_string())?;
            s.bind(&(*addr).into()).map_err(|e| format!("bind: {e}"))?;
            s.listen(5).map_err(|e| e.to_string())?;
            let l: std::net::TcpListener = s.into();
            let endpoint = Endpoint::Tcp(l.local_addr().map_err(|e| e.to_string())?);
            Ok(Listener { socket: StdListener::Tcp(l), endpoint, socket_file: None })
        }
        _ => bind_safely(ep),
    }
}

/// `os.remove(path)` before bind, whatever is there (like socat's unlink-early).
fn bind_deleting_path(ep: &Endpoint) -> Result<Listener, String> {
    if let Endpoint::Unix(path) = ep {
        let _ = std::fs::remove_file(path);
    }
    bind_safely(ep)
}

fn accept(l: &StdListener) -> io::Result<Stream> {
    Ok(match l {
        StdListener::Tcp(l) => Stream::Tcp(l.accept()?.0),
        StdListener::Unix(l) => Stream::Unix(l.accept()?.0),
    })
}

fn socket_of(l: &StdListener) -> socket2::SockRef<'_> {
    match l {
        StdListener::Tcp(l) => socket2::SockRef::from(l),
        StdListener::Unix(l) => socket2::SockRef::from(l),
    }
}

/// Start a blocking server: the accept loop calls `handler` inline (sequential) or on a thread
/// per connection (concurrent).
fn start(ep: &Endpoint, bind: Bind, handler: Handler, concurrent: bool) -> Result<(Endpoint, Stopper), String> {
    let listener = Arc::new(bind(ep)?);
    let real = listener.endpoint.clone();
    let ctl = Arc::new(Ctl::default());
    let ctl2 = ctl.clone();
    let server_listener = listener.clone();
    let thread: JoinHandle<()> = std::thread::spawn(move || {
        let listener = server_listener;
        let mut workers = vec![];
        let mut next_id = 0u64;
        loop {
            let accepted = accept(&listener.socket);
            if ctl2.stopping() {
                break;
            }
            let Ok(conn) = accepted else { continue };
            next_id += 1;
            let id = next_id;
            if let Ok(c) = conn.try_clone() {
                ctl2.conns.lock().unwrap().insert(id, c);
            }
            // Serve, then forget the connection (dropping it closes it, unless the handler leaked it).
            let serve = move |mut conn: Stream, ctl: &Ctl| {
                let after = handler(&mut conn, ctl);
                ctl.conns.lock().unwrap().remove(&id);
                after
            };
            if concurrent {
                let ctl3 = ctl2.clone();
                workers.push(std::thread::spawn(move || {
                    serve(conn, &ctl3);
                }));
            } else if let After::Die = serve(conn, &ctl2) {
                // The process is gone: nobody listens any more.
                let _ = socket_of(&listener.socket).shutdown(Shutdown::Both);
                break;
            }
        }
        for w in workers {
            let _ = w.join();
        }
    });
    let stop: Stopper = Box::new(move || {
        ctl.stop.store(true, Ordering::Relaxed);
        for (_, c) in ctl.conns.lock().unwrap().drain() {
            c.shutdown();
        }
        for c in ctl.leaked.lock().unwrap().iter() {
            c.shutdown();
        }
        // On Linux, shutting down a listening socket wakes a blocked accept() with an error.
        let _ = socket_of(&listener.socket).shutdown(Shutdown::Both);
        let _ = thread.join();
        drop(listener); // the last reference: closes it and removes its socket file
        ctl.leaked.lock().unwrap().clear();
    });
    Ok((real, stop))
}

// The handlers: the tutorial's communication loop, right and wrong.

/// `while True: data = recv(1024); if not data: break; sendall(data.upper())`.
fn correct(conn: &mut Stream, _: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return After::Next,
            Ok(n) => {
                buf[..n].make_ascii_uppercase();
                if conn.write_all(&buf[..n]).is_err() {
                    return After::Next;
                }
            }
        }
    }
}

/// Takes one recv as the whole message: answers it, then ignores the rest of the connection.
fn first_recv_only(conn: &mut Stream, _: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    if let Ok(n @ 1..) = conn.read(&mut buf) {
        buf[..n].make_ascii_uppercase();
        let _ = conn.write_all(&buf[..n]);
    }
    while let Ok(1..) = conn.read(&mut buf) {}
    After::Next
}

/// Forgets `if not data: break`: spins on a closed connection and never accepts again.
fn spins_on_eof(conn: &mut Stream, ctl: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    while !ctl.stopping() {
        match conn.read(&mut buf) {
            Ok(0) => continue,
            Ok(n) => {
                buf[..n].make_ascii_uppercase();
                if conn.write_all(&buf[..n]).is_err() {
                    return After::Next;
                }
            }
            Err(_) => return After::Next,
        }
    }
    After::Next
}

/// No `try/except` around the loop: a reset or broken pipe kills the whole server.
fn dies_on_reset(conn: &mut Stream, _: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return After::Next,
            Ok(n) => {
                buf[..n].make_ascii_uppercase();
                if conn.write_all(&buf[..n]).is_err() {
                    return After::Die;
                }
            }
            Err(_) => return After::Die,
        }
    }
}

/// `send()` instead of `sendall()` on a non-blocking write: what does not fit is lost.
fn drops_when_writes_block(conn: &mut Stream, _: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    let dontwait = nix::sys::socket::MsgFlags::MSG_DONTWAIT.bits();
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return After::Next,
            Ok(n) => {
                buf[..n].make_ascii_uppercase();
                match conn.sock().send_with_flags(&buf[..n], dontwait) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return After::Next,
                }
            }
        }
    }
}

/// Never closes a connection: the peer never sees EOF, and descriptors pile up.
fn leaks_descriptors(conn: &mut Stream, ctl: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf[..n].make_ascii_uppercase();
                if conn.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    if let Ok(c) = conn.try_clone() {
        ctl.leaked.lock().unwrap().push(c);
    }
    After::Next
}

/// One buffer for every connection: under concurrency, clients get each other's bytes.
fn mixes_clients(conn: &mut Stream, ctl: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return After::Next,
            Ok(n) => {
                {
                    let mut shared = ctl.shared.lock().unwrap();
                    shared.clear();
                    shared.extend_from_slice(&buf[..n]);
                }
                std::thread::yield_now();
                let reply: Vec<u8> = ctl.shared.lock().unwrap().iter().take(n).map(u8::to_ascii_uppercase).collect();
                if conn.write_all(&reply).is_err() {
                    return After::Next;
                }
            }
        }
    }
}

struct Case {
    name: &'static str,
    handler: Handler,
    bind: Bind,
    model: Mode,
    /// Scenarios it must fail, per transport.
    must_fail: &'static [(&'static str, &'static [Transport])],
    /// Scenarios it may also fail, depending on timing (never counted as caught).
    may_fail: &'static [&'static str],
}

const BOTH: &[Transport] = &[Transport::Tcp, Transport::Unix];

fn run_case(case: &Case) {
    let runner = Runner::new(RunOpts { step_timeout: Duration::from_secs(1), ..Default::default() }).unwrap();
    let concurrent = case.model == Mode::Concurrent;
    let mut problems = vec![];
    for transport in Transport::ALL {
        let (handler, bind) = (case.handler, case.bind);
        let mut target =
            FnTarget::new(case.name, transport, Some(case.model), move |ep| start(ep, bind, handler, concurrent))
                .expect("target");
        let mut failed = BTreeSet::new();
        let mut reports = vec![];
        for scenario in sockcheck_scenarios::all() {
            let outcome = runner.run(&scenario, &mut target);
            if outcome.failed() {
                failed.insert(scenario.name().to_string());
                reports.push(outcome.report());
            }
            // The next scenario gets a fresh server, as `check --spawn` does after a failure.
            let _ = sockcheck::target::Target::stop(&mut target);
        }
        let must: BTreeSet<String> =
            case.must_fail.iter().filter(|(_, ts)| ts.contains(&transport)).map(|(n, _)| n.to_string()).collect();
        let missed: Vec<_> = must.difference(&failed).collect();
        let extra: Vec<_> =
            failed.iter().filter(|f| !must.contains(*f) && !case.may_fail.contains(&f.as_str())).collect();
        if !missed.is_empty() || !extra.is_empty() {
            problems.push(format!(
                "{} over {transport}: not caught by {missed:?}; wrongly failed {extra:?}\n{}",
                case.name,
                reports.join("\n")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_correct_blocking_server_passes_everything() {
    run_case(&Case {
        name: "correct (sequential)",
        handler: correct,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[],
        may_fail: &[],
    });
}

#[test]
fn a_correct_thread_per_client_server_passes_everything() {
    run_case(&Case {
        name: "correct (thread per client)",
        handler: correct,
        bind: bind_safely,
        model: Mode::Concurrent,
        must_fail: &[],
        may_fail: &[],
    });
}

#[test]
fn answering_only_the_first_recv_is_caught() {
    run_case(&Case {
        name: "first recv only",
        handler: first_recv_only,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[
            ("several_messages_on_one_connection", BOTH),
            ("send_of_64k_comes_back_whole", BOTH),
            ("send_of_1m_comes_back_whole", BOTH),
            ("send_of_16m_comes_back_whole", BOTH),
            ("every_byte_value_is_preserved", BOTH),
            // The reset now comes while A's reply is streaming: 64 KiB of it never come.
            ("reset_client_does_not_stop_the_server", BOTH),
            ("client_vanishing_mid_reply_does_not_stop_the_server", BOTH),
            ("half_close_still_gets_the_whole_reply", BOTH),
            ("slow_reader_loses_nothing", BOTH),
            ("queued_clients_are_served_in_arrival_order", BOTH),
        ],
        may_fail: &[],
    });
}

#[test]
fn spinning_on_eof_is_caught() {
    run_case(&Case {
        name: "spins on EOF",
        handler: spins_on_eof,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[
            ("empty_recv_ends_the_connection", BOTH),
            ("second_client_is_served_after_the_first_closes", BOTH),
            ("thousand_short_connections_in_a_row", BOTH),
            ("half_close_still_gets_the_whole_reply", BOTH),
            ("queued_clients_are_served_in_arrival_order", BOTH),
        ],
        may_fail: &[],
    });
}

#[test]
fn dying_on_a_reset_is_caught() {
    run_case(&Case {
        name: "dies on reset",
        handler: dies_on_reset,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[
            ("reset_client_does_not_stop_the_server", BOTH),
            ("client_vanishing_mid_reply_does_not_stop_the_server", BOTH),
        ],
        may_fail: &[],
    });
}

#[test]
fn dropping_data_when_writes_would_block_is_caught() {
    run_case(&Case {
        name: "drops data when writes would block",
        handler: drops_when_writes_block,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[("slow_reader_loses_nothing", BOTH)],
        // Big streams lose bytes too whenever the client reads slower than the server writes.
        may_fail: &[
            "send_of_1m_comes_back_whole",
            "send_of_16m_comes_back_whole",
            "half_close_still_gets_the_whole_reply",
        ],
    });
}

#[test]
fn binding_without_so_reuseaddr_is_caught() {
    run_case(&Case {
        name: "no SO_REUSEADDR",
        handler: correct,
        bind: bind_without_reuseaddr,
        model: Mode::Sequential,
        must_fail: &[("restarted_server_binds_at_once", &[Transport::Tcp])],
        may_fail: &[],
    });
}

#[test]
fn mixing_bytes_between_clients_is_caught() {
    run_case(&Case {
        name: "mixes clients",
        handler: mixes_clients,
        bind: bind_safely,
        model: Mode::Concurrent,
        must_fail: &[("concurrent_clients_are_served_at_once", BOTH)],
        // A vanished client's connection may still be busy when the next one starts.
        may_fail: &["client_vanishing_mid_reply_does_not_stop_the_server", "reset_client_does_not_stop_the_server"],
    });
}

#[test]
fn leaking_a_descriptor_per_connection_is_caught() {
    run_case(&Case {
        name: "leaks descriptors",
        handler: leaks_descriptors,
        bind: bind_safely,
        model: Mode::Sequential,
        must_fail: &[
            ("empty_recv_ends_the_connection", BOTH),
            ("thousand_short_connections_in_a_row", BOTH),
            ("half_close_still_gets_the_whole_reply", BOTH),
        ],
        may_fail: &[],
    });
}

#[test]
fn deleting_whatever_is_at_the_socket_path_is_caught() {
    run_case(&Case {
        name: "deletes the file at its path",
        handler: correct,
        bind: bind_deleting_path,
        model: Mode::Sequential,
        must_fail: &[("regular_file_at_socket_path_is_kept", &[Transport::Unix])],
        may_fail: &[],
    });
}

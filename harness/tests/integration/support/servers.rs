//! Small blocking servers written the way the tutorial writes its server (an accept loop around a
//! recv/send loop), right and wrong, so they behave like a student's script would. Shared by the
//! broken-server and random-scenario tests.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use sockcheck::addr::Endpoint;
use sockcheck::net::{self, ListenOpts, Listener, StdConn, StdListener};
use sockcheck::target::Stopper;

/// An accepted connection of either transport: the harness's own blocking stream type.
pub type Stream = StdConn;

/// Shared state of one running server.
#[derive(Default)]
pub struct Ctl {
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
pub enum After {
    Next,
    /// The server process dies.
    Die,
}

pub type Handler = fn(&mut Stream, &Ctl) -> After;
pub type Bind = fn(&Endpoint) -> Result<Listener, String>;

pub fn bind_safely(ep: &Endpoint) -> Result<Listener, String> {
    net::bind(ep, &ListenOpts::default()).map_err(|e| e.to_string())
}

/// The tutorial's server without `setsockopt(SO_REUSEADDR)`.
pub fn bind_without_reuseaddr(ep: &Endpoint) -> Result<Listener, String> {
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
pub fn bind_deleting_path(ep: &Endpoint) -> Result<Listener, String> {
    if let Endpoint::Unix(path) = ep {
        let _ = std::fs::remove_file(path);
    }
    bind_safely(ep)
}

/// Like the tutorial's servers: no `TCP_NODELAY` (unlike [`StdListener::accept`]).
fn accept(l: &StdListener) -> io::Result<Stream> {
    Ok(match l {
        StdListener::Tcp(l) => Stream::Tcp(l.accept()?.0),
        StdListener::Unix(l) => Stream::Unix(l.accept()?.0),
    })
}

/// Start a blocking server: the accept loop calls `handler` inline (sequential) or on a thread
/// per connection (concurrent).
pub fn start(ep: &Endpoint, bind: Bind, handler: Handler, concurrent: bool) -> Result<(Endpoint, Stopper), String> {
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
                let _ = listener.socket.socket().shutdown(Shutdown::Both);
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
            let _ = c.socket().shutdown(Shutdown::Both);
        }
        for c in ctl.leaked.lock().unwrap().iter() {
            let _ = c.socket().shutdown(Shutdown::Both);
        }
        // On Linux, shutting down a listening socket wakes a blocked accept() with an error.
        let _ = listener.socket.socket().shutdown(Shutdown::Both);
        let _ = thread.join();
        drop(listener); // the last reference: closes it and removes its socket file
        ctl.leaked.lock().unwrap().clear();
    });
    Ok((real, stop))
}

// The handlers: the tutorial's communication loop, right and wrong.

/// `while True: data = recv(1024); if not data: break; sendall(data.upper())`.
pub fn correct(conn: &mut Stream, _: &Ctl) -> After {
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
pub fn first_recv_only(conn: &mut Stream, _: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    if let Ok(n @ 1..) = conn.read(&mut buf) {
        buf[..n].make_ascii_uppercase();
        let _ = conn.write_all(&buf[..n]);
    }
    while let Ok(1..) = conn.read(&mut buf) {}
    After::Next
}

/// Forgets `if not data: break`: spins on a closed connection and never accepts again.
pub fn spins_on_eof(conn: &mut Stream, ctl: &Ctl) -> After {
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
pub fn dies_on_reset(conn: &mut Stream, _: &Ctl) -> After {
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
pub fn drops_when_writes_block(conn: &mut Stream, _: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    let dontwait = nix::sys::socket::MsgFlags::MSG_DONTWAIT.bits();
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return After::Next,
            Ok(n) => {
                buf[..n].make_ascii_uppercase();
                match conn.socket().send_with_flags(&buf[..n], dontwait) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return After::Next,
                }
            }
        }
    }
}

/// Never closes a connection: the peer never sees EOF, and descriptors pile up.
pub fn leaks_descriptors(conn: &mut Stream, ctl: &Ctl) -> After {
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
pub fn mixes_clients(conn: &mut Stream, ctl: &Ctl) -> After {
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
                // Let another connection's bytes in, when there is one: a lone client (a 1 MiB
                // send) is served at full speed, whatever else the machine is doing.
                if ctl.conns.lock().unwrap().len() > 1 {
                    std::thread::yield_now();
                }
                let reply: Vec<u8> = ctl.shared.lock().unwrap().iter().take(n).map(u8::to_ascii_uppercase).collect();
                if conn.write_all(&reply).is_err() {
                    return After::Next;
                }
            }
        }
    }
}

// Hostile servers: not bugs of the tutorial's kind, but what a harness must survive and explain.

/// Says hello before anything was asked, then echoes correctly.
pub fn greets_unasked(conn: &mut Stream, ctl: &Ctl) -> After {
    let _ = conn.write_all(b"Welcome!\n");
    correct(conn, ctl)
}

/// Adds a newline to every reply.
pub fn appends_newline(conn: &mut Stream, _: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    while let Ok(n @ 1..) = conn.read(&mut buf) {
        buf[..n].make_ascii_uppercase();
        if conn.write_all(&buf[..n]).and_then(|()| conn.write_all(b"\n")).is_err() {
            break;
        }
    }
    After::Next
}

/// Answers every message with as many bytes of garbage.
pub fn sends_garbage(conn: &mut Stream, _: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    while let Ok(n @ 1..) = conn.read(&mut buf) {
        let garbage: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(37) ^ 0xA5).collect();
        if conn.write_all(&garbage).is_err() {
            break;
        }
    }
    After::Next
}

/// Accepts and hangs up at once.
pub fn closes_at_once(_: &mut Stream, _: &Ctl) -> After {
    After::Next
}

/// Accepts, reads everything, never answers.
pub fn never_answers(conn: &mut Stream, _: &Ctl) -> After {
    let mut buf = [0u8; 1024];
    while let Ok(1..) = conn.read(&mut buf) {}
    After::Next
}

/// Sends without end, whatever the client says.
pub fn floods(conn: &mut Stream, ctl: &Ctl) -> After {
    let chunk = [b'X'; 16 * 1024];
    while !ctl.stopping() && conn.write_all(&chunk).is_ok() {}
    After::Next
}

//! The proxy between datagram endpoints (UDP, Unix datagram sockets, either on each side).
//!
//! The server answers the address a datagram came from, so every client peer gets a socket of
//! its own towards the upstream (on a Unix upstream: bound to a fresh path in a temp dir), and a
//! task that forwards both ways through a [`DatagramShaper`] per direction. Faults are counted
//! per client and direction: `--drop-every 3` drops the 3rd, 6th, ... datagram a client sends
//! and the 3rd, 6th, ... reply it would get.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Faults;
use crate::addr::Endpoint;
use crate::error::Result;
use crate::faults::DatagramShaper;
use crate::net::{self, Dgram, DgramBound, Peer};

/// Room for any datagram, over Unix sockets too (their limit is the send buffer, not 64 KiB).
const BUFSIZE: usize = 1 << 18;
/// How long a datagram may wait for room in a receiver's queue (a Unix peer that does not read)
/// before it is dropped, as the network would.
const SEND_PATIENCE: Duration = Duration::from_secs(1);
/// A client silent for this long loses its upstream socket (a new datagram makes a new one).
const IDLE: Duration = Duration::from_secs(300);

/// Forward datagrams that come to `bound` to `upstream` and the replies back, until `stop`.
/// With `log`, a stderr line per new client and per failure.
pub async fn run(
    bound: DgramBound,
    upstream: Endpoint,
    faults: Faults,
    log: bool,
    stop: CancellationToken,
) -> Result<()> {
    faults.check(true)?;
    let DgramBound { socket, endpoint, socket_file } = bound;
    let listen = Arc::new(Dgram::from_socket(socket)?);
    let _ = listen.set_buffers(BUFSIZE);
    let say = move |what: String| {
        if log {
            eprintln!("sockcheck proxy: {what}");
        }
    };
    let mut sessions: HashMap<Peer, mpsc::UnboundedSender<Vec<u8>>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut buf = vec![0u8; BUFSIZE];
    let mut next_id = 0u64;
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            r = listen.recv_from(&mut buf) => r,
        };
        let (n, truncated, peer) = match received {
            Ok(r) => r,
            // An ICMP error of an earlier reply (the client is gone): nothing to do.
            Err(e) => {
                say(format!("recvfrom on {endpoint}: {e}"));
                continue;
            }
        };
        if truncated {
            say(format!("a datagram from {peer} is longer than {BUFSIZE} bytes: dropped"));
            continue;
        }
        if peer == Peer::Unix(None) {
            say("a datagram from an unnamed unix socket, which no reply can reach: dropped".into());
            continue;
        }
        let mut datagram = buf[..n].to_vec();
        if let Some(tx) = sessions.get(&peer) {
            match tx.send(datagram) {
                Ok(()) => continue,
                // Its task ended (idle): a new one below.
                Err(mpsc::error::SendError(d)) => datagram = d,
            }
        }
        let (sock, dir) = match net::dgram::client_socket(&upstream) {
            Ok(s) => s,
            Err(e) => {
                say(format!("no socket towards {upstream} for {peer}: {e}"));
                continue;
            }
        };
        let _ = sock.set_buffers(BUFSIZE);
        next_id += 1;
        say(format!("client {next_id}: {peer}"));
        // Forget the clients whose task ended (idle), so the map holds live ones only.
        sessions.retain(|_, tx| !tx.is_closed());
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(datagram).expect("the receiver is here");
        sessions.insert(peer.clone(), tx);
        let session = Session { id: next_id, peer, sock, upstream: upstream.clone(), listen: listen.clone() };
        tasks.spawn(session.run(rx, faults.clone(), say, dir));
    }
    tasks.shutdown().await;
    drop(socket_file);
    Ok(())
}

/// One client peer and its socket towards the upstream.
struct Session {
    id: u64,
    peer: Peer,
    sock: Dgram,
    upstream: Endpoint,
    listen: Arc<Dgram>,
}

impl Session {
    async fn run(
        self,
        mut from_client: mpsc::UnboundedReceiver<Vec<u8>>,
        faults: Faults,
        say: impl Fn(String),
        _dir: Option<tempfile::TempDir>,
    ) {
        let (mut up, mut down) =
            (DatagramShaper::new(faults.datagram_faults()), DatagramShaper::new(faults.datagram_faults()));
        let server = Peer::of(&self.upstream);
        let mut buf = vec![0u8; BUFSIZE];
        let id = self.id;
        loop {
            tokio::select! {
                d = from_client.recv() => {
                    let Some(d) = d else { return };
                    for d in up.on_datagram(d) {
                        if let Some(p) = faults.delay {
                            tokio::time::sleep(p).await;
                        }
                        let sent = tokio::time::timeout(SEND_PATIENCE, self.sock.send_to_endpoint(&d, &self.upstream)).await;
                        if let Some(e) = failure(sent) {
                            say(format!("client {id}: to the server: {e}"));
                        }
                    }
                }
                r = self.sock.recv_from(&mut buf) => match r {
                    Ok((n, false, from)) if Some(&from) == server.as_ref() => {
                        for d in down.on_datagram(buf[..n].to_vec()) {
                            if let Some(p) = faults.delay {
                                tokio::time::sleep(p).await;
                            }
                            let sent = tokio::time::timeout(SEND_PATIENCE, self.listen.send_to(&d, &self.peer)).await;
                            if let Some(e) = failure(sent) {
                                say(format!("client {id}: to {}: {e}", self.peer));
                            }
                        }
                    }
                    Ok((n, truncated, from)) => {
                        let what = if truncated { "too long" } else { "not from the server" };
                        say(format!("client {id}: a datagram of {n} bytes from {from}: {what}, dropped"));
                    }
                    // ECONNREFUSED: nothing listens upstream (an ICMP error of an earlier send).
                    Err(e) => say(format!("client {id}: from the server: {e}")),
                },
                _ = tokio::time::sleep(IDLE) => {
                    say(format!("client {id}: idle for {} s, forgotten", IDLE.as_secs()));
                    return;
                }
            }
        }
    }
}

/// What went wrong with a send, if anything.
fn failure(sent: std::result::Result<std::io::Result<usize>, tokio::time::error::Elapsed>) -> Option<String> {
    match sent {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no room within {} s, dropped", SEND_PATIENCE.as_secs())),
    }
}

//! The server sockcheck plays for a client scenario: it answers as the scenario's [`Serve`] says,
//! writing through the shared [`Writer`], and logs what it got.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;

use crate::faults::{Pacing, WriteProgress, Writer};
use crate::net::{self, AsyncListener, Conn};
use crate::proto::Transform;
use crate::scenario::client::Serve;

/// What the server saw, shared with its tasks.
#[derive(Default)]
pub(super) struct ServerLog {
    pub(super) connections: usize,
    pub(super) received: Vec<u8>,
    /// Over datagrams: each datagram received, whole, and the addresses they came from.
    pub(super) datagram: bool,
    pub(super) datagrams: Vec<Vec<u8>>,
    pub(super) peers: Vec<crate::net::Peer>,
    pub(super) datagram_bytes_replied: u64,
    /// The progress of each connection's writer: what was replied.
    pub(super) writers: Vec<tokio::sync::watch::Receiver<WriteProgress>>,
    pub(super) notes: Vec<String>,
}

impl ServerLog {
    pub(super) fn replied(&self) -> u64 {
        self.writers.iter().map(|w| w.borrow().written).sum::<u64>() + self.datagram_bytes_replied
    }

    /// A note, once however often it happens.
    pub(super) fn note(&mut self, n: String) {
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    /// What the client did to the server so far, for a failure message.
    pub(super) fn summary(&self) -> String {
        match (self.datagram, self.connections, self.datagrams.len()) {
            (false, 0, _) => "the client never connected".into(),
            (false, n, _) => format!("the server has had {n} connection(s), received {} bytes", self.received.len()),
            (true, _, 0) => "the server has received no datagram".into(),
            (true, _, n) => {
                let mut s = format!("the server has received {n} datagram(s), {} bytes", self.received.len());
                if self.peers.contains(&crate::net::Peer::Unix(None)) {
                    s += ", from an unnamed socket, which cannot be answered: an AF_UNIX datagram client must \
                          bind its socket to a path of its own";
                }
                s
            }
        }
    }
}

pub(super) async fn accept_loop(acceptor: AsyncListener, serve: Serve, log: Arc<Mutex<ServerLog>>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let conn = match acceptor.accept().await {
            Ok((conn, _)) => conn,
            Err(e) => {
                if let net::AcceptFailure::Backoff(pause) = net::accept_failed(&e, None) {
                    tokio::time::sleep(pause).await;
                }
                continue;
            }
        };
        log.lock().unwrap_or_else(|e| e.into_inner()).connections += 1;
        conns.spawn(serve_conn(conn, serve.clone(), log.clone()));
    }
}

/// How the played server writes its replies.
fn pacing(serve: &Serve) -> Pacing {
    match serve {
        Serve::InPieces { size, pause } => Pacing::slice(*size, Some(*pause)),
        Serve::SplittingUtf8 { pause } => Pacing::utf8(*pause),
        _ => Pacing::default(),
    }
}

async fn serve_conn(conn: Conn, serve: Serve, log: Arc<Mutex<ServerLog>>) {
    let note = |n: &str| log.lock().unwrap_or_else(|e| e.into_inner()).note(n.to_string());
    let linger = conn.linger_handle();
    let (mut rd, wr) = tokio::io::split(conn);
    // Replies are written by their own task, so a large message is read while its reply goes out.
    let mut writer = Writer::spawn(wr, pacing(&serve), linger, |e| e.to_string());
    log.lock().unwrap_or_else(|e| e.into_inner()).writers.push(writer.watch());
    let mut buf = vec![0u8; 64 * 1024];
    let mut answered = 0usize;
    loop {
        let ending = match serve {
            Serve::CloseAfter(k) if answered >= k => Some(false),
            // One byte only: the rest stays unread, so closing resets (TCP and Unix alike).
            Serve::ResetAfter(k) if answered >= k => Some(true),
            _ => None,
        };
        let want = if ending == Some(true) { 1 } else { buf.len() };
        let n = match rd.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        log.lock().unwrap_or_else(|e| e.into_inner()).received.extend_from_slice(&buf[..n]);
        match ending {
            Some(false) => {
                note("closed the connection (FIN) instead of answering");
                let _ = writer.shutdown();
                break;
            }
            Some(true) => {
                note("reset the connection (RST) instead of answering");
                let _ = writer.reset();
                break;
            }
            None => {}
        }
        if writer.send(Transform::Upper.to_vec(&buf[..n]).into()).is_err() {
            break;
        }
        answered += 1;
    }
    writer.finish().await;
    drop(rd);
}

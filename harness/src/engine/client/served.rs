//! The server sockcheck plays for a client scenario: it answers as the scenario's [`Serve`] says,
//! writing through the shared [`Writer`], and logs what it got.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;

use crate::facts::{Served, ServerNote};
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
    pub(super) notes: Vec<ServerNote>,
}

impl ServerLog {
    pub(super) fn replied(&self) -> u64 {
        self.writers.iter().map(|w| w.borrow().written).sum::<u64>() + self.datagram_bytes_replied
    }

    /// A note, once however often it happens.
    pub(super) fn note(&mut self, n: ServerNote) {
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    /// What the client did to the server so far, in figures.
    pub(super) fn served(&self) -> Served {
        Served {
            datagram: self.datagram,
            connections: self.connections as u64,
            datagrams: self.datagrams.len() as u64,
            peers: self.peers.len() as u64,
            received: self.received.len() as u64,
            replied: self.replied(),
            unnamed_sender: self.notes.contains(&ServerNote::UnnamedSender),
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
    let note = |n: ServerNote| log.lock().unwrap_or_else(|e| e.into_inner()).note(n);
    let linger = conn.linger_handle();
    let (mut rd, wr) = tokio::io::split(conn);
    // Replies are written by their own task, so a large message is read while its reply goes out.
    let mut writer = Writer::spawn(wr, pacing(&serve), linger);
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
                note(ServerNote::ClosedInsteadOfAnswering);
                let _ = writer.shutdown();
                break;
            }
            Some(true) => {
                note(ServerNote::ResetInsteadOfAnswering);
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

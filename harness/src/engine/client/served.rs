//! The server sockcheck plays for a client scenario: it answers as the scenario's [`Serve`] says,
//! writing through the shared [`Writer`], and logs what it got.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;

use crate::facts::{Served, ServerNote};
use crate::faults::{Pacing, WriteProgress, Writer};
use crate::net::{self, AsyncListener, Conn};
use crate::proto::{EchoConn, NextIo, Transform};
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
    // Replies are written by their own task, so a large message is read while its reply goes out:
    // the echo is the protocol's `EchoConn`, and its writes are handed to that task's queue (a
    // write there takes every byte at once), so it never waits for the client to read.
    let mut writer = Writer::spawn(wr, pacing(&serve), linger);
    log.lock().unwrap_or_else(|e| e.into_inner()).writers.push(writer.watch());
    let mut echo = EchoConn::new(64 * 1024, Transform::Upper);
    let mut answered = 0usize;
    loop {
        let buf = match echo.next_io() {
            NextIo::Done => break,
            NextIo::Write(reply) => {
                let reply: Arc<[u8]> = reply.into();
                let n = reply.len();
                if writer.send(reply).is_err() {
                    break;
                }
                echo.on_written(n);
                answered += 1;
                continue;
            }
            NextIo::Read(buf) => buf,
        };
        let ending = match serve {
            Serve::CloseAfter(k) if answered >= k => Some(false),
            // One byte only: the rest stays unread, so closing resets (TCP and Unix alike).
            Serve::ResetAfter(k) if answered >= k => Some(true),
            _ => None,
        };
        let want = if ending == Some(true) { 1 } else { buf.len() };
        let n = match rd.read(&mut buf[..want]).await {
            Ok(n) => n,
            Err(_) => break,
        };
        log.lock().unwrap_or_else(|e| e.into_inner()).received.extend_from_slice(&buf[..n]);
        match (ending, n) {
            // The end of the client's stream ends the echo (`NextIo::Done`), whatever `serve` says.
            (None, _) | (_, 0) => echo.on_read(n),
            (Some(false), _) => {
                note(ServerNote::ClosedInsteadOfAnswering);
                let _ = writer.shutdown();
                break;
            }
            (Some(true), _) => {
                note(ServerNote::ResetInsteadOfAnswering);
                let _ = writer.reset();
                break;
            }
        }
    }
    writer.finish().await;
    drop(rd);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::addr::Endpoint;
    use crate::net::ListenOpts;

    /// The played server on a loopback port, and its log.
    fn played(serve: Serve) -> (std::net::SocketAddr, Arc<Mutex<ServerLog>>) {
        let opts = ListenOpts { backlog: 4, unix_mode: 0o600 };
        let listener = net::bind(&Endpoint::Tcp(([127, 0, 0, 1], 0).into()), &opts).unwrap();
        let Endpoint::Tcp(addr) = listener.endpoint else { panic!("a TCP listener") };
        let log = Arc::new(Mutex::new(ServerLog::default()));
        let accept = AsyncListener::from_std(listener.socket).unwrap();
        tokio::spawn(accept_loop(accept, serve, log.clone()));
        (addr, log)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_message_is_read_whole_while_its_reply_goes_out() {
        let (addr, log) = played(Serve::Normally);
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Far more than the socket buffers hold: the server must read on while the client does not.
        let message: Vec<u8> = b"abc\xc3\xa9xyz".iter().copied().cycle().take(32 << 20).collect();
        let sent = tokio::time::timeout(Duration::from_secs(30), client.write_all(&message)).await;
        sent.expect("the played server stopped reading while its replies waited").unwrap();
        client.shutdown().await.unwrap();
        let mut reply = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), client.read_to_end(&mut reply)).await.unwrap().unwrap();
        assert!(reply == Transform::Upper.to_vec(&message), "the reply is not the message's uppercase");
        let log = log.lock().unwrap();
        assert_eq!((log.connections, log.received.len() as u64, log.replied()), (1, 32 << 20, 32 << 20));
        assert!(log.notes.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn close_after_k_answers_k_messages_then_reads_one_and_closes() {
        let (addr, log) = played(Serve::CloseAfter(1));
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client.write_all(b"one").await.unwrap();
        let mut reply = [0u8; 3];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"ONE");
        client.write_all(b"two").await.unwrap();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut rest)).await.unwrap().unwrap();
        assert_eq!(rest, b"", "closed instead of answering");
        let log = log.lock().unwrap();
        assert_eq!((log.received.as_slice(), log.replied()), (&b"onetwo"[..], 3));
        assert_eq!(log.notes, [ServerNote::ClosedInsteadOfAnswering]);
    }
}

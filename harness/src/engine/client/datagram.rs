//! Client scenarios over datagrams: the server sockcheck plays is the tutorial's UDP echo
//! (`recvfrom`, `sendto(data.upper(), addr)`) with the faults a network has (a lost reply, a
//! duplicated one, a datagram from a stranger first), and the steps and causes that only
//! datagrams have. Everything else (the process, the prompt, the printed lines, the report) is
//! the stream client's machinery.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{tail, Run, ServerLog};
use crate::addr::Endpoint;
use crate::engine::{Engine, StepResult};
use crate::facts::{Bytes, Difference, Fact, ServerNote, Unit};
use crate::net::{self, Dgram, ListenOpts, Peer, SocketFile};
use crate::proto::{Answer, DatagramEcho, Received, Transform};
use crate::scenario::client::Serve;

/// What the stranger sends: as long as the reply it precedes, so only its sender tells it apart.
pub(super) fn stranger_bytes(len: usize) -> Vec<u8> {
    b"NOT-FROM-THE-SERVER ".iter().copied().cycle().take(len).collect()
}

/// The played server's task, and the socket file it owns (removed when dropped).
pub(super) type Served<'e> = (&'e tokio::runtime::Runtime, tokio::task::JoinHandle<()>, [Option<SocketFile>; 2]);

/// Bind the played datagram server at `ask` (and, for [`Serve::StrangerFirst`], a second socket
/// in `dir`), and start serving on the engine's background runtime.
pub(super) fn start<'e>(
    engine: &'e Engine,
    ask: &Endpoint,
    dir: &Path,
    serve: &Serve,
    log: &Arc<Mutex<ServerLog>>,
) -> crate::Result<(Endpoint, Served<'e>)> {
    let opts = ListenOpts { backlog: 1, unix_mode: 0o600 };
    let bound = net::bind_dgram(ask, &opts)?;
    let stranger = match (serve, ask) {
        (Serve::StrangerFirst, Endpoint::UnixDgram(_)) => {
            Some(net::bind_dgram(&Endpoint::UnixDgram(dir.join("stranger.sock")), &opts)?)
        }
        (Serve::StrangerFirst, _) => Some(net::bind_dgram(&Endpoint::Udp(([127, 0, 0, 1], 0).into()), &opts)?),
        _ => None,
    };
    let rt = engine.background()?;
    let _guard = rt.enter();
    let sock = Dgram::from_socket(bound.socket)?;
    // Room for the largest datagram both ways, over Unix sockets too.
    let _ = sock.set_buffers(1 << 18);
    let (stranger, stranger_file) = match stranger {
        Some(s) => (Some(Dgram::from_socket(s.socket)?), s.socket_file),
        None => (None, None),
    };
    let task = rt.spawn(serve_datagrams(sock, stranger, serve.clone(), log.clone()));
    Ok((bound.endpoint, (rt, task, [bound.socket_file, stranger_file])))
}

/// The played datagram server: every datagram gets its uppercase, to its sender, as `serve` says.
/// The echo is the protocol's [`DatagramEcho`]; the faults (no reply to an unnamed sender, lost
/// replies, a stranger's datagram first, duplicates) are what is done with its answer.
pub(super) async fn serve_datagrams(sock: Dgram, stranger: Option<Dgram>, serve: Serve, log: Arc<Mutex<ServerLog>>) {
    let log = |f: &mut dyn FnMut(&mut ServerLog)| f(&mut log.lock().unwrap_or_else(|e| e.into_inner()));
    let mut echo = DatagramEcho::new(Transform::Upper);
    let mut buf = vec![0u8; 1 << 17];
    let mut lost = 0u64;
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok((n, _, from)) => (n, from),
            Err(e) => {
                log(&mut |l| l.note(ServerNote::RecvFailed { error: e.to_string() }));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        log(&mut |l| {
            l.datagrams.push(buf[..n].to_vec());
            l.received.extend_from_slice(&buf[..n]);
            if !l.peers.contains(&from) {
                l.peers.push(from.clone());
            }
        });
        if from == Peer::Unix(None) {
            log(&mut |l| l.note(ServerNote::UnnamedSender));
            continue;
        }
        // Not told of a cut (a datagram longer than the buffer), the echo answers what the buffer
        // kept, as this server always has: the client sees its reply cut rather than none at all.
        let got = Received { len: n, truncated: false };
        let Answer::Reply { bytes: reply, to: from } = echo.on_datagram(&mut buf, got, from) else {
            continue;
        };
        match (&serve, &stranger) {
            (Serve::DropReplies(k), _) if lost < *k as u64 => {
                lost += 1;
                log(&mut |l| l.note(ServerNote::LostOnPurpose { n: lost, bytes: reply.len() as u64 }));
                continue;
            }
            (Serve::StrangerFirst, Some(s)) => {
                let who = s.local().map_or_else(|| "a second socket".into(), |p| p.to_string());
                match s.send_to(&stranger_bytes(reply.len()), &from).await {
                    Ok(_) => log(&mut |l| l.note(ServerNote::StrangerFirst { from: who.clone() })),
                    Err(e) => {
                        log(&mut |l| l.note(ServerNote::ReplyFailed { to: from.to_string(), error: e.to_string() }))
                    }
                }
            }
            _ => {}
        }
        let copies = if serve == Serve::Duplicating { 2 } else { 1 };
        for _ in 0..copies {
            match sock.send_to(reply, &from).await {
                Ok(_) => log(&mut |l| l.datagram_bytes_replied += reply.len() as u64),
                Err(e) => log(&mut |l| l.note(ServerNote::ReplyFailed { to: from.to_string(), error: e.to_string() })),
            }
        }
        if copies == 2 {
            log(&mut |l| l.note(ServerNote::Duplicated));
        }
    }
}

impl Run<'_> {
    /// After a lost reply: the reply printed (the line was sent again), or a non-zero exit that
    /// says why, within `timeout`.
    pub(super) fn expect_reply_or_give_up(&mut self, timeout: Duration) -> StepResult {
        let started = Instant::now();
        let until = started + timeout;
        let stdout = self.proc.stdout.clone();
        loop {
            let lines = self.printed_lines(&stdout.bytes());
            if !self.expected_out.is_empty() && lines.len() >= self.expected_out.len() {
                let expected = self.expected_out.clone();
                self.expect_printed(&expected, Duration::from_millis(100))?;
                let datagrams = self.log.lock().unwrap_or_else(|e| e.into_inner()).datagrams.len() as u64;
                return Ok(Fact::ReplyPrinted { after: started.elapsed().into(), datagrams });
            }
            if let Some(status) = self.proc.status() {
                self.settle_stderr();
                let (status, after) = (status.into(), started.elapsed().into());
                let said = tail(&self.proc.stderr, 2);
                return match (status, said.is_empty()) {
                    (crate::facts::ProcStatus::Exited(0), _) => Err(Fact::ExitedWithoutReply { status, after }),
                    (_, false) => Ok(Fact::GaveUp { status, after, said }),
                    (_, true) => Err(Fact::GaveUpSilently { status, after }),
                };
            }
            if Instant::now() >= until {
                let served = self.log.lock().unwrap_or_else(|e| e.into_inner()).served();
                return Err(Fact::WaitedForever { within: timeout.into(), served });
            }
            drop(stdout.wait(stdout.lock(), (until - Instant::now()).min(Duration::from_millis(20))));
        }
    }

    /// The played server received exactly these datagrams: one per line, stripped, none empty.
    pub(super) fn expect_datagrams_sent(&mut self, expected: &[Vec<u8>], timeout: Duration) -> StepResult {
        let until = Instant::now() + timeout;
        loop {
            let got = self.log.lock().unwrap_or_else(|e| e.into_inner()).datagrams.clone();
            // Pieces of a line sent as datagrams of their own: put together they are the lines.
            let split = got.len() > expected.len() && got.concat() == expected.concat();
            if !split {
                if let Some((i, (want, got))) = expected.iter().zip(&got).enumerate().find(|(_, (w, g))| w != g) {
                    return Err(Fact::WrongDatagramSent {
                        index: i as u64 + 1,
                        diff: Difference::between(Unit::Datagram, want, got, 0),
                        got: Bytes::of(got),
                        expected: Bytes::of(want),
                    });
                }
            }
            if got.len() > expected.len() {
                return Err(Fact::TooManyDatagrams {
                    got: got.len() as u64,
                    expected: expected.len() as u64,
                    extra: Bytes::of(&got[expected.len()]),
                    split,
                });
            }
            if got.len() == expected.len() {
                return Ok(Fact::DatagramsAsExpected { count: expected.len() as u64 });
            }
            if Instant::now() >= until {
                let (got, expected) = (got.len() as u64, expected.len() as u64);
                return Err(Fact::TooFewDatagrams { got, expected, within: timeout.into() });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether `printed` is the datagram sockcheck sent from another address before `reply`.
    pub(super) fn is_strangers(&self, printed: &[u8], reply: &[u8]) -> bool {
        self.serve == &Serve::StrangerFirst && !printed.is_empty() && printed == stranger_bytes(reply.len())
    }

    /// The datagram facts behind a wrong printed line `got` (expected `expected[i]`): is it the
    /// stranger's datagram, the reply to an earlier line again, and did the server get an empty
    /// datagram.
    pub(super) fn datagram_facts(&self, expected: &[Vec<u8>], i: usize, got: &[u8]) -> (bool, Option<u64>, bool) {
        let stranger = self.is_strangers(got, &expected[i]);
        let repeats = expected[..i].iter().position(|e| e.as_slice() == got).map(|j| j as u64 + 1);
        let empty = self.log.lock().unwrap_or_else(|e| e.into_inner()).datagrams.iter().any(Vec::is_empty);
        (stranger, repeats, empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stranger_matches_the_reply_in_length_only() {
        assert_eq!(stranger_bytes(5), b"NOT-F");
        assert_eq!(stranger_bytes(25).len(), 25);
        assert!(stranger_bytes(0).is_empty());
    }

    /// The played server over UDP, started as a client check starts it, and two clients of its
    /// own: each datagram is answered, and the figures a failure shows count the datagrams and
    /// each sender's address once.
    #[test]
    fn the_played_server_answers_each_datagram_and_counts_each_address_once() {
        let engine = Engine::new(crate::engine::RunOpts::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(Mutex::new(ServerLog { datagram: true, ..ServerLog::default() }));
        let udp = Endpoint::Udp(([127, 0, 0, 1], 0).into());
        let (server, _served) = start(&engine, &udp, dir.path(), &Serve::Normally, &log).unwrap();
        let a = net::StdDgram::for_server(&server).unwrap();
        let b = net::StdDgram::for_server(&server).unwrap();
        let mut buf = [0u8; 64];
        for (client, line) in [(&a, "ab"), (&a, "cd"), (&b, "ef")] {
            client.send(line.as_bytes()).unwrap();
            let (n, _, from_server) =
                client.recv(&mut buf, Duration::from_secs(10)).unwrap().expect("a reply within 10 s");
            assert_eq!((&buf[..n], from_server), (line.to_uppercase().as_bytes(), true));
        }
        let served = log.lock().unwrap().served();
        // (What was replied is counted after the send, so it may not be counted yet.)
        assert_eq!((served.datagrams, served.peers, served.received), (3, 2, 6));
        assert!(served.to_string().starts_with("3 datagram(s) from 2 address(es)"), "{served}");
    }
}

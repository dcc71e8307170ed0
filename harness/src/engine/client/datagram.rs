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
use crate::net::{self, Dgram, ListenOpts, Peer, SocketFile};
use crate::process::describe_status;
use crate::proto::Transform;
use crate::report::{excerpt, format_duration, mismatch};
use crate::scenario::client::Serve;

/// What the stranger sends: as long as the reply it precedes, so only its sender tells it apart.
pub(super) fn stranger_bytes(len: usize) -> Vec<u8> {
    b"NOT-FROM-THE-SERVER ".iter().copied().cycle().take(len).collect()
}

/// The played server's task, and the socket file it owns (removed when dropped).
pub(super) type Served<'e> = (&'e tokio::runtime::Runtime, tokio::task::JoinHandle<()>, Option<SocketFile>);

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
    let stranger = match stranger {
        Some(s) => {
            // Its file goes with the temp dir.
            std::mem::forget(s.socket_file);
            Some(Dgram::from_socket(s.socket)?)
        }
        None => None,
    };
    let task = rt.spawn(serve_datagrams(sock, stranger, serve.clone(), log.clone()));
    Ok((bound.endpoint, (rt, task, bound.socket_file)))
}

/// The played datagram server: every datagram gets its uppercase, to its sender, as `serve` says.
pub(super) async fn serve_datagrams(sock: Dgram, stranger: Option<Dgram>, serve: Serve, log: Arc<Mutex<ServerLog>>) {
    let log = |f: &mut dyn FnMut(&mut ServerLog)| f(&mut log.lock().unwrap_or_else(|e| e.into_inner()));
    let mut buf = vec![0u8; 1 << 17];
    let mut lost = 0;
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok((n, _, from)) => (n, from),
            Err(e) => {
                log(&mut |l| l.note(format!("recvfrom failed: {e}")));
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
            log(&mut |l| {
                l.note(
                    "a datagram came from an unnamed socket, which cannot be answered: an AF_UNIX datagram client \
                     must bind its socket to a path of its own"
                        .into(),
                )
            });
            continue;
        }
        let reply = Transform::Upper.to_vec(&buf[..n]);
        match (&serve, &stranger) {
            (Serve::DropReplies(k), _) if lost < *k => {
                lost += 1;
                log(&mut |l| l.note(format!("lost reply {lost} on purpose ({} bytes not sent)", reply.len())));
                continue;
            }
            (Serve::StrangerFirst, Some(s)) => {
                let who = s.local().map_or_else(|| "a second socket".into(), |p| p.to_string());
                match s.send_to(&stranger_bytes(reply.len()), &from).await {
                    Ok(_) => log(&mut |l| l.note(format!("a datagram from {who} went before each reply"))),
                    Err(e) => log(&mut |l| l.note(format!("the stranger's sendto to {from} failed: {e}"))),
                }
            }
            _ => {}
        }
        let copies = if serve == Serve::Duplicating { 2 } else { 1 };
        for _ in 0..copies {
            match sock.send_to(&reply, &from).await {
                Ok(_) => log(&mut |l| l.datagram_bytes_replied += reply.len() as u64),
                Err(e) => log(&mut |l| l.note(format!("the reply to {from} could not be sent: {e}"))),
            }
        }
        if copies == 2 {
            log(&mut |l| l.note("sent every reply twice on purpose".into()));
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
                let printed = self.expect_printed(&expected, Duration::from_millis(100))?;
                let sent = self.log.lock().unwrap_or_else(|e| e.into_inner()).datagrams.len();
                return Ok(format!(
                    "{printed} after {}; the server got {sent} datagram(s): the line was sent again",
                    format_duration(started.elapsed())
                ));
            }
            if let Some(status) = self.proc.status() {
                self.settle_stderr();
                let what = format!("{} after {}", describe_status(status), format_duration(started.elapsed()));
                let said = tail(&self.proc.stderr, 2);
                return match (status.code().is_some_and(|c| c != 0), said.is_empty()) {
                    (true, false) => Ok(format!("gave up: {what}; stderr: {said}")),
                    (true, true) => {
                        Err(format!("{what} without a word on stderr: a person is not told that the reply was lost"))
                    }
                    (false, _) => Err(format!(
                        "{what} without printing the reply: expected the reply (sent again) or a non-zero exit \
                         that says it gave up"
                    )),
                };
            }
            if Instant::now() >= until {
                let summary = self.log.lock().unwrap_or_else(|e| e.into_inner()).summary();
                return Err(format!(
                    "the client waited forever for a lost reply: datagrams can be lost; set a timeout \
                     (settimeout) and resend or give up (no reply printed and no exit within {}; {summary}, \
                     the first reply lost on purpose)",
                    format_duration(timeout)
                ));
            }
            drop(stdout.wait(stdout.lock(), (until - Instant::now()).min(Duration::from_millis(20))));
        }
    }

    /// The played server received exactly these datagrams: one per line, stripped, none empty.
    pub(super) fn expect_datagrams_sent(&mut self, expected: &[Vec<u8>], timeout: Duration) -> StepResult {
        let until = Instant::now() + timeout;
        loop {
            let got = self.log.lock().unwrap_or_else(|e| e.into_inner()).datagrams.clone();
            for (i, (want, got)) in expected.iter().zip(&got).enumerate() {
                if want != got {
                    let mut msg = format!(
                        "datagram {} the server received is wrong ({} bytes, expected {}): {}",
                        i + 1,
                        got.len(),
                        want.len(),
                        mismatch(want, got, 0).replace("of the stream", "of the datagram")
                    );
                    if got.is_empty() {
                        msg += " (an empty datagram: an empty line must not be sent)";
                    } else if got.trim_ascii() == want.as_slice() {
                        msg += " (the line was not stripped)";
                    }
                    return Err(msg);
                }
            }
            if got.len() > expected.len() {
                let extra = &got[expected.len()];
                let mut msg = format!(
                    "the server received {} datagrams, expected {}; datagram {} is {}",
                    got.len(),
                    expected.len(),
                    expected.len() + 1,
                    excerpt(extra)
                );
                if extra.is_empty() {
                    msg += " (an empty datagram: an empty line must not be sent)";
                }
                return Err(msg);
            }
            if got.len() == expected.len() {
                return Ok(format!("the server received exactly {} datagrams, one per line", expected.len()));
            }
            if Instant::now() >= until {
                return Err(format!(
                    "the server received {} of {} datagrams within {}",
                    got.len(),
                    expected.len(),
                    format_duration(timeout)
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Why printed line `i` (`got`, expected `expected[i]`) is wrong, when datagrams explain it.
    pub(super) fn datagram_cause(&self, expected: &[Vec<u8>], i: usize, got: &[u8]) -> Option<String> {
        if !self.transport.is_datagram() {
            return None;
        }
        let want = &expected[i];
        if got.is_empty() && self.log.lock().unwrap_or_else(|e| e.into_inner()).datagrams.iter().any(Vec::is_empty) {
            return Some(
                "the client sent an empty datagram (an empty line) and printed its empty reply: empty lines must \
                 not be sent"
                    .into(),
            );
        }
        if !got.is_empty() && got.len() < want.len() && want.starts_with(got) {
            let n = got.len();
            return Some(format!(
                "the reply was cut: {n} of {} bytes; the whole reply came in one datagram, and a receive buffer \
                 of {n} bytes (recvfrom({n})) keeps only its start: use recvfrom(65536)",
                want.len()
            ));
        }
        if self.serve == &Serve::StrangerFirst && got == stranger_bytes(want.len()) {
            return Some(
                "that is the datagram sockcheck sent from another address just before the reply: a datagram \
                 client must check the address recvfrom returns and ignore what does not come from the server"
                    .into(),
            );
        }
        if let Some(j) = expected[..i].iter().position(|e| e.as_slice() == got) {
            let mut cause = format!("that is the reply to line {} again", j + 1);
            if self.serve == &Serve::Duplicating {
                cause += ", which the server sent twice: the copy was taken as the answer to the next line \
                          (throw away datagrams waiting before sending a line, and take as the reply only a \
                          datagram as long as the line)";
            }
            return Some(cause);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::stranger_bytes;

    #[test]
    fn the_stranger_matches_the_reply_in_length_only() {
        assert_eq!(stranger_bytes(5), b"NOT-F");
        assert_eq!(stranger_bytes(25).len(), 25);
        assert!(stranger_bytes(0).is_empty());
    }
}

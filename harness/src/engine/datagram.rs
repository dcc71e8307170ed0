//! Datagram server scenarios: the datagram step vocabulary, played by the same engine, transcript
//! and deadlines as the stream one ([`super::stream`] hands a datagram scenario's client blocks
//! here). Every client is one datagram socket; every reply must come from the server's address,
//! whole, in one datagram.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::{RunOpts, StepResult, Transcript};
use crate::addr::Endpoint;
use crate::facts::{Bytes, Difference, Fact, IoFault, Misuse, Unit};
use crate::net::{self, Dgram, Peer};
use crate::proto::Transform;
use crate::report::Failure;
use crate::scenario::{Step, Steps, TimedStep};

/// Unanswered datagrams a burst keeps in flight: enough to be a burst, few enough that a
/// correct server on loopback loses none to a full receive queue.
const BURST_WINDOW: usize = 32;
/// Over Unix sockets a receive queue holds `net.unix.max_dgram_qlen` datagrams (10 by default),
/// and a sender past that waits with no wake-up it can rely on.
const BURST_WINDOW_UNIX: usize = 8;
/// A burst gives up on the datagrams in flight after this long without a reply.
const BURST_STALL: Duration = Duration::from_millis(500);
/// More lost than this (over loopback) fails a burst.
const BURST_MAX_LOSS: f64 = 0.10;

/// The first thing `make` makes at an address not in `avoid`: those made at one are kept until
/// then, so that `make` cannot give the same address again (16 tries at most).
fn not_at<T, E>(avoid: &[Peer], mut make: impl FnMut() -> Result<(T, Option<Peer>), E>) -> Result<T, E> {
    let mut held = vec![];
    loop {
        match make()? {
            (made, Some(at)) if avoid.contains(&at) && held.len() < 16 => held.push(made),
            (made, _) => return Ok(made),
        }
    }
}

/// One played datagram client.
#[derive(Default)]
pub(super) struct DgramClient {
    socket: Option<(Dgram, Option<tempfile::TempDir>)>,
    /// Payloads sent whose reply has not come yet, oldest first.
    pending: VecDeque<Vec<u8>>,
    buf: Vec<u8>,
    /// The address its socket had when it vanished: no later client of the scenario gets it.
    vanished: Option<Peer>,
    /// The addresses of the scenario's clients that vanished, which its socket must not have.
    avoid: Vec<Peer>,
}

/// Play one client block of a datagram scenario.
pub(super) async fn run_steps(
    clients: &mut HashMap<String, DgramClient>,
    name: &str,
    steps: &Steps,
    ctx: (&Endpoint, Transform, &RunOpts),
    log: &mut Transcript,
) -> Result<(), Failure> {
    for t in &steps.steps {
        // A reply to a client that vanished may still be on its way: a new socket at its address
        // would take it for its own.
        let avoid: Vec<Peer> = clients.values().filter_map(|c| c.vanished.clone()).collect();
        let client = clients.entry(name.to_string()).or_default();
        client.avoid = avoid;
        let started = Instant::now();
        let r = client.step(t, ctx.0, ctx.1, ctx.2).await;
        let code = t.step.to_code();
        log.record(name, code.clone(), started, &r);
        if let Err(e) = r {
            return Err(log.fail(name, code, e));
        }
    }
    Ok(())
}

impl DgramClient {
    /// Its socket, made at an address none of the vanished clients had (one made there is kept
    /// bound while another is made, so the next bind cannot give it again).
    async fn socket(&mut self, server: &Endpoint) -> Result<&Dgram, Fact> {
        if self.socket.is_none() {
            let (s, dir) = not_at(&self.avoid, || {
                let made = net::dgram::client_socket(server).map_err(|e| Fact::Setup { what: e.to_string() })?;
                let local = made.0.local();
                Ok((made, local))
            })?;
            // Room for the largest datagram both ways, over Unix sockets too.
            let _ = s.set_buffers(1 << 18);
            self.socket = Some((s, dir));
            self.buf = vec![0; 1 << 17];
        }
        Ok(&self.socket.as_ref().expect("just made").0)
    }

    async fn step(&mut self, t: &TimedStep, server: &Endpoint, transform: Transform, opts: &RunOpts) -> StepResult {
        let within = t.within.unwrap_or(opts.step_timeout);
        match &t.step {
            Step::SendDatagram(p) => {
                let bytes = p.bytes();
                let sock = self.socket(server).await?;
                sock.send_to_endpoint(&bytes, server)
                    .await
                    .map_err(|e| Fact::SendtoFailed { error: IoFault::from(&e) })?;
                let n = bytes.len();
                self.pending.push_back(bytes);
                Ok(Fact::DatagramSent { bytes: n as u64 })
            }
            Step::ExpectDatagramReply => self.expect_reply(server, transform, within).await,
            Step::ExpectNoDatagram(d) => {
                let sock = self.socket(server).await?;
                let mut buf = vec![0u8; 1 << 17];
                match tokio::time::timeout(*d, sock.recv_from(&mut buf)).await {
                    Err(_) => Ok(Fact::Quiet { waited: (*d).into() }),
                    Ok(Ok((n, _, from))) => {
                        Err(Fact::UnexpectedDatagram { bytes: Bytes::of(&buf[..n]), from: from.to_string() })
                    }
                    Ok(Err(e)) => Err(Fact::RecvFailed { error: IoFault::from(&e) }),
                }
            }
            Step::Burst { count, size } => self.burst(server, transform, *count, *size).await,
            Step::Vanish => {
                let local = self.socket.as_ref().and_then(|(s, _)| s.local());
                self.vanished = local.clone();
                self.socket = None;
                self.pending.clear();
                Ok(Fact::SocketClosed { local: local.map(|l| l.to_string()) })
            }
            Step::Wait(d) => {
                tokio::time::sleep(*d).await;
                Ok(Fact::Nothing)
            }
            _ => Err(Fact::Misuse { what: Misuse::StreamStepOverDatagrams }),
        }
    }

    /// The next datagram: from the server, and the whole transform of the oldest pending one.
    async fn expect_reply(&mut self, server: &Endpoint, transform: Transform, within: Duration) -> StepResult {
        let Some(sent) = self.pending.front().cloned() else {
            return Err(Fact::Misuse { what: Misuse::NothingSent });
        };
        let expected = transform.to_vec(&sent);
        let started = Instant::now();
        let from_server = Peer::of(server);
        self.socket(server).await?;
        let (sock, _) = self.socket.as_ref().expect("made above");
        let (n, truncated, from) = match tokio::time::timeout(within, sock.recv_from(&mut self.buf)).await {
            Err(_) => return Err(Fact::NoDatagramReply { sent: sent.len() as u64, within: within.into() }),
            Ok(Err(e)) => return Err(Fact::RecvFailed { error: IoFault::from(&e) }),
            Ok(Ok(r)) => r,
        };
        let got = &self.buf[..n];
        let (got_len, expected_len) = (n as u64, expected.len() as u64);
        if Some(&from) != from_server.as_ref() {
            return Err(Fact::ForeignDatagram {
                bytes: Bytes::of(got),
                from: from.to_string(),
                server: server.to_string(),
            });
        }
        if got == expected.as_slice() {
            self.pending.pop_front();
            return Ok(Fact::DatagramReplied { bytes: got_len, took: started.elapsed().into() });
        }
        // A reply that answers a later datagram: out of order, or this one's lost. Checked before
        // the sizes, since a later datagram's reply has its own size.
        if self.pending.iter().skip(1).any(|p| transform.to_vec(p) == got) {
            return Err(Fact::LaterReplyFirst { got: got_len, expected: expected_len });
        }
        if truncated || n > expected.len() {
            return Err(Fact::DatagramTooLong { got: got_len, expected: expected_len });
        }
        // A cut leaves out more than whitespace: what only lacks the whitespace at its end was
        // stripped (the wrong bytes say so).
        let stripped = expected[n.min(expected.len())..].iter().all(u8::is_ascii_whitespace);
        if n < expected.len() && expected.starts_with(got) && !stripped {
            return Err(Fact::DatagramCut { got: got_len, expected: expected_len });
        }
        let diff = Difference::between(Unit::Datagram, &expected, got, 0);
        Err(Fact::WrongDatagram { diff, got: got_len, expected: expected_len })
    }

    /// `count` numbered datagrams, [`BURST_WINDOW`] in flight; replies counted, loss a figure.
    async fn burst(&mut self, server: &Endpoint, transform: Transform, count: usize, size: usize) -> StepResult {
        let started = Instant::now();
        let datagram = |i: usize| {
            let mut d = format!("{i:06}:").into_bytes();
            d.extend(crate::scenario::pattern(size.saturating_sub(d.len())).bytes());
            d
        };
        let mut index: HashMap<Vec<u8>, usize> = HashMap::with_capacity(count);
        let mut answered = vec![false; count];
        let window = if server.transport().is_unix() { BURST_WINDOW_UNIX } else { BURST_WINDOW };
        let (mut sent, mut replies, mut duplicates, mut in_flight, mut stalls) = (0usize, 0usize, 0usize, 0usize, 0);
        let mut stranger = None;
        self.socket(server).await?;
        let (sock, _) = self.socket.as_ref().expect("made above");
        loop {
            while sent < count && in_flight < window {
                let d = datagram(sent);
                sock.send_to_endpoint(&d, server).await.map_err(|e| Fact::SendtoFailed { error: IoFault::from(&e) })?;
                index.insert(transform.to_vec(&d), sent);
                sent += 1;
                in_flight += 1;
            }
            if in_flight == 0 && sent == count {
                break;
            }
            match tokio::time::timeout(BURST_STALL, sock.recv_from(&mut self.buf)).await {
                Ok(Ok((n, _, _))) => {
                    stalls = 0;
                    match index.get(&self.buf[..n]) {
                        None => {
                            stranger = Some(Bytes::of(&self.buf[..n]));
                            break;
                        }
                        Some(&i) if answered[i] => duplicates += 1,
                        Some(&i) => {
                            answered[i] = true;
                            replies += 1;
                            in_flight = in_flight.saturating_sub(1);
                        }
                    }
                }
                Ok(Err(e)) => return Err(Fact::RecvFailed { error: IoFault::from(&e) }),
                Err(_) => {
                    // What is in flight is lost; three stalls in a row: the server stopped answering.
                    in_flight = 0;
                    stalls += 1;
                    if replies == 0 || stalls >= 3 {
                        break;
                    }
                }
            }
        }
        let lost = (count - replies) as f64 / count as f64;
        let fact = Fact::Burst {
            count: count as u64,
            sent: sent as u64,
            answered: replies as u64,
            duplicates: duplicates as u64,
            took: started.elapsed().into(),
            stranger,
        };
        let failed = match &fact {
            Fact::Burst { stranger: Some(_), .. } => true,
            _ => replies == 0 || duplicates > 0 || lost > BURST_MAX_LOSS,
        };
        if failed {
            Err(fact)
        } else {
            Ok(fact)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_client_socket_is_never_at_a_vanished_clients_address() {
        let peer = |port: u16| Peer::of(&Endpoint::Udp(([127, 0, 0, 1], port).into())).unwrap();
        let avoid = [peer(5000), peer(5001)];
        let mut ports = [5000, 5001, 5000, 5002].into_iter();
        let made = not_at(&avoid, || Ok::<_, ()>((0, ports.next().map(peer)))).unwrap();
        assert_eq!(ports.next(), None, "every address in `avoid` was skipped: {made}");
        let mut ports = [5003].into_iter();
        let _ = not_at(&avoid, || Ok::<_, ()>((0, ports.next().map(peer))));
        assert_eq!(ports.next(), None, "the first address not in `avoid` is taken");
    }
}

//! What explore generates: a [`Case`], a small value that becomes a scenario of the DSL.
//!
//! Cases are their own vocabulary (a few operations per connection, sender or typed line) rather
//! than raw DSL steps, so that every generated value is a conversation a correct program must
//! handle: a stream connection never reads a reply it did not ask for, a sequential server never
//! sees a second client while the first one is still connected, a datagram is never larger than
//! UDP carries. [`Case::scenario`] and [`Case::client_scenario`] turn them into DSL values, which
//! the engine plays (its checks are the oracle: the echo law of the catalogue) and which print as
//! code. Cases are saved as JSON in the regressions file, their bytes as text with escapes.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::scenario::client::{close_after, reset_after, ClientScenario, ClientSteps, Exit, Serve};
use crate::scenario::{ms, secs, Mode, Payload, Scenario, Steps};

/// One generated case, for a stream server, a datagram server or a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Case {
    /// Stream server: connections, one after another (or taking turns when `interleave` and the
    /// server is concurrent).
    Stream {
        /// The connections, in order.
        conns: Vec<Conn>,
        /// Connections take turns, one operation each (a concurrent server only).
        interleave: bool,
    },
    /// Datagram server: datagrams from up to three senders.
    Datagram {
        /// What the senders do, in order.
        ops: Vec<DgramOp>,
    },
    /// Client: lines typed while sockcheck plays the server.
    Client {
        /// How the played server answers.
        serve: ServeHow,
        /// The lines typed, in order.
        lines: Vec<Msg>,
        /// How the conversation ends.
        end: ClientEnd,
    },
}

/// Bytes a generated client sends: pieces of text, bytes and long repeating text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Msg(pub Vec<Piece>);

/// A part of a [`Msg`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Piece {
    /// These bytes (saved as text, escaped where not UTF-8).
    Bytes(#[serde(with = "shown")] Vec<u8>),
    /// `n` bytes of the DSL's repeating text, [`crate::scenario::pattern`].
    Pattern(usize),
}

/// One operation on a stream connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamOp {
    /// Send, then read the whole reply.
    Echo(Msg),
    /// Several sends back to back, then the whole reply of all of them.
    Pieces(Vec<Msg>),
    /// Do nothing for this many milliseconds.
    Pause(u64),
}

/// How a connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnEnd {
    /// Left open (closed at the end of the case; before the next client of a sequential server).
    Open,
    /// `close()`.
    Close,
    /// `SO_LINGER 0` and close: a reset.
    Reset,
    /// `shutdown(SHUT_WR)`: the server must close too.
    HalfClose,
}

/// One stream connection of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conn {
    /// What it does, in order.
    pub ops: Vec<StreamOp>,
    /// How it ends.
    pub end: ConnEnd,
}

/// What one datagram sender does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DgramOp {
    /// Which sender (0, 1 or 2: `a`, `b`, `c`).
    pub sender: usize,
    /// What it does.
    pub what: DgramWhat,
}

/// What a datagram sender does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DgramWhat {
    /// One datagram, then its reply.
    Echo(Msg),
    /// Several datagrams, then their replies in order.
    Pipelined(Vec<Msg>),
    /// `count` datagrams of `size` bytes, a few in flight.
    Burst {
        /// How many.
        count: usize,
        /// Bytes each.
        size: usize,
    },
    /// One datagram, and the sender's socket is gone before the reply.
    Vanish(Msg),
}

/// How the server sockcheck plays for a client answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServeHow {
    /// At once, whole.
    Normally,
    /// In pieces of `size` bytes, `pause_ms` apart (streams).
    InPieces {
        /// Bytes per piece.
        size: usize,
        /// Milliseconds before each piece.
        pause_ms: u64,
    },
    /// Multi-byte characters cut across writes (streams).
    SplittingUtf8 {
        /// Milliseconds between pieces.
        pause_ms: u64,
    },
    /// Every reply twice (datagrams).
    Duplicating,
    /// A datagram from another address before each reply (datagrams).
    StrangerFirst,
}

/// How a client case ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientEnd {
    /// The client is left running (stopped at the end of the case).
    Running,
    /// Its input ends: it exits 0, having printed every reply, without a traceback.
    EndInput,
    /// The server closes on the next line: the client exits non-zero at once, no traceback.
    ServerCloses,
    /// The server resets on the next line: likewise.
    ServerResets,
}

/// The line typed when the server is to go away ([`ClientEnd::ServerCloses`]).
const LAST_LINE: &str = "one more";

/// A client sends no empty line, and strips the ends of every line (Python's `str.strip()`,
/// Rust's `trim()`, JavaScript's `trim()`, Perl's `s/^\s+|\s+$//g` agree on the spaces and tabs
/// that generated lines have).
pub fn stripped(line: &[u8]) -> &[u8] {
    let start = line.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(line.len());
    let end = line.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |i| i + 1);
    &line[start..end]
}

impl Msg {
    /// The bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = vec![];
        for p in &self.0 {
            match p {
                Piece::Bytes(b) => out.extend_from_slice(b),
                Piece::Pattern(n) => out.extend(crate::scenario::pattern(*n).bytes()),
            }
        }
        out
    }

    /// As a DSL payload: `pattern(n)` when it is one, the bytes otherwise.
    pub fn payload(&self) -> Payload {
        match self.0.as_slice() {
            [Piece::Pattern(n)] => crate::scenario::pattern(*n),
            _ => Payload::from(self.bytes()),
        }
    }
}

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

fn name(i: usize) -> String {
    NAMES.get(i).map_or_else(|| format!("c{i}"), |n| n.to_string())
}

impl Conn {
    fn op_steps(op: &StreamOp, c: Steps) -> Steps {
        match op {
            StreamOp::Echo(m) if m.bytes().is_empty() => c,
            StreamOp::Echo(m) => c.send(m.payload()).expect_reply(),
            StreamOp::Pieces(ms) => {
                let sent: Vec<&Msg> = ms.iter().filter(|m| !m.bytes().is_empty()).collect();
                if sent.is_empty() {
                    return c;
                }
                sent.into_iter().fold(c, |c, m| c.send(m.payload())).expect_reply()
            }
            StreamOp::Pause(n) => c.wait(ms(*n)),
        }
    }

    fn end_steps(end: ConnEnd, last: bool, c: Steps) -> Steps {
        match end {
            // Left open: closed when the case ends. Before another client of a sequential server
            // it is closed, or that client would rightly wait for ever.
            ConnEnd::Open if last => c,
            ConnEnd::Open | ConnEnd::Close => c.close(),
            ConnEnd::Reset => c.reset(),
            ConnEnd::HalfClose => c.half_close().expect_eof(),
        }
    }
}

impl Case {
    /// Whether it is a client case.
    pub fn is_client(&self) -> bool {
        matches!(self, Case::Client { .. })
    }

    /// Whether it is a datagram case (of a server or a client over datagrams).
    pub fn is_datagram(&self) -> bool {
        matches!(self, Case::Datagram { .. })
    }

    /// Simpler forms of this case that proptest's shrinking does not reach (it shrinks each
    /// alternative of a `prop_oneof!` within itself): several sends or datagrams become one,
    /// turns become one connection after another, a paced server a plain one. Simplest first.
    pub fn simpler(&self) -> Vec<Case> {
        let mut out = vec![];
        match self {
            Case::Stream { conns, interleave } => {
                if *interleave {
                    out.push(Case::Stream { conns: conns.clone(), interleave: false });
                }
                for (i, conn) in conns.iter().enumerate() {
                    for (k, op) in conn.ops.iter().enumerate() {
                        if let StreamOp::Pieces(ms) = op {
                            for m in ms {
                                let mut c = conns.clone();
                                c[i].ops[k] = StreamOp::Echo(m.clone());
                                out.push(Case::Stream { conns: c, interleave: *interleave });
                            }
                        }
                    }
                }
            }
            Case::Datagram { ops } => {
                for (k, op) in ops.iter().enumerate() {
                    if let DgramWhat::Pipelined(ms) = &op.what {
                        for m in ms {
                            let mut o = ops.clone();
                            o[k].what = DgramWhat::Echo(m.clone());
                            out.push(Case::Datagram { ops: o });
                        }
                    }
                    if op.sender != 0 {
                        let mut o = ops.clone();
                        o[k].sender = 0;
                        out.push(Case::Datagram { ops: o });
                    }
                }
            }
            Case::Client { serve, lines, end } => {
                if *serve != ServeHow::Normally {
                    out.push(Case::Client { serve: ServeHow::Normally, lines: lines.clone(), end: *end });
                }
            }
        }
        out
    }

    /// Whether its replies are slow by design (the played server answers in paced pieces): they
    /// say nothing about how long this program's replies take.
    pub fn paced(&self) -> bool {
        matches!(self, Case::Client { serve: ServeHow::InPieces { .. } | ServeHow::SplittingUtf8 { .. }, .. })
    }

    /// Its size for shrinking reports: (clients or lines, steps, payload bytes).
    pub fn size(&self, model: Option<Mode>) -> (usize, usize, usize) {
        match self {
            Case::Client { .. } => {
                let s = self.client_scenario("x", true);
                let typed = s.steps.steps.iter().filter_map(|t| match &t.step {
                    crate::scenario::client::ClientStep::Type(p) => Some(p.len()),
                    _ => None,
                });
                (1, s.steps.steps.len(), typed.sum())
            }
            _ => {
                let s = self.scenario("x", model);
                let (mut clients, mut steps, mut bytes) = (std::collections::BTreeSet::new(), 0, 0);
                for a in &s.actions {
                    if let crate::scenario::Action::Client { name, steps: st } = a {
                        clients.insert(name.clone());
                        steps += st.steps.len();
                        for t in &st.steps {
                            if let crate::scenario::Step::Send(p) | crate::scenario::Step::SendDatagram(p) = &t.step {
                                bytes += p.len();
                            }
                        }
                    }
                }
                (clients.len(), steps, bytes)
            }
        }
    }

    /// A server case as a scenario named `name`, for a server of `model` (connections take turns
    /// only with a concurrent one).
    pub fn scenario(&self, name: &str, model: Option<Mode>) -> Scenario {
        let s = Scenario::new(name).about("found by sockcheck explore");
        match self {
            Case::Stream { conns, interleave } => {
                stream_scenario(s, conns, *interleave && model == Some(Mode::Concurrent))
            }
            Case::Datagram { ops } => datagram_scenario(s.datagrams(), ops),
            Case::Client { .. } => s,
        }
    }

    /// A client case as a client scenario named `name`; `datagram`: over datagrams.
    pub fn client_scenario(&self, name: &str, datagram: bool) -> ClientScenario {
        let s = ClientScenario::new(name).about("found by sockcheck explore");
        let s = if datagram { s.datagrams() } else { s };
        let Case::Client { serve, lines, end } = self else { return s };
        let answered = lines.iter().filter(|l| !stripped(&l.bytes()).is_empty()).count();
        // At most 64 pieces a reply: a long line's reply a byte at a time would take longer than
        // any step waits, and that is the played server's slowness, not the client's.
        let longest = lines.iter().map(|l| l.bytes().len()).max().unwrap_or(0);
        let serve = match (end, serve) {
            (ClientEnd::ServerCloses, _) if !datagram => close_after(answered),
            (ClientEnd::ServerResets, _) if !datagram => reset_after(answered),
            (_, ServeHow::Normally) => Serve::Normally,
            (_, ServeHow::InPieces { size, pause_ms }) => {
                crate::scenario::client::reply_in_pieces((*size).max(longest / 64), ms(*pause_ms))
            }
            (_, ServeHow::SplittingUtf8 { pause_ms }) => crate::scenario::client::split_utf8(ms(*pause_ms)),
            (_, ServeHow::Duplicating) => Serve::Duplicating,
            (_, ServeHow::StrangerFirst) => Serve::StrangerFirst,
        };
        let end = *end;
        s.serve(serve).steps(|c| {
            let c = lines.iter().fold(c, |c: ClientSteps, l| c.type_line(l.payload()).expect_replies());
            match end {
                ClientEnd::Running => c,
                ClientEnd::EndInput => c.end_input().expect_exit(Exit::Success).expect_replies().expect_no_traceback(),
                ClientEnd::ServerCloses | ClientEnd::ServerResets if datagram => c,
                ClientEnd::ServerCloses | ClientEnd::ServerResets => {
                    c.type_line(LAST_LINE).expect_exit(Exit::Failure).within(secs(2)).expect_no_traceback()
                }
            }
        })
    }

    /// The case as DSL code (a server case for `model`), ready to paste into a catalogue.
    pub fn code(&self, name: &str, model: Option<Mode>, datagram: bool) -> String {
        if self.is_client() {
            self.client_scenario(name, datagram).to_code()
        } else {
            self.scenario(name, model).to_code()
        }
    }

    /// A short stable name from the case's contents: `explore_` and 8 hex digits.
    pub fn id(&self) -> String {
        // FNV-1a over the JSON: the same case has the same name on every machine and version.
        let json = serde_json::to_string(self).unwrap_or_default();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in json.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        let mut s = String::from("explore_");
        let _ = write!(s, "{:08x}", h >> 32);
        s
    }
}

fn stream_scenario(mut s: Scenario, conns: &[Conn], interleave: bool) -> Scenario {
    let reset = conns.iter().any(|c| c.end == ConnEnd::Reset);
    if interleave && conns.len() > 1 {
        for i in 0..conns.len() {
            s = s.client(&name(i), |c| c.connect());
        }
        let rounds = conns.iter().map(|c| c.ops.len()).max().unwrap_or(0);
        for k in 0..rounds {
            for (i, conn) in conns.iter().enumerate() {
                if let Some(op) = conn.ops.get(k) {
                    let steps = Conn::op_steps(op, Steps::default());
                    if !steps.steps.is_empty() {
                        s = s.client(&name(i), |_| steps);
                    }
                }
            }
        }
        for (i, conn) in conns.iter().enumerate() {
            let steps = Conn::end_steps(conn.end, true, Steps::default());
            if !steps.steps.is_empty() {
                s = s.client(&name(i), |_| steps);
            }
        }
    } else {
        for (i, conn) in conns.iter().enumerate() {
            // The client that checks the server after a reset comes after this one.
            let last = i + 1 == conns.len() && !reset;
            s = s.client(&name(i), |c| {
                let c = conn.ops.iter().fold(c.connect(), |c, op| Conn::op_steps(op, c));
                Conn::end_steps(conn.end, last, c)
            });
        }
    }
    // A server that dies of a reset (or of a write to a reset peer) does so after the case's
    // last step: one more client sees it within the case, not in the next one.
    if reset {
        s = s.client("after", |c| c.connect().send("still there?").expect_reply());
    }
    s
}

fn datagram_scenario(mut s: Scenario, ops: &[DgramOp]) -> Scenario {
    let mut vanished = false;
    for op in ops {
        let who = name(op.sender);
        s = match &op.what {
            DgramWhat::Echo(m) => s.client(&who, |c| c.send_datagram(m.payload()).expect_datagram_reply()),
            DgramWhat::Pipelined(ms) => s.client(&who, |c| {
                let c = ms.iter().fold(c, |c, m| c.send_datagram(m.payload()));
                ms.iter().fold(c, |c, _| c.expect_datagram_reply())
            }),
            DgramWhat::Burst { count, size } => s.client(&who, |c| c.burst(*count, *size)),
            DgramWhat::Vanish(m) => {
                vanished = true;
                s.client(&who, |c| c.send_datagram(m.payload()).vanish())
            }
        };
    }
    if vanished {
        s = s.client("after", |c| c.send_datagram("still there?").expect_datagram_reply());
    }
    s
}

/// Bytes in JSON as text: UTF-8 as it is, other bytes escaped ([`crate::facts::show`]).
mod shown {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::facts::show(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        crate::facts::unshow(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Msg {
        Msg(vec![Piece::Bytes(s.as_bytes().to_vec())])
    }

    #[test]
    fn a_one_message_case_is_three_steps_of_code() {
        let case = Case::Stream {
            conns: vec![Conn { ops: vec![StreamOp::Echo(text(" "))], end: ConnEnd::Open }],
            interleave: false,
        };
        let code = case.code("x", Some(Mode::Sequential), false);
        assert!(code.contains(r#".client("a", |c| c.connect().send(" ").expect_reply())"#), "{code}");
        assert_eq!(case.size(None), (1, 3, 1));
    }

    #[test]
    fn a_sequential_server_never_sees_two_clients_at_once() {
        let conn = Conn { ops: vec![StreamOp::Echo(text("hi"))], end: ConnEnd::Open };
        let case = Case::Stream { conns: vec![conn.clone(), conn], interleave: true };
        let seq = case.code("x", Some(Mode::Sequential), false);
        assert!(seq.contains(r#".client("a", |c| c.connect().send("hi").expect_reply().close())"#), "{seq}");
        let conc = case.code("x", Some(Mode::Concurrent), false);
        assert!(conc.contains(r#".client("b", |c| c.connect())"#), "{conc}");
    }

    #[test]
    fn a_reset_is_followed_by_a_client_that_checks_the_server_lives() {
        let case = Case::Stream { conns: vec![Conn { ops: vec![], end: ConnEnd::Reset }], interleave: false };
        let code = case.code("x", None, false);
        assert!(code.contains(r#".client("after", |c| c.connect().send("still there?").expect_reply())"#), "{code}");
    }

    #[test]
    fn cases_read_back_from_json_exactly() {
        let case = Case::Client {
            serve: ServeHow::InPieces { size: 2, pause_ms: 3 },
            lines: vec![Msg(vec![Piece::Bytes(b"\x00\xff a\t".to_vec()), Piece::Pattern(1025)])],
            end: ClientEnd::ServerCloses,
        };
        let json = serde_json::to_string(&case).unwrap();
        assert_eq!(serde_json::from_str::<Case>(&json).unwrap(), case);
        assert_eq!(case.id(), serde_json::from_str::<Case>(&json).unwrap().id());
        assert!(case.id().starts_with("explore_") && case.id().len() == 16);
    }

    #[test]
    fn a_client_whose_server_closes_must_exit_non_zero_after_the_answered_lines() {
        let case = Case::Client {
            serve: ServeHow::Normally,
            lines: vec![text("a"), text("  "), text("b")],
            end: ClientEnd::ServerCloses,
        };
        let code = case.code("x", None, false);
        assert!(code.contains(".serve(close_after(2))"), "{code}");
        assert!(code.contains(r#"type_line("one more").expect_exit(Exit::Failure)"#), "{code}");
    }

    #[test]
    fn simpler_forms_send_one_message_where_there_were_several() {
        let m = |s: &str| Msg(vec![Piece::Bytes(s.as_bytes().to_vec())]);
        let case =
            Case::Datagram { ops: vec![DgramOp { sender: 1, what: DgramWhat::Pipelined(vec![m("a"), m(" ")]) }] };
        let simpler = case.simpler();
        assert!(simpler.contains(&Case::Datagram { ops: vec![DgramOp { sender: 1, what: DgramWhat::Echo(m(" ")) }] }));
        assert!(simpler.contains(&Case::Datagram {
            ops: vec![DgramOp { sender: 0, what: DgramWhat::Pipelined(vec![m("a"), m(" ")]) }]
        }));
        let conn = Conn { ops: vec![StreamOp::Pieces(vec![m("a"), m("b")])], end: ConnEnd::Open };
        let stream = Case::Stream { conns: vec![conn], interleave: true };
        assert_eq!(stream.simpler().len(), 3);
        assert!(Case::Stream { conns: vec![], interleave: false }.simpler().is_empty());
    }

    #[test]
    fn stripping_removes_spaces_and_tabs_at_the_ends_only() {
        assert_eq!(stripped(b" \ta  b\t "), b"a  b");
        assert_eq!(stripped(b" \t "), b"");
        assert_eq!(stripped(b""), b"");
    }
}

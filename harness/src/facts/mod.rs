//! What happened in a scenario, as data.
//!
//! Every step of every direction records one [`Fact`]: what was sent and received (byte counts,
//! offsets, the bytes around a first difference), how a connection or a program ended, what a
//! wait was for. A failure's [`Cause`] is derived from its fact and the [`Context`] around it by one
//! classifier ([`cause::classify`]); the human, JSON, JUnit and HTML reports word and draw the same
//! facts. Nothing reads a sentence back: [`Display`](std::fmt::Display) is for people only.
//!
//! # Layout
//! - this file: [`Fact`] and the data it holds ([`Bytes`], [`Difference`], [`IoFault`],
//!   [`ProcStatus`], [`Micros`]).
//! - `words`: how each fact reads in a transcript (the [`Display`](std::fmt::Display) impls).
//! - [`cause`]: [`Cause`], the fix a learner can act on, and [`cause::classify`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod cause;
mod words;

pub use cause::{classify, Cause, Context, TargetEnd};

/// A duration kept as whole microseconds (as every report shows it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Micros(pub u64);

impl From<Duration> for Micros {
    fn from(d: Duration) -> Self {
        Micros(d.as_micros().min(u64::MAX as u128) as u64)
    }
}

impl Micros {
    /// As a [`Duration`].
    pub fn duration(self) -> Duration {
        Duration::from_micros(self.0)
    }
}

impl std::fmt::Display for Micros {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::report::format_duration(self.duration()))
    }
}

/// Some bytes (at most [`Bytes::KEPT`] of them) and how many there were: what a report shows of
/// a payload. In JSON a string: text where it is UTF-8, `\xNN` escapes for bytes that are not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bytes {
    /// The first bytes, at most [`Bytes::KEPT`] of them.
    #[serde(with = "escaped")]
    pub head: Vec<u8>,
    /// How many bytes there were in all.
    pub len: u64,
}

impl Bytes {
    /// Bytes kept of a payload.
    pub const KEPT: usize = 64;

    /// The start of `bytes`, and how many there are.
    pub fn of(bytes: &[u8]) -> Self {
        Bytes { head: bytes[..bytes.len().min(Self::KEPT)].to_vec(), len: bytes.len() as u64 }
    }

    /// Whether every byte is kept.
    pub fn is_whole(&self) -> bool {
        self.head.len() as u64 == self.len
    }
}

/// Bytes as text where they are UTF-8, escapes where they are not (and for control bytes, quotes
/// and backslashes), so that `H\xc3\xa9LLO` reads `HéLLO`.
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                c if (c as u32) < 0x80 => s.extend((c as u8).escape_ascii().map(char::from)),
                c if c.is_control() => s.extend(c.escape_unicode()),
                c => s.push(c),
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// The inverse of [`show`]: the JSON report's bytes read back.
pub fn unshow(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('t') => out.push(b'\t'),
            Some('\'') => out.push(b'\''),
            Some('"') => out.push(b'"'),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?);
            }
            Some('u') => {
                let code: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                let c = u32::from_str_radix(&code, 16).ok().and_then(char::from_u32).ok_or("bad escape \\u")?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            other => return Err(format!("bad escape \\{}", other.map_or(String::new(), String::from))),
        }
    }
    Ok(out)
}

mod escaped {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::show(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        super::unshow(&s).map_err(serde::de::Error::custom)
    }
}

/// What the first difference between expected and actual bytes is, and the bytes around it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// What the offsets count in.
    pub of: Unit,
    /// Offset of the first differing byte (in the whole stream, line, datagram or file).
    pub at: u64,
    /// Offset of the first byte of both excerpts.
    pub start: u64,
    /// The expected bytes around the difference, from `start`.
    #[serde(with = "escaped")]
    pub expected: Vec<u8>,
    /// The actual bytes around it, from `start`.
    #[serde(with = "escaped")]
    pub got: Vec<u8>,
}

/// What a [`Difference`]'s offsets count in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Bytes of a connection's stream.
    Stream,
    /// Bytes of a printed line.
    Line,
    /// Bytes of a datagram.
    Datagram,
    /// Bytes of a file.
    File,
}

impl Difference {
    /// Where `got` first differs from `expected` (both starting at offset `base`), with up to 8
    /// bytes before the difference and 24 from it, taken from the same bytes that were compared.
    pub fn between(of: Unit, expected: &[u8], got: &[u8], base: u64) -> Self {
        let i = expected.iter().zip(got).position(|(a, b)| a != b).unwrap_or(expected.len().min(got.len()));
        let from = i.saturating_sub(8);
        let cut = |b: &[u8]| b[from.min(b.len())..b.len().min(i + 24)].to_vec();
        Difference { of, at: base + i as u64, start: base + from as u64, expected: cut(expected), got: cut(got) }
    }

    /// Offset of the first difference within the excerpts.
    pub fn index(&self) -> usize {
        (self.at - self.start) as usize
    }

    /// The expected byte at the difference (`None`: the expected bytes end there).
    pub fn expected_byte(&self) -> Option<u8> {
        self.expected.get(self.index()).copied()
    }

    /// The actual byte at the difference (`None`: the actual bytes end there).
    pub fn got_byte(&self) -> Option<u8> {
        self.got.get(self.index()).copied()
    }
}

/// An I/O error as data: its kind, and the system's words for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoFault {
    /// What kind of error it is.
    pub kind: IoKind,
    /// The system's words for it.
    pub os: String,
}

/// The I/O errors a cause depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoKind {
    /// Connection refused (`ECONNREFUSED`): nothing listens.
    Refused,
    /// Connection reset (`ECONNRESET`).
    Reset,
    /// Broken pipe (`EPIPE`): the peer has closed.
    BrokenPipe,
    /// Connection aborted (`ECONNABORTED`).
    Aborted,
    /// No such file (`ENOENT`).
    NotFound,
    /// Timed out, or would have blocked.
    TimedOut,
    /// Address in use (`EADDRINUSE`).
    AddrInUse,
    /// Any other error.
    Other,
}

impl From<&std::io::Error> for IoFault {
    fn from(e: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::ConnectionRefused => IoKind::Refused,
            K::ConnectionReset => IoKind::Reset,
            K::BrokenPipe => IoKind::BrokenPipe,
            K::ConnectionAborted => IoKind::Aborted,
            K::NotFound => IoKind::NotFound,
            K::TimedOut | K::WouldBlock => IoKind::TimedOut,
            K::AddrInUse => IoKind::AddrInUse,
            _ => IoKind::Other,
        };
        IoFault { kind, os: e.to_string() }
    }
}

impl From<std::io::Error> for IoFault {
    fn from(e: std::io::Error) -> Self {
        IoFault::from(&e)
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcStatus {
    /// It exited with this status.
    Exited(i32),
    /// A signal killed it: the signal's number.
    Killed(i32),
}

impl From<std::process::ExitStatus> for ProcStatus {
    fn from(s: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (s.code(), s.signal()) {
            (Some(code), _) => ProcStatus::Exited(code),
            (None, Some(sig)) => ProcStatus::Killed(sig),
            (None, None) => ProcStatus::Exited(-1),
        }
    }
}

impl ProcStatus {
    /// Whether it exited with status 0.
    pub fn success(self) -> bool {
        self == ProcStatus::Exited(0)
    }
}

/// Where a program wrote something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How a connection came to an end while a reply was awaited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// An orderly close (EOF).
    Closed,
    /// RST, broken pipe, aborted, or another error.
    Error(IoFault),
}

/// A file put at, or found at, a Unix socket's path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathThing {
    /// A socket file (a stale one, when the scenario put it there).
    StaleSocket,
    /// A regular file, and its bytes.
    RegularFile(Bytes),
    /// Nothing at all.
    Nothing,
    /// Something else (a directory, a symlink, ...), or what could not be looked at.
    Other,
}

/// What sockcheck's played server (of a client check) saw, in figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    /// It served datagrams (else a stream transport).
    pub datagram: bool,
    /// Connections it accepted.
    pub connections: u64,
    /// Datagrams it received.
    pub datagrams: u64,
    /// Addresses the datagrams came from.
    pub peers: u64,
    /// Bytes it received.
    pub received: u64,
    /// Bytes it replied (written, or sent as datagrams).
    pub replied: u64,
    /// A datagram came from an unnamed AF_UNIX socket, which no reply can reach.
    #[serde(default)]
    pub unnamed_sender: bool,
}

/// What a step did: one fact, recorded whether the step passed or failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// A step that records nothing (a pause).
    Nothing,
    /// The scenario asks for something that cannot be done (a mistake in the scenario, not in
    /// the program under test).
    Misuse {
        /// What the scenario asks.
        what: Misuse,
    },
    /// sockcheck could not set something up (bind, temp dir, a command to run).
    Setup {
        /// What could not be set up, and why.
        what: String,
    },
    /// The whole scenario ran out of time.
    ScenarioTimeout {
        /// The scenario's deadline.
        deadline: Micros,
    },
    /// Step `i` of `count` repeated connections failed.
    InRepeat {
        /// Which connection (1-based).
        i: u64,
        /// How many connections the repeat makes.
        count: u64,
        /// The failing step's fact.
        inner: Box<Fact>,
    },
    /// `count` repeated connections, the first `shown` of them in the transcript.
    Repeated {
        /// How many connections were made, all passing.
        count: u64,
        /// How many of the first ones have their steps in the transcript.
        shown: u64,
    },

    // Stream connections played by sockcheck.
    /// A client connected.
    Connected {
        /// The address it connected to.
        to: String,
    },
    /// A client's connect failed.
    ConnectFailed {
        /// The address.
        to: String,
        /// Why it failed.
        error: IoFault,
    },
    /// Bytes handed to the connection's writer, which sends them while the client reads.
    Queued {
        /// How many.
        bytes: u64,
    },
    /// Everything queued on the connection is written.
    Sent {
        /// Bytes queued on the connection so far, all written.
        bytes: u64,
    },
    /// Writing failed before everything queued was written.
    SendFailed {
        /// Bytes written before it failed.
        written: u64,
        /// Bytes queued on the connection so far.
        queued: u64,
        /// Why writing stopped.
        error: IoFault,
    },
    /// Not everything queued could be written within the deadline: the peer stopped reading.
    SendStalled {
        /// Bytes written by the deadline.
        written: u64,
        /// Bytes queued on the connection so far.
        queued: u64,
        /// The deadline.
        within: Micros,
    },
    /// The whole reply came, and nothing more.
    Replied {
        /// Length of the reply.
        bytes: u64,
        /// From the step's start to the reply's last byte.
        took: Micros,
    },
    /// The first `bytes` of the reply came; `pending` bytes sent still wait for theirs.
    PartlyReplied {
        /// Reply bytes read and checked.
        bytes: u64,
        /// How long they took to come.
        took: Micros,
        /// Bytes sent whose reply is still to come.
        pending: u64,
    },
    /// Waited for a reply and it did not come whole: `got` of `expected` bytes. `stalled`: no
    /// byte for the stall time (not the whole deadline).
    NoReply {
        /// Reply bytes that came (all of them right).
        got: u64,
        /// Reply bytes expected.
        expected: u64,
        /// How long it waited: the stall time when `stalled`, else the whole deadline.
        waited: Micros,
        /// No byte came for the stall time, before the deadline.
        stalled: bool,
        /// Why sending failed, if it did.
        send_error: Option<IoFault>,
        /// The reply bytes that did not come (their start).
        #[serde(default)]
        missing: Bytes,
    },
    /// The connection ended while `got` of `expected` reply bytes had come.
    ConnectionEnded {
        /// Reply bytes that had come (all of them right).
        got: u64,
        /// Reply bytes expected.
        expected: u64,
        /// How it ended: closed, or an error.
        how: Ending,
    },
    /// Reply bytes that differ from the expected ones (offsets in the connection's stream).
    WrongReply {
        /// Where the reply first differs from the expected bytes.
        diff: Difference,
    },
    /// Bytes that came on a connection before its client had sent a byte.
    Unasked {
        /// What came.
        bytes: Bytes,
    },
    /// More bytes right after a whole reply of `reply` bytes, from offset `at` of the stream.
    MoreThanReply {
        /// The bytes after the reply.
        bytes: Bytes,
        /// Length of the reply they follow.
        reply: u64,
        /// Their offset in the connection's stream.
        at: u64,
    },
    /// Nothing came while the client waited, as it should.
    Quiet {
        /// How long it waited.
        waited: Micros,
    },
    /// Bytes came while the client should get nothing. `others_closed`: the clients whose
    /// connections the server had closed by then (a server that ends a connection early serves
    /// the next client too soon).
    NotQuiet {
        /// What came.
        bytes: Bytes,
        /// How long into the wait.
        after: Micros,
        /// The clients whose connections the server had closed by then.
        others_closed: Vec<String>,
    },
    /// The server closed the connection: what `expect_eof` waits for, a failure anywhere else.
    ClosedByServer {
        /// How long after the step started.
        after: Micros,
    },
    /// The server did not close the connection within the deadline.
    NotClosed {
        /// The deadline.
        within: Micros,
    },
    /// Bytes came where the connection's end was expected.
    MoreBeforeClose {
        /// What came.
        bytes: Bytes,
    },
    /// A read failed (a reset, ...).
    ReadFailed {
        /// Why.
        error: IoFault,
    },
    /// The client shuts its write side (FIN) once everything queued is written, and goes on reading.
    HalfClosed {
        /// Bytes queued before the FIN.
        queued: u64,
    },
    /// The client closed its connection once everything queued was written.
    Closed,
    /// The client reset its connection (`SO_LINGER 0`, then close).
    Reset,
    /// The client read part of the reply due, then closed.
    Vanished {
        /// Reply bytes read (and checked).
        read: u64,
        /// Reply bytes that were due.
        pending: u64,
    },

    // Datagrams played by sockcheck.
    /// A client sent a datagram.
    DatagramSent {
        /// Its length.
        bytes: u64,
    },
    /// `sendto` failed.
    SendtoFailed {
        /// Why.
        error: IoFault,
    },
    /// The reply datagram came, from the server, and right.
    DatagramReplied {
        /// Its length.
        bytes: u64,
        /// From the step's start to the reply.
        took: Micros,
    },
    /// No reply to a datagram came within the deadline.
    NoDatagramReply {
        /// Length of the datagram (0: the empty datagram).
        sent: u64,
        /// The deadline.
        within: Micros,
    },
    /// `recvfrom` failed.
    RecvFailed {
        /// Why.
        error: IoFault,
    },
    /// A datagram from an address other than the server's.
    ForeignDatagram {
        /// What came.
        bytes: Bytes,
        /// Its sender.
        from: String,
        /// The server's address.
        server: String,
    },
    /// A reply longer than the datagram it answers (or truncated in our buffer).
    DatagramTooLong {
        /// Length of the reply as received.
        got: u64,
        /// Length of the expected reply.
        expected: u64,
    },
    /// The start of the reply, cut.
    DatagramCut {
        /// Length of the reply.
        got: u64,
        /// Length of the expected reply.
        expected: u64,
    },
    /// The reply to a later datagram came before this one's.
    LaterReplyFirst {
        /// Length of the reply that came.
        got: u64,
        /// Length of the reply that was due.
        expected: u64,
    },
    /// A reply datagram from the server whose bytes are wrong.
    WrongDatagram {
        /// Where it first differs from the expected reply.
        diff: Difference,
        /// Length of the reply.
        got: u64,
        /// Length of the expected reply.
        expected: u64,
    },
    /// A datagram came while none was due.
    UnexpectedDatagram {
        /// What came.
        bytes: Bytes,
        /// Its sender.
        from: String,
    },
    /// `count` numbered datagrams planned, `sent` of them sent (sending stops when replies stop).
    Burst {
        /// Datagrams planned.
        count: u64,
        /// Datagrams sent.
        sent: u64,
        /// Datagrams answered, once or more.
        answered: u64,
        /// Replies to datagrams already answered.
        duplicates: u64,
        /// How long the burst took.
        took: Micros,
        /// A reply that answers no datagram of the burst (the burst stops there).
        stranger: Option<Bytes>,
    },
    /// The client closed its datagram socket: replies to it now fail.
    SocketClosed {
        /// The socket's address; `None`: no socket was open, or it had no address.
        local: Option<String>,
    },

    // The server under test (its start and stop, the files at its path).
    /// The server under test started.
    TargetStarted {
        /// Where it listens.
        at: String,
    },
    /// The server under test was stopped.
    TargetStopped,
    /// The server under test did not come up.
    TargetDidNotStart {
        /// Why (its error, or what sockcheck saw).
        why: String,
    },
    /// The server refused to start, as the scenario expects.
    RefusedToStart {
        /// What sockcheck saw (the process's end, its error).
        why: String,
    },
    /// It started although it should have refused, with `was` at its path.
    StartedAnyway {
        /// What was at its path.
        was: PathThing,
    },
    /// The scenario put a file at the server's socket path.
    PutAtPath {
        /// What is there now.
        thing: PathThing,
        /// The path.
        path: String,
    },
    /// What the scenario put at the server's path is still there.
    PathAsItWas {
        /// What is there.
        thing: PathThing,
    },
    /// What the scenario put at the server's path is gone or changed.
    PathChanged {
        /// The path.
        path: String,
        /// What the scenario put there.
        was: PathThing,
        /// What is there now.
        now: PathThing,
    },
    /// The server's path was emptied.
    PathCleared {
        /// What was there.
        was: PathThing,
    },
    /// After the scenario: how the server ended, if it did.
    TargetEnded {
        /// How it ended.
        end: TargetEnd,
    },

    // A client under test (sockcheck plays its server and types into it).
    /// The client under test started, sockcheck's server ready for it.
    ClientStarted {
        /// What sockcheck's played server does: `listening on ...`, `bound to ...` or `nothing listening on ...`.
        serving: String,
        /// The command run, placeholders filled in.
        command: String,
        /// Its stdin and stdout are a terminal (else pipes).
        pty: bool,
    },
    /// What the client prints before its first line: its prompt, detected.
    Prompt {
        /// Where a prompt was found, if one was.
        on: Option<Stream>,
        /// The prompt, if one was found.
        prompt: Option<Bytes>,
        /// How long detection waited.
        waited: Micros,
        /// How detection ended.
        wait: PromptWait,
    },
    /// A line typed into the client's stdin.
    Typed {
        /// Bytes typed, the newline included.
        bytes: u64,
    },
    /// The client's input ended.
    InputEnded {
        /// On a terminal: Ctrl-D typed (else stdin closed).
        pty: bool,
    },
    /// The client printed every expected line, and nothing more.
    PrintedAsExpected {
        /// Lines printed.
        lines: u64,
        /// Their bytes, newlines not counted.
        bytes: u64,
    },
    /// A printed line is not the expected one.
    WrongLine {
        /// Which line (1-based).
        line: u64,
        /// Where it first differs from the expected line.
        diff: Difference,
        /// The printed line.
        got: Bytes,
        /// The expected line.
        expected: Bytes,
        /// It is the expected line of this earlier line (1-based).
        repeats: Option<u64>,
        /// It is the datagram sockcheck sent from another address.
        stranger: bool,
        /// The played server got an empty datagram.
        empty_datagrams: bool,
        /// The text every printed line starts with, when they share one.
        prefix: Option<Bytes>,
        /// The client talks datagrams.
        datagram: bool,
    },
    /// The client printed more lines than expected.
    ExtraLine {
        /// Lines printed.
        printed: u64,
        /// Lines expected.
        expected: u64,
        /// The first line too many.
        line: Bytes,
    },
    /// Printed fewer lines than expected: within the deadline, or before the client ended.
    TooFewLines {
        /// Whole lines printed.
        printed: u64,
        /// Lines expected.
        expected: u64,
        /// Bytes of an unfinished line (no newline yet).
        partial: u64,
        /// The next expected line.
        next: Bytes,
        /// The client ended (or closed its stdout) before printing them.
        ended: bool,
        /// The deadline.
        within: Micros,
        /// The unfinished line is the datagram sockcheck sent from another address.
        stranger: bool,
        /// What sockcheck's played server saw by then.
        served: Served,
    },
    /// The played server received exactly the bytes expected.
    ServerGotAll {
        /// How many.
        bytes: u64,
    },
    /// The played server received other bytes than expected.
    ServerGotOther {
        /// Where they first differ (offsets in what the server received).
        diff: Difference,
    },
    /// The played server received fewer bytes than expected within the deadline.
    ServerGotTooFew {
        /// Bytes received.
        got: u64,
        /// Bytes expected.
        expected: u64,
        /// The deadline.
        within: Micros,
    },
    /// The played server received exactly the expected datagrams, one per line.
    DatagramsAsExpected {
        /// How many.
        count: u64,
    },
    /// A datagram the played server received is not the line expected.
    WrongDatagramSent {
        /// Which datagram (1-based).
        index: u64,
        /// Where it first differs from the expected line.
        diff: Difference,
        /// The datagram.
        got: Bytes,
        /// The line expected.
        expected: Bytes,
    },
    /// The played server received more datagrams than lines.
    TooManyDatagrams {
        /// Datagrams received.
        got: u64,
        /// Datagrams expected, one per line.
        expected: u64,
        /// The first datagram too many.
        extra: Bytes,
        /// Put together, the datagrams are the lines: a line went out in pieces.
        split: bool,
    },
    /// The played server received fewer datagrams than lines within the deadline.
    TooFewDatagrams {
        /// Datagrams received.
        got: u64,
        /// Datagrams expected, one per line.
        expected: u64,
        /// The deadline.
        within: Micros,
    },
    /// The client exited.
    ClientExited {
        /// How it exited.
        status: ProcStatus,
        /// How long the step waited for it.
        after: Micros,
        /// CPU time it used meanwhile.
        cpu: Micros,
        /// It spun: far more CPU than a blocked client uses.
        busy: bool,
        /// The step asks for status 0 (else for a non-zero one).
        wanted_success: bool,
        /// Its last lines on stderr (up to 5), joined by ` | `.
        stderr: String,
    },
    /// The client did not exit within the deadline.
    ClientDidNotExit {
        /// The deadline.
        within: Micros,
        /// CPU time it used meanwhile.
        cpu: Micros,
        /// It spun: far more CPU than a blocked client uses.
        busy: bool,
        /// Nothing listened at its address, so every connect it made was refused.
        refused: bool,
    },
    /// How much CPU the client used while it had nothing to do.
    ClientIdle {
        /// CPU time used.
        cpu: Micros,
        /// How long it was watched.
        waited: Micros,
        /// It used too much for a program that waits: it polls or spins.
        busy: bool,
    },
    /// The client ended while it should have been waiting.
    ClientEndedEarly {
        /// How it ended.
        status: ProcStatus,
        /// How long into the step.
        after: Micros,
    },
    /// The client's stderr has no traceback.
    NoTraceback {
        /// Bytes on stderr.
        stderr: u64,
    },
    /// The client's stderr has a traceback: it crashed.
    Traceback {
        /// Its lines (of a long one, the first three and the last two).
        lines: Vec<String>,
    },
    /// The client said why it stopped.
    Said {
        /// Where.
        on: Stream,
        /// Its last words there.
        text: String,
    },
    /// The client said nothing on stderr or stdout about why it stopped.
    SaidNothing,
    /// After a lost datagram reply, the client printed the reply: it sent the line again.
    ReplyPrinted {
        /// How long into the step.
        after: Micros,
        /// Datagrams the played server got in all.
        datagrams: u64,
    },
    /// After a lost datagram reply, the client exited non-zero and said why on stderr.
    GaveUp {
        /// How it exited.
        status: ProcStatus,
        /// How long into the step.
        after: Micros,
        /// Its last words on stderr.
        said: String,
    },
    /// After a lost datagram reply, the client exited non-zero without a word on stderr.
    GaveUpSilently {
        /// How it exited.
        status: ProcStatus,
        /// How long into the step.
        after: Micros,
    },
    /// After a lost datagram reply, the client neither printed the reply nor exited within the
    /// deadline.
    WaitedForever {
        /// The deadline.
        within: Micros,
        /// What sockcheck's played server saw.
        served: Served,
    },
    /// After a lost reply, it exited 0 without printing it.
    ExitedWithoutReply {
        /// How it exited.
        status: ProcStatus,
        /// How long into the step.
        after: Micros,
    },
    /// What sockcheck's played server saw during a client scenario.
    ServerLog {
        /// In figures.
        served: Served,
        /// Nothing listened: the scenario refuses every connect.
        nothing_listening: bool,
        /// What it noticed.
        notes: Vec<ServerNote>,
    },
}

/// A scenario asks for what cannot be done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misuse {
    /// A step on a connection not made yet.
    NotConnected,
    /// A connect on a client already connected.
    AlreadyConnected,
    /// A reply expected when nothing was sent.
    NothingSent,
    /// The connection's end expected while sent bytes have no checked reply.
    UncheckedReply,
    /// A stream step in a datagram scenario.
    StreamStepOverDatagrams,
    /// A datagram step in a stream scenario.
    DatagramStepOverStream,
    /// A step about the server's socket path, over a transport without one.
    NotAUnixPath,
    /// A step not available over this transport.
    NoSuchTransport,
}

/// How prompt detection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptWait {
    /// The client went quiet, waiting for its first line.
    WentQuiet,
    /// It did not go quiet before the wait was over.
    NeverQuiet,
    /// The client ended first.
    ClientEnded,
}

/// What the played server of a client check noticed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerNote {
    /// A datagram came from an unnamed AF_UNIX socket, which no reply can reach.
    UnnamedSender,
    /// A reply left unsent, as the scenario asks.
    LostOnPurpose {
        /// Which lost reply this is (1-based).
        n: u64,
        /// Its length.
        bytes: u64,
    },
    /// A datagram from a second socket went before each reply, as the scenario asks.
    StrangerFirst {
        /// That socket's address.
        from: String,
    },
    /// Every reply was sent twice, as the scenario asks.
    Duplicated,
    /// A reply (or the stranger's datagram) could not be sent.
    ReplyFailed {
        /// Where it was going.
        to: String,
        /// Why it failed.
        error: String,
    },
    /// `recvfrom` failed.
    RecvFailed {
        /// Why.
        error: String,
    },
    /// A connection closed (FIN) instead of answering, as the scenario asks.
    ClosedInsteadOfAnswering,
    /// A connection reset (RST) instead of answering, as the scenario asks.
    ResetInsteadOfAnswering,
}

/// The line of a program's output that names its error: the last one that is not a stack frame
/// (indented: Python's `  File ...`, Node's and Java's `at ...`) and names an error or exception
/// (`ConnectionResetError: [Errno 104] ...`, `Error: read ECONNRESET`, `thread 'main' panicked at`).
pub fn error_line(lines: &[String]) -> Option<String> {
    const MARKS: [&str; 7] = ["Error", "Exception", "panicked", "error:", "fatal", "Segmentation fault", "died"];
    lines
        .iter()
        .rev()
        .map(|l| l.trim_end())
        .filter(|l| !l.starts_with([' ', '\t']) && !l.starts_with("Traceback (most recent call last)"))
        .find(|l| MARKS.iter().any(|m| l.contains(m)))
        .map(str::to_string)
}

impl Fact {
    /// Printed line `line` (1-based) of a stream client is `got` where `expected` belongs, with
    /// nothing else known about it (no repeat, no stranger, no shared prefix).
    pub fn wrong_line(line: u64, expected: &[u8], got: &[u8]) -> Fact {
        Fact::WrongLine {
            line,
            diff: Difference::between(Unit::Line, expected, got, 0),
            got: Bytes::of(got),
            expected: Bytes::of(expected),
            repeats: None,
            stranger: false,
            empty_datagrams: false,
            prefix: None,
            datagram: false,
        }
    }

    /// A fact recorded for a step that failed, with the step wrapped in a repeat when it was.
    pub fn in_repeat(self, i: usize, count: usize) -> Fact {
        Fact::InRepeat { i: i as u64, count: count as u64, inner: Box::new(self) }
    }

    /// The innermost fact (a repeated connection's failure is its step's fact).
    pub fn inner(&self) -> &Fact {
        match self {
            Fact::InRepeat { inner, .. } => inner.inner(),
            f => f,
        }
    }

    /// The first difference between expected and actual bytes, when the fact has one.
    pub fn difference(&self) -> Option<&Difference> {
        match self.inner() {
            Fact::WrongReply { diff }
            | Fact::WrongDatagram { diff, .. }
            | Fact::WrongLine { diff, .. }
            | Fact::ServerGotOther { diff }
            | Fact::WrongDatagramSent { diff, .. } => Some(diff),
            _ => None,
        }
    }

    /// The bytes an arrow of the sequence diagram carries, when the step moved some.
    pub fn bytes_moved(&self) -> Option<u64> {
        Some(match self.inner() {
            Fact::Queued { bytes }
            | Fact::Sent { bytes }
            | Fact::Replied { bytes, .. }
            | Fact::PartlyReplied { bytes, .. }
            | Fact::DatagramSent { bytes }
            | Fact::DatagramReplied { bytes, .. }
            | Fact::Typed { bytes }
            | Fact::ServerGotAll { bytes } => *bytes,
            Fact::PrintedAsExpected { bytes, .. } => *bytes,
            Fact::NoTraceback { stderr } => *stderr,
            Fact::ServerLog { served, .. } => served.replied,
            _ => return None,
        })
    }
}

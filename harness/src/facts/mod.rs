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
//! - [`words`]: how each fact reads in a transcript.
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
    #[serde(with = "escaped")]
    pub head: Vec<u8>,
    /// How many bytes there were in all.
    pub len: u64,
}

impl Bytes {
    /// Bytes kept of a payload.
    pub const KEPT: usize = 64;

    pub fn of(bytes: &[u8]) -> Self {
        Bytes { head: bytes[..bytes.len().min(Self::KEPT)].to_vec(), len: bytes.len() as u64 }
    }

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
    #[serde(with = "escaped")]
    pub expected: Vec<u8>,
    #[serde(with = "escaped")]
    pub got: Vec<u8>,
}

/// What a [`Difference`]'s offsets count in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Stream,
    Line,
    Datagram,
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

    pub fn expected_byte(&self) -> Option<u8> {
        self.expected.get(self.index()).copied()
    }

    pub fn got_byte(&self) -> Option<u8> {
        self.got.get(self.index()).copied()
    }
}

/// An I/O error as data: its kind, and the system's words for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoFault {
    pub kind: IoKind,
    pub os: String,
}

/// The I/O errors a cause depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoKind {
    Refused,
    Reset,
    BrokenPipe,
    Aborted,
    NotFound,
    TimedOut,
    AddrInUse,
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
    Exited(i32),
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
    pub fn success(self) -> bool {
        self == ProcStatus::Exited(0)
    }
}

/// Where a program wrote something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
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
    StaleSocket,
    RegularFile(Bytes),
    Nothing,
    Other,
}

/// What sockcheck's played server (of a client check) saw, in figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    pub datagram: bool,
    pub connections: u64,
    pub datagrams: u64,
    pub peers: u64,
    pub received: u64,
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
        what: Misuse,
    },
    /// sockcheck could not set something up (bind, temp dir, a command to run).
    Setup {
        what: String,
    },
    /// The whole scenario ran out of time.
    ScenarioTimeout {
        deadline: Micros,
    },
    /// Step `i` of `count` repeated connections failed.
    InRepeat {
        i: u64,
        count: u64,
        inner: Box<Fact>,
    },
    /// `count` repeated connections, the first `shown` of them in the transcript.
    Repeated {
        count: u64,
        shown: u64,
    },

    // Stream connections played by sockcheck.
    Connected {
        to: String,
    },
    ConnectFailed {
        to: String,
        error: IoFault,
    },
    Queued {
        bytes: u64,
    },
    Sent {
        bytes: u64,
    },
    SendFailed {
        written: u64,
        queued: u64,
        error: IoFault,
    },
    SendStalled {
        written: u64,
        queued: u64,
        within: Micros,
    },
    /// The whole reply came, and nothing more.
    Replied {
        bytes: u64,
        took: Micros,
    },
    /// The first `bytes` of the reply came; `pending` bytes sent still wait for theirs.
    PartlyReplied {
        bytes: u64,
        took: Micros,
        pending: u64,
    },
    /// Waited for a reply and it did not come whole: `got` of `expected` bytes. `stalled`: no
    /// byte for the stall time (not the whole deadline).
    NoReply {
        got: u64,
        expected: u64,
        waited: Micros,
        stalled: bool,
        send_error: Option<IoFault>,
        /// The reply bytes that did not come (their start).
        #[serde(default)]
        missing: Bytes,
    },
    /// The connection ended while `got` of `expected` reply bytes had come.
    ConnectionEnded {
        got: u64,
        expected: u64,
        how: Ending,
    },
    /// Reply bytes that differ from the expected ones (offsets in the connection's stream).
    WrongReply {
        diff: Difference,
    },
    /// Bytes that came on a connection before its client had sent a byte.
    Unasked {
        bytes: Bytes,
    },
    /// More bytes right after a whole reply of `reply` bytes, from offset `at` of the stream.
    MoreThanReply {
        bytes: Bytes,
        reply: u64,
        at: u64,
    },
    Quiet {
        waited: Micros,
    },
    /// Bytes came while the client should get nothing. `others_closed`: the clients whose
    /// connections the server had closed by then (a server that ends a connection early serves
    /// the next client too soon).
    NotQuiet {
        bytes: Bytes,
        after: Micros,
        others_closed: Vec<String>,
    },
    /// The server closed the connection (an expected EOF when `expected`).
    ClosedByServer {
        after: Micros,
    },
    NotClosed {
        within: Micros,
    },
    MoreBeforeClose {
        bytes: Bytes,
    },
    ReadFailed {
        error: IoFault,
    },
    HalfClosed {
        queued: u64,
    },
    Closed,
    Reset,
    Vanished {
        read: u64,
        pending: u64,
    },

    // Datagrams played by sockcheck.
    DatagramSent {
        bytes: u64,
    },
    SendtoFailed {
        error: IoFault,
    },
    DatagramReplied {
        bytes: u64,
        took: Micros,
    },
    NoDatagramReply {
        sent: u64,
        within: Micros,
    },
    RecvFailed {
        error: IoFault,
    },
    /// A datagram from an address other than the server's.
    ForeignDatagram {
        bytes: Bytes,
        from: String,
        server: String,
    },
    /// A reply longer than the datagram it answers (or truncated in our buffer).
    DatagramTooLong {
        got: u64,
        expected: u64,
    },
    /// The start of the reply, cut.
    DatagramCut {
        got: u64,
        expected: u64,
    },
    /// The reply to a later datagram came before this one's.
    LaterReplyFirst {
        got: u64,
        expected: u64,
    },
    WrongDatagram {
        diff: Difference,
        got: u64,
        expected: u64,
    },
    UnexpectedDatagram {
        bytes: Bytes,
        from: String,
    },
    /// `count` numbered datagrams planned, `sent` of them sent (sending stops when replies stop).
    Burst {
        count: u64,
        sent: u64,
        answered: u64,
        duplicates: u64,
        took: Micros,
        stranger: Option<Bytes>,
    },
    SocketClosed {
        local: Option<String>,
    },

    // The server under test (its start and stop, the files at its path).
    TargetStarted {
        at: String,
    },
    TargetStopped,
    TargetDidNotStart {
        why: String,
    },
    RefusedToStart {
        why: String,
    },
    /// It started although it should have refused, with `was` at its path.
    StartedAnyway {
        was: PathThing,
    },
    PutAtPath {
        thing: PathThing,
        path: String,
    },
    PathAsItWas {
        thing: PathThing,
    },
    PathChanged {
        path: String,
        was: PathThing,
        now: PathThing,
    },
    PathCleared {
        was: PathThing,
    },
    /// After the scenario: how the server ended, if it did.
    TargetEnded {
        end: TargetEnd,
    },

    // A client under test (sockcheck plays its server and types into it).
    ClientStarted {
        serving: String,
        command: String,
        pty: bool,
    },
    Prompt {
        on: Option<Stream>,
        prompt: Option<Bytes>,
        waited: Micros,
        wait: PromptWait,
    },
    Typed {
        bytes: u64,
    },
    InputEnded {
        pty: bool,
    },
    PrintedAsExpected {
        lines: u64,
        bytes: u64,
    },
    /// Printed line `line` (1-based) is wrong. `repeats`: it is the expected line of that earlier
    /// line; `stranger`: it is what sockcheck sent from another address; `empty_datagrams`: the
    /// played server got an empty datagram; `prefix`: every printed line starts with it.
    WrongLine {
        line: u64,
        diff: Difference,
        got: Bytes,
        expected: Bytes,
        repeats: Option<u64>,
        stranger: bool,
        empty_datagrams: bool,
        prefix: Option<Bytes>,
        datagram: bool,
    },
    ExtraLine {
        printed: u64,
        expected: u64,
        line: Bytes,
    },
    /// Printed fewer lines than expected: within the deadline, or before the client ended.
    /// `stranger`: what it printed of an unfinished line is the datagram sockcheck sent from
    /// another address.
    TooFewLines {
        printed: u64,
        expected: u64,
        partial: u64,
        next: Bytes,
        ended: bool,
        within: Micros,
        stranger: bool,
        served: Served,
    },
    ServerGotAll {
        bytes: u64,
    },
    ServerGotOther {
        diff: Difference,
    },
    ServerGotTooFew {
        got: u64,
        expected: u64,
        within: Micros,
    },
    DatagramsAsExpected {
        count: u64,
    },
    WrongDatagramSent {
        index: u64,
        diff: Difference,
        got: Bytes,
        expected: Bytes,
    },
    /// More datagrams than lines. `split`: the datagrams put together are the lines (a line went
    /// out in pieces).
    TooManyDatagrams {
        got: u64,
        expected: u64,
        extra: Bytes,
        split: bool,
    },
    TooFewDatagrams {
        got: u64,
        expected: u64,
        within: Micros,
    },
    /// The client exited (`wanted`: the status the step asks for: success or not).
    ClientExited {
        status: ProcStatus,
        after: Micros,
        cpu: Micros,
        busy: bool,
        wanted_success: bool,
        stderr: String,
    },
    /// `refused`: nothing listened at its address, so every connect it made was refused.
    ClientDidNotExit {
        within: Micros,
        cpu: Micros,
        busy: bool,
        refused: bool,
    },
    ClientIdle {
        cpu: Micros,
        waited: Micros,
        busy: bool,
    },
    ClientEndedEarly {
        status: ProcStatus,
        after: Micros,
    },
    NoTraceback {
        stderr: u64,
    },
    Traceback {
        lines: Vec<String>,
    },
    Said {
        on: Stream,
        text: String,
    },
    SaidNothing,
    /// After a lost datagram reply: the reply printed (`resent`: datagrams the server got), or an
    /// exit (`said`: the client's last words on stderr).
    ReplyPrinted {
        after: Micros,
        datagrams: u64,
    },
    GaveUp {
        status: ProcStatus,
        after: Micros,
        said: String,
    },
    GaveUpSilently {
        status: ProcStatus,
        after: Micros,
    },
    WaitedForever {
        within: Micros,
        served: Served,
    },
    /// After a lost reply, it exited 0 without printing it.
    ExitedWithoutReply {
        status: ProcStatus,
        after: Micros,
    },
    ServerLog {
        served: Served,
        nothing_listening: bool,
        notes: Vec<ServerNote>,
    },
}

/// A scenario asks for what cannot be done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misuse {
    NotConnected,
    AlreadyConnected,
    NothingSent,
    UncheckedReply,
    StreamStepOverDatagrams,
    DatagramStepOverStream,
    NotAUnixPath,
    NoSuchTransport,
}

/// How prompt detection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptWait {
    WentQuiet,
    NeverQuiet,
    ClientEnded,
}

/// What the played server of a client check noticed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerNote {
    UnnamedSender,
    LostOnPurpose { n: u64, bytes: u64 },
    StrangerFirst { from: String },
    Duplicated,
    ReplyFailed { to: String, error: String },
    RecvFailed { error: String },
    ClosedInsteadOfAnswering,
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

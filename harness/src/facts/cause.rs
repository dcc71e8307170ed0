//! Why a scenario failed: one [`Cause`] derived from the failing step's [`Fact`] and its
//! [`Context`] by [`classify`], whose rules run in the order written there. Each cause names the
//! bug in a learner's words and the fix for it ([`Cause::fix`]).

use serde::{Deserialize, Serialize};

use super::{Fact, PathThing, ProcStatus};

/// How the server under test was found after a failed scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum TargetEnd {
    /// Its process ended.
    Exited {
        /// How it ended.
        status: ProcStatus,
    },
    /// It no longer accepts connections, though its process runs.
    NotAccepting {
        /// The address that refuses.
        at: String,
    },
    /// It went into the background: its first process exited 0 and a child holds the address.
    Daemonized {
        /// The process that holds the address.
        pid: u32,
    },
    /// The client under test ended.
    ClientExited {
        /// How it ended.
        status: ProcStatus,
    },
    /// A server that is not a process (a function serving a listener) ended, as said.
    Ended {
        /// How it ended, in words.
        how: String,
    },
}

/// What else is known when a step fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// How the server (or the client under test) ended, if it did.
    pub end: Option<TargetEnd>,
    /// The line of the program's output that names its error (`ConnectionResetError: ...`).
    pub error_line: Option<String>,
    /// What the server sends on every connection before being asked, found by the start-up probe.
    pub greeting: Option<Vec<u8>>,
}

/// Why a scenario failed. The name (`snake_case` in JSON) is stable; tests assert it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    // The server.
    /// The server sends a greeting before it is asked.
    Greeting,
    /// The server answered with HTTP: it is not an echo server.
    NotAnEchoServer,
    /// The reply is not uppercased.
    NotUppercased,
    /// The reply has a line ending the message did not have.
    LineEndingAdded,
    /// The reply differs from the message uppercased.
    ReplyChanged,
    /// Whitespace the client sent did not come back.
    WhitespaceLost,
    /// The server answered a word such as help or exit as a command, not as text.
    CommandWordAnswered,
    /// The server sent more than the reply.
    MoreThanReply,
    /// The reply was cut short.
    ReplyCut,
    /// No reply.
    NoReply,
    /// The server closed the connection instead of replying.
    ClosedWithoutReply,
    /// The server crashed when a client reset its connection.
    CrashedOnReset,
    /// The server crashed writing to a client that had gone.
    CrashedOnBrokenPipe,
    /// The server crashed decoding bytes that are not UTF-8.
    CrashedDecoding,
    /// The server crashed.
    Crashed,
    /// The server serves one client and exits.
    ServesOneClient,
    /// The server stopped accepting connections.
    StoppedAccepting,
    /// The server went into the background.
    WentToBackground,
    /// The server kept the connection open after the client's end of input.
    KeptConnectionOpen,
    /// The connection was refused.
    Refused,
    /// The server stopped reading what a client sends.
    StoppedReading,
    /// A client that should wait got bytes.
    AnsweredTooEarly,
    /// The restarted server could not bind its address.
    NoReuseAddr,
    /// The server did not start.
    DidNotStart,
    /// A stale socket file stopped the server from starting.
    StaleSocketKept,
    /// The server removed a regular file at its socket path.
    RemovedRegularFile,
    // Datagram servers.
    /// The datagram was cut.
    DatagramCut,
    /// A reply longer than the datagram it answers.
    DatagramTooLong,
    /// Replies out of order, or one lost.
    RepliesOutOfOrder,
    /// A reply came from another address than the server's.
    ReplyFromAnotherAddress,
    /// The empty datagram got no reply.
    EmptyDatagramUnanswered,
    /// No reply to a datagram.
    NoDatagramReply,
    /// The server stopped answering datagrams.
    LostReplies,
    /// Datagrams answered more than once.
    DuplicateReplies,
    /// A datagram came while none was due.
    UnexpectedDatagram,
    /// Nothing receives at the server's address.
    NoSocketAtAddress,
    // Clients.
    /// The client's output is held in a buffer.
    OutputBuffered,
    /// Every printed line starts with a prompt.
    PromptInOutput,
    /// The client sent an empty line.
    EmptyLineSent,
    /// The client printed only part of the reply.
    ReplyReadOnce,
    /// The client printed a datagram from a stranger.
    StrangerPrinted,
    /// The client printed a duplicated reply as the next one.
    DuplicatePrinted,
    /// The client printed a wrong line.
    WrongLine,
    /// The client printed more lines than there were replies.
    ExtraOutput,
    /// The client ended before printing every reply.
    ClientEndedEarly,
    /// The client crashed with a traceback.
    ClientTraceback,
    /// The client spins in a busy loop.
    BusyLoop,
    /// The client did not exit.
    DidNotExit,
    /// The client waits for ever when nothing listens at its address.
    HangsWhenNothingListens,
    /// The client exited with the wrong status.
    WrongExitStatus,
    /// The client stopped without saying why.
    SilentExit,
    /// The client waits forever for a lost reply.
    NoTimeout,
    /// The client never sent the line.
    LineNeverSent,
    /// The client's datagram socket has no address, so no reply can reach it.
    UnboundDatagramClient,
    /// The client sent the line without stripping it.
    LineNotStripped,
    /// The client changed the spaces or tabs inside the line.
    InnerWhitespaceChanged,
    /// The client sent an empty datagram.
    EmptyDatagramSent,
    /// The client sent one line as several datagrams.
    LineSplitIntoDatagrams,
    /// The client sent something other than the lines typed.
    SentSomethingElse,
    /// The client did not send every line typed.
    SentTooLittle,
    // Neither: the scenario or sockcheck.
    /// The scenario did not finish in time.
    ScenarioTimeout,
    /// Sockcheck could not run the scenario.
    Sockcheck,
}

impl Cause {
    /// The bug, in one line.
    pub fn title(self) -> &'static str {
        use Cause::*;
        match self {
            Greeting => "the server sends a greeting before it is asked",
            NotAnEchoServer => "the server answered with HTTP: it is not an echo server",
            NotUppercased => "the reply is not uppercased",
            LineEndingAdded => "the reply has a line ending the message did not have",
            ReplyChanged => "the reply differs from the message uppercased",
            WhitespaceLost => "whitespace the client sent did not come back",
            CommandWordAnswered => "the server answered a word such as help or exit as a command, not as text",
            MoreThanReply => "the server sent more than the reply",
            ReplyCut => "the reply was cut short",
            NoReply => "no reply",
            ClosedWithoutReply => "the server closed the connection instead of replying",
            CrashedOnReset => "the server crashed when a client reset its connection",
            CrashedOnBrokenPipe => "the server crashed writing to a client that had gone",
            CrashedDecoding => "the server crashed decoding bytes that are not UTF-8",
            Crashed => "the server crashed",
            ServesOneClient => "the server serves one client and exits",
            StoppedAccepting => "the server stopped accepting connections",
            WentToBackground => "the server went into the background",
            KeptConnectionOpen => "the server kept the connection open after the client's end of input",
            Refused => "the connection was refused",
            StoppedReading => "the server stopped reading what a client sends",
            AnsweredTooEarly => "a client that should wait got bytes",
            NoReuseAddr => "the restarted server could not bind its address",
            DidNotStart => "the server did not start",
            StaleSocketKept => "a stale socket file stopped the server from starting",
            RemovedRegularFile => "the server removed a regular file at its socket path",
            DatagramCut => "the datagram was cut",
            DatagramTooLong => "a reply longer than the datagram it answers",
            RepliesOutOfOrder => "replies out of order, or one lost",
            ReplyFromAnotherAddress => "a reply came from another address than the server's",
            EmptyDatagramUnanswered => "the empty datagram got no reply",
            NoDatagramReply => "no reply to a datagram",
            LostReplies => "the server stopped answering datagrams",
            DuplicateReplies => "datagrams answered more than once",
            UnexpectedDatagram => "a datagram came while none was due",
            NoSocketAtAddress => "nothing receives at the server's address",
            OutputBuffered => "the client's output is held in a buffer",
            PromptInOutput => "every printed line starts with a prompt",
            EmptyLineSent => "the client sent an empty line",
            ReplyReadOnce => "the client printed only part of the reply",
            StrangerPrinted => "the client printed a datagram from a stranger",
            DuplicatePrinted => "the client printed a duplicated reply as the next one",
            WrongLine => "the client printed a wrong line",
            ExtraOutput => "the client printed more lines than there were replies",
            ClientEndedEarly => "the client ended before printing every reply",
            ClientTraceback => "the client crashed with a traceback",
            BusyLoop => "the client spins in a busy loop",
            DidNotExit => "the client did not exit",
            HangsWhenNothingListens => "the client waits for ever when nothing listens at its address",
            WrongExitStatus => "the client exited with the wrong status",
            SilentExit => "the client stopped without saying why",
            NoTimeout => "the client waits forever for a lost reply",
            LineNeverSent => "the client never sent the line",
            UnboundDatagramClient => "the client's datagram socket has no address, so no reply can reach it",
            LineNotStripped => "the client sent the line without stripping it",
            InnerWhitespaceChanged => "the client changed the spaces or tabs inside the line",
            EmptyDatagramSent => "the client sent an empty datagram",
            LineSplitIntoDatagrams => "the client sent one line as several datagrams",
            SentSomethingElse => "the client sent something other than the lines typed",
            SentTooLittle => "the client did not send every line typed",
            ScenarioTimeout => "the scenario did not finish in time",
            Sockcheck => "sockcheck could not run the scenario",
        }
    }

    /// What to change, in words a learner can act on.
    pub fn fix(self) -> &'static str {
        use Cause::*;
        match self {
            Greeting => "send nothing before a message arrives: in this protocol the first bytes a client gets are the reply to what it sent",
            NotAnEchoServer => "point sockcheck at the echo server's address",
            NotUppercased => "send data.upper(), not data",
            LineEndingAdded => "send the reply as the message came, without a newline (print/println/writeln add one; use send/write)",
            ReplyChanged => "uppercase a-z only and send every other byte back as it came: do not decode, strip, or re-encode",
            WhitespaceLost => "send back every byte received, whitespace too: no strip(), and no `if not data.strip(): continue` (a message of only spaces is a message)",
            CommandWordAnswered => "every message is text to echo: send data.upper() for help, exit and quit too (a client ends the conversation by closing its socket, not with a word)",
            MoreThanReply => "send one reply per message, exactly as long as the message",
            ReplyCut => "one recv() is not the whole message: loop (recv, then sendall(data.upper())) until recv returns b''",
            NoReply => "answer every message: recv, then sendall(data.upper())",
            ClosedWithoutReply => "keep the communication loop going until recv() returns b'' (the client closed)",
            CrashedOnReset => "wrap the communication loop in try/except ConnectionResetError (and BrokenPipeError) and break out of it",
            CrashedOnBrokenPipe => "catch BrokenPipeError (EPIPE) around send; in C, ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or use MSG_NOSIGNAL",
            CrashedDecoding => "do not decode what you receive: uppercase the bytes (data.upper() on bytes)",
            Crashed => "read the error below: the server must survive whatever one client does",
            ServesOneClient => "put accept() in a loop (the connection loop) around the communication loop",
            StoppedAccepting => "keep the listening socket open and go back to accept() after each client",
            WentToBackground => "run the server in the foreground: do not fork or daemonize",
            KeptConnectionOpen => "when recv() returns b'' the client has finished: break, then close the connection",
            Refused => "listen(5) gives waiting clients a queue; accept them in a loop",
            StoppedReading => "read everything a client sends, replying as you go (sendall)",
            AnsweredTooEarly => "serve one connection's messages only to that connection, and a queued client only once its turn comes",
            NoReuseAddr => "set SO_REUSEADDR before bind()",
            DidNotStart => "read the error below: the server must come up on the address it is given",
            StaleSocketKept => "remove a stale socket file (one nothing answers on) before bind()",
            RemovedRegularFile => "remove the path only when it is a socket (stat.S_ISSOCK), and refuse to start otherwise",
            DatagramCut => "a datagram is read whole or cut: use recvfrom(65536)",
            DatagramTooLong => "reply with exactly the uppercase of the datagram received",
            RepliesOutOfOrder => "reply to each datagram as it comes, to its sender",
            ReplyFromAnotherAddress => "reply with the socket that received: sock.sendto(data.upper(), addr)",
            EmptyDatagramUnanswered => "an empty datagram is a message too: no `if not data: break` in a datagram server",
            NoDatagramReply => "answer every datagram: sendto(data.upper(), addr) with the addr recvfrom returned",
            LostReplies => "answer every datagram, and keep serving",
            DuplicateReplies => "send one reply per datagram",
            UnexpectedDatagram => "send only replies, one per datagram, to its sender",
            NoSocketAtAddress => "keep the datagram socket bound for as long as the server runs",
            OutputBuffered => "flush after printing each reply (print(..., flush=True))",
            PromptInOutput => "print the prompt without a newline before reading a line (input('>>: ')), or pass --prompt",
            EmptyLineSent => "skip empty lines: `if not msg: continue` (an empty send sends nothing and no reply comes)",
            ReplyReadOnce => "read until the whole reply is in: it is as long as the line sent",
            StrangerPrinted => "check the address recvfrom returns and ignore datagrams that do not come from the server",
            DuplicatePrinted => "throw away datagrams waiting before sending a line, and take as the reply only one as long as the line",
            WrongLine => "print the reply exactly as it came, one line per reply",
            ExtraOutput => "print one line per reply and nothing else on stdout (messages go to stderr)",
            ClientEndedEarly => "keep reading lines until the end of input, and read each reply whole",
            ClientTraceback => "catch the error (ConnectionResetError, ConnectionRefusedError, ...) and print a message instead",
            BusyLoop => "when recv() returns b'' the server has gone: break out of the loop instead of reading again",
            DidNotExit => "exit when the input ends or the server goes away",
            HangsWhenNothingListens => "a refused connect means there is no server: say so and exit non-zero (or retry a few times, then give up)",
            WrongExitStatus => "exit 0 at the end of input, and non-zero after an error",
            SilentExit => "print why the client stops (e.g. 'server closed the connection') on stderr",
            NoTimeout => "datagrams can be lost: set a timeout (settimeout) and send again or give up",
            LineNeverSent => "send each line typed as one datagram (sendto) before waiting for the reply",
            UnboundDatagramClient => "bind the AF_UNIX datagram socket to a path of its own before sending (sock.bind(path))",
            LineNotStripped => "strip the line before sending it",
            InnerWhitespaceChanged => "strip only the ends of the line (line.strip()): the spaces and tabs inside it are part of the message",
            EmptyDatagramSent => "skip empty lines: an empty line must not be sent",
            LineSplitIntoDatagrams => "read the whole line first, then send it as one datagram",
            SentSomethingElse => "send each line as it was typed, stripped",
            SentTooLittle => "send every line typed (stripped) before reading the reply",
            ScenarioTimeout => "look at the last step: something there waits too long",
            Sockcheck => "this is about sockcheck or the machine, not the program: see the message",
        }
    }

    /// The name used in JSON and by tests.
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
    }
}

/// Words in a program's error line that name what it crashed on.
fn crash_cause(error_line: Option<&str>, status: Option<ProcStatus>) -> Cause {
    const SIGPIPE: i32 = 13;
    let line = error_line.unwrap_or("");
    let has = |words: &[&str]| words.iter().any(|w| line.contains(w));
    if has(&["ConnectionResetError", "ECONNRESET", "Connection reset"]) {
        Cause::CrashedOnReset
    } else if has(&["BrokenPipeError", "EPIPE", "Broken pipe"]) || status == Some(ProcStatus::Killed(SIGPIPE)) {
        Cause::CrashedOnBrokenPipe
    } else if has(&["UnicodeDecodeError", "invalid utf-8", "Malformed UTF-8", "MalformedInput"]) {
        Cause::CrashedDecoding
    } else if has(&["Address already in use", "EADDRINUSE"]) {
        Cause::NoReuseAddr
    } else {
        Cause::Crashed
    }
}

/// The cause of a failure: the rules in order, the first that applies wins.
///
/// 1. Wrong bytes are the cause, however the program ended after them.
/// 2. Otherwise how the subject ended says most: a server that crashed, exited after its clients,
///    went into the background or stopped accepting is named so, whatever step noticed it.
/// 3. A lost connection of a server that still runs, with an error line that names a known
///    crash (a handler thread that died), is that crash.
/// 4. Otherwise the failing step's fact, read on its own (its bytes, counts and errors).
pub fn classify(fact: &Fact, ctx: &Context) -> Cause {
    let fact = fact.inner();
    if is_content_fact(fact) {
        return by_fact(fact, ctx);
    }
    if let Some(end) = &ctx.end {
        if let Some(cause) = by_end(fact, end, ctx) {
            return cause;
        }
    }
    // A program that goes on running can still have crashed where it matters (a handler
    // thread): its error line names how, when the connection was lost.
    let lost = matches!(fact, Fact::ConnectionEnded { .. } | Fact::NoReply { .. } | Fact::ReadFailed { .. });
    if lost {
        let by_line = crash_cause(ctx.error_line.as_deref(), None);
        if by_line != Cause::Crashed {
            return by_line;
        }
    }
    by_fact(fact, ctx)
}

/// Facts about bytes that came: wrong bytes are the cause, however the program ended after them
/// (a server that greets and then dies when the failed client leaves is a greeting server).
fn is_content_fact(fact: &Fact) -> bool {
    matches!(
        fact,
        Fact::WrongReply { .. }
            | Fact::MoreThanReply { .. }
            | Fact::Unasked { .. }
            | Fact::NotQuiet { .. }
            | Fact::MoreBeforeClose { .. }
            | Fact::WrongDatagram { .. }
            | Fact::DatagramCut { .. }
            | Fact::DatagramTooLong { .. }
            | Fact::LaterReplyFirst { .. }
            | Fact::ForeignDatagram { .. }
    )
}

fn by_end(fact: &Fact, end: &TargetEnd, ctx: &Context) -> Option<Cause> {
    // Steps about the client under test are judged on their own.
    if is_client_fact(fact) {
        return None;
    }
    let crash = crash_cause(ctx.error_line.as_deref(), None);
    Some(match end {
        TargetEnd::Daemonized { .. } => Cause::WentToBackground,
        TargetEnd::ClientExited { .. } => return None,
        TargetEnd::Ended { .. } => Cause::Crashed,
        // A known crash in its output (a dead handler thread) says more than the refusal.
        TargetEnd::NotAccepting { .. } if crash != Cause::Crashed => crash,
        TargetEnd::NotAccepting { .. } => Cause::StoppedAccepting,
        TargetEnd::Exited { status } if status.success() && ctx.error_line.is_none() => Cause::ServesOneClient,
        TargetEnd::Exited { status } => crash_cause(ctx.error_line.as_deref(), Some(*status)),
    })
}

fn is_client_fact(fact: &Fact) -> bool {
    matches!(
        fact,
        Fact::WrongLine { .. }
            | Fact::ExtraLine { .. }
            | Fact::TooFewLines { .. }
            | Fact::ServerGotOther { .. }
            | Fact::ServerGotTooFew { .. }
            | Fact::WrongDatagramSent { .. }
            | Fact::TooManyDatagrams { .. }
            | Fact::TooFewDatagrams { .. }
            | Fact::ClientExited { .. }
            | Fact::ClientDidNotExit { .. }
            | Fact::ClientIdle { .. }
            | Fact::ClientEndedEarly { .. }
            | Fact::Traceback { .. }
            | Fact::SaidNothing
            | Fact::GaveUpSilently { .. }
            | Fact::ExitedWithoutReply { .. }
            | Fact::WaitedForever { .. }
    )
}

fn by_fact(fact: &Fact, ctx: &Context) -> Cause {
    use Cause as C;
    match fact {
        Fact::Unasked { .. } => C::Greeting,
        Fact::WrongReply { diff } => {
            let got_all = &diff.got[..];
            if diff.start == 0 && got_all.starts_with(b"HTTP/1.") {
                C::NotAnEchoServer
            } else if diff.start == 0
                && ctx
                    .greeting
                    .as_deref()
                    .is_some_and(|g| !g.is_empty() && got_all.starts_with(&g[..g.len().min(got_all.len())]))
            {
                C::Greeting
            } else {
                wrong_bytes(diff)
            }
        }
        Fact::MoreThanReply { at, .. } if ctx.greeting.as_ref().is_some_and(|g| *at <= g.len() as u64) => C::Greeting,
        Fact::MoreThanReply { bytes, .. } if matches!(&bytes.head[..], b"\n" | b"\r\n" | b"\r") => C::LineEndingAdded,
        Fact::MoreThanReply { bytes, .. } if bytes.head.starts_with(b"\n") || bytes.head.starts_with(b"\r\n") => {
            C::LineEndingAdded
        }
        Fact::MoreThanReply { .. } => C::MoreThanReply,
        // Nothing came for a message of only whitespace: skipped (`if not data.strip()`).
        Fact::NoReply { got: 0, missing, .. }
            if missing.len > 0
                && missing.len as usize == missing.head.len()
                && missing.head.iter().all(u8::is_ascii_whitespace) =>
        {
            C::WhitespaceLost
        }
        Fact::NoReply { got: 0, .. } => C::NoReply,
        Fact::NoReply { .. } => C::ReplyCut,
        // Closed or reset: whether a close with the client's bytes unread goes out as FIN or RST
        // depends on when they arrived, so both are the one cause (the fact says which).
        Fact::ConnectionEnded { got, .. } if *got > 0 => C::ReplyCut,
        Fact::ConnectionEnded { .. } | Fact::SendFailed { .. } => C::ClosedWithoutReply,
        Fact::SendStalled { .. } => C::StoppedReading,
        Fact::ConnectFailed { .. } => C::Refused,
        Fact::NotQuiet { others_closed, .. } if !others_closed.is_empty() => C::ClosedWithoutReply,
        Fact::NotQuiet { .. } => C::AnsweredTooEarly,
        Fact::ClosedByServer { .. } => C::ClosedWithoutReply,
        Fact::NotClosed { .. } => C::KeptConnectionOpen,
        Fact::MoreBeforeClose { .. } => C::MoreThanReply,
        Fact::ReadFailed { .. } => C::ClosedWithoutReply,
        Fact::TargetDidNotStart { .. } => match crash_cause(ctx.error_line.as_deref(), None) {
            C::Crashed => C::DidNotStart,
            other => other,
        },
        Fact::StartedAnyway { was: PathThing::RegularFile(_) } => C::RemovedRegularFile,
        Fact::StartedAnyway { .. } => C::DidNotStart,
        Fact::PathChanged { was: PathThing::RegularFile(_), .. } => C::RemovedRegularFile,
        Fact::PathChanged { .. } => C::StaleSocketKept,
        Fact::TargetEnded { end } => by_end(fact, end, ctx).unwrap_or(C::Crashed),
        _ if is_datagram_fact(fact) => by_datagram_fact(fact),
        _ if is_client_fact(fact) => by_client_fact(fact),
        Fact::ScenarioTimeout { .. } => C::ScenarioTimeout,
        _ => C::Sockcheck,
    }
}

fn is_datagram_fact(fact: &Fact) -> bool {
    matches!(
        fact,
        Fact::NoDatagramReply { .. }
            | Fact::SendtoFailed { .. }
            | Fact::ForeignDatagram { .. }
            | Fact::DatagramTooLong { .. }
            | Fact::DatagramCut { .. }
            | Fact::LaterReplyFirst { .. }
            | Fact::WrongDatagram { .. }
            | Fact::UnexpectedDatagram { .. }
            | Fact::Burst { .. }
    )
}

/// The causes of datagram facts.
fn by_datagram_fact(fact: &Fact) -> Cause {
    use Cause as C;
    match fact {
        Fact::NoDatagramReply { sent: 0, .. } => C::EmptyDatagramUnanswered,
        Fact::NoDatagramReply { .. } => C::NoDatagramReply,
        Fact::SendtoFailed { .. } => C::NoSocketAtAddress,
        Fact::ForeignDatagram { .. } => C::ReplyFromAnotherAddress,
        Fact::DatagramTooLong { .. } => C::DatagramTooLong,
        Fact::DatagramCut { .. } => C::DatagramCut,
        Fact::LaterReplyFirst { .. } => C::RepliesOutOfOrder,
        Fact::WrongDatagram { diff, .. } => wrong_bytes(diff),
        Fact::UnexpectedDatagram { .. } => C::UnexpectedDatagram,
        Fact::Burst { answered: 0, .. } => C::NoDatagramReply,
        Fact::Burst { stranger: Some(_), .. } => C::UnexpectedDatagram,
        Fact::Burst { duplicates, .. } if *duplicates > 0 => C::DuplicateReplies,
        Fact::Burst { .. } => C::LostReplies,
        _ => C::Sockcheck,
    }
}

/// The causes of facts about a client under test.
fn by_client_fact(fact: &Fact) -> Cause {
    use Cause as C;
    match fact {
        Fact::TooFewLines { served, .. } | Fact::WaitedForever { served, .. } if served.unnamed_sender => {
            C::UnboundDatagramClient
        }
        Fact::TooFewLines { stranger: true, .. } => C::StrangerPrinted,
        Fact::TooFewLines { printed: 0, partial: 0, ended: false, served, .. } if served.replied > 0 => {
            C::OutputBuffered
        }
        Fact::TooFewLines { ended: true, .. } => C::ClientEndedEarly,
        Fact::TooFewLines { served, .. } if served.received == 0 && served.datagrams == 0 => C::LineNeverSent,
        Fact::TooFewLines { .. } => C::ReplyReadOnce,
        Fact::WrongLine { empty_datagrams: true, got, .. } if got.len == 0 => C::EmptyDatagramSent,
        Fact::WrongLine { got, datagram: false, .. } if got.len == 0 => C::EmptyLineSent,
        Fact::WrongLine { stranger: true, .. } => C::StrangerPrinted,
        Fact::WrongLine { repeats: Some(_), .. } => C::DuplicatePrinted,
        Fact::WrongLine { got, expected, .. } if got.len > expected.len && got.head.trim_ascii() == expected.head => {
            C::LineNotStripped
        }
        Fact::WrongLine { prefix: Some(_), .. } => C::PromptInOutput,
        Fact::WrongLine { got, expected, datagram: true, .. }
            if got.len > 0 && got.len < expected.len && expected.head.starts_with(&got.head) =>
        {
            C::DatagramCut
        }
        Fact::WrongLine { got, expected, .. } if got.len < expected.len && expected.head.starts_with(&got.head) => {
            C::ReplyReadOnce
        }
        // The printed reply differs where the typed line had inner whitespace: the client
        // changed it before sending (the played server echoes what it gets).
        Fact::WrongLine { diff, datagram: false, .. } if inner_whitespace_changed(diff) => C::InnerWhitespaceChanged,
        Fact::WrongLine { .. } => C::WrongLine,
        Fact::ExtraLine { .. } => C::ExtraOutput,
        Fact::ServerGotOther { diff } if inner_whitespace_changed(diff) => C::InnerWhitespaceChanged,
        Fact::ServerGotOther { diff } if matches!(diff.got_byte(), Some(b'\n' | b'\r' | b' ' | b'\t')) => {
            C::LineNotStripped
        }
        Fact::ServerGotOther { .. } => C::SentSomethingElse,
        Fact::ServerGotTooFew { .. } => C::SentTooLittle,
        Fact::WrongDatagramSent { got, .. } if got.len == 0 => C::EmptyDatagramSent,
        Fact::WrongDatagramSent { got, expected, .. } if got.head.trim_ascii() == expected.head.as_slice() => {
            C::LineNotStripped
        }
        Fact::WrongDatagramSent { diff, .. } if inner_whitespace_changed(diff) => C::InnerWhitespaceChanged,
        Fact::WrongDatagramSent { .. } => C::SentSomethingElse,
        Fact::TooManyDatagrams { split: true, .. } => C::LineSplitIntoDatagrams,
        Fact::TooManyDatagrams { extra, .. } if extra.len == 0 => C::EmptyDatagramSent,
        Fact::TooManyDatagrams { .. } => C::SentSomethingElse,
        Fact::TooFewDatagrams { got: 0, .. } => C::LineNeverSent,
        Fact::TooFewDatagrams { .. } => C::SentTooLittle,
        Fact::ClientExited { busy: true, .. }
        | Fact::ClientDidNotExit { busy: true, .. }
        | Fact::ClientIdle { busy: true, .. } => C::BusyLoop,
        Fact::ClientExited { .. } => C::WrongExitStatus,
        Fact::ClientDidNotExit { refused: true, .. } => C::HangsWhenNothingListens,
        Fact::ClientDidNotExit { .. } => C::DidNotExit,
        Fact::ClientEndedEarly { .. } => C::ClientEndedEarly,
        Fact::Traceback { .. } => C::ClientTraceback,
        Fact::SaidNothing | Fact::GaveUpSilently { .. } => C::SilentExit,
        Fact::ExitedWithoutReply { .. } => C::WrongExitStatus,
        Fact::WaitedForever { served, .. } if served.datagrams == 0 && served.received == 0 => C::LineNeverSent,
        Fact::WaitedForever { .. } => C::NoTimeout,
        _ => C::Sockcheck,
    }
}

/// Words a learner's program may take for commands. Compared without case, on what is left of the
/// expected reply around a difference once whitespace is trimmed.
const COMMAND_WORDS: [&str; 9] = ["help", "exit", "quit", "bye", "goodbye", "close", "stop", "end", "logout"];

/// What is wrong with wrong reply bytes (a stream's or a datagram's): how they differ from the
/// first difference on, and then what the expected bytes around it were.
fn wrong_bytes(diff: &super::Difference) -> Cause {
    let (want, got) = (&diff.expected[diff.index()..], &diff.got[diff.index()..]);
    match reply_difference(want, got) {
        Cause::ReplyChanged if is_command_word(&diff.expected) => Cause::CommandWordAnswered,
        Cause::ReplyChanged if lost_leading_whitespace(want, got) => Cause::WhitespaceLost,
        // Nothing came where only whitespace was expected: stripped at the end, or skipped.
        Cause::ReplyChanged if got.is_empty() && !want.is_empty() && want.iter().all(u8::is_ascii_whitespace) => {
            Cause::WhitespaceLost
        }
        other => other,
    }
}

/// The bytes are one command word, with whitespace around it at most.
fn is_command_word(bytes: &[u8]) -> bool {
    let word = bytes.trim_ascii();
    COMMAND_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w.as_bytes()))
}

/// Whitespace was expected and `got` is what follows it: stripped, or a message of only
/// whitespace skipped (`want` and `got` start at the first difference).
fn lost_leading_whitespace(want: &[u8], got: &[u8]) -> bool {
    let is_space = |b: &u8| b.is_ascii_whitespace() || *b == 0x0b;
    let rest = &want[want.iter().take_while(|b| is_space(b)).count()..];
    let n = rest.len().min(got.len());
    rest.len() < want.len() && n > 0 && rest[..n] == got[..n]
}

/// A client's bytes differ where the typed line has a space or a tab inside (the ends are
/// stripped, so expected whitespace is inner), and not by a line ending sent along.
fn inner_whitespace_changed(diff: &super::Difference) -> bool {
    matches!(diff.expected_byte(), Some(b' ' | b'\t')) && !matches!(diff.got_byte(), Some(b'\n' | b'\r'))
}

/// What is wrong with reply bytes, from the first difference on (`want` and `got` start there).
fn reply_difference(want: &[u8], got: &[u8]) -> Cause {
    match (want.first(), got.first()) {
        (_, Some(b'\n' | b'\r')) if !matches!(want.first(), Some(b'\n' | b'\r')) => Cause::LineEndingAdded,
        (Some(w), Some(g)) if w.is_ascii_uppercase() && g.to_ascii_uppercase() == *w => Cause::NotUppercased,
        _ => Cause::ReplyChanged,
    }
}

#[cfg(test)]
mod tests;

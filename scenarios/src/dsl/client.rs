//! The client-scenario DSL: a check of a client written as the conversation it has.
//!
//! A [`ClientScenario`] is a value like a server [`super::Scenario`]: a name, what it checks, how
//! the server that sockcheck plays behaves ([`Serve`]) and the steps: lines typed on stdin, and
//! what must follow (the printed replies, the bytes the server got, the exit status within a
//! deadline, the CPU time used while waiting, no traceback on stderr, a message).

use std::fmt::Write as _;
use std::time::Duration;

use super::{Payload, Transport};

/// How the server sockcheck plays answers the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Serve {
    /// Each `recv` is answered at once with its uppercase (the tutorial's server).
    Normally,
    /// Replies go out in `size`-byte pieces, each written separately after `pause`.
    InPieces {
        /// The size of each piece, in bytes.
        size: usize,
        /// The pause before each piece.
        pause: Duration,
    },
    /// Replies are cut inside every multi-byte UTF-8 character, pieces `pause` apart.
    SplittingUtf8 {
        /// The pause between pieces.
        pause: Duration,
    },
    /// `k` messages are answered; the next one is read and the connection closed cleanly (FIN).
    CloseAfter(usize),
    /// `k` messages are answered; the next one is left unread and the connection reset (RST).
    ResetAfter(usize),
    /// Nothing listens at the client's address: its connect is refused.
    NothingListening,
    /// Datagrams: the first `k` replies are lost (not sent); later ones, to a resent line too, go out.
    DropReplies(usize),
    /// Datagrams: every reply is sent twice.
    Duplicating,
    /// Datagrams: before each reply, a datagram of the same length comes from another address.
    StrangerFirst,
}

impl Serve {
    /// The behaviour as DSL code, for `sockcheck list --code`.
    pub fn to_code(&self) -> String {
        match self {
            Serve::Normally => "reply_normally()".into(),
            Serve::InPieces { size, pause } => format!("reply_in_pieces({size}, ms({}))", pause.as_millis()),
            Serve::SplittingUtf8 { pause } => format!("split_utf8(ms({}))", pause.as_millis()),
            Serve::CloseAfter(k) => format!("close_after({k})"),
            Serve::ResetAfter(k) => format!("reset_after({k})"),
            Serve::NothingListening => "nothing_listening()".into(),
            Serve::DropReplies(k) => format!("drop_first_replies({k})"),
            Serve::Duplicating => "duplicate_replies()".into(),
            Serve::StrangerFirst => "stranger_first()".into(),
        }
    }
}

/// Answer every message at once.
pub fn reply_normally() -> Serve {
    Serve::Normally
}
/// Answer in `size`-byte pieces with `pause` before each.
pub fn reply_in_pieces(size: usize, pause: Duration) -> Serve {
    Serve::InPieces { size: size.max(1), pause }
}
/// Answer with every multi-byte UTF-8 character split across writes.
pub fn split_utf8(pause: Duration) -> Serve {
    Serve::SplittingUtf8 { pause }
}
/// Answer `k` messages, then close on the next.
pub fn close_after(k: usize) -> Serve {
    Serve::CloseAfter(k)
}
/// Answer `k` messages, then reset on the next.
pub fn reset_after(k: usize) -> Serve {
    Serve::ResetAfter(k)
}

/// Listen nowhere: the client's connect is refused.
pub fn nothing_listening() -> Serve {
    Serve::NothingListening
}

/// Lose the first `k` replies (datagrams).
pub fn drop_first_replies(k: usize) -> Serve {
    Serve::DropReplies(k)
}
/// Send every reply twice (datagrams).
pub fn duplicate_replies() -> Serve {
    Serve::Duplicating
}
/// Before each reply, send a datagram of its length from another address.
pub fn stranger_first() -> Serve {
    Serve::StrangerFirst
}

/// Which transports a client scenario runs over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Over {
    /// `tcp` and `unix` only: it is about connections (closes, resets, byte streams).
    #[default]
    Streams,
    /// `udp` and `unix-dgram` only: it is about datagrams (loss, duplicates, senders).
    Datagrams,
    /// Every transport: lines and replies, whatever carries them.
    Any,
}

/// The exit status a step expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exit code 0.
    Success,
    /// A non-zero exit code (not a signal: a crash is not an answer).
    Failure,
}

/// One step of a client scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientStep {
    /// A line typed on stdin (a newline is added).
    Type(Payload),
    /// Close stdin (end of input).
    EndInput,
    /// Everything printed so far is exactly the replies to the lines typed so far (the
    /// uppercase of each non-empty stripped line), within the deadline.
    ExpectReplies,
    /// Everything printed so far is exactly these lines.
    ExpectPrinted(Vec<String>),
    /// The server has received exactly these messages (back to back: the protocol has no framing).
    ExpectSent(Vec<String>),
    /// The client exits within the deadline, with this status, without spinning meanwhile.
    ExpectExit(Exit),
    /// For this long the client stays alive and uses (almost) no CPU.
    ExpectIdle(Duration),
    /// Nothing on stderr looks like a traceback or a panic.
    ExpectNoTraceback,
    /// The client said something (on stderr, or stdout besides its prompt): a person is told why
    /// it stopped.
    ExpectMessage,
    /// Datagrams, after a reply was lost: within the deadline the client prints the reply (it
    /// sent the line again) or exits non-zero saying so; waiting for ever fails.
    ExpectReplyOrGiveUp,
}

impl ClientStep {
    /// The step as DSL code, for transcripts and `sockcheck list --code`.
    pub fn to_code(&self) -> String {
        match self {
            ClientStep::Type(p) => format!("type_line({})", p.to_code()),
            ClientStep::EndInput => "end_input()".into(),
            ClientStep::ExpectReplies => "expect_replies()".into(),
            ClientStep::ExpectPrinted(l) => format!("expect_printed({})", lines_code(l)),
            ClientStep::ExpectSent(l) => format!("expect_sent({})", lines_code(l)),
            ClientStep::ExpectExit(Exit::Success) => "expect_exit(Exit::Success)".into(),
            ClientStep::ExpectExit(Exit::Failure) => "expect_exit(Exit::Failure)".into(),
            ClientStep::ExpectIdle(d) => format!("expect_idle(ms({}))", d.as_millis()),
            ClientStep::ExpectNoTraceback => "expect_no_traceback()".into(),
            ClientStep::ExpectMessage => "expect_message()".into(),
            ClientStep::ExpectReplyOrGiveUp => "expect_reply_or_give_up()".into(),
        }
    }
}

/// Lines longer than this are shown as a long payload is: see [`line_code`].
const LONG_LINE: usize = 80;

/// Lines as code, `["a", "b"]`.
fn lines_code(lines: &[String]) -> String {
    format!("[{}]", lines.iter().map(|l| line_code(l)).collect::<Vec<_>>().join(", "))
}

/// A line as code; a long one as the DSL shows a long payload: the pattern as `pattern(N)`,
/// other text cut, with its length.
fn line_code(line: &str) -> String {
    if line.len() <= LONG_LINE {
        return format!("{line:?}");
    }
    let pattern = Payload::Pattern(line.len());
    if pattern.bytes() == line.as_bytes() {
        return pattern.to_code();
    }
    let head: String = line.chars().take(LONG_LINE / 2).collect();
    format!("{head:?}... ({} bytes)", line.len())
}

/// A step and its own deadline, if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedClientStep {
    /// The step.
    pub step: ClientStep,
    /// Its deadline, when not the default.
    pub within: Option<Duration>,
}

/// The steps of a client scenario, built in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct ClientSteps {
    /// The steps, in order.
    pub steps: Vec<TimedClientStep>,
}

impl ClientSteps {
    fn push(mut self, step: ClientStep) -> Self {
        self.steps.push(TimedClientStep { step, within: None });
        self
    }
    /// Type a line on stdin: see [`ClientStep::Type`].
    pub fn type_line(self, line: impl Into<Payload>) -> Self {
        self.push(ClientStep::Type(line.into()))
    }
    /// Type each of `lines`, in order.
    pub fn type_lines<I: IntoIterator<Item = S>, S: Into<Payload>>(mut self, lines: I) -> Self {
        for l in lines {
            self = self.type_line(l);
        }
        self
    }
    /// Close stdin: see [`ClientStep::EndInput`].
    pub fn end_input(self) -> Self {
        self.push(ClientStep::EndInput)
    }
    /// The replies to the lines typed so far are printed: see [`ClientStep::ExpectReplies`].
    pub fn expect_replies(self) -> Self {
        self.push(ClientStep::ExpectReplies)
    }
    /// Exactly these lines are printed: see [`ClientStep::ExpectPrinted`].
    pub fn expect_printed<I: IntoIterator<Item = S>, S: Into<String>>(self, lines: I) -> Self {
        self.push(ClientStep::ExpectPrinted(lines.into_iter().map(Into::into).collect()))
    }
    /// The server got exactly these messages: see [`ClientStep::ExpectSent`].
    pub fn expect_sent<I: IntoIterator<Item = S>, S: Into<String>>(self, messages: I) -> Self {
        self.push(ClientStep::ExpectSent(messages.into_iter().map(Into::into).collect()))
    }
    /// The client exits with this status: see [`ClientStep::ExpectExit`].
    pub fn expect_exit(self, exit: Exit) -> Self {
        self.push(ClientStep::ExpectExit(exit))
    }
    /// The client stays alive and idle for `d`: see [`ClientStep::ExpectIdle`].
    pub fn expect_idle(self, d: Duration) -> Self {
        self.push(ClientStep::ExpectIdle(d))
    }
    /// No traceback or panic on stderr: see [`ClientStep::ExpectNoTraceback`].
    pub fn expect_no_traceback(self) -> Self {
        self.push(ClientStep::ExpectNoTraceback)
    }
    /// The client says why it stopped: see [`ClientStep::ExpectMessage`].
    pub fn expect_message(self) -> Self {
        self.push(ClientStep::ExpectMessage)
    }
    /// A lost reply is resent or given up on: see [`ClientStep::ExpectReplyOrGiveUp`].
    pub fn expect_reply_or_give_up(self) -> Self {
        self.push(ClientStep::ExpectReplyOrGiveUp)
    }
    /// Give the previous step this deadline instead of the default.
    pub fn within(mut self, d: Duration) -> Self {
        if let Some(last) = self.steps.last_mut() {
            last.within = Some(d);
        }
        self
    }
}

/// A check of a client: how the server behaves, and the conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct ClientScenario {
    name: String,
    about: String,
    /// How the played server answers.
    pub serve: Serve,
    /// The transports it runs over (the others do not run it at all).
    pub over: Over,
    /// What the client is given and what must follow.
    pub steps: ClientSteps,
    /// The whole scenario's deadline.
    pub deadline: Duration,
}

impl ClientScenario {
    /// An empty scenario named `name`, served [`Serve::Normally`], over streams.
    pub fn new(name: impl Into<String>) -> Self {
        ClientScenario {
            name: name.into(),
            about: String::new(),
            serve: Serve::Normally,
            over: Over::Streams,
            steps: ClientSteps::default(),
            deadline: Duration::from_secs(60),
        }
    }
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The line saying what it checks.
    pub fn description(&self) -> &str {
        &self.about
    }
    /// One line saying what it checks.
    pub fn about(mut self, text: impl Into<String>) -> Self {
        self.about = text.into();
        self
    }
    /// How the played server answers.
    pub fn serve(mut self, serve: Serve) -> Self {
        self.serve = serve;
        self
    }
    /// Only over `udp` and `unix-dgram`.
    pub fn datagrams(mut self) -> Self {
        self.over = Over::Datagrams;
        self
    }
    /// Over streams and datagrams alike.
    pub fn any_transport(mut self) -> Self {
        self.over = Over::Any;
        self
    }
    /// Whether it runs over `transport`.
    pub fn runs_over(&self, transport: Transport) -> bool {
        match self.over {
            Over::Streams => !transport.is_datagram(),
            Over::Datagrams => transport.is_datagram(),
            Over::Any => true,
        }
    }
    /// The steps, built by `f`.
    pub fn steps(mut self, f: impl FnOnce(ClientSteps) -> ClientSteps) -> Self {
        self.steps = f(std::mem::take(&mut self.steps));
        self
    }

    /// The scenario as the code that builds it.
    pub fn to_code(&self) -> String {
        let mut s = format!("ClientScenario::new({:?})\n    .about({:?})\n", self.name, self.about);
        match self.over {
            Over::Streams => {}
            Over::Datagrams => s.push_str("    .datagrams()\n"),
            Over::Any => s.push_str("    .any_transport()\n"),
        }
        let _ = writeln!(s, "    .serve({})", self.serve.to_code());
        let steps: Vec<String> = self
            .steps
            .steps
            .iter()
            .map(|t| match t.within {
                Some(d) => format!("{}.within(ms({}))", t.step.to_code(), d.as_millis()),
                None => t.step.to_code(),
            })
            .collect();
        let _ = write!(s, "    .steps(|c| c.{})", steps.join("."));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::pattern;

    #[test]
    fn long_lines_are_shown_as_long_payloads_are() {
        let line = String::from_utf8(pattern(10_000).bytes()).unwrap();
        let step = ClientStep::ExpectSent(vec![line, "next".into()]);
        assert_eq!(step.to_code(), r#"expect_sent([pattern(10000), "next"])"#);
        let other = "x".repeat(100);
        let step = ClientStep::ExpectPrinted(vec![other]);
        assert_eq!(step.to_code(), format!("expect_printed([{:?}... (100 bytes)])", "x".repeat(40)));
        let short = ClientStep::ExpectSent(vec!["hello".into(), "a\tb".into()]);
        assert_eq!(short.to_code(), r#"expect_sent(["hello", "a\tb"])"#);
    }
}

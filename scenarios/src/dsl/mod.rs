//! The scenario DSL: a conformance check written as the conversation it checks.
//!
//! ```
//! use sockcheck_scenarios::dsl::*;
//!
//! let s = Scenario::new("large_send_is_echoed_whole")
//!     .about("a send 1000x the server's buffer comes back complete and in order")
//!     .client("a", |c| c.connect().send(pattern(1 << 20)).expect_reply().close());
//! assert_eq!(s.name(), "large_send_is_echoed_whole");
//! ```
//!
//! A scenario is a value: a list of [`Action`]s run in order. `client(name, ..)` appends a block of
//! steps for one named client (blocks of different clients interleave in the order written);
//! `together` runs the same steps on several clients at once; `repeat` opens many short-lived
//! connections in a row; target actions stop, start and restart the server under test.
//! Scenarios can be listed, filtered, run over either transport (the `sockcheck` engine) and printed
//! back as code ([`Scenario::to_code`]).

use std::fmt::Write as _;
use std::time::Duration;

pub use sockcheck_proto::{Mode, Transport};

pub mod client;
mod payload;

use payload::size_code;
pub use payload::{all_bytes, pattern, random, Payload};

/// Shorthand for milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Shorthand for seconds.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// One thing a client does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Open the connection.
    Connect,
    /// Open the connection with a receive buffer (`SO_RCVBUF`, set before `connect()`) of about
    /// this many bytes: the kernel holds little for this client, so a server's writes block soon.
    ConnectWithRecvBuffer(usize),
    /// Queue bytes for sending; a writer sends them while the client goes on with its next steps.
    Send(Payload),
    /// Wait until everything queued has been handed to the kernel.
    Flush,
    /// Read the transformed reply of everything sent and not yet checked (or of the given bytes),
    /// byte for byte. `slowly` reads `chunk` bytes at a time with `pause` between reads.
    ExpectReply {
        /// The bytes whose reply is read (`None`: everything sent and unchecked).
        of: Option<Payload>,
        /// `(chunk, pause)`: read this many bytes at a time, pausing between reads.
        slowly: Option<(usize, Duration)>,
    },
    /// Read and check the first `n` bytes of the pending reply; the rest stays pending.
    ExpectPartialReply(usize),
    /// Nothing may arrive for this long (the client is queued, not served).
    ExpectSilence(Duration),
    /// The server closes the connection (read returns 0) with nothing more before it.
    ExpectEof,
    /// `shutdown(Write)`: the server sees EOF; the client can still read.
    HalfClose,
    /// Close after the queued bytes are written.
    Close,
    /// `SO_LINGER 0` then close: the server sees a reset.
    Reset,
    /// Read `after` bytes of the pending reply, then close with the rest unread.
    VanishMidReply {
        /// Reply bytes read before closing.
        after: usize,
    },
    /// Do nothing for a while.
    Wait(Duration),
    /// Datagrams: send one datagram (the client's socket is opened at its first datagram step).
    SendDatagram(Payload),
    /// Datagrams: the next datagram is the reply to the oldest unanswered one: its transform,
    /// whole, in one datagram, from the server's address.
    ExpectDatagramReply,
    /// Datagrams: nothing arrives for this long.
    ExpectNoDatagram(Duration),
    /// Datagrams: `count` datagrams of `size` bytes, a few unanswered at a time; the replies are
    /// counted and the loss reported as a figure (none answered, a duplicate, or most lost fails).
    Burst {
        /// How many datagrams.
        count: usize,
        /// The size of each, in bytes.
        size: usize,
    },
    /// Datagrams: close the socket (its port or path is gone, so the server's next `sendto` to it
    /// fails); the next datagram step opens a new one.
    Vanish,
}

impl Step {
    /// A step of the datagram vocabulary.
    pub fn is_datagram(&self) -> bool {
        matches!(
            self,
            Step::SendDatagram(_)
                | Step::ExpectDatagramReply
                | Step::ExpectNoDatagram(_)
                | Step::Burst { .. }
                | Step::Vanish
        )
    }

    /// The step as DSL code, for transcripts and [`Scenario::to_code`].
    pub fn to_code(&self) -> String {
        match self {
            Step::Connect => "connect()".into(),
            Step::ConnectWithRecvBuffer(n) => format!("connect_with_recv_buffer({})", size_code(*n)),
            Step::Send(p) => format!("send({})", p.to_code()),
            Step::Flush => "flush()".into(),
            Step::ExpectReply { of: None, slowly: None } => "expect_reply()".into(),
            Step::ExpectReply { of: Some(p), slowly: None } => format!("expect_reply_of({})", p.to_code()),
            Step::ExpectReply { of: None, slowly: Some((chunk, pause)) } => {
                format!("expect_reply_slowly({}, ms({}))", size_code(*chunk), pause.as_millis())
            }
            Step::ExpectReply { of: Some(p), slowly: Some((chunk, pause)) } => {
                format!("expect_reply_of({}).slowly({}, ms({}))", p.to_code(), size_code(*chunk), pause.as_millis())
            }
            Step::ExpectPartialReply(n) => format!("expect_partial_reply({})", size_code(*n)),
            Step::ExpectSilence(d) => format!("expect_silence(ms({}))", d.as_millis()),
            Step::ExpectEof => "expect_eof()".into(),
            Step::HalfClose => "half_close()".into(),
            Step::Close => "close()".into(),
            Step::Reset => "reset()".into(),
            Step::VanishMidReply { after } => format!("vanish_mid_reply({})", size_code(*after)),
            Step::Wait(d) => format!("wait(ms({}))", d.as_millis()),
            Step::SendDatagram(p) => format!("send_datagram({})", p.to_code()),
            Step::ExpectDatagramReply => "expect_datagram_reply()".into(),
            Step::ExpectNoDatagram(d) => format!("expect_no_datagram(ms({}))", d.as_millis()),
            Step::Burst { count, size } => format!("burst({count}, {})", size_code(*size)),
            Step::Vanish => "vanish()".into(),
        }
    }
}

/// A step and its deadline (`None`: the runner's default, scaled for large payloads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedStep {
    /// The step.
    pub step: Step,
    /// Its deadline, when not the default.
    pub within: Option<Duration>,
}

/// The steps of one client block, built with chained calls.
#[must_use = "steps do nothing until added to a scenario"]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Steps {
    /// The steps, in order.
    pub steps: Vec<TimedStep>,
}

impl Steps {
    fn push(mut self, step: Step) -> Self {
        self.steps.push(TimedStep { step, within: None });
        self
    }

    /// Open the connection: see [`Step::Connect`].
    pub fn connect(self) -> Self {
        self.push(Step::Connect)
    }
    /// `connect()` with a small receive buffer: see [`Step::ConnectWithRecvBuffer`].
    pub fn connect_with_recv_buffer(self, bytes: usize) -> Self {
        self.push(Step::ConnectWithRecvBuffer(bytes))
    }
    /// Queue bytes for sending: see [`Step::Send`].
    pub fn send(self, payload: impl Into<Payload>) -> Self {
        self.push(Step::Send(payload.into()))
    }
    /// Wait until everything queued is handed to the kernel: see [`Step::Flush`].
    pub fn flush(self) -> Self {
        self.push(Step::Flush)
    }
    /// The transformed reply of everything sent and not yet checked.
    pub fn expect_reply(self) -> Self {
        self.push(Step::ExpectReply { of: None, slowly: None })
    }
    /// The transformed reply of exactly these bytes (a prefix of what is unchecked).
    pub fn expect_reply_of(self, payload: impl Into<Payload>) -> Self {
        self.push(Step::ExpectReply { of: Some(payload.into()), slowly: None })
    }
    /// Like `expect_reply`, reading `chunk` bytes at a time with `pause` between reads.
    pub fn expect_reply_slowly(self, chunk: usize, pause: Duration) -> Self {
        self.push(Step::ExpectReply { of: None, slowly: Some((chunk.max(1), pause)) })
    }
    /// The first `n` bytes of the pending reply (the server is busy answering); the rest stays pending.
    pub fn expect_partial_reply(self, n: usize) -> Self {
        self.push(Step::ExpectPartialReply(n))
    }
    /// Nothing may arrive for `d`: see [`Step::ExpectSilence`].
    pub fn expect_silence(self, d: Duration) -> Self {
        self.push(Step::ExpectSilence(d))
    }
    /// The server closes the connection: see [`Step::ExpectEof`].
    pub fn expect_eof(self) -> Self {
        self.push(Step::ExpectEof)
    }
    /// `shutdown(Write)`: see [`Step::HalfClose`].
    pub fn half_close(self) -> Self {
        self.push(Step::HalfClose)
    }
    /// Close once the queued bytes are written: see [`Step::Close`].
    pub fn close(self) -> Self {
        self.push(Step::Close)
    }
    /// Close with a reset (RST): see [`Step::Reset`].
    pub fn reset(self) -> Self {
        self.push(Step::Reset)
    }
    /// Read `after` reply bytes, then close: see [`Step::VanishMidReply`].
    pub fn vanish_mid_reply(self, after: usize) -> Self {
        self.push(Step::VanishMidReply { after })
    }
    /// Do nothing for `d`.
    pub fn wait(self, d: Duration) -> Self {
        self.push(Step::Wait(d))
    }
    /// One datagram: see [`Step::SendDatagram`].
    pub fn send_datagram(self, payload: impl Into<Payload>) -> Self {
        self.push(Step::SendDatagram(payload.into()))
    }
    /// See [`Step::ExpectDatagramReply`].
    pub fn expect_datagram_reply(self) -> Self {
        self.push(Step::ExpectDatagramReply)
    }
    /// No datagram may arrive for `d`: see [`Step::ExpectNoDatagram`].
    pub fn expect_no_datagram(self, d: Duration) -> Self {
        self.push(Step::ExpectNoDatagram(d))
    }
    /// See [`Step::Burst`].
    pub fn burst(self, count: usize, size: usize) -> Self {
        self.push(Step::Burst { count, size: size.max(8) })
    }
    /// See [`Step::Vanish`].
    pub fn vanish(self) -> Self {
        self.push(Step::Vanish)
    }
    /// Deadline for the step just added.
    pub fn within(mut self, d: Duration) -> Self {
        if let Some(last) = self.steps.last_mut() {
            last.within = Some(d);
        }
        self
    }

    fn to_code(&self, var: &str) -> String {
        let mut s = var.to_string();
        for t in &self.steps {
            s.push('.');
            s.push_str(&t.step.to_code());
            if let Some(d) = t.within {
                let _ = write!(s, ".within(ms({}))", d.as_millis());
            }
        }
        s
    }
}

/// What sockcheck puts at a Unix socket path before starting the server there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathFixture {
    /// A socket file nobody listens on (left by a server that crashed).
    StaleSocket,
    /// A regular file with these contents (someone's data).
    RegularFile(Vec<u8>),
}

impl PathFixture {
    /// The fixture as Rust code.
    pub fn to_code(&self) -> String {
        match self {
            PathFixture::StaleSocket => "PathFixture::StaleSocket".to_string(),
            PathFixture::RegularFile(b) => format!("PathFixture::RegularFile(b\"{}\".to_vec())", b.escape_ascii()),
        }
    }
}

/// One entry of a scenario, run in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Steps of one named client, in order.
    Client {
        /// The client's name in transcripts.
        name: String,
        /// Its steps.
        steps: Steps,
    },
    /// The same steps on several clients at once.
    Together {
        /// The clients, each running the steps.
        names: Vec<String>,
        /// The steps each of them runs.
        steps: Steps,
    },
    /// `count` new connections one after another, each running the steps.
    Repeat {
        /// How many connections.
        count: usize,
        /// The steps of each.
        steps: Steps,
    },
    /// Do nothing for a while.
    Wait(Duration),
    /// Stop the target (kill it).
    StopTarget,
    /// Start the target; it must come up (bind at once).
    StartTarget,
    /// Start the target; it must fail (exit, or not accept) within the deadline.
    ExpectStartFailure,
    /// Put a file at the target's Unix socket path (the target must be stopped).
    PutAtPath(PathFixture),
    /// The target's Unix socket path still holds this fixture, unchanged.
    ExpectAtPath(PathFixture),
    /// Remove what is at the target's Unix socket path (cleanup).
    ClearPath,
}

/// What a scenario needs of its target; otherwise it is skipped with the reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The serving model (queueing needs sequential; parallel service needs concurrent).
    pub model: Option<Mode>,
    /// sockcheck must be able to stop and start the target.
    pub control: bool,
    /// Only over this transport.
    pub transport: Option<Transport>,
    /// A datagram scenario: only over the datagram transports (and a stream one never over them).
    pub datagram: bool,
}

/// A named conformance check.
#[must_use = "a scenario does nothing until run"]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    name: String,
    about: String,
    /// What it needs of its target.
    pub needs: Needs,
    /// What it does, in order.
    pub actions: Vec<Action>,
    /// Backstop for the whole scenario; each step has its own deadline too.
    pub deadline: Duration,
}

impl Scenario {
    /// An empty scenario named `name` (a test name: `snake_case`, saying what must hold).
    pub fn new(name: impl Into<String>) -> Self {
        Scenario {
            name: name.into(),
            about: String::new(),
            needs: Needs::default(),
            actions: vec![],
            deadline: Duration::from_secs(300),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The line saying what it checks (see [`Scenario::about`]).
    pub fn description(&self) -> &str {
        &self.about
    }

    /// One line saying what it checks.
    pub fn about(mut self, text: impl Into<String>) -> Self {
        self.about = text.into();
        self
    }

    /// Run only against a server of this model: see [`Needs::model`].
    pub fn needs_model(mut self, model: Mode) -> Self {
        self.needs.model = Some(model);
        self
    }

    /// sockcheck must be able to stop and start the target (built-in or `--spawn`).
    pub fn needs_control(mut self) -> Self {
        self.needs.control = true;
        self
    }

    /// A datagram scenario (see [`Needs::datagram`]).
    pub fn datagrams(mut self) -> Self {
        self.needs.datagram = true;
        self
    }

    /// Run only over this transport: see [`Needs::transport`].
    pub fn only_over(mut self, transport: Transport) -> Self {
        self.needs.transport = Some(transport);
        self
    }

    /// The backstop for the whole scenario (each step has its own deadline too).
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = d;
        self
    }

    /// A block of steps for client `name` (created at its `connect()`).
    pub fn client(mut self, name: &str, f: impl FnOnce(Steps) -> Steps) -> Self {
        self.actions.push(Action::Client { name: name.into(), steps: f(Steps::default()) });
        self
    }

    /// The same steps on each of `names`, all at once.
    pub fn together(mut self, names: &[&str], f: impl FnOnce(Steps) -> Steps) -> Self {
        self.actions.push(Action::Together {
            names: names.iter().map(|s| s.to_string()).collect(),
            steps: f(Steps::default()),
        });
        self
    }

    /// `count` fresh connections in a row, each running the steps (which should connect and close).
    pub fn repeat(mut self, count: usize, f: impl FnOnce(Steps) -> Steps) -> Self {
        self.actions.push(Action::Repeat { count, steps: f(Steps::default()) });
        self
    }

    /// Do nothing for `d` between blocks.
    pub fn wait(mut self, d: Duration) -> Self {
        self.actions.push(Action::Wait(d));
        self
    }

    /// Kill the target and start it again on the same address; it must bind at once.
    pub fn restart_target(mut self) -> Self {
        self.needs.control = true;
        self.actions.push(Action::StopTarget);
        self.actions.push(Action::StartTarget);
        self
    }

    /// Stop (kill) the target: see [`Action::StopTarget`].
    pub fn stop_target(mut self) -> Self {
        self.needs.control = true;
        self.actions.push(Action::StopTarget);
        self
    }

    /// Start the target; it must come up at once: see [`Action::StartTarget`].
    pub fn start_target(mut self) -> Self {
        self.needs.control = true;
        self.actions.push(Action::StartTarget);
        self
    }

    /// Start the target; it must fail: see [`Action::ExpectStartFailure`].
    pub fn expect_start_failure(mut self) -> Self {
        self.needs.control = true;
        self.actions.push(Action::ExpectStartFailure);
        self
    }

    /// Put a fixture at the Unix socket path: see [`Action::PutAtPath`].
    pub fn put_at_path(mut self, fixture: PathFixture) -> Self {
        self.needs.control = true;
        self.needs.transport = Some(if self.needs.datagram { Transport::UnixDgram } else { Transport::Unix });
        self.actions.push(Action::PutAtPath(fixture));
        self
    }

    /// The fixture is still at the path, unchanged: see [`Action::ExpectAtPath`].
    pub fn expect_at_path(mut self, fixture: PathFixture) -> Self {
        self.actions.push(Action::ExpectAtPath(fixture));
        self
    }

    /// Remove what is at the socket path: see [`Action::ClearPath`].
    pub fn clear_path(mut self) -> Self {
        self.actions.push(Action::ClearPath);
        self
    }

    /// The scenario as DSL code that builds it again (for pasting into the catalogue).
    pub fn to_code(&self) -> String {
        let mut s = format!("Scenario::new({:?})", self.name);
        if !self.about.is_empty() {
            let _ = write!(s, "\n    .about({:?})", self.about);
        }
        if self.needs.datagram {
            s.push_str("\n    .datagrams()");
        }
        if let Some(m) = self.needs.model {
            let _ = write!(s, "\n    .needs_model(Mode::{m:?})");
        }
        let fixture = PathFixture::to_code;
        let mut i = 0;
        while i < self.actions.len() {
            let line = match &self.actions[i] {
                Action::StopTarget if self.actions.get(i + 1) == Some(&Action::StartTarget) => {
                    i += 1;
                    ".restart_target()".to_string()
                }
                Action::Client { name, steps } => {
                    // Consecutive blocks of one client read better as one.
                    let mut merged = steps.clone();
                    while let Some(Action::Client { name: next, steps: more }) = self.actions.get(i + 1) {
                        if next != name {
                            break;
                        }
                        merged.steps.extend(more.steps.iter().cloned());
                        i += 1;
                    }
                    format!(".client({name:?}, |c| {})", merged.to_code("c"))
                }
                Action::Together { names, steps } => format!(".together(&{names:?}, |c| {})", steps.to_code("c")),
                Action::Repeat { count, steps } => format!(".repeat({count}, |c| {})", steps.to_code("c")),
                Action::Wait(d) => format!(".wait(ms({}))", d.as_millis()),
                Action::StopTarget => ".stop_target()".into(),
                Action::StartTarget => ".start_target()".into(),
                Action::ExpectStartFailure => ".expect_start_failure()".into(),
                Action::PutAtPath(f) => format!(".put_at_path({})", fixture(f)),
                Action::ExpectAtPath(f) => format!(".expect_at_path({})", fixture(f)),
                Action::ClearPath => ".clear_path()".into(),
            };
            let _ = write!(s, "\n    {line}");
            i += 1;
        }
        if let Some(t) = self.needs.transport {
            if !self.actions.iter().any(|a| matches!(a, Action::PutAtPath(_))) {
                let _ = write!(s, "\n    .only_over(Transport::{t:?})");
            }
        }
        s
    }

    /// Why this scenario cannot run against a target with these properties, if it cannot.
    pub fn skip_reason(&self, transport: Transport, model: Option<Mode>, controllable: bool) -> Option<String> {
        match (self.needs.datagram, transport.is_datagram()) {
            (true, false) => {
                return Some("a datagram scenario: only over udp, unix-dgram, udp6 and abstract-dgram".into())
            }
            (false, true) => return Some("a stream scenario: not over datagrams".into()),
            _ => {}
        }
        if let Some(t) = self.needs.transport {
            if t != transport && t.has_socket_file() && transport.is_unix() {
                return Some(format!("needs a socket file, and {transport} names have none: only over {t}"));
            }
            if t != transport {
                return Some(format!("only over {t}"));
            }
        }
        // One socket serves every datagram client: there is no other model to need.
        if let (Some(m), false) = (self.needs.model, transport.is_datagram()) {
            match model {
                Some(have) if have != m => return Some(format!("needs a {m} server; the target is {have}")),
                None => return Some(format!("needs a {m} server; say --model {m} if the target is one")),
                _ => {}
            }
        }
        if self.needs.control && !controllable {
            return Some("needs a target sockcheck can stop and start (the built-in server or --spawn)".into());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_deterministic_and_sized() {
        assert_eq!(random(1000, 7).bytes(), random(1000, 7).bytes());
        assert_ne!(random(1000, 7).bytes(), random(1000, 8).bytes());
        assert_eq!(random(13, 1).bytes().len(), 13);
        assert_eq!(pattern(100).bytes().len(), 100);
        assert_eq!(all_bytes().bytes(), (0..=255).collect::<Vec<u8>>());
        // Random payloads cover every byte value.
        let r = random(1 << 16, 3).bytes();
        assert!((0..=255u8).all(|b| r.contains(&b)));
    }

    #[test]
    fn prints_back_as_code() {
        let s = Scenario::new("x")
            .about("y")
            .client("a", |c| c.connect().send(pattern(1 << 20)).expect_reply().within(secs(9)).close())
            .restart_target()
            .client("b", |c| c.connect().send("hi\n").expect_eof());
        let code = s.to_code();
        assert!(
            code.contains(
                r#".client("a", |c| c.connect().send(pattern(1 << 20)).expect_reply().within(ms(9000)).close())"#
            ),
            "{code}"
        );
        assert!(code.contains(".restart_target()"), "{code}");
        assert!(code.contains(r#"c.connect().send("hi\n").expect_eof()"#), "{code}");
        assert!(s.needs.control);
    }

    #[test]
    fn skip_reasons_name_what_is_missing() {
        let s = Scenario::new("q").needs_model(Mode::Sequential);
        assert_eq!(s.skip_reason(Transport::Tcp, Some(Mode::Sequential), false), None);
        assert!(s.skip_reason(Transport::Tcp, Some(Mode::Concurrent), true).unwrap().contains("sequential"));
        assert!(s.skip_reason(Transport::Tcp, None, true).unwrap().contains("--model"));
        let d = Scenario::new("d").datagrams().put_at_path(PathFixture::StaleSocket);
        assert!(d.skip_reason(Transport::Tcp, None, true).unwrap().contains("datagram scenario"));
        assert_eq!(d.skip_reason(Transport::UnixDgram, None, true), None);
        assert!(d.skip_reason(Transport::Udp, None, true).unwrap().contains("only over unix-dgram"));
        assert!(s.skip_reason(Transport::Udp, None, true).unwrap().contains("stream scenario"));
        let r = Scenario::new("r").restart_target();
        assert!(r.skip_reason(Transport::Unix, None, false).unwrap().contains("stop and start"));
    }
}

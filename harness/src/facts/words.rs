//! Every fact in words, for transcripts and failure lines. Nothing parses these.

use std::fmt::{self, Display, Formatter};

use super::cause::TargetEnd;
use super::{
    show, Bytes, Difference, Ending, Fact, IoFault, Misuse, PathThing, ProcStatus, PromptWait, Served, ServerNote,
    Stream, Unit,
};

impl Display for Bytes {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", show(&self.head))?;
        if !self.is_whole() {
            write!(f, "… ({} bytes)", self.len)?;
        }
        Ok(())
    }
}

impl Display for Unit {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Stream => "stream",
            Unit::Line => "line",
            Unit::Datagram => "datagram",
            Unit::File => "file",
        })
    }
}

fn byte(b: Option<u8>) -> String {
    b.map_or("nothing".to_string(), |x| format!("0x{x:02x} {:?}", x as char))
}

impl Display for Difference {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "first difference at byte {} of the {}: expected {}, got {}; expected \"{}\" got \"{}\"",
            self.at,
            self.of,
            byte(self.expected_byte()),
            byte(self.got_byte()),
            show(&self.expected),
            show(&self.got)
        )
    }
}

impl Display for IoFault {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use super::IoKind as K;
        match self.kind {
            K::Reset => f.write_str("connection reset by the server"),
            K::BrokenPipe => f.write_str("broken pipe (the server closed the connection)"),
            K::Aborted => f.write_str("connection aborted"),
            _ => f.write_str(&self.os),
        }
    }
}

impl Display for ProcStatus {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            ProcStatus::Exited(code) => write!(f, "exited (status {code})"),
            ProcStatus::Killed(sig) => match nix::sys::signal::Signal::try_from(sig) {
                Ok(s) => write!(f, "killed by {}", s.as_str()),
                Err(_) => write!(f, "killed by signal {sig}"),
            },
        }
    }
}

impl Display for Ending {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Closed => f.write_str("the server closed the connection"),
            Ending::Error(e) => write!(f, "{e}"),
        }
    }
}

impl Display for PathThing {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PathThing::StaleSocket => f.write_str("a stale socket"),
            PathThing::RegularFile(b) => write!(f, "a regular file of {} bytes ({b})", b.len),
            PathThing::Nothing => f.write_str("nothing"),
            PathThing::Other => f.write_str("something other than a socket or a regular file"),
        }
    }
}

impl Display for TargetEnd {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TargetEnd::Exited { status } => write!(f, "the server process {status}"),
            TargetEnd::NotAccepting { at } => {
                write!(f, "the server no longer accepts connections on {at} (its process is still running)")
            }
            TargetEnd::ClientExited { status } => write!(f, "the client {status}"),
            TargetEnd::Ended { how } => f.write_str(how),
            TargetEnd::Daemonized { pid } => {
                write!(f, "the server's process exited and process {pid}, which it started, holds its address")
            }
        }
    }
}

impl Display for Served {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.datagram {
            write!(
                f,
                "{} datagram(s) from {} address(es), {} bytes received, {} bytes replied",
                self.datagrams, self.peers, self.received, self.replied
            )
        } else {
            write!(
                f,
                "{} connection(s), {} bytes received, {} bytes replied",
                self.connections, self.received, self.replied
            )
        }
    }
}

impl Display for ServerNote {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ServerNote::UnnamedSender => f.write_str(
                "a datagram came from an unnamed socket, which cannot be answered: an AF_UNIX datagram client must \
                 bind its socket to a path of its own",
            ),
            ServerNote::LostOnPurpose { n, bytes } => write!(f, "lost reply {n} on purpose ({bytes} bytes not sent)"),
            ServerNote::StrangerFirst { from } => write!(f, "a datagram from {from} went before each reply"),
            ServerNote::Duplicated => f.write_str("sent every reply twice on purpose"),
            ServerNote::ReplyFailed { to, error } => write!(f, "the reply to {to} could not be sent: {error}"),
            ServerNote::RecvFailed { error } => write!(f, "recvfrom failed: {error}"),
            ServerNote::ClosedInsteadOfAnswering => f.write_str("closed the connection (FIN) instead of answering"),
            ServerNote::ResetInsteadOfAnswering => f.write_str("reset the connection (RST) instead of answering"),
        }
    }
}

impl Display for Misuse {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Misuse::NotConnected => "not connected (add .connect() first)",
            Misuse::AlreadyConnected => "already connected",
            Misuse::NothingSent => "nothing was sent, so no reply can be expected",
            Misuse::UncheckedReply => "sent bytes have no checked reply yet (add .expect_reply() first)",
            Misuse::StreamStepOverDatagrams => "a stream step in a datagram scenario",
            Misuse::DatagramStepOverStream => "a datagram step in a stream scenario",
            Misuse::NotAUnixPath => "needs a Unix socket path",
            Misuse::NoSuchTransport => "not available over this transport",
        })
    }
}

fn stream_name(s: Stream) -> &'static str {
    match s {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
    }
}

impl Display for Fact {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // Each group of facts has its words in a function of its own; every fact is in one group.
        None.or_else(|| self.fmt_run(f))
            .or_else(|| self.fmt_stream(f))
            .or_else(|| self.fmt_datagram(f))
            .or_else(|| self.fmt_target(f))
            .or_else(|| self.fmt_client_io(f))
            .or_else(|| self.fmt_client_sent(f))
            .or_else(|| self.fmt_client_end(f))
            .expect("every fact is in a group")
    }
}

impl Fact {
    /// The scenario as a whole and connecting. `None` for the other facts.
    fn fmt_run(&self, f: &mut Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Fact::Nothing => Ok(()),
            Fact::Misuse { what } => write!(f, "{what}"),
            Fact::Setup { what } => f.write_str(what),
            Fact::ScenarioTimeout { deadline } => write!(f, "the scenario did not finish within {deadline}"),
            Fact::InRepeat { i, count, inner } => write!(f, "connection {i} of {count}: {inner}"),
            Fact::Repeated { count, shown } => write!(f, "{} more connections, all ok", count - shown),
            Fact::Connected { to } => write!(f, "connected to {to}"),
            Fact::ConnectFailed { to, error } => write!(f, "cannot connect to {to}: {}", error.os),
            _ => return None,
        })
    }

    /// Stream steps: sending, replies, closing. `None` for the other facts.
    fn fmt_stream(&self, f: &mut Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Fact::Queued { bytes } => write!(f, "{bytes} bytes queued"),
            Fact::Sent { bytes } => write!(f, "{bytes} bytes sent"),
            Fact::SendFailed { written, queued, error } => {
                write!(f, "sending failed after {written} of {queued} bytes: {error}")
            }
            Fact::SendStalled { written, queued, within } => {
                write!(f, "only {written} of {queued} bytes could be sent within {within} (is the server reading?)")
            }
            Fact::Replied { bytes, took } => write!(f, "{bytes} bytes in {took}"),
            Fact::PartlyReplied { bytes, took, pending } => {
                write!(f, "first {bytes} bytes in {took}; {pending} still pending")
            }
            Fact::NoReply { got, expected, waited, stalled, send_error, .. } => (|| -> fmt::Result {
                if *stalled {
                    write!(f, "no reply byte for {waited}: got {got} of {expected} bytes")?;
                } else {
                    write!(f, "no complete reply within {waited}: got {got} of {expected} bytes")?;
                }
                if let Some(e) = send_error {
                    write!(f, " (sending failed: {e})")?;
                }
                Ok(())
            })(),
            Fact::ConnectionEnded { got, expected, how } => {
                write!(f, "{how} after {got} of {expected} reply bytes")
            }
            Fact::WrongReply { diff } => write!(f, "wrong reply: {diff}"),
            Fact::Unasked { bytes } => write!(f, "the server sent {} bytes before being asked: {bytes}", bytes.len),
            Fact::MoreThanReply { bytes, reply, .. } => {
                write!(f, "{} bytes more than the reply of {reply} bytes: {bytes}", bytes.len)
            }
            Fact::Quiet { waited } => write!(f, "nothing for {waited}"),
            Fact::NotQuiet { bytes, after, others_closed } => (|| -> fmt::Result {
                write!(f, "got {} bytes after {after} while this client should get nothing: {bytes}", bytes.len)?;
                if !others_closed.is_empty() {
                    write!(f, "; the server had closed the connection of {}", others_closed.join(", "))?;
                }
                Ok(())
            })(),
            Fact::ClosedByServer { after } => write!(f, "closed by the server after {after}"),
            Fact::NotClosed { within } => write!(f, "the server did not close the connection within {within}"),
            Fact::MoreBeforeClose { bytes } => {
                write!(f, "expected the connection to close, got {} more bytes: {bytes}", bytes.len)
            }
            Fact::ReadFailed { error } => write!(f, "{error}"),
            Fact::HalfClosed { queued } => write!(f, "write side shuts after {queued} queued bytes"),
            Fact::Closed => f.write_str("closed"),
            Fact::Reset => f.write_str("reset (SO_LINGER 0, close)"),
            Fact::Vanished { read, pending } => write!(f, "read {read} of {pending} reply bytes, then closed"),
            _ => return None,
        })
    }

    /// Datagram steps. `None` for the other facts.
    fn fmt_datagram(&self, f: &mut Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Fact::DatagramSent { bytes } => write!(f, "{bytes} bytes in one datagram"),
            Fact::SendtoFailed { error } => write!(f, "sendto failed: {}", error.os),
            Fact::DatagramReplied { bytes, took } => write!(f, "{bytes} bytes in one datagram in {took}"),
            Fact::NoDatagramReply { sent: 0, within } => write!(f, "no reply within {within} to the empty datagram"),
            Fact::NoDatagramReply { sent, within } => {
                write!(f, "no reply within {within} to a datagram of {sent} bytes")
            }
            Fact::RecvFailed { error } => write!(f, "recvfrom failed: {}", error.os),
            Fact::ForeignDatagram { bytes, from, server } => write!(
                f,
                "a datagram of {} bytes came from {from}, not from the server at {server}: {bytes}",
                bytes.len
            ),
            Fact::DatagramTooLong { got, expected } => {
                write!(f, "a reply of more than {got} bytes to a datagram of {expected} bytes")
            }
            Fact::DatagramCut { got, expected } => write!(
                f,
                "the reply was cut: {got} of {expected} bytes came back in one datagram (a receive buffer of {got} \
                 bytes, like recvfrom({got}), truncates the datagram)"
            ),
            Fact::LaterReplyFirst { got, expected } => write!(
                f,
                "a reply of {got} bytes came where the reply of {expected} bytes was due: it answers a later datagram"
            ),
            Fact::WrongDatagram { diff, got, expected } => {
                write!(f, "a reply of {got} bytes to a datagram of {expected} bytes: {diff}")
            }
            Fact::UnexpectedDatagram { bytes, from } => {
                write!(f, "a datagram of {} bytes from {from} while none was due: {bytes}", bytes.len)
            }
            Fact::Burst { sent, answered: 0, stranger: None, .. } => {
                write!(f, "no reply to any of the {sent} datagrams sent")
            }
            Fact::Burst { count, sent, answered, duplicates, took, stranger } => (|| -> fmt::Result {
                let lost = count - answered.min(count);
                let pct = if *count == 0 { 0.0 } else { lost as f64 * 100.0 / *count as f64 };
                write!(f, "{answered} of {count} datagrams answered, {lost} lost ({pct:.1}%)")?;
                if sent < count {
                    write!(f, "; {sent} sent before the server stopped answering")?;
                }
                if *duplicates > 0 {
                    write!(f, ", and {duplicates} replies more than once")?;
                }
                if let Some(b) = stranger {
                    write!(f, "; a reply of {} bytes that answers no datagram of the burst: {b}", b.len)?;
                }
                write!(f, " in {took}")
            })(),
            Fact::SocketClosed { local: Some(l) } => write!(f, "socket at {l} closed: replies to it now fail"),
            Fact::SocketClosed { local: None } => f.write_str("no socket to close"),
            _ => return None,
        })
    }

    /// The target's life and its socket path. `None` for the other facts.
    fn fmt_target(&self, f: &mut Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Fact::TargetStarted { at } => write!(f, "listening on {at}"),
            Fact::TargetStopped => f.write_str("stopped"),
            Fact::TargetDidNotStart { why } => write!(f, "the target did not start: {why}"),
            Fact::RefusedToStart { why } => write!(f, "refused to start: {why}"),
            Fact::StartedAnyway { was } => write!(f, "the server started although {was} was at its path"),
            Fact::PutAtPath { thing, path } => write!(f, "{thing} at {path}"),
            Fact::PathAsItWas { thing } => write!(f, "{thing}, as it was"),
            Fact::PathChanged { path, was, now } => write!(f, "{path} held {was}; now it holds {now}"),
            Fact::PathCleared { was } => write!(f, "removed {was}"),
            Fact::TargetEnded { end } => write!(f, "{end}"),
            _ => return None,
        })
    }

    /// A client under check: starting, typing, printing. `None` for the other facts.
    fn fmt_client_io(&self, f: &mut Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Fact::ClientStarted { serving, command, pty } => {
                let how =
                    if *pty { "on a terminal (stdin and stdout on a pty)" } else { "with stdin and stdout on pipes" };
                write!(f, "{serving}; ran `{command}` {how}")
            }
            Fact::Prompt { on, prompt, waited, wait } => {
                let why = match wait {
                    PromptWait::WentQuiet => format!("waited {waited} for it to go quiet"),
                    PromptWait::NeverQuiet => format!("it did not go quiet within {waited}"),
                    PromptWait::ClientEnded => "the client ended".to_string(),
                };
                match (on, prompt) {
                    (Some(Stream::Stdout), Some(p)) => {
                        write!(f, "prompt {p} detected on stdout, ignored at the start of printed lines ({why})")
                    }
                    (Some(s), Some(p)) => write!(
                        f,
                        "prompt {p} detected on {}, so stdout holds only the replies ({why})",
                        stream_name(*s)
                    ),
                    _ => write!(f, "no prompt: nothing printed without a newline ({why})"),
                }
            }
            Fact::Typed { bytes } => write!(f, "{bytes} bytes"),
            Fact::InputEnded { pty: true } => f.write_str("Ctrl-D typed"),
            Fact::InputEnded { pty: false } => f.write_str("stdin closed"),
            Fact::PrintedAsExpected { lines, bytes } => write!(f, "{lines} lines ({bytes} bytes) as expected"),
            Fact::WrongLine { line, diff, got, expected, .. } => {
                write!(f, "printed line {line} is wrong ({} bytes, expected {}): {diff}", got.len, expected.len)
            }
            Fact::ExtraLine { printed, expected, line } => {
                write!(f, "printed {printed} lines, expected {expected}; line {} is {line}", expected + 1)
            }
            Fact::TooFewLines { printed, expected, partial, next, ended, within, served, .. } => (|| -> fmt::Result {
                if *ended {
                    write!(f, "the client ended after printing {printed} of {expected} lines")?;
                } else if *printed == 0 && *partial == 0 && served.replied > 0 {
                    return write!(
                        f,
                        "printed nothing within {within}, though the server replied {} bytes; next expected: {next}",
                        served.replied
                    );
                } else {
                    write!(f, "printed {printed} of {expected} lines within {within}")?;
                }
                if *partial > 0 {
                    write!(f, " and {partial} bytes of an unfinished line")?;
                }
                write!(f, "; next expected: {next} ({served})")
            })(),
            _ => return None,
        })
    }

    /// What the played server received from a client. `None` for the other facts.
    fn fmt_client_sent(&self, f: &mut Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Fact::ServerGotAll { bytes } => write!(f, "the server received exactly {bytes} bytes"),
            Fact::ServerGotOther { diff } => write!(f, "the server received something else: {diff}"),
            Fact::ServerGotTooFew { got, expected, within } => {
                write!(f, "the server received {got} of {expected} bytes within {within}")
            }
            Fact::DatagramsAsExpected { count } => {
                write!(f, "the server received exactly {count} datagrams, one per line")
            }
            Fact::WrongDatagramSent { index, diff, got, expected } => write!(
                f,
                "datagram {index} the server received is wrong ({} bytes, expected {}): {diff}",
                got.len, expected.len
            ),
            Fact::TooManyDatagrams { got, expected, extra, .. } => write!(
                f,
                "the server received {got} datagrams, expected {expected}; datagram {} is {extra}",
                expected + 1
            ),
            Fact::TooFewDatagrams { got, expected, within } => {
                write!(f, "the server received {got} of {expected} datagrams within {within}")
            }
            _ => return None,
        })
    }

    /// How a client ended, and the played server's log. `None` for the other facts.
    fn fmt_client_end(&self, f: &mut Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Fact::ClientExited { status, after, cpu, busy, wanted_success, stderr } => (|| -> fmt::Result {
                write!(f, "{status} after {after}, {cpu} of CPU meanwhile")?;
                if *busy {
                    f.write_str(" (a busy loop)")?;
                }
                if status.success() != *wanted_success {
                    write!(f, "; expected {}", if *wanted_success { "exit code 0" } else { "a non-zero exit code" })?;
                }
                if !stderr.is_empty() {
                    write!(f, "; stderr: {stderr}")?;
                }
                Ok(())
            })(),
            Fact::ClientDidNotExit { within, cpu, busy, refused } => (|| -> fmt::Result {
                let how = if *busy { "a busy loop" } else { "blocked, e.g. waiting for input" };
                write!(f, "the client did not exit within {within}; it used {cpu} of CPU meanwhile ({how})")?;
                if *refused {
                    f.write_str("; nothing listens at its address (a connect is refused at once)")?;
                }
                Ok(())
            })(),
            Fact::ClientIdle { cpu, waited, busy: false } => write!(f, "{cpu} of CPU in {waited}"),
            Fact::ClientIdle { cpu, waited, busy: true } => {
                write!(f, "used {cpu} of CPU in {waited} while it had nothing to do")
            }
            Fact::ClientEndedEarly { status, after } => write!(f, "the client ended after {after}: {status}"),
            Fact::NoTraceback { stderr } => write!(f, "{stderr} bytes on stderr, no traceback"),
            Fact::Traceback { lines } => write!(f, "stderr has a traceback: {}", lines.join(" | ")),
            Fact::Said { on, text } => write!(f, "on {}: {text}", stream_name(*on)),
            Fact::SaidNothing => {
                f.write_str("the client said nothing on stderr or stdout: a person is not told why it stopped")
            }
            Fact::ReplyPrinted { after, datagrams } => write!(
                f,
                "the reply was printed after {after}; the server got {datagrams} datagram(s): the line was sent again"
            ),
            Fact::GaveUp { status, after, said } => write!(f, "gave up: {status} after {after}; stderr: {said}"),
            Fact::GaveUpSilently { status, after } => {
                write!(
                    f,
                    "{status} after {after} without a word on stderr: a person is not told that the reply was lost"
                )
            }
            Fact::ExitedWithoutReply { status, after } => write!(
                f,
                "{status} after {after} without printing the reply: expected the reply (sent again) or a non-zero \
                 exit that says it gave up"
            ),
            Fact::WaitedForever { within, served } => {
                write!(f, "no reply printed and no exit within {within}; {served}, the first reply lost on purpose")
            }
            Fact::ServerLog { served, nothing_listening, notes } => (|| -> fmt::Result {
                if *nothing_listening {
                    f.write_str("nothing listened: connects were refused")?;
                } else {
                    write!(f, "{served}")?;
                }
                for n in notes {
                    write!(f, "; {n}")?;
                }
                Ok(())
            })(),
            _ => return None,
        })
    }
}

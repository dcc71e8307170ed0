//! What the client prints: its prompt (detected or given), its lines compared with the expected
//! replies, and what the played server received.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::{Run, PROMPT_MAX, PROMPT_QUIET, PROMPT_QUIET_READING, PROMPT_WAIT};
use crate::engine::StepResult;
use crate::process::describe_status;
use crate::report::{excerpt, format_duration, mismatch};
use crate::target::placeholders;

impl Run<'_> {
    /// Wait until the client has gone quiet and asleep (waiting for its first line), at most
    /// [`PROMPT_WAIT`], and take what it printed without a newline as its prompt. A prompt on
    /// stderr (Python's `input()` on a terminal puts it there) is reported, but stdout holds only
    /// replies then.
    pub(super) fn detect_prompt(&mut self) -> String {
        self.prompt_known = true;
        let started = Instant::now();
        let until = started + PROMPT_WAIT.min(self.opts.step_timeout);
        let marks = |run: &Self| (run.proc.stdout.mark(), run.proc.stderr.mark());
        let (mut last, mut quiet_since, mut asleep_before) = (marks(self), started, false);
        let why = loop {
            let now = Instant::now();
            if marks(self) != last {
                (last, quiet_since) = (marks(self), now);
            }
            if let Some(status) = self.proc.status() {
                self.settle_stderr();
                break format!("the client ended: {}", describe_status(status));
            }
            if now >= until {
                break format!("it did not go quiet within {}", format_duration(until - started));
            }
            // Waiting for input twice in a row after the quiet time: blocked on its first line,
            // not merely slow to start. Blocked in `read(0, ..)` (not a poll, which may wait for
            // a connection) with every byte it wrote in hand, checked on both sides: nothing more
            // can come before its line, so a short quiet time is enough.
            let quiet = now - quiet_since;
            let reading = quiet >= PROMPT_QUIET_READING
                && self.proc.reading_stdin()
                && self.proc.output_drained()
                && self.proc.reading_stdin()
                && marks(self) == last;
            let asleep = reading || (quiet >= PROMPT_QUIET && self.began(last) && self.proc.waiting_for_input());
            if asleep && asleep_before {
                break format!("waited {} for it to go quiet", format_duration(now - started));
            }
            asleep_before = asleep;
            let out = self.proc.stdout.lock();
            drop(self.proc.stdout.wait(out, Duration::from_millis(10)));
        };
        let stdout = self.proc.stdout.bytes();
        let stderr = self.proc.stderr.bytes();
        let prompt = |bytes: &[u8]| {
            let p = unfinished(bytes);
            (!p.is_empty() && p.len() <= PROMPT_MAX).then(|| p.to_vec())
        };
        if let Some(p) = prompt(&stdout) {
            let note =
                format!("prompt {} detected on stdout, ignored at the start of printed lines ({why})", excerpt(&p));
            self.prompt = Some(p);
            note
        } else if let Some(p) = prompt(&stderr) {
            format!("prompt {} detected on stderr, so stdout holds only the replies ({why})", excerpt(&p))
        } else {
            format!("no prompt: nothing printed without a newline ({why})")
        }
    }

    /// Whether a client asleep in a poll (not a read of its stdin) can be waiting for its first
    /// line: it printed something, or connected to the played server (as clients do before their
    /// first prompt). A stream client that has done neither is more likely still connecting: on
    /// a loaded machine the handshake alone can take longer than the quiet time, and a prompt
    /// printed after the verdict "no prompt" would then start every printed line.
    fn began(&self, (stdout, stderr): (u64, u64)) -> bool {
        self.transport.is_datagram() || stdout + stderr > 0 || self.log.lock().map_or(true, |l| l.connections > 0)
    }

    /// `line` without the prompt at its start, as many times as it is there.
    pub(super) fn strip_prompt<'b>(&self, mut line: &'b [u8]) -> &'b [u8] {
        if let Some(prompt) = self.prompt.as_deref().filter(|p| !p.is_empty()) {
            while let Some(rest) = line.strip_prefix(prompt) {
                line = rest;
            }
        }
        line
    }

    /// The complete lines printed so far, prompts removed.
    pub(super) fn printed_lines(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        lines.pop(); // the unfinished last line (or the empty piece after the last newline)
        lines.into_iter().map(|l| self.strip_prompt(l).to_vec()).collect()
    }

    pub(super) fn expect_printed(&mut self, expected: &[Vec<u8>], timeout: Duration) -> StepResult {
        let started = Instant::now();
        let until = started + timeout;
        let stdout = self.proc.stdout.clone();
        let mut p = stdout.lock();
        let mut exited_at = None;
        loop {
            let lines = self.printed_lines(&p.bytes);
            // A wrong line fails at once; too few lines wait.
            for (i, (want, got)) in expected.iter().zip(&lines).enumerate() {
                if want != got {
                    let mut msg = format!(
                        "printed line {} is wrong ({} bytes, expected {}): {}",
                        i + 1,
                        got.len(),
                        want.len(),
                        mismatch(want, got, 0).replace("of the stream", "of the line")
                    );
                    if let Some(cause) = self.datagram_cause(expected, i, got) {
                        let _ = write!(msg, "; {cause}");
                    } else if got.is_empty() && !self.transport.is_datagram() {
                        msg.push_str(
                            "; an empty line where a reply belongs: a client that sends an empty (or blank, once \
                             stripped) line sends nothing, so it reads an empty reply or waits for ever: skip empty \
                             lines (`if not msg: continue`)",
                        );
                    }
                    if let Some(prefix) = common_prefix_hint(&lines, want, got) {
                        let _ = write!(
                            msg,
                            "; every printed line starts with {}: if the client prints that as a prompt, pass --prompt {}",
                            excerpt(prefix),
                            placeholders::shell_quote(&String::from_utf8_lossy(prefix))
                        );
                    }
                    return Err(msg);
                }
            }
            if lines.len() > expected.len() {
                return Err(format!(
                    "printed {} lines, expected {}; line {} is {}",
                    lines.len(),
                    expected.len(),
                    expected.len() + 1,
                    excerpt(&lines[expected.len()])
                ));
            }
            if lines.len() == expected.len() {
                let total: usize = expected.iter().map(Vec::len).sum();
                return Ok(format!("{} lines ({total} bytes) as expected", expected.len()));
            }
            let now = Instant::now();
            // An exited client's last output may still be in the pipe: wait for the pipe to close
            // (or, if something else holds it open, a moment).
            if exited_at.is_none() && self.proc.status().is_some() {
                exited_at = Some(now);
            }
            let gone = p.closed || exited_at.is_some_and(|t| now - t > Duration::from_millis(500));
            if now >= until || gone {
                let partial = self.strip_prompt(unfinished(&p.bytes)).len();
                let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
                if !gone && lines.is_empty() && partial == 0 && log.replied() > 0 {
                    // Replies went out and nothing came of them: the output is sitting in a buffer.
                    return Err(format!(
                        "printed nothing yet (is its output buffered?) within {}, though the server replied {} bytes; \
                         next expected: {}",
                        format_duration(timeout),
                        log.replied(),
                        excerpt(&expected[0])
                    ));
                }
                let mut msg = if gone {
                    format!("the client ended after printing {} of {} lines", lines.len(), expected.len())
                } else {
                    format!("printed {} of {} lines within {}", lines.len(), expected.len(), format_duration(timeout))
                };
                if partial > 0 {
                    let _ = write!(msg, " and {partial} bytes of an unfinished line");
                }
                let _ = write!(msg, "; next expected: {}", excerpt(&expected[lines.len()]));
                let _ = write!(msg, " ({})", log.summary());
                return Err(msg);
            }
            p = stdout.wait(p, (until - now).min(Duration::from_millis(20)));
        }
    }

    pub(super) fn expect_sent(&mut self, expected: &[u8], timeout: Duration) -> StepResult {
        let until = Instant::now() + timeout;
        loop {
            let received = self.log.lock().unwrap_or_else(|e| e.into_inner()).received.clone();
            if received.len() > expected.len() || received[..] != expected[..received.len()] {
                return Err(format!("the server received something else: {}", mismatch(expected, &received, 0)));
            }
            if received.len() == expected.len() {
                return Ok(format!("the server received exactly {} bytes", expected.len()));
            }
            if Instant::now() >= until {
                return Err(format!(
                    "the server received {} of {} bytes within {}",
                    received.len(),
                    expected.len(),
                    format_duration(timeout)
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// What follows the last newline.
pub(super) fn unfinished(bytes: &[u8]) -> &[u8] {
    &bytes[bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)..]
}

/// The text every printed line starts with, when the wrong line `got` is that text followed by
/// the expected `want`, or when several lines share it: an undeclared prompt (or label).
pub(super) fn common_prefix_hint<'l>(lines: &'l [Vec<u8>], want: &[u8], got: &'l [u8]) -> Option<&'l [u8]> {
    let prefix = match got.strip_suffix(want) {
        Some(p) if !p.is_empty() => p,
        _ if lines.len() >= 2 => {
            let n = lines[1..]
                .iter()
                .fold(lines[0].len(), |n, l| n.min(lines[0].iter().zip(l).take_while(|(a, b)| a == b).count()));
            &lines[0][..n]
        }
        _ => return None,
    };
    let shared = !prefix.is_empty() && lines.iter().all(|l| l.starts_with(prefix));
    // A prompt makes the line wrong from its first byte.
    (shared && got.first() != want.first()).then_some(prefix)
}

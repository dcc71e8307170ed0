//! What the client prints: its prompt (detected or given), its lines compared with the expected
//! replies, and what the played server received.

use std::time::{Duration, Instant};

use super::{Run, PROMPT_MAX, PROMPT_QUIET, PROMPT_QUIET_READING, PROMPT_WAIT};
use crate::engine::StepResult;
use crate::facts::{Bytes, Difference, Fact, PromptWait, Stream, Unit};

impl Run<'_> {
    /// Wait until the client has gone quiet and asleep (waiting for its first line), at most
    /// [`PROMPT_WAIT`], and take what it printed without a newline as its prompt. A prompt on
    /// stderr (Python's `input()` on a terminal puts it there) is reported, but stdout holds only
    /// replies then.
    pub(super) fn detect_prompt(&mut self) -> Fact {
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
            if self.proc.status().is_some() {
                self.settle_stderr();
                break PromptWait::ClientEnded;
            }
            if now >= until {
                break PromptWait::NeverQuiet;
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
                break PromptWait::WentQuiet;
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
        let waited = started.elapsed().into();
        if let Some(p) = prompt(&stdout) {
            let shown = Bytes::of(&p);
            self.prompt = Some(p);
            Fact::Prompt { on: Some(Stream::Stdout), prompt: Some(shown), waited, wait: why }
        } else if let Some(p) = prompt(&stderr) {
            Fact::Prompt { on: Some(Stream::Stderr), prompt: Some(Bytes::of(&p)), waited, wait: why }
        } else {
            Fact::Prompt { on: None, prompt: None, waited, wait: why }
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
            if let Some((i, (want, got))) = expected.iter().zip(&lines).enumerate().find(|(_, (w, g))| w != g) {
                return Err(self.wrong_line(expected, &lines, i, want, got));
            }
            if lines.len() > expected.len() {
                return Err(Fact::ExtraLine {
                    printed: lines.len() as u64,
                    expected: expected.len() as u64,
                    line: Bytes::of(&lines[expected.len()]),
                });
            }
            if lines.len() == expected.len() {
                let total: usize = expected.iter().map(Vec::len).sum();
                return Ok(Fact::PrintedAsExpected { lines: expected.len() as u64, bytes: total as u64 });
            }
            let now = Instant::now();
            // An exited client's last output may still be in the pipe: wait for the pipe to close
            // (or, if something else holds it open, a moment).
            if exited_at.is_none() && self.proc.status().is_some() {
                exited_at = Some(now);
            }
            let gone = p.closed || exited_at.is_some_and(|t| now - t > Duration::from_millis(500));
            if now >= until || gone {
                let unfinished = self.strip_prompt(unfinished(&p.bytes));
                let next = &expected[lines.len()];
                let stranger = self.is_strangers(unfinished, next);
                let partial = unfinished.len() as u64;
                let served = self.log.lock().unwrap_or_else(|e| e.into_inner()).served();
                return Err(Fact::TooFewLines {
                    printed: lines.len() as u64,
                    expected: expected.len() as u64,
                    partial,
                    next: Bytes::of(next),
                    ended: gone,
                    within: timeout.into(),
                    stranger,
                    served,
                });
            }
            p = stdout.wait(p, (until - now).min(Duration::from_millis(20)));
        }
    }

    /// The facts about wrong printed line `i`.
    fn wrong_line(&self, expected: &[Vec<u8>], lines: &[Vec<u8>], i: usize, want: &[u8], got: &[u8]) -> Fact {
        let datagram = self.transport.is_datagram();
        let (stranger, repeats, empty_datagrams) =
            if datagram { self.datagram_facts(expected, i, got) } else { (false, None, false) };
        Fact::WrongLine {
            line: i as u64 + 1,
            diff: Difference::between(Unit::Line, want, got, 0),
            got: Bytes::of(got),
            expected: Bytes::of(want),
            repeats,
            stranger,
            empty_datagrams,
            prefix: common_prefix_hint(lines, want, got).map(Bytes::of),
            datagram,
        }
    }

    pub(super) fn expect_sent(&mut self, expected: &[u8], timeout: Duration) -> StepResult {
        let until = Instant::now() + timeout;
        loop {
            let received = self.log.lock().unwrap_or_else(|e| e.into_inner()).received.clone();
            if received.len() > expected.len() || received[..] != expected[..received.len()] {
                return Err(Fact::ServerGotOther { diff: Difference::between(Unit::Stream, expected, &received, 0) });
            }
            if received.len() == expected.len() {
                return Ok(Fact::ServerGotAll { bytes: expected.len() as u64 });
            }
            if Instant::now() >= until {
                let (got, expected) = (received.len() as u64, expected.len() as u64);
                return Err(Fact::ServerGotTooFew { got, expected, within: timeout.into() });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// What follows the last newline.
pub(super) fn unfinished(bytes: &[u8]) -> &[u8] {
    &bytes[bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)..]
}

/// The text every printed line starts with, when at least two lines were printed and each has
/// more after it: an undeclared prompt (or label). A prefix seen on one line only could be
/// anything (`Received 13 bytes: ` changes with the line), so it is no hint.
pub(super) fn common_prefix_hint<'l>(lines: &'l [Vec<u8>], want: &[u8], got: &'l [u8]) -> Option<&'l [u8]> {
    if lines.len() < 2 {
        return None;
    }
    let n = lines[1..]
        .iter()
        .fold(lines[0].len(), |n, l| n.min(lines[0].iter().zip(l).take_while(|(a, b)| a == b).count()));
    let prefix = &lines[0][..n];
    let shared = !prefix.is_empty() && lines.iter().all(|l| l.len() > prefix.len());
    // A prompt makes the line wrong from its first byte.
    (shared && got.first() != want.first()).then_some(prefix)
}

//! A scripted peer: what it sends, and how the "kernel" answers each read and write call.
//!
//! Each read and each write of the connection consumes the next [`Step`] of its list (move at most
//! N bytes, move everything, fail with `Interrupted` / `WouldBlock`, or reset). When the steps run
//! out every call moves as much as it can, so a script always terminates. Steps are stored one byte
//! each ([`Step::code`]) so that a fuzz target can borrow them straight from its input.

use std::io::{self, Read, Write};

use sockcheck_proto::Transform;

/// What the scripted stream does on one read or write call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Move at most this many bytes (1..=[`Step::MAX_TAKE`]).
    Take(u8),
    /// Move as many bytes as the call allows.
    All,
    /// Fail with `Interrupted` (EINTR): the loop must retry.
    Interrupted,
    /// Fail with `WouldBlock` (EAGAIN); in async, return `Pending` after waking the task.
    WouldBlock,
    /// The peer resets: this call and every later one fail with `ConnectionReset`.
    Reset,
}

impl Step {
    pub const MAX_TAKE: u8 = 252;

    /// Decode one step from a byte; every byte is a valid step.
    #[inline]
    pub fn from_code(code: u8) -> Step {
        match code {
            0 => Step::Interrupted,
            1 => Step::WouldBlock,
            2 => Step::Reset,
            3 => Step::All,
            n => Step::Take(n - 3),
        }
    }

    /// The byte that [`Step::from_code`] decodes back to this step.
    pub fn code(self) -> u8 {
        match self {
            Step::Interrupted => 0,
            Step::WouldBlock => 1,
            Step::Reset => 2,
            Step::All => 3,
            Step::Take(n) => {
                assert!((1..=Self::MAX_TAKE).contains(&n), "Take({n}) out of range");
                n + 3
            }
        }
    }

    /// Encode a list of steps.
    pub fn encode(steps: &[Step]) -> Vec<u8> {
        steps.iter().map(|s| s.code()).collect()
    }
}

/// One connection's worth of peer behaviour. Step lists are [`Step::code`] bytes.
#[derive(Clone, Copy, Debug)]
pub struct Script<'a> {
    /// Everything the peer sends before it half-closes (read returns 0 after it).
    pub input: &'a [u8],
    pub bufsize: usize,
    pub transform: Transform,
    /// One step per read call.
    pub reads: &'a [u8],
    /// One step per write call.
    pub writes: &'a [u8],
}

impl Script<'_> {
    /// The script as Rust code, for pasting a fuzzer's find into a regression test.
    pub fn to_rust(&self) -> String {
        let steps = |codes: &[u8]| {
            if codes.is_empty() {
                return "&[]".to_string();
            }
            let decoded: Vec<String> = codes.iter().map(|&c| format!("{:?}", Step::from_code(c))).collect();
            format!(
                "&[{}] /* {} */",
                codes.iter().map(u8::to_string).collect::<Vec<_>>().join(", "),
                decoded.join(", ")
            )
        };
        format!(
            "Script {{ input: b\"{}\", bufsize: {}, transform: Transform::{:?}, reads: {}, writes: {} }}",
            self.input.escape_ascii(),
            self.bufsize,
            self.transform,
            steps(self.reads),
            steps(self.writes),
        )
    }
}

/// An in-memory `Read + Write` peer (tokio's `AsyncRead + AsyncWrite` too, with the `tokio`
/// feature) that follows a [`Script`] and checks every byte written against the transform of the
/// input, without storing the output.
#[derive(Debug)]
pub struct ScriptedStream<'a> {
    pub(crate) input: &'a [u8],
    transform: Transform,
    reads: &'a [u8],
    writes: &'a [u8],
    /// Input bytes handed to the connection so far.
    pub(crate) delivered: usize,
    /// Output bytes accepted so far.
    pub(crate) written: usize,
    pub(crate) reset: bool,
    pub(crate) eof_returned: bool,
    pub(crate) largest_write: usize,
    violation: Option<String>,
}

impl<'a> ScriptedStream<'a> {
    pub fn new(script: &Script<'a>) -> Self {
        ScriptedStream {
            input: script.input,
            transform: script.transform,
            reads: script.reads,
            writes: script.writes,
            delivered: 0,
            written: 0,
            reset: false,
            eof_returned: false,
            largest_write: 0,
            violation: None,
        }
    }

    pub fn delivered(&self) -> usize {
        self.delivered
    }

    pub fn written(&self) -> usize {
        self.written
    }

    /// The largest single write the connection asked for.
    pub fn largest_write(&self) -> usize {
        self.largest_write
    }

    /// The first broken rule seen, if any.
    pub fn violation(&self) -> Option<&str> {
        self.violation.as_deref()
    }

    #[inline]
    fn next_step(steps: &mut &[u8]) -> Step {
        match steps.split_first() {
            Some((&code, rest)) => {
                *steps = rest;
                Step::from_code(code)
            }
            None => Step::All,
        }
    }

    #[inline]
    fn step_error(&mut self, step: Step) -> Option<io::Error> {
        if self.reset {
            return Some(io::ErrorKind::ConnectionReset.into());
        }
        match step {
            Step::Interrupted => Some(io::ErrorKind::Interrupted.into()),
            Step::WouldBlock => Some(io::ErrorKind::WouldBlock.into()),
            Step::Reset => {
                self.reset = true;
                Some(io::ErrorKind::ConnectionReset.into())
            }
            Step::All | Step::Take(_) => None,
        }
    }

    #[inline]
    fn limit(step: Step, len: usize) -> usize {
        match step {
            Step::Take(n) => len.min(n as usize),
            _ => len,
        }
    }

    #[inline]
    pub(crate) fn do_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let step = Self::next_step(&mut self.reads);
        if let Some(e) = self.step_error(step) {
            return Err(e);
        }
        if self.eof_returned {
            fail_once(&mut self.violation, || "read again after the peer's EOF (a read of 0 must end the loop)".into());
        }
        let rest = &self.input[self.delivered..];
        let n = Self::limit(step, buf.len()).min(rest.len());
        if n == 0 && !buf.is_empty() {
            self.eof_returned = true;
        }
        buf[..n].copy_from_slice(&rest[..n]);
        self.delivered += n;
        Ok(n)
    }

    #[inline]
    pub(crate) fn do_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.largest_write = self.largest_write.max(buf.len());
        let step = Self::next_step(&mut self.writes);
        if let Some(e) = self.step_error(step) {
            return Err(e);
        }
        let n = Self::limit(step, buf.len());
        let at = self.written;
        let received = n.min(self.delivered.saturating_sub(at));
        let (got, sent) = (&buf[..received], &self.input[at.min(self.delivered)..][..received]);
        if differs(self.transform, got, sent) {
            let i = first_difference(self.transform, got, sent);
            let (at, got, want, sent) = (at + i, got[i] as char, self.transform.byte(sent[i]) as char, sent[i] as char);
            fail_once(&mut self.violation, || {
                format!("output byte {at} is {got:?}, want {want:?} (transform of input byte {sent:?})")
            });
        } else if received < n {
            let (at, delivered) = (at + received, self.delivered);
            fail_once(&mut self.violation, || format!("wrote byte {at} before it was received ({delivered} received)"));
        }
        self.written += n;
        Ok(n)
    }
}

/// Whether `got` is not the transform of `sent`, checked over whole slices (a `memcmp`, or an OR of
/// XORs that LLVM vectorises) rather than with a comparison per byte, each of which the fuzz build
/// traces. The transform is [`Transform::byte`], not the loop's own vectorised code.
#[inline]
fn differs(t: Transform, got: &[u8], sent: &[u8]) -> bool {
    match t {
        Transform::Echo => got != sent,
        Transform::Upper => {
            let n = got.len().min(sent.len());
            let (got, sent) = (&got[..n], &sent[..n]);
            let mut acc = 0;
            for i in 0..n {
                acc |= got[i] ^ Transform::Upper.byte(sent[i]);
            }
            acc != 0
        }
    }
}

#[cold]
fn first_difference(t: Transform, got: &[u8], sent: &[u8]) -> usize {
    got.iter().zip(sent).position(|(&g, &s)| g != t.byte(s)).unwrap_or(got.len())
}

fn fail_once(slot: &mut Option<String>, msg: impl FnOnce() -> String) {
    if slot.is_none() {
        *slot = Some(msg());
    }
}

impl Read for ScriptedStream<'_> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.do_read(buf)
    }
}

impl Write for ScriptedStream<'_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.do_write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(Step::from_code(code).code(), code);
        }
    }

    #[test]
    fn scripted_stream_flags_a_wrong_byte() {
        let script = Script { input: b"ab", bufsize: 4, transform: Transform::Upper, reads: &[], writes: &[] };
        let mut s = ScriptedStream::new(&script);
        let mut buf = [0u8; 4];
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        s.write_all(b"Ab").unwrap();
        assert_eq!(s.violation(), Some("output byte 1 is 'b', want 'B' (transform of input byte 'b')"));
    }

    #[test]
    fn scripted_stream_flags_a_byte_written_before_it_was_received() {
        let script = Script { input: b"abc", bufsize: 4, transform: Transform::Echo, reads: &[5], writes: &[] };
        let mut s = ScriptedStream::new(&script);
        let mut buf = [0u8; 4];
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        s.write_all(b"abc").unwrap();
        assert_eq!(s.violation(), Some("wrote byte 2 before it was received (2 received)"));
        // A wrong byte before that point is what gets reported.
        let mut s = ScriptedStream::new(&script);
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        s.write_all(b"aXc").unwrap();
        assert_eq!(s.violation(), Some("output byte 1 is 'X', want 'b' (transform of input byte 'b')"));
    }

    #[test]
    fn a_script_prints_as_rust() {
        let reads = Step::encode(&[Step::Take(2), Step::WouldBlock]);
        let script = Script { input: b"a\xff\"", bufsize: 7, transform: Transform::Upper, reads: &reads, writes: &[] };
        assert_eq!(
            script.to_rust(),
            r#"Script { input: b"a\xff\"", bufsize: 7, transform: Transform::Upper, reads: &[5, 1] /* Take(2), WouldBlock */, writes: &[] }"#
        );
    }

    #[test]
    fn reset_is_sticky() {
        let reads = Step::encode(&[Step::Reset]);
        let script = Script { input: b"ab", bufsize: 4, transform: Transform::Upper, reads: &reads, writes: &[] };
        let mut s = ScriptedStream::new(&script);
        let mut buf = [0u8; 4];
        for _ in 0..3 {
            assert_eq!(s.read(&mut buf).unwrap_err().kind(), io::ErrorKind::ConnectionReset);
        }
        assert_eq!(crate::check_echo(&script), Ok(crate::Outcome::Reset { delivered: 0, written: 0 }));
    }
}

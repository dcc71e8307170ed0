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
///
/// Everything it holds is `Copy` (the first broken rule is a [`Violation`], worded only when asked
/// for), so a driver that inlines it keeps its state in registers: under the fuzz build every
/// memory access is an AddressSanitizer check and every comparison a traced call.
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
    violation: Option<Violation>,
}

/// The first rule a connection broke, as data: [`Violation::describe`] words it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A read after the read that returned the peer's EOF.
    ReadAfterEof,
    /// Output byte `at` is `got`, not the transform of input byte `at`.
    WrongByte { at: usize, got: u8 },
    /// Output byte `at` was written when only `delivered` bytes had been received.
    EarlyWrite { at: usize, delivered: usize },
}

impl Violation {
    /// The rule broken, in words, with the bytes concerned (`input` is the script's input).
    #[cold]
    #[inline(never)]
    pub fn describe(self, transform: Transform, input: &[u8]) -> String {
        match self {
            Violation::ReadAfterEof => "read again after the peer's EOF (a read of 0 must end the loop)".into(),
            Violation::WrongByte { at, got } => {
                let sent = input[at];
                let (got, want, sent) = (got as char, transform.byte(sent) as char, sent as char);
                format!("output byte {at} is {got:?}, want {want:?} (transform of input byte {sent:?})")
            }
            Violation::EarlyWrite { at, delivered } => {
                format!("wrote byte {at} before it was received ({delivered} received)")
            }
        }
    }
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

    /// The first broken rule seen, if any, in words.
    pub fn violation(&self) -> Option<String> {
        self.violation.map(|v| v.describe(self.transform, self.input))
    }

    /// The first broken rule seen, if any.
    #[inline(always)]
    pub fn violated(&self) -> Option<Violation> {
        self.violation
    }

    /// Keep the first violation only.
    #[inline(always)]
    fn violate(&mut self, v: Violation) {
        if self.violation.is_none() {
            self.violation = Some(v);
        }
    }

    #[inline(always)]
    fn next_step(steps: &mut &[u8]) -> Step {
        match steps.split_first() {
            Some((&code, rest)) => {
                *steps = rest;
                Step::from_code(code)
            }
            None => Step::All,
        }
    }

    #[inline(always)]
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

    #[inline(always)]
    fn limit(step: Step, len: usize) -> usize {
        match step {
            Step::Take(n) => len.min(n as usize),
            _ => len,
        }
    }

    #[inline(always)]
    pub(crate) fn do_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let step = Self::next_step(&mut self.reads);
        if let Some(e) = self.step_error(step) {
            return Err(e);
        }
        if self.eof_returned {
            self.violate(Violation::ReadAfterEof);
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

    #[inline(always)]
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
            self.violate(Violation::WrongByte { at: at + i, got: got[i] });
        } else if received < n {
            self.violate(Violation::EarlyWrite { at: at + received, delivered: self.delivered });
        }
        self.written += n;
        Ok(n)
    }
}

/// Whether `got` is not the transform of `sent`, checked eight bytes at a time: a `memcmp` for
/// echo, an OR of XORs of `u64` words against [`upper_word`] for upper (a ragged end as the last
/// eight bytes once more, or one zero-padded word when shorter). Nothing byte by byte: in the fuzz build each scalar comparison and each
/// memory access is a traced call, and each branch a coverage counter.
#[inline(always)]
fn differs(t: Transform, got: &[u8], sent: &[u8]) -> bool {
    match t {
        Transform::Echo => got != sent,
        Transform::Upper => {
            let n = got.len().min(sent.len());
            let (got, sent) = (&got[..n], &sent[..n]);
            let word = |w: &[u8; 8]| u64::from_le_bytes(*w);
            let body = got
                .as_chunks::<8>()
                .0
                .iter()
                .zip(sent.as_chunks::<8>().0)
                .fold(0, |acc, (g, s)| acc | (word(g) ^ upper_word(word(s))));
            // A ragged end: the last eight bytes once more, or one zero-padded word if shorter.
            let tail = match (got.last_chunk::<8>(), sent.last_chunk::<8>()) {
                _ if n.is_multiple_of(8) => 0,
                (Some(g), Some(s)) => word(g) ^ upper_word(word(s)),
                _ => padded_word(got) ^ upper_word(padded_word(sent)),
            };
            (body | tail) != 0
        }
    }
}

/// Up to eight bytes as a little-endian word, zero-padded (`upper_word(0) == 0`).
#[inline(always)]
fn padded_word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(w)
}

/// The oracle's own ASCII uppercase of eight bytes, written apart from the loop's
/// (`sockcheck_proto::upper_in_place`) so that one mistake cannot hide in both: subtractions from
/// bytes with the high bit forced on (no borrow crosses a byte), and bit 5 cleared as
/// `u8::to_ascii_uppercase` does. A unit test holds it to `to_ascii_uppercase` for every byte in
/// every lane.
#[inline(always)]
pub fn upper_word(w: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = 0x80 * ONES;
    let x = w | HIGH;
    // The high bit survives the subtraction where the low seven bits are >= the subtrahend.
    let at_least_a = x - b'a' as u64 * ONES;
    let beyond_z = x - (b'z' as u64 + 1) * ONES;
    let lower = at_least_a & !beyond_z & !w & HIGH;
    w & !(lower >> 2)
}

#[cold]
fn first_difference(t: Transform, got: &[u8], sent: &[u8]) -> usize {
    got.iter().zip(sent).position(|(&g, &s)| g != t.byte(s)).unwrap_or(got.len())
}

impl Read for ScriptedStream<'_> {
    #[inline(always)]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.do_read(buf)
    }
}

impl Write for ScriptedStream<'_> {
    #[inline(always)]
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

    /// Both SWAR uppercases, the loop's (`sockcheck_proto::transform::upper_word`) and the oracle's,
    /// against the standard library, for every byte in every lane; the other lanes hold the bytes
    /// around it, so a carry or borrow between lanes shows.
    #[test]
    fn upper_word_is_the_standard_uppercase_of_every_byte_in_every_lane() {
        type Upper = fn(u64) -> u64;
        let words: [(&str, Upper); 2] = [("loop", sockcheck_proto::transform::upper_word), ("oracle", upper_word)];
        for (name, upper) in words {
            for lane in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = [b.wrapping_sub(1), b.wrapping_add(1), b'z', b'a', 0x7f, 0x80, 0xff, b'{'];
                    bytes[lane] = b;
                    let want = bytes.map(|b| b.to_ascii_uppercase());
                    assert_eq!(upper(u64::from_le_bytes(bytes)).to_le_bytes(), want, "{name}: {b:#x} in lane {lane}");
                }
            }
        }
    }

    #[test]
    fn differs_finds_one_wrong_byte_at_any_offset_of_any_length() {
        let sent: Vec<u8> = (0..70u8).map(|i| b"aZ{`@z0\xff"[i as usize % 8]).collect();
        for len in 0..sent.len() {
            let good = Transform::Upper.to_vec(&sent[..len]);
            assert!(!differs(Transform::Upper, &good, &sent[..len]), "len {len}");
            for at in 0..len {
                let mut bad = good.clone();
                bad[at] ^= 0x20;
                assert!(differs(Transform::Upper, &bad, &sent[..len]), "len {len}, byte {at}");
                assert_eq!(first_difference(Transform::Upper, &bad, &sent[..len]), at);
            }
        }
    }

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
        assert_eq!(s.violation().as_deref(), Some("output byte 1 is 'b', want 'B' (transform of input byte 'b')"));
    }

    #[test]
    fn scripted_stream_flags_a_byte_written_before_it_was_received() {
        let script = Script { input: b"abc", bufsize: 4, transform: Transform::Echo, reads: &[5], writes: &[] };
        let mut s = ScriptedStream::new(&script);
        let mut buf = [0u8; 4];
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        s.write_all(b"abc").unwrap();
        assert_eq!(s.violation().as_deref(), Some("wrote byte 2 before it was received (2 received)"));
        // A wrong byte before that point is what gets reported.
        let mut s = ScriptedStream::new(&script);
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        s.write_all(b"aXc").unwrap();
        assert_eq!(s.violation().as_deref(), Some("output byte 1 is 'X', want 'b' (transform of input byte 'b')"));
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

//! The client's side of the protocol: a reply is as long as the message it answers.

/// Collects one reply of a known length from however many reads it takes.
///
/// The client sends N bytes and the reply is exactly N bytes; a reply is never cut at the first
/// read (the tutorial's `recv(1024)`) nor mixed with the next one.
#[derive(Debug, Default)]
pub struct ReplyAssembler {
    want: usize,
    got: Vec<u8>,
}

impl ReplyAssembler {
    /// Wait for a reply of `len` bytes.
    pub fn expect(len: usize) -> Self {
        ReplyAssembler { want: len, got: Vec::with_capacity(len.min(1 << 20)) }
    }

    /// How many more bytes the reply needs; read at most this many so that nothing of a later
    /// reply is taken.
    pub fn remaining(&self) -> usize {
        self.want - self.got.len()
    }

    /// Add bytes that were read. More bytes than [`Self::remaining`] is a caller bug.
    pub fn push(&mut self, bytes: &[u8]) {
        assert!(bytes.len() <= self.remaining(), "more bytes than the reply holds");
        self.got.extend_from_slice(bytes);
    }

    /// True once as many bytes came as were sent.
    pub fn is_complete(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes so far (the whole reply once complete).
    pub fn bytes(&self) -> &[u8] {
        &self.got
    }

    /// The bytes so far, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.got
    }
}

/// Python's `str.strip()` on the bytes of one input line: the client sends nothing for an empty line.
pub fn strip_line(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_assembler_takes_exactly_the_reply() {
        let mut r = ReplyAssembler::expect(5);
        r.push(b"HE");
        assert_eq!(r.remaining(), 3);
        r.push(b"LLO");
        assert!(r.is_complete());
        assert_eq!(r.bytes(), b"HELLO");
    }

    #[test]
    fn strip_line_is_python_strip() {
        assert_eq!(strip_line(b"  hi there \r\n"), b"hi there");
        assert_eq!(strip_line(b" \t\r\n"), b"");
    }

    #[test]
    fn a_reply_is_complete_only_when_every_byte_is_in_and_hands_them_over() {
        let mut r = ReplyAssembler::expect(3);
        assert!(!r.is_complete());
        r.push(b"AB");
        assert!(!r.is_complete());
        r.push(b"C");
        assert_eq!(r.into_bytes(), b"ABC");
        assert!(ReplyAssembler::expect(0).is_complete());
    }
}

//! What clients send: [`Payload`] and its builders.

use std::fmt;
use std::sync::Arc;

/// Bytes a client sends.
#[derive(Clone, PartialEq, Eq)]
pub enum Payload {
    /// These bytes.
    Bytes(Arc<[u8]>),
    /// `len` bytes of English text with digits and punctuation, repeating.
    Pattern(usize),
    /// `len` pseudo-random bytes (every value 0-255) from `seed`: the same seed gives the same bytes.
    Random {
        /// How many bytes.
        len: usize,
        /// The generator's seed.
        seed: u64,
    },
    /// Every byte value 0-255 once, in order.
    AllBytes,
}

const PATTERN: &[u8] = b"the quick brown fox jumps over the lazy dog 0123456789, THE END. ";

impl Payload {
    /// How many bytes it is.
    pub fn len(&self) -> usize {
        match self {
            Payload::Bytes(b) => b.len(),
            Payload::Pattern(n) | Payload::Random { len: n, .. } => *n,
            Payload::AllBytes => 256,
        }
    }

    /// True when it is no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes themselves.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Payload::Bytes(b) => b.to_vec(),
            Payload::Pattern(n) => PATTERN.iter().copied().cycle().take(*n).collect(),
            Payload::Random { len, seed } => {
                // splitmix64: small, fast, and the same everywhere.
                let mut state = *seed;
                let mut out = Vec::with_capacity(*len);
                while out.len() < *len {
                    state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^= z >> 31;
                    let take = (*len - out.len()).min(8);
                    out.extend_from_slice(&z.to_le_bytes()[..take]);
                }
                out
            }
            Payload::AllBytes => (0..=255).collect(),
        }
    }

    /// The payload as DSL code.
    pub fn to_code(&self) -> String {
        match self {
            Payload::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => format!("{s:?}"),
                Err(_) => format!("&b\"{}\"[..]", b.escape_ascii()),
            },
            Payload::Pattern(n) => format!("pattern({})", size_code(*n)),
            Payload::Random { len, seed } => format!("random({}, {seed})", size_code(*len)),
            Payload::AllBytes => "all_bytes()".into(),
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_code())
    }
}

pub(crate) fn size_code(n: usize) -> String {
    if n >= 1024 && n.is_power_of_two() {
        format!("1 << {}", n.trailing_zeros())
    } else {
        n.to_string()
    }
}

/// `n` bytes of repeating text (lowercase, uppercase, digits, punctuation).
pub fn pattern(n: usize) -> Payload {
    Payload::Pattern(n)
}

/// `n` pseudo-random bytes from `seed`.
pub fn random(n: usize, seed: u64) -> Payload {
    Payload::Random { len: n, seed }
}

/// Every byte value 0-255.
pub fn all_bytes() -> Payload {
    Payload::AllBytes
}

impl From<&str> for Payload {
    fn from(s: &str) -> Self {
        Payload::Bytes(s.as_bytes().into())
    }
}
impl From<String> for Payload {
    fn from(s: String) -> Self {
        Payload::Bytes(s.into_bytes().into())
    }
}
impl From<&[u8]> for Payload {
    fn from(b: &[u8]) -> Self {
        Payload::Bytes(b.into())
    }
}
impl<const N: usize> From<&[u8; N]> for Payload {
    fn from(b: &[u8; N]) -> Self {
        Payload::Bytes(b.as_slice().into())
    }
}
impl From<Vec<u8>> for Payload {
    fn from(b: Vec<u8>) -> Self {
        Payload::Bytes(b.into())
    }
}

//! What the server does to each byte it receives.

/// What the server does to each byte it receives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Transform {
    /// ASCII `a-z` become `A-Z`; every other byte passes unchanged (Python's `bytes.upper()`).
    #[default]
    Upper,
    /// Every byte passes unchanged (`cat`, `ncat --exec /bin/cat`).
    Echo,
}

impl Transform {
    /// Transform `buf` in place. Length-preserving.
    #[inline]
    pub fn apply(self, buf: &mut [u8]) {
        match self {
            Transform::Upper => upper_in_place(buf),
            Transform::Echo => {}
        }
    }

    /// The transformed copy of `input`.
    pub fn to_vec(self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        self.apply(&mut out);
        out
    }

    /// The transform of one byte.
    #[inline]
    pub fn byte(self, b: u8) -> u8 {
        match self {
            Transform::Upper => b.to_ascii_uppercase(),
            Transform::Echo => b,
        }
    }

    /// `upper` or `echo`.
    pub fn name(self) -> &'static str {
        match self {
            Transform::Upper => "upper",
            Transform::Echo => "echo",
        }
    }
}

impl std::str::FromStr for Transform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "upper" => Ok(Transform::Upper),
            "echo" => Ok(Transform::Echo),
            other => Err(format!("unknown transform `{other}` (expected `upper` or `echo`)")),
        }
    }
}

impl std::fmt::Display for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// ASCII-uppercase `buf` in place.
///
/// Eight bytes at a time, as one `u64` with no comparison in it ([`upper_word`]): LLVM vectorises
/// the loop over words, and a ragged end is the last eight bytes done again (or one zero-padded
/// word when the buffer is shorter), so nothing is done byte by byte. On x86-64, buffers of 128
/// bytes and more take the AVX2 byte loop, picked at run time. In the fuzz build every scalar
/// comparison and every memory access is a traced call of its own, so a byte-by-byte tail would be
/// a large share of `recv_loop`'s comparisons (`fuzz/README.md`, "Speed").
#[inline]
pub fn upper_in_place(buf: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        if buf.len() >= AVX2_STRIDE && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { upper_avx2(buf) };
            return;
        }
    }
    upper_words(buf);
}

#[inline(always)]
fn upper_words(buf: &mut [u8]) {
    let (words, tail) = buf.as_chunks_mut::<8>();
    for word in words {
        *word = upper_word(u64::from_le_bytes(*word)).to_le_bytes();
    }
    if tail.is_empty() {
        return;
    }
    // The last eight bytes once more (uppercasing twice changes nothing), or, in a buffer shorter
    // than a word, the bytes as one zero-padded word.
    if let Some(last) = buf.last_chunk_mut::<8>() {
        *last = upper_word(u64::from_le_bytes(*last)).to_le_bytes();
    } else {
        let mut word = [0u8; 8];
        word[..buf.len()].copy_from_slice(buf);
        let up = upper_word(u64::from_le_bytes(word)).to_le_bytes();
        buf.copy_from_slice(&up[..buf.len()]);
    }
}

/// The eight bytes of `w` ASCII-uppercased, with additions and masks only (SWAR): no byte's
/// result depends on another's, and bytes of 0x80 and above pass unchanged.
#[inline(always)]
pub fn upper_word(w: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    // Each byte's low seven bits; adding below never carries into the next byte.
    let low = w & (0x7f * ONES);
    // High bit set where the low bits are >= b'a', and where they are > b'z'.
    let from_a = low + (0x80 - b'a' as u64) * ONES;
    let past_z = low + (0x80 - b'z' as u64 - 1) * ONES;
    let lower = from_a & !past_z & !w & (0x80 * ONES);
    w ^ (lower >> 2)
}

/// The byte loop over whole 128-byte strides (LLVM makes each stride four 32-byte AVX2 operations,
/// so its per-byte remainder loop never runs), the rest in words.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn upper_avx2(buf: &mut [u8]) {
    let (strides, rest) = buf.split_at_mut(buf.len() & !(AVX2_STRIDE - 1));
    for b in strides {
        let is_lower = b.wrapping_sub(b'a') < 26;
        *b ^= (is_lower as u8) << 5;
    }
    upper_words(rest);
}

#[cfg(target_arch = "x86_64")]
const AVX2_STRIDE: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_changes_only_ascii_lowercase() {
        let all: Vec<u8> = (0..=255).collect();
        let up = Transform::Upper.to_vec(&all);
        for (i, (a, b)) in all.iter().zip(&up).enumerate() {
            let want = if a.is_ascii_lowercase() { a - 32 } else { *a };
            assert_eq!(*b, want, "byte {i}");
        }
        // Every length around the word and AVX2 strides, at several offsets of a lowercase run.
        let long: Vec<u8> = (0..1000u32).map(|i| (i % 256) as u8).collect();
        for len in (0..=2 * 128 + 9).chain([999, 1000]) {
            for start in [0, 1, 97] {
                let part = &long[start..start + len.min(1000 - start)];
                let want: Vec<u8> = part.iter().map(|b| b.to_ascii_uppercase()).collect();
                assert_eq!(Transform::Upper.to_vec(part), want, "len {len} from {start}");
                assert_eq!(Transform::Echo.to_vec(part), part);
            }
        }
    }

    #[test]
    fn utf8_multibyte_passes_unchanged() {
        let s = "héllo, 世界 ß".as_bytes();
        assert_eq!(Transform::Upper.to_vec(s), "HéLLO, 世界 ß".as_bytes());
    }

    #[test]
    fn names_round_trip() {
        for t in [Transform::Upper, Transform::Echo] {
            assert_eq!(t.to_string().parse::<Transform>(), Ok(t));
        }
        assert!("lower".parse::<Transform>().unwrap_err().contains("expected `upper` or `echo`"));
    }
}

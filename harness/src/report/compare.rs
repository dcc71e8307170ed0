//! Expected-vs-actual bytes in words: every difference a report shows is rendered here.

/// Up to 48 bytes, escaped, with their count.
pub fn excerpt(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(48)];
    let more = if bytes.len() > shown.len() { "…" } else { "" };
    format!("\"{}\"{more}", shown.escape_ascii())
}

/// Where `actual` first differs from `expected`, with escaped excerpts around it.
pub fn mismatch(expected: &[u8], actual: &[u8], base: u64) -> String {
    let i = expected.iter().zip(actual).position(|(a, b)| a != b).unwrap_or(expected.len().min(actual.len()));
    let from = i.saturating_sub(8);
    let show = |b: &[u8]| {
        let to = b.len().min(i + 24);
        excerpt(&b[from.min(to)..to])
    };
    let byte = |b: &[u8]| b.get(i).map_or("nothing".to_string(), |x| format!("0x{x:02x} {:?}", *x as char));
    format!(
        "first difference at byte {} of the stream: expected {}, got {}; expected {} got {}",
        base + i as u64,
        byte(expected),
        byte(actual),
        show(expected),
        show(actual)
    )
}

/// A difference as [`mismatch`] words it, read back from a failure message (the HTML report draws
/// it as a hex view).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Offset of the first differing byte.
    pub at: u64,
    /// What the offset counts in: `stream`, `line`.
    pub of: String,
    /// Offset of the first byte of both excerpts.
    pub start: u64,
    pub expected: Vec<u8>,
    pub got: Vec<u8>,
}

/// The [`Difference`] a message made by [`mismatch`] describes, if it has one.
pub fn parse_mismatch(message: &str) -> Option<Difference> {
    const HEAD: &str = "first difference at byte ";
    let rest = &message[message.find(HEAD)? + HEAD.len()..];
    let (at, rest) = rest.split_once(' ')?;
    let at: u64 = at.parse().ok()?;
    let (of, rest) = rest.strip_prefix("of the ")?.split_once(':')?;
    let rest = &rest[rest.find("; expected \"")? + "; expected ".len()..];
    let (expected, rest) = unquote(rest)?;
    let rest = rest.strip_prefix('…').unwrap_or(rest).strip_prefix(" got ")?;
    let (got, _) = unquote(rest)?;
    // Both excerpts start at the same offset; where they part is `at`.
    let k = expected.iter().zip(&got).position(|(a, b)| a != b).unwrap_or(expected.len().min(got.len()));
    let start = at.checked_sub(k as u64)?;
    Some(Difference { at, of: of.to_string(), start, expected, got })
}

/// The bytes of a `"..."` written by [`excerpt`] (`escape_ascii`), and what follows it.
fn unquote(s: &str) -> Option<(Vec<u8>, &str)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut out = vec![];
    let mut i = 1;
    loop {
        match *b.get(i)? {
            b'"' => return Some((out, &s[i + 1..])),
            b'\\' => {
                let c = *b.get(i + 1)?;
                i += 2;
                out.push(match c {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'x' => {
                        let hex = std::str::from_utf8(b.get(i..i + 2)?).ok()?;
                        i += 2;
                        u8::from_str_radix(hex, 16).ok()?
                    }
                    other => other,
                });
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_names_the_offset_and_bytes() {
        let m = mismatch(b"HELLO WORLD", b"HELLO world", 100);
        assert!(m.contains("byte 106"), "{m}");
        assert!(m.contains("0x57 'W'") && m.contains("0x77 'w'"), "{m}");
    }

    #[test]
    fn a_mismatch_reads_back_as_the_bytes_around_it() {
        let expected: Vec<u8> = (0..200u8).collect();
        for (i, base) in [(0usize, 0u64), (3, 1000), (100, 4096)] {
            let mut got = expected.clone();
            got[i] = b'"';
            let d = parse_mismatch(&format!("wrong reply: {}", mismatch(&expected, &got, base))).unwrap();
            assert_eq!(d.at, base + i as u64);
            assert_eq!(d.of, "stream");
            let k = (d.at - d.start) as usize;
            assert_eq!((d.expected[k], d.got[k]), (expected[i], b'"'));
            assert_eq!(&d.expected[..], &expected[i.saturating_sub(8)..i + 24]);
        }
        // The got side ended early.
        let m = mismatch(b"HELLO WORLD", b"HELLO", 1024).replace("of the stream", "of the line");
        let d = parse_mismatch(&format!("printed line 1 is wrong: {m}; its stderr: x")).unwrap();
        assert_eq!((d.at, d.start, d.of.as_str(), &d.got[..]), (1029, 1024, "line", &b"HELLO"[..]));
        assert_eq!(parse_mismatch("no complete reply within 1.00s"), None);
    }

    #[test]
    fn excerpt_escapes_binary() {
        assert_eq!(excerpt(b"a\x00\xff"), r#""a\x00\xff""#);
    }
}

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
    fn excerpt_escapes_binary() {
        assert_eq!(excerpt(b"a\x00\xff"), r#""a\x00\xff""#);
    }
}

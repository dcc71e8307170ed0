//! How cases are generated: proptest strategies, biased toward what programs special-case.
//!
//! Every strategy lists its simplest alternative first, because proptest shrinks a `prop_oneof!`
//! toward its first alternative and a `select` toward its first element: a shrunk payload is a
//! word, a single space, a short line ending, not a random byte.
//!
//! What servers get: words (some of them words programs treat as commands: quit, exit, bye,
//! help...) in lower, upper or mixed case; whitespace at the ends, inside and alone; `\n`, `\r\n`
//! and `\r`; NUL and other control bytes; multi-byte UTF-8 characters, whole or cut (invalid
//! UTF-8); runs of one byte; messages of the sizes around common buffers (1023-1025, 4095-4097,
//! 8191-8193, 65535-65537; datagrams up to 65,507 bytes, the most UDP carries); empty datagrams.
//!
//! What clients are typed is narrower, so that every correct client agrees on the answer: a line
//! goes through a terminal, where control characters edit the line or send signals (^C, ^D, ^U,
//! ^W, DEL) and a line is at most 4,095 bytes; and "strip" differs between languages beyond spaces
//! and tabs (Python's `str.strip()` also removes `\x1c`-`\x1f`, Rust's `trim()` does not). So lines
//! are printable ASCII, spaces and tabs, and multi-byte characters (no Unicode whitespace), at
//! most 2,049 bytes.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::case::*;

/// Words programs special-case, and plain ones.
const WORDS: &[&str] =
    &["a", "hello", "quit", "exit", "bye", "help", "q", "close", "stop", "end", "ping", "list", "hi", "ok"];

/// Sizes around common buffer sizes.
const STREAM_SIZES: &[usize] = &[1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192, 8193, 65535, 65536, 65537];
const DATAGRAM_SIZES: &[usize] = &[1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192, 8193, 65507];
const LINE_SIZES: &[usize] = &[1023, 1024, 1025, 2047, 2048, 2049];

/// Multi-byte UTF-8 characters (none of them whitespace).
const CHARS: &[&str] = &["é", "ß", "ÿ", "你", "€", "😀"];

fn bytes(b: impl AsRef<[u8]>) -> Piece {
    Piece::Bytes(b.as_ref().to_vec())
}

/// A word in lower case, upper case or capitalised.
fn word() -> impl Strategy<Value = Piece> {
    (select(WORDS), 0..3u8).prop_map(|(w, case)| {
        bytes(match case {
            0 => w.to_string(),
            1 => w.to_uppercase(),
            _ => w[..1].to_uppercase() + &w[1..],
        })
    })
}

/// A piece of what a server is sent: anything at all, biased.
fn server_piece(sizes: &'static [usize]) -> impl Strategy<Value = Piece> {
    prop_oneof![
        8 => word(),
        4 => vec(select(b" \t\n\r\x0b\x0c".to_vec()), 1..4).prop_map(bytes),
        2 => select(vec!["\n", "\r\n", "\r"]).prop_map(bytes),
        2 => vec(select(b"\x00\x01\x04\x08\x1b\x1c\x1f\x7f".to_vec()), 1..3).prop_map(bytes),
        2 => (select(CHARS), any::<bool>()).prop_map(|(c, cut)| {
            // A character cut after its first byte is invalid UTF-8 (or, followed by the rest in
            // the next send, a character split across sends).
            bytes(if cut { &c.as_bytes()[..1] } else { c.as_bytes() })
        }),
        1 => (select(b"ax \x00".to_vec()), 2..200usize).prop_map(|(b, n)| Piece::Bytes(vec![b; n])),
        1 => select(sizes).prop_map(Piece::Pattern),
        1 => vec(any::<u8>(), 1..16).prop_map(Piece::Bytes),
    ]
}

/// A message for a stream server: 1 to 3 pieces.
fn stream_msg() -> impl Strategy<Value = Msg> {
    vec(server_piece(STREAM_SIZES), 1..4).prop_map(Msg)
}

/// A datagram: 1 to 3 pieces, or none (an empty datagram is a message too).
fn datagram_msg() -> impl Strategy<Value = Msg> {
    prop_oneof![8 => vec(server_piece(DATAGRAM_SIZES), 1..4).prop_map(Msg), 1 => Just(Msg(vec![]))]
        .prop_map(|m| {
            // Two big pieces would make a datagram larger than UDP carries.
            let mut big = false;
            Msg(m
                .0
                .into_iter()
                .filter(|p| !matches!(p, Piece::Pattern(_)) || !std::mem::replace(&mut big, true))
                .collect())
        })
        .prop_map(|m| if m.bytes().len() > 65_507 { Msg(vec![Piece::Pattern(65_507)]) } else { m })
}

fn stream_op() -> impl Strategy<Value = StreamOp> {
    prop_oneof![
        6 => stream_msg().prop_map(StreamOp::Echo),
        1 => vec(stream_msg(), 2..4).prop_map(StreamOp::Pieces),
        1 => (0..30u64).prop_map(StreamOp::Pause),
    ]
}

fn conn_end() -> impl Strategy<Value = ConnEnd> {
    prop_oneof![4 => Just(ConnEnd::Open), 2 => Just(ConnEnd::Close), 1 => Just(ConnEnd::HalfClose), 1 => Just(ConnEnd::Reset)]
}

/// Cases for a stream server: 1 to 3 connections of 1 to 5 operations.
pub fn stream_case() -> BoxedStrategy<Case> {
    let conn = (vec(stream_op(), 1..6), conn_end()).prop_map(|(ops, end)| Conn { ops, end });
    (vec(conn, 1..4), any::<bool>()).prop_map(|(conns, interleave)| Case::Stream { conns, interleave }).boxed()
}

/// Cases for a datagram server: 1 to 5 operations of up to three senders.
pub fn datagram_case() -> BoxedStrategy<Case> {
    let what = prop_oneof![
        6 => datagram_msg().prop_map(DgramWhat::Echo),
        1 => vec(datagram_msg(), 2..4).prop_map(DgramWhat::Pipelined),
        1 => (10..100usize, 8..512usize).prop_map(|(count, size)| DgramWhat::Burst { count, size }),
        1 => datagram_msg().prop_map(DgramWhat::Vanish),
    ];
    vec((0..3usize, what).prop_map(|(sender, what)| DgramOp { sender, what }), 1..6)
        .prop_map(|ops| Case::Datagram { ops })
        .boxed()
}

/// A piece of a typed line.
fn line_piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        8 => word(),
        3 => (1..4usize).prop_map(|n| Piece::Bytes(vec![b' '; n])),
        1 => Just(bytes("\t")),
        2 => select(CHARS).prop_map(bytes),
        1 => select(vec!["1", "42", ",", ".", "?", "!", "-", "+", "=", "'", "\"", "#", "$", "\\"]).prop_map(bytes),
    ]
}

fn line() -> impl Strategy<Value = Msg> {
    prop_oneof![8 => vec(line_piece(), 0..6).prop_map(Msg), 1 => select(LINE_SIZES).prop_map(|n| Msg(vec![Piece::Pattern(n)]))]
}

/// Cases for a client: 1 to 5 lines, a way of serving and an end.
pub fn client_case(datagram: bool) -> BoxedStrategy<Case> {
    let (serve, end) = if datagram {
        (
            prop_oneof![6 => Just(ServeHow::Normally), 1 => Just(ServeHow::Duplicating), 1 => Just(ServeHow::StrangerFirst)]
                .boxed(),
            prop_oneof![3 => Just(ClientEnd::Running), 1 => Just(ClientEnd::EndInput)].boxed(),
        )
    } else {
        (
            prop_oneof![
                6 => Just(ServeHow::Normally),
                1 => (select(vec![1usize, 2, 3, 7, 64]), 0..30u64).prop_map(|(size, pause_ms)| ServeHow::InPieces { size, pause_ms }),
                1 => (0..30u64).prop_map(|pause_ms| ServeHow::SplittingUtf8 { pause_ms }),
            ]
            .boxed(),
            prop_oneof![
                4 => Just(ClientEnd::Running),
                2 => Just(ClientEnd::EndInput),
                1 => Just(ClientEnd::ServerCloses),
                1 => Just(ClientEnd::ServerResets),
            ]
            .boxed(),
        )
    };
    (serve, vec(line(), 1..6), end).prop_map(|(serve, lines, end)| Case::Client { serve, lines, end }).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    fn sample(s: &BoxedStrategy<Case>, n: usize) -> Vec<Case> {
        let mut runner = TestRunner::deterministic();
        (0..n).map(|_| s.new_tree(&mut runner).unwrap().current()).collect()
    }

    #[test]
    fn typed_lines_hold_only_what_every_correct_client_agrees_on() {
        for case in sample(&client_case(false), 500) {
            let Case::Client { lines, .. } = case else { panic!("a client case") };
            for l in lines {
                let b = l.bytes();
                assert!(b.len() <= 2049, "{} bytes", b.len());
                let text = std::str::from_utf8(&b).expect("typed lines are UTF-8");
                assert!(text.chars().all(|c| c == ' ' || c == '\t' || !c.is_control()), "{text:?}");
                assert!(text.chars().all(|c| c == ' ' || c == '\t' || !c.is_whitespace()), "{text:?}");
            }
        }
    }

    #[test]
    fn datagrams_fit_in_udp_and_some_are_empty() {
        let mut empty = 0;
        for case in sample(&datagram_case(), 500) {
            let Case::Datagram { ops } = case else { panic!("a datagram case") };
            for op in ops {
                if let DgramWhat::Echo(m) | DgramWhat::Vanish(m) = &op.what {
                    assert!(m.bytes().len() <= 65_507);
                    empty += m.bytes().is_empty() as usize;
                }
            }
        }
        assert!(empty > 0);
    }

    #[test]
    fn server_payloads_cover_what_programs_special_case() {
        let all: Vec<Vec<u8>> = sample(&stream_case(), 300)
            .into_iter()
            .flat_map(|c| match c {
                Case::Stream { conns, .. } => conns,
                _ => vec![],
            })
            .flat_map(|c| c.ops)
            .filter_map(|op| match op {
                StreamOp::Echo(m) => Some(m.bytes()),
                _ => None,
            })
            .collect();
        let any = |f: &dyn Fn(&[u8]) -> bool| all.iter().any(|b| f(b));
        assert!(any(&|b| !b.is_empty() && b.iter().all(u8::is_ascii_whitespace)), "whitespace alone");
        assert!(any(&|b| b.eq_ignore_ascii_case(b"exit") || b.eq_ignore_ascii_case(b"quit")), "a command word alone");
        assert!(any(&|b| b.contains(&0)), "NUL");
        assert!(any(&|b| std::str::from_utf8(b).is_err()), "invalid UTF-8");
        assert!(any(&|b| b.len() > 1024), "a message past 1 KiB");
        assert!(any(&|b| b.ends_with(b"\r\n")), "CRLF");
    }

    #[test]
    fn shrinking_a_payload_ends_at_a_word_or_a_single_space() {
        let mut runner = TestRunner::deterministic();
        let s = stream_msg();
        for _ in 0..50 {
            let mut tree = s.new_tree(&mut runner).unwrap();
            while tree.simplify() {}
            let b = tree.current().bytes();
            assert!(b.len() <= 5, "{:?}", String::from_utf8_lossy(&b));
        }
    }
}

//! Property tests of the protocol core: the transform, the server's communication loop (blocking
//! and tokio drivers) under any read/write chunking and `Interrupted`/`WouldBlock`/reset injection,
//! and client reply reassembly. The oracles are `sockcheck-support`'s, shared with `fuzz/`.
//!
//! Case counts are proptest's default (256; 24 for the one over real sockets), a few seconds in all;
//! `PROPTEST_CASES=100000 cargo test --test properties` runs longer. Deliberately broken loops are
//! shown to be caught within the default count.

use std::io::{self, Read, Write};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use sockcheck::proto::{serve, ConnStats, EchoConn, NextIo, ReplyAssembler};
use sockcheck::Transform;
use sockcheck_support::{
    check_echo, check_echo_async, check_echo_with, check_reply, serve_dropping_short_write_tail, Outcome, Script,
    ScriptedStream, Step,
};

/// `bytes(range(256)).upper().hex()` printed by CPython 3: the tutorial's `data.upper()`.
const PYTHON_UPPER_TABLE: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
     202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\
     404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f\
     604142434445464748494a4b4c4d4e4f505152535455565758595a7b7c7d7e7f\
     808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\
     a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\
     c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf\
     e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

fn python_upper_table() -> [u8; 256] {
    let hex = PYTHON_UPPER_TABLE.as_bytes();
    assert_eq!(hex.len(), 512);
    std::array::from_fn(|i| u8::from_str_radix(std::str::from_utf8(&hex[2 * i..2 * i + 2]).unwrap(), 16).unwrap())
}

#[test]
fn upper_matches_python_on_all_256_bytes_in_both_code_paths() {
    let table = python_upper_table();
    let all: Vec<u8> = (0..=255).collect();
    // 256 bytes take the vector path; single bytes the scalar one.
    assert_eq!(Transform::Upper.to_vec(&all), table);
    for b in 0..=255u8 {
        assert_eq!(Transform::Upper.to_vec(&[b]), [table[b as usize]], "byte {b:#04x}");
    }
}

/// One byte, with plenty of ASCII letters and the bytes either side of `a-z`, not only uniform noise.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => any::<u8>(),
        2 => b'a'..=b'z',
        1 => prop::sample::select(vec![b'`', b'{', b'@', b'[', b'A', b'Z', 0x80, 0xe1, 0xff]),
    ]
}

/// Up to `max` bytes, byte by byte: for the transform, where each byte matters.
fn payload(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(byte(), 0..max)
}

/// Long inputs that still shrink in a few steps: a few segments, each a literal piece or a run of
/// one byte (proptest shrinks a `Vec` one element at a time, so 3000 loose bytes shrink slowly).
fn stream_payload() -> impl Strategy<Value = Vec<u8>> {
    let segment =
        prop_oneof![prop::collection::vec(byte(), 1..24), (byte(), 1..1024usize).prop_map(|(b, n)| vec![b; n]),];
    prop::collection::vec(segment, 0..8).prop_map(|segments| segments.concat())
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (1..=Step::MAX_TAKE).prop_map(Step::Take),
        2 => Just(Step::All),
        2 => Just(Step::Interrupted),
        2 => Just(Step::WouldBlock),
        1 => Just(Step::Reset),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(), 0..48)
}

fn bufsize() -> impl Strategy<Value = usize> {
    prop_oneof![1..=8usize, 1..=4096usize]
}

fn transform() -> impl Strategy<Value = Transform> {
    prop_oneof![4 => Just(Transform::Upper), 1 => Just(Transform::Echo)]
}

/// One connection's script, owned so proptest can shrink and print it.
#[derive(Clone, Debug)]
struct Case {
    input: Vec<u8>,
    bufsize: usize,
    transform: Transform,
    reads: Vec<Step>,
    writes: Vec<Step>,
}

impl Case {
    fn run<R>(&self, f: impl FnOnce(&Script<'_>) -> R) -> R {
        let (reads, writes) = (Step::encode(&self.reads), Step::encode(&self.writes));
        f(&Script {
            input: &self.input,
            bufsize: self.bufsize,
            transform: self.transform,
            reads: &reads,
            writes: &writes,
        })
    }
}

fn case() -> impl Strategy<Value = Case> {
    (stream_payload(), bufsize(), transform(), steps(), steps())
        .prop_map(|(input, bufsize, transform, reads, writes)| Case { input, bufsize, transform, reads, writes })
}

proptest! {
    #[test]
    fn upper_is_python_bytes_upper_on_every_byte(input in payload(600), skip in 0usize..40) {
        // `skip` shifts the slice so the vector path also sees unaligned starts.
        let table = python_upper_table();
        let skip = skip.min(input.len());
        let mut out = input.clone();
        Transform::Upper.apply(&mut out[skip..]);
        prop_assert_eq!(&out[..skip], &input[..skip]);
        for (i, (&a, &b)) in input.iter().zip(&out).enumerate().skip(skip) {
            prop_assert_eq!(b, table[a as usize], "byte {} ({:#04x})", i, a);
        }
    }

    #[test]
    fn upper_preserves_length_is_idempotent_and_changes_only_lowercase(input in payload(600)) {
        let once = Transform::Upper.to_vec(&input);
        prop_assert_eq!(once.len(), input.len());
        prop_assert_eq!(Transform::Upper.to_vec(&once), once.clone());
        for (&a, &b) in input.iter().zip(&once) {
            if a.is_ascii_lowercase() {
                prop_assert_eq!(b, a - 32);
            } else {
                prop_assert_eq!(b, a);
            }
        }
        prop_assert_eq!(Transform::Echo.to_vec(&input), input);
    }

    #[test]
    fn serve_echoes_the_transform_however_the_stream_splits_and_fails(case in case()) {
        let outcome = case.run(check_echo).map_err(TestCaseError::fail)?;
        if !case.reads.contains(&Step::Reset) && !case.writes.contains(&Step::Reset) {
            prop_assert!(matches!(outcome, Outcome::Completed(s) if s.bytes_out == case.input.len() as u64));
        }
    }

    #[test]
    fn serve_async_echoes_the_transform_however_the_stream_splits_and_fails(case in case()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let outcome = case.run(|script| rt.block_on(check_echo_async(script))).map_err(TestCaseError::fail)?;
        if !case.reads.contains(&Step::Reset) && !case.writes.contains(&Step::Reset) {
            prop_assert!(matches!(outcome, Outcome::Completed(s) if s.bytes_out == case.input.len() as u64));
        }
    }

    #[test]
    fn reply_is_reassembled_exactly_however_it_is_split(
        reply in stream_payload(),
        next in payload(64),
        reads in prop::collection::vec(prop_oneof![
            6 => (1..=Step::MAX_TAKE).prop_map(Step::Take),
            1 => Just(Step::All),
            1 => Just(Step::Interrupted),
            1 => Just(Step::WouldBlock),
        ], 0..64),
        bufsize in prop_oneof![1..=16usize, 1..=70_000usize],
    ) {
        check_reply(&reply, &next, &Step::encode(&reads), bufsize).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn assembler_holds_exactly_the_pushed_pieces(reply in payload(3000), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20)) {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(reply.len() + 1)).collect();
        cuts.push(reply.len());
        cuts.sort_unstable();
        let mut asm = ReplyAssembler::expect(reply.len());
        let mut at = 0;
        for cut in cuts {
            prop_assert!(!asm.is_complete() || at == reply.len());
            asm.push(&reply[at..cut]);
            at = cut;
            prop_assert_eq!(asm.remaining(), reply.len() - at);
        }
        prop_assert!(asm.is_complete());
        prop_assert_eq!(asm.into_bytes(), reply);
    }
}

proptest! {
    // Real sockets and a thread per case: fewer cases unless `PROPTEST_CASES` asks for more.
    #![proptest_config(Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(24),
        ..Config::default()
    })]

    #[test]
    fn client_exchange_gets_exactly_the_reply_from_the_real_loop(
        msg in prop_oneof![stream_payload(), (byte(), 1..200_000usize).prop_map(|(b, n)| vec![b; n])],
        bufsize in prop_oneof![1..=64usize, 64..=8192usize],
    ) {
        let (client, server) = std::os::unix::net::UnixStream::pair().unwrap();
        let deadline = Some(Duration::from_secs(10));
        client.set_read_timeout(deadline).unwrap();
        client.set_write_timeout(deadline).unwrap();
        server.set_read_timeout(deadline).unwrap();
        server.set_write_timeout(deadline).unwrap();
        let server = std::thread::spawn(move || {
            let mut server = server;
            serve(&mut server, &mut EchoConn::new(bufsize, Transform::Upper))
        });
        let mut conn = sockcheck::net::StdConn::Unix(client);
        let mut buf = vec![0u8; 4096];
        let reply = sockcheck::client::exchange(&mut conn, &msg, &mut buf, deadline);
        drop(conn); // EOF for the server loop
        let stats = server.join().unwrap().unwrap();
        let reply = reply.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(reply == Transform::Upper.to_vec(&msg), "reply differs from the transform of {} bytes", msg.len());
        prop_assert_eq!(stats.bytes_out, msg.len() as u64);
    }
}

/// A broken copy that gives up on `Interrupted` instead of retrying.
fn serve_failing_on_eintr<S: Read + Write>(stream: &mut S, conn: &mut EchoConn) -> io::Result<ConnStats> {
    loop {
        match conn.next_io() {
            NextIo::Done => return Ok(conn.stats()),
            NextIo::Read(buf) => {
                let n = stream.read(buf)?;
                conn.on_read(n);
            }
            NextIo::Write(buf) => {
                let n = stream.write(buf)?;
                conn.on_written(n);
            }
        }
    }
}

/// Run the loop property against `drive` with the default case count (pinned to proptest's
/// default, 256, so `PROPTEST_CASES` cannot weaken this check) and return the shrunk failure.
fn shrunk_failure<F>(drive: F) -> (String, Case)
where
    F: Fn(&mut ScriptedStream<'_>, &mut EchoConn) -> io::Result<ConnStats>,
{
    let mut runner =
        TestRunner::new(Config { cases: 256, max_shrink_iters: 4096, failure_persistence: None, ..Config::default() });
    let result = runner.run(&case(), |case| {
        case.run(|script| check_echo_with(script, |s, c| drive(s, c))).map(drop).map_err(TestCaseError::fail)
    });
    match result {
        Err(TestError::Fail(reason, case)) => (reason.to_string(), case),
        other => panic!("the broken loop was not caught in 256 cases: {other:?}"),
    }
}

#[test]
fn a_loop_that_drops_the_tail_of_a_short_write_is_caught() {
    let (reason, case) = shrunk_failure(|s, c| serve_dropping_short_write_tail(s, c));
    assert!(reason.contains("written") || reason.contains("output byte"), "unexpected reason: {reason}\n{case:?}");
    eprintln!("caught: {reason}\nshrunk to: {case:?}");
    assert!(case.writes.iter().any(|s| matches!(s, Step::Take(_))), "{case:?}");
}

#[test]
fn a_loop_that_gives_up_on_eintr_is_caught() {
    let (reason, case) = shrunk_failure(|s, c| serve_failing_on_eintr(s, c));
    assert!(reason.contains("interrupted") || reason.contains("unexpected error"), "{reason}\n{case:?}");
    assert!(case.reads.contains(&Step::Interrupted) || case.writes.contains(&Step::Interrupted), "{case:?}");
}

#[test]
fn the_real_loop_passes_the_shrunk_counterexamples() {
    let cases = [
        shrunk_failure(|s, c| serve_dropping_short_write_tail(s, c)).1,
        shrunk_failure(|s, c| serve_failing_on_eintr(s, c)).1,
    ];
    for case in cases {
        assert!(case.run(check_echo).is_ok(), "{case:?}");
    }
}

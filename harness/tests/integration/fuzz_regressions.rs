//! Fuzzer finds, replayed as plain tests.
//!
//! The fuzz targets print a failing case as a `Script` literal (`Script::to_rust`), which is pasted
//! here with a comment on the cause. Scripts rather than raw fuzzer bytes: the bytes depend on
//! `arbitrary`'s encoding, which may change between its versions, while a script stays readable.
//!
//! The find below is `recv_loop_broken`'s (the deliberately broken loop), kept to show the format and
//! to pin that the real loop handles it.

use sockcheck::Transform;
use sockcheck_support::{check_echo, Outcome, Script};

/// `cargo fuzz run recv_loop_broken`, first crash (0.5 s): a 2-byte read answered by a 1-byte
/// write. The broken loop (`sockcheck_support::serve_dropping_short_write_tail`) then forgot the second byte ("the loop finished
/// having written 1 of 2 bytes"); `serve` must write it on the next call.
#[test]
fn a_short_write_of_a_two_byte_read_still_writes_both() {
    let script = Script {
        input: b"\x04\n",
        bufsize: 1029,
        transform: Transform::Upper,
        reads: &[],
        writes: &[4], /* Take(1) */
    };
    let outcome = check_echo(&script).unwrap();
    assert!(matches!(outcome, Outcome::Completed(s) if s.bytes_out == 2 && s.writes == 2), "{outcome:?}");
}

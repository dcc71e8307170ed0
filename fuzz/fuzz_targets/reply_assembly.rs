//! Client reply reassembly: however the reply is split across reads, exactly the reply comes out
//! and nothing of the next one is taken.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    bufsize: u16,
    reads: &'a [u8],
    next: &'a [u8],
    reply: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let bufsize = 1 + input.bufsize as usize % 4096;
    if let Err(e) = sockcheck_support::check_reply(input.reply, input.next, input.reads, bufsize) {
        panic!("{e}\n{input:?}");
    }
});

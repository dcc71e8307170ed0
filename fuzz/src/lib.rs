//! Fuzz inputs shared by the targets in `fuzz_targets/`.
//!
//! The oracles live in `sockcheck-support`, so the property tests check the same things.

use arbitrary::Arbitrary;
use sockcheck_proto::Transform;
pub use sockcheck_support::serve_dropping_short_write_tail;
use sockcheck_support::Script;

/// The largest receive buffer tried; small ones split more.
pub const MAX_BUFSIZE: usize = 4096;
/// Longer inputs only repeat what shorter ones cover and slow every execution.
pub const MAX_INPUT: usize = 64 * 1024;
/// Scripted read calls, and write calls, beyond this many are dropped: the loop keeps no state
/// from one call to the next beyond its byte counts, so longer lists only repeat shorter ones and
/// slow every execution.
pub const MAX_STEPS: usize = 64;
/// Data beyond this many receive buffers' worth is dropped, for the same reason: with a 1-byte
/// buffer a 4 KiB input is 8,000 calls that test nothing 64 bytes do not.
pub const MAX_BUFFERS: usize = 64;

/// One connection, structure-aware: the bytes the peer sends, the server's buffer size, and how
/// each read and write call goes ([`sockcheck_support::Step`] codes: sizes, `Interrupted`,
/// `WouldBlock`, reset). Everything is borrowed from the fuzzer's input: no allocation.
#[derive(Arbitrary, Debug)]
pub struct Conn<'a> {
    pub bufsize: u16,
    pub echo: bool,
    pub reads: &'a [u8],
    pub writes: &'a [u8],
    /// Last, so it takes the rest of the input.
    pub data: &'a [u8],
}

impl<'a> Conn<'a> {
    /// The script (cut to [`MAX_STEPS`] and [`MAX_BUFFERS`]), or `None` for an oversized input.
    pub fn script(&self) -> Option<Script<'a>> {
        if self.data.len() > MAX_INPUT {
            return None;
        }
        let bufsize = 1 + self.bufsize as usize % MAX_BUFSIZE;
        let cut = |s: &'a [u8], max: usize| &s[..s.len().min(max)];
        Some(Script {
            input: cut(self.data, MAX_BUFFERS * bufsize),
            bufsize,
            transform: if self.echo { Transform::Echo } else { Transform::Upper },
            reads: cut(self.reads, MAX_STEPS),
            writes: cut(self.writes, MAX_STEPS),
        })
    }
}

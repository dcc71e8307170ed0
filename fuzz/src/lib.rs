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
    /// The script, or `None` for an oversized input.
    pub fn script(&self) -> Option<Script<'a>> {
        if self.data.len() > MAX_INPUT {
            return None;
        }
        Some(Script {
            input: self.data,
            bufsize: 1 + self.bufsize as usize % MAX_BUFSIZE,
            transform: if self.echo { Transform::Echo } else { Transform::Upper },
            reads: self.reads,
            writes: self.writes,
        })
    }
}

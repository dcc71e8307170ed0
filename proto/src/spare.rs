//! A few released receive buffers per thread, so a busy connection that waits for data many
//! times a second does not pay for a fresh zeroed allocation each time. Idle connections still
//! hold nothing: at most [`KEEP`] buffers per thread are kept.

use std::cell::RefCell;

pub const KEEP: usize = 8;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` bytes (its contents are whatever the last user left: only bytes that a
/// read fills are ever used).
pub fn take(len: usize) -> Vec<u8> {
    SPARE
        .try_with(|s| {
            let mut s = s.borrow_mut();
            s.iter().rposition(|b| b.len() == len).map(|i| s.swap_remove(i))
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![0; len])
}

pub fn put(buf: Vec<u8>) {
    let _ = SPARE.try_with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < KEEP {
            s.push(buf);
        }
    });
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_buffer_of_the_asked_length_is_reused_and_at_most_keep_are_kept() {
        // Each test runs on a thread of its own, so the pool starts empty.
        put(vec![7; 4]);
        assert_eq!(take(8), vec![0; 8], "a buffer of another length is not handed out");
        assert_eq!(take(4), vec![7; 4], "the released buffer comes back");
        for i in 0..KEEP + 2 {
            put(vec![i as u8 + 1; 16]);
        }
        let reused = (0..KEEP + 2).filter(|_| take(16)[0] != 0).count();
        assert_eq!(reused, KEEP);
    }
}

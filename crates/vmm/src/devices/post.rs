//! POST diagnostic port 0x80: every code the firmware writes, with the guest time it was
//! written, for boot traces. Reads return the last code (as a POST card's display shows).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::{read_bytes, write_bytes};
use crate::bus::{BusDevice, lock};
use crate::clock::Clock;

/// How many codes [`Post::new`] keeps by default. Linux writes port 0x80 as an I/O delay
/// after many port accesses, so the record is bounded: the oldest codes go first.
pub const DEFAULT_POST_CAPACITY: usize = 65_536;

/// One code written to port 0x80.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostCode {
    pub code: u8,
    /// Guest time of the write.
    pub time_ns: u64,
}

/// The POST code recorder.
pub struct Post {
    clock: Clock,
    codes: VecDeque<PostCode>,
    capacity: usize,
    total: u64,
    last: u8,
}

impl Post {
    pub fn new(clock: Clock) -> Self {
        Self::with_capacity(clock, DEFAULT_POST_CAPACITY)
    }

    /// A recorder that keeps the last `capacity` codes (at least one).
    pub fn with_capacity(clock: Clock, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Post { clock, codes: VecDeque::new(), capacity, total: 0, last: 0 }
    }

    /// Record a code written by the guest.
    pub fn write(&mut self, code: u8) {
        if self.codes.len() == self.capacity {
            self.codes.pop_front();
        }
        self.codes.push_back(PostCode { code, time_ns: self.clock.now_ns() });
        self.total += 1;
        self.last = code;
    }

    /// The last code written (0 before any).
    pub fn last(&self) -> u8 {
        self.last
    }

    /// The codes kept, oldest first.
    pub fn codes(&self) -> impl ExactSizeIterator<Item = PostCode> + '_ {
        self.codes.iter().copied()
    }

    /// How many codes were written in all (including those no longer kept).
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// Bus adapter for [`crate::layout::PORT_POST`] (1 port).
pub struct PostPort(pub Arc<Mutex<Post>>);

impl BusDevice for PostPort {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let p = lock(&self.0);
        read_bytes("post", 1, offset, data, |_| p.last());
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut p = lock(&self.0);
        write_bytes("post", 1, offset, data, |_, v| p.write(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn codes_are_kept_with_their_guest_time_and_reads_return_the_last() {
        let clock = Clock::virtual_clock(Arc::new(AtomicU64::new(0)));
        let post = Arc::new(Mutex::new(Post::new(clock.clone())));
        let mut port = PostPort(post.clone());
        let mut d = [0xAAu8];
        port.read(0, &mut d);
        assert_eq!(d[0], 0);
        port.write(0, &[0x11]);
        clock.skip_to(5_000);
        port.write(0, &[0x22]);
        port.read(0, &mut d);
        assert_eq!(d[0], 0x22);
        let codes: Vec<_> = lock(&post).codes().collect();
        assert_eq!(codes, [PostCode { code: 0x11, time_ns: 0 }, PostCode { code: 0x22, time_ns: 5_000 }]);
    }

    #[test]
    fn record_is_bounded_and_keeps_the_newest() {
        let clock = Clock::virtual_clock(Arc::new(AtomicU64::new(0)));
        let mut p = Post::with_capacity(clock, 3);
        for c in 0..10 {
            p.write(c);
        }
        assert_eq!(p.codes().map(|c| c.code).collect::<Vec<_>>(), [7, 8, 9]);
        assert_eq!(p.total(), 10);
    }
}

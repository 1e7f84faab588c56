//! Guest time: the clock every timer device reads.
//!
//! On `kvm` it is the host's monotonic clock. On `emu` it can also be virtual: derived from
//! the number of instructions the CPU has retired, plus the time skipped while the guest was
//! halted, so the same guest and inputs always see the same times (deterministic runs).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Nanoseconds of guest time per retired instruction in virtual mode (a nominal 100 MIPS CPU).
pub const VIRTUAL_NS_PER_INSTRUCTION: u64 = 10;

#[derive(Clone)]
pub enum Clock {
    /// Host monotonic time since the VM started.
    Host(Instant),
    /// Retired instructions (published by the emu CPU) times a fixed cost, plus skipped idle time.
    Virtual { instructions: Arc<AtomicU64>, skipped_ns: Arc<AtomicU64> },
}

impl Clock {
    pub fn host() -> Self {
        Clock::Host(Instant::now())
    }

    pub fn virtual_clock(instructions: Arc<AtomicU64>) -> Self {
        Clock::Virtual { instructions, skipped_ns: Arc::new(AtomicU64::new(0)) }
    }

    /// Guest nanoseconds since the VM started.
    pub fn now_ns(&self) -> u64 {
        match self {
            Clock::Host(start) => start.elapsed().as_nanos() as u64,
            Clock::Virtual { instructions, skipped_ns } => {
                instructions.load(Ordering::Relaxed) * VIRTUAL_NS_PER_INSTRUCTION + skipped_ns.load(Ordering::Relaxed)
            }
        }
    }

    /// Whether time only moves when the guest runs (or when [`Clock::skip_to`] moves it).
    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual { .. })
    }

    /// Virtual clock: jump forward to `ns` (the guest is idle until then). No-op on the host clock.
    pub fn skip_to(&self, ns: u64) {
        if let Clock::Virtual { skipped_ns, .. } = self {
            let now = self.now_ns();
            if ns > now {
                skipped_ns.fetch_add(ns - now, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_follows_instructions_and_skips() {
        let n = Arc::new(AtomicU64::new(0));
        let c = Clock::virtual_clock(n.clone());
        assert_eq!(c.now_ns(), 0);
        n.store(100, Ordering::Relaxed);
        assert_eq!(c.now_ns(), 100 * VIRTUAL_NS_PER_INSTRUCTION);
        c.skip_to(5_000);
        assert_eq!(c.now_ns(), 5_000);
        c.skip_to(10);
        assert_eq!(c.now_ns(), 5_000, "time never goes back");
    }
}

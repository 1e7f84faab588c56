//! The PC's devices, each a bus-agnostic core plus a thin [`crate::bus::BusDevice`] adapter.
//!
//! Every core is a plain struct with typed registers and methods; it knows nothing of buses.
//! Every adapter (`...Port`) wraps an `Arc<Mutex<Core>>` so that the machine can also reach the
//! core (to poll a timer, feed input, read a trace) while the bus owns the adapter. Adapters
//! check the access size and decode the offset; a guest can write anything to any port, so
//! nothing here panics on guest-controlled values.
//!
//! Shared with the machine: [`Control`] (A20 gate, stop requests: exit, reset, power off) and
//! [`Wakeup`] (what a vCPU halted in HLT sleeps on until an interrupt may be pending).

pub mod acpi;
pub mod cmos;
pub mod debugcon;
pub mod exit;
pub mod i8042;
pub mod pc;
pub mod pic;
pub mod pit;
pub mod post;
pub mod serial;
pub mod sysctl;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::bus::lock;

static DEBUG: AtomicBool = AtomicBool::new(false);

/// Turn on logging (to stderr) of accesses the device models do not understand.
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// Whether [`set_debug`] turned device logging on.
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// `eprintln!` only when device debugging is on ([`set_debug`]).
macro_rules! dev_debug {
    ($($arg:tt)*) => {
        if $crate::devices::debug_enabled() {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use dev_debug;

/// Serve a read of `data.len()` bytes at `offset` from an 8-bit device of `len` ports.
///
/// On the ISA bus a 16- or 32-bit access to an 8-bit device is split into byte accesses at
/// consecutive ports (the chipset's bus sizing), so `in ax, dx` on port P reads P and P+1.
/// Bytes that fall past the device's own range read as 0xFF (an undriven bus).
pub(crate) fn read_bytes(name: &str, len: u64, offset: u64, data: &mut [u8], mut read: impl FnMut(u64) -> u8) {
    if data.len() != 1 {
        dev_debug!("{name}: {}-byte read at offset {offset:#x}, split into bytes", data.len());
    }
    for (i, b) in data.iter_mut().enumerate() {
        let off = offset.wrapping_add(i as u64);
        *b = if off < len { read(off) } else { 0xFF };
    }
}

/// Serve a write of `data` at `offset` to an 8-bit device of `len` ports (see [`read_bytes`]).
/// Bytes past the device's range are dropped.
pub(crate) fn write_bytes(name: &str, len: u64, offset: u64, data: &[u8], mut write: impl FnMut(u64, u8)) {
    if data.len() != 1 {
        dev_debug!("{name}: {}-byte write at offset {offset:#x}, split into bytes", data.len());
    }
    for (i, &b) in data.iter().enumerate() {
        let off = offset.wrapping_add(i as u64);
        if off < len {
            write(off, b);
        }
    }
}

/// Why the machine should stop running the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The guest wrote this value to the exit port.
    Exit(u32),
    /// The guest asked for a CPU reset (i8042 pulse, port 0x92 bit 0, a triple fault).
    Reset,
    /// The guest (or the host) powered the machine off.
    PowerOff,
    /// The firmware could not boot anything (INT 18h, no bootable disk); the BIOS keeps the
    /// message.
    BootFailed,
    /// The CPU halted with interrupts disabled: with no NMI source in the machine, nothing can
    /// wake it (emu; on kvm the kernel keeps such a vCPU asleep).
    HaltedForever,
}

/// Where a vCPU halted in HLT sleeps until something may have changed (an interrupt line
/// rose, a stop was requested).
///
/// Race-free use: take a [`Wakeup::token`] first, then check for work (INTR, stop), then
/// [`Wakeup::wait`] with the token. A notification between the check and the wait makes the
/// wait return at once, because it moved the token on.
#[derive(Default)]
pub struct Wakeup {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Wakeup {
    pub fn new() -> Self {
        Self::default()
    }

    /// The current notification count; pass it to [`Wakeup::wait`].
    pub fn token(&self) -> u64 {
        *lock(&self.generation)
    }

    /// Wake every waiter.
    pub fn notify(&self) {
        let mut g = lock(&self.generation);
        *g = g.wrapping_add(1);
        self.cv.notify_all();
    }

    /// Sleep until notified after `token` was taken, or until `timeout` passes (never, if
    /// None). Returns true when notified, false on timeout.
    pub fn wait(&self, token: u64, timeout: Option<Duration>) -> bool {
        let g = lock(&self.generation);
        match timeout {
            None => {
                let g = self.cv.wait_while(g, |g| *g == token).unwrap_or_else(|p| p.into_inner());
                *g != token
            }
            Some(t) => {
                let (g, _) = self.cv.wait_timeout_while(g, t, |g| *g == token).unwrap_or_else(|p| p.into_inner());
                *g != token
            }
        }
    }
}

/// What devices ask of the machine: the A20 gate and stop requests. Shared (`Arc`) between
/// the devices that drive it (i8042, port 0x92, exit port) and the vCPU loop that polls it.
pub struct Control {
    a20: AtomicBool,
    stop_pending: AtomicBool,
    stop: Mutex<Option<StopReason>>,
    wakeup: Arc<Wakeup>,
}

impl Control {
    /// `a20_enabled`: the gate's state at power-on. An IBM AT starts with A20 masked; ondol
    /// normally starts with it open, as QEMU with SeaBIOS leaves it.
    pub fn new(a20_enabled: bool) -> Self {
        Control {
            a20: AtomicBool::new(a20_enabled),
            stop_pending: AtomicBool::new(false),
            stop: Mutex::new(None),
            wakeup: Arc::new(Wakeup::new()),
        }
    }

    /// Whether address line 20 is passed through (true) or forced to 0 (false).
    pub fn a20_enabled(&self) -> bool {
        self.a20.load(Ordering::SeqCst)
    }

    pub fn set_a20(&self, enabled: bool) {
        self.a20.store(enabled, Ordering::SeqCst);
    }

    /// Ask the machine to stop. The first request wins until [`Control::take_stop`] clears
    /// it (a guest that writes the exit port and then resets exits with its code). Wakes a
    /// halted vCPU.
    pub fn request_stop(&self, reason: StopReason) {
        {
            let mut s = lock(&self.stop);
            if s.is_none() {
                *s = Some(reason);
                self.stop_pending.store(true, Ordering::SeqCst);
            }
        }
        self.wakeup.notify();
    }

    /// The pending stop request, if any (cheap when there is none: one atomic load).
    pub fn stop_requested(&self) -> Option<StopReason> {
        if !self.stop_pending.load(Ordering::SeqCst) {
            return None;
        }
        *lock(&self.stop)
    }

    /// Take (and clear) the pending stop request: after a reset the machine runs on.
    pub fn take_stop(&self) -> Option<StopReason> {
        let mut s = lock(&self.stop);
        self.stop_pending.store(false, Ordering::SeqCst);
        s.take()
    }

    /// The wakeup a halted vCPU sleeps on; interrupt lines ([`pic::PicIrq`]) and stop
    /// requests notify it.
    pub fn wakeup(&self) -> &Arc<Wakeup> {
        &self.wakeup
    }
}

/// BCD helpers shared by the PIT and the RTC.
pub(crate) fn to_bcd(v: u32) -> u32 {
    let mut out = 0;
    let mut shift = 0;
    let mut v = v;
    while v > 0 && shift < 32 {
        out |= (v % 10) << shift;
        v /= 10;
        shift += 4;
    }
    out
}

/// Decode BCD digits; a nibble above 9 counts as its binary value (what a digit-serial
/// decoder fed an invalid code gives), so any input yields a number without panicking.
pub(crate) fn from_bcd(v: u32) -> u32 {
    let mut out = 0u32;
    let mut mul = 1u32;
    let mut v = v;
    while v > 0 {
        out = out.wrapping_add((v & 0xF).wrapping_mul(mul));
        mul = mul.wrapping_mul(10);
        v >>= 4;
    }
    out
}

#[cfg(test)]
mod tests;

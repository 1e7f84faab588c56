//! i8254 programmable interval timer (ports 0x40-0x43) and system control port B (0x61).
//!
//! Reference: Intel 8254 datasheet (order 231164): "Control Word Format", "Write
//! Operations", "Read Operations" (counter latch, read-back command, status byte), "Mode
//! Definitions" (modes 0-5) and the "Gate Pin Operations Summary". PC wiring (IBM PC AT
//! Technical Reference, "System Timers"): the input clock is 1.193182 MHz; counter 0's OUT
//! drives IRQ 0; counter 1 (DRAM refresh) toggles port 0x61 bit 4; counter 2's GATE is port
//! 0x61 bit 0 and its OUT is readable at port 0x61 bit 5 (and feeds the speaker).
//!
//! The counters are not stepped: each remembers when it started counting and from what, and
//! its count and OUT at any tick are computed in closed form. The machine calls
//! [`Pit::poll`] to raise IRQ 0 edges that are due, and [`Pit::next_event_ns`] says when the
//! next one will be. Simplifications: a count is loaded on the write itself rather than on
//! the next CLK pulse (a 838 ns shift), a new count written in mode 3 takes effect at the
//! end of the whole cycle rather than the half-cycle, several IRQ 0 edges due at one poll
//! are raised as one (as the PIC's IRR would merge them), and a control word resets OUT
//! without raising an interrupt edge.

use std::sync::{Arc, Mutex};

use super::{dev_debug, from_bcd, read_bytes, to_bcd, write_bytes};
use crate::bus::{BusDevice, lock};
use crate::clock::Clock;
use crate::irq::Irq;

/// The PIT's input clock: 14.31818 MHz / 12.
pub const PIT_HZ: u64 = 1_193_182;

/// Port 0x61 bit 4 toggles on every DRAM refresh request: counter 1 programmed by the BIOS
/// with a count of 18 (15.08 us). Modelled as a free-running toggle.
const REFRESH_TICKS: u64 = 18;

const NS_PER_SEC: u128 = 1_000_000_000;

/// PIT ticks elapsed at `ns` of guest time.
pub fn ns_to_ticks(ns: u64) -> u64 {
    (ns as u128 * PIT_HZ as u128 / NS_PER_SEC) as u64
}

/// The first guest nanosecond at which tick `t` has been reached.
pub fn ticks_to_ns(t: u64) -> u64 {
    let ns = (t as u128 * NS_PER_SEC).div_ceil(PIT_HZ as u128);
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// How a counter's count is read and written (control word bits RW1 RW0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Lsb,
    Msb,
    Word,
}

/// What a counter is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Run {
    /// Not counting whatever the gate does: after a control word (no count yet) or, in mode
    /// 0, after the first byte of a two-byte count. CE and OUT hold.
    Idle { ce: u32, out: bool },
    /// Modes 0 and 4 with GATE low: counting suspended at `ce`.
    Paused { ce: u32, fired: bool },
    /// Modes 0, 1, 4, 5: counting down from `ce0` (1..=modulus ticks to terminal count) since
    /// tick `start`; `fired`: terminal count was already reached before `start`.
    OneShot { start: u64, ce0: u32, fired: bool },
    /// Modes 1 and 5 waiting for a trigger, modes 2 and 3 while GATE is low. OUT high.
    WaitGate { ce: u32 },
    /// Modes 2 and 3: period `n` ticks since `start`; `next` is a count written meanwhile,
    /// loaded at the given tick (the end of the current cycle).
    Periodic { start: u64, n: u32, next: Option<(u64, u32)> },
}

#[derive(Clone, Debug)]
struct Counter {
    /// Control word bits 5-0 as written (RW1 RW0 M2 M1 M0 BCD), for the status byte.
    control: u8,
    /// Mode 0-5 (6 and 7 alias 2 and 3).
    mode: u8,
    bcd: bool,
    access: Access,
    /// Count register: the last count written.
    cr: u16,
    /// A count was written since the control word.
    has_count: bool,
    /// Word access: the next byte written is the MSB.
    write_msb_next: bool,
    /// Word access: the next byte read is the MSB (shared by latched and live reads).
    read_msb_next: bool,
    /// Output latch (counter latch / read-back): the count as read, held until read.
    latched: Option<u16>,
    /// Status latch (read-back).
    status: Option<u8>,
    /// The count register has not been loaded into the counting element yet.
    null_count: bool,
    gate: bool,
    run: Run,
}

impl Counter {
    fn new(gate: bool) -> Self {
        Counter {
            control: 0x30,
            mode: 0,
            bcd: false,
            access: Access::Word,
            cr: 0,
            has_count: false,
            write_msb_next: false,
            read_msb_next: false,
            latched: None,
            status: None,
            null_count: true,
            gate,
            run: Run::Idle { ce: 0, out: false },
        }
    }

    /// Counts wrap at 2^16 in binary and at 10^4 in BCD.
    fn modulus(&self) -> u32 {
        if self.bcd { 10_000 } else { 0x1_0000 }
    }

    /// The initial count N the count register stands for (0 is the largest count).
    fn initial_count(&self) -> u32 {
        let m = self.modulus();
        let v = if self.bcd { from_bcd(self.cr as u32) } else { self.cr as u32 };
        if v == 0 { m } else { v.min(m) }
    }

    /// Apply a count written for the next cycle once its time has come.
    fn sync(&mut self, t: u64) {
        if let Run::Periodic { next: Some((at, n)), .. } = self.run {
            if t >= at {
                self.run = Run::Periodic { start: at, n, next: None };
                self.null_count = false;
            }
        }
    }

    /// The counting element at tick `t` (after [`Counter::sync`]), 0..modulus.
    fn ce(&self, t: u64) -> u32 {
        let m = self.modulus() as i128;
        match self.run {
            Run::Idle { ce, .. } | Run::Paused { ce, .. } | Run::WaitGate { ce } => ce,
            Run::OneShot { start, ce0, .. } => {
                let e = t.saturating_sub(start) as i128;
                (ce0 as i128 - e).rem_euclid(m) as u32
            }
            Run::Periodic { start, n, .. } => {
                let n64 = n as u64;
                let p = t.saturating_sub(start) % n64;
                let v = if self.mode == 3 {
                    // Datasheet, mode 3: even counts decrement by two from N in each half;
                    // odd counts load N-1 and OUT stays high one clock longer.
                    if n % 2 == 0 {
                        n64 - 2 * (p % (n64 / 2))
                    } else {
                        let high = n64.div_ceil(2);
                        let q = if p < high { p } else { p - high };
                        (n64 - 1).saturating_sub(2 * q)
                    }
                } else {
                    n64 - p
                };
                (v % self.modulus() as u64) as u32
            }
        }
    }

    /// The OUT pin at tick `t` (after [`Counter::sync`]).
    fn out(&self, t: u64) -> bool {
        match self.run {
            Run::Idle { out, .. } => out,
            Run::Paused { fired, .. } => self.mode != 0 || fired,
            Run::WaitGate { .. } => true,
            Run::OneShot { start, ce0, fired } => {
                let e = t.saturating_sub(start);
                match self.mode {
                    // Mode 0: low until terminal count. Mode 1: low from the trigger until
                    // terminal count.
                    0 | 1 => fired || e >= ce0 as u64,
                    // Modes 4 and 5: a one-clock low strobe at terminal count.
                    _ => fired || e != ce0 as u64,
                }
            }
            Run::Periodic { start, n, .. } => {
                let n = n as u64;
                let p = t.saturating_sub(start) % n;
                if self.mode == 3 { p < n.div_ceil(2) } else { p + 1 != n }
            }
        }
    }

    /// The first rising edge of OUT strictly after tick `t`.
    fn next_edge_after(&self, t: u64) -> Option<u64> {
        fn periodic(start: u64, n: u32, t: u64) -> Option<u64> {
            // Counts of 1 are illegal in modes 2 and 3: no edges.
            if n < 2 {
                return None;
            }
            let n = n as u64;
            let k = t.saturating_sub(start) / n + 1;
            Some(start + k * n)
        }
        match self.run {
            Run::OneShot { start, ce0, fired: false } => {
                let at = match self.mode {
                    0 | 1 => start + ce0 as u64,
                    _ => start + ce0 as u64 + 1,
                };
                (at > t).then_some(at)
            }
            Run::Periodic { start, n, next } => {
                let edge = periodic(start, n, t);
                match next {
                    Some((at, n2)) => match edge {
                        Some(e) if e <= at => Some(e),
                        // The reload tick is itself an edge of the old cycle.
                        _ if t < at => Some(at),
                        _ => periodic(at, n2, t),
                    },
                    None => edge,
                }
            }
            _ => None,
        }
    }

    /// The count as the CPU reads it: binary, or four BCD digits.
    fn format(&self, ce: u32) -> u16 {
        if self.bcd { to_bcd(ce % 10_000) as u16 } else { ce as u16 }
    }

    fn status_byte(&self, t: u64) -> u8 {
        (self.out(t) as u8) << 7 | (self.null_count as u8) << 6 | (self.control & 0x3F)
    }

    fn set_control(&mut self, cw: u8, t: u64) {
        let ce = self.ce(t);
        self.control = cw & 0x3F;
        self.bcd = cw & 1 != 0;
        self.mode = match (cw >> 1) & 7 {
            6 => 2,
            7 => 3,
            m => m,
        };
        self.access = match (cw >> 4) & 3 {
            1 => Access::Lsb,
            2 => Access::Msb,
            _ => Access::Word,
        };
        // "When a Control Word is written to a Counter, all Control Logic is immediately
        // reset and OUT goes to a known initial state": low in mode 0, high otherwise.
        self.run = Run::Idle { ce: ce % self.modulus(), out: self.mode != 0 };
        self.has_count = false;
        self.null_count = true;
        self.write_msb_next = false;
        self.read_msb_next = false;
        self.latched = None;
        self.status = None;
    }

    fn latch_count(&mut self, t: u64) {
        // A second latch before the first is read is ignored.
        if self.latched.is_none() {
            self.latched = Some(self.format(self.ce(t)));
        }
    }

    fn latch_status(&mut self, t: u64) {
        if self.status.is_none() {
            self.status = Some(self.status_byte(t));
        }
    }

    /// A byte written to the counter's port.
    fn write(&mut self, v: u8, t: u64) {
        match self.access {
            Access::Lsb => self.cr = v as u16,
            Access::Msb => self.cr = (v as u16) << 8,
            Access::Word => {
                if !self.write_msb_next {
                    self.cr = (self.cr & 0xFF00) | v as u16;
                    self.write_msb_next = true;
                    if self.mode == 0 {
                        // Mode 0: "writing the first byte disables counting; OUT is set low
                        // immediately".
                        self.run = Run::Idle { ce: self.ce(t), out: false };
                    }
                    return;
                }
                self.cr = (self.cr & 0x00FF) | (v as u16) << 8;
                self.write_msb_next = false;
            }
        }
        self.load(t);
    }

    /// A whole new count has been written.
    fn load(&mut self, t: u64) {
        self.has_count = true;
        self.null_count = true;
        let n = self.initial_count();
        match self.mode {
            0 | 4 => {
                self.null_count = false;
                self.run = if self.gate {
                    Run::OneShot { start: t, ce0: n, fired: false }
                } else {
                    Run::Paused { ce: n % self.modulus(), fired: false }
                };
            }
            1 | 5 => {
                // Loaded on the next trigger; a running one-shot is not disturbed.
                if let Run::Idle { ce, .. } = self.run {
                    self.run = Run::WaitGate { ce };
                }
            }
            _ => match self.run {
                Run::Periodic { start, n: cur, next } => {
                    let at = match next {
                        Some((at, _)) => at,
                        None => start + (t.saturating_sub(start) / cur as u64 + 1) * cur as u64,
                    };
                    self.run = Run::Periodic { start, n: cur, next: Some((at, n)) };
                }
                _ if self.gate => {
                    self.null_count = false;
                    self.run = Run::Periodic { start: t, n, next: None };
                }
                Run::Idle { ce, .. } => self.run = Run::WaitGate { ce },
                _ => {}
            },
        }
    }

    /// The next byte the CPU reads from the counter's port.
    fn read(&mut self, t: u64) -> u8 {
        if let Some(s) = self.status.take() {
            return s;
        }
        let (value, latched) = match self.latched {
            Some(v) => (v, true),
            None => (self.format(self.ce(t)), false),
        };
        let (byte, done) = match self.access {
            Access::Lsb => (value as u8, true),
            Access::Msb => ((value >> 8) as u8, true),
            Access::Word => {
                let msb = self.read_msb_next;
                self.read_msb_next = !msb;
                if msb { ((value >> 8) as u8, true) } else { (value as u8, false) }
            }
        };
        if latched && done {
            self.latched = None;
        }
        byte
    }

    fn set_gate(&mut self, gate: bool, t: u64) {
        let was = self.gate;
        self.gate = gate;
        if gate && !was {
            match self.mode {
                // Rising edge: (re)trigger from the count register.
                1 | 5 if self.has_count => {
                    self.null_count = false;
                    self.run = Run::OneShot { start: t, ce0: self.initial_count(), fired: false };
                }
                2 | 3 if self.has_count => {
                    self.null_count = false;
                    self.run = Run::Periodic { start: t, n: self.initial_count(), next: None };
                }
                // High level re-enables counting.
                0 | 4 => {
                    if let Run::Paused { ce, fired } = self.run {
                        let ce0 = if ce == 0 { self.modulus() } else { ce };
                        self.run = Run::OneShot { start: t, ce0, fired };
                    }
                }
                _ => {}
            }
        } else if !gate && was {
            match (self.mode, self.run) {
                // Low level disables counting.
                (0 | 4, Run::OneShot { start, ce0, fired }) => {
                    let fired = fired || t.saturating_sub(start) >= ce0 as u64;
                    self.run = Run::Paused { ce: self.ce(t), fired };
                }
                // Low level disables counting and sets OUT high at once.
                (2 | 3, Run::Periodic { .. }) => self.run = Run::WaitGate { ce: self.ce(t) },
                _ => {}
            }
        }
    }
}

/// The three counters, their wiring on a PC, and port 0x61.
pub struct Pit {
    clock: Clock,
    irq0: Irq,
    counters: [Counter; 3],
    /// IRQ 0 edges up to this tick have been raised.
    polled_tick: u64,
    /// Port 0x61 bits 0-3 as written: counter 2 gate, speaker data, parity and I/O channel
    /// check disables.
    port_b: u8,
}

impl Pit {
    /// Counters unprogrammed and not counting (nothing interrupts until the BIOS programs
    /// counter 0); gates 0 and 1 tied high, gate 2 low (port 0x61 bit 0 clear).
    pub fn new(clock: Clock, irq0: Irq) -> Self {
        let polled_tick = ns_to_ticks(clock.now_ns());
        Pit {
            clock,
            irq0,
            counters: [Counter::new(true), Counter::new(true), Counter::new(false)],
            polled_tick,
            port_b: 0,
        }
    }

    /// Raise the IRQ 0 edge (counter 0's OUT rising) if one was due by `now_ns`.
    pub fn poll(&mut self, now_ns: u64) {
        let t = ns_to_ticks(now_ns);
        if t < self.polled_tick {
            return;
        }
        if self.counters[0].next_edge_after(self.polled_tick).is_some_and(|e| e <= t) {
            self.irq0.pulse();
        }
        for c in &mut self.counters {
            c.sync(t);
        }
        self.polled_tick = t;
    }

    /// Guest time of the next IRQ 0 edge, if counter 0 will produce one.
    pub fn next_event_ns(&self) -> Option<u64> {
        self.counters[0].next_edge_after(self.polled_tick).map(ticks_to_ns)
    }

    /// Bring the counters up to the clock's present; returns the current tick.
    fn now(&mut self) -> u64 {
        self.poll(self.clock.now_ns());
        self.polled_tick
    }

    /// A read from port 0x40 + `port` (0-2: counters; 3: the write-only control register).
    pub fn read_port(&mut self, port: u8) -> u8 {
        let t = self.now();
        match self.counters.get_mut(port as usize) {
            Some(c) => c.read(t),
            None => 0xFF,
        }
    }

    /// A write to port 0x40 + `port`: a count (0-2) or a control word (3).
    pub fn write_port(&mut self, port: u8, v: u8) {
        let t = self.now();
        match port {
            0..=2 => self.counters[port as usize].write(v, t),
            3 => self.write_control(v, t),
            _ => dev_debug!("pit: write {v:#x} to port offset {port}"),
        }
    }

    fn write_control(&mut self, v: u8, t: u64) {
        let sc = v >> 6;
        if sc == 3 {
            // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3
            // select counters 0-2.
            for (i, c) in self.counters.iter_mut().enumerate() {
                if v & (2 << i) != 0 {
                    if v & 0x20 == 0 {
                        c.latch_count(t);
                    }
                    if v & 0x10 == 0 {
                        c.latch_status(t);
                    }
                }
            }
            return;
        }
        let c = &mut self.counters[sc as usize];
        if v & 0x30 == 0 {
            c.latch_count(t);
        } else {
            c.set_control(v, t);
        }
    }

    /// Port 0x61 as read: bits 0-3 as written, bit 4 refresh toggle, bit 5 counter 2 OUT.
    pub fn read_port_b(&mut self) -> u8 {
        let t = self.now();
        let refresh = (t / REFRESH_TICKS) & 1 != 0;
        self.port_b | (refresh as u8) << 4 | (self.counters[2].out(t) as u8) << 5
    }

    /// Port 0x61 as written: bit 0 is counter 2's gate; bits 1-3 are kept.
    pub fn write_port_b(&mut self, v: u8) {
        let t = self.now();
        self.port_b = v & 0x0F;
        self.counters[2].set_gate(v & 1 != 0, t);
    }

    /// Counter `i`'s OUT pin now (false for a counter that does not exist).
    pub fn out(&mut self, i: usize) -> bool {
        let t = self.now();
        self.counters.get(i).is_some_and(|c| c.out(t))
    }
}

/// Bus adapter for ports 0x40-0x43 ([`crate::layout::PORT_PIT`], 4 ports).
pub struct PitPort(pub Arc<Mutex<Pit>>);

impl BusDevice for PitPort {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let mut p = lock(&self.0);
        read_bytes("pit", 4, offset, data, |off| p.read_port(off as u8));
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut p = lock(&self.0);
        write_bytes("pit", 4, offset, data, |off, v| p.write_port(off as u8, v));
    }
}

/// Bus adapter for system control port B ([`crate::layout::PORT_SYSTEM_B`], 1 port).
pub struct PortB(pub Arc<Mutex<Pit>>);

impl BusDevice for PortB {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let mut p = lock(&self.0);
        read_bytes("port 0x61", 1, offset, data, |_| p.read_port_b());
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut p = lock(&self.0);
        write_bytes("port 0x61", 1, offset, data, |_, v| p.write_port_b(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::TestIrq;
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

    struct Rig {
        pit: Pit,
        clock: Clock,
        irq: Arc<TestIrq>,
    }

    impl Rig {
        fn new() -> Self {
            let clock = Clock::virtual_clock(Arc::new(AtomicU64::new(0)));
            let irq = Arc::new(TestIrq::default());
            Rig { pit: Pit::new(clock.clone(), irq.clone()), clock, irq }
        }

        /// Move guest time to tick `t` and poll, as the machine's loop does.
        fn at(&mut self, t: u64) -> &mut Self {
            self.clock.skip_to(ticks_to_ns(t));
            self.pit.poll(self.clock.now_ns());
            self
        }

        fn edges(&self) -> u32 {
            self.irq.edges.load(SeqCst)
        }

        fn program(&mut self, counter: u8, cw_mode: u8, count: u16) {
            self.pit.write_port(3, counter << 6 | 0x30 | cw_mode << 1);
            self.pit.write_port(counter, count as u8);
            self.pit.write_port(counter, (count >> 8) as u8);
        }

        fn read_count(&mut self, counter: u8) -> u16 {
            let lo = self.pit.read_port(counter) as u16;
            lo | (self.pit.read_port(counter) as u16) << 8
        }
    }

    #[test]
    fn time_conversions_round_trip() {
        assert_eq!(ns_to_ticks(1_000_000_000), PIT_HZ);
        for t in [0, 1, 2, 17, 65536, 1 << 40] {
            assert_eq!(ns_to_ticks(ticks_to_ns(t)), t);
            assert_eq!(ns_to_ticks(ticks_to_ns(t) - (t > 0) as u64), t.saturating_sub(1));
        }
    }

    #[test]
    fn unprogrammed_pit_raises_nothing() {
        let mut r = Rig::new();
        r.at(1_000_000);
        assert_eq!(r.edges(), 0);
        assert_eq!(r.pit.next_event_ns(), None);
    }

    #[test]
    fn mode2_rate_generator_interrupts_every_period() {
        let mut r = Rig::new();
        r.program(0, 2, 1000);
        assert_eq!(r.pit.next_event_ns(), Some(ticks_to_ns(1000)));
        r.at(999);
        assert_eq!(r.edges(), 0);
        r.at(1000);
        assert_eq!(r.edges(), 1);
        r.at(1999);
        assert_eq!(r.edges(), 1);
        r.at(2000);
        assert_eq!(r.edges(), 2);
        assert_eq!(r.pit.next_event_ns(), Some(ticks_to_ns(3000)));
        // Several periods missed between polls collapse into one edge.
        r.at(10_500);
        assert_eq!(r.edges(), 3);
        assert_eq!(r.pit.next_event_ns(), Some(ticks_to_ns(11_000)));
    }

    #[test]
    fn mode2_out_goes_low_for_one_clock_before_reload() {
        let mut r = Rig::new();
        r.program(0, 2, 10);
        r.at(8);
        assert!(r.pit.out(0));
        r.at(9);
        assert!(!r.pit.out(0), "CE = 1: OUT low");
        r.at(10);
        assert!(r.pit.out(0));
    }

    #[test]
    fn mode3_square_wave_18_2_hz_with_count_zero() {
        let mut r = Rig::new();
        r.program(0, 3, 0); // the BIOS's 65536: 18.2 Hz
        r.at(32767);
        assert!(r.pit.out(0));
        r.at(32768);
        assert!(!r.pit.out(0), "second half low");
        assert_eq!(r.edges(), 0);
        r.at(65536);
        assert!(r.pit.out(0));
        assert_eq!(r.edges(), 1);
        r.at(65536 * 2);
        assert_eq!(r.edges(), 2);
        // One second of guest time gives 18 or 19 interrupts.
        let mut r = Rig::new();
        r.program(0, 3, 0);
        for ms in 1..=1000 {
            r.at(ns_to_ticks(ms * 1_000_000));
        }
        assert_eq!(r.edges(), 18);
    }

    #[test]
    fn mode3_odd_count_is_high_one_clock_longer() {
        let mut r = Rig::new();
        r.program(2, 3, 5);
        r.pit.write_port_b(1);
        let outs: Vec<bool> = (0..10)
            .map(|t| {
                r.at(t);
                r.pit.out(2)
            })
            .collect();
        assert_eq!(outs, [true, true, true, false, false, true, true, true, false, false]);
    }

    #[test]
    fn mode3_even_count_reads_decrement_by_two() {
        let mut r = Rig::new();
        r.program(0, 3, 8);
        let counts: Vec<u16> = (0..8)
            .map(|t| {
                r.at(t);
                r.pit.write_port(3, 0x00);
                r.read_count(0)
            })
            .collect();
        assert_eq!(counts, [8, 6, 4, 2, 8, 6, 4, 2]);
    }

    #[test]
    fn mode0_one_shot_interrupts_once_at_terminal_count() {
        let mut r = Rig::new();
        r.program(0, 0, 500);
        assert!(!r.pit.out(0));
        r.at(499);
        assert_eq!(r.edges(), 0);
        assert!(!r.pit.out(0));
        r.at(500);
        assert_eq!(r.edges(), 1);
        assert!(r.pit.out(0));
        assert_eq!(r.pit.next_event_ns(), None);
        r.at(500 + 65536 * 3);
        assert_eq!(r.edges(), 1, "no further interrupt when the counter wraps");
        assert!(r.pit.out(0));
    }

    #[test]
    fn mode0_new_count_restarts_and_first_byte_stops_counting() {
        let mut r = Rig::new();
        r.program(0, 0, 500);
        r.at(100);
        r.pit.write_port(0, 0x10); // LSB: counting stops, OUT low
        r.at(1000);
        assert_eq!(r.edges(), 0);
        r.pit.write_port(0, 0x00); // MSB: count 0x0010 loaded
        r.at(1015);
        assert_eq!(r.edges(), 0);
        r.at(1016);
        assert_eq!(r.edges(), 1);
    }

    #[test]
    fn reading_a_counter_counts_down_and_wraps_after_terminal_count() {
        // Linux's quick_pit_calibrate reads LSB then MSB of a mode-0 count from 0xFFFF.
        let mut r = Rig::new();
        r.pit.write_port_b(1);
        r.program(2, 0, 0xFFFF);
        r.at(0x1234);
        assert_eq!(r.read_count(2), 0xFFFF - 0x1234);
        r.at(0xFFFF + 5);
        assert_eq!(r.read_count(2), 0xFFFB, "wraps through 0 to 0xFFFF and keeps going");
    }

    #[test]
    fn counter_latch_freezes_the_value_until_both_bytes_are_read() {
        let mut r = Rig::new();
        r.program(0, 2, 1000);
        r.at(100);
        r.pit.write_port(3, 0x00); // latch counter 0
        r.at(300);
        assert_eq!(r.pit.read_port(0), (900 & 0xFF) as u8);
        r.pit.write_port(3, 0x00); // ignored: the first latch is still half-read
        r.at(400);
        assert_eq!(r.pit.read_port(0), (900 >> 8) as u8);
        // Latch released: live reads resume.
        assert_eq!(r.read_count(0), 600);
    }

    #[test]
    fn read_back_latches_status_then_count() {
        let mut r = Rig::new();
        r.program(1, 2, 300);
        r.at(50);
        // Read-back, count and status, counter 1.
        r.pit.write_port(3, 0b1100_0100);
        r.at(60);
        let status = r.pit.read_port(1);
        assert_eq!(status, 0x80 | 0x34, "OUT high, count loaded, RW=3 mode 2 binary");
        assert_eq!(r.read_count(1), 250);
        // Status only, with a new count pending: NULL COUNT set.
        r.pit.write_port(1, 100);
        r.pit.write_port(1, 0);
        r.pit.write_port(3, 0b1110_0100);
        assert_eq!(r.pit.read_port(1) & 0x40, 0x40);
        r.at(300);
        r.pit.write_port(3, 0b1110_0100);
        assert_eq!(r.pit.read_port(1) & 0x40, 0, "loaded at the end of the cycle");
        r.at(399);
        assert!(!r.pit.out(1));
        r.at(400);
        assert!(r.pit.out(1), "new period of 100 from tick 300");
    }

    #[test]
    fn status_of_a_fresh_mode0_counter_shows_out_low_and_null_count() {
        let mut r = Rig::new();
        r.pit.write_port(3, 0x30); // counter 0, mode 0
        r.pit.write_port(3, 0xE2); // read-back status of counter 0
        assert_eq!(r.pit.read_port(0), 0x40 | 0x30);
    }

    #[test]
    fn bcd_counting_reads_decimal_digits() {
        let mut r = Rig::new();
        r.pit.write_port(3, 0x31); // counter 0, word, mode 0, BCD
        r.pit.write_port(0, 0x00);
        r.pit.write_port(0, 0x10); // 1000 decimal
        r.at(1);
        assert_eq!(r.read_count(0), 0x0999);
        r.at(999);
        assert_eq!(r.read_count(0), 0x0001);
        assert_eq!(r.edges(), 0);
        r.at(1000);
        assert_eq!(r.edges(), 1);
        r.at(1001);
        assert_eq!(r.read_count(0), 0x9999, "BCD wraps at 10000");
    }

    #[test]
    fn lsb_only_and_msb_only_access() {
        let mut r = Rig::new();
        r.pit.write_port(3, 0x14); // counter 0, LSB only, mode 2
        r.pit.write_port(0, 200);
        r.at(50);
        assert_eq!(r.pit.read_port(0), 150);
        assert_eq!(r.pit.read_port(0), 150, "every read is the LSB");
        r.pit.write_port(3, 0x24); // MSB only, mode 2
        r.pit.write_port(0, 0x02); // count 0x200
        r.at(50 + 0x100);
        assert_eq!(r.pit.read_port(0), 0x01);
    }

    #[test]
    fn port_61_bit5_rises_after_mode0_count_on_counter_2() {
        let mut r = Rig::new();
        // GRUB's tsc_pit: gate off, program counter 2 mode 0, gate on, wait for bit 5.
        r.pit.write_port_b(0x00);
        r.program(2, 0, 0xFFFF);
        r.pit.write_port_b(0x01);
        let start = r.pit.polled_tick;
        r.at(start + 0xFFFE);
        assert_eq!(r.pit.read_port_b() & 0x20, 0);
        r.at(start + 0xFFFF);
        assert_eq!(r.pit.read_port_b() & 0x21, 0x21);
        assert_eq!(r.edges(), 0, "counter 2 is not wired to IRQ 0");
    }

    #[test]
    fn gate_low_holds_a_mode0_count() {
        let mut r = Rig::new();
        r.program(2, 0, 100); // gate 2 low: loaded, not counting
        r.at(500);
        assert_eq!(r.read_count(2), 100);
        r.pit.write_port_b(1);
        r.at(540);
        assert_eq!(r.read_count(2), 60);
        r.pit.write_port_b(0);
        r.at(1000);
        assert_eq!(r.read_count(2), 60);
        assert_eq!(r.pit.read_port_b() & 0x20, 0);
        r.pit.write_port_b(1);
        r.at(1060);
        assert_eq!(r.pit.read_port_b() & 0x20, 0x20);
    }

    #[test]
    fn gate_low_forces_mode3_out_high_and_rising_gate_restarts() {
        let mut r = Rig::new();
        r.pit.write_port_b(1);
        r.program(2, 3, 100);
        r.at(60);
        assert_eq!(r.pit.read_port_b() & 0x20, 0, "second half: low");
        r.pit.write_port_b(0);
        assert_eq!(r.pit.read_port_b() & 0x20, 0x20, "gate low: OUT high at once");
        r.at(500);
        r.pit.write_port_b(1);
        r.at(549);
        assert_eq!(r.pit.read_port_b() & 0x20, 0x20);
        r.at(550);
        assert_eq!(r.pit.read_port_b() & 0x20, 0, "restarted at 500");
    }

    #[test]
    fn mode1_one_shot_is_triggered_by_the_gate() {
        let mut r = Rig::new();
        r.program(2, 1, 10);
        assert!(r.pit.out(2));
        r.at(100);
        assert!(r.pit.out(2), "no trigger yet");
        r.pit.write_port_b(1);
        r.at(105);
        assert!(!r.pit.out(2));
        r.at(110);
        assert!(r.pit.out(2));
        // Retrigger.
        r.pit.write_port_b(0);
        r.pit.write_port_b(1);
        r.at(115);
        assert!(!r.pit.out(2));
    }

    #[test]
    fn mode4_strobes_once_and_mode5_strobes_on_trigger() {
        let mut r = Rig::new();
        r.program(0, 4, 10);
        r.at(9);
        assert_eq!(r.edges(), 0);
        r.at(10);
        assert!(!r.pit.out(0), "strobe low at terminal count");
        r.at(11);
        assert!(r.pit.out(0));
        assert_eq!(r.edges(), 1);
        r.at(11 + 65536 * 2);
        assert_eq!(r.edges(), 1);

        let mut r = Rig::new();
        r.program(2, 5, 10);
        r.at(50);
        assert!(r.pit.out(2));
        r.pit.write_port_b(1);
        r.at(60);
        assert!(!r.pit.out(2));
        r.at(61);
        assert!(r.pit.out(2));
    }

    #[test]
    fn mode2_count_of_one_raises_nothing() {
        let mut r = Rig::new();
        r.program(0, 2, 1);
        r.at(100);
        assert_eq!(r.edges(), 0);
        assert_eq!(r.pit.next_event_ns(), None);
    }

    #[test]
    fn refresh_toggle_flips_every_15_us() {
        let mut r = Rig::new();
        let b0 = r.pit.read_port_b() & 0x10;
        r.at(REFRESH_TICKS);
        let b1 = r.pit.read_port_b() & 0x10;
        r.at(2 * REFRESH_TICKS);
        let b2 = r.pit.read_port_b() & 0x10;
        assert_ne!(b0, b1);
        assert_eq!(b0, b2);
    }

    #[test]
    fn adapters_map_counters_control_and_port_b() {
        let r = Rig::new();
        let pit = Arc::new(Mutex::new(r.pit));
        let mut ports = PitPort(pit.clone());
        let mut b = PortB(pit.clone());
        ports.write(3, &[0xB0]);
        ports.write(2, &[0x34]);
        ports.write(2, &[0x12]);
        b.write(0, &[0x03]);
        let mut d = [0u8];
        b.read(0, &mut d);
        assert_eq!(d[0] & 0x0F, 0x03);
        let mut w = [0u8; 2];
        ports.read(2, &mut w); // split: counter 2 (LSB), then the control port
        assert_eq!(w, [0x34, 0xFF]);
        ports.read(3, &mut d);
        assert_eq!(d[0], 0xFF);
    }
}

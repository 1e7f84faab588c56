//! MC146818 real-time clock and CMOS NVRAM at ports 0x70 (index, bit 7 = NMI mask) and 0x71.
//!
//! References: Motorola MC146818A datasheet ("Address Map", "Time, Calendar and Alarm Data
//! Modes", "Update Cycle", registers A-D, "Interrupts"); IBM PC AT Technical Reference
//! ("CMOS RAM Address Map"); QEMU hw/rtc/mc146818rtc.c and hw/i386/pc.c for the memory-size
//! bytes modern BIOSes read (0x34/0x35, 0x5B-0x5D).
//!
//! The clock is not stepped: the time is "UNIX nanoseconds = offset + guest nanoseconds",
//! with the offset set from the host's UTC clock at start (or from the guest through the SET
//! bit), so the RTC advances with the guest [`Clock`]. The time registers are computed when
//! read. Interrupt flags (register C) are brought up to date on every access and by
//! [`Cmos::poll`], which the machine calls as it does the PIT's. The update cycle is modelled
//! as instantaneous at each second boundary, with UIP set in the 244 us before it. Register
//! A's divider bits (DV2-DV0) are stored but do not stop the clock; DSE is ignored; the
//! day-of-week register is computed from the date (a value the guest writes there is not
//! kept once the clock runs).

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{dev_debug, from_bcd, read_bytes, to_bcd, write_bytes};
use crate::bus::{BusDevice, lock};
use crate::clock::Clock;
use crate::irq::Irq;

pub const REG_SECONDS: u8 = 0x00;
pub const REG_SECONDS_ALARM: u8 = 0x01;
pub const REG_MINUTES: u8 = 0x02;
pub const REG_MINUTES_ALARM: u8 = 0x03;
pub const REG_HOURS: u8 = 0x04;
pub const REG_HOURS_ALARM: u8 = 0x05;
pub const REG_WEEKDAY: u8 = 0x06;
pub const REG_DAY: u8 = 0x07;
pub const REG_MONTH: u8 = 0x08;
pub const REG_YEAR: u8 = 0x09;
pub const REG_A: u8 = 0x0A;
pub const REG_B: u8 = 0x0B;
pub const REG_C: u8 = 0x0C;
pub const REG_D: u8 = 0x0D;
/// Floppy drive types (high nibble drive A, low drive B); 0 = none.
pub const NVRAM_FLOPPY: u8 = 0x10;
/// Hard disk types (IBM AT); 0 = none, the BIOS reports disks through INT 13h.
pub const NVRAM_HARD_DISK: u8 = 0x12;
/// Equipment byte: bit 1 FPU, bit 2 PS/2 mouse, bits 4-5 display (0 = EGA/VGA), bits 6-7
/// number of floppies minus one (with bit 0 = floppies present).
pub const NVRAM_EQUIPMENT: u8 = 0x14;
/// Base memory in KiB (low, high byte).
pub const NVRAM_BASE_MEMORY: u8 = 0x15;
/// Extended memory above 1 MiB in KiB, up to 0xFFFF (low, high byte); copied at 0x30/0x31.
pub const NVRAM_EXT_MEMORY: u8 = 0x17;
/// Checksum of 0x10-0x2D (high byte at 0x2E, low at 0x2F).
pub const NVRAM_CHECKSUM: u8 = 0x2E;
/// Extended memory as POST found it (a copy of 0x17/0x18).
pub const NVRAM_EXT_MEMORY_POST: u8 = 0x30;
/// Century, in the clock's BCD or binary format (IBM PS/2 convention).
pub const REG_CENTURY: u8 = 0x32;
/// Memory between 16 MiB and 4 GiB in 64 KiB units (low, high byte) (SeaBIOS, QEMU).
pub const NVRAM_MEMORY_ABOVE_16M: u8 = 0x34;
/// Memory above 4 GiB in 64 KiB units, three bytes (SeaBIOS, QEMU).
pub const NVRAM_MEMORY_ABOVE_4G: u8 = 0x5B;

/// Size of the CMOS RAM (clock registers plus NVRAM) the ports reach.
pub const CMOS_SIZE: usize = 128;

const A_UIP: u8 = 0x80;
const B_SET: u8 = 0x80;
const B_PIE: u8 = 0x40;
const B_AIE: u8 = 0x20;
const B_UIE: u8 = 0x10;
const B_DM_BINARY: u8 = 0x04;
const B_24H: u8 = 0x02;
const C_IRQF: u8 = 0x80;
const C_PF: u8 = 0x40;
const C_AF: u8 = 0x20;
const C_UF: u8 = 0x10;
const D_VRT: u8 = 0x80;

const NS: i128 = 1_000_000_000;
/// UIP rises this long before each update ("UIP ... will not occur for at least 244 us").
const UIP_NS: i128 = 244_000;
/// The time base: a 32.768 kHz crystal divided down (register A DV = 010).
const TIME_BASE_HZ: i128 = 32_768;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CmosError {
    #[error("CMOS index {0:#x} is a clock register, not NVRAM; program the clock through its ports")]
    ClockRegister(u8),
    #[error("CMOS index {0:#x} is past the {CMOS_SIZE}-byte CMOS RAM")]
    OutOfRange(u8),
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
/// `month` must be 1-12; `day` may overflow the month (it carries over, as mktime does).
pub fn days_from_civil(year: i64, month: u32, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + (day - 1)
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (civil_from_days).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

/// A broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
}

impl DateTime {
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let s = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            hour: s / 3600,
            minute: s / 60 % 60,
            second: s % 60,
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    pub fn to_unix(&self) -> i64 {
        days_from_civil(self.year, self.month.clamp(1, 12), self.day as i64) * 86_400
            + self.hour as i64 * 3600
            + self.minute as i64 * 60
            + self.second as i64
    }
}

/// The host's UTC time in nanoseconds since 1970 (0 if the host clock is before 1970).
pub fn host_unix_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

/// The RTC and its NVRAM.
pub struct Cmos {
    clock: Clock,
    irq: Irq,
    irq_level: bool,
    index: u8,
    nmi_masked: bool,
    /// Clock registers while SET is on, alarms, registers A-D and the NVRAM.
    data: [u8; CMOS_SIZE],
    /// UNIX time in ns = `offset_ns` + guest ns.
    offset_ns: i128,
    /// Interrupt flags are up to date until this guest time.
    polled_ns: u64,
}

/// The registers that hold the running time (computed when read unless SET is on).
fn is_time_register(i: u8) -> bool {
    matches!(i, REG_SECONDS | REG_MINUTES | REG_HOURS | REG_WEEKDAY | REG_DAY | REG_MONTH | REG_YEAR | REG_CENTURY)
}

impl Cmos {
    /// An RTC set to the host's present UTC time, with the memory-size fields for
    /// `ram_below_4g` bytes of RAM under 4 GiB and `ram_above_4g` bytes above it.
    pub fn new(clock: Clock, irq8: Irq, ram_below_4g: u64, ram_above_4g: u64) -> Self {
        let polled_ns = clock.now_ns();
        let mut c = Cmos {
            clock,
            irq: irq8,
            irq_level: false,
            index: 0,
            nmi_masked: false,
            data: [0; CMOS_SIZE],
            offset_ns: 0,
            polled_ns,
        };
        c.data[REG_A as usize] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
        c.data[REG_B as usize] = B_24H; // 24-hour, BCD, no interrupts
        c.data[REG_D as usize] = D_VRT;
        c.set_unix_ns(host_unix_ns());
        c.data[NVRAM_FLOPPY as usize] = 0;
        c.data[NVRAM_HARD_DISK as usize] = 0;
        c.data[NVRAM_EQUIPMENT as usize] = 0x06;
        c.set_memory(ram_below_4g, ram_above_4g);
        c
    }

    /// Fill in the memory-size fields (see the `NVRAM_*` constants) and the checksum.
    pub fn set_memory(&mut self, below_4g: u64, above_4g: u64) {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * KIB;
        let base = (below_4g / KIB).min(640) as u16;
        let ext = (below_4g.saturating_sub(MIB) / KIB).min(0xFFFF) as u16;
        let above_16m = (below_4g.saturating_sub(16 * MIB) / (64 * KIB)).min(0xFFFF) as u16;
        let above_4g = (above_4g / (64 * KIB)).min(0xFF_FFFF) as u32;
        let d = &mut self.data;
        d[NVRAM_BASE_MEMORY as usize..][..2].copy_from_slice(&base.to_le_bytes());
        d[NVRAM_EXT_MEMORY as usize..][..2].copy_from_slice(&ext.to_le_bytes());
        d[NVRAM_EXT_MEMORY_POST as usize..][..2].copy_from_slice(&ext.to_le_bytes());
        d[NVRAM_MEMORY_ABOVE_16M as usize..][..2].copy_from_slice(&above_16m.to_le_bytes());
        d[NVRAM_MEMORY_ABOVE_4G as usize..][..3].copy_from_slice(&above_4g.to_le_bytes()[..3]);
        self.update_checksum();
    }

    fn update_checksum(&mut self) {
        let sum: u16 = self.data[0x10..=0x2D].iter().map(|&b| b as u16).sum();
        self.data[NVRAM_CHECKSUM as usize..][..2].copy_from_slice(&sum.to_be_bytes());
    }

    /// Set an NVRAM byte (index 0x0E and up, except the century); keeps the 0x10-0x2D
    /// checksum right.
    pub fn set_nvram(&mut self, index: u8, value: u8) -> Result<(), CmosError> {
        if index < 0x0E || index == REG_CENTURY {
            return Err(CmosError::ClockRegister(index));
        }
        let slot = self.data.get_mut(index as usize).ok_or(CmosError::OutOfRange(index))?;
        *slot = value;
        if (0x10..=0x2D).contains(&index) {
            self.update_checksum();
        }
        Ok(())
    }

    /// An NVRAM byte as stored (no side effects, unlike a guest read of register C).
    pub fn nvram(&self, index: u8) -> Option<u8> {
        self.data.get(index as usize).copied()
    }

    /// Whether the guest masked NMI through bit 7 of the index port (kept, not acted on).
    pub fn nmi_masked(&self) -> bool {
        self.nmi_masked
    }

    /// Set the clock to `unix_ns` (UTC) now, keeping its sub-second phase.
    pub fn set_unix_ns(&mut self, unix_ns: i128) {
        let now = self.clock.now_ns();
        self.poll(now);
        self.offset_ns = unix_ns - now as i128;
    }

    /// The clock's present UTC time in seconds since 1970 (while SET is on: the time the
    /// registers hold).
    pub fn unix_secs(&self) -> i64 {
        if self.set_mode() {
            self.registers_time().to_unix()
        } else {
            self.unix_ns_at(self.clock.now_ns()).div_euclid(NS) as i64
        }
    }

    fn unix_ns_at(&self, guest_ns: u64) -> i128 {
        self.offset_ns + guest_ns as i128
    }

    fn set_mode(&self) -> bool {
        self.data[REG_B as usize] & B_SET != 0
    }

    fn binary(&self) -> bool {
        self.data[REG_B as usize] & B_DM_BINARY != 0
    }

    fn encode(&self, v: u32) -> u8 {
        if self.binary() { v as u8 } else { to_bcd(v % 100) as u8 }
    }

    fn decode(&self, b: u8) -> u32 {
        if self.binary() { b as u32 } else { from_bcd(b as u32) }
    }

    fn encode_hour(&self, h: u32) -> u8 {
        if self.data[REG_B as usize] & B_24H != 0 {
            self.encode(h)
        } else {
            let h12 = if h % 12 == 0 { 12 } else { h % 12 };
            self.encode(h12) | if h >= 12 { 0x80 } else { 0 }
        }
    }

    fn decode_hour(&self, b: u8) -> u32 {
        if self.data[REG_B as usize] & B_24H != 0 {
            self.decode(b)
        } else {
            self.decode(b & 0x7F) % 12 + if b & 0x80 != 0 { 12 } else { 0 }
        }
    }

    /// The value a time register shows for `t`.
    fn time_register(&self, index: u8, t: &DateTime) -> u8 {
        match index {
            REG_SECONDS => self.encode(t.second),
            REG_MINUTES => self.encode(t.minute),
            REG_HOURS => self.encode_hour(t.hour),
            REG_WEEKDAY => self.encode(t.weekday + 1),
            REG_DAY => self.encode(t.day),
            REG_MONTH => self.encode(t.month),
            REG_YEAR => self.encode(t.year.rem_euclid(100) as u32),
            REG_CENTURY => self.encode(t.year.div_euclid(100).rem_euclid(100) as u32),
            _ => 0,
        }
    }

    /// The time the (frozen) registers hold. Out-of-range fields carry over (a month
    /// outside 1-12 is clamped), so no register value can make this fail.
    fn registers_time(&self) -> DateTime {
        let d = &self.data;
        let year = self.decode(d[REG_CENTURY as usize]) as i64 * 100 + self.decode(d[REG_YEAR as usize]) as i64;
        let t = DateTime {
            year,
            month: self.decode(d[REG_MONTH as usize]).clamp(1, 12),
            day: self.decode(d[REG_DAY as usize]),
            hour: self.decode_hour(d[REG_HOURS as usize]),
            minute: self.decode(d[REG_MINUTES as usize]),
            second: self.decode(d[REG_SECONDS as usize]),
            weekday: 0,
        };
        DateTime::from_unix(t.to_unix())
    }

    /// Copy the running time into the registers (SET goes on, or a time register is written).
    fn freeze(&mut self, now: u64) {
        let t = DateTime::from_unix(self.unix_ns_at(now).div_euclid(NS) as i64);
        for i in [REG_SECONDS, REG_MINUTES, REG_HOURS, REG_WEEKDAY, REG_DAY, REG_MONTH, REG_YEAR, REG_CENTURY] {
            self.data[i as usize] = self.time_register(i, &t);
        }
    }

    /// Run the clock from the registers' time, a new second starting now.
    fn thaw(&mut self, now: u64) {
        let secs = self.registers_time().to_unix();
        self.offset_ns = secs as i128 * NS - now as i128;
    }

    /// The periodic interrupt's period in 32.768 kHz cycles (register A RS3-RS0), if on.
    fn periodic_cycles(&self) -> Option<i128> {
        match self.data[REG_A as usize] & 0x0F {
            0 => None,
            1 => Some(128),
            2 => Some(256),
            rs => Some(1 << (rs - 1)),
        }
    }

    /// Set the interrupt flags for everything that happened up to `now_ns` and drive IRQ 8.
    pub fn poll(&mut self, now_ns: u64) {
        if now_ns > self.polled_ns {
            let prev = self.unix_ns_at(self.polled_ns);
            let now = self.unix_ns_at(now_ns);
            // The divider chain runs whatever SET says: periodic flag.
            if let Some(p) = self.periodic_cycles() {
                let k = |ns: i128| (ns * TIME_BASE_HZ).div_euclid(NS).div_euclid(p);
                if k(now) > k(prev) {
                    self.data[REG_C as usize] |= C_PF;
                }
            }
            // Update cycles: one per second boundary crossed, none while SET is on.
            let (s_prev, s_now) = (prev.div_euclid(NS) as i64, now.div_euclid(NS) as i64);
            if !self.set_mode() && s_now > s_prev {
                self.data[REG_C as usize] |= C_UF;
                // The alarm compares the seconds, minutes and hours registers after each
                // update; a value of 0xC0-0xFF matches anything. The pattern repeats daily,
                // so a long gap needs at most a day of checks.
                let first = (s_prev + 1).max(s_now - 86_400);
                if (first..=s_now).any(|s| self.alarm_matches(s)) {
                    self.data[REG_C as usize] |= C_AF;
                }
            }
            self.polled_ns = now_ns;
        }
        self.update_irq();
    }

    fn alarm_matches(&self, secs: i64) -> bool {
        let sod = secs.rem_euclid(86_400) as u32;
        let fields = [
            (REG_SECONDS_ALARM, self.encode(sod % 60)),
            (REG_MINUTES_ALARM, self.encode(sod / 60 % 60)),
            (REG_HOURS_ALARM, self.encode_hour(sod / 3600)),
        ];
        fields.iter().all(|&(reg, v)| {
            let a = self.data[reg as usize];
            a >= 0xC0 || a == v
        })
    }

    /// IRQF = PF.PIE + AF.AIE + UF.UIE, and the IRQ pin follows it.
    fn update_irq(&mut self) {
        let c = self.data[REG_C as usize];
        let irqf = c & self.data[REG_B as usize] & (C_PF | C_AF | C_UF) != 0;
        self.data[REG_C as usize] = if irqf { c | C_IRQF } else { c & !C_IRQF };
        if irqf != self.irq_level {
            self.irq_level = irqf;
            self.irq.set_level(irqf);
        }
    }

    /// Guest time at which IRQ 8 would next rise, if an enabled interrupt will fire.
    pub fn next_event_ns(&self) -> Option<u64> {
        if self.irq_level {
            return None; // already asserted until the guest reads register C
        }
        let b = self.data[REG_B as usize];
        let now = self.unix_ns_at(self.polled_ns);
        let mut next: Option<i128> = None;
        if b & (B_UIE | B_AIE) != 0 && !self.set_mode() {
            next = Some((now.div_euclid(NS) + 1) * NS);
        }
        if b & B_PIE != 0 {
            if let Some(p) = self.periodic_cycles() {
                let k = ((now * TIME_BASE_HZ).div_euclid(NS).div_euclid(p) + 1) * p;
                // The first nanosecond at which cycle k has been counted.
                let at = (k * NS + TIME_BASE_HZ - 1).div_euclid(TIME_BASE_HZ);
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        next.map(|u| u64::try_from(u - self.offset_ns).unwrap_or(u64::MAX))
    }

    /// A write to port 0x70: select a register; bit 7 masks NMI.
    pub fn write_index(&mut self, v: u8) {
        self.index = v & 0x7F;
        self.nmi_masked = v & 0x80 != 0;
    }

    /// The register port 0x70 selected.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// A read from port 0x71.
    pub fn read_data(&mut self) -> u8 {
        let now = self.clock.now_ns();
        self.poll(now);
        let i = self.index;
        match i {
            REG_A => {
                let phase = self.unix_ns_at(now).rem_euclid(NS);
                let uip = !self.set_mode() && phase >= NS - UIP_NS;
                (self.data[REG_A as usize] & 0x7F) | if uip { A_UIP } else { 0 }
            }
            REG_C => {
                // Reading C clears its flags and releases IRQ 8.
                let c = self.data[REG_C as usize];
                self.data[REG_C as usize] = 0;
                self.update_irq();
                c
            }
            _ if is_time_register(i) && !self.set_mode() => {
                let t = DateTime::from_unix(self.unix_ns_at(now).div_euclid(NS) as i64);
                self.time_register(i, &t)
            }
            _ => self.data.get(i as usize).copied().unwrap_or(0xFF),
        }
    }

    /// A write to port 0x71.
    pub fn write_data(&mut self, v: u8) {
        let now = self.clock.now_ns();
        self.poll(now);
        let i = self.index;
        match i {
            REG_A => self.data[REG_A as usize] = v & 0x7F,
            REG_B => {
                let old = self.data[REG_B as usize];
                let mut v = v;
                if v & B_SET != 0 {
                    // "UIE is cleared when SET is set."
                    v &= !B_UIE;
                    if old & B_SET == 0 {
                        self.freeze(now);
                    }
                }
                self.data[REG_B as usize] = v;
                if old & B_SET != 0 && v & B_SET == 0 {
                    self.thaw(now);
                }
                self.update_irq();
            }
            REG_C | REG_D => dev_debug!("cmos: write {v:#x} to read-only register {i:#x}"),
            _ if is_time_register(i) => {
                if self.set_mode() {
                    self.data[i as usize] = v;
                } else {
                    // Writing a time register while the clock runs sets the time at once.
                    self.freeze(now);
                    self.data[i as usize] = v;
                    self.thaw(now);
                }
            }
            _ => {
                if let Some(slot) = self.data.get_mut(i as usize) {
                    *slot = v;
                }
            }
        }
    }
}

/// Bus adapter for ports 0x70-0x71 ([`crate::layout::PORT_CMOS`], 2 ports).
pub struct CmosPort(pub Arc<Mutex<Cmos>>);

impl BusDevice for CmosPort {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let mut c = lock(&self.0);
        // The index port is write-only on the MC146818; reads float.
        read_bytes("cmos", 2, offset, data, |off| if off == 0 { 0xFF } else { c.read_data() });
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut c = lock(&self.0);
        write_bytes("cmos", 2, offset, data, |off, v| if off == 0 { c.write_index(v) } else { c.write_data(v) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::TestIrq;
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

    /// 2024-02-29 13:45:30 UTC, a Thursday.
    const LEAP_DAY: i64 = 1_709_214_330;

    struct Rig {
        cmos: Cmos,
        clock: Clock,
        irq: Arc<TestIrq>,
    }

    impl Rig {
        fn new(below: u64, above: u64) -> Self {
            let clock = Clock::virtual_clock(Arc::new(AtomicU64::new(0)));
            let irq = Arc::new(TestIrq::default());
            let mut cmos = Cmos::new(clock.clone(), irq.clone(), below, above);
            cmos.set_unix_ns(LEAP_DAY as i128 * NS);
            Rig { cmos, clock, irq }
        }

        fn at_ms(&mut self, ms: u64) {
            self.clock.skip_to(ms * 1_000_000);
            self.cmos.poll(self.clock.now_ns());
        }

        fn read(&mut self, reg: u8) -> u8 {
            self.cmos.write_index(reg);
            self.cmos.read_data()
        }

        fn write(&mut self, reg: u8, v: u8) {
            self.cmos.write_index(reg);
            self.cmos.write_data(v);
        }

        fn time(&mut self) -> [u8; 8] {
            [REG_CENTURY, REG_YEAR, REG_MONTH, REG_DAY, REG_WEEKDAY, REG_HOURS, REG_MINUTES, REG_SECONDS]
                .map(|r| self.read(r))
        }

        fn irq_high(&self) -> bool {
            self.irq.level.load(SeqCst)
        }
    }

    #[test]
    fn civil_date_conversions_agree_with_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(2023, 2, 29), days_from_civil(2023, 3, 1), "day carries over");
        let t = DateTime::from_unix(LEAP_DAY);
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second, t.weekday), (2024, 2, 29, 13, 45, 30, 4));
        assert_eq!(t.to_unix(), LEAP_DAY);
        assert_eq!(DateTime::from_unix(-1).year, 1969);
    }

    #[test]
    fn new_rtc_shows_the_host_date() {
        let clock = Clock::virtual_clock(Arc::new(AtomicU64::new(0)));
        let c = Cmos::new(clock, Arc::new(crate::irq::NoIrq), 16 << 20, 0);
        let host = (host_unix_ns() / NS) as i64;
        assert!((c.unix_secs() - host).abs() <= 2);
        assert!(DateTime::from_unix(c.unix_secs()).year >= 2024);
    }

    #[test]
    fn bcd_24_hour_time_by_default() {
        let mut r = Rig::new(16 << 20, 0);
        assert_eq!(r.time(), [0x20, 0x24, 0x02, 0x29, 0x05, 0x13, 0x45, 0x30]);
        assert_eq!(r.read(REG_A), 0x26);
        assert_eq!(r.read(REG_B), 0x02);
        assert_eq!(r.read(REG_D), 0x80, "valid RAM and time");
    }

    #[test]
    fn binary_mode_and_12_hour_mode() {
        let mut r = Rig::new(16 << 20, 0);
        r.write(REG_B, B_24H | B_DM_BINARY);
        assert_eq!(r.time(), [20, 24, 2, 29, 5, 13, 45, 30]);
        r.write(REG_B, 0); // BCD, 12-hour
        assert_eq!(r.read(REG_HOURS), 0x81, "1 PM");
        r.write(REG_B, B_DM_BINARY);
        assert_eq!(r.read(REG_HOURS), 0x81, "1 PM in binary too");
        // Midnight and noon in 12-hour mode.
        r.cmos.set_unix_ns(days_from_civil(2024, 1, 1) as i128 * 86_400 * NS);
        assert_eq!(r.read(REG_HOURS), 12);
        r.cmos.set_unix_ns((days_from_civil(2024, 1, 1) * 86_400 + 12 * 3600) as i128 * NS);
        assert_eq!(r.read(REG_HOURS), 0x80 | 12);
    }

    #[test]
    fn time_advances_with_the_guest_clock() {
        let mut r = Rig::new(16 << 20, 0);
        r.at_ms(61_000);
        assert_eq!(r.read(REG_MINUTES), 0x46);
        assert_eq!(r.read(REG_SECONDS), 0x31);
        // Across midnight into March.
        r.at_ms(61_000 + (10 * 3600 + 13 * 60 + 30) * 1000);
        assert_eq!(r.time(), [0x20, 0x24, 0x03, 0x01, 0x06, 0x00, 0x00, 0x01]);
    }

    #[test]
    fn setting_the_time_through_the_set_bit() {
        let mut r = Rig::new(16 << 20, 0);
        r.write(REG_B, B_SET | B_24H);
        for (reg, v) in [(REG_CENTURY, 0x19), (REG_YEAR, 0x99), (REG_MONTH, 0x12), (REG_DAY, 0x31)] {
            r.write(reg, v);
        }
        for (reg, v) in [(REG_HOURS, 0x23), (REG_MINUTES, 0x59), (REG_SECONDS, 0x58)] {
            r.write(reg, v);
        }
        r.at_ms(5000);
        assert_eq!(r.read(REG_SECONDS), 0x58, "frozen while SET");
        assert_eq!(r.read(REG_A) & A_UIP, 0, "no update in progress while SET");
        r.write(REG_B, B_24H);
        r.at_ms(7000);
        assert_eq!(r.time(), [0x20, 0x00, 0x01, 0x01, 0x07, 0x00, 0x00, 0x00]);
        assert_eq!(DateTime::from_unix(r.cmos.unix_secs()).year, 2000);
    }

    #[test]
    fn writing_a_time_register_while_running_sets_it() {
        let mut r = Rig::new(16 << 20, 0);
        r.write(REG_HOURS, 0x07);
        assert_eq!(r.read(REG_HOURS), 0x07);
        assert_eq!(r.read(REG_MINUTES), 0x45);
    }

    #[test]
    fn garbage_in_the_time_registers_never_panics() {
        let mut r = Rig::new(16 << 20, 0);
        r.write(REG_B, B_SET);
        for reg in [REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY, REG_MONTH, REG_YEAR, REG_CENTURY] {
            r.write(reg, 0xFF);
        }
        r.write(REG_B, 0);
        r.at_ms(3000);
        let _ = r.time();
        r.write(REG_B, B_DM_BINARY | B_24H | B_SET);
        r.write(REG_MONTH, 0);
        r.write(REG_B, B_DM_BINARY | B_24H);
        let _ = r.time();
    }

    #[test]
    fn uip_is_set_in_the_244_us_before_an_update() {
        let mut r = Rig::new(16 << 20, 0);
        r.clock.skip_to(NS as u64 - 245_000);
        assert_eq!(r.read(REG_A) & A_UIP, 0);
        r.clock.skip_to(NS as u64 - 243_000);
        assert_eq!(r.read(REG_A) & A_UIP, A_UIP);
        assert_eq!(r.read(REG_SECONDS), 0x30);
        r.clock.skip_to(NS as u64);
        assert_eq!(r.read(REG_A) & A_UIP, 0);
        assert_eq!(r.read(REG_SECONDS), 0x31);
    }

    #[test]
    fn update_ended_interrupt_until_register_c_is_read() {
        let mut r = Rig::new(16 << 20, 0);
        r.write(REG_B, B_24H | B_UIE);
        assert_eq!(r.cmos.next_event_ns(), Some(NS as u64));
        r.at_ms(999);
        assert!(!r.irq_high());
        r.at_ms(1000);
        assert!(r.irq_high());
        assert_eq!(r.cmos.next_event_ns(), None, "already asserted");
        assert_eq!(r.read(REG_C), C_IRQF | C_UF | C_PF, "PF is set too, without PIE");
        assert!(!r.irq_high());
        assert_eq!(r.read(REG_C), 0, "cleared on read");
        r.at_ms(2000);
        assert_eq!(r.irq.edges.load(SeqCst), 2);
    }

    #[test]
    fn flags_are_set_without_their_enable_but_raise_no_irq() {
        let mut r = Rig::new(16 << 20, 0);
        r.at_ms(1500);
        assert!(!r.irq_high());
        assert_eq!(r.read(REG_C), C_UF | C_PF, "update and periodic (1024 Hz default) flags");
        assert_eq!(r.cmos.next_event_ns(), None);
        // Enabling an interrupt whose flag is already set asserts IRQ 8 at once.
        r.at_ms(2500);
        r.write(REG_B, B_24H | B_UIE);
        assert!(r.irq_high());
    }

    #[test]
    fn periodic_interrupt_at_the_programmed_rate() {
        let mut r = Rig::new(16 << 20, 0);
        r.write(REG_A, 0x2F); // RS=15: 2 Hz
        r.write(REG_B, B_24H | B_PIE);
        let mut edges = 0;
        for ms in 1..=3000 {
            r.at_ms(ms);
            if r.irq_high() {
                edges += 1;
                r.read(REG_C);
            }
        }
        assert_eq!(edges, 6);
        r.write(REG_A, 0x26); // 1024 Hz
        let next = r.cmos.next_event_ns().unwrap();
        let now = r.clock.now_ns();
        assert!(next > now && next - now <= 976_563, "{}", next - now);
    }

    #[test]
    fn alarm_interrupt_when_the_time_matches() {
        let mut r = Rig::new(16 << 20, 0);
        r.write(REG_HOURS_ALARM, 0x13);
        r.write(REG_MINUTES_ALARM, 0x45);
        r.write(REG_SECONDS_ALARM, 0x33);
        r.write(REG_B, B_24H | B_AIE);
        r.at_ms(2000);
        assert!(!r.irq_high());
        r.at_ms(3000);
        assert!(r.irq_high());
        assert_eq!(r.read(REG_C), C_IRQF | C_AF | C_UF | C_PF);
        // Don't-care seconds: every second of minute 13:46.
        r.write(REG_SECONDS_ALARM, 0xFF);
        r.write(REG_MINUTES_ALARM, 0x46);
        r.at_ms(4000);
        assert_eq!(r.read(REG_C) & C_AF, 0);
        r.at_ms(30_000);
        assert_eq!(r.read(REG_C) & C_AF, C_AF);
        // A day-long gap still finds the match.
        r.write(REG_SECONDS_ALARM, 0x00);
        r.write(REG_MINUTES_ALARM, 0x00);
        r.write(REG_HOURS_ALARM, 0x05);
        r.at_ms(30_000 + 86_000_000);
        assert_eq!(r.read(REG_C) & C_AF, C_AF);
    }

    #[test]
    fn memory_fields_for_16_mib() {
        let r = Rig::new(16 << 20, 0);
        let n = |i: u8| r.cmos.nvram(i).unwrap();
        assert_eq!((n(0x15), n(0x16)), (0x80, 0x02), "640 KiB");
        assert_eq!((n(0x17), n(0x18)), (0x00, 0x3C), "15360 KiB");
        assert_eq!((n(0x30), n(0x31)), (0x00, 0x3C));
        assert_eq!((n(0x34), n(0x35)), (0, 0));
        assert_eq!((n(0x5B), n(0x5C), n(0x5D)), (0, 0, 0));
    }

    #[test]
    fn memory_fields_for_1_gib() {
        let r = Rig::new(1 << 30, 0);
        let n = |i: u8| r.cmos.nvram(i).unwrap();
        assert_eq!((n(0x17), n(0x18)), (0xFF, 0xFF), "capped");
        assert_eq!((n(0x34), n(0x35)), (0x00, 0x3F), "(1 GiB - 16 MiB) / 64 KiB = 0x3F00");
    }

    #[test]
    fn memory_fields_for_6_gib_split_at_3_gib() {
        let r = Rig::new(3 << 30, 3 << 30);
        let n = |i: u8| r.cmos.nvram(i).unwrap();
        assert_eq!((n(0x34), n(0x35)), (0x00, 0xBF), "0xBF00");
        assert_eq!((n(0x5B), n(0x5C), n(0x5D)), (0x00, 0xC0, 0x00), "3 GiB / 64 KiB = 0xC000");
    }

    #[test]
    fn checksum_covers_0x10_to_0x2d_and_follows_setters() {
        let mut r = Rig::new(16 << 20, 0);
        let sum = |c: &Cmos| (0x10..=0x2D).map(|i| c.nvram(i).unwrap() as u16).sum::<u16>();
        let stored = |c: &Cmos| u16::from_be_bytes([c.nvram(0x2E).unwrap(), c.nvram(0x2F).unwrap()]);
        assert_eq!(stored(&r.cmos), sum(&r.cmos));
        r.cmos.set_nvram(NVRAM_HARD_DISK, 0xF0).unwrap();
        assert_eq!(stored(&r.cmos), sum(&r.cmos));
        assert_eq!(r.read(NVRAM_HARD_DISK), 0xF0);
        assert_eq!(r.read(NVRAM_EQUIPMENT), 0x06);
        assert_eq!(r.read(NVRAM_FLOPPY), 0);
        assert_eq!(r.cmos.set_nvram(REG_B, 0), Err(CmosError::ClockRegister(REG_B)));
        assert_eq!(r.cmos.set_nvram(0x80, 0), Err(CmosError::OutOfRange(0x80)));
    }

    #[test]
    fn index_bit7_masks_nmi_and_selects_the_low_register() {
        let mut r = Rig::new(16 << 20, 0);
        r.cmos.write_index(0x80 | REG_SECONDS);
        assert!(r.cmos.nmi_masked());
        assert_eq!(r.cmos.read_data(), 0x30);
        r.cmos.write_index(REG_D);
        assert!(!r.cmos.nmi_masked());
    }

    #[test]
    fn adapter_reads_index_as_ff_and_data_through_the_index() {
        let r = Rig::new(16 << 20, 0);
        let cmos = Arc::new(Mutex::new(r.cmos));
        let mut port = CmosPort(cmos.clone());
        port.write(0, &[REG_MINUTES]);
        let mut d = [0u8; 2];
        port.read(0, &mut d);
        assert_eq!(d, [0xFF, 0x45]);
        port.write(0, &[0x50, 0xAB]); // 16-bit write: index 0x50, then data
        assert_eq!(lock(&cmos).nvram(0x50), Some(0xAB));
    }
}

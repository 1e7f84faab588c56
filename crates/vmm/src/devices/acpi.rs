//! The ACPI power-management registers (fixed hardware, ACPI 6.5 section 4.8): the PM1a event
//! block (PM1 status and enable), the PM1a control block (SCI_EN, SLP_TYP, SLP_EN) and the PM
//! timer (3.579545 MHz, 24 bits), at the ports the FADT names (`firmware/acpi.rs`).
//!
//! What is modelled:
//! - PM1 status (write 1 to clear): TMR_STS, set each time bit 23 of the timer changes
//!   (section 4.8.3.3), and PWRBTN_STS, set by [`AcpiPm::press_power_button`]. The other
//!   defined status bits read 0 (no bus master, global lock, sleep button, RTC or wake events
//!   are generated).
//! - PM1 enable: every defined enable bit is stored and reads back (ACPICA checks that an
//!   enable it writes sticks); TMR_EN and PWRBTN_EN route their status to the SCI.
//! - PM1 control: SCI_EN always reads 1 (there is no SMI command port: the machine is in ACPI
//!   mode from power-on, as the FADT says with SMI_CMD = 0); BM_RLS and SLP_TYP read back;
//!   GBL_RLS and SLP_EN are write-only. Writing SLP_EN with SLP_TYP = [`SLP_TYP_S5`] (the
//!   value the DSDT's `\_S5_` package gives) powers the machine off through [`Control`];
//!   other sleep types are not implemented and are ignored (the DSDT declares none).
//! - The SCI: a level-triggered line, high while SCI_EN is set and an enabled status bit is
//!   set (section 4.8.2.1), re-evaluated on every access and by [`AcpiPm::poll`].
//!
//! The timer counts guest time ([`Clock`]), so it runs at the same rate as the PIT and the
//! RTC, and deterministically with a virtual clock.

use std::sync::{Arc, Mutex};

use super::{Control, StopReason, dev_debug};
use crate::bus::{BusDevice, lock};
use crate::clock::Clock;
use crate::irq::Irq;

/// The PM timer's frequency (ACPI 6.5, 4.8.3.3: 3.579545 MHz).
pub const PM_TIMER_HZ: u64 = 3_579_545;
/// The timer is 24 bits wide (FADT flag TMR_VAL_EXT clear).
pub const PM_TIMER_MASK: u32 = 0x00FF_FFFF;
/// Bit of the timer whose changes set TMR_STS (the most significant of 24).
const TMR_MSB_SHIFT: u32 = 23;

/// Port counts of the three register blocks, as the FADT gives them.
pub const PM1_EVT_LEN: u64 = 4;
pub const PM1_CNT_LEN: u64 = 2;
pub const PM_TMR_LEN: u64 = 4;

/// SLP_TYP for S5 (soft off). The value is the platform's choice; this is the one Intel's
/// ICH9 uses (ICH9 datasheet, PM1_CNT: 111b = soft off), and the DSDT's `\_S5_` says so.
pub const SLP_TYP_S5: u8 = 7;

/// PM1 status bits (ACPI 6.5, table 4.16).
pub mod sts {
    pub const TMR: u16 = 1 << 0;
    pub const BM: u16 = 1 << 4;
    pub const GBL: u16 = 1 << 5;
    pub const PWRBTN: u16 = 1 << 8;
    pub const SLPBTN: u16 = 1 << 9;
    pub const RTC: u16 = 1 << 10;
    pub const PCIEXP_WAKE: u16 = 1 << 14;
    pub const WAK: u16 = 1 << 15;
}

/// PM1 enable bits (ACPI 6.5, table 4.17).
pub mod en {
    pub const TMR: u16 = 1 << 0;
    pub const GBL: u16 = 1 << 5;
    pub const PWRBTN: u16 = 1 << 8;
    pub const SLPBTN: u16 = 1 << 9;
    pub const RTC: u16 = 1 << 10;
    pub const PCIEXP_WAKE_DIS: u16 = 1 << 14;
    /// Every defined enable bit (they all read back).
    pub const ALL: u16 = TMR | GBL | PWRBTN | SLPBTN | RTC | PCIEXP_WAKE_DIS;
}

/// PM1 control bits (ACPI 6.5, table 4.18).
pub mod cnt {
    pub const SCI_EN: u16 = 1 << 0;
    pub const BM_RLS: u16 = 1 << 1;
    pub const GBL_RLS: u16 = 1 << 2;
    pub const SLP_TYP_SHIFT: u16 = 10;
    pub const SLP_TYP: u16 = 7 << SLP_TYP_SHIFT;
    pub const SLP_EN: u16 = 1 << 13;
}

/// Status bits that can raise the SCI (each with the enable bit at the same position).
const SCI_SOURCES: u16 = sts::TMR | sts::GBL | sts::PWRBTN | sts::SLPBTN | sts::RTC;

/// The PM1a registers and the PM timer.
pub struct AcpiPm {
    clock: Clock,
    sci: Irq,
    control: Arc<Control>,
    /// Latched status bits other than TMR_STS (which is computed from the clock).
    status: u16,
    enable: u16,
    /// BM_RLS and SLP_TYP as last written.
    cnt: u16,
    /// `ticks >> 23` when TMR_STS was last cleared: TMR_STS is set while it differs.
    tmr_epoch: u64,
    sci_level: bool,
}

impl AcpiPm {
    /// The registers at power-on: nothing pending or enabled, SCI_EN set.
    pub fn new(clock: Clock, sci: Irq, control: Arc<Control>) -> Self {
        AcpiPm { clock, sci, control, status: 0, enable: 0, cnt: 0, tmr_epoch: 0, sci_level: false }
    }

    /// Timer ticks since power-on (not wrapped).
    fn ticks_at(now_ns: u64) -> u64 {
        (now_ns as u128 * PM_TIMER_HZ as u128 / 1_000_000_000) as u64
    }

    fn ticks(&self) -> u64 {
        Self::ticks_at(self.clock.now_ns())
    }

    /// The PM timer register: a free-running 24-bit count at 3.579545 MHz.
    pub fn timer(&self) -> u32 {
        self.ticks() as u32 & PM_TIMER_MASK
    }

    fn status_at(&self, ticks: u64) -> u16 {
        let tmr = if ticks >> TMR_MSB_SHIFT != self.tmr_epoch { sts::TMR } else { 0 };
        self.status | tmr
    }

    /// PM1 status.
    pub fn status(&self) -> u16 {
        self.status_at(self.ticks())
    }

    /// Write PM1 status: each 1 clears that bit.
    pub fn write_status(&mut self, v: u16) {
        if v & sts::TMR != 0 {
            self.tmr_epoch = self.ticks() >> TMR_MSB_SHIFT;
        }
        self.status &= !v;
        self.update_sci();
    }

    /// PM1 enable.
    pub fn enable(&self) -> u16 {
        self.enable
    }

    pub fn set_enable(&mut self, v: u16) {
        if v & !en::ALL != 0 {
            dev_debug!("acpi-pm: reserved PM1 enable bits {:#06x} ignored", v & !en::ALL);
        }
        self.enable = v & en::ALL;
        self.update_sci();
    }

    /// PM1 control as read: SCI_EN always set; the write-only bits read 0.
    pub fn control_reg(&self) -> u16 {
        self.cnt | cnt::SCI_EN
    }

    /// Write PM1 control. SLP_EN with the S5 sleep type powers the machine off.
    pub fn write_control(&mut self, v: u16) {
        self.cnt = v & (cnt::BM_RLS | cnt::SLP_TYP);
        if v & cnt::SLP_EN != 0 {
            let typ = ((v & cnt::SLP_TYP) >> cnt::SLP_TYP_SHIFT) as u8;
            if typ == SLP_TYP_S5 {
                self.control.request_stop(StopReason::PowerOff);
            } else {
                dev_debug!("acpi-pm: sleep type {typ} requested; only S5 (SLP_TYP {SLP_TYP_S5}) is implemented");
            }
        }
        self.update_sci();
    }

    /// The power button was pressed: PWRBTN_STS is set (and the SCI raised if enabled).
    pub fn press_power_button(&mut self) {
        self.status |= sts::PWRBTN;
        self.update_sci();
    }

    /// Whether the SCI line is asserted.
    pub fn sci_asserted(&self) -> bool {
        self.sci_level
    }

    fn update_sci(&mut self) {
        let level = self.status() & self.enable & SCI_SOURCES != 0;
        if level != self.sci_level {
            self.sci_level = level;
            self.sci.set_level(level);
        }
    }

    /// Bring the SCI up to date with guest time (the timer's overflow event).
    pub fn poll(&mut self, _now_ns: u64) {
        self.update_sci();
    }

    /// Guest time at which TMR_STS will next be set, when that would raise the SCI.
    pub fn next_event_ns(&self) -> Option<u64> {
        if self.enable & en::TMR == 0 || self.status() & sts::TMR != 0 {
            return None;
        }
        let tick = (self.tmr_epoch + 1) << TMR_MSB_SHIFT;
        // The first nanosecond at which `ticks_at` reaches `tick`.
        Some((tick as u128 * 1_000_000_000).div_ceil(PM_TIMER_HZ as u128) as u64)
    }

    /// Read a register block as bytes (little-endian, as the registers sit at their ports).
    fn block_bytes(&self, block: PmBlock) -> [u8; 4] {
        match block {
            PmBlock::Event => {
                let [s0, s1] = self.status().to_le_bytes();
                let [e0, e1] = self.enable.to_le_bytes();
                [s0, s1, e0, e1]
            }
            PmBlock::Control => {
                let [c0, c1] = self.control_reg().to_le_bytes();
                [c0, c1, 0xFF, 0xFF]
            }
            PmBlock::Timer => self.timer().to_le_bytes(),
        }
    }

    /// Write the bytes of `value` selected by `mask` (one bit per byte) to the 16-bit register
    /// at `reg` of `block`. Bytes not written keep their value; in the status register they
    /// clear nothing.
    fn write_reg(&mut self, block: PmBlock, reg: u64, value: u16, mask: u8) {
        let bytes = (if mask & 1 != 0 { 0x00FF } else { 0 }) | (if mask & 2 != 0 { 0xFF00 } else { 0 });
        match (block, reg) {
            (PmBlock::Event, 0) => self.write_status(value & bytes),
            (PmBlock::Event, 2) => self.set_enable((self.enable & !bytes) | (value & bytes)),
            (PmBlock::Control, 0) => self.write_control((self.cnt & !bytes) | (value & bytes)),
            _ => dev_debug!("acpi-pm: write of {value:#x} to the read-only timer ignored"),
        }
    }
}

/// Which of the three register blocks an adapter serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmBlock {
    /// PM1a_EVT_BLK: PM1 status (+0, 16 bits), PM1 enable (+2, 16 bits).
    Event,
    /// PM1a_CNT_BLK: PM1 control (+0, 16 bits).
    Control,
    /// PM_TMR_BLK: the timer (+0, 32 bits, read-only).
    Timer,
}

impl PmBlock {
    fn len(self) -> u64 {
        match self {
            PmBlock::Event => PM1_EVT_LEN,
            PmBlock::Control => PM1_CNT_LEN,
            PmBlock::Timer => PM_TMR_LEN,
        }
    }
}

/// Bus adapter for one block. Accesses of any size at any offset are served byte by byte
/// from one snapshot of the registers (a 32-bit read of the timer sees one value); a write
/// touches each 16-bit register it covers once, with the bytes it covers.
pub struct AcpiPmPort {
    pm: Arc<Mutex<AcpiPm>>,
    block: PmBlock,
}

impl AcpiPmPort {
    pub fn new(pm: Arc<Mutex<AcpiPm>>, block: PmBlock) -> Self {
        AcpiPmPort { pm, block }
    }
}

impl BusDevice for AcpiPmPort {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let regs = lock(&self.pm).block_bytes(self.block);
        for (i, b) in data.iter_mut().enumerate() {
            let off = offset.saturating_add(i as u64);
            *b = if off < self.block.len() { regs[off as usize] } else { 0xFF };
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if self.block == PmBlock::Timer {
            dev_debug!("acpi-pm: {}-byte write to the timer ignored", data.len());
            return;
        }
        let mut pm = lock(&self.pm);
        // Registers are 16 bits at even offsets: gather the bytes for each.
        let mut reg = offset & !1;
        while reg < self.block.len() && reg < offset.saturating_add(data.len() as u64) {
            let (mut value, mut mask) = (0u16, 0u8);
            for half in 0..2u64 {
                let port = reg + half;
                if let Some(i) = port.checked_sub(offset).filter(|&i| i < data.len() as u64) {
                    value |= (data[i as usize] as u16) << (8 * half);
                    mask |= 1 << half;
                }
            }
            if mask != 0 {
                pm.write_reg(self.block, reg, value, mask);
            }
            reg += 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::TestIrq;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Rig {
        pm: Arc<Mutex<AcpiPm>>,
        evt: AcpiPmPort,
        cnt: AcpiPmPort,
        tmr: AcpiPmPort,
        clock: Clock,
        sci: Arc<TestIrq>,
        control: Arc<Control>,
    }

    fn rig() -> Rig {
        let clock = Clock::virtual_clock(Arc::new(AtomicU64::new(0)));
        let sci = Arc::new(TestIrq::default());
        let control = Arc::new(Control::new(true));
        let pm = Arc::new(Mutex::new(AcpiPm::new(clock.clone(), sci.clone(), control.clone())));
        Rig {
            evt: AcpiPmPort::new(pm.clone(), PmBlock::Event),
            cnt: AcpiPmPort::new(pm.clone(), PmBlock::Control),
            tmr: AcpiPmPort::new(pm.clone(), PmBlock::Timer),
            pm,
            clock,
            sci,
            control,
        }
    }

    fn rd16(p: &mut AcpiPmPort, off: u64) -> u16 {
        let mut d = [0u8; 2];
        p.read(off, &mut d);
        u16::from_le_bytes(d)
    }

    fn rd32(p: &mut AcpiPmPort, off: u64) -> u32 {
        let mut d = [0u8; 4];
        p.read(off, &mut d);
        u32::from_le_bytes(d)
    }

    fn sci(r: &Rig) -> bool {
        r.sci.level.load(Ordering::SeqCst)
    }

    #[test]
    fn the_timer_counts_guest_time_at_3_579545_mhz() {
        let mut r = rig();
        assert_eq!(rd32(&mut r.tmr, 0), 0);
        r.clock.skip_to(1_000_000_000);
        assert_eq!(rd32(&mut r.tmr, 0), 3_579_545);
        r.clock.skip_to(1_000_000_000 + 1_000_000);
        assert_eq!(rd32(&mut r.tmr, 0), 3_579_545 + 3_579);
    }

    #[test]
    fn the_timer_is_24_bits_and_wraps() {
        let mut r = rig();
        // 2^24 ticks are 4.687 s.
        r.clock.skip_to(5_000_000_000);
        let t = rd32(&mut r.tmr, 0);
        assert_eq!(t, ((5 * PM_TIMER_HZ) & 0xFF_FFFF) as u32);
        assert_eq!(t & 0xFF00_0000, 0, "bits 24-31 of a 24-bit timer read 0");
    }

    #[test]
    fn the_timer_reads_byte_by_byte_and_ignores_writes() {
        let mut r = rig();
        r.clock.skip_to(2_000_000_000);
        let want = rd32(&mut r.tmr, 0);
        r.tmr.write(0, &[0, 0, 0, 0]);
        let bytes: Vec<u8> = (0..4)
            .map(|i| {
                let mut b = [0u8];
                r.tmr.read(i, &mut b);
                b[0]
            })
            .collect();
        assert_eq!(u32::from_le_bytes(bytes.try_into().unwrap()), want);
        assert_eq!(rd16(&mut r.tmr, 2), (want >> 16) as u16);
    }

    #[test]
    fn tmr_sts_sets_when_bit_23_changes_and_clears_on_write_one() {
        let mut r = rig();
        assert_eq!(rd16(&mut r.evt, 0) & sts::TMR, 0);
        // Bit 23 first changes at 2^23 ticks = 2.3435 s.
        let edge = (((1u128 << 23) * 1_000_000_000).div_ceil(PM_TIMER_HZ as u128)) as u64;
        r.clock.skip_to(edge - 1);
        assert_eq!(rd16(&mut r.evt, 0) & sts::TMR, 0);
        r.clock.skip_to(edge);
        assert_eq!(rd16(&mut r.evt, 0) & sts::TMR, sts::TMR);
        assert_eq!(rd32(&mut r.tmr, 0), 1 << 23);
        // Writing 0 clears nothing, writing 1 clears it.
        r.evt.write(0, &0u16.to_le_bytes());
        assert_eq!(rd16(&mut r.evt, 0) & sts::TMR, sts::TMR);
        r.evt.write(0, &sts::TMR.to_le_bytes());
        assert_eq!(rd16(&mut r.evt, 0) & sts::TMR, 0);
        // And it sets again when bit 23 falls (the count passes 2^24 and wraps).
        let wrap = (((1u128 << 24) * 1_000_000_000).div_ceil(PM_TIMER_HZ as u128)) as u64;
        r.clock.skip_to(wrap);
        assert_eq!(rd16(&mut r.evt, 0) & sts::TMR, sts::TMR);
        assert_eq!(rd32(&mut r.tmr, 0), 0);
    }

    #[test]
    fn tmr_en_raises_the_sci_at_the_overflow_and_names_the_time() {
        let mut r = rig();
        assert_eq!(lock(&r.pm).next_event_ns(), None, "no event while TMR_EN is clear");
        r.evt.write(2, &en::TMR.to_le_bytes());
        let next = lock(&r.pm).next_event_ns().unwrap();
        assert_eq!(AcpiPm::ticks_at(next), 1 << 23);
        assert_eq!(AcpiPm::ticks_at(next - 1), (1 << 23) - 1);
        assert!(!sci(&r));
        r.clock.skip_to(next);
        lock(&r.pm).poll(next);
        assert!(sci(&r), "TMR_STS with TMR_EN asserts the SCI");
        assert_eq!(lock(&r.pm).next_event_ns(), None, "nothing more to wait for while TMR_STS is set");
        r.evt.write(0, &sts::TMR.to_le_bytes());
        assert!(!sci(&r), "clearing TMR_STS drops the SCI");
        assert!(lock(&r.pm).next_event_ns().unwrap() > next);
    }

    #[test]
    fn enable_bits_read_back_and_reserved_bits_do_not() {
        let mut r = rig();
        r.evt.write(2, &0xFFFFu16.to_le_bytes());
        assert_eq!(rd16(&mut r.evt, 2), en::ALL);
        // A byte write changes only its byte.
        r.evt.write(3, &[0x00]);
        assert_eq!(rd16(&mut r.evt, 2), en::ALL & 0x00FF);
        // A 32-bit write over the block: status (write-1-to-clear) and enable at once.
        r.evt.write(0, &[0xFF, 0xFF, 0x00, 0x01]);
        assert_eq!(rd16(&mut r.evt, 2), en::PWRBTN);
    }

    #[test]
    fn the_power_button_sets_pwrbtn_sts_and_raises_the_sci_when_enabled() {
        let mut r = rig();
        lock(&r.pm).press_power_button();
        assert_eq!(rd16(&mut r.evt, 0), sts::PWRBTN);
        assert!(!sci(&r), "not enabled: no SCI");
        r.evt.write(2, &en::PWRBTN.to_le_bytes());
        assert!(sci(&r));
        assert_eq!(r.sci.edges.load(Ordering::SeqCst), 1);
        // Clearing through the high byte alone.
        r.evt.write(1, &[(sts::PWRBTN >> 8) as u8]);
        assert_eq!(rd16(&mut r.evt, 0), 0);
        assert!(!sci(&r));
    }

    #[test]
    fn sci_en_is_always_set_and_slp_typ_reads_back_but_slp_en_does_not() {
        let mut r = rig();
        assert_eq!(rd16(&mut r.cnt, 0), cnt::SCI_EN);
        r.cnt.write(0, &0u16.to_le_bytes());
        assert_eq!(rd16(&mut r.cnt, 0) & cnt::SCI_EN, cnt::SCI_EN, "no SMI port: ACPI mode stays on");
        let typ1 = 1 << cnt::SLP_TYP_SHIFT;
        r.cnt.write(0, &(typ1 | cnt::BM_RLS | cnt::GBL_RLS).to_le_bytes());
        assert_eq!(rd16(&mut r.cnt, 0), cnt::SCI_EN | cnt::BM_RLS | typ1);
        // SLP_EN with another sleep type does nothing here.
        r.cnt.write(0, &(typ1 | cnt::SLP_EN).to_le_bytes());
        assert_eq!(r.control.stop_requested(), None);
        assert_eq!(rd16(&mut r.cnt, 0) & cnt::SLP_EN, 0, "SLP_EN is write-only");
    }

    #[test]
    fn slp_en_with_the_s5_type_powers_off() {
        let mut r = rig();
        let v = ((SLP_TYP_S5 as u16) << cnt::SLP_TYP_SHIFT) | cnt::SLP_EN | cnt::SCI_EN;
        r.cnt.write(0, &v.to_le_bytes());
        assert_eq!(r.control.stop_requested(), Some(StopReason::PowerOff));
    }

    #[test]
    fn slp_typ_then_slp_en_in_separate_byte_writes_powers_off() {
        // OSPM writes SLP_TYP first and SLP_EN in a second write (ACPI 6.5, 7.4.2.2 and
        // ACPICA's acpi_hw_legacy_sleep); both land in the high byte.
        let mut r = rig();
        let typ = (SLP_TYP_S5 as u16) << cnt::SLP_TYP_SHIFT;
        r.cnt.write(1, &[(typ >> 8) as u8]);
        assert_eq!(r.control.stop_requested(), None);
        r.cnt.write(0, &[cnt::SCI_EN as u8]);
        assert_eq!(r.control.stop_requested(), None, "a low-byte write keeps SLP_TYP and sets no SLP_EN");
        r.cnt.write(1, &[((typ | cnt::SLP_EN) >> 8) as u8]);
        assert_eq!(r.control.stop_requested(), Some(StopReason::PowerOff));
    }

    #[test]
    fn accesses_past_a_block_read_ff_and_are_ignored() {
        let mut r = rig();
        assert_eq!(rd32(&mut r.cnt, 0), 0xFFFF_0000 | cnt::SCI_EN as u32);
        r.cnt.write(2, &[0xFF, 0xFF]);
        r.evt.write(4, &[0xFF; 4]);
        r.evt.write(u64::MAX, &[0xFF; 4]);
        let mut d = [0u8; 4];
        r.evt.read(u64::MAX - 1, &mut d);
        assert_eq!(d, [0xFF; 4]);
        assert_eq!(r.control.stop_requested(), None);
        assert_eq!(rd16(&mut r.evt, 2), 0);
    }
}

//! System control port A (0x92, "fast A20": bit 1 = A20 gate, bit 0 = CPU reset pulse), the
//! chipset's reset control register (0xCF9), and the math coprocessor ports 0xF0/0xF1: a write
//! to 0xF0 clears the IRQ 13 the x87's FERR# raised (as the PC/AT's latch does); 0xF1
//! (coprocessor reset) is ignored.
//!
//! Reference: IBM PS/2 Hardware Interface Technical Reference, "System Control Port A";
//! Intel 82371AB (PIIX4) datasheet 4.1.9 (Port 92h) and 4.1.17 (Reset Control Register).

use std::sync::Arc;

use super::{Control, StopReason, read_bytes, write_bytes};
use crate::bus::BusDevice;
use crate::irq::Irq;

const A20: u8 = 0x02;
const RESET: u8 = 0x01;

/// Port 0x92. The A20 state lives in [`Control`] so that the i8042's output port and this
/// port show and change the same gate.
pub struct SystemControlA {
    control: Arc<Control>,
    /// Bits other than A20 as last written (bit 3, the CMOS lock, reads back).
    latch: u8,
}

impl SystemControlA {
    pub fn new(control: Arc<Control>) -> Self {
        SystemControlA { control, latch: 0 }
    }

    pub fn read(&self) -> u8 {
        (self.latch & !A20) | if self.control.a20_enabled() { A20 } else { 0 }
    }

    /// A 0-to-1 transition of bit 0 resets the CPU (PIIX4 4.1.9: "INIT_REGISTER").
    pub fn write(&mut self, v: u8) {
        let old = self.latch;
        self.control.set_a20(v & A20 != 0);
        self.latch = v;
        if v & RESET != 0 && old & RESET == 0 {
            self.control.request_stop(StopReason::Reset);
        }
    }
}

impl BusDevice for SystemControlA {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        read_bytes("port 0x92", 1, offset, data, |_| SystemControlA::read(self));
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        write_bytes("port 0x92", 1, offset, data, |_, v| SystemControlA::write(self, v));
    }
}

/// Port 0xCF9, the Reset Control Register: bit 1 chooses a hard (1) or soft (0) reset, and a
/// 0-to-1 transition of bit 2 performs it. Both are a reset of the machine here (ondol keeps
/// no state across a soft reset that a hard one would clear). Linux uses it for `reboot=pci`
/// and as a fallback; ACPI's FADT can name it as the reset register.
pub struct ResetControl {
    control: Arc<Control>,
    latch: u8,
}

impl ResetControl {
    const SYS_RST: u8 = 0x02;
    const RST_CPU: u8 = 0x04;

    pub fn new(control: Arc<Control>) -> Self {
        ResetControl { control, latch: 0 }
    }

    pub fn write(&mut self, v: u8) {
        let old = self.latch;
        // RST_CPU reads back 0 on the PIIX4 once the reset is under way; SYS_RST keeps.
        self.latch = v & Self::SYS_RST;
        if v & Self::RST_CPU != 0 && old & Self::RST_CPU == 0 {
            self.control.request_stop(StopReason::Reset);
        }
    }
}

impl BusDevice for ResetControl {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        read_bytes("port 0xcf9", 1, offset, data, |_| self.latch);
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        write_bytes("port 0xcf9", 1, offset, data, |_, v| ResetControl::write(self, v));
    }
}

/// Ports 0xF0-0xF1 ([`crate::layout::PORT_FPU`], 2 ports): a write to 0xF0 lowers IRQ 13
/// (the FERR# latch); 0xF1 is ignored; reads float high.
pub struct FpuPort {
    irq: Irq,
}

impl FpuPort {
    pub fn new(irq: Irq) -> Self {
        FpuPort { irq }
    }
}

impl BusDevice for FpuPort {
    fn read(&mut self, _offset: u64, data: &mut [u8]) {
        data.fill(0xFF);
    }

    fn write(&mut self, offset: u64, _data: &[u8]) {
        if offset == 0 {
            self.irq.set_level(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit1_gates_a20_and_reads_back() {
        let control = Arc::new(Control::new(false));
        let mut p = SystemControlA::new(control.clone());
        let mut d = [0u8];
        BusDevice::read(&mut p, 0, &mut d);
        assert_eq!(d[0] & A20, 0);
        BusDevice::write(&mut p, 0, &[0x02]);
        assert!(control.a20_enabled());
        BusDevice::read(&mut p, 0, &mut d);
        assert_eq!(d[0], 0x02);
        BusDevice::write(&mut p, 0, &[0x00]);
        assert!(!control.a20_enabled());
        // A20 changed elsewhere (the i8042) shows here.
        control.set_a20(true);
        BusDevice::read(&mut p, 0, &mut d);
        assert_eq!(d[0], 0x02);
        assert_eq!(control.stop_requested(), None);
    }

    #[test]
    fn bit0_rising_requests_a_reset() {
        let control = Arc::new(Control::new(true));
        let mut p = SystemControlA::new(control.clone());
        p.write(0x03);
        assert_eq!(control.take_stop(), Some(StopReason::Reset));
        p.write(0x03);
        assert_eq!(control.stop_requested(), None, "no edge, no reset");
        p.write(0x02);
        p.write(0x03);
        assert_eq!(control.stop_requested(), Some(StopReason::Reset));
    }

    #[test]
    fn cf9_resets_on_rst_cpu_and_keeps_sys_rst() {
        let control = Arc::new(Control::new(true));
        let mut r = ResetControl::new(control.clone());
        BusDevice::write(&mut r, 0, &[0x02]);
        assert_eq!(control.stop_requested(), None);
        let mut d = [0u8];
        BusDevice::read(&mut r, 0, &mut d);
        assert_eq!(d[0], 0x02);
        BusDevice::write(&mut r, 0, &[0x06]);
        assert_eq!(control.take_stop(), Some(StopReason::Reset));
        BusDevice::read(&mut r, 0, &mut d);
        assert_eq!(d[0], 0x02, "RST_CPU does not read back");
    }

    #[test]
    fn port_f0_clears_the_fpu_interrupt() {
        use crate::irq::{IrqLine, TestIrq};
        use std::sync::atomic::Ordering;
        let line = Arc::new(TestIrq::default());
        let mut f = FpuPort::new(line.clone());
        line.set_level(true);
        f.write(1, &[0]);
        assert!(line.level.load(Ordering::SeqCst), "F1h leaves IRQ 13 alone");
        f.write(0, &[0]);
        assert!(!line.level.load(Ordering::SeqCst), "F0h clears it");
        let mut d = [0u8];
        f.read(0, &mut d);
        assert_eq!(d[0], 0xFF);
    }
}

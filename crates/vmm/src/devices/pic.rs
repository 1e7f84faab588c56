//! Two cascaded i8259A programmable interrupt controllers and the ELCR edge/level registers.
//!
//! References: Intel 8259A datasheet (order 231468), "Interrupt Sequence", "Programming the
//! 8259A" (ICW1-ICW4, OCW1-OCW3), "Priority Modes", "Special Mask Mode", "Poll Command",
//! "Edge and Level Triggered Modes"; Intel 82371AB (PIIX4) datasheet 4.1.12 (ELCR1/ELCR2).
//! The master serves IRQ 0-7 (ports 0x20/0x21), the slave IRQ 8-15 (0xA0/0xA1), cascaded
//! through the master's IR2.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{Wakeup, dev_debug, read_bytes, write_bytes};
use crate::bus::{BusDevice, lock};
use crate::irq::IrqLine;
use crate::layout::IRQ_CASCADE;

/// ELCR bits that may be set: IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge
/// triggered on a PC (PIIX4 datasheet 4.1.12).
const ELCR_MASK: [u8; 2] = [0xF8, 0xDE];

/// One 8259A.
#[derive(Clone, Debug, Default)]
struct Chip {
    /// Interrupt request register: inputs waiting for service.
    irr: u8,
    /// In-service register: interrupts acknowledged but not yet ended (EOI).
    isr: u8,
    /// Interrupt mask register (OCW1).
    imr: u8,
    /// Input levels last seen (for edge detection).
    inputs: u8,
    /// ELCR: 1 = the input is level triggered.
    elcr: u8,
    /// ICW1 LTIM: every input level triggered.
    ltim: bool,
    /// Vector of IR0 (ICW2, low three bits clear).
    vector_base: u8,
    /// Lowest-priority input is (priority_add + 7) & 7; rotation moves it.
    priority_add: u8,
    /// OCW3 RR/RIS: read the ISR (true) or the IRR (false) from the command port.
    read_isr: bool,
    /// OCW3 P: the next read is a poll.
    poll: bool,
    /// OCW3 SMM: special mask mode.
    special_mask: bool,
    /// Initialization: 0 = ready (OCWs), 1..=3 = waiting for ICW2..ICW4.
    init_state: u8,
    /// ICW1 IC4: ICW4 follows.
    icw4_needed: bool,
    /// ICW1 SNGL: no ICW3.
    single: bool,
    /// ICW3 as written (cascade wiring; kept for completeness, the wiring is fixed).
    icw3: u8,
    /// ICW4 AEOI.
    auto_eoi: bool,
    /// OCW2 rotate in automatic EOI mode.
    rotate_on_aeoi: bool,
    /// ICW4 SFNM: special fully nested mode.
    special_fully_nested: bool,
}

impl Chip {
    fn level_mask(&self) -> u8 {
        if self.ltim { 0xFF } else { self.elcr }
    }

    /// Priority (0 = highest) of the highest-priority bit set in `mask`, or 8 if none.
    fn priority(&self, mask: u8) -> u8 {
        (0..8).find(|p| mask & (1 << ((p + self.priority_add) & 7)) != 0).unwrap_or(8)
    }

    /// The input this chip wants to interrupt with, if any: the highest-priority unmasked
    /// request that outranks everything in service ("Fully Nested Mode"). In special mask
    /// mode masked in-service levels do not block lower ones; in special fully nested mode
    /// the master lets the slave interrupt again while IR2 is in service.
    fn wanted(&self, is_master: bool) -> Option<u8> {
        let req = self.priority(self.irr & !self.imr);
        if req == 8 {
            return None;
        }
        let mut busy = self.isr;
        if self.special_mask {
            busy &= !self.imr;
        }
        if self.special_fully_nested && is_master {
            busy &= !(1 << IRQ_CASCADE);
        }
        (req < self.priority(busy)).then_some((req + self.priority_add) & 7)
    }

    fn set_input(&mut self, pin: u8, level: bool) {
        let bit = 1u8 << (pin & 7);
        if self.level_mask() & bit != 0 {
            // Level triggered: the request follows the input.
            if level {
                self.irr |= bit;
            } else {
                self.irr &= !bit;
            }
        } else if level && self.inputs & bit == 0 {
            // Edge triggered: a rising edge latches a request.
            self.irr |= bit;
        }
        if level {
            self.inputs |= bit;
        } else {
            self.inputs &= !bit;
        }
    }

    /// INTA for input `pin`: move it from IRR to ISR (or not, in automatic EOI mode).
    fn ack(&mut self, pin: u8) {
        let bit = 1u8 << (pin & 7);
        if self.auto_eoi {
            if self.rotate_on_aeoi {
                self.priority_add = (pin + 1) & 7;
            }
        } else {
            self.isr |= bit;
        }
        // A level-triggered request stays in IRR while its input is high.
        if self.level_mask() & bit == 0 || self.inputs & bit == 0 {
            self.irr &= !bit;
        }
    }

    /// ICW1: start initialization. "The Interrupt Mask Register is cleared, IR7 input is
    /// assigned priority 7, the slave mode address is set to 7, special mask mode is cleared
    /// and status read is set to IRR" (datasheet, "Initialization Command Word 1").
    fn icw1(&mut self, v: u8) {
        let elcr = self.elcr;
        let inputs = self.inputs;
        *self = Chip { elcr, inputs, ..Chip::default() };
        // Edge detection restarts: a line that is high now needs a new rising edge, except
        // for level-triggered lines whose request simply follows the input.
        self.ltim = v & 0x08 != 0;
        self.irr = inputs & self.level_mask();
        self.single = v & 0x02 != 0;
        self.icw4_needed = v & 0x01 != 0;
        self.init_state = 1;
    }

    fn write_command(&mut self, v: u8) {
        if v & 0x10 != 0 {
            self.icw1(v);
        } else if v & 0x08 != 0 {
            // OCW3.
            if v & 0x04 != 0 {
                self.poll = true;
            }
            if v & 0x02 != 0 {
                self.read_isr = v & 0x01 != 0;
            }
            if v & 0x40 != 0 {
                self.special_mask = v & 0x20 != 0;
            }
        } else {
            // OCW2: R SL EOI in bits 7-5, level in bits 2-0.
            let level = v & 7;
            match v >> 5 {
                0b000 => self.rotate_on_aeoi = false,
                0b100 => self.rotate_on_aeoi = true,
                // Non-specific EOI (optionally rotating): end the highest-priority level in
                // service.
                0b001 | 0b101 => {
                    let p = self.priority(self.isr);
                    if p != 8 {
                        let pin = (p + self.priority_add) & 7;
                        self.isr &= !(1 << pin);
                        if v >> 5 == 0b101 {
                            self.priority_add = (pin + 1) & 7;
                        }
                    }
                }
                // Specific EOI.
                0b011 => self.isr &= !(1 << level),
                // Rotate on specific EOI.
                0b111 => {
                    self.isr &= !(1 << level);
                    self.priority_add = (level + 1) & 7;
                }
                // Set priority: `level` becomes the lowest.
                0b110 => self.priority_add = (level + 1) & 7,
                // 0b010: no operation.
                _ => {}
            }
        }
    }

    fn write_data(&mut self, v: u8) {
        match self.init_state {
            1 => {
                // ICW2: vector base (T7-T3; A10-A8 ignored in 8086 mode).
                self.vector_base = v & 0xF8;
                self.init_state = match (self.single, self.icw4_needed) {
                    (false, _) => 2,
                    (true, true) => 3,
                    (true, false) => 0,
                };
            }
            2 => {
                self.icw3 = v;
                self.init_state = if self.icw4_needed { 3 } else { 0 };
            }
            3 => {
                // ICW4: uPM (bit 0, 8086 mode assumed either way), AEOI (bit 1), BUF/M/S
                // (bits 2-3, no effect here), SFNM (bit 4).
                self.auto_eoi = v & 0x02 != 0;
                self.special_fully_nested = v & 0x10 != 0;
                self.init_state = 0;
            }
            _ => self.imr = v,
        }
    }
}

/// The master and slave 8259A and the ELCR: the PC's interrupt controller.
pub struct Pic {
    chips: [Chip; 2],
    /// Mirrors [`Pic::interrupt_pending`] after every change, for a CPU loop that checks for
    /// interrupts between instructions without taking the lock.
    intr: Arc<AtomicBool>,
}

const MASTER: usize = 0;
const SLAVE: usize = 1;

impl Default for Pic {
    fn default() -> Self {
        Self::new()
    }
}

impl Pic {
    /// Both chips as at power-on: uninitialized, vector base 0, nothing masked, all edge.
    pub fn new() -> Self {
        Pic { chips: [Chip::default(), Chip::default()], intr: Arc::new(AtomicBool::new(false)) }
    }

    /// Drive ISA interrupt line `line` (0-15); other lines are ignored. The master's IR2 is
    /// the cascade input, driven by the slave only: the AT bus wires its IRQ 2 pin to the
    /// slave's IR1, so line 2 arrives as IRQ 9 (IBM PC AT Technical Reference, "Interrupts").
    pub fn set_irq(&mut self, line: u32, level: bool) {
        match line {
            IRQ_CASCADE => self.chips[SLAVE].set_input(1, level),
            0..=7 => self.chips[MASTER].set_input(line as u8, level),
            8..=15 => self.chips[SLAVE].set_input((line - 8) as u8, level),
            _ => {
                dev_debug!("pic: set_irq on line {line} ignored");
                return;
            }
        }
        self.update();
    }

    /// The INTR output to the CPU: an unmasked request outranks everything in service.
    pub fn interrupt_pending(&self) -> bool {
        self.chips[MASTER].wanted(true).is_some()
    }

    /// The flag that mirrors [`Pic::interrupt_pending`] (updated under the PIC's lock).
    pub fn intr_flag(&self) -> Arc<AtomicBool> {
        self.intr.clone()
    }

    /// The CPU's interrupt acknowledge cycle when INTR is high: returns the vector and moves
    /// the request from IRR to ISR. None when INTR is low (the CPU must not take an interrupt).
    /// Checking and acknowledging under one lock is race-free; see [`Pic::inta`] for the
    /// hardware's answer to an INTA that comes after the request went away.
    pub fn acknowledge(&mut self) -> Option<u8> {
        self.interrupt_pending().then(|| self.inta())
    }

    /// A full INTA cycle, as the CPU runs it once it has seen INTR high. If the request went
    /// away in between, the 8259A answers with the IR7 vector and sets no ISR bit (a spurious
    /// IRQ 7, datasheet "Interrupt Sequence"); if the master passes the cascade through but
    /// the slave has nothing, the slave answers with its IR7 vector (spurious IRQ 15) while
    /// the master's IR2 goes in service.
    pub fn inta(&mut self) -> u8 {
        let vector = match self.chips[MASTER].wanted(true) {
            Some(pin) if pin as u32 == IRQ_CASCADE => {
                let v = match self.chips[SLAVE].wanted(false) {
                    Some(spin) => {
                        self.chips[SLAVE].ack(spin);
                        self.chips[SLAVE].vector_base | spin
                    }
                    None => self.chips[SLAVE].vector_base | 7,
                };
                self.chips[MASTER].ack(pin);
                v
            }
            Some(pin) => {
                self.chips[MASTER].ack(pin);
                self.chips[MASTER].vector_base | pin
            }
            None => self.chips[MASTER].vector_base | 7,
        };
        self.update();
        vector
    }

    /// Propagate the slave's INT output to the master's IR2 and publish INTR.
    fn update(&mut self) {
        let slave_int = self.chips[SLAVE].wanted(false).is_some();
        self.chips[MASTER].set_input(IRQ_CASCADE as u8, slave_int);
        self.intr.store(self.interrupt_pending(), Ordering::SeqCst);
    }

    fn chip(&mut self, slave: bool) -> &mut Chip {
        &mut self.chips[slave as usize]
    }

    /// A write to the command port (0x20 / 0xA0): ICW1, OCW2 or OCW3.
    pub fn write_command(&mut self, slave: bool, v: u8) {
        self.chip(slave).write_command(v);
        self.update();
    }

    /// A write to the data port (0x21 / 0xA1): ICW2-ICW4 during initialization, else OCW1.
    pub fn write_data(&mut self, slave: bool, v: u8) {
        self.chip(slave).write_data(v);
        self.update();
    }

    /// A read from the command port: IRR or ISR as OCW3 selected, or the poll word.
    pub fn read_command(&mut self, slave: bool) -> u8 {
        if self.chip(slave).poll {
            return self.poll(slave);
        }
        let c = self.chip(slave);
        if c.read_isr { c.isr } else { c.irr }
    }

    /// A read from the data port: the IMR (or the poll word after a poll command).
    pub fn read_data(&mut self, slave: bool) -> u8 {
        if self.chip(slave).poll {
            return self.poll(slave);
        }
        self.chip(slave).imr
    }

    /// Poll command (OCW3 P): the read acts as an INTA for this chip and returns
    /// `1000_0www` with the level, or 0 when nothing is requested.
    fn poll(&mut self, slave: bool) -> u8 {
        let c = self.chip(slave);
        c.poll = false;
        let r = match c.wanted(!slave) {
            Some(pin) => {
                c.ack(pin);
                0x80 | pin
            }
            None => 0,
        };
        self.update();
        r
    }

    /// ELCR for IRQ 0-7 (`slave` false) or 8-15: 1 = level triggered.
    pub fn elcr(&self, slave: bool) -> u8 {
        self.chips[slave as usize].elcr
    }

    pub fn set_elcr(&mut self, slave: bool, v: u8) {
        let i = slave as usize;
        self.chips[i].elcr = v & ELCR_MASK[i];
        self.update();
    }

    /// IRR, ISR and IMR of one chip (for traces and tests).
    pub fn registers(&self, slave: bool) -> (u8, u8, u8) {
        let c = &self.chips[slave as usize];
        (c.irr, c.isr, c.imr)
    }

    /// The vector base ICW2 gave one chip.
    pub fn vector_base(&self, slave: bool) -> u8 {
        self.chips[slave as usize].vector_base
    }
}

/// One interrupt line into the PIC, as devices see it ([`crate::irq::Irq`]). Raising it wakes
/// a vCPU halted in HLT when INTR may have risen.
pub struct PicIrq {
    pub pic: Arc<Mutex<Pic>>,
    pub line: u32,
    pub wakeup: Arc<Wakeup>,
}

impl PicIrq {
    pub fn new(pic: Arc<Mutex<Pic>>, line: u32, wakeup: Arc<Wakeup>) -> Self {
        PicIrq { pic, line, wakeup }
    }
}

impl IrqLine for PicIrq {
    fn set_level(&self, level: bool) {
        let pending = {
            let mut p = lock(&self.pic);
            p.set_irq(self.line, level);
            p.interrupt_pending()
        };
        if pending {
            self.wakeup.notify();
        }
    }
}

/// Which chip a [`PicPort`] serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PicChip {
    /// Ports 0x20-0x21, IRQ 0-7.
    Master,
    /// Ports 0xA0-0xA1, IRQ 8-15.
    Slave,
}

/// Bus adapter for one chip's two ports (command at offset 0, data at offset 1).
pub struct PicPort {
    pic: Arc<Mutex<Pic>>,
    slave: bool,
}

impl PicPort {
    /// Map at [`crate::layout::PORT_PIC_MASTER`] or [`crate::layout::PORT_PIC_SLAVE`], 2 ports.
    pub fn new(pic: Arc<Mutex<Pic>>, chip: PicChip) -> Self {
        PicPort { pic, slave: chip == PicChip::Slave }
    }
}

impl BusDevice for PicPort {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let mut p = lock(&self.pic);
        read_bytes(
            "pic",
            2,
            offset,
            data,
            |off| {
                if off == 0 { p.read_command(self.slave) } else { p.read_data(self.slave) }
            },
        );
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut p = lock(&self.pic);
        write_bytes("pic", 2, offset, data, |off, v| {
            if off == 0 { p.write_command(self.slave, v) } else { p.write_data(self.slave, v) }
        });
    }
}

/// Bus adapter for the ELCR pair at [`crate::layout::PORT_ELCR`] (2 ports: IRQ 0-7, 8-15).
pub struct ElcrPort {
    pic: Arc<Mutex<Pic>>,
}

impl ElcrPort {
    pub fn new(pic: Arc<Mutex<Pic>>) -> Self {
        ElcrPort { pic }
    }
}

impl BusDevice for ElcrPort {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let p = lock(&self.pic);
        read_bytes("elcr", 2, offset, data, |off| p.elcr(off == 1));
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut p = lock(&self.pic);
        write_bytes("elcr", 2, offset, data, |off, v| p.set_elcr(off == 1, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{IRQ_COM1, IRQ_KEYBOARD, IRQ_PIT, IRQ_RTC, PIC_MASTER_VECTOR, PIC_SLAVE_VECTOR};

    /// The initialization SeaBIOS and Linux run (ICW1=0x11, ICW2 = 0x08/0x70 on a BIOS or
    /// 0x30/0x38 under Linux, ICW3 = 4/2, ICW4 = 1), then unmask `master_mask`/`slave_mask`.
    fn init(p: &mut Pic, master_vec: u8, slave_vec: u8, master_mask: u8, slave_mask: u8) {
        p.write_command(false, 0x11);
        p.write_data(false, master_vec);
        p.write_data(false, 4);
        p.write_data(false, 1);
        p.write_command(true, 0x11);
        p.write_data(true, slave_vec);
        p.write_data(true, 2);
        p.write_data(true, 1);
        p.write_data(false, master_mask);
        p.write_data(true, slave_mask);
    }

    fn bios_pic() -> Pic {
        let mut p = Pic::new();
        init(&mut p, PIC_MASTER_VECTOR, PIC_SLAVE_VECTOR, 0, 0);
        p
    }

    fn pulse(p: &mut Pic, line: u32) {
        p.set_irq(line, true);
        p.set_irq(line, false);
    }

    fn eoi(p: &mut Pic, slave: bool) {
        p.write_command(slave, 0x20);
    }

    #[test]
    fn bios_init_sequence_sets_vectors_and_leaves_everything_unmasked() {
        let p = bios_pic();
        assert_eq!(p.vector_base(false), 0x08);
        assert_eq!(p.vector_base(true), 0x70);
        assert_eq!(p.registers(false), (0, 0, 0));
        assert!(!p.interrupt_pending());
    }

    #[test]
    fn edge_on_irq0_delivers_vector_8_and_goes_in_service_until_eoi() {
        let mut p = bios_pic();
        pulse(&mut p, IRQ_PIT);
        assert!(p.interrupt_pending());
        assert!(p.intr_flag().load(Ordering::SeqCst));
        assert_eq!(p.acknowledge(), Some(0x08));
        assert_eq!(p.registers(false), (0, 1, 0), "IRR cleared, ISR bit 0 set");
        assert!(!p.interrupt_pending());
        assert!(!p.intr_flag().load(Ordering::SeqCst));
        // A second edge while in service waits for the EOI.
        pulse(&mut p, IRQ_PIT);
        assert!(!p.interrupt_pending());
        eoi(&mut p, false);
        assert_eq!(p.acknowledge(), Some(0x08));
    }

    #[test]
    fn acknowledge_without_request_returns_none() {
        let mut p = bios_pic();
        assert_eq!(p.acknowledge(), None);
    }

    #[test]
    fn masked_line_is_held_in_irr_until_unmasked() {
        let mut p = bios_pic();
        p.write_data(false, 0x02);
        pulse(&mut p, IRQ_KEYBOARD);
        assert!(!p.interrupt_pending());
        assert_eq!(p.read_command(false), 0x02, "IRR shows the request");
        p.write_data(false, 0x00);
        assert_eq!(p.acknowledge(), Some(0x09));
    }

    #[test]
    fn lower_irq_number_wins_and_higher_priority_nests() {
        let mut p = bios_pic();
        pulse(&mut p, IRQ_COM1);
        pulse(&mut p, IRQ_KEYBOARD);
        assert_eq!(p.acknowledge(), Some(0x09), "IRQ1 outranks IRQ4");
        // IRQ4 is lower priority than IRQ1 in service: blocked.
        assert!(!p.interrupt_pending());
        // IRQ0 outranks IRQ1 in service: nests.
        pulse(&mut p, IRQ_PIT);
        assert_eq!(p.acknowledge(), Some(0x08));
        assert_eq!(p.registers(false).1, 0b11);
        // Non-specific EOI ends the highest in service (IRQ0), then IRQ1; then IRQ4 runs.
        eoi(&mut p, false);
        assert_eq!(p.registers(false).1, 0b10);
        assert!(!p.interrupt_pending());
        eoi(&mut p, false);
        assert_eq!(p.acknowledge(), Some(0x0C));
    }

    #[test]
    fn specific_eoi_clears_only_the_named_level() {
        let mut p = bios_pic();
        pulse(&mut p, IRQ_KEYBOARD);
        p.acknowledge();
        pulse(&mut p, IRQ_PIT);
        p.acknowledge();
        p.write_command(false, 0x60 | 1); // specific EOI for IRQ1
        assert_eq!(p.registers(false).1, 0b01);
    }

    #[test]
    fn rotate_on_nonspecific_eoi_makes_the_served_level_lowest() {
        let mut p = bios_pic();
        pulse(&mut p, IRQ_COM1);
        assert_eq!(p.acknowledge(), Some(0x0C));
        p.write_command(false, 0xA0); // rotate on non-specific EOI: IRQ4 now lowest, IRQ5 highest
        pulse(&mut p, IRQ_PIT);
        pulse(&mut p, 6);
        assert_eq!(p.acknowledge(), Some(0x0E), "IRQ6 now outranks IRQ0");
        p.write_command(false, 0xE6); // rotate on specific EOI 6: IRQ7 highest
        assert_eq!(p.acknowledge(), Some(0x08));
    }

    #[test]
    fn set_priority_command_makes_the_given_level_lowest() {
        let mut p = bios_pic();
        p.write_command(false, 0xC0 | 3); // IRQ3 lowest, IRQ4 highest
        pulse(&mut p, 3);
        pulse(&mut p, IRQ_COM1);
        pulse(&mut p, IRQ_PIT);
        assert_eq!(p.acknowledge(), Some(0x0C));
        eoi(&mut p, false);
        assert_eq!(p.acknowledge(), Some(0x08));
        eoi(&mut p, false);
        assert_eq!(p.acknowledge(), Some(0x0B));
    }

    #[test]
    fn auto_eoi_sets_no_in_service_bit() {
        let mut p = Pic::new();
        p.write_command(false, 0x11);
        p.write_data(false, 0x20);
        p.write_data(false, 4);
        p.write_data(false, 0x03); // 8086 mode, AEOI
        pulse(&mut p, IRQ_COM1);
        assert_eq!(p.acknowledge(), Some(0x24));
        assert_eq!(p.registers(false).1, 0);
        pulse(&mut p, IRQ_COM1);
        assert_eq!(p.acknowledge(), Some(0x24), "no EOI needed");
    }

    #[test]
    fn cascade_delivers_irq8_as_vector_0x70_with_both_in_service() {
        let mut p = bios_pic();
        pulse(&mut p, IRQ_RTC);
        assert!(p.interrupt_pending());
        assert_eq!(p.registers(false).0, 0x04, "slave raises master IR2");
        assert_eq!(p.acknowledge(), Some(0x70));
        assert_eq!(p.registers(true).1, 0x01);
        assert_eq!(p.registers(false).1, 0x04);
        eoi(&mut p, true);
        eoi(&mut p, false);
        assert_eq!(p.registers(true).1, 0);
        assert_eq!(p.registers(false).1, 0);
    }

    #[test]
    fn cascade_respects_master_priority_and_slave_mask() {
        let mut p = bios_pic();
        p.write_data(true, 0x01); // mask IRQ8
        pulse(&mut p, IRQ_RTC);
        assert!(!p.interrupt_pending());
        pulse(&mut p, 11);
        pulse(&mut p, IRQ_COM1);
        assert_eq!(p.acknowledge(), Some(0x73), "IRQ11 via IR2 outranks IRQ4");
        // IRQ 4 is below IR2 in service; IRQ1 is above it.
        assert!(!p.interrupt_pending());
        pulse(&mut p, IRQ_KEYBOARD);
        assert_eq!(p.acknowledge(), Some(0x09));
    }

    #[test]
    fn second_slave_request_reaches_master_after_slave_eoi() {
        let mut p = bios_pic();
        pulse(&mut p, 12);
        pulse(&mut p, 14);
        assert_eq!(p.acknowledge(), Some(0x74));
        eoi(&mut p, true);
        eoi(&mut p, false);
        assert_eq!(p.acknowledge(), Some(0x76));
    }

    #[test]
    fn isa_irq2_arrives_as_irq9() {
        let mut p = bios_pic();
        pulse(&mut p, IRQ_CASCADE);
        assert_eq!(p.acknowledge(), Some(0x71));
    }

    #[test]
    fn linux_masks_everything_but_the_cascade() {
        let mut p = bios_pic();
        p.write_data(true, 0xFF);
        p.write_data(false, 0xFB);
        for line in 0..16 {
            pulse(&mut p, line);
        }
        assert!(!p.interrupt_pending());
        assert_eq!(p.read_data(false), 0xFB);
        assert_eq!(p.read_data(true), 0xFF);
    }

    #[test]
    fn spurious_irq7_when_the_request_vanishes_before_inta() {
        let mut p = bios_pic();
        p.set_elcr(false, 0x20); // IRQ5 level triggered
        p.set_irq(5, true);
        assert!(p.interrupt_pending());
        p.set_irq(5, false); // device drops the line before the CPU acknowledges
        assert_eq!(p.inta(), 0x0F);
        assert_eq!(p.registers(false).1, 0, "spurious IRQ7 sets no ISR bit");
    }

    #[test]
    fn spurious_irq15_when_the_slave_request_vanishes() {
        let mut p = bios_pic();
        p.set_elcr(true, 0x08); // IRQ11 level
        p.set_irq(11, true);
        assert!(p.interrupt_pending());
        p.set_irq(11, false);
        // Master IR2 was latched on the edge, so INTR stays up and the slave answers IR7.
        assert_eq!(p.acknowledge(), Some(0x77));
        assert_eq!(p.registers(true).1, 0, "slave sets no ISR bit");
        assert_eq!(p.registers(false).1, 0x04, "master IR2 is in service and needs an EOI");
    }

    #[test]
    fn level_triggered_line_requests_again_after_eoi_while_high() {
        let mut p = bios_pic();
        p.set_elcr(true, 0x08);
        assert_eq!(p.elcr(true), 0x08);
        p.set_irq(11, true);
        assert_eq!(p.acknowledge(), Some(0x73));
        eoi(&mut p, true);
        eoi(&mut p, false);
        assert_eq!(p.acknowledge(), Some(0x73), "still high: requests again");
        p.set_irq(11, false); // the handler quiets the device before its EOIs
        eoi(&mut p, true);
        eoi(&mut p, false);
        assert!(!p.interrupt_pending());
    }

    #[test]
    fn edge_triggered_line_held_high_requests_once() {
        let mut p = bios_pic();
        p.set_irq(IRQ_COM1, true);
        assert_eq!(p.acknowledge(), Some(0x0C));
        eoi(&mut p, false);
        assert!(!p.interrupt_pending(), "no new edge");
        p.set_irq(IRQ_COM1, false);
        p.set_irq(IRQ_COM1, true);
        assert!(p.interrupt_pending());
    }

    #[test]
    fn elcr_cannot_make_timer_keyboard_cascade_rtc_or_fpu_level() {
        let mut p = bios_pic();
        p.set_elcr(false, 0xFF);
        p.set_elcr(true, 0xFF);
        assert_eq!(p.elcr(false), 0xF8);
        assert_eq!(p.elcr(true), 0xDE);
    }

    #[test]
    fn ocw3_selects_irr_or_isr_for_command_port_reads() {
        let mut p = bios_pic();
        pulse(&mut p, 3);
        pulse(&mut p, 6);
        p.acknowledge();
        assert_eq!(p.read_command(false), 0x40, "IRR by default");
        p.write_command(false, 0x0B);
        assert_eq!(p.read_command(false), 0x08, "ISR after OCW3 RR=1 RIS=1");
        p.write_command(false, 0x0A);
        assert_eq!(p.read_command(false), 0x40);
    }

    #[test]
    fn poll_command_reads_and_acknowledges_the_highest_request() {
        let mut p = bios_pic();
        pulse(&mut p, 5);
        p.write_command(false, 0x0C);
        assert_eq!(p.read_command(false), 0x85);
        assert_eq!(p.registers(false).1, 0x20);
        p.write_command(false, 0x0C);
        assert_eq!(p.read_data(false), 0x00, "nothing left to poll");
        assert_eq!(p.read_data(false), 0x00, "poll mode ends after one read: IMR");
    }

    #[test]
    fn special_mask_mode_lets_lower_levels_past_a_masked_in_service_one() {
        let mut p = bios_pic();
        pulse(&mut p, 3);
        assert_eq!(p.acknowledge(), Some(0x0B));
        p.write_data(false, 0x08); // mask IRQ3 (in service)
        pulse(&mut p, 5);
        assert!(!p.interrupt_pending(), "fully nested: IRQ5 waits for IRQ3's EOI");
        p.write_command(false, 0x68); // set special mask mode
        assert_eq!(p.acknowledge(), Some(0x0D));
        p.write_command(false, 0x48); // reset special mask mode
        pulse(&mut p, 6);
        assert!(!p.interrupt_pending());
    }

    #[test]
    fn special_fully_nested_mode_lets_a_higher_slave_irq_interrupt_the_slave() {
        let mut p = Pic::new();
        init(&mut p, 0x08, 0x70, 0, 0);
        p.write_command(false, 0x11);
        p.write_data(false, 0x08);
        p.write_data(false, 4);
        p.write_data(false, 0x11); // SFNM
        pulse(&mut p, 12);
        assert_eq!(p.acknowledge(), Some(0x74));
        pulse(&mut p, 9);
        assert_eq!(p.acknowledge(), Some(0x71), "IRQ9 nests over IRQ12 through IR2 in service");
    }

    #[test]
    fn icw1_resets_masks_and_in_service_state() {
        let mut p = bios_pic();
        p.write_data(false, 0xAA);
        pulse(&mut p, 1);
        p.acknowledge();
        p.write_command(false, 0x11);
        assert_eq!(p.registers(false), (0, 0, 0));
        assert!(!p.interrupt_pending(), "uninitialized chip raises nothing yet");
    }

    #[test]
    fn single_mode_without_icw4_skips_icw3_and_icw4() {
        let mut p = Pic::new();
        p.write_command(false, 0x12); // SNGL, no IC4
        p.write_data(false, 0x40);
        p.write_data(false, 0x01); // now OCW1
        assert_eq!(p.read_data(false), 0x01);
        pulse(&mut p, 0);
        assert!(!p.interrupt_pending());
        pulse(&mut p, 3);
        assert_eq!(p.acknowledge(), Some(0x43));
    }

    #[test]
    fn pic_irq_line_raises_intr_and_wakes_a_waiter() {
        let pic = Arc::new(Mutex::new(bios_pic()));
        let wakeup = Arc::new(Wakeup::new());
        let line = PicIrq::new(pic.clone(), IRQ_COM1, wakeup.clone());
        let token = wakeup.token();
        let t = std::thread::spawn(move || line.pulse());
        assert!(wakeup.wait(token, Some(std::time::Duration::from_secs(10))));
        t.join().unwrap();
        assert_eq!(lock(&pic).acknowledge(), Some(0x0C));
    }

    #[test]
    fn adapters_decode_command_data_and_elcr_ports() {
        let pic = Arc::new(Mutex::new(Pic::new()));
        let mut m = PicPort::new(pic.clone(), PicChip::Master);
        let mut s = PicPort::new(pic.clone(), PicChip::Slave);
        let mut e = ElcrPort::new(pic.clone());
        for (port, v) in [(0, 0x11), (1, 0x08), (1, 4), (1, 1)] {
            m.write(port, &[v]);
        }
        for (port, v) in [(0, 0x11), (1, 0x70), (1, 2), (1, 1)] {
            s.write(port, &[v]);
        }
        s.write(1, &[0x5A]);
        let mut d = [0u8];
        s.read(1, &mut d);
        assert_eq!(d[0], 0x5A);
        e.write(1, &[0xFF]);
        e.read(1, &mut d);
        assert_eq!(d[0], 0xDE);
        // A 16-bit access is split: IRR at 0x20 then IMR at 0x21.
        let mut w = [0u8; 2];
        m.write(1, &[0x33]);
        m.read(0, &mut w);
        assert_eq!(w, [0x00, 0x33]);
        assert_eq!(lock(&pic).vector_base(true), 0x70);
    }
}

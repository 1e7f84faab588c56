//! The one trait through which the CPU reaches the platform: port I/O, MMIO and the INTR line.

/// The machine around the CPU. RAM and ROM are not here: the CPU reads and writes them
/// directly through the host pointers in its [`crate::PhysMap`]; everything else reaches the
/// platform through this trait, in the middle of an instruction when needed (`rep outsb`,
/// an MMIO operand).
pub trait Bus {
    /// Port read of 1, 2 or 4 bytes.
    fn io_read(&mut self, port: u16, size: u8) -> u32;
    /// Port write of 1, 2 or 4 bytes.
    fn io_write(&mut self, port: u16, size: u8, value: u32);
    /// Read of 1..=8 bytes at a physical address that is not RAM or ROM.
    fn mmio_read(&mut self, addr: u64, size: u8) -> u64;
    /// Write of 1..=8 bytes at a physical address that is not RAM.
    fn mmio_write(&mut self, addr: u64, size: u8, value: u64);
    /// The state of the INTR pin (the interrupt controller's output).
    fn interrupt_pending(&mut self) -> bool {
        false
    }
    /// The INTA cycle: the vector of the interrupt being taken, if one is still pending.
    fn acknowledge_interrupt(&mut self) -> Option<u8> {
        None
    }
    /// Asked after every I/O instruction: whether the A20 gate is open.
    fn a20_enabled(&mut self) -> bool {
        true
    }
    /// Guest time in nanoseconds, if the platform keeps it (the TSC then runs at 1 GHz of
    /// guest time, in step with the platform's timers); otherwise the TSC counts instructions.
    fn guest_time_ns(&mut self) -> Option<u64> {
        None
    }
    /// The x87's FERR# output (an unmasked exception pending with CR0.NE clear): a PC routes it
    /// to IRQ 13; writing port F0h clears it.
    fn fpu_error(&mut self, _asserted: bool) {}
    /// Execution reached `lin`, one of the addresses given to `Cpu::set_exec_watch`, with
    /// code the CPU had not decoded there before.
    fn exec_watch_hit(&mut self, _lin: u64) {}
    /// Asked after every I/O and MMIO access: whether the platform wants the CPU to stop
    /// at the end of this instruction (exit port, reset, power-off).
    fn stop_requested(&mut self) -> bool {
        false
    }
}

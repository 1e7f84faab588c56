//! The `emu` backend: ondol's own x86 CPU (crates/x86) behind the Vm/Vcpu traits.

use crate::{Backend, Control, CpuState, HypervisorError, Kicker, MemorySlot, Result, VcpuExit, VmOps, VmOptions};
use std::sync::Arc;
use x86::{Cpu, Exit, PhysMap, Region};

pub struct EmuVm;

impl crate::Vm for EmuVm {
    fn backend(&self) -> Backend {
        Backend::Emu
    }
    fn in_kernel_irqchip(&self) -> bool {
        false
    }
    fn set_irq_line(&self, _: u32, _: bool) -> Result<()> {
        Err(HypervisorError::Unsupported("an in-kernel interrupt controller", Backend::Emu))
    }
}

pub struct EmuVcpu {
    cpu: Cpu,
    kicker: Kicker,
    watch_generation: u64,
}

/// # Safety
/// See [`crate::create`].
pub(crate) unsafe fn create(
    slots: &[MemorySlot],
    opts: &VmOptions,
) -> Result<(Arc<dyn crate::Vm>, Box<dyn crate::Vcpu>)> {
    let regions =
        slots.iter().map(|s| Region { start: s.gpa, len: s.size, host: s.host, writable: !s.readonly }).collect();
    // SAFETY: the caller guarantees the slots' memory outlives the VM and its vCPU.
    let map = unsafe { PhysMap::new(regions)? };
    let mut cpu = Cpu::new(map);
    if let Some(sink) = &opts.icount_sink {
        cpu.publish_icount(sink.clone());
    }
    Ok((Arc::new(EmuVm), Box::new(EmuVcpu { cpu, kicker: Kicker::new(None), watch_generation: 0 })))
}

/// The emu CPU's view of the machine: every access forwarded to [`VmOps`].
struct OpsBus<'a> {
    ops: &'a mut dyn VmOps,
    /// The exec-watch generation the CPU has: a change ends the slice so the new list is
    /// installed before the next instruction.
    watch_generation: u64,
}

impl x86::Bus for OpsBus<'_> {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        let mut b = [0xFFu8; 4];
        self.ops.pio_read(port, &mut b[..size as usize]);
        u32::from_le_bytes(b) & size_mask(size)
    }
    fn io_write(&mut self, port: u16, size: u8, value: u32) {
        self.ops.pio_write(port, &value.to_le_bytes()[..size as usize]);
    }
    fn mmio_read(&mut self, addr: u64, size: u8) -> u64 {
        let mut b = [0xFFu8; 8];
        self.ops.mmio_read(addr, &mut b[..size as usize]);
        u64::from_le_bytes(b)
    }
    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) {
        self.ops.mmio_write(addr, &value.to_le_bytes()[..size as usize]);
    }
    fn interrupt_pending(&mut self) -> bool {
        self.ops.interrupt_pending()
    }
    fn acknowledge_interrupt(&mut self) -> Option<u8> {
        self.ops.acknowledge_interrupt()
    }
    fn a20_enabled(&mut self) -> bool {
        self.ops.a20_enabled()
    }
    fn stop_requested(&mut self) -> bool {
        self.ops.stop_requested() || self.ops.exec_watch_generation() != self.watch_generation
    }
    fn exec_watch_hit(&mut self, lin: u64) {
        self.ops.exec_watch_hit(lin);
    }
    fn guest_time_ns(&mut self) -> Option<u64> {
        self.ops.guest_time_ns()
    }
    fn fpu_error(&mut self, asserted: bool) {
        self.ops.fpu_error(asserted);
    }
}

fn size_mask(size: u8) -> u32 {
    if size >= 4 { u32::MAX } else { (1u32 << (8 * size)) - 1 }
}

impl crate::Vcpu for EmuVcpu {
    fn state(&mut self) -> Result<CpuState> {
        Ok(self.cpu.state().clone())
    }

    fn set_state(&mut self, s: &CpuState) -> Result<()> {
        struct Nothing;
        impl x86::Bus for Nothing {
            fn io_read(&mut self, _: u16, _: u8) -> u32 {
                u32::MAX
            }
            fn io_write(&mut self, _: u16, _: u8, _: u32) {}
            fn mmio_read(&mut self, _: u64, _: u8) -> u64 {
                u64::MAX
            }
            fn mmio_write(&mut self, _: u64, _: u8, _: u64) {}
        }
        self.cpu.set_state(&mut Nothing, s.clone());
        Ok(())
    }

    fn run(&mut self, ops: &mut dyn VmOps) -> Result<VcpuExit> {
        loop {
            let slice = ops.slice_instructions().max(1);
            let a20 = ops.a20_enabled();
            self.cpu.set_a20(a20);
            let g = ops.exec_watch_generation();
            if g != self.watch_generation {
                self.watch_generation = g;
                self.cpu.set_exec_watch(&ops.exec_watch_list());
            }
            let exit = self.cpu.run(&mut OpsBus { ops, watch_generation: self.watch_generation }, slice);
            match exit {
                Exit::Budget => {}
                Exit::Stopped => {
                    if ops.stop_requested() {
                        return Ok(VcpuExit::Stopped);
                    }
                }
                Exit::Halted => {
                    if ops.wait_for_interrupt(self.cpu.interrupts_enabled()) == Control::Stop {
                        return Ok(VcpuExit::Stopped);
                    }
                }
                Exit::TripleFault { first, cs, rip } => {
                    return Ok(VcpuExit::Shutdown {
                        reason: format!(
                            "triple fault: {} at {cs:04x}:{rip:08x} could not be delivered",
                            x86::Fault::name(first)
                        ),
                    });
                }
            }
            self.kicker.take();
            if ops.poll() == Control::Stop || ops.stop_requested() {
                return Ok(VcpuExit::Stopped);
            }
        }
    }

    fn kicker(&self) -> Kicker {
        self.kicker.clone()
    }

    fn recent_instructions(&mut self, ops: &mut dyn VmOps) -> Vec<String> {
        let mut bus = OpsBus { ops, watch_generation: self.watch_generation };
        let recent = self.cpu.recent();
        recent.into_iter().map(|lin| format!("{lin:08x}  {}", self.cpu.disassemble_at(&mut bus, lin))).collect()
    }

    fn instructions(&self) -> Option<u64> {
        Some(self.cpu.icount())
    }
}

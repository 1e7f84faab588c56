//! The x87 FPU: 80-bit registers, control/status/tag words, and the x87 instructions.
//!
//! (Stage 1 stub: ESC instructions raise #NM under CR0.EM/TS and otherwise only check their
//! memory operand, as a CPU without a coprocessor attached. The x87 itself replaces this.)

use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::exec::Handler;
use crate::fault::{Fault, Result, vector};
use crate::icache::Decoded;
use crate::state::cr0;
use iced_x86::{Instruction, Mnemonic, OpKind};

/// CPUID.1:EDX bits the FPU adds (FPU, FXSR) once it is implemented.
pub const CPUID_BITS: u32 = 0;

/// The FPU's state (saved and restored by FNSAVE/FRSTOR and with the rest of the CPU).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fpu {}

impl Fpu {
    /// The state after FNINIT (and at power-on).
    pub fn new() -> Self {
        Fpu {}
    }
}

/// Whether a mnemonic is an x87 instruction (the decoder names them all F*).
pub(crate) fn is_x87(m: Mnemonic) -> bool {
    let name = format!("{m:?}");
    name.starts_with('F') && m != Mnemonic::Wait && m != Mnemonic::Femms
}

/// The handler for an x87 instruction, if `i` is one.
pub(crate) fn select(i: &Instruction) -> Option<Handler> {
    is_x87(i.mnemonic()).then_some(esc as Handler)
}

fn esc(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    if cpu.s.cr0 & (cr0::EM | cr0::TS) != 0 {
        return Err(Fault::new(vector::NM));
    }
    if d.instr.op_count() > 0 && d.instr.op0_kind() == OpKind::Memory {
        let (s, o) = cpu.ea(d);
        let size = d.instr.memory_size().size().clamp(1, 8) as u64;
        cpu.lin(s, o, size, false)?;
    }
    let _ = bus;
    Ok(())
}

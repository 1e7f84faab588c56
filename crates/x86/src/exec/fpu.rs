//! x87 escape opcodes (D8..DF). The CPU model does not have an FPU yet: CPUID.1:EDX.FPU is
//! clear, ESC instructions raise #NM when CR0.EM or CR0.TS is set (so a guest can emulate them)
//! and otherwise only check their memory operand, as a CPU without a coprocessor attached.

use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::fault::{Fault, Result, vector};
use crate::icache::Decoded;
use crate::state::cr0;
use iced_x86::{Mnemonic, OpKind};

/// Whether a mnemonic is an x87 instruction (the decoder names them all F*).
pub(crate) fn is_x87(m: Mnemonic) -> bool {
    let name = format!("{m:?}");
    name.starts_with('F') && m != Mnemonic::Wait && m != Mnemonic::Femms
}

pub(crate) fn esc(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
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

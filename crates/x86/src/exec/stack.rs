//! Stack instructions: PUSH, POP, PUSHA, POPA, PUSHF, POPF, ENTER, LEAVE.

use super::{Loc, mask, seg_index};
use crate::bus::Bus;
use crate::cpu::{Cpu, Mode};
use crate::fault::{Fault, Result};
use crate::icache::Decoded;
use crate::state::flags;
use crate::state::{RBP, RSP, SS};
use iced_x86::{Mnemonic, OpKind, Register};

pub(crate) fn push(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    let v = match d.instr.op0_kind() {
        OpKind::Register => {
            let r = d.instr.op0_register();
            // PUSH SP pushes the value from before the push (286 and later).
            cpu.gpr(r)
        }
        OpKind::Memory => {
            let (s, o) = cpu.ea(d);
            cpu.read(bus, s, o, size)?
        }
        _ => d.instr.immediate(0) & mask(size),
    };
    cpu.push(bus, size, v)
}

pub(crate) fn pop(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    let v = cpu.stack_peek(bus, 0, size)?;
    let new_sp = (cpu.s.gpr[RSP] & cpu.sp_mask()).wrapping_add(size);
    match d.instr.op0_kind() {
        OpKind::Register => {
            let r = d.instr.op0_register();
            if (Register::ES as u8..=Register::GS as u8).contains(&(r as u8)) {
                let seg = seg_index(r);
                if seg == crate::state::CS {
                    return Err(Fault::ud());
                }
                // The pop uses the old stack's size (SP wraps in a 16-bit stack and the upper
                // half of ESP stays), even when it loads an SS of the other size.
                let m = cpu.sp_mask();
                let rsp = (cpu.s.gpr[RSP] & !m) | (new_sp & m);
                super::system::load_seg(cpu, bus, seg, v as u16)?;
                cpu.s.gpr[RSP] = rsp;
                if seg == SS {
                    cpu.inhibit = true;
                }
            } else {
                cpu.set_sp(new_sp);
                cpu.set_gpr(r, v);
            }
        }
        _ => {
            // The destination address is computed after SP is incremented (SDM: POP).
            cpu.set_sp(new_sp);
            let (s, o) = cpu.ea(d);
            cpu.write_loc(bus, Loc::Mem(s, o), size, v)?;
        }
    }
    Ok(())
}

pub(crate) fn pusha(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = if d.instr.mnemonic() == Mnemonic::Pushad { 4 } else { 2 };
    let m = mask(size);
    let sp = cpu.s.gpr[RSP];
    for r in 0..8 {
        let v = if r == RSP { sp } else { cpu.s.gpr[r] };
        cpu.push(bus, size, v & m)?;
    }
    Ok(())
}

pub(crate) fn popa(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = if d.instr.mnemonic() == Mnemonic::Popad { 4 } else { 2 };
    let mut vals = [0u64; 8];
    for (k, v) in vals.iter_mut().enumerate() {
        *v = cpu.stack_peek(bus, k as u64 * size, size)?;
    }
    let sp = (cpu.s.gpr[RSP] & cpu.sp_mask()).wrapping_add(8 * size);
    for (k, v) in vals.iter().enumerate() {
        let r = 7 - k;
        if r == RSP {
            continue;
        }
        let g = &mut cpu.s.gpr[r];
        *g = if size == 4 { *v } else { (*g & !0xFFFF) | *v };
    }
    cpu.set_sp(sp);
    Ok(())
}

pub(crate) fn pushf(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    if cpu.mode == Mode::Virtual8086 && cpu.s.rflags & flags::IOPL != flags::IOPL {
        return Err(Fault::gp0());
    }
    let v = cpu.s.rflags & !(flags::VM | flags::RF);
    cpu.push(bus, size, v & mask(size))
}

pub(crate) fn popf(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    if cpu.mode == Mode::Virtual8086 && cpu.s.rflags & flags::IOPL != flags::IOPL {
        return Err(Fault::gp0());
    }
    let v = cpu.pop(bus, size)?;
    cpu.write_flags(v, size);
    Ok(())
}

impl Cpu {
    /// Load EFLAGS from POPF/IRET-style data of `size` bytes with the privilege rules of the
    /// current mode (SDM Vol. 2B, POPF).
    pub(crate) fn write_flags(&mut self, v: u64, size: u64) {
        let mut writable = flags::ARITH | flags::TF | flags::DF | flags::OF | flags::NT | flags::AC | flags::ID;
        let iopl = (self.s.rflags & flags::IOPL) >> 12;
        if self.cpl == 0 {
            writable |= flags::IOPL | flags::IF;
        } else if self.cpl as u64 <= iopl {
            writable |= flags::IF;
        }
        if self.mode == Mode::Virtual8086 {
            writable |= flags::IF;
            writable &= !flags::IOPL;
        }
        if size == 2 {
            writable &= 0xFFFF;
        }
        let old_if = self.s.rflags & flags::IF;
        self.s.rflags = (self.s.rflags & !writable) | (v & writable) | flags::FIXED1;
        self.s.rflags &= !flags::RF;
        if self.s.rflags & flags::IF != 0 && old_if == 0 {
            self.irq_poll = true;
        }
    }
}

pub(crate) fn enter(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    let alloc = d.instr.immediate(0) & 0xFFFF;
    let level = d.instr.immediate(1) & 31;
    let spm = cpu.sp_mask();
    let bp = cpu.s.gpr[RBP];
    cpu.push(bus, size, bp & mask(size))?;
    // FrameTemp is the whole of ESP: with a 16-bit stack its upper half is what it was, and a
    // 32-bit ENTER copies it into EBP (real 386s and Bochs do; test386.asm checks it).
    let frame = cpu.s.gpr[RSP];
    if level > 0 {
        let mut b = bp;
        for _ in 1..level {
            b = (b & spm).wrapping_sub(size) & spm;
            let v = cpu.read(bus, SS, b, size)?;
            cpu.push(bus, size, v)?;
        }
        cpu.push(bus, size, frame)?;
    }
    let new_sp = (cpu.s.gpr[RSP] & spm).wrapping_sub(alloc) & spm;
    // The new stack top must be writable (SDM: ENTER checks the final SP).
    if alloc > 0 {
        cpu.probe_write(bus, SS, new_sp, 1)?;
    }
    let g = &mut cpu.s.gpr[RBP];
    *g = if size == 2 { (*g & !0xFFFF) | (frame & 0xFFFF) } else { frame & mask(size) };
    cpu.set_sp(new_sp);
    Ok(())
}

pub(crate) fn leave(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    let spm = cpu.sp_mask();
    let bp = cpu.s.gpr[RBP] & spm;
    let v = cpu.read(bus, SS, bp, size)?;
    cpu.set_sp(bp.wrapping_add(size));
    let g = &mut cpu.s.gpr[RBP];
    *g = if size == 2 { (*g & !0xFFFF) | v } else { v };
    Ok(())
}

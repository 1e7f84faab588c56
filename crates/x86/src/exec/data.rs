//! Data movement and bit instructions: MOV (all forms but control registers), MOVZX/MOVSX,
//! XCHG, LEA, LDS..LSS, XLAT, CBW/CWD families, BSWAP, XADD, CMPXCHG, CMPXCHG8B, BT*, BSF/BSR,
//! SETcc, CMOVcc, LAHF/SAHF and the one-flag instructions.

use super::{Loc, mask, seg_index, sext};
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::fault::{Fault, Result};
use crate::icache::Decoded;
use crate::state::flags::{self, ARITH, CF, ZF};
use crate::state::{CS, RAX, RBX, RCX, RDX, SS};
use iced_x86::{Mnemonic, OpKind, Register};

pub(crate) fn nop(_: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    Ok(())
}

fn is_sreg(r: Register) -> bool {
    (Register::ES as u8..=Register::GS as u8).contains(&(r as u8))
}

pub(crate) fn mov(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let i = &d.instr;
    if i.op0_kind() == OpKind::Register {
        let r0 = i.op0_register();
        if is_sreg(r0) {
            return mov_to_sreg(cpu, bus, d, r0);
        }
        if r0.is_cr() || (i.op1_kind() == OpKind::Register && i.op1_register().is_cr()) {
            return super::system::mov_cr(cpu, bus, d);
        }
        if r0.is_dr() || (i.op1_kind() == OpKind::Register && i.op1_register().is_dr()) {
            return super::system::mov_dr(cpu, bus, d);
        }
    }
    if i.op1_kind() == OpKind::Register && is_sreg(i.op1_register()) {
        let sel = cpu.s.seg[seg_index(i.op1_register())].selector as u64;
        // To memory: always 16 bits. To a register: zero-extended to its size.
        let size = if i.op0_kind() == OpKind::Register { d.osz as u64 } else { 2 };
        let loc = cpu.loc(d, 0);
        return cpu.write_loc(bus, loc, size, sel);
    }
    let size = d.osz as u64;
    let v = cpu.read_op(bus, d, 1, size)?;
    let loc = cpu.loc(d, 0);
    cpu.write_loc(bus, loc, size, v)
}

fn mov_to_sreg(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded, r: Register) -> Result<()> {
    let seg = seg_index(r);
    if seg == CS {
        return Err(Fault::ud());
    }
    let sel = cpu.read_op(bus, d, 1, 2)? as u16;
    super::system::load_seg(cpu, bus, seg, sel)?;
    if seg == SS {
        cpu.inhibit = true;
    }
    Ok(())
}

pub(crate) fn movzx(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let src = d.instr.memory_size().size() as u64;
    let src = if d.instr.op1_kind() == OpKind::Register {
        super::reg_size(d.instr.op1_register()).unwrap_or(1) as u64
    } else {
        src
    };
    let v = cpu.read_op(bus, d, 1, src)?;
    cpu.set_gpr(d.instr.op0_register(), v & mask(d.osz as u64));
    Ok(())
}

pub(crate) fn movsx(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let src = if d.instr.op1_kind() == OpKind::Register {
        super::reg_size(d.instr.op1_register()).unwrap_or(1) as u64
    } else {
        d.instr.memory_size().size() as u64
    };
    let v = cpu.read_op(bus, d, 1, src)?;
    cpu.set_gpr(d.instr.op0_register(), sext(v, src) & mask(d.osz as u64));
    Ok(())
}

pub(crate) fn xchg(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let l0 = cpu.loc(d, 0);
    let l1 = cpu.loc(d, 1);
    let a = cpu.read_loc(bus, l0, size)?;
    let b = cpu.read_loc(bus, l1, size)?;
    // Memory first, so a fault leaves the registers untouched.
    match (l0, l1) {
        (Loc::Mem(..), _) => {
            cpu.write_loc(bus, l0, size, b)?;
            cpu.write_loc(bus, l1, size, a)
        }
        _ => {
            cpu.write_loc(bus, l1, size, a)?;
            cpu.write_loc(bus, l0, size, b)
        }
    }
}

pub(crate) fn lea(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    if d.instr.op1_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let (_, off) = cpu.ea(d);
    cpu.set_gpr(d.instr.op0_register(), off & mask(d.osz as u64));
    Ok(())
}

/// LDS, LES, LFS, LGS, LSS: load a far pointer into a segment register and a general register.
pub(crate) fn lxs(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    if d.instr.op1_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let size = d.osz as u64;
    let (s, o) = cpu.ea(d);
    let off = cpu.read(bus, s, o, size)?;
    let sel = cpu.read(bus, s, o.wrapping_add(size) & d.amask(), 2)? as u16;
    let seg = match d.instr.mnemonic() {
        Mnemonic::Lds => crate::state::DS,
        Mnemonic::Les => crate::state::ES,
        Mnemonic::Lfs => crate::state::FS,
        Mnemonic::Lgs => crate::state::GS,
        _ => SS,
    };
    super::system::load_seg(cpu, bus, seg, sel)?;
    cpu.set_gpr(d.instr.op0_register(), off);
    Ok(())
}

pub(crate) fn xlat(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let m = d.amask();
    let off = (cpu.s.gpr[RBX] & m).wrapping_add(cpu.s.gpr[RAX] & 0xFF) & m;
    let v = cpu.read(bus, seg_index(d.instr.memory_segment()), off, 1)?;
    cpu.s.gpr[RAX] = (cpu.s.gpr[RAX] & !0xFF) | v;
    Ok(())
}

pub(crate) fn cbw(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let a = cpu.s.gpr[RAX];
    match d.instr.mnemonic() {
        Mnemonic::Cbw => cpu.s.gpr[RAX] = (a & !0xFFFF) | (sext(a, 1) & 0xFFFF),
        Mnemonic::Cwde => cpu.s.gpr[RAX] = sext(a, 2) & 0xFFFF_FFFF,
        _ => cpu.s.gpr[RAX] = sext(a, 4),
    }
    Ok(())
}

pub(crate) fn cwd(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let a = cpu.s.gpr[RAX];
    let size = match d.instr.mnemonic() {
        Mnemonic::Cwd => 2,
        Mnemonic::Cdq => 4,
        _ => 8,
    };
    let hi = if a & super::sign(size) != 0 { mask(size) } else { 0 };
    match size {
        2 => cpu.s.gpr[RDX] = (cpu.s.gpr[RDX] & !0xFFFF) | hi,
        _ => cpu.s.gpr[RDX] = hi,
    }
    Ok(())
}

pub(crate) fn bswap(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let r = d.instr.op0_register();
    let v = cpu.gpr(r);
    let out = match d.osz {
        8 => v.swap_bytes(),
        4 => (v as u32).swap_bytes() as u64,
        // BSWAP of a 16-bit register is undefined; Intel CPUs clear it.
        _ => 0,
    };
    cpu.set_gpr(r, out);
    Ok(())
}

pub(crate) fn xadd(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let l0 = cpu.loc(d, 0);
    let src = cpu.gpr(d.instr.op1_register());
    let dst = cpu.read_loc(bus, l0, size)?;
    let (sum, f) = super::alu::add_flags(size, dst, src, 0);
    cpu.write_loc(bus, l0, size, sum)?;
    if !matches!(l0, Loc::Reg(r) if r == d.instr.op1_register()) {
        cpu.set_gpr(d.instr.op1_register(), dst);
    }
    cpu.set_flags(ARITH, f);
    Ok(())
}

pub(crate) fn cmpxchg(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let l0 = cpu.loc(d, 0);
    let src = cpu.gpr(d.instr.op1_register());
    let dst = cpu.read_loc(bus, l0, size)?;
    let acc = cpu.s.gpr[RAX] & mask(size);
    let (_, f) = super::alu::sub_flags(size, acc, dst, 0);
    if acc == dst {
        cpu.write_loc(bus, l0, size, src)?;
    } else {
        // The destination is written back with its own value (a locked cycle on hardware).
        cpu.write_loc(bus, l0, size, dst)?;
        let r = match size {
            1 => Register::AL,
            2 => Register::AX,
            4 => Register::EAX,
            _ => Register::RAX,
        };
        cpu.set_gpr(r, dst);
    }
    cpu.set_flags(ARITH, f);
    Ok(())
}

pub(crate) fn cmpxchg8b(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let (s, o) = cpu.ea(d);
    let wide = d.instr.memory_size().size() == 16;
    if wide {
        return Err(Fault::ud());
    }
    let m = cpu.read(bus, s, o, 8)?;
    let cmp = (cpu.s.gpr[RDX] & 0xFFFF_FFFF) << 32 | (cpu.s.gpr[RAX] & 0xFFFF_FFFF);
    if m == cmp {
        let new = (cpu.s.gpr[RCX] & 0xFFFF_FFFF) << 32 | (cpu.s.gpr[RBX] & 0xFFFF_FFFF);
        cpu.write(bus, s, o, 8, new)?;
        cpu.s.rflags |= ZF;
    } else {
        cpu.write(bus, s, o, 8, m)?;
        cpu.s.gpr[RAX] = m & 0xFFFF_FFFF;
        cpu.s.gpr[RDX] = m >> 32;
        cpu.s.rflags &= !ZF;
    }
    Ok(())
}

/// BT (0), BTS (1), BTR (2), BTC (3).
pub(crate) fn bt<const OP: u8>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let bits = size * 8;
    let (loc, bit) = match (d.instr.op0_kind(), d.instr.op1_kind()) {
        (OpKind::Memory, OpKind::Register) => {
            // A register bit offset addresses memory beyond the operand (signed).
            let off = sext(cpu.gpr(d.instr.op1_register()), size) as i64;
            let (s, o) = cpu.ea(d);
            let byte = (off >> (bits.trailing_zeros())) * size as i64;
            (Loc::Mem(s, o.wrapping_add(byte as u64) & d.amask()), (off as u64) & (bits - 1))
        }
        _ => (cpu.loc(d, 0), cpu.read_op(bus, d, 1, size)? & (bits - 1)),
    };
    let v = cpu.read_loc(bus, loc, size)?;
    let set = (v >> bit) & 1 != 0;
    let out = match OP {
        1 => v | (1 << bit),
        2 => v & !(1 << bit),
        3 => v ^ (1 << bit),
        _ => v,
    };
    if OP != 0 {
        cpu.write_loc(bus, loc, size, out)?;
    }
    cpu.set_flag(CF, set);
    Ok(())
}

pub(crate) fn bsf(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let v = cpu.read_op(bus, d, 1, size)? & mask(size);
    if v == 0 {
        cpu.s.rflags |= ZF;
    } else {
        cpu.s.rflags &= !ZF;
        cpu.set_gpr(d.instr.op0_register(), v.trailing_zeros() as u64);
    }
    Ok(())
}

pub(crate) fn bsr(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let v = cpu.read_op(bus, d, 1, size)? & mask(size);
    if v == 0 {
        cpu.s.rflags |= ZF;
    } else {
        cpu.s.rflags &= !ZF;
        cpu.set_gpr(d.instr.op0_register(), 63 - v.leading_zeros() as u64);
    }
    Ok(())
}

pub(crate) fn setcc(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let v = cpu.cond(d.aux) as u64;
    let loc = cpu.loc(d, 0);
    cpu.write_loc(bus, loc, 1, v)
}

pub(crate) fn cmovcc(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let v = cpu.read_op(bus, d, 1, size)?;
    let r = d.instr.op0_register();
    if cpu.cond(d.aux) {
        cpu.set_gpr(r, v);
    } else if size == 4 {
        // A 32-bit destination is zero-extended even when nothing moves.
        let cur = cpu.gpr(r);
        cpu.set_gpr(r, cur);
    }
    Ok(())
}

pub(crate) fn lahf(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    let f = (cpu.s.rflags & 0xD5) | flags::FIXED1;
    cpu.s.gpr[RAX] = (cpu.s.gpr[RAX] & !0xFF00) | (f << 8);
    Ok(())
}

pub(crate) fn sahf(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    let ah = (cpu.s.gpr[RAX] >> 8) & 0xD5;
    cpu.set_flags(0xD5, ah);
    Ok(())
}

pub(crate) fn flag_op(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    match d.instr.mnemonic() {
        Mnemonic::Clc => cpu.s.rflags &= !CF,
        Mnemonic::Stc => cpu.s.rflags |= CF,
        Mnemonic::Cmc => cpu.s.rflags ^= CF,
        Mnemonic::Cld => cpu.s.rflags &= !flags::DF,
        _ => cpu.s.rflags |= flags::DF,
    }
    Ok(())
}

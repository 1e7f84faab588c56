//! Control transfer: JMP, CALL, RET, Jcc, LOOP, JCXZ, INT, INTO, INT1, IRET, BOUND.

use super::{mask, sext};
use crate::bus::Bus;
use crate::cpu::{Cpu, Event, Mode};
use crate::fault::{Fault, Result, vector};
use crate::icache::Decoded;
use crate::state::flags;
use crate::state::{CS, RCX, RSP};
use iced_x86::{Mnemonic, OpKind};

/// Mask for a near branch target of the instruction's operand size.
#[inline(always)]
fn target_mask(d: &Decoded) -> u64 {
    match d.instr.op0_kind() {
        OpKind::NearBranch16 => 0xFFFF,
        OpKind::NearBranch32 => 0xFFFF_FFFF,
        _ => u64::MAX,
    }
}

impl Cpu {
    /// Set RIP to a near target, checking the CS limit (or canonical form in 64-bit mode).
    #[inline(always)]
    pub(crate) fn near_jump(&mut self, target: u64) -> Result<()> {
        if self.mode == Mode::Long64 {
            if ((target as i64) << 16 >> 16) as u64 != target {
                return Err(Fault::gp0());
            }
        } else if target > self.s.seg[CS].limit as u64 {
            return Err(Fault::gp0());
        }
        self.s.rip = target;
        Ok(())
    }

    /// Far JMP/CALL to `sel:off` (`call` pushes the return address with `size`-byte slots).
    pub(crate) fn far_transfer(&mut self, bus: &mut dyn Bus, sel: u16, off: u64, size: u64, call: bool) -> Result<()> {
        match self.mode {
            Mode::Real | Mode::Virtual8086 => {
                let off = off & mask(size);
                if off > 0xFFFF && self.mode == Mode::Virtual8086 {
                    return Err(Fault::gp0());
                }
                if call {
                    let (cs, ip) = (self.s.seg[CS].selector as u64, self.s.rip);
                    self.push(bus, size, cs)?;
                    self.push(bus, size, ip)?;
                }
                let limit = self.s.seg[CS].limit as u64;
                if off > limit {
                    return Err(Fault::gp0());
                }
                self.load_real_cs(sel);
                self.s.rip = off;
                Ok(())
            }
            _ => super::pm::far_transfer(self, bus, sel, off, size, call),
        }
    }
}

pub(crate) fn jmp_rel(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let t = cpu.cur_ip.wrapping_add(d.instr.near_branch_target()) & target_mask(d);
    cpu.near_jump(t)
}

pub(crate) fn jcc(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    if cpu.cond(d.aux) {
        let t = cpu.cur_ip.wrapping_add(d.instr.near_branch_target()) & target_mask(d);
        cpu.near_jump(t)?;
    }
    Ok(())
}

pub(crate) fn call_rel(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    let t = cpu.cur_ip.wrapping_add(d.instr.near_branch_target()) & target_mask(d);
    let ret = cpu.s.rip;
    cpu.near_jump(t)?;
    cpu.push(bus, size, ret)
}

pub(crate) fn jmp_near_indirect(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let t = cpu.read_op(bus, d, 0, size)?;
    cpu.near_jump(t)
}

pub(crate) fn call_near_indirect(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    let t = cpu.read_op(bus, d, 0, size)?;
    let ret = cpu.s.rip;
    cpu.near_jump(t)?;
    cpu.push(bus, size, ret)
}

pub(crate) fn ret_near(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    let t = cpu.pop(bus, size)?;
    if d.instr.op_count() == 1 {
        let sp = (cpu.s.gpr[RSP] & cpu.sp_mask()).wrapping_add(d.instr.immediate(0) & 0xFFFF);
        cpu.set_sp(sp);
    }
    cpu.near_jump(t)
}

fn far_operands(d: &Decoded) -> (u16, u64) {
    let off = match d.instr.op0_kind() {
        OpKind::FarBranch16 => d.instr.far_branch16() as u64,
        _ => d.instr.far_branch32() as u64,
    };
    (d.instr.far_branch_selector(), off)
}

/// Read a far pointer operand m16:16 / m16:32 / m16:64: (selector, offset).
fn far_pointer(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded, size: u64) -> Result<(u16, u64)> {
    if d.instr.op0_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let (s, o) = cpu.ea(d);
    let off = cpu.read(bus, s, o, size)?;
    let sel = cpu.read(bus, s, o.wrapping_add(size) & d.amask(), 2)? as u16;
    Ok((sel, off))
}

pub(crate) fn jmp_far_imm(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let (sel, off) = far_operands(d);
    let size = if d.instr.op0_kind() == OpKind::FarBranch16 { 2 } else { 4 };
    cpu.far_transfer(bus, sel, off, size, false)
}

pub(crate) fn call_far_imm(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let (sel, off) = far_operands(d);
    let size = d.aux as u64;
    cpu.far_transfer(bus, sel, off, size, true)
}

pub(crate) fn jmp_far_mem(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.opsz as u64;
    let (sel, off) = far_pointer(cpu, bus, d, size)?;
    cpu.far_transfer(bus, sel, off, size, false)
}

pub(crate) fn call_far_mem(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    let (sel, off) = far_pointer(cpu, bus, d, size)?;
    cpu.far_transfer(bus, sel, off, size, true)
}

pub(crate) fn ret_far(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    let imm = if d.instr.op_count() == 1 { d.instr.immediate(0) & 0xFFFF } else { 0 };
    match cpu.mode {
        Mode::Real | Mode::Virtual8086 => {
            let ip = cpu.stack_peek(bus, 0, size)?;
            let cs = cpu.stack_peek(bus, size, size)? as u16;
            if ip > cpu.s.seg[CS].limit as u64 {
                return Err(Fault::gp0());
            }
            let sp = (cpu.s.gpr[RSP] & cpu.sp_mask()).wrapping_add(2 * size + imm);
            cpu.set_sp(sp);
            cpu.load_real_cs(cs);
            cpu.s.rip = ip;
            Ok(())
        }
        _ => super::pm::far_return(cpu, bus, size, imm),
    }
}

pub(crate) fn loop_(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let m = d.amask();
    let c = cpu.s.gpr[RCX].wrapping_sub(1) & m;
    let g = &mut cpu.s.gpr[RCX];
    *g = if m == 0xFFFF { (*g & !0xFFFF) | c } else { c };
    let zf = cpu.flag(flags::ZF);
    let take = c != 0
        && match d.instr.mnemonic() {
            Mnemonic::Loope => zf,
            Mnemonic::Loopne => !zf,
            _ => true,
        };
    if take {
        let t = cpu.cur_ip.wrapping_add(d.instr.near_branch_target()) & target_mask(d);
        cpu.near_jump(t)?;
    }
    Ok(())
}

pub(crate) fn jcxz(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let m = match d.instr.mnemonic() {
        Mnemonic::Jcxz => 0xFFFF,
        Mnemonic::Jecxz => 0xFFFF_FFFF,
        _ => u64::MAX,
    };
    if cpu.s.gpr[RCX] & m == 0 {
        let t = cpu.cur_ip.wrapping_add(d.instr.near_branch_target()) & target_mask(d);
        cpu.near_jump(t)?;
    }
    Ok(())
}

pub(crate) fn int_n(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let v = d.instr.immediate(0) as u8;
    if cpu.mode == Mode::Virtual8086 && cpu.s.rflags & flags::IOPL != flags::IOPL {
        return Err(Fault::gp0());
    }
    cpu.deliver(bus, v, None, Event::Software)
}

pub(crate) fn int3(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    cpu.deliver(bus, vector::BP, None, Event::Software)
}

pub(crate) fn into(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    if cpu.mode == Mode::Long64 {
        return Err(Fault::ud());
    }
    if cpu.flag(flags::OF) {
        cpu.deliver(bus, vector::OF, None, Event::Software)?;
    }
    Ok(())
}

pub(crate) fn int1(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    cpu.deliver(bus, vector::DB, None, Event::Icebp)
}

pub(crate) fn iret(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.aux as u64;
    match cpu.mode {
        Mode::Real => {
            let ip = cpu.stack_peek(bus, 0, size)? & mask(size);
            let cs = cpu.stack_peek(bus, size, size)? as u16;
            let fl = cpu.stack_peek(bus, 2 * size, size)?;
            if ip > cpu.s.seg[CS].limit as u64 {
                return Err(Fault::gp0());
            }
            let sp = (cpu.s.gpr[RSP] & cpu.sp_mask()).wrapping_add(3 * size);
            cpu.set_sp(sp);
            cpu.load_real_cs(cs);
            cpu.s.rip = ip;
            // Real mode: every flag but VM, VIF, VIP (SDM: IRET, real-address mode).
            let keep = flags::VM | flags::VIF | flags::VIP;
            let m = mask(size);
            let new = (cpu.s.rflags & !m) | (fl & m);
            let old_if = cpu.s.rflags & flags::IF;
            cpu.s.rflags = (new & flags::WRITABLE & !keep & !flags::RF) | (cpu.s.rflags & keep) | flags::FIXED1;
            if old_if == 0 && cpu.s.rflags & flags::IF != 0 {
                cpu.irq_poll = true;
            }
            Ok(())
        }
        _ => super::pm::iret(cpu, bus, size),
    }
}

pub(crate) fn bound(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    if d.instr.op1_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let size = d.osz as u64;
    let (s, o) = cpu.ea(d);
    let lo = sext(cpu.read(bus, s, o, size)?, size) as i64;
    let hi = sext(cpu.read(bus, s, o.wrapping_add(size) & d.amask(), size)?, size) as i64;
    let v = sext(cpu.gpr(d.instr.op0_register()), size) as i64;
    if v < lo || v > hi {
        return Err(Fault::new(vector::BR));
    }
    Ok(())
}

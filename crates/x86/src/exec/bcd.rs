//! Decimal adjust instructions: DAA, DAS, AAA, AAS, AAM, AAD, and SALC (SDM Vol. 2A).

use super::szp;
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::fault::{Fault, Result};
use crate::icache::Decoded;
use crate::state::RAX;
use crate::state::flags::{AF, ARITH, CF, OF};

fn al(cpu: &Cpu) -> u64 {
    cpu.s.gpr[RAX] & 0xFF
}

fn set_al(cpu: &mut Cpu, v: u64) {
    cpu.s.gpr[RAX] = (cpu.s.gpr[RAX] & !0xFF) | (v & 0xFF);
}

pub(crate) fn daa(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    let old_al = al(cpu);
    let old_cf = cpu.flag(CF);
    let mut a = old_al;
    let mut f = 0;
    if a & 0xF > 9 || cpu.flag(AF) {
        a += 6;
        f |= AF;
        if old_cf || a > 0xFF {
            f |= CF;
        }
    }
    if old_al > 0x99 || old_cf {
        a += 0x60;
        f |= CF;
    }
    let a = a & 0xFF;
    set_al(cpu, a);
    // OF is undefined; ondol reports signed overflow of the adjustment (as Intel CPUs do).
    if (old_al ^ a) & a & 0x80 != 0 {
        f |= OF;
    }
    cpu.set_flags(ARITH, f | szp(1, a));
    Ok(())
}

pub(crate) fn das(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    let old_al = al(cpu);
    let old_cf = cpu.flag(CF);
    let mut a = old_al;
    let mut f = 0;
    if a & 0xF > 9 || cpu.flag(AF) {
        if old_cf || a < 6 {
            f |= CF;
        }
        a = a.wrapping_sub(6) & 0xFF;
        f |= AF;
    }
    if old_al > 0x99 || old_cf {
        a = a.wrapping_sub(0x60) & 0xFF;
        f |= CF;
    }
    set_al(cpu, a);
    if (old_al ^ a) & old_al & 0x80 != 0 {
        f |= OF;
    }
    cpu.set_flags(ARITH, f | szp(1, a));
    Ok(())
}

pub(crate) fn aaa(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    let ax = cpu.s.gpr[RAX] & 0xFFFF;
    let (ax, adj) = if ax & 0xF > 9 || cpu.flag(AF) { ((ax + 0x106) & 0xFFFF, true) } else { (ax, false) };
    let ax = ax & 0xFF0F;
    cpu.s.gpr[RAX] = (cpu.s.gpr[RAX] & !0xFFFF) | ax;
    let mut f = szp(1, ax & 0xFF);
    if adj {
        f |= AF | CF;
    }
    cpu.set_flags(ARITH, f);
    Ok(())
}

pub(crate) fn aas(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    let ax = cpu.s.gpr[RAX] & 0xFFFF;
    let (ax, adj) = if ax & 0xF > 9 || cpu.flag(AF) {
        let al = (ax & 0xFF).wrapping_sub(6);
        let ah = (ax >> 8).wrapping_sub(1).wrapping_sub(if ax & 0xFF < 6 { 1 } else { 0 });
        (((ah & 0xFF) << 8) | (al & 0xFF), true)
    } else {
        (ax, false)
    };
    let ax = ax & 0xFF0F;
    cpu.s.gpr[RAX] = (cpu.s.gpr[RAX] & !0xFFFF) | ax;
    let mut f = szp(1, ax & 0xFF);
    if adj {
        f |= AF | CF;
    }
    cpu.set_flags(ARITH, f);
    Ok(())
}

pub(crate) fn aam(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let base = d.instr.immediate(0) & 0xFF;
    if base == 0 {
        return Err(Fault::de());
    }
    let a = al(cpu);
    let ax = ((a / base) << 8) | (a % base);
    cpu.s.gpr[RAX] = (cpu.s.gpr[RAX] & !0xFFFF) | ax;
    cpu.set_flags(ARITH, szp(1, ax & 0xFF));
    Ok(())
}

pub(crate) fn aad(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let base = d.instr.immediate(0) & 0xFF;
    let ax = cpu.s.gpr[RAX];
    let (a, h) = (ax & 0xFF, (ax >> 8) & 0xFF);
    let prod = h * base;
    let r = (a + prod) & 0xFF;
    cpu.s.gpr[RAX] = (ax & !0xFFFF) | r;
    // CF, OF, AF are undefined: ondol reports them as the byte addition AL + AH*base sets them.
    let (_, f) = super::alu::add_flags(1, a, prod & 0xFF, 0);
    cpu.set_flags(ARITH, f);
    Ok(())
}

pub(crate) fn salc(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    let v = if cpu.flag(CF) { 0xFF } else { 0 };
    set_al(cpu, v);
    Ok(())
}

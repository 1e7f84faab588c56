//! Integer arithmetic and logic: ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NEG, NOT.

use super::{mask, sign, szp};
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::fault::Result;
use crate::icache::Decoded;
use crate::state::flags::{AF, ARITH, CF, OF};

pub(crate) const ADD: u8 = 0;
pub(crate) const OR: u8 = 1;
pub(crate) const ADC: u8 = 2;
pub(crate) const SBB: u8 = 3;
pub(crate) const AND: u8 = 4;
pub(crate) const SUB: u8 = 5;
pub(crate) const XOR: u8 = 6;
pub(crate) const CMP: u8 = 7;
pub(crate) const TEST: u8 = 8;

/// a + b + carry: result and all six status flags.
#[inline(always)]
pub(crate) fn add_flags(size: u64, a: u64, b: u64, carry: u64) -> (u64, u64) {
    let m = mask(size);
    let (r, cf) = if size == 8 {
        let (r1, c1) = a.overflowing_add(b);
        let (r2, c2) = r1.overflowing_add(carry);
        (r2, c1 || c2)
    } else {
        let full = a + b + carry;
        (full & m, full > m)
    };
    let mut f = szp(size, r);
    if cf {
        f |= CF;
    }
    if (a ^ r) & (b ^ r) & sign(size) != 0 {
        f |= OF;
    }
    f |= (a ^ b ^ r) & AF;
    (r, f)
}

/// a - b - borrow: result and all six status flags.
#[inline(always)]
pub(crate) fn sub_flags(size: u64, a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let m = mask(size);
    let r = a.wrapping_sub(b).wrapping_sub(borrow) & m;
    let cf = (a as u128) < (b as u128) + (borrow as u128);
    let mut f = szp(size, r);
    if cf {
        f |= CF;
    }
    if (a ^ b) & (a ^ r) & sign(size) != 0 {
        f |= OF;
    }
    f |= (a ^ b ^ r) & AF;
    (r, f)
}

/// Apply an ALU operation, updating the flags; returns the result.
#[inline(always)]
pub(crate) fn alu(cpu: &mut Cpu, op: u8, size: u64, a: u64, b: u64) -> u64 {
    let carry = cpu.s.rflags & CF;
    let (r, f) = match op {
        ADD => add_flags(size, a, b, 0),
        ADC => add_flags(size, a, b, carry),
        SUB | CMP => sub_flags(size, a, b, 0),
        SBB => sub_flags(size, a, b, carry),
        _ => {
            let r = match op {
                OR => a | b,
                XOR => a ^ b,
                _ => a & b,
            } & mask(size);
            // CF and OF cleared; AF undefined (cleared, as current Intel CPUs do).
            (r, szp(size, r))
        }
    };
    cpu.s.rflags = (cpu.s.rflags & !ARITH) | f;
    r
}

/// Two-operand ALU instruction: op0 = op0 OP op1.
pub(crate) fn binop<const OP: u8>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let loc = cpu.loc(d, 0);
    let b = cpu.read_op(bus, d, 1, size)?;
    let a = cpu.read_loc(bus, loc, size)?;
    let r = alu(cpu, OP, size, a, b);
    if OP != CMP && OP != TEST {
        cpu.write_loc(bus, loc, size, r)?;
    }
    Ok(())
}

pub(crate) fn inc(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let loc = cpu.loc(d, 0);
    let a = cpu.read_loc(bus, loc, size)?;
    let (r, f) = add_flags(size, a, 1, 0);
    cpu.write_loc(bus, loc, size, r)?;
    cpu.set_flags(ARITH & !CF, f);
    Ok(())
}

pub(crate) fn dec(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let loc = cpu.loc(d, 0);
    let a = cpu.read_loc(bus, loc, size)?;
    let (r, f) = sub_flags(size, a, 1, 0);
    cpu.write_loc(bus, loc, size, r)?;
    cpu.set_flags(ARITH & !CF, f);
    Ok(())
}

pub(crate) fn neg(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let loc = cpu.loc(d, 0);
    let a = cpu.read_loc(bus, loc, size)?;
    let (r, f) = sub_flags(size, 0, a, 0);
    cpu.write_loc(bus, loc, size, r)?;
    cpu.set_flags(ARITH, f);
    Ok(())
}

pub(crate) fn not(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let loc = cpu.loc(d, 0);
    let a = cpu.read_loc(bus, loc, size)?;
    cpu.write_loc(bus, loc, size, !a & mask(size))
}

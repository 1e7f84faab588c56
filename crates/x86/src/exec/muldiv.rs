//! MUL, IMUL (one, two and three operands), DIV, IDIV.

use super::{mask, sext, szp};
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::fault::{Fault, Result};
use crate::icache::Decoded;
use crate::state::flags::{ARITH, CF, OF};
use crate::state::{RAX, RDX};

/// The accumulator pair: (low, high) for an operand of `size` bytes.
fn acc(cpu: &Cpu, size: u64) -> (u64, u64) {
    let m = mask(size);
    match size {
        1 => (cpu.s.gpr[RAX] & 0xFF, (cpu.s.gpr[RAX] >> 8) & 0xFF),
        _ => (cpu.s.gpr[RAX] & m, cpu.s.gpr[RDX] & m),
    }
}

fn set_acc(cpu: &mut Cpu, size: u64, lo: u64, hi: u64) {
    match size {
        1 => {
            let g = &mut cpu.s.gpr[RAX];
            *g = (*g & !0xFFFF) | (lo & 0xFF) | ((hi & 0xFF) << 8);
        }
        2 => {
            cpu.s.gpr[RAX] = (cpu.s.gpr[RAX] & !0xFFFF) | (lo & 0xFFFF);
            cpu.s.gpr[RDX] = (cpu.s.gpr[RDX] & !0xFFFF) | (hi & 0xFFFF);
        }
        4 => {
            cpu.s.gpr[RAX] = lo & 0xFFFF_FFFF;
            cpu.s.gpr[RDX] = hi & 0xFFFF_FFFF;
        }
        _ => {
            cpu.s.gpr[RAX] = lo;
            cpu.s.gpr[RDX] = hi;
        }
    }
}

/// CF and OF set together; SF, ZF, PF from the low half (architecturally undefined).
fn mul_flags(cpu: &mut Cpu, size: u64, lo: u64, overflow: bool) {
    let mut f = szp(size, lo);
    if overflow {
        f |= CF | OF;
    }
    cpu.set_flags(ARITH, f);
}

/// MUL; `S` is the operand size in bytes, fixed when the handler is chosen.
pub(crate) fn mul<const S: u64>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = S;
    let src = cpu.read_op(bus, d, 0, size)?;
    let (a, _) = acc(cpu, size);
    let full = a as u128 * src as u128;
    let bits = size * 8;
    let lo = full as u64 & mask(size);
    let hi = (full >> bits) as u64 & mask(size);
    set_acc(cpu, size, lo, hi);
    mul_flags(cpu, size, lo, hi != 0);
    Ok(())
}

/// IMUL (all three forms); `S` is the operand size in bytes, fixed when the handler is chosen.
pub(crate) fn imul<const S: u64>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = S;
    let bits = size * 8;
    let m = mask(size);
    match d.instr.op_count() {
        1 => {
            let src = sext(cpu.read_op(bus, d, 0, size)?, size) as i64 as i128;
            let (a, _) = acc(cpu, size);
            let full = sext(a, size) as i64 as i128 * src;
            let lo = full as u64 & m;
            let hi = (full >> bits) as u64 & m;
            set_acc(cpu, size, lo, hi);
            mul_flags(cpu, size, lo, full != sext(lo, size) as i64 as i128);
        }
        n => {
            let (x, y) = if n == 2 {
                (cpu.read_op(bus, d, 0, size)?, cpu.read_op(bus, d, 1, size)?)
            } else {
                (cpu.read_op(bus, d, 1, size)?, d.instr.immediate(2) & m)
            };
            let full = sext(x, size) as i64 as i128 * sext(y, size) as i64 as i128;
            let lo = full as u64 & m;
            cpu.set_gpr(d.instr.op0_register(), lo);
            mul_flags(cpu, size, lo, full != sext(lo, size) as i64 as i128);
        }
    }
    Ok(())
}

pub(crate) fn div(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let bits = size * 8;
    let src = cpu.read_op(bus, d, 0, size)? as u128;
    if src == 0 {
        return Err(Fault::de());
    }
    let (lo, hi) = acc(cpu, size);
    let dividend = ((hi as u128) << bits) | lo as u128;
    let q = dividend / src;
    let r = dividend % src;
    if q > mask(size) as u128 {
        return Err(Fault::de());
    }
    set_acc(cpu, size, q as u64, r as u64);
    Ok(())
}

pub(crate) fn idiv(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let bits = size * 8;
    let src = sext(cpu.read_op(bus, d, 0, size)?, size) as i64 as i128;
    if src == 0 {
        return Err(Fault::de());
    }
    let (lo, hi) = acc(cpu, size);
    let raw = ((hi as u128) << bits) | lo as u128;
    // Sign-extend the 2*bits-wide dividend.
    let sh = 128 - 2 * bits as u32;
    let dividend = ((raw << sh) as i128) >> sh;
    if dividend == i128::MIN && src == -1 {
        return Err(Fault::de());
    }
    let q = dividend / src;
    let r = dividend % src;
    let max = (1i128 << (bits - 1)) - 1;
    let min = -(1i128 << (bits - 1));
    if q > max || q < min {
        return Err(Fault::de());
    }
    set_acc(cpu, size, q as u64 & mask(size), r as u64 & mask(size));
    Ok(())
}

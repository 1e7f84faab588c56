//! Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD (SDM Vol. 2B).
//!
//! The count is masked to 5 bits (6 for 64-bit operands); a masked count of zero changes
//! nothing, flags included. OF is architecturally defined only for 1-bit shifts; for longer
//! ones ondol computes it with the 1-bit formula on the final result, as Intel CPUs do.

use super::{mask, sext, szp};
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::fault::Result;
use crate::icache::Decoded;
use crate::state::flags::{AF, ARITH, CF, OF};

pub(crate) const ROL: u8 = 0;
pub(crate) const ROR: u8 = 1;
pub(crate) const RCL: u8 = 2;
pub(crate) const RCR: u8 = 3;
pub(crate) const SHL: u8 = 4;
pub(crate) const SHR: u8 = 5;
pub(crate) const SAR: u8 = 7;

#[inline(always)]
fn count(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded, n: u32, size: u64) -> Result<u64> {
    let raw = cpu.read_op(bus, d, n, 1)?;
    Ok(if size == 8 { raw & 0x3F } else { raw & 0x1F })
}

/// Shifts; `S` is the operand size in bytes, fixed when the handler is chosen.
pub(crate) fn shift<const OP: u8, const S: u64>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = S;
    let bits = size * 8;
    let m = mask(size);
    let loc = cpu.loc(d, 0);
    let a = cpu.read_loc(bus, loc, size)?;
    let c = count(cpu, bus, d, 1, size)?;
    if c == 0 {
        return Ok(());
    }
    let (r, cf, of) = match OP {
        SHL => {
            let wide = (a as u128) << c;
            let r = (wide as u64) & m;
            let cf = (wide >> bits) as u64 & 1;
            (r, cf, ((r >> (bits - 1)) & 1) ^ cf)
        }
        SHR => {
            let r = a >> c;
            let cf = (a >> (c - 1)) & 1;
            // OF: the original sign for a 1-bit shift; the result's top two bits otherwise.
            let of = if c == 1 { (a >> (bits - 1)) & 1 } else { ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1 };
            (r, cf, of)
        }
        _ => {
            let sa = sext(a, size) as i64;
            let r = (sa >> c.min(63)) as u64 & m;
            let cf = (sa >> (c - 1).min(63)) as u64 & 1;
            (r, cf, 0)
        }
    };
    cpu.write_loc(bus, loc, size, r)?;
    let mut f = szp(size, r);
    if cf != 0 {
        f |= CF;
    }
    if of != 0 {
        f |= OF;
    }
    cpu.set_flags(ARITH & !AF, f);
    cpu.s.rflags &= !AF;
    Ok(())
}

/// Rotates; `S` is the operand size in bytes, fixed when the handler is chosen.
pub(crate) fn rotate<const OP: u8, const S: u64>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = S;
    let bits = size * 8;
    let m = mask(size);
    let loc = cpu.loc(d, 0);
    let a = cpu.read_loc(bus, loc, size)?;
    let c = count(cpu, bus, d, 1, size)?;
    if c == 0 {
        return Ok(());
    }
    let msb = |v: u64| (v >> (bits - 1)) & 1;
    let (r, cf) = match OP {
        ROL => {
            let t = c % bits;
            let r = if t == 0 { a } else { ((a << t) | (a >> (bits - t))) & m };
            (r, r & 1)
        }
        ROR => {
            let t = c % bits;
            let r = if t == 0 { a } else { ((a >> t) | (a << (bits - t))) & m };
            (r, msb(r))
        }
        _ => {
            let t = match size {
                1 => c % 9,
                2 => c % 17,
                _ => c,
            };
            let old_cf = (cpu.s.rflags & CF) as u128;
            let w = bits as u32 + 1;
            let v = ((old_cf) << bits) | a as u128;
            let full = (1u128 << w) - 1;
            let t = t as u32;
            // A count that is a multiple of width + 1 leaves value and CF as they were; OF
            // is still recomputed (what the 286 recordings show; undefined on later CPUs).
            let rot = if t == 0 {
                v
            } else if OP == RCL {
                ((v << t) | (v >> (w - t))) & full
            } else {
                ((v >> t) | (v << (w - t))) & full
            };
            ((rot as u64) & m, ((rot >> bits) & 1) as u64)
        }
    };
    cpu.write_loc(bus, loc, size, r)?;
    let of = match OP {
        ROL | RCL => msb(r) ^ cf,
        _ => msb(r) ^ ((r >> (bits - 2)) & 1),
    };
    let mut f = 0;
    if cf != 0 {
        f |= CF;
    }
    if of != 0 {
        f |= OF;
    }
    cpu.set_flags(CF | OF, f);
    Ok(())
}

fn double_shift(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded, left: bool) -> Result<()> {
    let size = d.osz as u64;
    let bits = size * 8;
    let m = mask(size);
    let loc = cpu.loc(d, 0);
    let b = cpu.read_op(bus, d, 1, size)?;
    let c = count(cpu, bus, d, 2, size)?;
    if c == 0 {
        return Ok(());
    }
    let a = cpu.read_loc(bus, loc, size)?;
    let (r, cf) = if size == 2 {
        // 16-bit counts above 16 shift dest:src:dest (what P6 and later do; architecturally
        // undefined).
        let v = ((a as u128) << 32) | ((b as u128) << 16) | a as u128;
        if left {
            (((v << c) >> 32) as u64 & m, ((v << c) >> 48) as u64 & 1)
        } else {
            ((v >> c) as u64 & m, (v >> (c - 1)) as u64 & 1)
        }
    } else if left {
        let v = ((a as u128) << bits) | b as u128;
        (((v << c) >> bits) as u64 & m, (a >> (bits - c)) & 1)
    } else {
        let v = ((b as u128) << bits) | a as u128;
        ((v >> c) as u64 & m, (a >> (c - 1)) & 1)
    };
    cpu.write_loc(bus, loc, size, r)?;
    let mut f = szp(size, r);
    if cf != 0 {
        f |= CF;
    }
    if ((r ^ a) >> (bits - 1)) & 1 != 0 {
        f |= OF;
    }
    cpu.set_flags(ARITH, f);
    Ok(())
}

pub(crate) fn shld(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    double_shift(cpu, bus, d, true)
}

pub(crate) fn shrd(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    double_shift(cpu, bus, d, false)
}

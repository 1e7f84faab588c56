//! Conversions between the register format and the memory formats: single, double and double
//! extended real, 16/32/64-bit integers, 18-digit packed BCD (SDM Vol. 1, 4.2 and 8.2).

use super::round::{Ctx, Out, ex, round_int, to_f32, to_f64};
use super::value::*;
use rustc_apfloat::Float;

/// The memory formats of x87 operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fmt {
    F32,
    F64,
    F80,
    I16,
    I32,
    I64,
    Bcd,
}

impl Fmt {
    pub const fn bytes(self) -> u64 {
        match self {
            Fmt::F32 | Fmt::I32 => 4,
            Fmt::F64 | Fmt::I64 => 8,
            Fmt::F80 | Fmt::Bcd => 10,
            Fmt::I16 => 2,
        }
    }

    /// What a masked invalid-operation store writes: the QNaN indefinite of a real format, the
    /// integer indefinite (most negative value), or the packed BCD indefinite.
    pub const fn indefinite(self) -> u128 {
        match self {
            Fmt::F32 => 0xFFC0_0000,
            Fmt::F64 => 0xFFF8_0000_0000_0000,
            Fmt::F80 => 0xFFFF_C000_0000_0000_0000,
            Fmt::I16 => 0x8000,
            Fmt::I32 => 0x8000_0000,
            Fmt::I64 => 0x8000_0000_0000_0000,
            Fmt::Bcd => 0xFFFF_C000_0000_0000_0000,
        }
    }
}

/// A memory operand read into the register format, exactly (an SNaN stays signaling); the flag
/// says whether it was a denormal in its own format (a #D operand).
pub fn widen(raw: u128, fmt: Fmt) -> (F80, bool) {
    match fmt {
        Fmt::F32 => real_in(raw as u64 & 0xFFFF_FFFF, 8, 23),
        Fmt::F64 => real_in(raw as u64, 11, 52),
        Fmt::F80 => (F80::from_bits(raw), false),
        Fmt::I16 => (super::arith::from_int(raw as u16 as i16 as i64), false),
        Fmt::I32 => (super::arith::from_int(raw as u32 as i32 as i64), false),
        Fmt::I64 => (super::arith::from_int(raw as u64 as i64), false),
        Fmt::Bcd => (bcd_in(raw), false),
    }
}

/// Single or double real (exponent `eb` bits, fraction `fb` bits) to the register format.
fn real_in(bits: u64, eb: u32, fb: u32) -> (F80, bool) {
    let sign = bits >> (eb + fb) & 1 != 0;
    let e = ((bits >> fb) & ((1 << eb) - 1)) as i32;
    let frac = bits & ((1 << fb) - 1);
    let emax = (1 << eb) - 1;
    let bias = (1 << (eb - 1)) - 1;
    if e == emax {
        // Infinity or NaN: the fraction moves to the top of the 63-bit fraction field.
        return (F80::new(sign, 0x7FFF, J | (frac << (63 - fb))), false);
    }
    if e == 0 {
        if frac == 0 {
            return (F80::zero(sign), false);
        }
        let v = Hi::from_u128(frac as u128).value.scalbn(1 - bias - fb as i32).with_sign(sign);
        return (encode(v), true);
    }
    (F80::new(sign, (e - bias + BIAS) as u16, J | (frac << (63 - fb))), false)
}

/// Packed BCD: 18 digits in bytes 0..8 (two per byte, low digit first), sign in bit 79.
/// Digits above 9 are not checked (the result of such an encoding is undefined; they are taken
/// at their face value).
fn bcd_in(raw: u128) -> F80 {
    let mut v: u64 = 0;
    for i in (0..18).rev() {
        v = v * 10 + ((raw >> (4 * i)) & 0xF) as u64;
    }
    let r = super::arith::from_int(v as i64);
    r.with_sign(raw >> 79 & 1 != 0)
}

/// FLD from a single or double real: #IA for an SNaN (loaded quiet when masked), #D for a
/// denormal (nothing loaded when unmasked).
pub fn load_real(raw: u128, fmt: Fmt, ctx: Ctx) -> Out<F80> {
    let (v, denormal) = widen(raw, fmt);
    if matches!(fmt, Fmt::F32 | Fmt::F64) {
        if v.class() == Class::SNaN {
            return if ctx.masked(ex::IE) { Out::with(v.quiet(), ex::IE) } else { Out::abort(ex::IE) };
        }
        if denormal {
            return if ctx.masked(ex::DE) { Out::with(v, ex::DE) } else { Out::abort(ex::DE) };
        }
    }
    Out::ok(v)
}

/// FST/FSTP to a real format.
pub fn store_real(v: F80, fmt: Fmt, ctx: Ctx) -> Out<u128> {
    if fmt == Fmt::F80 {
        return Out::ok(v.to_bits());
    }
    let (eb, fb) = if fmt == Fmt::F32 { (8u32, 23u32) } else { (11, 52) };
    let sign = (v.sign() as u64) << (eb + fb);
    let exp_all = ((1u64 << eb) - 1) << fb;
    let invalid = |ctx: Ctx| if ctx.masked(ex::IE) { Out::with(fmt.indefinite(), ex::IE) } else { Out::abort(ex::IE) };
    match v.class() {
        Class::Unsupported => invalid(ctx),
        Class::SNaN if !ctx.masked(ex::IE) => Out::abort(ex::IE),
        Class::SNaN | Class::QNaN => {
            // The NaN's fraction truncated to the destination (quiet bit set).
            let frac = ((v.sig | QUIET) & !J) >> (63 - fb);
            let flags = if v.class() == Class::SNaN { ex::IE } else { 0 };
            Out::with((sign | exp_all | frac) as u128, flags)
        }
        Class::Infinity => Out::ok((sign | exp_all) as u128),
        Class::Zero => Out::ok(sign as u128),
        _ => {
            let x = v.to_hi();
            if fmt == Fmt::F32 {
                let o = to_f32(x, ctx);
                Out { v: o.v.map(|b| b as u128), ex: o.ex, up: o.up }
            } else {
                let o = to_f64(x, ctx);
                Out { v: o.v.map(|b| b as u128), ex: o.ex, up: o.up }
            }
        }
    }
}

/// FIST/FISTP: round in the current mode; NaN, infinity, unsupported and out-of-range values
/// are invalid (the integer indefinite when masked).
pub fn store_int(v: F80, fmt: Fmt, ctx: Ctx) -> Out<u128> {
    let bits = fmt.bytes() as u32 * 8;
    let invalid = if ctx.masked(ex::IE) { Out::with(fmt.indefinite(), ex::IE) } else { Out::abort(ex::IE) };
    match v.class() {
        Class::Zero => return Out::ok(0),
        Class::Normal | Class::Denormal | Class::PseudoDenormal => {}
        _ => return invalid,
    }
    let (r, inexact, up) = round_int(v.to_hi(), ctx.rc());
    // |r| must fit: -2^(bits-1) ..= 2^(bits-1) - 1.
    let lim = 1u128 << (bits - 1);
    let mag = if r.is_zero() {
        0
    } else if r.ilogb() >= bits as i32 {
        u128::MAX
    } else {
        scaled_int(r, 0)
    };
    let fits = if r.is_negative() { mag <= lim } else { mag < lim };
    if !fits {
        return invalid;
    }
    let val = if r.is_negative() { mag.wrapping_neg() } else { mag };
    let mask = if bits == 64 { u64::MAX as u128 } else { (1u128 << bits) - 1 };
    Out { v: Some(val & mask), ex: if inexact { ex::PE } else { 0 }, up }
}

/// FBSTP: round to an integer, then 18 BCD digits; beyond 18 digits is invalid (the packed BCD
/// indefinite when masked).
pub fn store_bcd(v: F80, ctx: Ctx) -> Out<u128> {
    let invalid = if ctx.masked(ex::IE) { Out::with(Fmt::Bcd.indefinite(), ex::IE) } else { Out::abort(ex::IE) };
    match v.class() {
        Class::Zero => return Out::ok((v.sign() as u128) << 79),
        Class::Normal | Class::Denormal | Class::PseudoDenormal => {}
        _ => return invalid,
    }
    let (r, inexact, up) = round_int(v.to_hi(), ctx.rc());
    let mag = if r.is_zero() {
        0
    } else if r.ilogb() >= 64 {
        u128::MAX
    } else {
        scaled_int(r, 0)
    };
    if mag > 999_999_999_999_999_999 {
        return invalid;
    }
    let mut out: u128 = 0;
    let mut m = mag;
    for i in 0..18 {
        out |= (m % 10) << (4 * i);
        m /= 10;
    }
    out |= (v.sign() as u128) << 79;
    Out { v: Some(out), ex: if inexact { ex::PE } else { 0 }, up }
}

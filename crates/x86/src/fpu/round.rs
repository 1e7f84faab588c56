//! Rounding a result to its destination, with the x87's overflow, underflow and precision
//! exceptions and their masked and unmasked responses (SDM Vol. 1, 8.5.4-8.5.6).

use super::value::*;
use rustc_apfloat::ieee::{Double, DoubleS, IeeeFloat, Semantics, Single, SingleS};
use rustc_apfloat::{Float, Round, Status};

/// Exception flags: their bits in the status word, and the mask bits in the control word.
pub mod ex {
    pub const IE: u16 = 1 << 0;
    pub const DE: u16 = 1 << 1;
    pub const ZE: u16 = 1 << 2;
    pub const OE: u16 = 1 << 3;
    pub const UE: u16 = 1 << 4;
    pub const PE: u16 = 1 << 5;
    /// Stack fault (with IE).
    pub const SF: u16 = 1 << 6;
    /// The six exception flags / masks.
    pub const ALL: u16 = 0x3F;
}

/// Exponent bias adjustment of unmasked overflow and underflow results (SDM Vol. 1, 8.5.4).
pub const BIAS_ADJUST: i32 = 24576;

/// What an operation produced: the value to store (None when an unmasked exception suppresses
/// the store), the exception flags it raised, and whether the result was rounded up in
/// magnitude (reported in C1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Out<T> {
    pub v: Option<T>,
    pub ex: u16,
    pub up: bool,
}

impl<T> Out<T> {
    pub fn ok(v: T) -> Self {
        Out { v: Some(v), ex: 0, up: false }
    }
    /// An exception that suppresses the result.
    pub fn abort(ex: u16) -> Self {
        Out { v: None, ex, up: false }
    }
    pub fn with(v: T, ex: u16) -> Self {
        Out { v: Some(v), ex, up: false }
    }
}

/// The control word's settings an operation depends on.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub cw: u16,
}

impl Ctx {
    pub fn masked(self, e: u16) -> bool {
        self.cw & e == e
    }
    pub fn rc(self) -> Round {
        rounding(self.cw >> 10)
    }
    /// Significand bits chosen by precision control (CW bits 8-9; the reserved 01 acts as 11).
    pub fn precision(self) -> u32 {
        match (self.cw >> 8) & 3 {
            0 => 24,
            2 => 53,
            _ => 64,
        }
    }
    /// An invalid-operation result: the indefinite when masked, else nothing.
    pub fn invalid(self) -> Out<F80> {
        if self.masked(ex::IE) { Out::with(F80::INDEFINITE, ex::IE) } else { Out::abort(ex::IE) }
    }
}

fn inexact<S: Semantics>(s: &rustc_apfloat::StatusAnd<IeeeFloat<S>>) -> bool {
    s.status.contains(Status::INEXACT)
}

fn rounded_up<S: Semantics>(r: IeeeFloat<S>, x: Hi) -> bool {
    let r = hi(r);
    r.abs() > x.abs()
}

/// Round `x` (exact or rounded to odd) to a register with `prec` significand bits.
pub fn to_reg(x: Hi, prec: u32, ctx: Ctx) -> Out<F80> {
    match prec {
        24 => round_reg::<W24S, X24S>(x, ctx),
        53 => round_reg::<W53S, X53S>(x, ctx),
        _ => round_reg::<W64S, X64S>(x, ctx),
    }
}

fn round_reg<W: Semantics, T: Semantics>(x: Hi, ctx: Ctx) -> Out<F80> {
    let rc = ctx.rc();
    if x.is_zero() || !x.is_finite() {
        return Out::ok(encode(x));
    }
    let w = conv::<HiS, W>(x, rc);
    let wv = w.value;
    let pe = if inexact(&w) { ex::PE } else { 0 };
    let e = wv.ilogb();
    if e > EMAX {
        if ctx.masked(ex::OE) {
            let t = conv::<HiS, T>(x, rc).value;
            return Out { v: Some(encode(t)), ex: ex::OE | ex::PE, up: rounded_up(t, x) };
        }
        // Unmasked: the rounded significand with the exponent reduced by 24576; a result still
        // too large after that ("massive overflow") is an infinity.
        let b = wv.scalbn(-BIAS_ADJUST);
        let v = if b.ilogb() > EMAX { F80::infinity(b.is_negative()) } else { encode(b) };
        return Out { v: Some(v), ex: ex::OE | pe, up: pe != 0 && rounded_up(wv, x) };
    }
    if e < EMIN {
        if ctx.masked(ex::UE) {
            let t = conv::<HiS, T>(x, rc);
            let lost = inexact(&t);
            let flags = if lost { ex::UE | ex::PE } else { 0 };
            return Out { v: Some(encode(t.value)), ex: flags, up: lost && rounded_up(t.value, x) };
        }
        let b = wv.scalbn(BIAS_ADJUST);
        let v = if b.ilogb() < EMIN { encode(conv::<W, T>(b, rc).value) } else { encode(b) };
        return Out { v: Some(v), ex: ex::UE | pe, up: pe != 0 && rounded_up(wv, x) };
    }
    Out { v: Some(encode(wv)), ex: pe, up: pe != 0 && rounded_up(wv, x) }
}

/// Round `x` for a store to memory in single or double precision: unmasked overflow or
/// underflow store nothing (SDM Vol. 1, 8.5.4: "Destination is a memory location").
fn round_mem<W: Semantics, T: Semantics>(x: Hi, ctx: Ctx, emin: i32, emax: i32) -> Out<IeeeFloat<T>> {
    let rc = ctx.rc();
    if x.is_zero() {
        return Out::ok(conv::<HiS, T>(x, rc).value);
    }
    let w = conv::<HiS, W>(x, rc);
    let e = w.value.ilogb();
    if e > emax && !ctx.masked(ex::OE) {
        return Out::abort(ex::OE);
    }
    if e < emin && !ctx.masked(ex::UE) {
        return Out::abort(ex::UE);
    }
    let t = conv::<HiS, T>(x, rc);
    let lost = inexact(&t);
    let mut flags = if lost { ex::PE } else { 0 };
    if e > emax {
        flags |= ex::OE | ex::PE;
    } else if e < emin && lost {
        flags |= ex::UE;
    }
    Out { v: Some(t.value), ex: flags, up: lost && rounded_up(t.value, x) }
}

/// A finite value to single precision (memory).
pub fn to_f32(x: Hi, ctx: Ctx) -> Out<u32> {
    let o = round_mem::<W24S, SingleS>(x, ctx, -126, 127);
    Out { v: o.v.map(|v: Single| v.to_bits() as u32), ex: o.ex, up: o.up }
}

/// A finite value to double precision (memory).
pub fn to_f64(x: Hi, ctx: Ctx) -> Out<u64> {
    let o = round_mem::<W53S, DoubleS>(x, ctx, -1022, 1023);
    Out { v: o.v.map(|v: Double| v.to_bits() as u64), ex: o.ex, up: o.up }
}

/// Round to an integer in the current rounding mode: the integral value, whether it is inexact,
/// and whether it was rounded up in magnitude.
pub fn round_int(x: Hi, rc: Round) -> (Hi, bool, bool) {
    let r = x.round_to_integral(rc).value;
    let r = if r.is_zero() { r.with_sign(x.is_negative()) } else { r };
    let inexact = r != x;
    (r, inexact, inexact && r.abs() > x.abs())
}

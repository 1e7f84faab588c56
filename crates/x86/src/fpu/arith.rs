//! x87 arithmetic on 80-bit values: the operand checks (unsupported formats, NaNs, invalid
//! combinations, division by zero, denormal operands) in the SDM's order of precedence (Vol. 1,
//! 4.9.2), then the operation itself, rounded once (`round.rs`).

use super::round::{Ctx, Out, ex, round_int, to_reg};
use super::value::*;
use core::cmp::Ordering;
use rustc_apfloat::{Float, Round};

/// The binary operations of FADD .. FDIVR (R: operands reversed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    SubR,
    Mul,
    Div,
    DivR,
}

/// The result of an operation on a NaN: SDM Vol. 1, Table 4-7 for the x87 (a QNaN wins over an
/// SNaN; of two NaNs of the same kind, the larger significand; of equal ones, the positive).
/// The second value is whether an SNaN was involved (#IA).
pub fn nan_result(a: F80, b: F80) -> (F80, bool) {
    let (an, bn) = (a.is_nan(), b.is_nan());
    let (asn, bsn) = (a.class() == Class::SNaN, b.class() == Class::SNaN);
    let (qa, qb) = (a.quiet(), b.quiet());
    let larger = || {
        if qa.sig != qb.sig {
            if qa.sig > qb.sig { qa } else { qb }
        } else if qa.sign() {
            qb
        } else {
            qa
        }
    };
    let r = match (an, bn) {
        (true, false) => qa,
        (false, true) => qb,
        _ if asn && !bsn => qb,
        _ if bsn && !asn => qa,
        _ => larger(),
    };
    (r, asn || bsn)
}

/// Common handling of NaN and unsupported operands: Some(outcome) when they decide the result.
pub fn special_operands(a: F80, b: F80, ctx: Ctx) -> Option<Out<F80>> {
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Unsupported || cb == Class::Unsupported {
        return Some(ctx.invalid());
    }
    if a.is_nan() || b.is_nan() {
        let (r, snan) = nan_result(a, b);
        return Some(if !snan {
            Out::ok(r)
        } else if ctx.masked(ex::IE) {
            Out::with(r, ex::IE)
        } else {
            Out::abort(ex::IE)
        });
    }
    None
}

/// One operand's NaN / unsupported handling.
pub fn special_operand(a: F80, ctx: Ctx) -> Option<Out<F80>> {
    match a.class() {
        Class::Unsupported => Some(ctx.invalid()),
        Class::QNaN => Some(Out::ok(a)),
        Class::SNaN if ctx.masked(ex::IE) => Some(Out::with(a.quiet(), ex::IE)),
        Class::SNaN => Some(Out::abort(ex::IE)),
        _ => None,
    }
}

/// The denormal-operand exception: Err(outcome) when unmasked (the operation is not done).
pub fn denormal_check(ops: &[F80], extra: bool, ctx: Ctx) -> Result<u16, Out<F80>> {
    if extra || ops.iter().any(|v| v.is_denormal()) {
        if ctx.masked(ex::DE) { Ok(ex::DE) } else { Err(Out::abort(ex::DE)) }
    } else {
        Ok(0)
    }
}

fn is_inf(v: F80) -> bool {
    v.class() == Class::Infinity
}

fn is_zero(v: F80) -> bool {
    v.class() == Class::Zero
}

/// `a op b` for FADD .. FDIVR, where `a` is the destination operand and `b` the source; rounded
/// to `prec` bits (precision control). `src_de`: the source was a denormal in its memory format.
pub fn binary(op: Op, a: F80, b: F80, src_de: bool, prec: u32, ctx: Ctx) -> Out<F80> {
    let (x, y, op) = match op {
        Op::SubR => (b, a, Op::Sub),
        Op::DivR => (b, a, Op::Div),
        o => (a, b, o),
    };
    if let Some(o) = special_operands(x, y, ctx) {
        return o;
    }
    let y = if op == Op::Sub { y.neg() } else { y };
    let sign = x.sign() ^ y.sign();
    match op {
        Op::Add | Op::Sub => {
            if is_inf(x) && is_inf(y) && x.sign() != y.sign() {
                return ctx.invalid();
            }
        }
        Op::Mul => {
            if (is_inf(x) && is_zero(y)) || (is_zero(x) && is_inf(y)) {
                return ctx.invalid();
            }
        }
        _ => {
            if (is_zero(x) && is_zero(y)) || (is_inf(x) && is_inf(y)) {
                return ctx.invalid();
            }
            if is_zero(y) && !is_inf(x) {
                return if ctx.masked(ex::ZE) { Out::with(F80::infinity(sign), ex::ZE) } else { Out::abort(ex::ZE) };
            }
        }
    }
    let de = match denormal_check(&[x, y], src_de, ctx) {
        Ok(f) => f,
        Err(o) => return o,
    };
    let inf = match op {
        Op::Add | Op::Sub if is_inf(x) => Some(x),
        Op::Add | Op::Sub if is_inf(y) => Some(y),
        Op::Mul if is_inf(x) || is_inf(y) => Some(F80::infinity(sign)),
        Op::Div if is_inf(x) => Some(F80::infinity(sign)),
        Op::Div if is_inf(y) => Some(F80::zero(sign)),
        _ => None,
    };
    if let Some(v) = inf {
        return Out::with(v, de);
    }
    let (hx, hy) = (x.to_hi(), y.to_hi());
    let r = match op {
        Op::Add | Op::Sub => hx.add_r(hy, Round::TowardZero),
        Op::Mul => hx.mul_r(hy, Round::TowardZero),
        _ => hx.div_r(hy, Round::TowardZero),
    };
    let mut v = odd(r);
    if v.is_zero() && matches!(op, Op::Add | Op::Sub) {
        // Exact zero sum: -0 only for (-0) + (-0), or when rounding down (IEEE 754, 6.3).
        let neg =
            if is_zero(x) && is_zero(y) && x.sign() == y.sign() { x.sign() } else { ctx.rc() == Round::TowardNegative };
        v = v.with_sign(neg);
    }
    let mut o = to_reg(v, prec, ctx);
    o.ex |= de;
    o
}

/// FSQRT.
pub fn sqrt(a: F80, prec: u32, ctx: Ctx) -> Out<F80> {
    if let Some(o) = special_operand(a, ctx) {
        return o;
    }
    match a.class() {
        Class::Zero => return Out::ok(a),
        Class::Infinity if !a.sign() => return Out::ok(a),
        _ if a.sign() => return ctx.invalid(),
        _ => {}
    }
    let de = match denormal_check(&[a], false, ctx) {
        Ok(f) => f,
        Err(o) => return o,
    };
    let mut o = to_reg(sqrt_hi(a), prec, ctx);
    o.ex |= de;
    o
}

/// The square root of a positive finite value, rounded to odd at 69 bits (so the final rounding
/// to 64 bits or fewer is correct). Digit-by-digit: one root bit per two radicand bits.
fn sqrt_hi(a: F80) -> Hi {
    let e_field = if a.exp() == 0 { 1 } else { a.exp() as i32 };
    // a = sig * 2^e with e even: the radicand is sig (or 2 sig) followed by zero bits.
    let mut e = e_field - BIAS - 63;
    let mut m = a.sig as u128;
    if e & 1 != 0 {
        m <<= 1;
        e -= 1;
    }
    // 66-bit radicand head (33 digit pairs), then 35 zero pairs: a 68-bit root.
    let (mut root, mut rem) = (0u128, 0u128);
    for i in 0..68 {
        let pair = if i < 33 { (m >> (64 - 2 * i)) & 3 } else { 0 };
        rem = (rem << 2) | pair;
        let trial = (root << 2) | 1;
        root <<= 1;
        if rem >= trial {
            rem -= trial;
            root |= 1;
        }
    }
    // root = floor(sqrt(m * 4^35)) (m read as 66 bits from bit 65 down), value = root * 2^(e/2 - 35).
    let sticky = (rem != 0) as u128;
    let v = Hi::from_u128((root << 1) | sticky).value;
    v.scalbn(e / 2 - 35 - 1)
}

/// Comparison result of FCOM and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Less,
    Equal,
    Greater,
    Unordered,
}

/// Compare `a` with `b` (`b_de`: b was a denormal in its memory format). `quiet`: FUCOM (only SNaNs and unsupported formats are invalid).
pub fn compare(a: F80, b: F80, b_de: bool, quiet: bool, ctx: Ctx) -> Out<Cmp> {
    let (ca, cb) = (a.class(), b.class());
    let unsupported = ca == Class::Unsupported || cb == Class::Unsupported;
    if unsupported || a.is_nan() || b.is_nan() {
        let invalid = unsupported || !quiet || ca == Class::SNaN || cb == Class::SNaN;
        if invalid && !ctx.masked(ex::IE) {
            return Out::abort(ex::IE);
        }
        return Out::with(Cmp::Unordered, if invalid { ex::IE } else { 0 });
    }
    let de = if a.is_denormal() || b.is_denormal() || b_de {
        if !ctx.masked(ex::DE) {
            return Out::abort(ex::DE);
        }
        ex::DE
    } else {
        0
    };
    let r = match order(a, b) {
        Ordering::Less => Cmp::Less,
        Ordering::Equal => Cmp::Equal,
        Ordering::Greater => Cmp::Greater,
    };
    Out::with(r, de)
}

/// Order of two non-NaN values.
fn order(a: F80, b: F80) -> Ordering {
    let ha = if is_inf(a) { Hi::INFINITY.with_sign(a.sign()) } else { a.to_hi() };
    let hb = if is_inf(b) { Hi::INFINITY.with_sign(b.sign()) } else { b.to_hi() };
    ha.partial_cmp(&hb).unwrap_or(Ordering::Equal)
}

/// FRNDINT.
pub fn rndint(a: F80, ctx: Ctx) -> Out<F80> {
    if let Some(o) = special_operand(a, ctx) {
        return o;
    }
    if matches!(a.class(), Class::Zero | Class::Infinity) {
        return Out::ok(a);
    }
    let de = match denormal_check(&[a], false, ctx) {
        Ok(f) => f,
        Err(o) => return o,
    };
    let (r, inexact, up) = round_int(a.to_hi(), ctx.rc());
    Out { v: Some(encode(r)), ex: de | if inexact { ex::PE } else { 0 }, up }
}

/// FSCALE: ST(0) * 2^trunc(ST(1)).
pub fn scale(a: F80, b: F80, ctx: Ctx) -> Out<F80> {
    if let Some(o) = special_operands(a, b, ctx) {
        return o;
    }
    let (ia, ib) = (is_inf(a), is_inf(b));
    if ib {
        // Scaling by an infinity: 0 * 2^+inf and inf * 2^-inf are invalid.
        if (is_zero(a) && !b.sign()) || (ia && b.sign()) {
            return ctx.invalid();
        }
    }
    let de = match denormal_check(&[a, b], false, ctx) {
        Ok(f) => f,
        Err(o) => return o,
    };
    if ia || is_zero(a) {
        return Out::with(a, de);
    }
    if ib {
        return Out::with(if b.sign() { F80::zero(a.sign()) } else { F80::infinity(a.sign()) }, de);
    }
    let n = b.to_hi().round_to_integral(Round::TowardZero).value;
    // Clamp: beyond +-65536 every result overflows or underflows even after the bias adjustment.
    let n = if n.ilogb() > 17 { if n.is_negative() { -65536 } else { 65536 } } else { scaled_int(n, 0) as i32 };
    let n = if b.sign() { -n.abs() } else { n };
    let mut o = to_reg(a.to_hi().scalbn(n), 64, ctx);
    o.ex |= de;
    o
}

/// FXTRACT: (exponent, significand) of ST(0); the zero case raises #Z.
pub fn xtract(a: F80, ctx: Ctx) -> Out<(F80, F80)> {
    match a.class() {
        Class::Unsupported => {
            return if ctx.masked(ex::IE) {
                Out::with((F80::INDEFINITE, F80::INDEFINITE), ex::IE)
            } else {
                Out::abort(ex::IE)
            };
        }
        Class::QNaN => return Out::ok((a, a)),
        Class::SNaN => {
            return if ctx.masked(ex::IE) { Out::with((a.quiet(), a.quiet()), ex::IE) } else { Out::abort(ex::IE) };
        }
        Class::Zero => {
            return if ctx.masked(ex::ZE) { Out::with((F80::infinity(true), a), ex::ZE) } else { Out::abort(ex::ZE) };
        }
        Class::Infinity => return Out::ok((F80::infinity(false), a)),
        _ => {}
    }
    let de = match denormal_check(&[a], false, ctx) {
        Ok(f) => f,
        Err(o) => return Out::abort(o.ex),
    };
    let h = a.to_hi();
    let e = h.ilogb();
    let sig = encode(h.scalbn(-e));
    let exp = encode(Hi::from_i128(e as i128).value);
    Out::with((exp, sig), de)
}

/// FPREM (`ieee` false: quotient truncated) and FPREM1 (`ieee` true: rounded to nearest).
/// Returns the remainder, the low three quotient bits, and whether the reduction is partial.
pub fn prem(a: F80, b: F80, ieee: bool, ctx: Ctx) -> Out<(F80, u8, bool)> {
    let wrap = |o: Out<F80>| Out { v: o.v.map(|v| (v, 0, false)), ex: o.ex, up: o.up };
    if let Some(o) = special_operands(a, b, ctx) {
        return wrap(o);
    }
    if is_inf(a) || is_zero(b) {
        return wrap(ctx.invalid());
    }
    let de = match denormal_check(&[a, b], false, ctx) {
        Ok(f) => f,
        Err(o) => return wrap(o),
    };
    if is_inf(b) || is_zero(a) {
        // Remainder is ST(0) itself (a denormal is normalized, as the hardware does).
        return Out::with((a, 0, false), de);
    }
    let (ha, hb) = (a.to_hi().abs(), b.to_hi().abs());
    let (ea, eb) = (ha.ilogb(), hb.ilogb());
    // Significands as 64-bit integers with the J bit at 63: a = ma * 2^(ea-63), b = mb * 2^(eb-63).
    let ma = scaled_int(ha, 63 - ea);
    let mb = scaled_int(hb, 63 - eb);
    let d = ea - eb;
    let (rem_int, rem_exp, q, partial) = if d >= 64 {
        // Partial remainder: N = 32..63 quotient bits at a time (SDM FPREM: implementation
        // dependent; this is the choice AMD documents and Intel CPUs show).
        let n = (d & 31) | 32;
        let num = ma << n;
        let r = num % mb;
        (r, ea - 63 - n, 0u128, true)
    } else if d < 0 {
        // |a| < |b|: the quotient is 0 (or 1 toward nearest when |a| > |b| / 2).
        if ieee && d == -1 && ma > mb {
            // |a| in (|b|/2, |b|): a - b.
            let diff = (mb << 1) - ma; // b at a's scale is mb * 2, a = ma
            (diff, ea - 63, 1, false)
        } else {
            (ma, ea - 63, 0, false)
        }
    } else {
        let num = ma << d;
        let (mut q, mut r) = (num / mb, num % mb);
        if ieee && (r << 1 > mb || (r << 1 == mb && q & 1 == 1)) {
            q += 1;
            r = mb - r;
            // Remainder changes sign: handled below by `flip`.
            return finish_prem(r, eb - 63, q, true, a, ctx, de);
        }
        (r, eb - 63, q, false)
    };
    if partial {
        return finish_prem(rem_int, rem_exp, q, false, a, ctx, de).map_partial();
    }
    let flip = d < 0 && ieee && d == -1 && ma > mb;
    finish_prem(rem_int, rem_exp, q, flip, a, ctx, de)
}

fn finish_prem(r: u128, exp: i32, q: u128, flip: bool, a: F80, ctx: Ctx, de: u16) -> Out<(F80, u8, bool)> {
    let sign = a.sign() ^ flip;
    let v = if r == 0 {
        F80::zero(a.sign())
    } else {
        let h = Hi::from_u128(r).value.scalbn(exp).with_sign(sign);
        let o = to_reg(h, 64, ctx);
        match o.v {
            Some(v) => return Out { v: Some((v, (q & 7) as u8, false)), ex: o.ex | de, up: false },
            None => return Out::abort(o.ex | de),
        }
    };
    Out::with((v, (q & 7) as u8, false), de)
}

trait Partial {
    fn map_partial(self) -> Self;
}
impl Partial for Out<(F80, u8, bool)> {
    fn map_partial(self) -> Self {
        Out { v: self.v.map(|(v, _, _)| (v, 0, true)), ex: self.ex, up: self.up }
    }
}

/// FABS / FCHS never raise anything but a stack fault; they change only the sign bit.
pub fn abs(a: F80) -> F80 {
    a.with_sign(false)
}

/// Integer value `v` as an 80-bit value (exact).
pub fn from_int(v: i64) -> F80 {
    encode(Hi::from_i128(v as i128).value)
}

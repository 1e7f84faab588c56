//! Transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1 and
//! the constants of FLDPI .. FLDLN2. Series are summed in [`Hi`] (107 bits), ~40 bits beyond the
//! result, so the one final rounding is correct except for the rarest ties: within the x87's
//! documented error of 1 ulp (SDM Vol. 1, 8.3.10). FSIN, FCOS, FSINCOS and FPTAN reduce their
//! argument with the x87's own 66-bit pi (SDM Vol. 1, 8.3.8), as the hardware does.

use super::arith::{denormal_check, special_operand, special_operands};
use super::round::{Ctx, Out, ex, to_reg};
use super::value::*;
use rustc_apfloat::ieee::Double;
use rustc_apfloat::{Float, Round};
use std::sync::OnceLock;

fn add(a: Hi, b: Hi) -> Hi {
    (a + b).value
}
fn sub(a: Hi, b: Hi) -> Hi {
    (a - b).value
}
fn mul(a: Hi, b: Hi) -> Hi {
    (a * b).value
}
fn div(a: Hi, b: Hi) -> Hi {
    (a / b).value
}
fn int(v: i64) -> Hi {
    Hi::from_i128(v as i128).value
}
fn one() -> Hi {
    int(1)
}

/// Sum of a series whose terms shrink: stops when a term no longer changes the sum.
fn converged(term: Hi, sum: Hi) -> bool {
    term.is_zero() || (!sum.is_zero() && term.abs().ilogb() < sum.abs().ilogb() - 110)
}

/// Square root by Newton's method from a double-precision first guess.
fn sqrt_hi(v: Hi) -> Hi {
    if v.is_zero() {
        return v;
    }
    let e = v.ilogb() & !1;
    let m = v.scalbn(-e);
    let d: Double = conv::<HiS, rustc_apfloat::ieee::DoubleS>(m, Round::NearestTiesToEven).value;
    let g = f64::from_bits(d.to_bits() as u64).sqrt();
    let mut s = hi(Double::from_bits(g.to_bits() as u128));
    let half = Hi::from_i128(1).value.scalbn(-1);
    for _ in 0..3 {
        s = mul(add(s, div(m, s)), half);
    }
    s.scalbn(e / 2)
}

/// atanh(u) = u + u^3/3 + u^5/5 + ... for |u| < 1/2.
fn atanh_series(u: Hi) -> Hi {
    let u2 = mul(u, u);
    let (mut p, mut sum) = (u, u);
    for k in 1..200 {
        p = mul(p, u2);
        let term = div(p, int(2 * k + 1));
        sum = add(sum, term);
        if converged(term, sum) {
            break;
        }
    }
    sum
}

/// atan(t) = t - t^3/3 + t^5/5 - ... for |t| <= 1/4.
fn atan_series(t: Hi) -> Hi {
    let t2 = mul(t, t);
    let (mut p, mut sum) = (t, t);
    for k in 1..200 {
        p = -mul(p, t2);
        let term = div(p, int(2 * k + 1));
        sum = add(sum, term);
        if converged(term, sum) {
            break;
        }
    }
    sum
}

/// Constants in working precision, computed once from their series.
pub struct Consts {
    pub pi: Hi,
    pub ln2: Hi,
    pub log2e: Hi,
    pub log2_10: Hi,
    pub log10_2: Hi,
    pub sqrt2: Hi,
}

pub fn consts() -> &'static Consts {
    static C: OnceLock<Consts> = OnceLock::new();
    C.get_or_init(|| {
        // Machin: pi = 16 atan(1/5) - 4 atan(1/239); ln 2 = 2 atanh(1/3); ln 10 = 3 ln 2 + 2 atanh(1/9).
        let a5 = atan_small(div(one(), int(5)));
        let a239 = atan_series(div(one(), int(239)));
        let pi = sub(mul(int(16), a5), mul(int(4), a239));
        let ln2 = mul(int(2), atanh_series(div(one(), int(3))));
        let ln10 = add(mul(int(3), ln2), mul(int(2), atanh_series(div(one(), int(9)))));
        Consts {
            pi,
            ln2,
            log2e: div(one(), ln2),
            log2_10: div(ln10, ln2),
            log10_2: div(ln2, ln10),
            sqrt2: sqrt_hi(int(2)),
        }
    })
}

/// atan for 0 <= t <= 1: two argument halvings t / (1 + sqrt(1 + t^2)) bring t below 0.2.
fn atan_small(t: Hi) -> Hi {
    let mut t = t;
    for _ in 0..2 {
        t = div(t, add(one(), sqrt_hi(add(one(), mul(t, t)))));
    }
    atan_series(t).scalbn(2)
}

/// The value a constant-load instruction pushes, rounded in the current mode.
pub fn constant(which: iced_x86::Mnemonic, ctx: Ctx) -> F80 {
    use iced_x86::Mnemonic as M;
    let c = consts();
    let v = match which {
        M::Fld1 => return F80::ONE,
        M::Fldz => return F80::ZERO,
        M::Fldpi => c.pi,
        M::Fldl2t => c.log2_10,
        M::Fldl2e => c.log2e,
        M::Fldlg2 => c.log10_2,
        _ => c.ln2,
    };
    to_reg(v, 64, ctx).v.unwrap_or(F80::INDEFINITE)
}

/// A value known to be inexact whose working-precision approximation came out exact: move it by
/// one working ulp toward the true value (`down`: the true value is smaller in magnitude).
fn nudge(v: Hi, down: bool) -> Hi {
    let toward_zero = v.is_negative() != down;
    if toward_zero { v.next_up().value } else { v.next_down().value }
}

/// |x| mod (pi/2) with the x87's 66-bit pi: (quadrant, reduced value in [-pi/4, pi/4]).
fn reduce(ax: Hi) -> (u32, Hi) {
    // pi/2 = K * 2^-67 with K the 66 significant bits of the x87's pi (SDM Vol. 1, 8.3.8).
    const K: u128 = 0xC_90FD_AA22_168C_234C;
    let quarter = Hi::from_u128(K).value.scalbn(-68);
    if ax.abs() <= quarter {
        return (0, ax);
    }
    let e = ax.ilogb();
    let m = scaled_int(ax, 63 - e);
    // ax = m * 2^(e-63) = (m << (e + 4)) * 2^-67: long division of that by K.
    let shift = (e + 4).max(0) as u32;
    let (mut r, mut q) = (0u128, 0u64);
    for i in (0..64 + shift).rev() {
        let bit = if i >= shift { (m >> (i - shift)) & 1 } else { 0 };
        r = (r << 1) | bit;
        q <<= 1;
        if r >= K {
            r -= K;
            q |= 1;
        }
    }
    let mut rem = r as i128;
    if r << 1 > K {
        q = q.wrapping_add(1);
        rem -= K as i128;
    }
    ((q & 3) as u32, Hi::from_i128(rem).value.scalbn(-67))
}

/// sin and cos of |y| <= pi/4.
fn sin_cos(y: Hi) -> (Hi, Hi) {
    if y.is_zero() {
        return (y, one());
    }
    if y.abs().ilogb() < -56 {
        return (nudge(y, true), nudge(one(), true));
    }
    let y2 = mul(y, y);
    let (mut t, mut s) = (y, y);
    for k in 1..100 {
        t = -div(mul(t, y2), int((2 * k) * (2 * k + 1)));
        s = add(s, t);
        if converged(t, s) {
            break;
        }
    }
    let (mut t, mut c) = (one(), one());
    for k in 1..100 {
        t = -div(mul(t, y2), int((2 * k - 1) * (2 * k)));
        c = add(c, t);
        if converged(t, c) {
            break;
        }
    }
    (s, c)
}

/// What FSIN, FCOS, FSINCOS and FPTAN do with their operand.
pub enum Trig {
    /// |x| >= 2^63: C2 = 1, nothing changes.
    OutOfRange,
    /// The results (sin, cos) or (tan, 1.0).
    Done(Out<(F80, F80)>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrigOp {
    Sin,
    Cos,
    SinCos,
    Tan,
}

pub fn trig(op: TrigOp, a: F80, ctx: Ctx) -> Trig {
    let pair = |o: Out<F80>| Out { v: o.v.map(|v| (v, v)), ex: o.ex, up: o.up };
    if let Some(o) = special_operand(a, ctx) {
        return Trig::Done(pair(o));
    }
    match a.class() {
        Class::Infinity => return Trig::Done(pair(ctx.invalid())),
        Class::Zero => {
            let first = if op == TrigOp::Cos { F80::ONE } else { a };
            return Trig::Done(Out::ok((first, F80::ONE)));
        }
        _ => {}
    }
    if a.exp() as i32 - BIAS >= 63 {
        return Trig::OutOfRange;
    }
    let de = match denormal_check(&[a], false, ctx) {
        Ok(f) => f,
        Err(o) => return Trig::Done(pair(o)),
    };
    let x = a.to_hi();
    let (q, y) = reduce(x.abs());
    let (s, c) = sin_cos(y);
    let neg = x.is_negative();
    let (sin, cos) = match q {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    };
    let sin = sin.with_sign(sin.is_negative() ^ neg);
    let round = |v: Hi| to_reg(v, 64, ctx);
    let out = match op {
        TrigOp::Sin => {
            let o = round(sin);
            Out { v: o.v.map(|v| (v, v)), ex: o.ex, up: o.up }
        }
        TrigOp::Cos => {
            let o = round(cos);
            Out { v: o.v.map(|v| (v, v)), ex: o.ex, up: o.up }
        }
        TrigOp::SinCos => {
            let (os, oc) = (round(sin), round(cos));
            match (os.v, oc.v) {
                (Some(s), Some(c)) => Out { v: Some((s, c)), ex: os.ex | oc.ex, up: oc.up },
                _ => Out::abort(os.ex | oc.ex),
            }
        }
        TrigOp::Tan => {
            // tan |x| = tan y (even quadrant) or -cot y (odd); tan is odd in x.
            let t =
                if q & 1 == 0 { if y.abs().ilogb() < -56 { nudge(y, false) } else { div(s, c) } } else { -div(c, s) };
            let t = if neg { -t } else { t };
            let o = round(t);
            Out { v: o.v.map(|v| (v, F80::ONE)), ex: o.ex, up: o.up }
        }
    };
    Trig::Done(Out { v: out.v, ex: out.ex | de, up: out.up })
}

/// FPATAN: atan(ST(1) / ST(0)) with the quadrant of (ST(0), ST(1)); `y` = ST(1), `x` = ST(0).
pub fn patan(y: F80, x: F80, ctx: Ctx) -> Out<F80> {
    if let Some(o) = special_operands(y, x, ctx) {
        return o;
    }
    let de = match denormal_check(&[x, y], false, ctx) {
        Ok(f) => f,
        Err(o) => return o,
    };
    let c = consts();
    let pi = c.pi;
    let half_pi = pi.scalbn(-1);
    let (cx, cy) = (x.class(), y.class());
    let xneg = x.sign();
    let r = if cy == Class::Zero {
        if xneg { Some(pi) } else { Some(Hi::ZERO) }
    } else if cy == Class::Infinity {
        Some(match cx {
            Class::Infinity if xneg => mul(pi, div(int(3), int(4))),
            Class::Infinity => pi.scalbn(-2),
            _ => half_pi,
        })
    } else if cx == Class::Zero {
        Some(half_pi)
    } else if cx == Class::Infinity {
        if xneg { Some(pi) } else { Some(Hi::ZERO) }
    } else {
        None
    };
    let v = match r {
        Some(v) if v.is_zero() => return Out::with(F80::zero(y.sign()), de),
        Some(v) => v,
        None => {
            let (ax, ay) = (x.to_hi().abs(), y.to_hi().abs());
            let t = if ay <= ax {
                let q = div(ay, ax);
                if q.is_zero() || q.ilogb() < -56 { nudge(q, true) } else { atan_small(q) }
            } else {
                sub(half_pi, atan_small(div(ax, ay)))
            };
            if xneg { sub(pi, t) } else { t }
        }
    };
    let mut o = to_reg(v.with_sign(y.sign()), 64, ctx);
    o.ex |= de;
    o
}

/// F2XM1: 2^x - 1 (defined for -1 <= x <= +1; computed for any x).
pub fn f2xm1(a: F80, ctx: Ctx) -> Out<F80> {
    if let Some(o) = special_operand(a, ctx) {
        return o;
    }
    match a.class() {
        Class::Zero => return Out::ok(a),
        Class::Infinity => return Out::ok(if a.sign() { F80::new(true, 0x3FFF, J) } else { a }),
        _ => {}
    }
    let de = match denormal_check(&[a], false, ctx) {
        Ok(f) => f,
        Err(o) => return o,
    };
    let x = a.to_hi();
    let n = x.round_to_integral(Round::TowardZero).value;
    let v = if n.is_zero() {
        expm1(mul(x, consts().ln2))
    } else {
        // 2^x - 1 = 2^n (1 + expm1(f ln 2)) - 1; exact for integer x.
        let n_i = if n.abs().ilogb() > 15 { if n.is_negative() { -20000 } else { 20000 } } else { n_int(n) };
        let f = sub(x, n);
        let p = if f.is_zero() { one() } else { add(one(), expm1(mul(f, consts().ln2))) };
        let t = p.scalbn(n_i);
        let r = t - one();
        if f.is_zero() { odd(t.sub_r(one(), Round::TowardZero)) } else { r.value }
    };
    let mut o = to_reg(v, 64, ctx);
    o.ex |= de;
    o
}

fn n_int(n: Hi) -> i32 {
    let m = scaled_int(n, 0) as i32;
    if n.is_negative() { -m } else { m }
}

/// e^z - 1 by its series (no cancellation for small z).
fn expm1(z: Hi) -> Hi {
    let (mut t, mut s) = (z, z);
    for k in 2..200 {
        t = div(mul(t, z), int(k));
        s = add(s, t);
        if converged(t, s) {
            break;
        }
    }
    s
}

/// log2 of a positive finite value; exact (an integer) for powers of two.
fn log2(x: Hi) -> Hi {
    let c = consts();
    let mut e = x.ilogb();
    let mut m = x.scalbn(-e);
    if m > c.sqrt2 {
        m = m.scalbn(-1);
        e += 1;
    }
    let ei = int(e as i64);
    if m == one() {
        return ei;
    }
    let s = div(sub(m, one()), add(m, one()));
    add(ei, mul(mul(atanh_series(s), int(2)), c.log2e))
}

/// FYL2X: ST(1) * log2(ST(0)); `y` = ST(1), `x` = ST(0).
pub fn yl2x(y: F80, x: F80, ctx: Ctx) -> Out<F80> {
    if let Some(o) = special_operands(y, x, ctx) {
        return o;
    }
    if x.sign() && x.class() != Class::Zero {
        return ctx.invalid();
    }
    // log2(x): -inf for zero, +inf for +inf, a signed zero for 1.
    let l = match x.class() {
        Class::Zero => {
            if y.class() == Class::Zero {
                return ctx.invalid();
            }
            if y.class() != Class::Infinity {
                if !ctx.masked(ex::ZE) {
                    return Out::abort(ex::ZE);
                }
                return Out::with(F80::infinity(!y.sign()), ex::ZE);
            }
            return Out::ok(F80::infinity(!y.sign()));
        }
        Class::Infinity => None,
        _ => Some(x),
    };
    log_product(y, x, l.map(|x| log2(x.to_hi())), ctx)
}

/// y * l, with l = log2(...) (None: +inf), under the usual product rules (0 * inf invalid).
fn log_product(y: F80, x: F80, l: Option<Hi>, ctx: Ctx) -> Out<F80> {
    let l_zero = l.map(|v| v.is_zero()).unwrap_or(false);
    let l_neg = l.map(|v| v.is_negative()).unwrap_or(false);
    match y.class() {
        Class::Infinity => {
            if l_zero {
                return ctx.invalid();
            }
            let de = match denormal_check(&[x], false, ctx) {
                Ok(f) => f,
                Err(o) => return o,
            };
            return Out::with(F80::infinity(y.sign() ^ l_neg), de);
        }
        Class::Zero => {
            if l.is_none() {
                return ctx.invalid();
            }
            let de = match denormal_check(&[x], false, ctx) {
                Ok(f) => f,
                Err(o) => return o,
            };
            return Out::with(F80::zero(y.sign() ^ l_neg), de);
        }
        _ => {}
    }
    let de = match denormal_check(&[x, y], false, ctx) {
        Ok(f) => f,
        Err(o) => return o,
    };
    let Some(l) = l else {
        return Out::with(F80::infinity(y.sign()), de);
    };
    if l.is_zero() {
        return Out::with(F80::zero(y.sign() ^ l.is_negative()), de);
    }
    let v = odd(y.to_hi().mul_r(l, Round::TowardZero));
    let mut o = to_reg(v, 64, ctx);
    o.ex |= de;
    o
}

/// FYL2XP1: ST(1) * log2(ST(0) + 1); defined for |x| < 1 - sqrt(2)/2, computed wherever 1 + x > 0.
pub fn yl2xp1(y: F80, x: F80, ctx: Ctx) -> Out<F80> {
    if let Some(o) = special_operands(y, x, ctx) {
        return o;
    }
    let l = match x.class() {
        Class::Zero => Some(Hi::ZERO.with_sign(x.sign())),
        Class::Infinity if x.sign() => return ctx.invalid(),
        Class::Infinity => None,
        _ => {
            let h = x.to_hi();
            let p = add(one(), h);
            if p.is_negative() {
                return ctx.invalid();
            }
            if p.is_zero() {
                return yl2x(y, F80::ZERO, ctx);
            }
            if h.abs().ilogb() >= -1 {
                Some(log2(p))
            } else {
                let u = div(h, add(int(2), h));
                Some(mul(mul(atanh_series(u), int(2)), consts().log2e))
            }
        }
    };
    log_product(y, x, l, ctx)
}

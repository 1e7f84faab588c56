//! Unit tests of the x87 against values derived from the SDM and IEEE 754 (exact rational
//! arithmetic rounded by the standard's rules, computed outside this implementation), and
//! machine-level tests that run x87 code on the CPU.

use super::arith::{self, Cmp, Op};
use super::convert::{self, Fmt};
use super::round::{Ctx, ex};
use super::trans;
use super::value::{F80, J};
use crate::bus::Bus;
use crate::cpu::{Cpu, Exit};
use crate::mem::{PhysMap, Region};
use crate::state::{CpuState, cr0};

// ------------------------------------------------------------------ helpers

fn f(v: f64) -> F80 {
    convert::widen(v.to_bits() as u128, Fmt::F64).0
}

fn x(se: u16, sig: u64) -> F80 {
    F80 { se, sig }
}

/// Control word: all masked, the given precision (0 = 24, 2 = 53, 3 = 64) and rounding.
fn cw(pc: u16, rc: u16) -> Ctx {
    Ctx { cw: 0x003F | (pc << 8) | (rc << 10) }
}

const RN: u16 = 0;
const RD: u16 = 1;
const RU: u16 = 2;
const RZ: u16 = 3;

fn ext() -> Ctx {
    cw(3, RN)
}

fn unmasked(c: Ctx, e: u16) -> Ctx {
    Ctx { cw: c.cw & !e }
}

const MAX: F80 = F80 { se: 0x7FFE, sig: u64::MAX };
const MIN_NORMAL: F80 = F80 { se: 0x0001, sig: J };

// ------------------------------------------------------------------ rounding and precision

/// 1/3 in every precision and rounding mode: expected significands from exact rational
/// arithmetic rounded by IEEE 754's rules (1/3 = 0.010101...b, so the bit after any cut is 1
/// followed by more ones: never a tie).
#[test]
fn division_rounds_in_every_mode_and_precision() {
    let cases: &[(u16, u16, u64, u64, bool, bool)] = &[
        // pc, rc, |1/3| sig, |-1/3| sig, up(+), up(-)
        (0, RN, 0xAAAAAB0000000000, 0xAAAAAB0000000000, true, true),
        (0, RD, 0xAAAAAA0000000000, 0xAAAAAB0000000000, false, true),
        (0, RU, 0xAAAAAB0000000000, 0xAAAAAA0000000000, true, false),
        (0, RZ, 0xAAAAAA0000000000, 0xAAAAAA0000000000, false, false),
        (2, RN, 0xAAAAAAAAAAAAA800, 0xAAAAAAAAAAAAA800, false, false),
        (2, RD, 0xAAAAAAAAAAAAA800, 0xAAAAAAAAAAAAB000, false, true),
        (2, RU, 0xAAAAAAAAAAAAB000, 0xAAAAAAAAAAAAA800, true, false),
        (2, RZ, 0xAAAAAAAAAAAAA800, 0xAAAAAAAAAAAAA800, false, false),
        (3, RN, 0xAAAAAAAAAAAAAAAB, 0xAAAAAAAAAAAAAAAB, true, true),
        (3, RD, 0xAAAAAAAAAAAAAAAA, 0xAAAAAAAAAAAAAAAB, false, true),
        (3, RU, 0xAAAAAAAAAAAAAAAB, 0xAAAAAAAAAAAAAAAA, true, false),
        (3, RZ, 0xAAAAAAAAAAAAAAAA, 0xAAAAAAAAAAAAAAAA, false, false),
    ];
    for &(pc, rc, pos, neg, up_pos, up_neg) in cases {
        let c = cw(pc, rc);
        let prec = c.precision();
        let o = arith::binary(Op::Div, f(1.0), f(3.0), false, prec, c);
        assert_eq!(o.v, Some(x(0x3FFD, pos)), "1/3 pc {pc} rc {rc}");
        assert_eq!((o.ex, o.up), (ex::PE, up_pos), "1/3 flags pc {pc} rc {rc}");
        let o = arith::binary(Op::Div, f(-1.0), f(3.0), false, prec, c);
        assert_eq!(o.v, Some(x(0xBFFD, neg)), "-1/3 pc {pc} rc {rc}");
        assert_eq!((o.ex, o.up), (ex::PE, up_neg), "-1/3 flags pc {pc} rc {rc}");
    }
}

/// The reserved precision control 01 acts as 64 bits (as Intel CPUs and Bochs do).
#[test]
fn reserved_precision_control_is_extended() {
    assert_eq!(Ctx { cw: 0x017F }.precision(), 64);
}

/// sqrt(2): 1.0110101000001001111001100110011111110011101111001100100100001000... (B504F333F9DE6484
/// 597D89B3...): round to nearest at 24, 53 and 64 bits.
#[test]
fn sqrt_is_correctly_rounded_at_each_precision() {
    let o = arith::sqrt(f(2.0), 24, cw(0, RN));
    assert_eq!((o.v, o.ex, o.up), (Some(x(0x3FFF, 0xB504F30000000000)), ex::PE, false));
    let o = arith::sqrt(f(2.0), 53, cw(2, RN));
    assert_eq!((o.v, o.ex, o.up), (Some(x(0x3FFF, 0xB504F333F9DE6800)), ex::PE, true));
    let o = arith::sqrt(f(2.0), 64, ext());
    assert_eq!((o.v, o.ex, o.up), (Some(x(0x3FFF, 0xB504F333F9DE6484)), ex::PE, false));
    let o = arith::sqrt(f(2.0), 64, cw(3, RU));
    assert_eq!((o.v, o.up), (Some(x(0x3FFF, 0xB504F333F9DE6485)), true));
    // Exact roots raise nothing; sqrt(-0) = -0; sqrt(-1) is invalid.
    let o = arith::sqrt(f(6.25), 64, ext());
    assert_eq!((o.v, o.ex), (Some(f(2.5)), 0));
    assert_eq!(arith::sqrt(f(-0.0), 64, ext()).v, Some(f(-0.0)));
    let o = arith::sqrt(f(-1.0), 64, ext());
    assert_eq!((o.v, o.ex), (Some(F80::INDEFINITE), ex::IE));
}

/// Ties round to even: 1 + 2^-64 is halfway between 1 and 1 + 2^-63.
#[test]
fn ties_round_to_even() {
    let tiny = x(0x3FFF - 64, J);
    let o = arith::binary(Op::Add, F80::ONE, tiny, false, 64, ext());
    assert_eq!((o.v, o.ex, o.up), (Some(F80::ONE), ex::PE, false));
    let three = x(0x3FFF - 64, 0xC000_0000_0000_0000); // 1.5 * 2^-64
    let o = arith::binary(Op::Add, F80::ONE, three, false, 64, ext());
    assert_eq!((o.v, o.up), (Some(x(0x3FFF, J | 1)), true));
}

/// IEEE 754 6.3: an exact zero sum is +0, except -0 when rounding toward negative.
#[test]
fn exact_zero_sums_take_the_rounding_modes_sign() {
    let o = arith::binary(Op::Sub, f(1.5), f(1.5), false, 64, ext());
    assert_eq!(o.v, Some(f(0.0)));
    let o = arith::binary(Op::Sub, f(1.5), f(1.5), false, 64, cw(3, RD));
    assert_eq!(o.v, Some(f(-0.0)));
    let o = arith::binary(Op::Add, f(-0.0), f(-0.0), false, 64, ext());
    assert_eq!(o.v, Some(f(-0.0)));
}

// ------------------------------------------------------------------ exceptions

/// Overflow (SDM Vol. 1, 8.5.4): masked, infinity when rounding to nearest, the largest finite
/// value when rounding toward zero; unmasked, the significand rounded and the exponent reduced
/// by 24576 (2^16384 (1 - 2^-64) / 2^24576 = 2^-8192 (1 - 2^-64): 1FFF:FFFFFFFFFFFFFFFF).
#[test]
fn overflow_masked_and_unmasked() {
    let o = arith::binary(Op::Mul, MAX, f(2.0), false, 64, ext());
    assert_eq!((o.v, o.ex, o.up), (Some(F80::infinity(false)), ex::OE | ex::PE, true));
    let o = arith::binary(Op::Mul, MAX, f(2.0), false, 64, cw(3, RZ));
    assert_eq!((o.v, o.ex, o.up), (Some(MAX), ex::OE | ex::PE, false));
    let o = arith::binary(Op::Mul, MAX, f(2.0), false, 64, unmasked(ext(), ex::OE));
    assert_eq!((o.v, o.ex), (Some(x(0x1FFF, u64::MAX)), ex::OE));
    // At 24-bit precision the largest finite value has 24 significand bits.
    let o = arith::binary(Op::Mul, MAX, f(2.0), false, 24, cw(0, RZ));
    assert_eq!(o.v, Some(x(0x7FFE, 0xFFFFFF0000000000)));
}

/// Underflow (SDM Vol. 1, 8.5.5): masked, a tiny exact result raises nothing and a tiny inexact
/// one UE and PE with the denormal result; unmasked, UE with the exponent raised by 24576.
#[test]
fn underflow_masked_and_unmasked() {
    // 2^-16382 / 3 = 0.0101...b * 2^-16382: the denormal 0000:2AAAAAAAAAAAAAAB (nearest).
    let o = arith::binary(Op::Div, MIN_NORMAL, f(3.0), false, 64, ext());
    assert_eq!((o.v, o.ex, o.up), (Some(x(0, 0x2AAAAAAAAAAAAAAB)), ex::UE | ex::PE, true));
    let o = arith::binary(Op::Div, MIN_NORMAL, f(3.0), false, 64, cw(3, RZ));
    assert_eq!(o.v, Some(x(0, 0x2AAAAAAAAAAAAAAA)));
    // Exact denormal: 2^-16383 = 0000:4000000000000000, no flags.
    let o = arith::binary(Op::Div, MIN_NORMAL, f(2.0), false, 64, ext());
    assert_eq!((o.v, o.ex), (Some(x(0, 0x4000_0000_0000_0000)), 0));
    // Unmasked: the exact tiny result is still an underflow, stored as 2^(-16383 + 24576).
    let o = arith::binary(Op::Div, MIN_NORMAL, f(2.0), false, 64, unmasked(ext(), ex::UE));
    assert_eq!((o.v, o.ex), (Some(x(0x6000, J)), ex::UE));
    let o = arith::binary(Op::Div, MIN_NORMAL, f(3.0), false, 64, unmasked(ext(), ex::UE));
    assert_eq!((o.v, o.ex, o.up), (Some(x(0x5FFF, 0xAAAAAAAAAAAAAAAB)), ex::UE | ex::PE, true));
}

#[test]
fn invalid_operations_give_the_indefinite_or_nothing() {
    let inf = F80::infinity(false);
    for (op, a, b) in [
        (Op::Sub, inf, inf),
        (Op::Add, inf, inf.neg()),
        (Op::Mul, f(0.0), inf),
        (Op::Div, f(0.0), f(-0.0)),
        (Op::Div, inf, inf.neg()),
    ] {
        let o = arith::binary(op, a, b, false, 64, ext());
        assert_eq!((o.v, o.ex), (Some(F80::INDEFINITE), ex::IE), "{op:?}");
        let o = arith::binary(op, a, b, false, 64, unmasked(ext(), ex::IE));
        assert_eq!((o.v, o.ex), (None, ex::IE), "{op:?} unmasked");
    }
    // Unnormal, pseudo-infinity, pseudo-NaN: unsupported formats, invalid.
    for bad in [x(0x3FFF, 0x4000_0000_0000_0000), x(0x7FFF, 0), x(0x7FFF, 1)] {
        let o = arith::binary(Op::Add, bad, f(1.0), false, 64, ext());
        assert_eq!((o.v, o.ex), (Some(F80::INDEFINITE), ex::IE), "{bad:?}");
    }
}

#[test]
fn division_by_zero() {
    let o = arith::binary(Op::Div, f(-2.0), f(0.0), false, 64, ext());
    assert_eq!((o.v, o.ex), (Some(F80::infinity(true)), ex::ZE));
    let o = arith::binary(Op::DivR, f(0.0), f(2.0), false, 64, unmasked(ext(), ex::ZE));
    assert_eq!((o.v, o.ex), (None, ex::ZE));
    // A denormal dividend does not add #D to #Z (higher priority, SDM Vol. 1, 4.9.2).
    let o = arith::binary(Op::Div, x(0, 1), f(0.0), false, 64, ext());
    assert_eq!(o.ex, ex::ZE);
}

#[test]
fn denormal_operands() {
    let d = x(0, 0x4000_0000_0000_0000); // 2^-16383
    let o = arith::binary(Op::Mul, d, f(4.0), false, 64, ext());
    assert_eq!((o.v, o.ex), (Some(x(0x0002, J)), ex::DE));
    let o = arith::binary(Op::Mul, d, f(4.0), false, 64, unmasked(ext(), ex::DE));
    assert_eq!((o.v, o.ex), (None, ex::DE));
    // A pseudo-denormal (exponent 0, J = 1) is a denormal operand worth sig * 2^-16445.
    let o = arith::binary(Op::Add, x(0, J), f(0.0), false, 64, ext());
    assert_eq!((o.v, o.ex), (Some(MIN_NORMAL), ex::DE));
    // A single-precision denormal memory operand raises #D even though it is normal here.
    let o = arith::binary(Op::Add, f(1.0), f(1.0), true, 64, ext());
    assert_eq!(o.ex, ex::DE);
}

/// NaN results (SDM Vol. 1, Table 4-7, x87 column).
#[test]
fn nan_propagation_follows_the_x87_rules() {
    let q = |sig: u64| x(0x7FFF, J | 0x4000_0000_0000_0000 | sig);
    let s = |sig: u64| x(0x7FFF, J | sig);
    let run = |a, b| {
        let o = arith::binary(Op::Add, a, b, false, 64, ext());
        (o.v.unwrap_or(F80::ZERO), o.ex)
    };
    // One QNaN: that QNaN, no exception.
    assert_eq!(run(q(5), f(1.0)), (q(5), 0));
    assert_eq!(run(f(1.0), q(5).neg()), (q(5).neg(), 0));
    // One SNaN: made quiet, #IA.
    assert_eq!(run(s(5), f(1.0)), (q(5), ex::IE));
    // SNaN and QNaN: the QNaN, even with the smaller significand.
    assert_eq!(run(s(9), q(1)), (q(1), ex::IE));
    assert_eq!(run(q(1), s(9)), (q(1), ex::IE));
    // Two QNaNs or two SNaNs: the larger significand (quieted).
    assert_eq!(run(q(1), q(7)), (q(7), 0));
    assert_eq!(run(s(7), s(1)), (q(7), ex::IE));
    // Equal significands: the positive one.
    assert_eq!(run(q(3).neg(), q(3)), (q(3), 0));
    // SNaN unmasked: nothing stored.
    let o = arith::binary(Op::Add, s(1), f(1.0), false, 64, unmasked(ext(), ex::IE));
    assert_eq!((o.v, o.ex), (None, ex::IE));
}

#[test]
fn comparisons() {
    let c = |a, b, quiet| {
        let o = arith::compare(a, b, false, quiet, ext());
        (o.v, o.ex)
    };
    assert_eq!(c(f(1.0), f(2.0), false), (Some(Cmp::Less), 0));
    assert_eq!(c(f(0.0), f(-0.0), false), (Some(Cmp::Equal), 0));
    assert_eq!(c(F80::infinity(false), MAX, false), (Some(Cmp::Greater), 0));
    let qnan = F80::INDEFINITE;
    let snan = x(0x7FFF, J | 1);
    assert_eq!(c(qnan, f(1.0), false), (Some(Cmp::Unordered), ex::IE));
    assert_eq!(c(qnan, f(1.0), true), (Some(Cmp::Unordered), 0));
    assert_eq!(c(snan, f(1.0), true), (Some(Cmp::Unordered), ex::IE));
    assert_eq!(c(x(0, 1), f(0.0), false), (Some(Cmp::Greater), ex::DE));
    let o = arith::compare(qnan, f(1.0), false, false, unmasked(ext(), ex::IE));
    assert_eq!((o.v, o.ex), (None, ex::IE));
}

// ------------------------------------------------------------------ conversions

/// FIST rounds in the current mode (2.5 and -2.5 in the four modes), reports PE and C1, and
/// stores the integer indefinite for NaNs and out-of-range values.
#[test]
fn integer_stores() {
    let st = |v: f64, fmt, rc| {
        let o = convert::store_int(f(v), fmt, cw(3, rc));
        (o.v, o.ex, o.up)
    };
    assert_eq!(st(2.5, Fmt::I16, RN), (Some(2), ex::PE, false));
    assert_eq!(st(2.5, Fmt::I16, RD), (Some(2), ex::PE, false));
    assert_eq!(st(2.5, Fmt::I16, RU), (Some(3), ex::PE, true));
    assert_eq!(st(2.5, Fmt::I16, RZ), (Some(2), ex::PE, false));
    assert_eq!(st(-2.5, Fmt::I16, RN), (Some(0xFFFE), ex::PE, false));
    assert_eq!(st(-2.5, Fmt::I16, RD), (Some(0xFFFD), ex::PE, true));
    assert_eq!(st(-2.5, Fmt::I32, RU), (Some(0xFFFF_FFFE), ex::PE, false));
    assert_eq!(st(3.5, Fmt::I32, RN), (Some(4), ex::PE, true));
    assert_eq!(st(-32768.0, Fmt::I16, RN), (Some(0x8000), 0, false));
    assert_eq!(st(32767.5, Fmt::I16, RN), (Some(0x8000), ex::IE, false));
    assert_eq!(st(-32768.5, Fmt::I16, RD), (Some(0x8000), ex::IE, false));
    assert_eq!(st(-32768.5, Fmt::I16, RN), (Some(0x8000), ex::PE, false));
    assert_eq!(st(2147483648.0, Fmt::I32, RN), (Some(0x8000_0000), ex::IE, false));
    assert_eq!(st(-(2f64.powi(63)), Fmt::I64, RN), (Some(0x8000_0000_0000_0000), 0, false));
    assert_eq!(st(2f64.powi(63), Fmt::I64, RN), (Some(0x8000_0000_0000_0000), ex::IE, false));
    let o = convert::store_int(F80::INDEFINITE, Fmt::I32, ext());
    assert_eq!((o.v, o.ex), (Some(0x8000_0000), ex::IE));
    let o = convert::store_int(F80::infinity(false), Fmt::I32, unmasked(ext(), ex::IE));
    assert_eq!((o.v, o.ex), (None, ex::IE));
    // Integer loads are exact.
    assert_eq!(convert::widen(0x8000, Fmt::I16).0, f(-32768.0));
    assert_eq!(convert::widen(0xFFFF_FFFF_FFFF_FFFF, Fmt::I64).0, f(-1.0));
}

/// Packed BCD: 18 digits, sign in bit 79; 10^18 and beyond are invalid (the BCD indefinite,
/// FFFF C000 0000 0000 0000, when masked).
#[test]
fn bcd_conversions() {
    let o = convert::store_bcd(f(1234567.0), ext());
    assert_eq!((o.v, o.ex), (Some(0x1234567), 0));
    let o = convert::store_bcd(f(-0.0), ext());
    assert_eq!(o.v, Some(1 << 79));
    let o = convert::store_bcd(f(-2.5), cw(3, RU));
    assert_eq!((o.v, o.ex), (Some((1 << 79) | 2), ex::PE));
    let big = arith::from_int(999_999_999_999_999_999);
    assert_eq!(convert::store_bcd(big, ext()).v, Some(0x999999999999999999));
    let o = convert::store_bcd(arith::from_int(1_000_000_000_000_000_000), ext());
    assert_eq!((o.v, o.ex), (Some(0xFFFF_C000_0000_0000_0000), ex::IE));
    let o = convert::store_bcd(F80::INDEFINITE, unmasked(ext(), ex::IE));
    assert_eq!((o.v, o.ex), (None, ex::IE));
    assert_eq!(convert::widen((1 << 79) | 0x12345, Fmt::Bcd).0, f(-12345.0));
    assert_eq!(convert::widen(0x999999999999999999, Fmt::Bcd).0, big);
}

#[test]
fn real_loads_and_stores() {
    // Single SNaN 7F800001: #IA, loaded quiet (7FFF:E000010000000000).
    let o = convert::load_real(0x7F80_0001, Fmt::F32, ext());
    assert_eq!((o.v, o.ex), (Some(x(0x7FFF, 0xC000_0100_0000_0000)), ex::IE));
    // Single denormal 00000001 = 2^-149: #D, normalized (3F6A:8000000000000000).
    let o = convert::load_real(1, Fmt::F32, ext());
    assert_eq!((o.v, o.ex), (Some(x(0x3FFF - 149, J)), ex::DE));
    let o = convert::load_real(1, Fmt::F32, unmasked(ext(), ex::DE));
    assert_eq!((o.v, o.ex), (None, ex::DE));
    // 1/3 to double: 3FD5555555555555 (nearest), ...56 (up, C1 set).
    let third = arith::binary(Op::Div, f(1.0), f(3.0), false, 64, ext()).v.unwrap_or_default();
    let o = convert::store_real(third, Fmt::F64, ext());
    assert_eq!((o.v, o.ex, o.up), (Some(0x3FD5555555555555), ex::PE, false));
    let o = convert::store_real(third, Fmt::F64, cw(3, RU));
    assert_eq!((o.v, o.up), (Some(0x3FD5555555555556), true));
    // Overflow to single: infinity (masked), nothing (unmasked).
    let o = convert::store_real(f(1e39), Fmt::F32, ext());
    assert_eq!((o.v, o.ex), (Some(0x7F80_0000), ex::OE | ex::PE));
    let o = convert::store_real(f(1e39), Fmt::F32, cw(3, RZ));
    assert_eq!(o.v, Some(0x7F7F_FFFF));
    let o = convert::store_real(f(1e39), Fmt::F32, unmasked(ext(), ex::OE));
    assert_eq!((o.v, o.ex), (None, ex::OE));
    // 2^-140 is an exact single denormal (00000200): no underflow when masked.
    let o = convert::store_real(x(0x3FFF - 140, J), Fmt::F32, ext());
    assert_eq!((o.v, o.ex), (Some(0x200), 0));
    let o = convert::store_real(x(0x3FFF - 140, J), Fmt::F32, unmasked(ext(), ex::UE));
    assert_eq!((o.v, o.ex), (None, ex::UE));
    // 2^-150 * 1.5 rounds to the smallest denormal: UE and PE.
    let o = convert::store_real(x(0x3FFF - 150, 0xC000_0000_0000_0000), Fmt::F32, ext());
    assert_eq!((o.v, o.ex), (Some(1), ex::UE | ex::PE));
    // A QNaN's significand is truncated; an SNaN is quieted with #IA.
    let o = convert::store_real(x(0xFFFF, 0xC000_0000_0000_0001), Fmt::F32, ext());
    assert_eq!((o.v, o.ex), (Some(0xFFC0_0000), 0));
    let o = convert::store_real(x(0x7FFF, 0x8000_0100_0000_0000), Fmt::F32, ext());
    assert_eq!((o.v, o.ex), (Some(0x7FC0_0001), ex::IE));
    // The 80-bit format stores anything as it is, SNaN included.
    let o = convert::store_real(x(0x7FFF, J | 1), Fmt::F80, ext());
    assert_eq!((o.v, o.ex), (Some(0x7FFF_8000_0000_0000_0001), 0));
}

// ------------------------------------------------------------------ other operations

#[test]
fn partial_remainders() {
    let r = |a: f64, b: f64, ieee| {
        let o = arith::prem(f(a), f(b), ieee, ext());
        o.v
    };
    // 10 = 3*3 + 1; 11 = 3*3 + 2 (FPREM) = 4*3 - 1 (FPREM1).
    assert_eq!(r(10.0, 3.0, false), Some((f(1.0), 3, false)));
    assert_eq!(r(11.0, 3.0, false), Some((f(2.0), 3, false)));
    assert_eq!(r(11.0, 3.0, true), Some((f(-1.0), 4, false)));
    assert_eq!(r(-7.0, 2.0, false), Some((f(-1.0), 3, false)));
    // Ties of FPREM1 go to the even quotient: 5 = 2*2 + 1 -> quotient 2, remainder 1.
    assert_eq!(r(5.0, 2.0, true), Some((f(1.0), 2, false)));
    assert_eq!(r(1.5, 2.0, true), Some((f(-0.5), 1, false)));
    // Exponent difference >= 64: partial (C2), exact intermediate remainder.
    let big = x(0x3FFF + 100, J); // 2^100
    let o = arith::prem(big, f(3.0), false, ext());
    let (v, _, partial) = o.v.unwrap_or_default();
    assert!(partial);
    // 2^100 mod 3 = 1: the partial result must be congruent and smaller.
    let mut a = v;
    for _ in 0..10 {
        let o = arith::prem(a, f(3.0), false, ext());
        let (n, _, p) = o.v.unwrap_or_default();
        a = n;
        if !p {
            break;
        }
    }
    assert_eq!(a, f(1.0));
    assert_eq!(arith::prem(f(1.0), f(0.0), false, ext()).ex, ex::IE);
}

#[test]
fn scale_extract_round() {
    let o = arith::scale(f(1.5), f(3.9), ext());
    assert_eq!(o.v, Some(f(12.0)));
    let o = arith::scale(f(1.5), f(-2.5), ext());
    assert_eq!(o.v, Some(f(0.375)));
    let o = arith::scale(f(1.0), f(20000.0), ext());
    assert_eq!((o.v, o.ex), (Some(F80::infinity(false)), ex::OE | ex::PE));
    assert_eq!(arith::scale(f(0.0), F80::infinity(false), ext()).ex, ex::IE);
    let o = arith::xtract(f(10.0), ext());
    assert_eq!(o.v, Some((f(3.0), f(1.25))));
    let o = arith::xtract(f(-0.0), ext());
    assert_eq!((o.v, o.ex), (Some((F80::infinity(true), f(-0.0))), ex::ZE));
    let o = arith::rndint(f(2.5), ext());
    assert_eq!((o.v, o.ex), (Some(f(2.0)), ex::PE));
    let o = arith::rndint(f(-2.5), cw(3, RD));
    assert_eq!((o.v, o.ex, o.up), (Some(f(-3.0)), ex::PE, true));
    assert_eq!(arith::rndint(f(-0.25), cw(3, RU)).v, Some(f(-0.0)));
}

/// Constants from the x87's 66-bit internal values (SDM Vol. 1, 8.3.8), rounded in the current
/// mode: pi = C90FDAA22168C234C, log2(10) = D49A784BCD1B8AFE4..., log2(e) = B8AA3B295C17F0BB(B),
/// log10(2) = 9A209A84FBCFF798(8), ln 2 = B17217F7D1CF79AB(C).
#[test]
fn constants_round_with_rounding_control() {
    use iced_x86::Mnemonic as M;
    let k = |m, rc| trans::constant(m, cw(3, rc));
    assert_eq!(k(M::Fldpi, RN), x(0x4000, 0xC90FDAA22168C235));
    assert_eq!(k(M::Fldpi, RD), x(0x4000, 0xC90FDAA22168C234));
    assert_eq!(k(M::Fldpi, RZ), x(0x4000, 0xC90FDAA22168C234));
    assert_eq!(k(M::Fldpi, RU), x(0x4000, 0xC90FDAA22168C235));
    assert_eq!(k(M::Fldl2t, RN), x(0x4000, 0xD49A784BCD1B8AFE));
    assert_eq!(k(M::Fldl2t, RU), x(0x4000, 0xD49A784BCD1B8AFF));
    assert_eq!(k(M::Fldl2e, RN), x(0x3FFF, 0xB8AA3B295C17F0BC));
    assert_eq!(k(M::Fldl2e, RD), x(0x3FFF, 0xB8AA3B295C17F0BB));
    assert_eq!(k(M::Fldlg2, RN), x(0x3FFD, 0x9A209A84FBCFF799));
    assert_eq!(k(M::Fldlg2, RZ), x(0x3FFD, 0x9A209A84FBCFF798));
    assert_eq!(k(M::Fldln2, RN), x(0x3FFE, 0xB17217F7D1CF79AC));
    assert_eq!(k(M::Fldln2, RD), x(0x3FFE, 0xB17217F7D1CF79AB));
    assert_eq!(k(M::Fld1, RD), F80::ONE);
}

/// Transcendentals against exact rational series evaluated far beyond 64 bits, rounded to
/// nearest (computed independently of this code).
#[test]
fn transcendentals_are_correctly_rounded_on_ordinary_arguments() {
    let one = |o: super::round::Out<F80>| o.v.unwrap_or_default();
    let sin = |v: f64| match trans::trig(trans::TrigOp::Sin, f(v), ext()) {
        trans::Trig::Done(o) => o.v.unwrap_or_default().0,
        trans::Trig::OutOfRange => F80::ZERO,
    };
    let cos = |v: f64| match trans::trig(trans::TrigOp::Cos, f(v), ext()) {
        trans::Trig::Done(o) => o.v.unwrap_or_default().0,
        trans::Trig::OutOfRange => F80::ZERO,
    };
    let tan = |v: f64| match trans::trig(trans::TrigOp::Tan, f(v), ext()) {
        trans::Trig::Done(o) => o.v.unwrap_or_default(),
        trans::Trig::OutOfRange => (F80::ZERO, F80::ZERO),
    };
    assert_eq!(sin(1.0), x(0x3FFE, 0xD76AA47848677021));
    assert_eq!(cos(1.0), x(0x3FFE, 0x8A51407DA8345C92));
    assert_eq!(tan(0.5), (x(0x3FFE, 0x8BDA7ADF9A3A5219), F80::ONE));
    // sin(3) needs a reduction by pi: the x87's 66-bit pi moves it by ~0.02 ulp at most.
    let s3 = sin(3.0);
    assert_eq!(s3.se, 0x3FFC);
    assert!(s3.sig.abs_diff(0x9081C36DB6AADA79) <= 1, "{s3:?}");
    assert_eq!(one(trans::patan(f(1.0), f(2.0), ext())), x(0x3FFD, 0xED63382B0DDA7B45));
    assert_eq!(one(trans::patan(f(1.0), f(-0.0), ext())), x(0x3FFF, 0xC90FDAA22168C235));
    assert_eq!(one(trans::f2xm1(f(0.5), ext())), x(0x3FFD, 0xD413CCCFE7799211));
    assert_eq!(one(trans::f2xm1(f(-1.0), ext())), f(-0.5));
    assert_eq!(one(trans::yl2x(f(1.0), f(3.0), ext())), x(0x3FFF, 0xCAE00D1CFDEB43D0));
    assert_eq!(one(trans::yl2x(f(3.0), f(8.0), ext())), f(9.0));
    assert_eq!(one(trans::yl2xp1(f(1.0), f(0.25), ext())), x(0x3FFD, 0xA4D3C25E68DC57F2));
    // Out of range: |x| >= 2^63 leaves C2 set and ST(0) alone.
    assert!(matches!(trans::trig(trans::TrigOp::Sin, f(1e19), ext()), trans::Trig::OutOfRange));
    // Special cases of FYL2X (SDM table): log2(0) with y finite is #Z, 0 * log2(0) invalid.
    let o = trans::yl2x(f(2.0), f(0.0), ext());
    assert_eq!((o.v, o.ex), (Some(F80::infinity(true)), ex::ZE));
    assert_eq!(trans::yl2x(f(0.0), f(0.0), ext()).ex, ex::IE);
    assert_eq!(trans::yl2x(f(1.0), f(-1.0), ext()).ex, ex::IE);
    assert_eq!(one(trans::yl2x(f(-2.0), f(1.0), ext())), f(-0.0));
}

// ------------------------------------------------------------------ machine tests

/// Vectors recorded by the test bus.
#[derive(Default)]
struct TestBus {
    ferr: Vec<bool>,
}

impl Bus for TestBus {
    fn io_read(&mut self, _: u16, _: u8) -> u32 {
        0xFF
    }
    fn io_write(&mut self, _: u16, _: u8, _: u32) {}
    fn mmio_read(&mut self, _: u64, _: u8) -> u64 {
        u64::MAX
    }
    fn mmio_write(&mut self, _: u64, _: u8, _: u64) {}
    fn fpu_error(&mut self, asserted: bool) {
        self.ferr.push(asserted);
    }
}

const CODE: usize = 0x1000;
const DATA: usize = 0x4000;
const HANDLERS: usize = 0x3000;

struct Machine {
    cpu: Cpu,
    bus: TestBus,
    ram: Vec<u8>,
}

impl Machine {
    /// Real mode at 0000:1000 with `code` then HLT, the FPU initialized; every interrupt vector
    /// v points at a HLT at 0000:3000+v.
    fn new(code: &[u8]) -> Self {
        let mut ram = vec![0u8; 0x10000];
        for v in 0..256 {
            let e = (HANDLERS + v) as u16;
            ram[4 * v..4 * v + 2].copy_from_slice(&e.to_le_bytes());
            ram[HANDLERS + v] = 0xF4;
        }
        ram[CODE..CODE + code.len()].copy_from_slice(code);
        ram[CODE + code.len()] = 0xF4;
        let region = Region { start: 0, len: ram.len() as u64, host: ram.as_mut_ptr(), writable: true };
        // SAFETY: `ram` lives in the Machine beside the CPU and is never reallocated.
        let map = unsafe { PhysMap::new(vec![region]) }.expect("aligned");
        let mut cpu = Cpu::new(map);
        let mut bus = TestBus::default();
        let mut s = CpuState::real_mode(0, CODE as u16);
        s.gpr[crate::state::RSP] = 0x0F00;
        s.cr0 |= cr0::NE;
        cpu.set_state(&mut bus, s);
        // As firmware leaves it (POST executes FNINIT).
        cpu.fpu.init();
        Machine { cpu, bus, ram }
    }
    fn cr0(mut self, set: u64, clear: u64) -> Self {
        let mut s = self.cpu.state().clone();
        s.cr0 = (s.cr0 | set) & !clear;
        self.cpu.set_state(&mut self.bus, s);
        self
    }
    fn data(mut self, off: usize, bytes: &[u8]) -> Self {
        self.ram[DATA + off..DATA + off + bytes.len()].copy_from_slice(bytes);
        self
    }
    /// Run to the HLT; Some(vector) when an exception handler's HLT was reached instead.
    fn run(&mut self) -> Option<u8> {
        let r = self.cpu.run(&mut self.bus, 10_000);
        assert_eq!(r, Exit::Halted);
        let ip = self.cpu.state().rip as usize - 1;
        (HANDLERS..HANDLERS + 256).contains(&ip).then(|| (ip - HANDLERS) as u8)
    }
    fn sw(&self) -> u16 {
        self.cpu.fpu.status_word()
    }
    fn mem(&self, off: usize, len: usize) -> &[u8] {
        &self.ram[DATA + off..DATA + off + len]
    }
}

fn f80_bytes(v: F80) -> [u8; 10] {
    let b = v.to_bits().to_le_bytes();
    let mut o = [0; 10];
    o.copy_from_slice(&b[..10]);
    o
}

// Instruction bytes (16-bit real mode, memory operands at DS:4000h + n).
const FLD1: [u8; 2] = [0xD9, 0xE8];
const FLDZ: [u8; 2] = [0xD9, 0xEE];
const FXAM: [u8; 2] = [0xD9, 0xE5];
const FNSTSW_AX: [u8; 2] = [0xDF, 0xE0];
const FDIVP: [u8; 2] = [0xDE, 0xF9];
const FWAIT: [u8; 1] = [0x9B];
const FNCLEX: [u8; 2] = [0xDB, 0xE2];
/// FLD tbyte [4000h + n].
fn fld_m80(n: u8) -> [u8; 4] {
    [0xDB, 0x2E, n, 0x40]
}
/// FLDCW [4000h + n].
fn fldcw(n: u8) -> [u8; 4] {
    [0xD9, 0x2E, n, 0x40]
}

#[test]
fn power_on_and_fninit_state() {
    // Power-on and RESET: SDM Vol. 3, Table 9-1.
    let fpu = super::Fpu::new();
    assert_eq!((fpu.control_word(), fpu.status_word(), fpu.tag_word()), (0x0040, 0, 0x5555));
    // FNINIT; FLD1, FLD1, FDIVP; FNINIT: FNINIT's words (SDM Vol. 1, Table 8-8), pointers cleared.
    let mut m = Machine::new(&[[0xDB, 0xE3], FLD1, FLD1, [0xDE, 0xF9], [0xDB, 0xE3]].concat());
    assert_eq!(m.run(), None);
    let f = &m.cpu.fpu;
    assert_eq!((f.control_word(), f.status_word(), f.tag_word(), f.pointers()), (0x037F, 0, 0xFFFF, (0, 0, 0, 0, 0)));
}

/// FXAM of every class (SDM FXAM table: C3 C2 C0 = 000 unsupported, 001 NaN, 010 normal,
/// 011 infinity, 100 zero, 101 empty, 110 denormal; C1 = sign).
#[test]
fn fxam_classes() {
    let cases: &[(F80, u16)] = &[
        (x(0x3FFF, 0x4000_0000_0000_0000), 0),      // unnormal
        (x(0x7FFF, 0xC000_0000_0000_0000), 0x0100), // QNaN
        (x(0x7FFF, 0x8000_0000_0000_0001), 0x0100), // SNaN
        (x(0x3FFF, J), 0x0400),                     // normal
        (x(0xFFFF, J), 0x0600 | 0x0100),            // -infinity (C1)
        (x(0x8000, 0), 0x4000 | 0x0200),            // -0
        (x(0x0000, 1), 0x4400),                     // denormal
        (x(0x0000, J), 0x4400),                     // pseudo-denormal
        (x(0x7FFF, 0), 0),                          // pseudo-infinity: unsupported
    ];
    for &(v, cc) in cases {
        let code = [fld_m80(0).as_slice(), &FXAM, &FNSTSW_AX].concat();
        let mut m = Machine::new(&code).data(0, &f80_bytes(v));
        assert_eq!(m.run(), None);
        assert_eq!(m.cpu.s.gpr[0] as u16 & 0x4700, cc, "{v:?}");
    }
    // Empty ST(0): 101, C1 = the sign of what the register holds (+0 at power-on).
    let mut m = Machine::new(&[FXAM, FNSTSW_AX].concat());
    assert_eq!(m.run(), None);
    assert_eq!(m.cpu.s.gpr[0] as u16 & 0x4700, 0x4100);
}

#[test]
fn stack_overflow_and_underflow() {
    // Nine pushes: the ninth is a stack fault (IE, SF, C1 = 1); masked, the indefinite is pushed.
    let mut m = Machine::new(&[FLD1; 9].concat());
    assert_eq!(m.run(), None);
    assert_eq!(m.sw(), ex::IE | ex::SF | super::sw::C1 | (7 << 11));
    assert_eq!(m.cpu.fpu.st(0), Some(f80_bytes(F80::INDEFINITE)));
    assert_eq!(m.cpu.fpu.st(1), Some(f80_bytes(F80::ONE)));
    // Unmasked: nothing pushed, ES and B set.
    let code = [fldcw(0).as_slice(), &[FLD1; 9].concat()].concat();
    let mut m = Machine::new(&code).data(0, &0x037Eu16.to_le_bytes());
    assert_eq!(m.run(), None);
    assert_eq!(m.sw(), ex::IE | ex::SF | super::sw::C1 | super::sw::ES | super::sw::B);
    assert_eq!(m.cpu.fpu.st(0), Some(f80_bytes(F80::ONE)));
    // FADD ST(0), ST(1) on an empty stack: underflow, C1 = 0, ST(0) = indefinite.
    let mut m = Machine::new(&[0xD8, 0xC1]);
    assert_eq!(m.run(), None);
    assert_eq!(m.sw(), ex::IE | ex::SF);
    assert_eq!(m.cpu.fpu.tag_word(), 0xFFFE, "R0 (ST(0), TOP = 0) special, the rest empty");
}

/// An unmasked #Z leaves the operands alone and sets ES/B; the next waiting instruction raises
/// #MF with CR0.NE = 1, or asserts FERR# with CR0.NE = 0 and goes on; FNCLEX releases FERR#.
#[test]
fn pending_exceptions_raise_mf_or_ferr() {
    let code = [fldcw(0).as_slice(), &FLD1, &FLDZ, &FDIVP, &FWAIT, &FNCLEX].concat();
    let mut m = Machine::new(&code).data(0, &0x037Bu16.to_le_bytes());
    assert_eq!(m.run(), Some(16));
    assert_eq!(m.sw() & 0x80FF, ex::ZE | super::sw::ES | super::sw::B);
    assert_eq!(m.cpu.fpu.st(0), Some(f80_bytes(F80::ZERO)), "divisor kept");
    assert_eq!(m.cpu.fpu.st(1), Some(f80_bytes(F80::ONE)), "dividend kept");
    // The last instruction pointer names the FDIVP (1000h + 4 + 2 + 2) and its opcode DE F9.
    assert_eq!(m.cpu.fpu.pointers().1, 0x1008);
    assert_eq!(m.cpu.fpu.pointers().4, 0x6F9);

    let mut m = Machine::new(&code).data(0, &0x037Bu16.to_le_bytes()).cr0(0, cr0::NE);
    assert_eq!(m.run(), None);
    assert_eq!(m.bus.ferr, vec![true, false]);
    assert_eq!(m.sw(), 6 << 11);
}

#[test]
fn device_not_available() {
    for (set, code, nm) in [
        (cr0::EM, FLD1.as_slice(), true),
        (cr0::TS, FLD1.as_slice(), true),
        (cr0::EM, FWAIT.as_slice(), false),
        (cr0::TS, FWAIT.as_slice(), false),
        (cr0::TS | cr0::MP, FWAIT.as_slice(), true),
        (cr0::TS, [0xDB, 0xE3].as_slice(), true), // FNINIT
    ] {
        let mut m = Machine::new(code).cr0(set, 0);
        assert_eq!(m.run(), if nm { Some(7) } else { None }, "{set:#x} {code:02x?}");
    }
}

/// FNSAVE in real mode with 16- and 32-bit operand size (SDM Vol. 1, Figures 8-10 and 8-12):
/// the environment, then ST(0)..ST(7), then FNINIT.
#[test]
fn fnsave_real_mode_layouts_byte_for_byte() {
    // FLD1 at 1000h; FLDPI at 1002h; FSTP tbyte [4000h] at 1004h; FLD tbyte [4000h] at 1008h
    // (the last non-control instruction: FIP 1008h, FDP 4000h); FNSAVE [4010h] at 100Ch.
    let code16 =
        [&FLD1[..], &[0xD9, 0xEB], &[0xDB, 0x3E, 0x00, 0x40], &[0xDB, 0x2E, 0x00, 0x40], &[0xDD, 0x36, 0x10, 0x40]]
            .concat();
    let mut m = Machine::new(&code16);
    assert_eq!(m.run(), None);
    let pi = x(0x4000, 0xC90FDAA22168C235);
    let mut want = vec![];
    for w in [
        0x037Fu16,
        6 << 11, // TOP = 6
        0x0FFF,  // R6 valid (pi), R7 valid (1), the rest empty
        0x1008,  // IP 15..0 (CS = 0)
        0x032E,  // IP 19..16 = 0, opcode DB 2E -> 3 << 8 | 2E
        0x4000,  // operand pointer 15..0
        0x0000,  // operand pointer 19..16
    ] {
        want.extend_from_slice(&w.to_le_bytes());
    }
    want.extend_from_slice(&f80_bytes(pi));
    want.extend_from_slice(&f80_bytes(F80::ONE));
    want.extend_from_slice(&[0; 60]);
    assert_eq!(m.mem(0x10, 94), &want[..]);
    assert_eq!((m.cpu.fpu.control_word(), m.cpu.fpu.status_word(), m.cpu.fpu.tag_word()), (0x037F, 0, 0xFFFF));

    // The same with an operand-size prefix: 32-bit fields, reserved halves FFFFh.
    let code32 = [
        &FLD1[..],
        &[0xD9, 0xEB],
        &[0xDB, 0x3E, 0x00, 0x40],
        &[0xDB, 0x2E, 0x00, 0x40],
        &[0x66, 0xDD, 0x36, 0x10, 0x40],
    ]
    .concat();
    let mut m = Machine::new(&code32);
    assert_eq!(m.run(), None);
    let mut want = vec![];
    for d in [0xFFFF_037Fu32, 0xFFFF_0000 | (6 << 11), 0xFFFF_0FFF, 0xFFFF_1008, 0x0000_032E, 0xFFFF_4000, 0] {
        want.extend_from_slice(&d.to_le_bytes());
    }
    want.extend_from_slice(&f80_bytes(pi));
    want.extend_from_slice(&f80_bytes(F80::ONE));
    want.extend_from_slice(&[0; 60]);
    assert_eq!(m.mem(0x10, 108), &want[..]);
}

/// FRSTOR of what FNSAVE wrote gives back the same FPU state.
#[test]
fn frstor_restores_what_fnsave_saved() {
    let code = [
        &FLD1[..],
        &[0xD9, 0xEB],             // FLDPI
        &[0xD8, 0xC1],             // FADD ST(0), ST(1)
        &[0xD9, 0xF6],             // FDECSTP
        &[0xDD, 0x36, 0x00, 0x40], // FNSAVE [4000h]
        &[0xDD, 0x26, 0x00, 0x40], // FRSTOR [4000h]
    ]
    .concat();
    let mut before = Machine::new(&code[..8]);
    assert_eq!(before.run(), None);
    let mut m = Machine::new(&code);
    assert_eq!(m.run(), None);
    let (a, b) = (&before.cpu.fpu, &m.cpu.fpu);
    assert_eq!((a.status_word(), a.tag_word(), a.regs), (b.status_word(), b.tag_word(), b.regs));
}

/// A store that faults (here #GP: the 10 bytes cross the 64 KiB real-mode limit) changes
/// nothing: no memory written, no pop, no flags.
#[test]
fn faulting_store_changes_nothing() {
    // FLD1; FSTP tbyte [0FFFAh] with a 32-bit address (67h) so the offset is not wrapped.
    let code = [&FLD1[..], &[0x67, 0xDB, 0x3D, 0xFA, 0xFF, 0x00, 0x00]].concat();
    let mut m = Machine::new(&code);
    assert_eq!(m.run(), Some(13));
    assert_eq!(m.sw(), 7 << 11);
    assert_eq!(m.cpu.fpu.st(0), Some(f80_bytes(F80::ONE)));
    assert_eq!(&m.ram[0xFFFA..0x10000], &[0; 6]);
}

/// FCOMI sets ZF, PF, CF (unordered: all three) and clears OF, SF, AF.
#[test]
fn fcomi_sets_eflags() {
    use crate::state::flags;
    // FLDZ; FLD1; FCOMI ST(0), ST(1): 1 > 0 -> all clear.
    let mut m = Machine::new(&[FLDZ, FLD1, [0xDB, 0xF1]].concat());
    assert_eq!(m.run(), None);
    assert_eq!(m.cpu.s.rflags & (flags::ZF | flags::PF | flags::CF), 0);
    // FLD1; FLDZ; FCOMIP: 0 < 1 -> CF, and one pop.
    let mut m = Machine::new(&[FLD1, FLDZ, [0xDF, 0xF1]].concat());
    assert_eq!(m.run(), None);
    assert_eq!(m.cpu.s.rflags & (flags::ZF | flags::PF | flags::CF), flags::CF);
    assert_eq!(m.sw() >> 11 & 7, 7);
}

impl Machine {
    /// Switch to 32-bit protected mode with flat CS (selector 08h) and DS (10h) caches.
    fn protected32(mut self) -> Self {
        use crate::state::{Segment, attr};
        let mut s = self.cpu.state().clone();
        s.cr0 |= cr0::PE;
        s.seg[crate::state::CS] =
            Segment { selector: 0x08, base: 0, limit: 0xFFFF_FFFF, attr: attr::REAL_CODE | attr::DB };
        for i in [crate::state::DS, crate::state::ES, crate::state::SS] {
            s.seg[i] = Segment { selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attr: attr::REAL_DATA | attr::DB };
        }
        self.cpu.set_state(&mut self.bus, s);
        self
    }
}

/// FNSAVE in 32-bit protected mode (SDM Vol. 1, Figure 8-9): FCS in bits 0-15 and the opcode in
/// bits 16-26 of the fifth dword; FDS with a reserved (FFFFh) upper half.
#[test]
fn fnsave_protected_mode_layout_byte_for_byte() {
    // FLD1 (1000h); FLD dword [4000h] (1002h: D9 05 00400000); FNSAVE [4010h] (1008h).
    let code = [&FLD1[..], &[0xD9, 0x05, 0x00, 0x40, 0, 0], &[0xDD, 0x35, 0x10, 0x40, 0, 0]].concat();
    let mut m = Machine::new(&code).protected32().data(0, &2.5f32.to_bits().to_le_bytes());
    assert_eq!(m.run(), None);
    let mut want = vec![];
    for d in [
        0xFFFF_037Fu32,
        0xFFFF_0000 | (6 << 11),
        0xFFFF_0FFF,
        0x1002,               // FIP
        0x08 | (0x105 << 16), // FCS, opcode D9 05 -> 1 << 8 | 05
        0x4000,               // FDP
        0xFFFF_0010,          // FDS
    ] {
        want.extend_from_slice(&d.to_le_bytes());
    }
    want.extend_from_slice(&f80_bytes(f(2.5)));
    want.extend_from_slice(&f80_bytes(F80::ONE));
    want.extend_from_slice(&[0; 60]);
    assert_eq!(m.mem(0x10, 108), &want[..]);
}

/// FXSAVE: FCW, FSW, the abridged tag (one bit per non-empty physical register), FOP, FIP, FCS,
/// FDP, FDS, then ST(0)..ST(7) in 16-byte slots; MXCSR (bytes 24-31) is left alone. FXRSTOR of
/// that image restores the state. A misaligned operand is #GP(0).
#[test]
fn fxsave_layout_and_fxrstor() {
    // FLD1 (1000h); FLDPI (1002h); FXSAVE [4000h] (1004h); FNINIT; FXRSTOR [4000h].
    let code = [
        &FLD1[..],
        &[0xD9, 0xEB],
        &[0x0F, 0xAE, 0x05, 0x00, 0x40, 0, 0],
        &[0xDB, 0xE3],
        &[0x0F, 0xAE, 0x0D, 0x00, 0x40, 0, 0],
    ]
    .concat();
    let mut m = Machine::new(&code).protected32().data(24, &[0xAA; 8]);
    assert_eq!(m.run(), None);
    let mut want = vec![0x7F, 0x03, 0x00, 0x30, 0xC0, 0, 0xEB, 0x01];
    want.extend_from_slice(&0x1002u32.to_le_bytes());
    want.extend_from_slice(&[0x08, 0, 0, 0]);
    want.extend_from_slice(&[0; 8]); // FDP, FDS: no memory operand yet
    want.extend_from_slice(&[0xAA; 8]);
    for v in [x(0x4000, 0xC90FDAA22168C235), F80::ONE] {
        want.extend_from_slice(&f80_bytes(v));
        want.extend_from_slice(&[0; 6]);
    }
    want.extend_from_slice(&[0; 96]);
    assert_eq!(m.mem(0, 160), &want[..]);
    assert_eq!((m.sw(), m.cpu.fpu.tag_word()), (6 << 11, 0x0FFF), "FXRSTOR brought the stack back");
    assert_eq!(m.cpu.fpu.st(1), Some(f80_bytes(F80::ONE)));
    let mut m = Machine::new(&[0x0F, 0xAE, 0x05, 0x08, 0x40, 0, 0]).protected32();
    // No IDT here: the #GP(0) escalates, but it is the first exception.
    let r = m.cpu.run(&mut m.bus, 1);
    assert!(matches!(r, Exit::TripleFault { first: 13, .. }), "{r:?}");
}

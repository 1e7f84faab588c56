//! The 80-bit register format, its classes, and the exact bridge to `rustc_apfloat` values.
//!
//! Every operand is converted exactly into [`Hi`], a 107-bit significand with a 20-bit exponent
//! (wide enough that no product, quotient or scaled value of x87 operands leaves its range), and
//! every result is rounded once from there to its destination (see `round.rs`).

use rustc_apfloat::ieee::{IeeeFloat, Semantics};
use rustc_apfloat::{Float, Round, Status, StatusAnd};

/// Exponent bias of the double extended-precision format.
pub const BIAS: i32 = 16383;
/// Smallest normal exponent (unbiased) of the x87 format.
pub const EMIN: i32 = -16382;
/// Largest finite exponent (unbiased) of the x87 format.
pub const EMAX: i32 = 16383;
/// The J (integer) bit of the significand.
pub const J: u64 = 1 << 63;
/// The quiet bit of a NaN's significand.
pub const QUIET: u64 = 1 << 62;

/// A double extended-precision value as the x87 keeps it: sign and 15-bit biased exponent, and
/// a 64-bit significand with its integer bit explicit (SDM Vol. 1, 4.2.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct F80 {
    /// Bit 15: sign; bits 0..14: biased exponent.
    pub se: u16,
    pub sig: u64,
}

/// The class of an 80-bit value (SDM Vol. 1, Table 8-3 and 8.2.2 "Unsupported" encodings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Zero,
    /// Exponent 0, J = 0, significand non-zero.
    Denormal,
    /// Exponent 0, J = 1: used as a denormal operand (with exponent 1).
    PseudoDenormal,
    Normal,
    Infinity,
    QNaN,
    SNaN,
    /// Unnormal, pseudo-NaN, pseudo-infinity: an invalid operand since the 387.
    Unsupported,
}

impl F80 {
    pub const fn new(sign: bool, exp: u16, sig: u64) -> Self {
        F80 { se: ((sign as u16) << 15) | (exp & 0x7FFF), sig }
    }
    /// The QNaN floating-point indefinite (SDM Vol. 1, Table 4-3).
    pub const INDEFINITE: F80 = F80::new(true, 0x7FFF, J | QUIET);
    pub const ZERO: F80 = F80::new(false, 0, 0);
    pub const ONE: F80 = F80::new(false, 0x3FFF, J);

    pub fn sign(self) -> bool {
        self.se & 0x8000 != 0
    }
    pub fn exp(self) -> u16 {
        self.se & 0x7FFF
    }
    pub fn with_sign(self, sign: bool) -> Self {
        F80 { se: (self.se & 0x7FFF) | ((sign as u16) << 15), sig: self.sig }
    }
    pub fn neg(self) -> Self {
        F80 { se: self.se ^ 0x8000, sig: self.sig }
    }
    pub fn infinity(sign: bool) -> Self {
        F80::new(sign, 0x7FFF, J)
    }
    pub fn zero(sign: bool) -> Self {
        F80::new(sign, 0, 0)
    }
    /// The value as 10 little-endian bytes' integer (significand in bits 0..63).
    pub fn to_bits(self) -> u128 {
        ((self.se as u128) << 64) | self.sig as u128
    }
    pub fn from_bits(b: u128) -> Self {
        F80 { se: (b >> 64) as u16, sig: b as u64 }
    }

    pub fn class(self) -> Class {
        let e = self.exp();
        let j = self.sig & J != 0;
        match e {
            0 if self.sig == 0 => Class::Zero,
            0 if j => Class::PseudoDenormal,
            0 => Class::Denormal,
            0x7FFF if !j => Class::Unsupported,
            0x7FFF if self.sig << 1 == 0 => Class::Infinity,
            0x7FFF if self.sig & QUIET != 0 => Class::QNaN,
            0x7FFF => Class::SNaN,
            _ if !j => Class::Unsupported,
            _ => Class::Normal,
        }
    }
    pub fn is_nan(self) -> bool {
        matches!(self.class(), Class::QNaN | Class::SNaN)
    }
    /// A denormal operand (raises #D when used in arithmetic).
    pub fn is_denormal(self) -> bool {
        matches!(self.class(), Class::Denormal | Class::PseudoDenormal)
    }
    /// A NaN made quiet (an SNaN's quiet bit set).
    pub fn quiet(self) -> Self {
        F80 { se: self.se, sig: self.sig | QUIET }
    }

    /// The full tag (SDM Vol. 1, 8.1.7) of a non-empty register holding this value: 00 valid,
    /// 01 zero, 10 special (NaN, infinity, denormal, unsupported).
    pub fn tag(self) -> u16 {
        match self.class() {
            Class::Zero => 1,
            Class::Normal => 0,
            _ => 2,
        }
    }

    /// The exact value (finite classes only; the others give zero).
    pub fn to_hi(self) -> Hi {
        let e = match self.class() {
            Class::Zero => return Hi::ZERO.with_sign(self.sign()),
            Class::Denormal | Class::PseudoDenormal => 1,
            Class::Normal => self.exp() as i32,
            _ => return Hi::ZERO,
        };
        let v = Hi::from_u128(self.sig as u128).value.scalbn(e - BIAS - 63);
        v.with_sign(self.sign())
    }
}

/// `-x` when `neg`.
pub trait WithSign: Sized {
    fn with_sign(self, neg: bool) -> Self;
}
impl<S: Semantics> WithSign for IeeeFloat<S> {
    fn with_sign(self, neg: bool) -> Self {
        if self.is_negative() != neg { -self } else { self }
    }
}

macro_rules! semantics {
    ($(#[$m:meta])* $name:ident, $exp:expr, $prec:expr) => {
        $(#[$m])*
        pub struct $name;
        impl Semantics for $name {
            const BITS: usize = $exp + $prec;
            const EXP_BITS: usize = $exp;
        }
    };
}

semantics!(
    /// Working precision: 107-bit significand, 20-bit exponent. Results are computed here
    /// rounded to odd (see [`odd`]) and then rounded once to their destination.
    HiS, 20, 107
);
/// A value in working precision.
pub type Hi = IeeeFloat<HiS>;
semantics!(
    /// The x87 precision-control formats in registers: 24, 53 or 64 significand bits with the
    /// double extended exponent range (denormals at the register format's minimum exponent).
    X24S, 15, 24
);
semantics!(X53S, 15, 53);
semantics!(X64S, 15, 64);
semantics!(
    /// The same precisions with an unbounded (20-bit) exponent: the "rounded result with
    /// unbounded exponent" the SDM uses to detect tininess and overflow (Vol. 1, 8.5.4-8.5.5).
    W24S, 20, 24
);
semantics!(W53S, 20, 53);
semantics!(W64S, 20, 64);

/// Turn a result computed toward zero into the same value rounded to odd: an inexact result
/// gets its last bit set. Rounding that once more to 66 bits or fewer gives the correctly rounded
/// result in any mode (Boldo and Melquiond, "When double rounding is odd", 2005).
pub fn odd(r: StatusAnd<Hi>) -> Hi {
    let v = r.value;
    if r.status.contains(Status::INEXACT) && v.is_finite_non_zero() && v.to_bits() & 1 == 0 {
        if v.is_negative() { v.next_down().value } else { v.next_up().value }
    } else {
        v
    }
}

/// `round` of the x87 rounding control (CW bits 10-11).
pub fn rounding(rc: u16) -> Round {
    match rc & 3 {
        0 => Round::NearestTiesToEven,
        1 => Round::TowardNegative,
        2 => Round::TowardPositive,
        _ => Round::TowardZero,
    }
}

/// `|v| * 2^shift` as an integer (the value must be one; used to read significands out).
pub fn scaled_int<S: Semantics>(v: IeeeFloat<S>, shift: i32) -> u128 {
    let mut exact = true;
    v.abs().scalbn(shift).to_u128_r(128, Round::TowardZero, &mut exact).value
}

/// Encode a finite value of any semantics that fits the x87 format exactly.
pub fn encode<S: Semantics>(v: IeeeFloat<S>) -> F80 {
    let sign = v.is_negative();
    if v.is_infinite() {
        return F80::infinity(sign);
    }
    if v.is_nan() {
        return F80::INDEFINITE;
    }
    if v.is_zero() {
        return F80::zero(sign);
    }
    let e = v.ilogb();
    if e < EMIN {
        return F80::new(sign, 0, scaled_int(v, -EMIN + 63) as u64);
    }
    if e > EMAX {
        return F80::infinity(sign);
    }
    F80::new(sign, (e + BIAS) as u16, scaled_int(v, 63 - e) as u64)
}

/// Convert between semantics (exactness is the caller's business; the status tells).
pub fn conv<A: Semantics, B: Semantics>(v: IeeeFloat<A>, r: Round) -> StatusAnd<IeeeFloat<B>> {
    use rustc_apfloat::FloatConvert;
    let mut loses = false;
    v.convert_r(r, &mut loses)
}

/// Exact conversion to [`Hi`] of any narrower semantics.
pub fn hi<A: Semantics>(v: IeeeFloat<A>) -> Hi {
    conv::<A, HiS>(v, Round::NearestTiesToEven).value
}

//! Handlers of the x87 data, arithmetic, comparison and transcendental instructions: each
//! reads its memory operand first, computes, writes memory, and only then changes the FPU, so
//! an instruction that faults changes nothing.

use super::arith::{self, Cmp, Op};
use super::control;
use super::convert::{self, Fmt};
use super::round::{Out, ex};
use super::trans::{self, Trig, TrigOp};
use super::value::F80;
use super::{begin, note, sw};
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::exec::Handler;
use crate::fault::Result;
use crate::icache::Decoded;
use crate::state::flags;
use iced_x86::{Code, Register};

// Memory formats as const parameters.
const F32: u8 = 0;
const F64: u8 = 1;
const F80M: u8 = 2;
const I16: u8 = 3;
const I32: u8 = 4;
const I64: u8 = 5;
const BCD: u8 = 6;

const fn fmt(k: u8) -> Fmt {
    match k {
        F32 => Fmt::F32,
        F64 => Fmt::F64,
        F80M => Fmt::F80,
        I16 => Fmt::I16,
        I32 => Fmt::I32,
        I64 => Fmt::I64,
        _ => Fmt::Bcd,
    }
}

// Binary operations as const parameters.
const ADD: u8 = 0;
const SUB: u8 = 1;
const SUBR: u8 = 2;
const MUL: u8 = 3;
const DIV: u8 = 4;
const DIVR: u8 = 5;

const fn op(k: u8) -> Op {
    match k {
        ADD => Op::Add,
        SUB => Op::Sub,
        SUBR => Op::SubR,
        MUL => Op::Mul,
        DIV => Op::Div,
        _ => Op::DivR,
    }
}

// One-operand instructions on ST(0).
const SQRT: u8 = 0;
const RNDINT: u8 = 1;
const SIN: u8 = 2;
const COS: u8 = 3;
const F2XM1: u8 = 4;

// Instructions on ST(1) and ST(0) that pop.
const PATAN: u8 = 0;
const YL2X: u8 = 1;
const YL2XP1: u8 = 2;

// Instructions that push a second result.
const XTRACT: u8 = 0;
const PTAN: u8 = 1;
const SINCOS: u8 = 2;

/// ST(i) index of an ST register operand.
fn sti(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::ST0 as usize) & 7
}

/// The handler for an x87 instruction code.
pub(super) fn handler(c: Code) -> Option<Handler> {
    use Code as C;
    Some(match c {
        C::Fld_m32fp => fld_mem::<F32>,
        C::Fld_m64fp => fld_mem::<F64>,
        C::Fld_m80fp => fld_mem::<F80M>,
        C::Fild_m16int => fld_mem::<I16>,
        C::Fild_m32int => fld_mem::<I32>,
        C::Fild_m64int => fld_mem::<I64>,
        C::Fbld_m80bcd => fld_mem::<BCD>,
        C::Fld_sti => fld_st,
        C::Fst_m32fp => fst_mem::<F32, false>,
        C::Fst_m64fp => fst_mem::<F64, false>,
        C::Fstp_m32fp => fst_mem::<F32, true>,
        C::Fstp_m64fp => fst_mem::<F64, true>,
        C::Fstp_m80fp => fst_mem::<F80M, true>,
        C::Fist_m16int => fst_mem::<I16, false>,
        C::Fist_m32int => fst_mem::<I32, false>,
        C::Fistp_m16int => fst_mem::<I16, true>,
        C::Fistp_m32int => fst_mem::<I32, true>,
        C::Fistp_m64int => fst_mem::<I64, true>,
        C::Fbstp_m80bcd => fst_mem::<BCD, true>,
        C::Fst_sti => fst_st::<false>,
        C::Fstp_sti | C::Fstp_sti_DFD0 | C::Fstp_sti_DFD8 | C::Fstpnce_sti => fst_st::<true>,
        C::Fxch_st0_sti | C::Fxch_st0_sti_DDC8 | C::Fxch_st0_sti_DFC8 => fxch,

        C::Fadd_m32fp => arith_mem::<ADD, F32>,
        C::Fadd_m64fp => arith_mem::<ADD, F64>,
        C::Fiadd_m16int => arith_mem::<ADD, I16>,
        C::Fiadd_m32int => arith_mem::<ADD, I32>,
        C::Fsub_m32fp => arith_mem::<SUB, F32>,
        C::Fsub_m64fp => arith_mem::<SUB, F64>,
        C::Fisub_m16int => arith_mem::<SUB, I16>,
        C::Fisub_m32int => arith_mem::<SUB, I32>,
        C::Fsubr_m32fp => arith_mem::<SUBR, F32>,
        C::Fsubr_m64fp => arith_mem::<SUBR, F64>,
        C::Fisubr_m16int => arith_mem::<SUBR, I16>,
        C::Fisubr_m32int => arith_mem::<SUBR, I32>,
        C::Fmul_m32fp => arith_mem::<MUL, F32>,
        C::Fmul_m64fp => arith_mem::<MUL, F64>,
        C::Fimul_m16int => arith_mem::<MUL, I16>,
        C::Fimul_m32int => arith_mem::<MUL, I32>,
        C::Fdiv_m32fp => arith_mem::<DIV, F32>,
        C::Fdiv_m64fp => arith_mem::<DIV, F64>,
        C::Fidiv_m16int => arith_mem::<DIV, I16>,
        C::Fidiv_m32int => arith_mem::<DIV, I32>,
        C::Fdivr_m32fp => arith_mem::<DIVR, F32>,
        C::Fdivr_m64fp => arith_mem::<DIVR, F64>,
        C::Fidivr_m16int => arith_mem::<DIVR, I16>,
        C::Fidivr_m32int => arith_mem::<DIVR, I32>,
        C::Fadd_st0_sti | C::Fadd_sti_st0 => arith_reg::<ADD, false>,
        C::Faddp_sti_st0 => arith_reg::<ADD, true>,
        C::Fsub_st0_sti | C::Fsub_sti_st0 => arith_reg::<SUB, false>,
        C::Fsubp_sti_st0 => arith_reg::<SUB, true>,
        C::Fsubr_st0_sti | C::Fsubr_sti_st0 => arith_reg::<SUBR, false>,
        C::Fsubrp_sti_st0 => arith_reg::<SUBR, true>,
        C::Fmul_st0_sti | C::Fmul_sti_st0 => arith_reg::<MUL, false>,
        C::Fmulp_sti_st0 => arith_reg::<MUL, true>,
        C::Fdiv_st0_sti | C::Fdiv_sti_st0 => arith_reg::<DIV, false>,
        C::Fdivp_sti_st0 => arith_reg::<DIV, true>,
        C::Fdivr_st0_sti | C::Fdivr_sti_st0 => arith_reg::<DIVR, false>,
        C::Fdivrp_sti_st0 => arith_reg::<DIVR, true>,

        C::Fcom_m32fp => fcom_mem::<F32, false>,
        C::Fcom_m64fp => fcom_mem::<F64, false>,
        C::Fcomp_m32fp => fcom_mem::<F32, true>,
        C::Fcomp_m64fp => fcom_mem::<F64, true>,
        C::Ficom_m16int => fcom_mem::<I16, false>,
        C::Ficom_m32int => fcom_mem::<I32, false>,
        C::Ficomp_m16int => fcom_mem::<I16, true>,
        C::Ficomp_m32int => fcom_mem::<I32, true>,
        C::Fcom_st0_sti | C::Fcom_st0_sti_DCD0 => fcom_reg::<0, false>,
        C::Fcomp_st0_sti | C::Fcomp_st0_sti_DCD8 | C::Fcomp_st0_sti_DED0 => fcom_reg::<1, false>,
        C::Fcompp => fcom_reg::<2, false>,
        C::Fucom_st0_sti => fcom_reg::<0, true>,
        C::Fucomp_st0_sti => fcom_reg::<1, true>,
        C::Fucompp => fcom_reg::<2, true>,
        C::Ftst => ftst,
        C::Fcomi_st0_sti => fcomi::<false, false>,
        C::Fcomip_st0_sti => fcomi::<true, false>,
        C::Fucomi_st0_sti => fcomi::<false, true>,
        C::Fucomip_st0_sti => fcomi::<true, true>,
        C::Fxam => fxam,

        C::Fchs => fchs_fabs::<false>,
        C::Fabs => fchs_fabs::<true>,
        C::Fld1 | C::Fldl2t | C::Fldl2e | C::Fldpi | C::Fldlg2 | C::Fldln2 | C::Fldz => fld_const,
        C::Fsqrt => unary::<SQRT>,
        C::Frndint => unary::<RNDINT>,
        C::Fsin => unary::<SIN>,
        C::Fcos => unary::<COS>,
        C::F2xm1 => unary::<F2XM1>,
        C::Fpatan => st1_pop::<PATAN>,
        C::Fyl2x => st1_pop::<YL2X>,
        C::Fyl2xp1 => st1_pop::<YL2XP1>,
        C::Fxtract => push2::<XTRACT>,
        C::Fptan => push2::<PTAN>,
        C::Fsincos => push2::<SINCOS>,
        C::Fscale => fscale,
        C::Fprem => fprem::<false>,
        C::Fprem1 => fprem::<true>,

        C::Fcmovb_st0_sti => fcmov::<0>,
        C::Fcmove_st0_sti => fcmov::<1>,
        C::Fcmovbe_st0_sti => fcmov::<2>,
        C::Fcmovu_st0_sti => fcmov::<3>,
        C::Fcmovnb_st0_sti => fcmov::<4>,
        C::Fcmovne_st0_sti => fcmov::<5>,
        C::Fcmovnbe_st0_sti => fcmov::<6>,
        C::Fcmovnu_st0_sti => fcmov::<7>,

        C::Ffree_sti => ffree::<false>,
        C::Ffreep_sti => ffree::<true>,
        C::Fincstp => fincdec::<1>,
        C::Fdecstp => fincdec::<7>,
        C::Fnop => fnop,
        C::Wait => super::wait,
        _ => return control::handler(c),
    })
}

// ------------------------------------------------------------------ memory

/// Read an operand of format `f` (all its bytes before anything changes).
pub(super) fn read_mem(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded, s: usize, o: u64, f: Fmt) -> Result<u128> {
    Ok(match f.bytes() {
        n @ (2 | 4 | 8) => cpu.read(bus, s, o, n)? as u128,
        _ => {
            let lo = cpu.read(bus, s, o, 8)?;
            let hi = cpu.read(bus, s, o.wrapping_add(8) & d.amask(), 2)?;
            ((hi as u128) << 64) | lo as u128
        }
    })
}

/// Write an operand of format `f`; a 10-byte one is checked whole before the first write.
fn write_mem(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded, s: usize, o: u64, f: Fmt, v: u128) -> Result<()> {
    match f.bytes() {
        n @ (2 | 4 | 8) => cpu.write(bus, s, o, n, v as u64),
        _ => {
            let o2 = o.wrapping_add(8) & d.amask();
            cpu.probe_write(bus, s, o, 8)?;
            cpu.probe_write(bus, s, o2, 2)?;
            cpu.write(bus, s, o, 8, v as u64)?;
            cpu.write(bus, s, o2, 2, (v >> 64) as u64)
        }
    }
}

// ------------------------------------------------------------------ loads and stores

fn fld_mem<const K: u8>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let f = fmt(K);
    let (s, o) = cpu.ea(d);
    let raw = read_mem(cpu, bus, d, s, o, f)?;
    let ctx = cpu.fpu.ctx();
    let fpu = &mut cpu.fpu;
    if !fpu.is_empty(7) {
        if fpu.overflow() {
            fpu.push(F80::INDEFINITE);
        }
    } else {
        let out = match f {
            Fmt::F32 | Fmt::F64 => convert::load_real(raw, f, ctx),
            _ => Out::ok(convert::widen(raw, f).0),
        };
        fpu.raise(out.ex, false);
        if let Some(v) = out.v {
            fpu.push(v);
        }
    }
    note(cpu, bus, Some((s, o)));
    Ok(())
}

fn fld_st(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let i = sti(d.instr.op0_register());
    let fpu = &mut cpu.fpu;
    if !fpu.is_empty(7) {
        if fpu.overflow() {
            fpu.push(F80::INDEFINITE);
        }
    } else if fpu.is_empty(i) {
        if fpu.underflow() {
            fpu.push(F80::INDEFINITE);
        }
    } else {
        let v = fpu.get(i);
        fpu.set_c1(false);
        fpu.push(v);
    }
    note(cpu, bus, None);
    Ok(())
}

fn fst_mem<const K: u8, const POP: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let f = fmt(K);
    let (s, o) = cpu.ea(d);
    let ctx = cpu.fpu.ctx();
    let out = if cpu.fpu.is_empty(0) {
        let e = ex::IE | ex::SF;
        if ctx.masked(ex::IE) { Out::with(f.indefinite(), e) } else { Out::abort(e) }
    } else {
        let v = cpu.fpu.get(0);
        match f {
            Fmt::I16 | Fmt::I32 | Fmt::I64 => convert::store_int(v, f, ctx),
            Fmt::Bcd => convert::store_bcd(v, ctx),
            _ => convert::store_real(v, f, ctx),
        }
    };
    if let Some(v) = out.v {
        write_mem(cpu, bus, d, s, o, f, v)?;
    }
    let fpu = &mut cpu.fpu;
    fpu.raise(out.ex, out.up);
    if POP && out.v.is_some() {
        fpu.pop();
    }
    note(cpu, bus, Some((s, o)));
    Ok(())
}

fn fst_st<const POP: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let i = sti(d.instr.op0_register());
    let fpu = &mut cpu.fpu;
    if fpu.is_empty(0) {
        if fpu.underflow() {
            fpu.set(i, F80::INDEFINITE);
            if POP {
                fpu.pop();
            }
        }
    } else {
        let v = fpu.get(0);
        fpu.set(i, v);
        fpu.set_c1(false);
        if POP {
            fpu.pop();
        }
    }
    note(cpu, bus, None);
    Ok(())
}

fn fxch(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let i = sti(d.instr.op1_register());
    let fpu = &mut cpu.fpu;
    fpu.set_c1(false);
    let (mut a, mut b) = (fpu.get(0), fpu.get(i));
    let (ea, eb) = (fpu.is_empty(0), fpu.is_empty(i));
    let go = if ea || eb {
        let masked = fpu.underflow();
        if ea {
            a = F80::INDEFINITE;
        }
        if eb {
            b = F80::INDEFINITE;
        }
        masked
    } else {
        true
    };
    if go {
        fpu.set(i, a);
        fpu.set(0, b);
    }
    note(cpu, bus, None);
    Ok(())
}

// ------------------------------------------------------------------ arithmetic

fn arith_mem<const OP: u8, const K: u8>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let f = fmt(K);
    let (s, o) = cpu.ea(d);
    let raw = read_mem(cpu, bus, d, s, o, f)?;
    let (b, b_de) = convert::widen(raw, f);
    let ctx = cpu.fpu.ctx();
    let fpu = &mut cpu.fpu;
    if fpu.is_empty(0) {
        if fpu.underflow() {
            fpu.set(0, F80::INDEFINITE);
        }
    } else {
        let out = arith::binary(op(OP), fpu.get(0), b, b_de, ctx.precision(), ctx);
        fpu.raise(out.ex, out.up);
        if let Some(v) = out.v {
            fpu.set(0, v);
        }
    }
    note(cpu, bus, Some((s, o)));
    Ok(())
}

fn arith_reg<const OP: u8, const POP: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let dst = sti(d.instr.op0_register());
    let src = sti(d.instr.op1_register());
    let ctx = cpu.fpu.ctx();
    let fpu = &mut cpu.fpu;
    if fpu.is_empty(dst) || fpu.is_empty(src) {
        if fpu.underflow() {
            fpu.set(dst, F80::INDEFINITE);
            if POP {
                fpu.pop();
            }
        }
    } else {
        let out = arith::binary(op(OP), fpu.get(dst), fpu.get(src), false, ctx.precision(), ctx);
        fpu.raise(out.ex, out.up);
        if let Some(v) = out.v {
            fpu.set(dst, v);
            if POP {
                fpu.pop();
            }
        }
    }
    note(cpu, bus, None);
    Ok(())
}

// ------------------------------------------------------------------ comparisons

fn cc_of(c: Cmp) -> u16 {
    match c {
        Cmp::Greater => 0,
        Cmp::Less => sw::C0,
        Cmp::Equal => sw::C3,
        Cmp::Unordered => sw::C3 | sw::C2 | sw::C0,
    }
}

/// Apply a comparison to C3/C2/C0 (C1 cleared) and pop `pops` times when it completed.
fn compared(cpu: &mut Cpu, out: Out<Cmp>, pops: u8) {
    let fpu = &mut cpu.fpu;
    fpu.raise(out.ex, false);
    if let Some(c) = out.v {
        fpu.set_cc(cc_of(c));
        for _ in 0..pops {
            fpu.pop();
        }
    }
}

/// Stack underflow in a comparison: masked, the result is "unordered".
fn compare_underflow(cpu: &mut Cpu, pops: u8) {
    let fpu = &mut cpu.fpu;
    if fpu.underflow() {
        fpu.set_cc(cc_of(Cmp::Unordered));
        for _ in 0..pops {
            fpu.pop();
        }
    }
}

fn fcom_mem<const K: u8, const POP: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let f = fmt(K);
    let (s, o) = cpu.ea(d);
    let raw = read_mem(cpu, bus, d, s, o, f)?;
    let (b, b_de) = convert::widen(raw, f);
    if cpu.fpu.is_empty(0) {
        compare_underflow(cpu, POP as u8);
    } else {
        let out = arith::compare(cpu.fpu.get(0), b, b_de, false, cpu.fpu.ctx());
        compared(cpu, out, POP as u8);
    }
    note(cpu, bus, Some((s, o)));
    Ok(())
}

fn fcom_reg<const POPS: u8, const QUIET: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let i = if d.instr.op_count() > 1 { sti(d.instr.op1_register()) } else { 1 };
    if cpu.fpu.is_empty(0) || cpu.fpu.is_empty(i) {
        compare_underflow(cpu, POPS);
    } else {
        let out = arith::compare(cpu.fpu.get(0), cpu.fpu.get(i), false, QUIET, cpu.fpu.ctx());
        compared(cpu, out, POPS);
    }
    note(cpu, bus, None);
    Ok(())
}

fn ftst(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    if cpu.fpu.is_empty(0) {
        compare_underflow(cpu, 0);
    } else {
        let out = arith::compare(cpu.fpu.get(0), F80::ZERO, false, false, cpu.fpu.ctx());
        compared(cpu, out, 0);
    }
    note(cpu, bus, None);
    Ok(())
}

/// FCOMI and friends: the result in ZF, PF, CF (OF, SF, AF cleared).
fn fcomi<const POP: bool, const QUIET: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let i = sti(d.instr.op1_register());
    let set = |cpu: &mut Cpu, c: Cmp| {
        let f = match c {
            Cmp::Greater => 0,
            Cmp::Less => flags::CF,
            Cmp::Equal => flags::ZF,
            Cmp::Unordered => flags::ZF | flags::PF | flags::CF,
        };
        cpu.set_flags(flags::ARITH, f);
        if POP {
            cpu.fpu.pop();
        }
    };
    if cpu.fpu.is_empty(0) || cpu.fpu.is_empty(i) {
        if cpu.fpu.underflow() {
            set(cpu, Cmp::Unordered);
        }
    } else {
        let out = arith::compare(cpu.fpu.get(0), cpu.fpu.get(i), false, QUIET, cpu.fpu.ctx());
        cpu.fpu.raise(out.ex, false);
        if let Some(c) = out.v {
            set(cpu, c);
        }
    }
    note(cpu, bus, None);
    Ok(())
}

/// FXAM: the class of ST(0) in C3, C2, C0 and its sign in C1 (SDM FXAM).
fn fxam(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    use super::value::Class;
    begin(cpu, bus, true)?;
    let fpu = &mut cpu.fpu;
    let v = fpu.get(0);
    let class = if fpu.is_empty(0) {
        sw::C3 | sw::C0
    } else {
        match v.class() {
            Class::Unsupported => 0,
            Class::QNaN | Class::SNaN => sw::C0,
            Class::Normal => sw::C2,
            Class::Infinity => sw::C2 | sw::C0,
            Class::Zero => sw::C3,
            Class::Denormal | Class::PseudoDenormal => sw::C3 | sw::C2,
        }
    };
    fpu.set_cc(class | if v.sign() { sw::C1 } else { 0 });
    note(cpu, bus, None);
    Ok(())
}

// ------------------------------------------------------------------ other operations

fn fchs_fabs<const ABS: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let fpu = &mut cpu.fpu;
    if fpu.is_empty(0) {
        if fpu.underflow() {
            fpu.set(0, F80::INDEFINITE);
        }
    } else {
        let v = fpu.get(0);
        fpu.set(0, if ABS { arith::abs(v) } else { v.neg() });
        fpu.set_c1(false);
    }
    note(cpu, bus, None);
    Ok(())
}

fn fld_const(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let ctx = cpu.fpu.ctx();
    let fpu = &mut cpu.fpu;
    if !fpu.is_empty(7) {
        if fpu.overflow() {
            fpu.push(F80::INDEFINITE);
        }
    } else {
        fpu.set_c1(false);
        fpu.push(trans::constant(d.instr.mnemonic(), ctx));
    }
    note(cpu, bus, None);
    Ok(())
}

fn unary<const U: u8>(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let ctx = cpu.fpu.ctx();
    let fpu = &mut cpu.fpu;
    if fpu.is_empty(0) {
        if fpu.underflow() {
            fpu.set(0, F80::INDEFINITE);
        }
    } else {
        let a = fpu.get(0);
        let out = match U {
            SQRT => arith::sqrt(a, ctx.precision(), ctx),
            RNDINT => arith::rndint(a, ctx),
            F2XM1 => trans::f2xm1(a, ctx),
            _ => {
                let which = if U == SIN { TrigOp::Sin } else { TrigOp::Cos };
                match trans::trig(which, a, ctx) {
                    Trig::OutOfRange => {
                        fpu.sw |= sw::C2;
                        fpu.set_c1(false);
                        note(cpu, bus, None);
                        return Ok(());
                    }
                    Trig::Done(o) => {
                        fpu.sw &= !sw::C2;
                        Out { v: o.v.map(|p| p.0), ex: o.ex, up: o.up }
                    }
                }
            }
        };
        fpu.raise(out.ex, out.up);
        if let Some(v) = out.v {
            fpu.set(0, v);
        }
    }
    note(cpu, bus, None);
    Ok(())
}

/// FPATAN, FYL2X, FYL2XP1: ST(1) = f(ST(1), ST(0)), then pop.
fn st1_pop<const U: u8>(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let ctx = cpu.fpu.ctx();
    let fpu = &mut cpu.fpu;
    if fpu.is_empty(0) || fpu.is_empty(1) {
        if fpu.underflow() {
            fpu.set(1, F80::INDEFINITE);
            fpu.pop();
        }
    } else {
        let (y, x) = (fpu.get(1), fpu.get(0));
        let out = match U {
            PATAN => trans::patan(y, x, ctx),
            YL2X => trans::yl2x(y, x, ctx),
            _ => trans::yl2xp1(y, x, ctx),
        };
        fpu.raise(out.ex, out.up);
        if let Some(v) = out.v {
            fpu.set(1, v);
            fpu.pop();
        }
    }
    note(cpu, bus, None);
    Ok(())
}

/// FXTRACT, FPTAN, FSINCOS: ST(0) replaced and a second result pushed.
fn push2<const U: u8>(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let ctx = cpu.fpu.ctx();
    let fpu = &mut cpu.fpu;
    if fpu.is_empty(0) || !fpu.is_empty(7) {
        let masked = if fpu.is_empty(0) { fpu.underflow() } else { fpu.overflow() };
        if masked {
            fpu.set(0, F80::INDEFINITE);
            fpu.push(F80::INDEFINITE);
        }
        note(cpu, bus, None);
        return Ok(());
    }
    let a = fpu.get(0);
    let out = match U {
        XTRACT => arith::xtract(a, ctx),
        _ => {
            let which = if U == PTAN { TrigOp::Tan } else { TrigOp::SinCos };
            match trans::trig(which, a, ctx) {
                Trig::OutOfRange => {
                    fpu.sw |= sw::C2;
                    fpu.set_c1(false);
                    note(cpu, bus, None);
                    return Ok(());
                }
                Trig::Done(o) => {
                    fpu.sw &= !sw::C2;
                    o
                }
            }
        }
    };
    fpu.raise(out.ex, out.up);
    if let Some((first, second)) = out.v {
        fpu.set(0, first);
        fpu.push(second);
    }
    note(cpu, bus, None);
    Ok(())
}

fn fscale(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let ctx = cpu.fpu.ctx();
    let fpu = &mut cpu.fpu;
    if fpu.is_empty(0) || fpu.is_empty(1) {
        if fpu.underflow() {
            fpu.set(0, F80::INDEFINITE);
        }
    } else {
        let out = arith::scale(fpu.get(0), fpu.get(1), ctx);
        fpu.raise(out.ex, out.up);
        if let Some(v) = out.v {
            fpu.set(0, v);
        }
    }
    note(cpu, bus, None);
    Ok(())
}

fn fprem<const IEEE: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let ctx = cpu.fpu.ctx();
    let fpu = &mut cpu.fpu;
    if fpu.is_empty(0) || fpu.is_empty(1) {
        if fpu.underflow() {
            fpu.set(0, F80::INDEFINITE);
        }
    } else {
        let out = arith::prem(fpu.get(0), fpu.get(1), IEEE, ctx);
        fpu.raise(out.ex, false);
        if let Some((v, q, partial)) = out.v {
            fpu.set(0, v);
            let cc = if partial {
                sw::C2
            } else {
                (if q & 4 != 0 { sw::C0 } else { 0 })
                    | (if q & 2 != 0 { sw::C3 } else { 0 })
                    | (if q & 1 != 0 { sw::C1 } else { 0 })
            };
            fpu.set_cc(cc);
        }
    }
    note(cpu, bus, None);
    Ok(())
}

/// FCMOVcc: 0 B, 1 E, 2 BE, 3 U, 4 NB, 5 NE, 6 NBE, 7 NU.
fn fcmov<const CC: u8>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let i = sti(d.instr.op1_register());
    let f = cpu.s.rflags;
    let (cf, zf, pf) = (f & flags::CF != 0, f & flags::ZF != 0, f & flags::PF != 0);
    let cond = match CC & 3 {
        0 => cf,
        1 => zf,
        2 => cf || zf,
        _ => pf,
    } ^ (CC >= 4);
    let fpu = &mut cpu.fpu;
    if fpu.is_empty(0) || fpu.is_empty(i) {
        if fpu.underflow() {
            fpu.set(0, F80::INDEFINITE);
        }
    } else {
        fpu.set_c1(false);
        if cond {
            let v = fpu.get(i);
            fpu.set(0, v);
        }
    }
    note(cpu, bus, None);
    Ok(())
}

fn ffree<const POP: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let i = sti(d.instr.op0_register());
    let fpu = &mut cpu.fpu;
    fpu.empty |= 1 << fpu.phys(i);
    fpu.set_c1(false);
    if POP {
        fpu.pop();
    }
    note(cpu, bus, None);
    Ok(())
}

fn fincdec<const STEP: u8>(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    cpu.fpu.top = (cpu.fpu.top + STEP) & 7;
    cpu.fpu.set_c1(false);
    note(cpu, bus, None);
    Ok(())
}

fn fnop(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    note(cpu, bus, None);
    Ok(())
}

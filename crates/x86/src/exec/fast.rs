//! Specialized handlers for the commonest forms of MOV, the two-operand ALU instructions,
//! INC/DEC, Jcc, PUSH/POP of a register, MOVZX/MOVSX and LEA, picked when an instruction is
//! decoded. Const parameters fix the operand
//! form, the size and the condition, so operand access compiles to a direct register or memory
//! access with no run-time dispatch. Their behaviour is that of the general handlers in
//! alu.rs, data.rs and control.rs, which still serve every other form.

use super::alu::{self, CMP, TEST};
use super::{Handler, mask};
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::fault::Result;
use crate::icache::Decoded;
use crate::state::flags::{ARITH, CF};
use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

/// Operand forms: destination (register or memory) and source (register, memory, immediate).
const RR: u8 = 0;
const RM: u8 = 1;
const MR: u8 = 2;
const RI: u8 = 3;
const MI: u8 = 4;

/// Read a general register of `S` bytes (the instruction's operand size).
#[inline(always)]
fn reg<const S: u64>(cpu: &Cpu, r: Register) -> u64 {
    match S {
        4 => cpu.s.gpr[(r as usize - Register::EAX as usize) & 15] & 0xFFFF_FFFF,
        2 => cpu.s.gpr[(r as usize - Register::AX as usize) & 15] & 0xFFFF,
        _ => cpu.gpr(r),
    }
}

/// Write a general register of `S` bytes (a 32-bit write clears bits 63..32).
#[inline(always)]
fn set_reg<const S: u64>(cpu: &mut Cpu, r: Register, v: u64) {
    match S {
        4 => cpu.s.gpr[(r as usize - Register::EAX as usize) & 15] = v & 0xFFFF_FFFF,
        2 => {
            let g = &mut cpu.s.gpr[(r as usize - Register::AX as usize) & 15];
            *g = (*g & !0xFFFF) | (v & 0xFFFF);
        }
        _ => cpu.set_gpr(r, v),
    }
}

/// The source operand (operand 1) of a form.
#[inline(always)]
fn source<const F: u8, const S: u64>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<u64> {
    match F {
        RR | MR => Ok(reg::<S>(cpu, d.instr.op1_register())),
        RM => {
            let (s, o) = cpu.ea(d);
            cpu.read(bus, s, o, S)
        }
        _ => Ok(d.instr.immediate(1) & mask(S)),
    }
}

pub(crate) fn mov<const F: u8, const S: u64>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let v = source::<F, S>(cpu, bus, d)?;
    match F {
        RR | RM | RI => {
            set_reg::<S>(cpu, d.instr.op0_register(), v);
            Ok(())
        }
        _ => {
            let (s, o) = cpu.ea(d);
            cpu.write(bus, s, o, S, v)
        }
    }
}

pub(crate) fn binop<const OP: u8, const F: u8, const S: u64>(
    cpu: &mut Cpu,
    bus: &mut dyn Bus,
    d: &Decoded,
) -> Result<()> {
    let b = source::<F, S>(cpu, bus, d)?;
    match F {
        RR | RM | RI => {
            let r0 = d.instr.op0_register();
            let a = reg::<S>(cpu, r0);
            let r = alu::alu(cpu, OP, S, a, b);
            if OP != CMP && OP != TEST {
                set_reg::<S>(cpu, r0, r);
            }
            Ok(())
        }
        _ => {
            let (s, o) = cpu.ea(d);
            let a = cpu.read(bus, s, o, S)?;
            let r = alu::alu(cpu, OP, S, a, b);
            if OP != CMP && OP != TEST {
                cpu.write(bus, s, o, S, r)?;
            }
            Ok(())
        }
    }
}

/// INC (`DEC` false) or DEC of a register.
pub(crate) fn incdec<const DEC: bool, const S: u64>(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let r0 = d.instr.op0_register();
    let a = reg::<S>(cpu, r0);
    let (r, f) = if DEC { alu::sub_flags(S, a, 1, 0) } else { alu::add_flags(S, a, 1, 0) };
    set_reg::<S>(cpu, r0, r);
    cpu.s.rflags = (cpu.s.rflags & !(ARITH & !CF)) | (f & ARITH & !CF);
    Ok(())
}

/// Jcc with its condition (iced's ConditionCode numbering) fixed.
pub(crate) fn jcc<const CC: u8>(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    if cpu.cond(CC) {
        let m = match d.instr.op0_kind() {
            OpKind::NearBranch16 => 0xFFFF,
            OpKind::NearBranch32 => 0xFFFF_FFFF,
            _ => u64::MAX,
        };
        let t = cpu.cur_ip.wrapping_add(d.instr.near_branch_target()) & m;
        cpu.near_jump(t)?;
    }
    Ok(())
}

/// PUSH of a general register of `S` bytes (the stack slot is the register's size).
pub(crate) fn push_reg<const S: u64>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    // PUSH SP pushes the value from before the push (286 and later).
    let v = reg::<S>(cpu, d.instr.op0_register());
    cpu.push(bus, S, v)
}

/// POP into a general register of `S` bytes (POP SP/ESP: the popped value wins).
pub(crate) fn pop_reg<const S: u64>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let v = cpu.pop(bus, S)?;
    set_reg::<S>(cpu, d.instr.op0_register(), v);
    Ok(())
}

/// MOVZX (`SX` false) or MOVSX from `SRC` bytes (register or memory) into a register of
/// `DST` bytes.
pub(crate) fn movx<const SX: bool, const MEM: bool, const SRC: u64, const DST: u64>(
    cpu: &mut Cpu,
    bus: &mut dyn Bus,
    d: &Decoded,
) -> Result<()> {
    let v = if MEM {
        let (s, o) = cpu.ea(d);
        cpu.read(bus, s, o, SRC)?
    } else {
        reg::<SRC>(cpu, d.instr.op1_register())
    };
    let v = if SX { super::sext(v, SRC) } else { v };
    set_reg::<DST>(cpu, d.instr.op0_register(), v & mask(DST));
    Ok(())
}

/// LEA into a register of `S` bytes.
pub(crate) fn lea<const S: u64>(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let (_, off) = cpu.ea(d);
    set_reg::<S>(cpu, d.instr.op0_register(), off & mask(S));
    Ok(())
}

/// Whether operand `n` is a general register of `size` bytes (AL..R15, not segment,
/// control or debug registers).
fn is_gpr(i: &Instruction, n: u32, size: u8) -> bool {
    i.op_kind(n) == OpKind::Register && {
        let r = i.op_register(n);
        r.is_gpr() && r.size() == size as usize
    }
}

fn is_imm(i: &Instruction, n: u32) -> bool {
    matches!(
        i.op_kind(n),
        OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
    )
}

/// The operand form of a two-operand instruction of `size` bytes, if it has a fast handler.
fn form(i: &Instruction, size: u8) -> Option<u8> {
    if i.op_count() != 2 {
        return None;
    }
    let mem0 = i.op0_kind() == OpKind::Memory;
    let mem1 = i.op1_kind() == OpKind::Memory;
    match (is_gpr(i, 0, size), mem0) {
        (true, _) if is_gpr(i, 1, size) => Some(RR),
        (true, _) if mem1 => Some(RM),
        (true, _) if is_imm(i, 1) => Some(RI),
        (_, true) if is_gpr(i, 1, size) => Some(MR),
        (_, true) if is_imm(i, 1) => Some(MI),
        _ => None,
    }
}

macro_rules! by_form_size {
    ($f:expr, $s:expr, $h:ident $(, $c:expr)?) => {
        match ($f, $s) {
            (RR, 1) => $h::<$($c,)? RR, 1>, (RR, 2) => $h::<$($c,)? RR, 2>, (RR, 4) => $h::<$($c,)? RR, 4>,
            (RM, 1) => $h::<$($c,)? RM, 1>, (RM, 2) => $h::<$($c,)? RM, 2>, (RM, 4) => $h::<$($c,)? RM, 4>,
            (MR, 1) => $h::<$($c,)? MR, 1>, (MR, 2) => $h::<$($c,)? MR, 2>, (MR, 4) => $h::<$($c,)? MR, 4>,
            (RI, 1) => $h::<$($c,)? RI, 1>, (RI, 2) => $h::<$($c,)? RI, 2>, (RI, 4) => $h::<$($c,)? RI, 4>,
            (MI, 1) => $h::<$($c,)? MI, 1>, (MI, 2) => $h::<$($c,)? MI, 2>, _ => $h::<$($c,)? MI, 4>,
        }
    };
}

/// A fast handler for `i` (operand size `osz` bytes), if its form has one.
pub(crate) fn select(i: &Instruction, osz: u8) -> Option<Handler> {
    use alu::{ADC, ADD, AND, OR, SBB, SUB, XOR};
    if !matches!(osz, 1 | 2 | 4) {
        return None;
    }
    let h: Handler = match i.mnemonic() {
        M::Inc | M::Dec if is_gpr(i, 0, osz) && osz != 1 => match (i.mnemonic() == M::Dec, osz) {
            (false, 2) => incdec::<false, 2>,
            (false, _) => incdec::<false, 4>,
            (true, 2) => incdec::<true, 2>,
            (true, _) => incdec::<true, 4>,
        },
        M::Jo | M::Jno | M::Jb | M::Jae | M::Je | M::Jne | M::Jbe | M::Ja => jcc_for(i.condition_code() as u8)?,
        M::Js | M::Jns | M::Jp | M::Jnp | M::Jl | M::Jge | M::Jle | M::Jg => jcc_for(i.condition_code() as u8)?,
        // The stack slot must be the register's size (it is, for every PUSH/POP r16/r32).
        M::Push | M::Pop
            if is_gpr(i, 0, osz) && osz != 1 && (-i.stack_pointer_increment()).unsigned_abs() == osz as u32 =>
        {
            match (i.mnemonic() == M::Pop, osz) {
                (false, 2) => push_reg::<2>,
                (false, _) => push_reg::<4>,
                (true, 2) => pop_reg::<2>,
                (true, _) => pop_reg::<4>,
            }
        }
        M::Lea if is_gpr(i, 0, osz) && osz != 1 && i.op1_kind() == OpKind::Memory => {
            if osz == 2 {
                lea::<2>
            } else {
                lea::<4>
            }
        }
        M::Movzx | M::Movsx if is_gpr(i, 0, osz) && osz != 1 => {
            let sx = i.mnemonic() == M::Movsx;
            let (mem, src) = match i.op1_kind() {
                OpKind::Register if i.op1_register().is_gpr() => (false, i.op1_register().size() as u8),
                OpKind::Memory => (true, i.memory_size().size() as u8),
                _ => return None,
            };
            macro_rules! pick {
                ($sx:expr, $mem:expr) => {
                    match (src, osz) {
                        (1, 2) => movx::<$sx, $mem, 1, 2>,
                        (1, 4) => movx::<$sx, $mem, 1, 4>,
                        (2, 2) => movx::<$sx, $mem, 2, 2>,
                        (2, 4) => movx::<$sx, $mem, 2, 4>,
                        _ => return None,
                    }
                };
            }
            match (sx, mem) {
                (false, false) => pick!(false, false),
                (false, true) => pick!(false, true),
                (true, false) => pick!(true, false),
                (true, true) => pick!(true, true),
            }
        }
        m => {
            let f = form(i, osz)?;
            match m {
                M::Mov => by_form_size!(f, osz, mov),
                M::Add => by_form_size!(f, osz, binop, ADD),
                M::Or => by_form_size!(f, osz, binop, OR),
                M::Adc => by_form_size!(f, osz, binop, ADC),
                M::Sbb => by_form_size!(f, osz, binop, SBB),
                M::And => by_form_size!(f, osz, binop, AND),
                M::Sub => by_form_size!(f, osz, binop, SUB),
                M::Xor => by_form_size!(f, osz, binop, XOR),
                M::Cmp => by_form_size!(f, osz, binop, CMP),
                M::Test => by_form_size!(f, osz, binop, TEST),
                _ => return None,
            }
        }
    };
    Some(h)
}

fn jcc_for(cc: u8) -> Option<Handler> {
    use iced_x86::ConditionCode as C;
    const fn c(x: C) -> u8 {
        x as u8
    }
    Some(match cc {
        x if x == c(C::o) => jcc::<{ c(C::o) }>,
        x if x == c(C::no) => jcc::<{ c(C::no) }>,
        x if x == c(C::b) => jcc::<{ c(C::b) }>,
        x if x == c(C::ae) => jcc::<{ c(C::ae) }>,
        x if x == c(C::e) => jcc::<{ c(C::e) }>,
        x if x == c(C::ne) => jcc::<{ c(C::ne) }>,
        x if x == c(C::be) => jcc::<{ c(C::be) }>,
        x if x == c(C::a) => jcc::<{ c(C::a) }>,
        x if x == c(C::s) => jcc::<{ c(C::s) }>,
        x if x == c(C::ns) => jcc::<{ c(C::ns) }>,
        x if x == c(C::p) => jcc::<{ c(C::p) }>,
        x if x == c(C::np) => jcc::<{ c(C::np) }>,
        x if x == c(C::l) => jcc::<{ c(C::l) }>,
        x if x == c(C::ge) => jcc::<{ c(C::ge) }>,
        x if x == c(C::le) => jcc::<{ c(C::le) }>,
        x if x == c(C::g) => jcc::<{ c(C::g) }>,
        _ => return None,
    })
}

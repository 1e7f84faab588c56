//! Instruction execution: operand access shared by all handlers, and the choice of handler
//! for each decoded instruction (made once, when the instruction enters the decode cache).

pub(crate) mod alu;
pub(crate) mod bcd;
pub(crate) mod control;
pub(crate) mod data;
pub(crate) mod fast;
pub(crate) mod muldiv;
pub(crate) mod pm;
pub(crate) mod shift;
pub(crate) mod stack;
pub(crate) mod string;
pub(crate) mod system;

use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::fault::{Fault, Result};
use crate::icache::{Decoded, EA_NONE, EA_RIP};
use crate::state::flags;
use iced_x86::{Code, ConditionCode, Instruction, Mnemonic as M, OpKind, Register};

/// Executes one decoded instruction. RIP already points at the next instruction.
pub type Handler = fn(&mut Cpu, &mut dyn Bus, &Decoded) -> Result<()>;

/// Handler for encodings the CPU does not implement: #UD, as hardware raises for them.
pub(crate) fn invalid(_: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    Err(Fault::ud())
}

/// Operand-size attribute and address size from the prefixes (iced gives neither directly for
/// every form), plus REX.W.
fn prefix_sizes(bytes: &[u8], bits: u32) -> (u8, u8) {
    let (mut p66, mut p67, mut rexw) = (false, false, false);
    for &b in bytes {
        match b {
            0x66 => p66 = true,
            0x67 => p67 = true,
            0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0xF0 | 0xF2 | 0xF3 => {}
            0x40..=0x4F if bits == 64 => {
                rexw = b & 8 != 0;
                continue;
            }
            _ => break,
        }
        rexw = false;
    }
    let opsz = match bits {
        16 => {
            if p66 {
                4
            } else {
                2
            }
        }
        32 => {
            if p66 {
                2
            } else {
                4
            }
        }
        _ => {
            if rexw {
                8
            } else if p66 {
                2
            } else {
                4
            }
        }
    };
    let asz = match bits {
        16 => {
            if p67 {
                4
            } else {
                2
            }
        }
        32 => {
            if p67 {
                2
            } else {
                4
            }
        }
        _ => {
            if p67 {
                4
            } else {
                8
            }
        }
    };
    (opsz, asz)
}

/// Build the cache entry for a freshly decoded instruction.
pub(crate) fn prepare(instr: Instruction, bytes: &[u8], bits: u32) -> Decoded {
    let (opsz, asz) = prefix_sizes(bytes, bits);
    let osz = if instr.op_count() > 0 {
        match instr.op0_kind() {
            OpKind::Register => reg_size(instr.op0_register()).unwrap_or(opsz),
            OpKind::Memory
            | OpKind::MemorySegSI
            | OpKind::MemorySegESI
            | OpKind::MemorySegRSI
            | OpKind::MemoryESDI
            | OpKind::MemoryESEDI
            | OpKind::MemoryESRDI
            | OpKind::MemorySegDI
            | OpKind::MemorySegEDI
            | OpKind::MemorySegRDI => match instr.memory_size().size() {
                1 | 2 | 4 | 8 => instr.memory_size().size() as u8,
                _ => opsz,
            },
            _ => opsz,
        }
    } else {
        opsz
    };
    let (handler, aux) = match fast::select(&instr, osz) {
        Some(h) => (h, 0),
        None => select(&instr, osz, opsz),
    };
    let ea_reg = |r: Register| match r {
        Register::None => EA_NONE,
        Register::RIP | Register::EIP => EA_RIP,
        r => (r.full_register() as u8).wrapping_sub(Register::RAX as u8) & 15,
    };
    Decoded {
        instr,
        handler,
        len: instr.len() as u8,
        osz,
        asz,
        opsz,
        aux,
        ea_base: ea_reg(instr.memory_base()),
        ea_index: ea_reg(instr.memory_index()),
        ea_shift: instr.memory_index_scale().trailing_zeros() as u8,
        ea_seg: seg_index(instr.memory_segment()) as u8,
    }
}

/// Size in bytes of a general register.
fn reg_size(r: Register) -> Option<u8> {
    match r as u8 {
        1..=20 => Some(1),
        21..=36 => Some(2),
        37..=52 => Some(4),
        53..=68 => Some(8),
        71..=76 => Some(2),
        _ => None,
    }
}

/// A handler generic over the operand size (and an operation constant), for size `osz`.
macro_rules! sized {
    ($osz:expr, $m:ident :: $h:ident) => {
        match $osz {
            1 => $m::$h::<1>,
            2 => $m::$h::<2>,
            4 => $m::$h::<4>,
            _ => $m::$h::<8>,
        }
    };
    ($osz:expr, $m:ident :: $h:ident, $c:tt) => {
        match $osz {
            1 => $m::$h::<$c, 1>,
            2 => $m::$h::<$c, 2>,
            4 => $m::$h::<$c, 4>,
            _ => $m::$h::<$c, 8>,
        }
    };
}

/// Pick the handler (and its per-instruction constant) for an instruction of operand size
/// `osz` (its main operand) and operand-size attribute `opsz`.
fn select(i: &Instruction, osz: u8, opsz: u8) -> (Handler, u8) {
    use alu::*;
    let cc = |i: &Instruction| i.condition_code() as u8;
    let h: Handler = match i.mnemonic() {
        M::Add => binop::<ADD>,
        M::Or => binop::<OR>,
        M::Adc => binop::<ADC>,
        M::Sbb => binop::<SBB>,
        M::And => binop::<AND>,
        M::Sub => binop::<SUB>,
        M::Xor => binop::<XOR>,
        M::Cmp => binop::<CMP>,
        M::Test => binop::<TEST>,
        M::Inc => inc,
        M::Dec => dec,
        M::Neg => neg,
        M::Not => not,
        M::Rol => sized!(osz, shift::rotate, { shift::ROL }),
        M::Ror => sized!(osz, shift::rotate, { shift::ROR }),
        M::Rcl => sized!(osz, shift::rotate, { shift::RCL }),
        M::Rcr => sized!(osz, shift::rotate, { shift::RCR }),
        M::Shl | M::Sal => sized!(osz, shift::shift, { shift::SHL }),
        M::Shr => sized!(osz, shift::shift, { shift::SHR }),
        M::Sar => sized!(osz, shift::shift, { shift::SAR }),
        M::Shld => shift::shld,
        M::Shrd => shift::shrd,
        M::Mul => sized!(osz, muldiv::mul),
        M::Imul => sized!(osz, muldiv::imul),
        M::Div => muldiv::div,
        M::Idiv => muldiv::idiv,
        M::Daa => bcd::daa,
        M::Das => bcd::das,
        M::Aaa => bcd::aaa,
        M::Aas => bcd::aas,
        M::Aam => bcd::aam,
        M::Aad => bcd::aad,
        M::Salc => bcd::salc,
        M::Mov => data::mov,
        M::Movzx => data::movzx,
        M::Movsx | M::Movsxd => data::movsx,
        M::Xchg => data::xchg,
        M::Lea => data::lea,
        M::Lds | M::Les | M::Lfs | M::Lgs | M::Lss => data::lxs,
        M::Xlatb => data::xlat,
        M::Cbw | M::Cwde | M::Cdqe => data::cbw,
        M::Cwd | M::Cdq | M::Cqo => data::cwd,
        M::Bswap => data::bswap,
        M::Xadd => data::xadd,
        M::Cmpxchg => data::cmpxchg,
        M::Cmpxchg8b => data::cmpxchg8b,
        M::Bt => data::bt::<0>,
        M::Bts => data::bt::<1>,
        M::Btr => data::bt::<2>,
        M::Btc => data::bt::<3>,
        // Without BMI1 and ABM in CPUID (model.rs), F3 0F BC/BD are BSF/BSR with an ignored
        // REP prefix, as on every CPU before those extensions; the decoder names them by the
        // newer meaning.
        M::Bsf | M::Tzcnt => data::bsf,
        M::Bsr | M::Lzcnt => data::bsr,
        M::Nop | M::Pause => data::nop,
        M::Lahf => data::lahf,
        M::Sahf => data::sahf,
        M::Clc | M::Stc | M::Cmc | M::Cld | M::Std => data::flag_op,
        M::Seto
        | M::Setno
        | M::Setb
        | M::Setae
        | M::Sete
        | M::Setne
        | M::Setbe
        | M::Seta
        | M::Sets
        | M::Setns
        | M::Setp
        | M::Setnp
        | M::Setl
        | M::Setge
        | M::Setle
        | M::Setg => {
            return (data::setcc, cc(i));
        }
        M::Cmovo
        | M::Cmovno
        | M::Cmovb
        | M::Cmovae
        | M::Cmove
        | M::Cmovne
        | M::Cmovbe
        | M::Cmova
        | M::Cmovs
        | M::Cmovns
        | M::Cmovp
        | M::Cmovnp
        | M::Cmovl
        | M::Cmovge
        | M::Cmovle
        | M::Cmovg => {
            return (data::cmovcc, cc(i));
        }
        M::Push => stack::push,
        M::Pop => stack::pop,
        M::Pusha | M::Pushad => stack::pusha,
        M::Popa | M::Popad => stack::popa,
        M::Pushf | M::Pushfd | M::Pushfq => stack::pushf,
        M::Popf | M::Popfd | M::Popfq => stack::popf,
        M::Enter => stack::enter,
        M::Leave => stack::leave,
        M::Jmp => match i.op0_kind() {
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => control::jmp_rel,
            OpKind::FarBranch16 | OpKind::FarBranch32 => control::jmp_far_imm,
            _ if i.code() == Code::Jmp_m1616 || i.code() == Code::Jmp_m1632 || i.code() == Code::Jmp_m1664 => {
                control::jmp_far_mem
            }
            _ => control::jmp_near_indirect,
        },
        M::Call => match i.op0_kind() {
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => control::call_rel,
            OpKind::FarBranch16 | OpKind::FarBranch32 => control::call_far_imm,
            _ if i.code() == Code::Call_m1616 || i.code() == Code::Call_m1632 || i.code() == Code::Call_m1664 => {
                control::call_far_mem
            }
            _ => control::call_near_indirect,
        },
        M::Ret => control::ret_near,
        M::Retf => control::ret_far,
        M::Jo
        | M::Jno
        | M::Jb
        | M::Jae
        | M::Je
        | M::Jne
        | M::Jbe
        | M::Ja
        | M::Js
        | M::Jns
        | M::Jp
        | M::Jnp
        | M::Jl
        | M::Jge
        | M::Jle
        | M::Jg => return (control::jcc, cc(i)),
        M::Loop | M::Loope | M::Loopne => control::loop_,
        M::Jcxz | M::Jecxz | M::Jrcxz => control::jcxz,
        M::Int => control::int_n,
        M::Int3 => control::int3,
        M::Into => control::into,
        M::Int1 => control::int1,
        M::Iret | M::Iretd | M::Iretq => control::iret,
        M::Bound => control::bound,
        M::Hlt => system::hlt,
        M::Cli => system::cli,
        M::Sti => system::sti,
        M::In => system::in_,
        M::Out => system::out,
        M::Cpuid => system::cpuid,
        M::Rdtsc => system::rdtsc,
        M::Rdmsr => system::rdmsr,
        M::Wrmsr => system::wrmsr,
        M::Lgdt | M::Lidt => system::lgdt_lidt,
        M::Sgdt | M::Sidt => system::sgdt_sidt,
        M::Smsw => system::smsw,
        M::Lmsw => system::lmsw,
        M::Clts => system::clts,
        M::Invd | M::Wbinvd => data::nop,
        M::Invlpg => system::invlpg,
        M::Lldt | M::Sldt | M::Ltr | M::Str | M::Verr | M::Verw | M::Lar | M::Lsl | M::Arpl => system::pm_only,
        M::Movsb | M::Movsw | M::Movsd | M::Movsq if i.op_count() == 2 && is_string_op(i) => string::movs,
        M::Cmpsb | M::Cmpsw | M::Cmpsd | M::Cmpsq if is_string_op(i) => string::cmps,
        M::Stosb | M::Stosw | M::Stosd | M::Stosq => string::stos,
        M::Lodsb | M::Lodsw | M::Lodsd | M::Lodsq => string::lods,
        M::Scasb | M::Scasw | M::Scasd | M::Scasq => string::scas,
        M::Insb | M::Insw | M::Insd => string::ins,
        M::Outsb | M::Outsw | M::Outsd => string::outs,
        M::Ud0 | M::Ud1 | M::Ud2 => invalid,
        _ if crate::fpu::select(i).is_some() => crate::fpu::select(i).unwrap_or(invalid),
        _ => {
            // Control and debug register moves are MOV in iced; everything else is not
            // implemented by the CPU model ondol presents.
            invalid
        }
    };
    let aux = match i.mnemonic() {
        M::Push | M::Pop | M::Pushf | M::Pushfd | M::Pushfq | M::Popf | M::Popfd | M::Popfq => {
            (-i.stack_pointer_increment()).unsigned_abs() as u8
        }
        M::Call | M::Ret | M::Retf | M::Iret | M::Iretd | M::Iretq | M::Enter | M::Leave => stack_op_size(i, opsz),
        _ => 0,
    };
    (h, aux)
}

/// Operand size of the stack slots a near/far CALL, RET, IRET, ENTER or LEAVE uses.
fn stack_op_size(i: &Instruction, opsz: u8) -> u8 {
    match i.code() {
        Code::Retnw | Code::Retnw_imm16 | Code::Retfw | Code::Retfw_imm16 | Code::Iretw => 2,
        Code::Retnd | Code::Retnd_imm16 | Code::Retfd | Code::Retfd_imm16 | Code::Iretd => 4,
        Code::Retnq | Code::Retnq_imm16 | Code::Retfq | Code::Retfq_imm16 | Code::Iretq => 8,
        Code::Enterw_imm16_imm8 | Code::Leavew => 2,
        Code::Enterd_imm16_imm8 | Code::Leaved => 4,
        Code::Enterq_imm16_imm8 | Code::Leaveq => 8,
        Code::Call_rel16 | Code::Call_rm16 | Code::Call_ptr1616 | Code::Call_m1616 => 2,
        Code::Call_rel32_32 | Code::Call_rm32 | Code::Call_ptr1632 | Code::Call_m1632 => 4,
        Code::Call_rel32_64 | Code::Call_rm64 | Code::Call_m1664 => 8,
        _ => opsz,
    }
}

/// MOVSD/CMPSD are also SSE2 mnemonics; the string forms have string operands.
fn is_string_op(i: &Instruction) -> bool {
    matches!(
        i.op0_kind(),
        OpKind::MemoryESDI
            | OpKind::MemoryESEDI
            | OpKind::MemoryESRDI
            | OpKind::MemorySegSI
            | OpKind::MemorySegESI
            | OpKind::MemorySegRSI
    )
}

// -------------------------------------------------------------------- operands

/// Where an operand lives.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Loc {
    Reg(Register),
    Mem(usize, u64),
}

#[inline(always)]
pub(crate) fn mask(size: u64) -> u64 {
    if size >= 8 { u64::MAX } else { (1u64 << (size * 8)) - 1 }
}

#[inline(always)]
pub(crate) fn sign(size: u64) -> u64 {
    1u64 << (size * 8 - 1)
}

/// Sign-extend the low `size` bytes of `v` to 64 bits.
#[inline(always)]
pub(crate) fn sext(v: u64, size: u64) -> u64 {
    let sh = 64 - size * 8;
    (((v << sh) as i64) >> sh) as u64
}

/// Segment register index of an iced segment register.
#[inline(always)]
pub(crate) fn seg_index(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::ES as usize)
}

impl Cpu {
    /// Read a general register of any width (AH..BH included).
    #[inline(always)]
    pub(crate) fn gpr(&self, r: Register) -> u64 {
        let n = r as usize;
        match n {
            1..=4 => self.s.gpr[n - 1] & 0xFF,
            5..=8 => (self.s.gpr[n - 5] >> 8) & 0xFF,
            9..=20 => self.s.gpr[n - 5] & 0xFF,
            21..=36 => self.s.gpr[n - 21] & 0xFFFF,
            37..=52 => self.s.gpr[n - 37] & 0xFFFF_FFFF,
            53..=68 => self.s.gpr[n - 53],
            71..=76 => self.s.seg[n - 71].selector as u64,
            _ => 0,
        }
    }

    /// Write a general register; 32-bit writes zero the upper half as in 64-bit mode.
    #[inline(always)]
    pub(crate) fn set_gpr(&mut self, r: Register, v: u64) {
        let n = r as usize;
        match n {
            1..=4 => {
                let g = &mut self.s.gpr[n - 1];
                *g = (*g & !0xFF) | (v & 0xFF);
            }
            5..=8 => {
                let g = &mut self.s.gpr[n - 5];
                *g = (*g & !0xFF00) | ((v & 0xFF) << 8);
            }
            9..=20 => {
                let g = &mut self.s.gpr[n - 5];
                *g = (*g & !0xFF) | (v & 0xFF);
            }
            21..=36 => {
                let g = &mut self.s.gpr[n - 21];
                *g = (*g & !0xFFFF) | (v & 0xFFFF);
            }
            37..=52 => self.s.gpr[n - 37] = v & 0xFFFF_FFFF,
            53..=68 => self.s.gpr[n - 53] = v,
            _ => {}
        }
    }

    /// Effective address (segment index, offset) of the instruction's memory operand.
    ///
    /// Base and index are added at their full width and the sum cut to the address size, which
    /// gives the same result as adding 16- or 32-bit registers (carries only move upwards).
    #[inline(always)]
    pub(crate) fn ea(&self, d: &Decoded) -> (usize, u64) {
        let mut a = d.instr.memory_displacement64();
        if d.ea_base < 16 {
            a = a.wrapping_add(self.s.gpr[d.ea_base as usize]);
        } else if d.ea_base == EA_RIP {
            a = a.wrapping_add(self.cur_ip);
        }
        if d.ea_index < 16 {
            a = a.wrapping_add(self.s.gpr[d.ea_index as usize] << d.ea_shift);
        }
        (d.ea_seg as usize, a & d.amask())
    }

    /// Location of operand `n`.
    #[inline(always)]
    pub(crate) fn loc(&self, d: &Decoded, n: u32) -> Loc {
        match d.instr.op_kind(n) {
            OpKind::Register => Loc::Reg(d.instr.op_register(n)),
            _ => {
                let (s, o) = self.ea(d);
                Loc::Mem(s, o)
            }
        }
    }

    #[inline(always)]
    pub(crate) fn read_loc(&mut self, bus: &mut dyn Bus, l: Loc, size: u64) -> Result<u64> {
        match l {
            Loc::Reg(r) => Ok(self.gpr(r)),
            Loc::Mem(s, o) => self.read(bus, s, o, size),
        }
    }

    #[inline(always)]
    pub(crate) fn write_loc(&mut self, bus: &mut dyn Bus, l: Loc, size: u64, v: u64) -> Result<()> {
        match l {
            Loc::Reg(r) => {
                self.set_gpr(r, v);
                Ok(())
            }
            Loc::Mem(s, o) => self.write(bus, s, o, size, v),
        }
    }

    /// Read operand `n` (register, memory or immediate) of `size` bytes.
    #[inline(always)]
    pub(crate) fn read_op(&mut self, bus: &mut dyn Bus, d: &Decoded, n: u32, size: u64) -> Result<u64> {
        match d.instr.op_kind(n) {
            OpKind::Register => Ok(self.gpr(d.instr.op_register(n))),
            OpKind::Memory => {
                let (s, o) = self.ea(d);
                self.read(bus, s, o, size)
            }
            _ => Ok(d.instr.immediate(n) & mask(size)),
        }
    }

    // ---------------------------------------------------------------- flags

    #[inline(always)]
    pub(crate) fn flag(&self, f: u64) -> bool {
        self.s.rflags & f != 0
    }

    #[inline(always)]
    pub(crate) fn set_flag(&mut self, f: u64, on: bool) {
        if on {
            self.s.rflags |= f;
        } else {
            self.s.rflags &= !f;
        }
    }

    /// Replace the arithmetic flags in `which` by those in `new`.
    #[inline(always)]
    pub(crate) fn set_flags(&mut self, which: u64, new: u64) {
        self.s.rflags = (self.s.rflags & !which) | (new & which);
    }

    /// Evaluate a condition code (iced's numbering: o, no, b, ae, e, ne, be, a, s, ns, p, np,
    /// l, ge, le, g, starting at 1).
    #[inline(always)]
    pub(crate) fn cond(&self, cc: u8) -> bool {
        let f = self.s.rflags;
        let cf = f & flags::CF != 0;
        let zf = f & flags::ZF != 0;
        let sf = f & flags::SF != 0;
        let of = f & flags::OF != 0;
        let pf = f & flags::PF != 0;
        match cc {
            x if x == ConditionCode::o as u8 => of,
            x if x == ConditionCode::no as u8 => !of,
            x if x == ConditionCode::b as u8 => cf,
            x if x == ConditionCode::ae as u8 => !cf,
            x if x == ConditionCode::e as u8 => zf,
            x if x == ConditionCode::ne as u8 => !zf,
            x if x == ConditionCode::be as u8 => cf || zf,
            x if x == ConditionCode::a as u8 => !cf && !zf,
            x if x == ConditionCode::s as u8 => sf,
            x if x == ConditionCode::ns as u8 => !sf,
            x if x == ConditionCode::p as u8 => pf,
            x if x == ConditionCode::np as u8 => !pf,
            x if x == ConditionCode::l as u8 => sf != of,
            x if x == ConditionCode::ge as u8 => sf == of,
            x if x == ConditionCode::le as u8 => zf || sf != of,
            x if x == ConditionCode::g as u8 => !zf && sf == of,
            _ => false,
        }
    }
}

/// SF, ZF and PF of a result.
#[inline(always)]
pub(crate) fn szp(size: u64, r: u64) -> u64 {
    let mut f = 0;
    if r & mask(size) == 0 {
        f |= flags::ZF;
    }
    if r & sign(size) != 0 {
        f |= flags::SF;
    }
    f | PARITY[r as u8 as usize] as u64
}

/// PF for each value of a result's low byte (set when it has an even number of ones): a table,
/// as the baseline x86-64 target has no POPCNT and counting bits costs a dozen instructions.
static PARITY: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        if (i as u8).count_ones() % 2 == 0 {
            t[i] = flags::PF as u8;
        }
        i += 1;
    }
    t
};

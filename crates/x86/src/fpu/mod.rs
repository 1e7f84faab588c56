//! The x87 FPU: eight 80-bit registers used as a stack, the control, status and tag words, the
//! last instruction and data pointers, and every x87 instruction (SDM Vol. 1, ch. 8).
//!
//! Layout: `value.rs` (the 80-bit format and the bridge to rustc_apfloat), `round.rs` (one
//! rounding per result, with overflow/underflow/precision exceptions), `arith.rs` (the
//! arithmetic), `trans.rs` (transcendentals and constants), `convert.rs` (memory formats),
//! `exec.rs` (instruction handlers), `control.rs` (control words, FSTENV/FSAVE/FXSAVE and
//! their loads).
//!
//! Exceptions: every instruction ORs its exception flags into the status word. An unmasked
//! one makes ES (and B) read as set; the next waiting x87 instruction (or WAIT) then raises
//! #MF when CR0.NE = 1, or asserts FERR# through [`Bus::fpu_error`] when CR0.NE = 0 (a PC
//! turns that into IRQ 13) and goes on, as with IGNNE# asserted. FERR# is released when the
//! flags are cleared.

mod arith;
mod control;
mod convert;
mod exec;
mod round;
mod trans;
mod value;

#[cfg(test)]
mod tests;

use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::exec::Handler;
use crate::fault::{Fault, Result, vector};
use crate::icache::Decoded;
use crate::state::{CS, cr0};
use iced_x86::{Instruction, Mnemonic};

pub(crate) use round::ex;
pub(crate) use value::F80;

/// Status word bits (SDM Vol. 1, Figure 8-4).
pub mod sw {
    pub const ES: u16 = 1 << 7;
    pub const C0: u16 = 1 << 8;
    pub const C1: u16 = 1 << 9;
    pub const C2: u16 = 1 << 10;
    pub const TOP: u16 = 7 << 11;
    pub const C3: u16 = 1 << 14;
    pub const B: u16 = 1 << 15;
    pub const CC: u16 = C0 | C1 | C2 | C3;
}

/// The FPU's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fpu {
    /// R0..R7, physical order.
    pub(crate) regs: [F80; 8],
    pub(crate) cw: u16,
    /// Exception flags and condition codes; TOP is kept in `top`, ES and B are derived.
    pub(crate) sw: u16,
    pub(crate) top: u8,
    /// Bit i set: R(i) is empty.
    pub(crate) empty: u8,
    pub(crate) fip: u64,
    pub(crate) fcs: u16,
    pub(crate) fdp: u64,
    pub(crate) fds: u16,
    /// Last opcode: the low 3 bits of the escape byte and the ModR/M byte.
    pub(crate) fop: u16,
    /// FERR# is asserted toward the platform.
    pub(crate) ferr: bool,
}

impl Default for Fpu {
    fn default() -> Self {
        Self::new()
    }
}

impl Fpu {
    /// The state after power-on or RESET (SDM Vol. 3, Table 9-1): control word 0040h (every
    /// exception unmasked, 24-bit precision), status word 0, tag word 5555h (every register
    /// holding +0), pointers 0. Firmware executes FNINIT before using the FPU.
    pub fn new() -> Self {
        Fpu {
            regs: [F80::ZERO; 8],
            cw: 0x0040,
            sw: 0,
            top: 0,
            empty: 0,
            fip: 0,
            fcs: 0,
            fdp: 0,
            fds: 0,
            fop: 0,
            ferr: false,
        }
    }

    /// FNINIT (SDM Vol. 1, Table 8-8): control word 037Fh, status word 0, every register empty
    /// (their contents kept), pointers and opcode 0.
    pub(crate) fn init(&mut self) {
        let (regs, ferr) = (self.regs, self.ferr);
        *self = Fpu { cw: 0x037F, empty: 0xFF, ..Fpu::new() };
        self.regs = regs;
        self.ferr = ferr;
    }

    pub fn control_word(&self) -> u16 {
        self.cw
    }

    /// Whether an unmasked exception is pending (ES).
    pub(crate) fn es(&self) -> bool {
        self.sw & !self.cw & ex::ALL != 0
    }

    pub fn status_word(&self) -> u16 {
        let es = if self.es() { sw::ES | sw::B } else { 0 };
        (self.sw & !(sw::ES | sw::B | sw::TOP)) | ((self.top as u16) << 11) | es
    }

    /// Load a status word (FLDENV, FRSTOR, FXRSTOR): TOP, flags, condition codes.
    pub(crate) fn set_status_word(&mut self, v: u16) {
        self.sw = v & !(sw::ES | sw::B | sw::TOP);
        self.top = ((v >> 11) & 7) as u8;
    }

    /// The full tag word: two bits per physical register (00 valid, 01 zero, 10 special,
    /// 11 empty), computed from the registers' contents.
    pub fn tag_word(&self) -> u16 {
        (0..8).fold(0, |t, r| {
            let tag = if self.empty & (1 << r) != 0 { 3 } else { self.regs[r].tag() };
            t | (tag << (2 * r))
        })
    }

    /// Load a tag word: only "empty" is kept; the other tags follow the contents.
    pub(crate) fn set_tag_word(&mut self, t: u16) {
        self.empty = (0..8).fold(0, |e, r| if (t >> (2 * r)) & 3 == 3 { e | (1 << r) } else { e });
    }

    /// The abridged tag (FXSAVE): bit i set when R(i) is not empty.
    pub fn abridged_tag(&self) -> u8 {
        !self.empty
    }

    /// ST(i) as 10 little-endian bytes, None when empty.
    pub fn st(&self, i: usize) -> Option<[u8; 10]> {
        let p = self.phys(i);
        if self.empty & (1 << p) != 0 {
            return None;
        }
        let b = self.regs[p].to_bits().to_le_bytes();
        let mut out = [0; 10];
        out.copy_from_slice(&b[..10]);
        Some(out)
    }

    /// Last instruction pointer (CS selector, offset), data pointer (segment selector, offset)
    /// and opcode.
    pub fn pointers(&self) -> (u16, u64, u16, u64, u16) {
        (self.fcs, self.fip, self.fds, self.fdp, self.fop)
    }

    #[inline]
    pub(crate) fn phys(&self, i: usize) -> usize {
        (self.top as usize + i) & 7
    }
    #[inline]
    pub(crate) fn is_empty(&self, i: usize) -> bool {
        self.empty & (1 << self.phys(i)) != 0
    }
    #[inline]
    pub(crate) fn get(&self, i: usize) -> F80 {
        self.regs[self.phys(i)]
    }
    #[inline]
    pub(crate) fn set(&mut self, i: usize, v: F80) {
        let p = self.phys(i);
        self.regs[p] = v;
        self.empty &= !(1 << p);
    }
    pub(crate) fn push(&mut self, v: F80) {
        self.top = self.top.wrapping_sub(1) & 7;
        self.set(0, v);
    }
    pub(crate) fn pop(&mut self) {
        self.empty |= 1 << self.top;
        self.top = (self.top + 1) & 7;
    }
    pub(crate) fn ctx(&self) -> round::Ctx {
        round::Ctx { cw: self.cw }
    }
    pub(crate) fn set_cc(&mut self, bits: u16) {
        self.sw = (self.sw & !sw::CC) | (bits & sw::CC);
    }
    pub(crate) fn set_c1(&mut self, on: bool) {
        if on {
            self.sw |= sw::C1;
        } else {
            self.sw &= !sw::C1;
        }
    }
    /// Record an operation's exceptions and its round-up bit (C1).
    pub(crate) fn raise(&mut self, flags: u16, up: bool) {
        self.sw |= flags & (ex::ALL | ex::SF);
        self.set_c1(up);
    }
    /// Stack overflow (a push onto a full register): #IS with C1 = 1; returns whether masked.
    pub(crate) fn overflow(&mut self) -> bool {
        self.sw |= ex::IE | ex::SF;
        self.set_c1(true);
        self.cw & ex::IE != 0
    }
    /// Stack underflow (an empty register read): #IS with C1 = 0; returns whether masked.
    pub(crate) fn underflow(&mut self) -> bool {
        self.sw |= ex::IE | ex::SF;
        self.set_c1(false);
        self.cw & ex::IE != 0
    }
}

// ------------------------------------------------------------------ entry checks

/// #NM for an escape instruction (CR0.EM or CR0.TS), then, for a waiting one, pending
/// exceptions.
#[inline]
pub(crate) fn begin(cpu: &mut Cpu, bus: &mut dyn Bus, wait: bool) -> Result<()> {
    if cpu.s.cr0 & (cr0::EM | cr0::TS) != 0 {
        return Err(Fault::new(vector::NM));
    }
    if wait {
        pending(cpu, bus)?;
    }
    Ok(())
}

/// A waiting instruction meets a pending unmasked exception: #MF (CR0.NE = 1), or FERR#
/// (CR0.NE = 0; the instruction then executes, as on a PC whose IRQ 13 handler asserts IGNNE#).
#[inline]
pub(crate) fn pending(cpu: &mut Cpu, bus: &mut dyn Bus) -> Result<()> {
    if cpu.fpu.es() {
        if cpu.s.cr0 & cr0::NE != 0 {
            return Err(Fault::new(vector::MF));
        }
        cpu.fpu.ferr = true;
        bus.fpu_error(true);
        cpu.irq_poll = true;
    }
    Ok(())
}

/// After an instruction that may clear the exception flags: release FERR#.
pub(crate) fn sync_ferr(cpu: &mut Cpu, bus: &mut dyn Bus) {
    if cpu.fpu.ferr && !cpu.fpu.es() {
        cpu.fpu.ferr = false;
        bus.fpu_error(false);
    }
}

/// WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set, then pending exceptions.
pub(crate) fn wait(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    if cpu.s.cr0 & (cr0::MP | cr0::TS) == cr0::MP | cr0::TS {
        return Err(Fault::new(vector::NM));
    }
    pending(cpu, bus)
}

/// Record the last non-control instruction: CS:EIP, opcode, and the memory operand if any.
pub(crate) fn note(cpu: &mut Cpu, bus: &mut dyn Bus, mem: Option<(usize, u64)>) {
    cpu.fpu.fip = cpu.cur_ip;
    cpu.fpu.fcs = cpu.s.seg[CS].selector;
    cpu.fpu.fop = opcode(cpu, bus);
    if let Some((s, o)) = mem {
        cpu.fpu.fdp = o;
        cpu.fpu.fds = cpu.s.seg[s].selector;
    }
}

/// The 11-bit opcode of the instruction at CS:EIP (SDM Vol. 1, 8.1.10): read back from the
/// code just fetched (prefixes skipped).
fn opcode(cpu: &mut Cpu, bus: &mut dyn Bus) -> u16 {
    let base = cpu.s.seg[CS].base.wrapping_add(cpu.cur_ip);
    let mut esc = 0u64;
    for k in 0..15u64 {
        let lin = base.wrapping_add(k) & cpu.lin_mask;
        let Ok(b) = cpu.read_lin(bus, lin, 1, true) else { return 0 };
        match b {
            0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0x66 | 0x67 | 0xF0 | 0xF2 | 0xF3 | 0x9B => continue,
            0x40..=0x4F if cpu.bits == 64 => continue,
            _ => {
                esc = b;
                let lin = base.wrapping_add(k + 1) & cpu.lin_mask;
                let modrm = cpu.read_lin(bus, lin, 1, true).unwrap_or(0);
                return (((esc & 7) << 8) | modrm) as u16;
            }
        }
    }
    esc as u16
}

// ------------------------------------------------------------------ dispatch

/// Whether a mnemonic is an x87 instruction (or WAIT, or FXSAVE/FXRSTOR).
pub(crate) fn is_x87(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::F2xm1
            | M::Fabs
            | M::Fadd
            | M::Faddp
            | M::Fbld
            | M::Fbstp
            | M::Fchs
            | M::Fclex
            | M::Fcmovb
            | M::Fcmovbe
            | M::Fcmove
            | M::Fcmovnb
            | M::Fcmovnbe
            | M::Fcmovne
            | M::Fcmovnu
            | M::Fcmovu
            | M::Fcom
            | M::Fcomi
            | M::Fcomip
            | M::Fcomp
            | M::Fcompp
            | M::Fcos
            | M::Fdecstp
            | M::Fdisi
            | M::Fdiv
            | M::Fdivp
            | M::Fdivr
            | M::Fdivrp
            | M::Feni
            | M::Ffree
            | M::Ffreep
            | M::Fiadd
            | M::Ficom
            | M::Ficomp
            | M::Fidiv
            | M::Fidivr
            | M::Fild
            | M::Fimul
            | M::Fincstp
            | M::Finit
            | M::Fist
            | M::Fistp
            | M::Fisttp
            | M::Fisub
            | M::Fisubr
            | M::Fld
            | M::Fld1
            | M::Fldcw
            | M::Fldenv
            | M::Fldl2e
            | M::Fldl2t
            | M::Fldlg2
            | M::Fldln2
            | M::Fldpi
            | M::Fldz
            | M::Fmul
            | M::Fmulp
            | M::Fnclex
            | M::Fndisi
            | M::Fneni
            | M::Fninit
            | M::Fnop
            | M::Fnsave
            | M::Fnsetpm
            | M::Fnstcw
            | M::Fnstenv
            | M::Fnstsw
            | M::Fpatan
            | M::Fprem
            | M::Fprem1
            | M::Fptan
            | M::Frndint
            | M::Frstor
            | M::Fsave
            | M::Fscale
            | M::Fsetpm
            | M::Fsin
            | M::Fsincos
            | M::Fsqrt
            | M::Fst
            | M::Fstcw
            | M::Fstenv
            | M::Fstp
            | M::Fstpnce
            | M::Fstsw
            | M::Fsub
            | M::Fsubp
            | M::Fsubr
            | M::Fsubrp
            | M::Ftst
            | M::Fucom
            | M::Fucomi
            | M::Fucomip
            | M::Fucomp
            | M::Fucompp
            | M::Fxam
            | M::Fxch
            | M::Fxrstor
            | M::Fxrstor64
            | M::Fxsave
            | M::Fxsave64
            | M::Fxtract
            | M::Fyl2x
            | M::Fyl2xp1
            | M::Wait
            // Decoded only with other CPUs' options: #UD on this one.
            | M::Frstpm
            | M::Fnstdw
            | M::Fnstsg
            | M::Fstdw
            | M::Fstsg
            | M::Ftstp
            | M::Frichop
            | M::Frinear
            | M::Frint2
    )
}

/// The handler for an x87 instruction, if `i` is one.
pub(crate) fn select(i: &Instruction) -> Option<Handler> {
    if !is_x87(i.mnemonic()) {
        return None;
    }
    Some(exec::handler(i.code()).unwrap_or(crate::exec::invalid as Handler))
}

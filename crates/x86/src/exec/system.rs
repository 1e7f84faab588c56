//! System instructions and protected-mode mechanics: port I/O and its permission checks,
//! segment loads, descriptor tables, control registers, MSRs, CPUID, HLT, CLI/STI.

use super::mask;
use crate::bus::Bus;
use crate::cpu::{Cpu, Mode};
use crate::fault::{Fault, Result, vector};
use crate::icache::Decoded;
use crate::msr;
use crate::state::flags;
use crate::state::{RAX, RCX, RDX, SS, Segment, attr, cr0, cr4};
use iced_x86::{Mnemonic, OpKind, Register};

// -------------------------------------------------------------------- privilege helpers

impl Cpu {
    fn require_cpl0(&self) -> Result<()> {
        if self.cpl != 0 { Err(Fault::gp0()) } else { Ok(()) }
    }

    fn iopl(&self) -> u8 {
        ((self.s.rflags & flags::IOPL) >> 12) as u8
    }

    /// I/O permission (SDM Vol. 1, 19.5): CPL <= IOPL, else the TSS I/O bitmap decides.
    pub(crate) fn check_io(&mut self, bus: &mut dyn Bus, port: u16, size: u64) -> Result<()> {
        if self.mode == Mode::Real || (self.mode != Mode::Virtual8086 && self.cpl <= self.iopl()) {
            return Ok(());
        }
        let tr = self.s.tr;
        let ty = tr.attr & attr::TYPE;
        // Only a 32-bit TSS (type 9/11) has an I/O bitmap.
        if tr.attr & attr::P == 0 || (ty != 9 && ty != 11) || tr.limit < 103 {
            return Err(Fault::gp0());
        }
        let base_off = self.read_lin(bus, (tr.base + 102) & self.lin_mask, 2, true)?;
        let byte = base_off + port as u64 / 8;
        if byte + 1 > tr.limit as u64 {
            return Err(Fault::gp0());
        }
        let bits = self.read_lin(bus, (tr.base + byte) & self.lin_mask, 2, true)?;
        let m = ((1u64 << size) - 1) << (port % 8);
        if bits & m != 0 {
            return Err(Fault::gp0());
        }
        Ok(())
    }

    pub(crate) fn add_icount(&mut self, n: u64) {
        self.bump_icount(n);
    }
}

// -------------------------------------------------------------------- descriptors

/// Decode an 8-byte segment descriptor into a segment cache.
pub(crate) fn descriptor_to_segment(sel: u16, raw: u64) -> Segment {
    let lo = raw as u32;
    let hi = (raw >> 32) as u32;
    let base = ((lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF00_0000)) as u64;
    let mut limit = (lo & 0xFFFF) | (hi & 0x000F_0000);
    let a = (((hi >> 8) & 0xFF) | ((hi >> 12) & 0xF00)) as u16;
    if a & attr::G != 0 {
        limit = (limit << 12) | 0xFFF;
    }
    Segment { selector: sel, base, limit, attr: a }
}

impl Cpu {
    /// Read the descriptor `sel` refers to, checking the table limit.
    /// Returns (descriptor, linear address of it).
    pub(crate) fn read_descriptor(&mut self, bus: &mut dyn Bus, sel: u16) -> Result<(u64, u64)> {
        let (base, limit) = if sel & 4 != 0 {
            if self.s.ldtr.attr & attr::P == 0 {
                return Err(Fault::with_error(vector::GP, (sel & 0xFFFC) as u32));
            }
            (self.s.ldtr.base, self.s.ldtr.limit as u64)
        } else {
            (self.s.gdtr.base, self.s.gdtr.limit as u64)
        };
        let idx = (sel & !7) as u64;
        if idx + 7 > limit {
            return Err(Fault::with_error(vector::GP, (sel & 0xFFFC) as u32));
        }
        let lin = (base + idx) & self.lin_mask;
        Ok((self.read_lin(bus, lin, 8, true)?, lin))
    }

    /// Set the accessed bit of a descriptor in memory.
    fn mark_accessed(&mut self, bus: &mut dyn Bus, lin: u64, raw: u64) -> Result<()> {
        if raw & (1 << 40) == 0 {
            let b = ((raw >> 40) as u8) | 1;
            let save = self.cpl;
            self.cpl = 0;
            let r = self.write_lin(bus, lin + 5, 1, b as u64);
            self.cpl = save;
            r?;
        }
        Ok(())
    }
}

/// Load a data or stack segment register (MOV, POP, LDS..LSS) with the checks of the
/// current mode (SDM Vol. 2B, MOV: protected-mode exceptions).
pub(crate) fn load_seg(cpu: &mut Cpu, bus: &mut dyn Bus, seg: usize, sel: u16) -> Result<()> {
    match cpu.mode {
        Mode::Real | Mode::Virtual8086 => {
            let v86 = cpu.mode == Mode::Virtual8086;
            let s = &mut cpu.s.seg[seg];
            s.selector = sel;
            s.base = (sel as u64) << 4;
            if v86 {
                s.limit = 0xFFFF;
                s.attr = attr::REAL_DATA | (3 << attr::DPL_SHIFT);
            } else {
                // Real mode keeps the cached limit and size (unreal mode) but the segment is
                // present and usable.
                s.attr |= attr::P | attr::S;
            }
            cpu.refresh_segcheck(seg);
            Ok(())
        }
        _ => load_seg_protected(cpu, bus, seg, sel),
    }
}

fn load_seg_protected(cpu: &mut Cpu, bus: &mut dyn Bus, seg: usize, sel: u16) -> Result<()> {
    let err = |v| Fault::with_error(v, (sel & 0xFFFC) as u32);
    let rpl = (sel & 3) as u8;
    if sel & 0xFFFC == 0 {
        if seg == SS && !(cpu.mode == Mode::Long64 && cpu.cpl != 3 && rpl == cpu.cpl) {
            return Err(Fault::gp0());
        }
        // A null selector: loading is fine, using it faults.
        cpu.s.seg[seg] = Segment { selector: sel, base: 0, limit: 0, attr: 0 };
        cpu.refresh_segcheck(seg);
        return Ok(());
    }
    let (raw, lin) = cpu.read_descriptor(bus, sel)?;
    let s = descriptor_to_segment(sel, raw);
    let a = s.attr;
    let dpl = s.dpl();
    if a & attr::S == 0 {
        return Err(err(vector::GP));
    }
    if seg == SS {
        if rpl != cpu.cpl || dpl != cpu.cpl || a & attr::CODE != 0 || a & attr::RW == 0 {
            return Err(err(vector::GP));
        }
        if a & attr::P == 0 {
            return Err(err(vector::SS));
        }
    } else {
        let code = a & attr::CODE != 0;
        if code && a & attr::RW == 0 {
            return Err(err(vector::GP));
        }
        let conforming_code = code && a & attr::DC != 0;
        if !conforming_code && (rpl > dpl || cpu.cpl > dpl) {
            return Err(err(vector::GP));
        }
        if a & attr::P == 0 {
            return Err(err(vector::NP));
        }
    }
    cpu.mark_accessed(bus, lin, raw)?;
    cpu.s.seg[seg] = Segment { attr: a | attr::ACCESSED, ..s };
    cpu.refresh_segcheck(seg);
    Ok(())
}

// -------------------------------------------------------------------- instructions

pub(crate) fn pm_only(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    if matches!(cpu.mode, Mode::Real | Mode::Virtual8086) {
        return Err(Fault::ud());
    }
    match d.instr.mnemonic() {
        Mnemonic::Lar | Mnemonic::Lsl => super::pm::lar_lsl(cpu, bus, d),
        Mnemonic::Verr | Mnemonic::Verw => super::pm::verr_verw(cpu, bus, d),
        Mnemonic::Arpl => super::pm::arpl(cpu, bus, d),
        Mnemonic::Sldt | Mnemonic::Str => {
            let sel = if d.instr.mnemonic() == Mnemonic::Sldt { cpu.s.ldtr.selector } else { cpu.s.tr.selector };
            let size = if d.instr.op0_kind() == OpKind::Register { d.osz as u64 } else { 2 };
            let loc = cpu.loc(d, 0);
            cpu.write_loc(bus, loc, size, sel as u64)
        }
        Mnemonic::Lldt => {
            cpu.require_cpl0()?;
            let sel = cpu.read_op(bus, d, 0, 2)? as u16;
            if sel & 0xFFFC == 0 {
                cpu.s.ldtr = Segment { selector: sel, base: 0, limit: 0, attr: 0 };
                return Ok(());
            }
            if sel & 4 != 0 {
                return Err(Fault::with_error(vector::GP, (sel & 0xFFFC) as u32));
            }
            let (raw, _) = cpu.read_descriptor(bus, sel)?;
            let s = descriptor_to_segment(sel, raw);
            if s.attr & attr::S != 0 || s.attr & attr::TYPE != 2 {
                return Err(Fault::with_error(vector::GP, (sel & 0xFFFC) as u32));
            }
            if !s.present() {
                return Err(Fault::with_error(vector::NP, (sel & 0xFFFC) as u32));
            }
            cpu.s.ldtr = s;
            Ok(())
        }
        Mnemonic::Ltr => {
            cpu.require_cpl0()?;
            let sel = cpu.read_op(bus, d, 0, 2)? as u16;
            if sel & 0xFFFC == 0 || sel & 4 != 0 {
                return Err(Fault::with_error(vector::GP, (sel & 0xFFFC) as u32));
            }
            let (raw, lin) = cpu.read_descriptor(bus, sel)?;
            let s = descriptor_to_segment(sel, raw);
            let ty = s.attr & attr::TYPE;
            if s.attr & attr::S != 0 || (ty != 1 && ty != 9) {
                return Err(Fault::with_error(vector::GP, (sel & 0xFFFC) as u32));
            }
            if !s.present() {
                return Err(Fault::with_error(vector::NP, (sel & 0xFFFC) as u32));
            }
            // Mark the TSS busy.
            let save = cpu.cpl;
            cpu.cpl = 0;
            let r = cpu.write_lin(bus, lin + 5, 1, ((raw >> 40) as u8 | 2) as u64);
            cpu.cpl = save;
            r?;
            cpu.s.tr = Segment { attr: s.attr | 2, ..s };
            Ok(())
        }
        _ => Err(Fault::ud()),
    }
}

pub(crate) fn hlt(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    cpu.require_cpl0()?;
    cpu.halted = true;
    Ok(())
}

pub(crate) fn cli(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    if cpu.mode != Mode::Real && cpu.cpl > cpu.iopl() {
        return Err(Fault::gp0());
    }
    cpu.s.rflags &= !flags::IF;
    Ok(())
}

pub(crate) fn sti(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    if cpu.mode != Mode::Real && cpu.cpl > cpu.iopl() {
        return Err(Fault::gp0());
    }
    if cpu.s.rflags & flags::IF == 0 {
        cpu.s.rflags |= flags::IF;
        // Interrupts stay off until after the next instruction (the STI shadow).
        cpu.inhibit = true;
        cpu.irq_poll = true;
    }
    Ok(())
}

fn io_port(cpu: &Cpu, d: &Decoded, n: u32) -> u16 {
    match d.instr.op_kind(n) {
        OpKind::Register => cpu.s.gpr[RDX] as u16,
        _ => d.instr.immediate(n) as u16,
    }
}

pub(crate) fn in_(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let port = io_port(cpu, d, 1);
    cpu.check_io(bus, port, size)?;
    cpu.sync_time();
    let v = bus.io_read(port, size as u8) as u64;
    cpu.set_gpr(d.instr.op0_register(), v & mask(size));
    cpu.after_io(bus);
    Ok(())
}

pub(crate) fn out(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let r = d.instr.op1_register();
    let size = super::reg_size(r).unwrap_or(1) as u64;
    let port = io_port(cpu, d, 0);
    cpu.check_io(bus, port, size)?;
    let v = cpu.gpr(r);
    cpu.sync_time();
    bus.io_write(port, size as u8, v as u32);
    cpu.after_io(bus);
    Ok(())
}

pub(crate) fn cpuid(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    let (a, b, c, d) = crate::model::cpuid(cpu.s.gpr[RAX] as u32, cpu.s.gpr[RCX] as u32);
    cpu.s.gpr[RAX] = a as u64;
    cpu.s.gpr[crate::state::RBX] = b as u64;
    cpu.s.gpr[RCX] = c as u64;
    cpu.s.gpr[RDX] = d as u64;
    Ok(())
}

impl Cpu {
    /// The time-stamp counter: guest nanoseconds (a 1 GHz TSC) where the platform keeps guest
    /// time, else retired instructions.
    pub(crate) fn tsc(&mut self, bus: &mut dyn Bus) -> u64 {
        self.sync_time();
        let t = bus.guest_time_ns().unwrap_or_else(|| self.icount());
        t.wrapping_add(self.tsc_offset)
    }
}

pub(crate) fn rdtsc(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    if cpu.s.cr4 & cr4::TSD != 0 && cpu.cpl != 0 {
        return Err(Fault::gp0());
    }
    let t = cpu.tsc(bus);
    cpu.s.gpr[RAX] = t & 0xFFFF_FFFF;
    cpu.s.gpr[RDX] = t >> 32;
    Ok(())
}

pub(crate) fn rdmsr(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    cpu.require_cpl0()?;
    let v = match cpu.s.gpr[RCX] as u32 {
        msr::TSC => cpu.tsc(bus),
        msr::EFER => cpu.s.efer,
        msr::PAT => cpu.msr.pat,
        _ => return Err(Fault::gp0()),
    };
    cpu.s.gpr[RAX] = v & 0xFFFF_FFFF;
    cpu.s.gpr[RDX] = v >> 32;
    Ok(())
}

pub(crate) fn wrmsr(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    cpu.require_cpl0()?;
    let v = (cpu.s.gpr[RDX] & 0xFFFF_FFFF) << 32 | (cpu.s.gpr[RAX] & 0xFFFF_FFFF);
    match cpu.s.gpr[RCX] as u32 {
        msr::TSC => {
            let now = cpu.tsc(bus).wrapping_sub(cpu.tsc_offset);
            cpu.tsc_offset = v.wrapping_sub(now);
        }
        msr::EFER => {
            // NXE is the only bit this 32-bit CPU implements; the rest are reserved (#GP).
            if v & !msr::EFER_NXE != 0 {
                return Err(Fault::gp0());
            }
            cpu.s.efer = (cpu.s.efer & msr::EFER_LMA) | v;
            cpu.update_mmu(bus);
        }
        msr::PAT => {
            // Each entry must be a valid memory type (0, 1, 4, 5, 6, 7).
            if (0..8).any(|i| matches!((v >> (8 * i)) & 0xFF, 2 | 3 | 8..=0xFF)) {
                return Err(Fault::gp0());
            }
            cpu.msr.pat = v;
        }
        _ => return Err(Fault::gp0()),
    }
    Ok(())
}

pub(crate) fn lgdt_lidt(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    cpu.require_cpl0()?;
    if d.instr.op0_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let (s, o) = cpu.ea(d);
    let limit = cpu.read(bus, s, o, 2)?;
    let base_size = if cpu.mode == Mode::Long64 { 8 } else { 4 };
    let mut base = cpu.read(bus, s, o.wrapping_add(2) & d.amask(), base_size)?;
    if d.opsz == 2 {
        base &= 0x00FF_FFFF;
    }
    let t = crate::state::DescTable { base, limit: limit as u32 };
    if d.instr.mnemonic() == Mnemonic::Lgdt {
        cpu.s.gdtr = t;
    } else {
        cpu.s.idtr = t;
    }
    Ok(())
}

pub(crate) fn sgdt_sidt(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    if d.instr.op0_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let t = if d.instr.mnemonic() == Mnemonic::Sgdt { cpu.s.gdtr } else { cpu.s.idtr };
    let (s, o) = cpu.ea(d);
    let base_size = if cpu.mode == Mode::Long64 { 8 } else { 4 };
    cpu.probe_write(bus, s, o, 2 + base_size)?;
    cpu.write(bus, s, o, 2, t.limit as u64)?;
    cpu.write(bus, s, o.wrapping_add(2) & d.amask(), base_size, t.base)
}

pub(crate) fn smsw(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = if d.instr.op0_kind() == OpKind::Register { d.osz as u64 } else { 2 };
    let loc = cpu.loc(d, 0);
    let v = cpu.s.cr0 & mask(size);
    cpu.write_loc(bus, loc, size, v)
}

pub(crate) fn lmsw(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    cpu.require_cpl0()?;
    let v = cpu.read_op(bus, d, 0, 2)?;
    // LMSW changes PE, MP, EM, TS only, and cannot clear PE.
    let low = (cpu.s.cr0 & !0xE) | (v & 0xF);
    write_cr0(cpu, bus, low)
}

pub(crate) fn clts(cpu: &mut Cpu, _: &mut dyn Bus, _: &Decoded) -> Result<()> {
    cpu.require_cpl0()?;
    cpu.s.cr0 &= !cr0::TS;
    Ok(())
}

pub(crate) fn invlpg(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    cpu.require_cpl0()?;
    if d.instr.op0_kind() != OpKind::Memory {
        return Err(Fault::ud());
    }
    let (s, o) = cpu.ea(d);
    let lin = cpu.s.seg[s].base.wrapping_add(o) & cpu.lin_mask;
    cpu.mmu.invlpg(lin);
    Ok(())
}

/// CR0 bits a guest can change on the CPU ondol presents.
const CR0_WRITABLE: u64 =
    cr0::PE | cr0::MP | cr0::EM | cr0::TS | cr0::NE | cr0::WP | cr0::AM | cr0::NW | cr0::CD | cr0::PG;
/// CR4 bits the CPU implements (and CPUID advertises); setting any other is #GP, as on a CPU
/// without the feature. Not here: VME and PVI (virtual-8086 mode extensions), DE (I/O
/// breakpoints), PCE (RDPMC).
const CR4_WRITABLE: u64 = cr4::TSD | cr4::PSE | cr4::PAE | cr4::PGE;

fn write_cr0(cpu: &mut Cpu, bus: &mut dyn Bus, v: u64) -> Result<()> {
    if v >> 32 != 0 || (v & cr0::PG != 0 && v & cr0::PE == 0) || (v & cr0::NW != 0 && v & cr0::CD == 0) {
        return Err(Fault::gp0());
    }
    let mut new = (v & CR0_WRITABLE) | cr0::ET;
    let old = cpu.s.cr0;
    // Entering or leaving long mode with paging (SDM Vol. 3, 10.8.5).
    if new & cr0::PG != 0 && old & cr0::PG == 0 && cpu.s.efer & msr::EFER_LME != 0 {
        if cpu.s.cr4 & cr4::PAE == 0 {
            return Err(Fault::gp0());
        }
        cpu.s.efer |= msr::EFER_LMA;
    } else if new & cr0::PG == 0 && old & cr0::PG != 0 {
        if cpu.mode == Mode::Long64 {
            return Err(Fault::gp0());
        }
        cpu.s.efer &= !msr::EFER_LMA;
    }
    new |= old & !CR0_WRITABLE & !cr0::ET;
    cpu.s.cr0 = new;
    if (old ^ new) & (cr0::PG | cr0::WP | cr0::PE) != 0 {
        cpu.update_mmu(bus);
    }
    cpu.refresh_mode();
    Ok(())
}

pub(crate) fn mov_cr(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    cpu.require_cpl0()?;
    if cpu.mode == Mode::Virtual8086 {
        return Err(Fault::gp0());
    }
    let i = &d.instr;
    let to_cr = i.op0_register().is_cr();
    let (cr, gpr) = if to_cr { (i.op0_register(), i.op1_register()) } else { (i.op1_register(), i.op0_register()) };
    let n = cr as u32 - Register::CR0 as u32;
    if to_cr {
        let v = cpu.gpr(gpr);
        match n {
            0 => write_cr0(cpu, bus, v)?,
            2 => cpu.s.cr2 = v,
            3 => {
                cpu.s.cr3 = v;
                cpu.update_mmu(bus);
            }
            4 => {
                if v & !CR4_WRITABLE != 0 || (cpu.s.efer & msr::EFER_LMA != 0 && v & cr4::PAE == 0) {
                    return Err(Fault::gp0());
                }
                cpu.s.cr4 = v;
                cpu.update_mmu(bus);
            }
            8 if cpu.mode == Mode::Long64 => {}
            _ => return Err(Fault::ud()),
        }
    } else {
        let v = match n {
            0 => cpu.s.cr0,
            2 => cpu.s.cr2,
            3 => cpu.s.cr3,
            4 => cpu.s.cr4,
            8 if cpu.mode == Mode::Long64 => 0,
            _ => return Err(Fault::ud()),
        };
        cpu.set_gpr(gpr, v);
    }
    Ok(())
}

pub(crate) fn mov_dr(cpu: &mut Cpu, _: &mut dyn Bus, d: &Decoded) -> Result<()> {
    cpu.require_cpl0()?;
    if cpu.mode == Mode::Virtual8086 {
        return Err(Fault::gp0());
    }
    // General detect: with DR7.GD set, any MOV DR is a #DB fault with DR6.BD set, and GD
    // clears on the way to the handler (SDM Vol. 3, 17.2.4).
    if cpu.s.dr[7] & (1 << 13) != 0 {
        cpu.s.dr[6] |= 1 << 13;
        cpu.s.dr[7] &= !(1 << 13);
        return Err(Fault::new(vector::DB));
    }
    let i = &d.instr;
    let to_dr = i.op0_register().is_dr();
    let (dr, gpr) = if to_dr { (i.op0_register(), i.op1_register()) } else { (i.op1_register(), i.op0_register()) };
    let mut n = (dr as u32 - Register::DR0 as u32) as usize;
    if n == 4 || n == 5 {
        if cpu.s.cr4 & cr4::DE != 0 {
            return Err(Fault::ud());
        }
        n += 2;
    }
    if n > 7 {
        return Err(Fault::ud());
    }
    if to_dr {
        let v = cpu.gpr(gpr);
        cpu.s.dr[n] = match n {
            6 => (v & 0xE00F) | 0xFFFF_0FF0,
            7 => (v & 0xFFFF_2BFF) | 0x400,
            _ => v,
        };
        cpu.refresh_debug();
    } else {
        let v = cpu.s.dr[n];
        cpu.set_gpr(gpr, v);
    }
    Ok(())
}

//! String instructions with REP/REPE/REPNE: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS.
//!
//! A repeated instruction runs at most [`CHUNK`] iterations per step and then restarts itself
//! (RIP stays on it), so interrupts are taken between iterations as on hardware and a fault
//! in the middle leaves the registers describing the iterations already done.

use super::{mask, seg_index};
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::fault::Result;
use crate::icache::Decoded;
use crate::state::flags::{DF, ZF};
use crate::state::{ES, RAX, RCX, RDI, RDX, RSI};

/// Iterations of a repeated string instruction between interrupt checks.
const CHUNK: u64 = 4096;

/// No repeat prefix / REP or REPE / REPNE.
const REP: u8 = 1;
const REPNE: u8 = 2;

fn rep_kind(d: &Decoded) -> u8 {
    if d.instr.has_repne_prefix() {
        REPNE
    } else if d.instr.has_rep_prefix() || d.instr.has_repe_prefix() {
        REP
    } else {
        0
    }
}

impl Cpu {
    #[inline(always)]
    fn index_step(&mut self, reg: usize, d: &Decoded, size: u64) {
        let m = d.amask();
        let delta = if self.s.rflags & DF != 0 { size.wrapping_neg() } else { size };
        let g = &mut self.s.gpr[reg];
        let v = g.wrapping_add(delta) & m;
        *g = if m == 0xFFFF { (*g & !0xFFFF) | v } else { v };
    }
}

/// Run `body` once, or repeatedly under a REP prefix. `cmp` selects REPE/REPNE termination.
#[inline(always)]
fn repeat(
    cpu: &mut Cpu,
    bus: &mut dyn Bus,
    d: &Decoded,
    cmp: bool,
    mut body: impl FnMut(&mut Cpu, &mut dyn Bus) -> Result<()>,
) -> Result<()> {
    let rep = rep_kind(d);
    if rep == 0 {
        return body(cpu, bus);
    }
    let m = d.amask();
    let mut n = 0;
    loop {
        let c = cpu.s.gpr[RCX] & m;
        if c == 0 {
            break;
        }
        if n == CHUNK {
            // Not finished: come back to this instruction after an interrupt check.
            cpu.s.rip = cpu.cur_ip;
            break;
        }
        body(cpu, bus)?;
        n += 1;
        let g = &mut cpu.s.gpr[RCX];
        let c = c - 1;
        *g = if m == 0xFFFF { (*g & !0xFFFF) | c } else { c };
        if cmp {
            let zf = cpu.s.rflags & ZF != 0;
            if (rep == REP && !zf) || (rep == REPNE && zf) {
                break;
            }
        }
        // Stop after this iteration for the platform, or for a data breakpoint's #DB trap.
        if cpu.stop || cpu.db_pending != 0 {
            if cpu.s.gpr[RCX] & m != 0 {
                cpu.s.rip = cpu.cur_ip;
            }
            break;
        }
    }
    cpu.add_icount(n.saturating_sub(1));
    Ok(())
}

fn src_seg(d: &Decoded) -> usize {
    seg_index(d.instr.memory_segment())
}

pub(crate) fn movs(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let seg = src_seg(d);
    let m = d.amask();
    repeat(cpu, bus, d, false, |cpu, bus| {
        let v = cpu.read(bus, seg, cpu.s.gpr[RSI] & m, size)?;
        cpu.write(bus, ES, cpu.s.gpr[RDI] & m, size, v)?;
        cpu.index_step(RSI, d, size);
        cpu.index_step(RDI, d, size);
        Ok(())
    })
}

pub(crate) fn cmps(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let seg = src_seg(d);
    let m = d.amask();
    repeat(cpu, bus, d, true, |cpu, bus| {
        let a = cpu.read(bus, seg, cpu.s.gpr[RSI] & m, size)?;
        let b = cpu.read(bus, ES, cpu.s.gpr[RDI] & m, size)?;
        super::alu::alu(cpu, super::alu::CMP, size, a, b);
        cpu.index_step(RSI, d, size);
        cpu.index_step(RDI, d, size);
        Ok(())
    })
}

pub(crate) fn stos(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let m = d.amask();
    let v = cpu.s.gpr[RAX] & mask(size);
    repeat(cpu, bus, d, false, |cpu, bus| {
        cpu.write(bus, ES, cpu.s.gpr[RDI] & m, size, v)?;
        cpu.index_step(RDI, d, size);
        Ok(())
    })
}

pub(crate) fn lods(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let seg = src_seg(d);
    let m = d.amask();
    repeat(cpu, bus, d, false, |cpu, bus| {
        let v = cpu.read(bus, seg, cpu.s.gpr[RSI] & m, size)?;
        let r = match size {
            1 => iced_x86::Register::AL,
            2 => iced_x86::Register::AX,
            4 => iced_x86::Register::EAX,
            _ => iced_x86::Register::RAX,
        };
        cpu.set_gpr(r, v);
        cpu.index_step(RSI, d, size);
        Ok(())
    })
}

pub(crate) fn scas(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let m = d.amask();
    repeat(cpu, bus, d, true, |cpu, bus| {
        let b = cpu.read(bus, ES, cpu.s.gpr[RDI] & m, size)?;
        let a = cpu.s.gpr[RAX] & mask(size);
        super::alu::alu(cpu, super::alu::CMP, size, a, b);
        cpu.index_step(RDI, d, size);
        Ok(())
    })
}

pub(crate) fn ins(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    let size = d.osz as u64;
    let m = d.amask();
    let port = cpu.s.gpr[RDX] as u16;
    cpu.check_io(bus, port, size)?;
    repeat(cpu, bus, d, false, |cpu, bus| {
        let di = cpu.s.gpr[RDI] & m;
        cpu.probe_write(bus, ES, di, size)?;
        cpu.sync_time();
        let v = bus.io_read(port, size as u8) as u64;
        cpu.after_io(bus);
        cpu.write(bus, ES, di, size, v)?;
        cpu.index_step(RDI, d, size);
        Ok(())
    })
}

pub(crate) fn outs(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    // Operand 0 is DX; the element size is the memory operand's.
    let size = d.instr.memory_size().size() as u64;
    let seg = src_seg(d);
    let m = d.amask();
    let port = cpu.s.gpr[RDX] as u16;
    cpu.check_io(bus, port, size)?;
    repeat(cpu, bus, d, false, |cpu, bus| {
        let v = cpu.read(bus, seg, cpu.s.gpr[RSI] & m, size)?;
        cpu.sync_time();
        bus.io_write(port, size as u8, v as u32);
        cpu.after_io(bus);
        cpu.index_step(RSI, d, size);
        Ok(())
    })
}

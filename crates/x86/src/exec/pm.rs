//! Protected-mode control transfers (Intel SDM Vol. 3, chapters 5-7, and the JMP, CALL, RET,
//! IRET and INT pages of Vol. 2): far jumps and calls through code segments, call gates, task
//! gates and TSSs; returns to outer privilege levels; IRET to outer rings, to V86 mode and to a
//! previous task; interrupt and exception delivery through interrupt, trap and task gates with
//! stack switches; task switches; and LAR, LSL, VERR, VERW, ARPL.

use super::mask;
use super::system::descriptor_to_segment;
use crate::bus::Bus;
use crate::cpu::{Cpu, Event, Mode};
use crate::fault::{Fault, Result, vector};
use crate::state::flags;
use crate::state::{CS, DS, ES, FS, GS, RSP, SS, Segment, attr, cr0};

/// Descriptor fields.
fn dtype(raw: u64) -> u8 {
    ((raw >> 40) & 0xF) as u8
}
fn dsys(raw: u64) -> bool {
    raw & (1 << 44) == 0
}
fn ddpl(raw: u64) -> u8 {
    ((raw >> 45) & 3) as u8
}
fn dpresent(raw: u64) -> bool {
    raw & (1 << 47) != 0
}
fn gate_selector(raw: u64) -> u16 {
    (raw >> 16) as u16
}
fn gate_offset(raw: u64) -> u64 {
    (raw & 0xFFFF) | ((raw >> 32) & 0xFFFF_0000)
}

/// System descriptor types.
mod ty {
    pub const TSS16_AVAIL: u8 = 1;
    pub const LDT: u8 = 2;
    pub const TSS16_BUSY: u8 = 3;
    pub const CALL16: u8 = 4;
    pub const TASK: u8 = 5;
    pub const INT16: u8 = 6;
    pub const TRAP16: u8 = 7;
    pub const TSS32_AVAIL: u8 = 9;
    pub const TSS32_BUSY: u8 = 11;
    pub const CALL32: u8 = 12;
    pub const INT32: u8 = 14;
    pub const TRAP32: u8 = 15;
}

fn sel_err(v: u8, sel: u16) -> Fault {
    Fault::with_error(v, (sel & 0xFFFC) as u32)
}

/// Why a task switch happens (it decides the busy bits, NT and the back link).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Switch {
    Jmp,
    Call,
    Iret,
}

impl Cpu {
    /// Read a descriptor for a selector that must not be null; #GP(sel) outside the table.
    fn desc(&mut self, bus: &mut dyn Bus, sel: u16) -> Result<(u64, u64)> {
        if sel & 0xFFFC == 0 {
            return Err(Fault::gp0());
        }
        self.read_descriptor(bus, sel)
    }

    /// Write a byte of a descriptor table (accessed/busy bits) with supervisor rights.
    fn write_system(&mut self, bus: &mut dyn Bus, lin: u64, size: u64, v: u64) -> Result<()> {
        let save = self.cpl;
        self.cpl = 0;
        let r = self.write_lin(bus, lin & self.lin_mask, size, v);
        self.cpl = save;
        r
    }

    fn read_system(&mut self, bus: &mut dyn Bus, lin: u64, size: u64) -> Result<u64> {
        self.read_lin(bus, lin & self.lin_mask, size, true)
    }

    fn set_accessed(&mut self, bus: &mut dyn Bus, lin: u64, raw: u64) -> Result<()> {
        if raw & (1 << 40) == 0 {
            self.write_system(bus, lin + 5, 1, ((raw >> 40) as u8 | 1) as u64)?;
        }
        Ok(())
    }

    /// Load CS with a checked code descriptor at privilege `cpl` and jump to `off`.
    fn enter_code(&mut self, bus: &mut dyn Bus, sel: u16, raw: u64, lin: u64, cpl: u8, off: u64) -> Result<()> {
        let s = descriptor_to_segment(sel, raw);
        if (self.s.efer & crate::msr::EFER_LMA == 0 || s.attr & attr::L == 0) && off > s.limit as u64 {
            return Err(Fault::gp0());
        }
        self.set_accessed(bus, lin, raw)?;
        self.s.seg[CS] = Segment { selector: (sel & !3) | cpl as u16, attr: s.attr | attr::ACCESSED, ..s };
        self.s.rip = off;
        self.refresh_mode();
        Ok(())
    }

    /// Stack pointer and segment for privilege `dpl` from the current TSS.
    fn tss_stack(&mut self, bus: &mut dyn Bus, dpl: u8) -> Result<(u16, u64)> {
        let tr = self.s.tr;
        let tss_err = || sel_err(vector::TS, tr.selector);
        let ty = tr.attr & attr::TYPE;
        let (ss, sp) = if ty == ty::TSS32_BUSY as u16 || ty == ty::TSS32_AVAIL as u16 {
            let off = 4 + dpl as u64 * 8;
            if off + 5 > tr.limit as u64 {
                return Err(tss_err());
            }
            (self.read_system(bus, tr.base + off + 4, 2)? as u16, self.read_system(bus, tr.base + off, 4)?)
        } else {
            let off = 2 + dpl as u64 * 4;
            if off + 3 > tr.limit as u64 {
                return Err(tss_err());
            }
            (self.read_system(bus, tr.base + off + 2, 2)? as u16, self.read_system(bus, tr.base + off, 2)?)
        };
        Ok((ss, sp))
    }

    /// Check and build the stack segment for privilege `dpl` (#TS as the SDM lists for a
    /// stack switch; `ext` is the EXT bit for the error code).
    fn check_stack_segment(&mut self, bus: &mut dyn Bus, ss: u16, dpl: u8, ext: u32) -> Result<(Segment, u64)> {
        if ss & 0xFFFC == 0 {
            return Err(Fault::with_error(vector::TS, ext));
        }
        let (raw, lin) =
            self.read_descriptor(bus, ss).map_err(|_| Fault::with_error(vector::TS, (ss & 0xFFFC) as u32 | ext))?;
        let s = descriptor_to_segment(ss, raw);
        let writable_data = !dsys(raw) && s.attr & attr::CODE == 0 && s.attr & attr::RW != 0;
        if (ss & 3) as u8 != dpl || ddpl(raw) != dpl || !writable_data {
            return Err(Fault::with_error(vector::TS, (ss & 0xFFFC) as u32 | ext));
        }
        if !dpresent(raw) {
            return Err(Fault::with_error(vector::SS, (ss & 0xFFFC) as u32 | ext));
        }
        Ok((Segment { attr: s.attr | attr::ACCESSED, ..s }, lin))
    }

    /// Push onto a stack that is not SS yet (an inner-level stack being switched to).
    fn push_on(&mut self, bus: &mut dyn Bus, seg: &Segment, sp: &mut u64, size: u64, v: u64) -> Result<()> {
        let m = if seg.big() { 0xFFFF_FFFF } else { 0xFFFF };
        let new = sp.wrapping_sub(size) & m;
        let expand_down = seg.attr & attr::DC != 0;
        let ok = if expand_down {
            new > seg.limit as u64 && new + size - 1 <= m
        } else {
            new + size - 1 <= seg.limit as u64
        };
        if !ok {
            return Err(sel_err(vector::SS, seg.selector));
        }
        let lin = seg.base.wrapping_add(new) & self.lin_mask;
        self.write_system(bus, lin, size, v & mask(size))?;
        *sp = (*sp & !m) | new;
        Ok(())
    }

    /// Segment registers that must be nulled when returning to a less privileged level:
    /// data and non-conforming code segments more privileged than the new CPL.
    fn null_inaccessible_segments(&mut self) {
        for seg in [ES, DS, FS, GS] {
            let s = self.s.seg[seg];
            let conforming_code = s.attr & attr::CODE != 0 && s.attr & attr::DC != 0;
            if s.attr & attr::S != 0 && !conforming_code && s.dpl() < self.cpl {
                self.s.seg[seg] = Segment { selector: 0, base: 0, limit: 0, attr: 0 };
                self.refresh_segcheck(seg);
            }
        }
    }
}

/// Far JMP/CALL in protected mode (SDM Vol. 2: JMP, CALL).
pub(crate) fn far_transfer(cpu: &mut Cpu, bus: &mut dyn Bus, sel: u16, off: u64, size: u64, call: bool) -> Result<()> {
    let (raw, lin) = cpu.desc(bus, sel)?;
    let rpl = (sel & 3) as u8;
    let cpl = cpu.cpl;
    if !dsys(raw) {
        // A code segment.
        let s = descriptor_to_segment(sel, raw);
        if s.attr & attr::CODE == 0 {
            return Err(sel_err(vector::GP, sel));
        }
        let dpl = s.dpl();
        if s.attr & attr::DC != 0 {
            if dpl > cpl {
                return Err(sel_err(vector::GP, sel));
            }
        } else if rpl > cpl || dpl != cpl {
            return Err(sel_err(vector::GP, sel));
        }
        if !dpresent(raw) {
            return Err(sel_err(vector::NP, sel));
        }
        let off = off & mask(size);
        if call {
            let (old_cs, ip) = (cpu.s.seg[CS].selector as u64, cpu.s.rip);
            // Check the whole push before the first write (a far CALL changes nothing if it
            // faults).
            let m = cpu.sp_mask();
            let sp = cpu.s.gpr[RSP] & m;
            cpu.probe_write(bus, SS, sp.wrapping_sub(2 * size) & m, 2 * size)?;
            cpu.push(bus, size, old_cs)?;
            cpu.push(bus, size, ip)?;
        }
        return cpu.enter_code(bus, sel, raw, lin, cpl, off);
    }
    let t = dtype(raw);
    let dpl = ddpl(raw);
    match t {
        ty::CALL16 | ty::CALL32 => {
            if dpl < cpl || dpl < rpl {
                return Err(sel_err(vector::GP, sel));
            }
            if !dpresent(raw) {
                return Err(sel_err(vector::NP, sel));
            }
            let target = gate_selector(raw);
            let gsize = if t == ty::CALL32 { 4 } else { 2 };
            let goff = if t == ty::CALL32 { gate_offset(raw) } else { raw & 0xFFFF };
            let (craw, clin) = cpu.desc(bus, target)?;
            let cs = descriptor_to_segment(target, craw);
            if dsys(craw) || cs.attr & attr::CODE == 0 || cs.dpl() > cpl {
                return Err(sel_err(vector::GP, target));
            }
            let conforming = cs.attr & attr::DC != 0;
            if !call && !conforming && cs.dpl() != cpl {
                return Err(sel_err(vector::GP, target));
            }
            if !dpresent(craw) {
                return Err(sel_err(vector::NP, target));
            }
            if call && !conforming && cs.dpl() < cpl {
                return call_to_inner(cpu, bus, raw, gsize, target, craw, clin, goff);
            }
            if call {
                let (old_cs, ip) = (cpu.s.seg[CS].selector as u64, cpu.s.rip);
                cpu.push(bus, gsize, old_cs)?;
                cpu.push(bus, gsize, ip)?;
            }
            cpu.enter_code(bus, target, craw, clin, cpl, goff & mask(gsize))
        }
        ty::TASK => {
            if dpl < cpl || dpl < rpl {
                return Err(sel_err(vector::GP, sel));
            }
            if !dpresent(raw) {
                return Err(sel_err(vector::NP, sel));
            }
            let tss = gate_selector(raw);
            task_switch(cpu, bus, tss, if call { Switch::Call } else { Switch::Jmp }, None)
        }
        ty::TSS16_AVAIL | ty::TSS32_AVAIL => {
            if dpl < cpl || dpl < rpl {
                return Err(sel_err(vector::GP, sel));
            }
            if !dpresent(raw) {
                return Err(sel_err(vector::NP, sel));
            }
            task_switch(cpu, bus, sel, if call { Switch::Call } else { Switch::Jmp }, None)
        }
        _ => Err(sel_err(vector::GP, sel)),
    }
}

/// CALL through a call gate to a more privileged non-conforming segment: switch stacks from
/// the TSS and copy the gate's parameters.
#[allow(clippy::too_many_arguments)]
fn call_to_inner(
    cpu: &mut Cpu,
    bus: &mut dyn Bus,
    gate: u64,
    gsize: u64,
    target: u16,
    craw: u64,
    clin: u64,
    off: u64,
) -> Result<()> {
    let new_cpl = ddpl(craw);
    let (ss_sel, sp) = cpu.tss_stack(bus, new_cpl)?;
    let (ss, ss_lin) = cpu.check_stack_segment(bus, ss_sel, new_cpl, 0)?;
    let params = (gate >> 32) & 0x1F;
    let old_ss = cpu.s.seg[SS].selector as u64;
    let old_sp_full = cpu.s.gpr[RSP];
    let old_m = cpu.sp_mask();
    let old_sp = old_sp_full & old_m;
    // Parameters from the old stack, read before anything changes.
    let mut vals = [0u64; 31];
    for (i, v) in vals.iter_mut().enumerate().take(params as usize) {
        *v = cpu.read(bus, SS, old_sp.wrapping_add(i as u64 * gsize) & old_m, gsize)?;
    }
    let mut nsp = sp;
    cpu.push_on(bus, &ss, &mut nsp, gsize, old_ss)?;
    cpu.push_on(bus, &ss, &mut nsp, gsize, old_sp)?;
    for i in (0..params as usize).rev() {
        cpu.push_on(bus, &ss, &mut nsp, gsize, vals[i])?;
    }
    let (old_cs, ip) = (cpu.s.seg[CS].selector as u64, cpu.s.rip);
    cpu.push_on(bus, &ss, &mut nsp, gsize, old_cs)?;
    cpu.push_on(bus, &ss, &mut nsp, gsize, ip)?;
    let s_raw = cpu.read_system(bus, ss_lin, 8)?;
    cpu.set_accessed(bus, ss_lin, s_raw)?;
    cpu.s.seg[SS] = ss;
    cpu.s.gpr[RSP] = if ss.big() { nsp & 0xFFFF_FFFF } else { (old_sp_full & !0xFFFF) | (nsp & 0xFFFF) };
    cpu.enter_code(bus, target, craw, clin, new_cpl, off & mask(gsize))
}

/// Far RET in protected mode, to the same or an outer privilege level (SDM Vol. 2: RET).
pub(crate) fn far_return(cpu: &mut Cpu, bus: &mut dyn Bus, size: u64, imm: u64) -> Result<()> {
    let ip = cpu.stack_peek(bus, 0, size)? & mask(size);
    let sel = cpu.stack_peek(bus, size, size)? as u16;
    let (rpl, cpl) = ((sel & 3) as u8, cpu.cpl);
    let (raw, lin) = return_code_segment(cpu, bus, sel)?;
    if rpl == cpl {
        cpu.enter_code(bus, sel, raw, lin, cpl, ip)?;
        let sp = (cpu.s.gpr[RSP] & cpu.sp_mask()).wrapping_add(2 * size + imm);
        cpu.set_sp(sp);
        return Ok(());
    }
    // To an outer level: the caller's SS:ESP are above the parameters.
    let new_sp = cpu.stack_peek(bus, 2 * size + imm, size)?;
    let new_ss = cpu.stack_peek(bus, 3 * size + imm, size)? as u16;
    let (ss, ss_lin) = check_outer_stack(cpu, bus, new_ss, rpl)?;
    cpu.enter_code(bus, sel, raw, lin, rpl, ip)?;
    load_outer_stack(cpu, bus, ss, ss_lin, new_sp.wrapping_add(imm))
}

/// The code segment a far RET or IRET returns to (#GP and #NP as both list): returns its
/// descriptor and the descriptor's linear address.
fn return_code_segment(cpu: &mut Cpu, bus: &mut dyn Bus, sel: u16) -> Result<(u64, u64)> {
    let rpl = (sel & 3) as u8;
    if rpl < cpu.cpl {
        return Err(sel_err(vector::GP, sel));
    }
    let (raw, lin) = cpu.desc(bus, sel)?;
    let cs = descriptor_to_segment(sel, raw);
    if dsys(raw) || cs.attr & attr::CODE == 0 {
        return Err(sel_err(vector::GP, sel));
    }
    if cs.attr & attr::DC != 0 {
        if cs.dpl() > rpl {
            return Err(sel_err(vector::GP, sel));
        }
    } else if cs.dpl() != rpl {
        return Err(sel_err(vector::GP, sel));
    }
    if !dpresent(raw) {
        return Err(sel_err(vector::NP, sel));
    }
    Ok((raw, lin))
}

/// The end of a return to an outer level: SS (checked by `check_outer_stack`) and ESP (SP for
/// a 16-bit stack) are loaded, and data segments the new level may not use become null.
fn load_outer_stack(cpu: &mut Cpu, bus: &mut dyn Bus, ss: Segment, ss_lin: u64, sp: u64) -> Result<()> {
    let s_raw = cpu.read_system(bus, ss_lin, 8)?;
    cpu.set_accessed(bus, ss_lin, s_raw)?;
    cpu.s.seg[SS] = ss;
    cpu.refresh_mode();
    cpu.s.gpr[RSP] = if ss.big() { sp & 0xFFFF_FFFF } else { (cpu.s.gpr[RSP] & !0xFFFF) | (sp & 0xFFFF) };
    cpu.null_inaccessible_segments();
    Ok(())
}

/// The stack segment of an outer level being returned to (#GP as RET and IRET list).
fn check_outer_stack(cpu: &mut Cpu, bus: &mut dyn Bus, ss: u16, rpl: u8) -> Result<(Segment, u64)> {
    if ss & 0xFFFC == 0 {
        return Err(Fault::gp0());
    }
    let (raw, lin) = cpu.read_descriptor(bus, ss)?;
    let s = descriptor_to_segment(ss, raw);
    let writable_data = !dsys(raw) && s.attr & attr::CODE == 0 && s.attr & attr::RW != 0;
    if (ss & 3) as u8 != rpl || ddpl(raw) != rpl || !writable_data {
        return Err(sel_err(vector::GP, ss));
    }
    if !dpresent(raw) {
        return Err(sel_err(vector::SS, ss));
    }
    Ok((Segment { attr: s.attr | attr::ACCESSED, ..s }, lin))
}

/// IRET in protected mode (SDM Vol. 2: IRET): nested task return, return to V86 mode, to the
/// same or an outer privilege level.
pub(crate) fn iret(cpu: &mut Cpu, bus: &mut dyn Bus, size: u64) -> Result<()> {
    if cpu.mode == Mode::Virtual8086 {
        // Without VME, IRET in V86 mode works only at IOPL 3 (and then as in real mode).
        if cpu.s.rflags & flags::IOPL != flags::IOPL {
            return Err(Fault::gp0());
        }
        let ip = cpu.stack_peek(bus, 0, size)? & mask(size);
        let cs = cpu.stack_peek(bus, size, size)? as u16;
        let fl = cpu.stack_peek(bus, 2 * size, size)?;
        if ip > 0xFFFF {
            return Err(Fault::gp0());
        }
        let sp = (cpu.s.gpr[RSP] & cpu.sp_mask()).wrapping_add(3 * size);
        cpu.set_sp(sp);
        cpu.load_real_cs(cs);
        cpu.s.rip = ip;
        cpu.write_flags(fl, size);
        return Ok(());
    }
    if cpu.s.rflags & flags::NT != 0 {
        // Return from a nested task: the back link in the current TSS.
        let back = cpu.read_system(bus, cpu.s.tr.base, 2)? as u16;
        return task_switch(cpu, bus, back, Switch::Iret, None);
    }
    let ip = cpu.stack_peek(bus, 0, size)?;
    let sel = cpu.stack_peek(bus, size, size)? as u16;
    let fl = cpu.stack_peek(bus, 2 * size, size)?;
    if size == 4 && fl & flags::VM != 0 && cpu.cpl == 0 {
        return iret_to_v86(cpu, bus, ip, sel, fl);
    }
    let (rpl, cpl) = ((sel & 3) as u8, cpu.cpl);
    let (raw, lin) = return_code_segment(cpu, bus, sel)?;
    let ip = ip & mask(size);
    if rpl == cpl {
        cpu.enter_code(bus, sel, raw, lin, cpl, ip)?;
        let sp = (cpu.s.gpr[RSP] & cpu.sp_mask()).wrapping_add(3 * size);
        cpu.set_sp(sp);
        cpu.write_flags(fl, size);
        restore_rf(cpu, fl, size);
        return Ok(());
    }
    let new_sp = cpu.stack_peek(bus, 3 * size, size)?;
    let new_ss = cpu.stack_peek(bus, 4 * size, size)? as u16;
    let (ss, ss_lin) = check_outer_stack(cpu, bus, new_ss, rpl)?;
    // Flags are written with the privilege of the level being left (IOPL and IF rules).
    let save_cpl = cpu.cpl;
    cpu.enter_code(bus, sel, raw, lin, rpl, ip)?;
    let new_cpl = cpu.cpl;
    cpu.cpl = save_cpl;
    cpu.write_flags(fl, size);
    restore_rf(cpu, fl, size);
    cpu.cpl = new_cpl;
    load_outer_stack(cpu, bus, ss, ss_lin, new_sp)
}

/// A 32-bit IRET loads RF from the stack (a fault's handler returns with RF set, so the
/// restarted instruction's breakpoint does not fire again); POPF and 16-bit IRET clear it.
fn restore_rf(cpu: &mut Cpu, fl: u64, size: u64) {
    if size >= 4 {
        cpu.s.rflags |= fl & flags::RF;
    }
}

/// IRETD with VM set in the popped EFLAGS, from CPL 0: back to virtual-8086 mode.
fn iret_to_v86(cpu: &mut Cpu, bus: &mut dyn Bus, ip: u64, cs: u16, fl: u64) -> Result<()> {
    let mut v = [0u64; 6];
    for (i, x) in v.iter_mut().enumerate() {
        *x = cpu.stack_peek(bus, 12 + 4 * i as u64, 4)?;
    }
    let [esp, ss, es, ds, fs, gs] = v;
    cpu.s.rflags = (fl & flags::WRITABLE) | flags::FIXED1;
    let v86 = |sel: u64| Segment {
        selector: sel as u16,
        base: (sel & 0xFFFF) << 4,
        limit: 0xFFFF,
        attr: attr::REAL_DATA | (3 << attr::DPL_SHIFT),
    };
    cpu.s.seg[CS] = Segment { attr: attr::REAL_CODE | (3 << attr::DPL_SHIFT), ..v86(cs as u64) };
    cpu.s.seg[SS] = v86(ss);
    cpu.s.seg[ES] = v86(es);
    cpu.s.seg[DS] = v86(ds);
    cpu.s.seg[FS] = v86(fs);
    cpu.s.seg[GS] = v86(gs);
    cpu.s.rip = ip & 0xFFFF;
    cpu.s.gpr[RSP] = esp & 0xFFFF_FFFF;
    cpu.refresh_mode();
    cpu.irq_poll = true;
    Ok(())
}

/// Deliver an interrupt or exception through the IDT (SDM Vol. 3, 6.12).
pub(crate) fn deliver(cpu: &mut Cpu, bus: &mut dyn Bus, v: u8, error: Option<u32>, ev: Event) -> Result<()> {
    let ext = matches!(ev, Event::External | Event::Exception | Event::Fault | Event::Icebp) as u32;
    let idt_err = Fault::with_error(vector::GP, (v as u32) * 8 + 2 + ext);
    if (v as u64) * 8 + 7 > cpu.s.idtr.limit as u64 {
        return Err(idt_err);
    }
    let raw = cpu.read_system(bus, cpu.s.idtr.base + v as u64 * 8, 8)?;
    let t = dtype(raw);
    let dpl = ddpl(raw);
    if !dsys(raw) || !matches!(t, ty::TASK | ty::INT16 | ty::TRAP16 | ty::INT32 | ty::TRAP32) {
        return Err(idt_err);
    }
    // Software interrupts check the gate's privilege (INT1 and hardware events do not).
    if ev == Event::Software && dpl < cpu.cpl {
        return Err(idt_err);
    }
    if !dpresent(raw) {
        return Err(Fault::with_error(vector::NP, (v as u32) * 8 + 2 + ext));
    }
    if t == ty::TASK {
        return task_switch(cpu, bus, gate_selector(raw), Switch::Call, error);
    }
    let sel = gate_selector(raw);
    let gsize = if t == ty::INT32 || t == ty::TRAP32 { 4 } else { 2 };
    let off = if gsize == 4 { gate_offset(raw) } else { raw & 0xFFFF };
    if sel & 0xFFFC == 0 {
        return Err(Fault::with_error(vector::GP, ext));
    }
    let (craw, clin) =
        cpu.read_descriptor(bus, sel).map_err(|_| Fault::with_error(vector::GP, (sel & 0xFFFC) as u32 | ext))?;
    let cs = descriptor_to_segment(sel, craw);
    if dsys(craw) || cs.attr & attr::CODE == 0 || cs.dpl() > cpu.cpl {
        return Err(Fault::with_error(vector::GP, (sel & 0xFFFC) as u32 | ext));
    }
    if !dpresent(craw) {
        return Err(Fault::with_error(vector::NP, (sel & 0xFFFC) as u32 | ext));
    }
    let conforming = cs.attr & attr::DC != 0;
    // The EFLAGS image: RF set for a fault, so the restarted instruction's breakpoint does
    // not fire again; clear otherwise.
    let fl = if ev == Event::Fault { cpu.s.rflags | flags::RF } else { cpu.s.rflags & !flags::RF };
    let (old_cs, ip) = (cpu.s.seg[CS].selector as u64, cpu.s.rip);
    let from_v86 = cpu.mode == Mode::Virtual8086;
    if from_v86 && (conforming || cs.dpl() != 0) {
        return Err(Fault::with_error(vector::GP, (sel & 0xFFFC) as u32 | ext));
    }
    let new_cpl = if conforming { cpu.cpl } else { cs.dpl() };
    if new_cpl < cpu.cpl || from_v86 {
        // Inner level: the stack from the TSS.
        let (ss_sel, sp) = cpu.tss_stack(bus, new_cpl)?;
        let (ss, ss_lin) = cpu.check_stack_segment(bus, ss_sel, new_cpl, ext)?;
        let mut nsp = sp;
        let old_ss = cpu.s.seg[SS].selector as u64;
        let old_sp = cpu.s.gpr[RSP] & cpu.sp_mask();
        if from_v86 {
            for seg in [GS, FS, DS, ES] {
                let s = cpu.s.seg[seg].selector as u64;
                cpu.push_on(bus, &ss, &mut nsp, gsize, s)?;
            }
        }
        cpu.push_on(bus, &ss, &mut nsp, gsize, old_ss)?;
        cpu.push_on(bus, &ss, &mut nsp, gsize, old_sp)?;
        cpu.push_on(bus, &ss, &mut nsp, gsize, fl)?;
        cpu.push_on(bus, &ss, &mut nsp, gsize, old_cs)?;
        cpu.push_on(bus, &ss, &mut nsp, gsize, ip)?;
        if let Some(e) = error {
            cpu.push_on(bus, &ss, &mut nsp, gsize, e as u64)?;
        }
        let s_raw = cpu.read_system(bus, ss_lin, 8)?;
        cpu.set_accessed(bus, ss_lin, s_raw)?;
        if from_v86 {
            for seg in [GS, FS, DS, ES] {
                cpu.s.seg[seg] = Segment { selector: 0, base: 0, limit: 0, attr: 0 };
            }
        }
        cpu.s.rflags &= !(flags::TF | flags::NT | flags::RF | flags::VM);
        if t == ty::INT16 || t == ty::INT32 {
            cpu.s.rflags &= !flags::IF;
        }
        cpu.s.seg[SS] = ss;
        cpu.enter_code(bus, sel, craw, clin, new_cpl, off & mask(gsize))?;
        cpu.s.gpr[RSP] = if ss.big() { nsp & 0xFFFF_FFFF } else { (cpu.s.gpr[RSP] & !0xFFFF) | (nsp & 0xFFFF) };
        cpu.refresh_mode();
        return Ok(());
    }
    // Same level.
    let m = cpu.sp_mask();
    let sp = cpu.s.gpr[RSP] & m;
    let need = gsize * if error.is_some() { 4 } else { 3 };
    cpu.probe_write(bus, SS, sp.wrapping_sub(need) & m, need)?;
    cpu.push(bus, gsize, fl & mask(gsize))?;
    cpu.push(bus, gsize, old_cs)?;
    cpu.push(bus, gsize, ip)?;
    if let Some(e) = error {
        cpu.push(bus, gsize, e as u64)?;
    }
    cpu.s.rflags &= !(flags::TF | flags::NT | flags::RF | flags::VM);
    if t == ty::INT16 || t == ty::INT32 {
        cpu.s.rflags &= !flags::IF;
    }
    let cpl = cpu.cpl;
    cpu.enter_code(bus, sel, craw, clin, cpl, off & mask(gsize))
}

/// A task switch (SDM Vol. 3, 7.3) to the TSS `sel`. `error` is pushed on the new task's stack
/// when an exception with an error code caused the switch.
fn task_switch(cpu: &mut Cpu, bus: &mut dyn Bus, sel: u16, why: Switch, error: Option<u32>) -> Result<()> {
    if sel & 4 != 0 {
        return Err(sel_err(vector::TS, sel));
    }
    let (raw, lin) = cpu.desc(bus, sel).map_err(|_| sel_err(vector::TS, sel))?;
    let t = dtype(raw);
    let busy = matches!(t, ty::TSS16_BUSY | ty::TSS32_BUSY);
    let valid = matches!(t, ty::TSS16_AVAIL | ty::TSS32_AVAIL | ty::TSS16_BUSY | ty::TSS32_BUSY) && dsys(raw);
    if !valid || (why == Switch::Iret) != busy {
        return Err(sel_err(if why == Switch::Iret { vector::TS } else { vector::GP }, sel));
    }
    if !dpresent(raw) {
        return Err(sel_err(vector::NP, sel));
    }
    let new = descriptor_to_segment(sel, raw);
    let new32 = matches!(t, ty::TSS32_AVAIL | ty::TSS32_BUSY);
    if new.limit < if new32 { 0x67 } else { 0x2B } {
        return Err(sel_err(vector::TS, sel));
    }
    // Save the outgoing task.
    let old = cpu.s.tr;
    let old32 = matches!((old.attr & attr::TYPE) as u8, ty::TSS32_AVAIL | ty::TSS32_BUSY);
    // The saved image of EFLAGS has NT cleared only for an IRET; JMP and CALL save it as it is
    // (SDM Vol. 3, 7.3 step 7 and Table 7-2).
    let mut fl = cpu.s.rflags;
    if why == Switch::Iret {
        fl &= !flags::NT;
    }
    let g = cpu.s.gpr;
    if old32 {
        let vals: [(u64, u64); 16] = [
            (0x20, cpu.s.rip),
            (0x24, fl),
            (0x28, g[0]),
            (0x2C, g[1]),
            (0x30, g[2]),
            (0x34, g[3]),
            (0x38, g[4]),
            (0x3C, g[5]),
            (0x40, g[6]),
            (0x44, g[7]),
            (0x48, cpu.s.seg[ES].selector as u64),
            (0x4C, cpu.s.seg[CS].selector as u64),
            (0x50, cpu.s.seg[SS].selector as u64),
            (0x54, cpu.s.seg[DS].selector as u64),
            (0x58, cpu.s.seg[FS].selector as u64),
            (0x5C, cpu.s.seg[GS].selector as u64),
        ];
        for (off, v) in vals {
            let size = if off >= 0x48 { 2 } else { 4 };
            cpu.write_system(bus, old.base + off, size, v)?;
        }
    } else {
        let vals: [(u64, u64); 14] = [
            (0x0E, cpu.s.rip),
            (0x10, fl),
            (0x12, g[0]),
            (0x14, g[1]),
            (0x16, g[2]),
            (0x18, g[3]),
            (0x1A, g[4]),
            (0x1C, g[5]),
            (0x1E, g[6]),
            (0x20, g[7]),
            (0x22, cpu.s.seg[ES].selector as u64),
            (0x24, cpu.s.seg[CS].selector as u64),
            (0x26, cpu.s.seg[SS].selector as u64),
            (0x28, cpu.s.seg[DS].selector as u64),
        ];
        for (off, v) in vals {
            cpu.write_system(bus, old.base + off, 2, v)?;
        }
    }
    // Busy bits and the back link.
    if why != Switch::Call {
        let (oraw, olin) = cpu.read_descriptor(bus, old.selector)?;
        cpu.write_system(bus, olin + 5, 1, ((oraw >> 40) as u8 & !2) as u64)?;
    }
    if why != Switch::Iret {
        cpu.write_system(bus, lin + 5, 1, ((raw >> 40) as u8 | 2) as u64)?;
    }
    if why == Switch::Call {
        cpu.write_system(bus, new.base, 2, old.selector as u64)?;
    }
    // Load the incoming task.
    let rd = |cpu: &mut Cpu, bus: &mut dyn Bus, off: u64, size: u64| cpu.read_system(bus, new.base + off, size);
    let (eip, nfl, regs, sels, ldt, cr3);
    let mut trap = false;
    if new32 {
        // The T flag: a debug trap once the switch completes (DR6.BT, SDM Vol. 3, 7.2.1).
        trap = rd(cpu, bus, 0x64, 2)? & 1 != 0;
        cr3 = Some(rd(cpu, bus, 0x1C, 4)?);
        eip = rd(cpu, bus, 0x20, 4)?;
        nfl = rd(cpu, bus, 0x24, 4)?;
        let mut r = [0u64; 8];
        for (i, x) in r.iter_mut().enumerate() {
            *x = rd(cpu, bus, 0x28 + 4 * i as u64, 4)?;
        }
        regs = r;
        let mut s = [0u16; 6];
        for (i, x) in s.iter_mut().enumerate() {
            *x = rd(cpu, bus, 0x48 + 4 * i as u64, 2)? as u16;
        }
        sels = s;
        ldt = rd(cpu, bus, 0x60, 2)? as u16;
    } else {
        cr3 = None;
        eip = rd(cpu, bus, 0x0E, 2)?;
        // A 16-bit TSS holds FLAGS only: the upper half of EFLAGS (VM included: a 16-bit task
        // is never a virtual-8086 task, SDM Vol. 3, 7.6) comes out clear. The upper halves of
        // the general registers are "modified and not maintained" (7.6); they come out as
        // FFFFh, as on the 386 (what Bochs does and test386.asm checks).
        nfl = rd(cpu, bus, 0x10, 2)?;
        let mut r = [0u64; 8];
        for (i, x) in r.iter_mut().enumerate() {
            *x = 0xFFFF_0000 | rd(cpu, bus, 0x12 + 2 * i as u64, 2)?;
        }
        regs = r;
        let mut s = [0u16; 6];
        for (i, x) in s.iter_mut().take(4).enumerate() {
            *x = rd(cpu, bus, 0x22 + 2 * i as u64, 2)? as u16;
        }
        sels = s;
        ldt = rd(cpu, bus, 0x2A, 2)? as u16;
    }
    cpu.s.tr = Segment { attr: new.attr | 2, ..new };
    if let Some(c) = cr3 {
        if cpu.s.cr0 & cr0::PG != 0 {
            cpu.s.cr3 = c;
            cpu.update_mmu(bus);
        }
    }
    cpu.s.gpr[..8].copy_from_slice(&regs);
    cpu.s.rip = eip;
    cpu.s.rflags = (nfl & flags::WRITABLE) | flags::FIXED1;
    // A task switch clears the local breakpoint enables L0-L3 (SDM Vol. 3, 17.2.4).
    cpu.s.dr[7] &= !0x55;
    cpu.refresh_debug();
    if trap {
        cpu.db_pending |= 1 << 15;
        cpu.block_break = true;
    }
    if why == Switch::Call {
        cpu.s.rflags |= flags::NT;
    }
    cpu.s.cr0 |= cr0::TS;
    // The LDT, then the segments (faults now belong to the new task: #TS).
    let ts = |s: u16| sel_err(vector::TS, s);
    if ldt & 0xFFFC == 0 {
        cpu.s.ldtr = Segment { selector: ldt, base: 0, limit: 0, attr: 0 };
    } else {
        let (lraw, _) = cpu.read_descriptor(bus, ldt).map_err(|_| ts(ldt))?;
        if ldt & 4 != 0 || !dsys(lraw) || dtype(lraw) != ty::LDT {
            return Err(ts(ldt));
        }
        if !dpresent(lraw) {
            return Err(ts(ldt));
        }
        cpu.s.ldtr = descriptor_to_segment(ldt, lraw);
    }
    if nfl & flags::VM != 0 && new32 {
        for (i, &s) in sels.iter().enumerate() {
            let seg = [ES, CS, SS, DS, FS, GS][i];
            cpu.s.seg[seg] = Segment {
                selector: s,
                base: (s as u64) << 4,
                limit: 0xFFFF,
                attr: attr::REAL_DATA | (3 << attr::DPL_SHIFT) | if seg == CS { attr::CODE } else { 0 },
            };
        }
        cpu.refresh_mode();
    } else {
        let cs_sel = sels[1];
        let (craw, _) = cpu.read_descriptor(bus, cs_sel).map_err(|_| ts(cs_sel))?;
        let cs = descriptor_to_segment(cs_sel, craw);
        if dsys(craw) || cs.attr & attr::CODE == 0 {
            return Err(ts(cs_sel));
        }
        if !dpresent(craw) {
            return Err(sel_err(vector::NP, cs_sel));
        }
        cpu.s.seg[CS] = Segment { attr: cs.attr | attr::ACCESSED, ..cs };
        cpu.refresh_mode();
        let cpl = (cs_sel & 3) as u8;
        let ss_sel = sels[2];
        let (ss, _) = cpu.check_stack_segment(bus, ss_sel, cpl, 0)?;
        cpu.s.seg[SS] = ss;
        for (seg, s) in [(ES, sels[0]), (DS, sels[3]), (FS, sels[4]), (GS, sels[5])] {
            super::system::load_seg(cpu, bus, seg, s).map_err(|f| Fault { vector: vector::TS, ..f })?;
        }
        cpu.refresh_mode();
    }
    if let Some(e) = error {
        let size = if new32 { 4 } else { 2 };
        cpu.push(bus, size, e as u64)?;
    }
    cpu.irq_poll = true;
    Ok(())
}

// -------------------------------------------------------------------- LAR LSL VERR VERW ARPL

/// The descriptor for LAR/LSL/VERR/VERW when it is visible at this privilege level.
fn visible_descriptor(cpu: &mut Cpu, bus: &mut dyn Bus, sel: u16, ok_system: &[u8]) -> Result<Option<u64>> {
    if sel & 0xFFFC == 0 {
        return Ok(None);
    }
    let Ok((raw, _)) = cpu.read_descriptor(bus, sel) else { return Ok(None) };
    if dsys(raw) {
        if !ok_system.contains(&dtype(raw)) {
            return Ok(None);
        }
    } else {
        let conforming_code = raw & (1 << 43) != 0 && raw & (1 << 42) != 0;
        if conforming_code {
            return Ok(Some(raw));
        }
    }
    let dpl = ddpl(raw);
    if dpl < cpu.cpl || dpl < (sel & 3) as u8 {
        return Ok(None);
    }
    Ok(Some(raw))
}

pub(crate) fn lar_lsl(cpu: &mut Cpu, bus: &mut dyn Bus, d: &crate::icache::Decoded) -> Result<()> {
    let lar = d.instr.mnemonic() == iced_x86::Mnemonic::Lar;
    let sel = cpu.read_op(bus, d, 1, 2)? as u16;
    let ok: &[u8] = if lar { &[1, 2, 3, 4, 5, 9, 11, 12] } else { &[1, 2, 3, 9, 11] };
    match visible_descriptor(cpu, bus, sel, ok)? {
        Some(raw) => {
            let v = if lar { (raw >> 32) & 0x00F0_FF00 } else { descriptor_to_segment(sel, raw).limit as u64 };
            cpu.set_gpr(d.instr.op0_register(), v & mask(d.osz as u64));
            cpu.s.rflags |= flags::ZF;
        }
        None => cpu.s.rflags &= !flags::ZF,
    }
    Ok(())
}

pub(crate) fn verr_verw(cpu: &mut Cpu, bus: &mut dyn Bus, d: &crate::icache::Decoded) -> Result<()> {
    let write = d.instr.mnemonic() == iced_x86::Mnemonic::Verw;
    let sel = cpu.read_op(bus, d, 0, 2)? as u16;
    let ok = match visible_descriptor(cpu, bus, sel, &[])? {
        Some(raw) if !dsys(raw) => {
            let code = raw & (1 << 43) != 0;
            let rw = raw & (1 << 41) != 0;
            if write { !code && rw } else { !code || rw }
        }
        _ => false,
    };
    cpu.set_flag(flags::ZF, ok);
    Ok(())
}

pub(crate) fn arpl(cpu: &mut Cpu, bus: &mut dyn Bus, d: &crate::icache::Decoded) -> Result<()> {
    let loc = cpu.loc(d, 0);
    let dst = cpu.read_loc(bus, loc, 2)?;
    let src = cpu.gpr(d.instr.op1_register());
    if dst & 3 < src & 3 {
        cpu.write_loc(bus, loc, 2, (dst & !3) | (src & 3))?;
        cpu.s.rflags |= flags::ZF;
    } else {
        cpu.s.rflags &= !flags::ZF;
    }
    Ok(())
}

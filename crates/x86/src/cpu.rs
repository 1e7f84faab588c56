//! The CPU: run loop, instruction fetch through the decode cache, interrupts and exceptions.

use crate::bus::Bus;
use crate::fault::{Fault, FaultClass, Result, vector};
use crate::icache::{Decoded, ICache, MAX_BYTES, MAX_INSNS};
use crate::mem::{Access, Mmu, PAGE_MASK, PhysMap};
use crate::msr::{self, Msrs};
use crate::state::{CS, CpuState, SS, attr, cr0, flags};
use iced_x86::{Decoder, DecoderError, DecoderOptions, FlowControl};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The fields of DR7 for breakpoint `i` (0-3) (SDM Vol. 3, 17.2.4).
mod dr7 {
    /// R/W values: break on execution, data writes, I/O (with CR4.DE), data reads and writes.
    pub const EXEC: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const READ_WRITE: u64 = 3;

    /// L or G is set.
    pub fn enabled(dr7: u64, i: usize) -> bool {
        dr7 & (3 << (2 * i)) != 0
    }

    pub fn rw(dr7: u64, i: usize) -> u64 {
        (dr7 >> (16 + 4 * i)) & 3
    }

    /// The breakpoint's length in bytes (LEN 00: 1, 01: 2, 10: 8, 11: 4).
    pub fn len(dr7: u64, i: usize) -> u64 {
        [1, 2, 8, 4][((dr7 >> (18 + 4 * i)) & 3) as usize]
    }
}

/// Why [`Cpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The instruction budget is spent.
    Budget,
    /// HLT: the CPU waits for an interrupt (check [`Cpu::interrupts_enabled`]: with IF clear
    /// only an NMI or a reset wakes it).
    Halted,
    /// The platform asked the CPU to stop ([`Bus::stop_requested`]).
    Stopped,
    /// A fault while delivering a double fault: the CPU shuts down (a PC resets).
    TripleFault { first: u8, cs: u16, rip: u64 },
}

/// Operating mode, derived from CR0.PE, EFLAGS.VM and EFER.LMA / CS.L.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Real,
    Protected,
    Virtual8086,
    /// IA-32e compatibility mode (long mode, 16/32-bit code segment).
    Compat,
    /// IA-32e 64-bit mode.
    Long64,
}

/// How a segment's offsets are checked: the valid inclusive range and the rights.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SegCheck {
    pub lo: u64,
    pub hi: u64,
    pub read: bool,
    pub write: bool,
}

/// What kind of event is being delivered through the IVT/IDT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A trap (or abort) raised by the CPU itself.
    Exception,
    /// A fault raised by the CPU itself: the instruction restarts, so the EFLAGS image pushed
    /// has RF set (SDM Vol. 3, 17.3.1.1), except for an instruction breakpoint's #DB.
    Fault,
    /// INT n, INT3, INTO (software: DPL checks apply in protected mode).
    Software,
    /// INT1 (ICEBP): a software-raised #DB that is delivered like a hardware one.
    Icebp,
    /// An interrupt from the interrupt controller or an NMI.
    External,
}

/// Number of recently executed instruction addresses kept for error reports.
pub const RECENT: usize = 16;

/// One x86 CPU.
pub struct Cpu {
    pub(crate) s: CpuState,
    pub(crate) mmu: Mmu,
    /// Decoded blocks. A raw allocation (see `Drop`): `run` executes straight from a block
    /// while handlers hold `&mut Cpu`, and no handler ever touches the cache.
    icache: std::ptr::NonNull<ICache>,
    /// The last instruction decoded outside the cache (page-crossing or MMIO fetches), in a
    /// raw allocation for the same reason.
    scratch: std::ptr::NonNull<Decoded>,
    pub(crate) segc: [SegCheck; 6],
    pub(crate) cpl: u8,
    pub(crate) mode: Mode,
    /// Code size of CS: 16, 32 or 64.
    pub(crate) bits: u32,
    /// Mask for the instruction pointer of the current code size (from `bits`).
    ip_mask: u64,
    /// Linear addresses are 32 bits outside 64-bit mode.
    pub(crate) lin_mask: u64,
    /// RIP of the instruction being executed.
    pub(crate) cur_ip: u64,
    /// RSP at the start of the instruction, restored when it faults.
    saved_rsp: u64,
    icount: u64,
    /// Host address and length of the block running now: a write there ends the block.
    blk_host: usize,
    blk_len: usize,
    /// The mode or code size changed, or the block's bytes were written: leave the block.
    pub(crate) block_break: bool,
    /// DR7 enables an instruction breakpoint / a data breakpoint (see `refresh_debug`).
    dr_exec: bool,
    pub(crate) dr_data: bool,
    /// DR6 B0-B3 bits of data breakpoints hit by the running instruction: a #DB trap follows it.
    pub(crate) db_pending: u64,
    pub(crate) halted: bool,
    /// Something may have changed the INTR line or IF: look at it at the next boundary.
    pub(crate) irq_poll: bool,
    /// Interrupts are held off for one instruction (after STI, MOV SS, POP SS).
    pub(crate) inhibit: bool,
    pub(crate) stop: bool,
    pub(crate) msr: Msrs,
    pub(crate) fpu: crate::fpu::Fpu,
    pub(crate) tsc_offset: u64,
    recent: [u64; RECENT],
    /// Where the next entry of `recent` goes (instructions started, not retired: a REP
    /// string instruction retires many).
    recent_next: usize,
    decoder_options: u32,
    last_exception: Option<Fault>,
    /// Where the retired-instruction count is published before every device access, for a
    /// platform whose clock is derived from it.
    icount_sink: Option<Arc<AtomicU64>>,
    /// Linear addresses whose execution is reported through `Bus::exec_watch_hit`.
    watch: Vec<u64>,
}

impl Drop for Cpu {
    fn drop(&mut self) {
        // SAFETY: both were made by Box::leak in `new` and are freed only here.
        unsafe {
            drop(Box::from_raw(self.icache.as_ptr()));
            drop(Box::from_raw(self.scratch.as_ptr()));
        }
    }
}

// SAFETY: the raw allocations are owned by the CPU like a Box would be; nothing else points
// into them, so moving the CPU to another thread moves them with it.
unsafe impl Send for Cpu {}

impl Cpu {
    /// A CPU in its power-on state, reaching memory through `map`.
    pub fn new(map: PhysMap) -> Self {
        let mut cpu = Cpu {
            s: CpuState::reset(),
            mmu: Mmu::new(map),
            icache: std::ptr::NonNull::from(Box::leak(Box::new(ICache::new()))),
            scratch: std::ptr::NonNull::from(Box::leak(Box::new(crate::icache::empty_decoded()))),
            segc: [SegCheck::default(); 6],
            cpl: 0,
            mode: Mode::Real,
            bits: 16,
            ip_mask: 0xFFFF,
            lin_mask: 0xFFFF_FFFF,
            cur_ip: 0,
            saved_rsp: 0,
            icount: 0,
            blk_host: 0,
            blk_len: 0,
            block_break: false,
            dr_exec: false,
            dr_data: false,
            db_pending: 0,
            halted: false,
            irq_poll: true,
            inhibit: false,
            stop: false,
            msr: Msrs::new(),
            fpu: crate::fpu::Fpu::new(),
            tsc_offset: 0,
            recent: [0; RECENT],
            recent_next: 0,
            decoder_options: DecoderOptions::NONE,
            last_exception: None,
            icount_sink: None,
            watch: Vec::new(),
        };
        cpu.refresh_mode();
        cpu
    }

    pub fn state(&self) -> &CpuState {
        &self.s
    }

    /// The x87 FPU's state.
    pub fn fpu(&self) -> &crate::fpu::Fpu {
        &self.fpu
    }

    /// Replace the architectural state (as KVM_SET_REGS/SREGS do). Control registers that
    /// affect translation take effect at once.
    pub fn set_state(&mut self, bus: &mut dyn Bus, s: CpuState) {
        self.s = s;
        self.s.rflags = (self.s.rflags & flags::WRITABLE) | flags::FIXED1;
        self.halted = false;
        self.irq_poll = true;
        self.last_exception = None;
        self.update_mmu(bus);
        self.refresh_mode();
        self.refresh_debug();
    }

    /// Recompute which breakpoints DR7 enables (after a write to DR0-DR7 or a task switch).
    /// Only breakpoints of a length DR7 allows for their kind count: execution breakpoints
    /// of length 1, data breakpoints of 1, 2, 4 or 8 bytes; I/O breakpoints need CR4.DE,
    /// which this CPU does not offer.
    pub(crate) fn refresh_debug(&mut self) {
        let dr7 = self.s.dr[7];
        self.dr_exec = false;
        self.dr_data = false;
        for i in (0..4).filter(|&i| dr7::enabled(dr7, i)) {
            match dr7::rw(dr7, i) {
                dr7::EXEC => self.dr_exec = true,
                dr7::WRITE | dr7::READ_WRITE => self.dr_data = true,
                _ => {}
            }
        }
        self.block_break = true;
    }

    /// The enabled execution breakpoints at `lin`, as DR6 B0-B3 bits.
    fn exec_breakpoints(&self, lin: u64) -> u64 {
        let dr7 = self.s.dr[7];
        (0..4)
            .filter(|&i| {
                dr7::enabled(dr7, i) && dr7::rw(dr7, i) == dr7::EXEC && dr7::len(dr7, i) == 1 && self.s.dr[i] == lin
            })
            .fold(0, |b, i| b | 1 << i)
    }

    /// Note the data breakpoints an access of `size` bytes at `lin` hits (DR7 R/W 01: writes,
    /// 11: reads and writes); the #DB trap comes when the instruction completes.
    #[cold]
    pub(crate) fn data_breakpoints(&mut self, lin: u64, size: u64, write: bool) {
        let dr7 = self.s.dr[7];
        for i in 0..4 {
            let rw = dr7::rw(dr7, i);
            if !dr7::enabled(dr7, i) || !(rw == dr7::READ_WRITE || (rw == dr7::WRITE && write)) {
                continue;
            }
            let len = dr7::len(dr7, i);
            let start = self.s.dr[i] & !(len - 1);
            if lin < start + len && start < lin + size {
                self.db_pending |= 1 << i;
                self.block_break = true;
            }
        }
    }

    /// Instructions retired so far (each iteration of a REP string instruction counts).
    pub fn icount(&self) -> u64 {
        self.icount
    }

    pub fn interrupts_enabled(&self) -> bool {
        self.s.rflags & flags::IF != 0
    }

    pub fn halted(&self) -> bool {
        self.halted
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Publish the retired-instruction count to `sink` before every port, MMIO or interrupt
    /// controller access, so devices timed by instructions see the exact time of the access.
    pub fn publish_icount(&mut self, sink: Arc<AtomicU64>) {
        sink.store(self.icount, Ordering::Relaxed);
        self.icount_sink = Some(sink);
    }

    #[inline(always)]
    pub(crate) fn sync_time(&self) {
        if let Some(s) = &self.icount_sink {
            s.store(self.icount, Ordering::Relaxed);
        }
    }

    /// Report execution at these linear addresses: the first time after this call, and then
    /// whenever new code is decoded there (a boot sector or kernel just loaded), not on every
    /// pass through a loop.
    pub fn set_exec_watch(&mut self, addrs: &[u64]) {
        self.watch = addrs.to_vec();
        // The next execution at a watched address must be decoded (and so seen), even when the
        // code there starts with the same bytes as what ran there before.
        self.icache_mut().clear();
    }

    /// The last exception the CPU raised (not external or software interrupts), for reports.
    pub fn last_exception(&self) -> Option<Fault> {
        self.last_exception
    }

    /// Linear addresses of the last instructions started, oldest first.
    pub fn recent(&self) -> Vec<u64> {
        let n = self.recent_next;
        (0..RECENT).map(|i| self.recent[(n + i) % RECENT]).filter(|&a| a != 0).collect()
    }

    /// Open or close the A20 gate (bit 20 of every physical address forced to 0 when closed).
    pub fn set_a20(&mut self, enabled: bool) {
        self.mmu.set_a20(enabled);
    }

    /// Forget every decoded instruction (never needed for correctness: the cache checks the
    /// bytes; useful to measure decode cost).
    pub fn flush_decode_cache(&mut self) {
        self.icache_mut().clear();
    }

    fn icache_mut(&mut self) -> &mut ICache {
        // SAFETY: the allocation lives until Drop; `&mut self` excludes any other access
        // (step's shared borrow of a slot has ended before any caller can get here).
        unsafe { self.icache.as_mut() }
    }

    /// Read guest memory at a linear address as the CPU would see it now (for traces and
    /// reports); None where the address does not translate.
    pub fn peek_linear(&mut self, bus: &mut dyn Bus, lin: u64, buf: &mut [u8]) -> Option<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = (lin + i as u64) & self.lin_mask;
            let phys = self.mmu.translate(bus, a, Access::Read, false).ok()?;
            *b = self.mmu.phys_read(bus, phys, 1) as u8;
        }
        Some(())
    }

    /// Disassembly of the instruction at CS:RIP (for reports).
    pub fn disassemble_at(&mut self, bus: &mut dyn Bus, lin: u64) -> String {
        use iced_x86::Formatter;
        let mut buf = [0u8; 15];
        if self.peek_linear(bus, lin, &mut buf).is_none() {
            return "<unmapped>".into();
        }
        let mut dec = Decoder::with_ip(self.bits, &buf, lin, self.decoder_options);
        let ins = dec.decode();
        let mut out = String::new();
        let mut f = iced_x86::IntelFormatter::new();
        f.format(&ins, &mut out);
        let bytes: Vec<String> = buf[..ins.len().max(1)].iter().map(|b| format!("{b:02x}")).collect();
        format!("{:<24} {}", bytes.join(" "), out)
    }

    // ---------------------------------------------------------------- derived state

    /// Recompute mode, CPL, code size and segment checks after CR0/EFLAGS/CS/EFER changes.
    pub(crate) fn refresh_mode(&mut self) {
        let cs = self.s.seg[CS];
        self.mode = if self.s.cr0 & cr0::PE == 0 {
            Mode::Real
        } else if self.s.efer & msr::EFER_LMA != 0 {
            if cs.attr & attr::L != 0 { Mode::Long64 } else { Mode::Compat }
        } else if self.s.rflags & flags::VM != 0 {
            Mode::Virtual8086
        } else {
            Mode::Protected
        };
        self.cpl = match self.mode {
            Mode::Real => 0,
            Mode::Virtual8086 => 3,
            _ => (cs.selector & 3) as u8,
        };
        self.bits = match self.mode {
            Mode::Long64 => 64,
            Mode::Virtual8086 => 16,
            _ if cs.big() => 32,
            _ => 16,
        };
        self.ip_mask = match self.bits {
            16 => 0xFFFF,
            32 => 0xFFFF_FFFF,
            _ => u64::MAX,
        };
        self.lin_mask = if self.mode == Mode::Long64 { u64::MAX } else { 0xFFFF_FFFF };
        self.block_break = true;
        for i in 0..6 {
            self.refresh_segcheck(i);
        }
    }

    pub(crate) fn refresh_segcheck(&mut self, i: usize) {
        let seg = self.s.seg[i];
        let a = seg.attr;
        let usable = a & attr::P != 0 && a & attr::S != 0;
        let mut c = SegCheck { lo: 0, hi: seg.limit as u64, read: usable, write: usable };
        if matches!(self.mode, Mode::Real | Mode::Virtual8086) {
            // Real mode: no type checks; the cached limit still applies (unreal mode).
            c.read = true;
            c.write = true;
            if a & attr::S != 0 && a & attr::CODE == 0 && a & attr::DC != 0 {
                c.lo = seg.limit as u64 + 1;
                c.hi = if seg.big() { 0xFFFF_FFFF } else { 0xFFFF };
            }
        } else if usable {
            if a & attr::CODE != 0 {
                c.read = a & attr::RW != 0;
                c.write = false;
            } else {
                c.write = a & attr::RW != 0;
                if a & attr::DC != 0 {
                    c.lo = seg.limit as u64 + 1;
                    c.hi = if seg.big() { 0xFFFF_FFFF } else { 0xFFFF };
                }
            }
        }
        self.segc[i] = c;
    }

    pub(crate) fn update_mmu(&mut self, bus: &mut dyn Bus) {
        let s = &self.s;
        self.mmu.set_control(bus, s.cr0, s.cr3, s.cr4, s.efer);
    }

    // ---------------------------------------------------------------- run loop

    /// Execute up to `budget` instructions.
    pub fn run(&mut self, bus: &mut dyn Bus, budget: u64) -> Exit {
        let end = self.icount.saturating_add(budget);
        self.sync_time();
        self.irq_poll = true;
        self.stop = false;
        if self.halted && !self.take_interrupt(bus) {
            return Exit::Halted;
        }
        while self.icount < end {
            if self.irq_poll || self.inhibit {
                if self.inhibit {
                    self.inhibit = false;
                } else if self.s.rflags & flags::IF != 0 {
                    if !self.take_interrupt(bus) {
                        self.irq_poll = false;
                    }
                } else {
                    self.irq_poll = false;
                }
            }
            self.cur_ip = self.s.rip;
            self.saved_rsp = self.s.gpr[crate::state::RSP];
            // Instruction breakpoints and RF are looked at instruction by instruction: before
            // the instruction, a match is a #DB fault (unless RF is set); then RF clears.
            let mut lin = self.s.seg[CS].base.wrapping_add(self.s.rip) & self.lin_mask;
            let careful = self.dr_exec || self.s.rflags & flags::RF != 0;
            if careful {
                let hits = if self.dr_exec && self.s.rflags & flags::RF == 0 { self.exec_breakpoints(lin) } else { 0 };
                self.s.rflags &= !flags::RF;
                if hits != 0 {
                    self.icount += 1;
                    self.s.dr[6] = (self.s.dr[6] & !0xF) | hits;
                    if let Some(exit) = self.deliver_or_shutdown(bus, vector::DB, None, Event::Exception) {
                        return exit;
                    }
                    continue;
                }
            }
            let (first, n) = match self.fetch_block(bus, lin) {
                Ok(b) => b,
                Err(f) => {
                    // The fetch of the next instruction faulted: it counts as that instruction.
                    self.icount += 1;
                    if let Some(exit) = self.exception(bus, f) {
                        return exit;
                    }
                    continue;
                }
            };
            self.block_break = false;
            self.mmu.changed = false;
            // A block is contiguous and ends within CS's limit and its page, so the linear
            // address of each instruction is the previous one's plus its length.
            let n = if careful { 1 } else { n };
            for k in 0..n {
                // SAFETY: `first` points at `n` entries of a block in the decode cache or at the
                // scratch entry (n = 1), raw allocations owned by this CPU that stay in place until
                // Drop. Only `fetch_block` writes them, and it is not called until this loop ends.
                let d = unsafe { &*first.add(k) };
                let tf = self.s.rflags & flags::TF != 0;
                self.cur_ip = self.s.rip;
                self.saved_rsp = self.s.gpr[crate::state::RSP];
                self.recent[self.recent_next % RECENT] = lin;
                self.recent_next = self.recent_next.wrapping_add(1);
                lin = lin.wrapping_add(d.len as u64);
                self.icount += 1;
                let next = self.cur_ip.wrapping_add(d.len as u64) & self.ip_mask;
                self.s.rip = next;
                if let Err(f) = (d.handler)(self, bus, d) {
                    self.db_pending = 0;
                    if let Some(exit) = self.exception(bus, f) {
                        return exit;
                    }
                } else if (tf || self.db_pending != 0) && !self.halted {
                    // Single-step and data-breakpoint traps after the instruction (SDM Vol. 3,
                    // 17.3.1.2 and 17.3.1.4): one #DB, with every cause in DR6.
                    self.s.dr[6] = (self.s.dr[6] & !0xF) | self.db_pending;
                    if tf {
                        self.s.dr[6] |= 1 << 14;
                    }
                    self.db_pending = 0;
                    if let Some(exit) = self.deliver_or_shutdown(bus, vector::DB, None, Event::Exception) {
                        return exit;
                    }
                }
                if self.halted {
                    self.sync_time();
                    return Exit::Halted;
                }
                if self.stop {
                    self.stop = false;
                    self.sync_time();
                    return Exit::Stopped;
                }
                // Leave the block when control went elsewhere (a branch, a REP iteration, an
                // exception), when interrupts need a look, when the mode or the mapping changed
                // or the block's own bytes were written, or when the budget is spent.
                if self.s.rip != next
                    || self.irq_poll
                    || self.inhibit
                    || self.block_break
                    || self.mmu.changed
                    || self.icount >= end
                {
                    break;
                }
            }
        }
        self.sync_time();
        Exit::Budget
    }

    /// Take a pending external interrupt if there is one. Returns whether one was taken.
    fn take_interrupt(&mut self, bus: &mut dyn Bus) -> bool {
        self.sync_time();
        if self.s.rflags & flags::IF == 0 || !bus.interrupt_pending() {
            return false;
        }
        let Some(v) = bus.acknowledge_interrupt() else {
            return false;
        };
        self.halted = false;
        self.cur_ip = self.s.rip;
        self.saved_rsp = self.s.gpr[crate::state::RSP];
        if let Err(f) = self.deliver(bus, v, None, Event::External) {
            // A fault while delivering an external interrupt is delivered as that fault.
            let _ = self.exception(bus, f);
        }
        true
    }

    // ---------------------------------------------------------------- fetch & decode

    /// The decoded instructions at CS:RIP (linear address `lin`): a pointer to the first and how
    /// many follow in a straight line (a cached block, or one instruction decoded into the
    /// scratch entry).
    #[inline(always)]
    fn fetch_block(&mut self, bus: &mut dyn Bus, lin: u64) -> Result<(*const Decoded, usize)> {
        let ip = self.s.rip;
        let user = self.cpl == 3;
        let host = match self.mmu.lookup(lin, Access::Exec, user) {
            Some(h) => h,
            None => {
                self.mmu.translate(bus, lin, Access::Exec, user)?;
                match self.mmu.lookup(lin, Access::Exec, user) {
                    Some(h) => h,
                    None => return self.fetch_slow(bus, lin),
                }
            }
        };
        let avail = (PAGE_MASK.wrapping_neg() - (lin & !PAGE_MASK)) as usize;
        let phys = self.mmu.exec_phys(lin, user);
        let bits = self.bits;
        // SAFETY: no reference into the cache is alive between blocks (see `run`).
        let cache = unsafe { self.icache.as_mut() };
        if let Some(b) = cache.get(phys, bits, host, avail) {
            if self.mode == Mode::Long64 || ip + b.len as u64 - 1 <= self.s.seg[CS].limit as u64 {
                self.blk_host = host as usize;
                self.blk_len = b.len;
                return Ok((b.insns.as_ptr(), b.n));
            }
        }
        self.build_block(bus, lin, host, avail, phys)
    }

    /// Decode the block at `lin` (host memory `host`, `avail` bytes to the end of its page).
    #[cold]
    fn build_block(
        &mut self,
        bus: &mut dyn Bus,
        lin: u64,
        host: *mut u8,
        avail: usize,
        phys: u64,
    ) -> Result<(*const Decoded, usize)> {
        let ip = self.s.rip;
        let mut buf = [0u8; MAX_BYTES];
        let take = avail.min(MAX_BYTES);
        // SAFETY: the TLB maps the page to host memory and `take` bytes end inside it.
        unsafe { std::ptr::copy_nonoverlapping(host, buf.as_mut_ptr(), take) };
        let limit = self.s.seg[CS].limit as u64;
        let long = self.mode == Mode::Long64;
        // SAFETY: no reference into the cache is alive between blocks (see `run`).
        let block = unsafe { self.icache.as_mut() }.start(phys, self.bits);
        let mut off = 0;
        while block.n < MAX_INSNS {
            let here = (lin + off as u64) & self.lin_mask;
            if block.n > 0 && !self.watch.is_empty() && self.watch.contains(&here) {
                break; // a watched address starts its own block, so its hit is reported
            }
            let d = match self.try_decode(&buf[off..take]) {
                Ok(d) => d,
                Err(_) => break, // runs past the page or the block's bytes
            };
            let end_ip = ip + off as u64 + d.len as u64 - 1;
            if !long && end_ip > limit {
                break;
            }
            if block.n == 0 && !self.watch.is_empty() && self.watch.contains(&here) {
                bus.exec_watch_hit(here);
            }
            block.push(d, &buf[off..]);
            off += d.len as usize;
            let i = &block.insns[block.n - 1].instr;
            if i.flow_control() != FlowControl::Next || i.is_invalid() {
                break;
            }
        }
        if block.n == 0 {
            // The first instruction crosses the page, runs past CS's limit, or is too long.
            block.invalidate();
            return self.fetch_slow(bus, lin);
        }
        self.blk_host = host as usize;
        self.blk_len = block.len;
        Ok((block.insns.as_ptr(), block.n))
    }

    #[inline(always)]
    fn check_cs_limit(&self, ip: u64, len: u8) -> Result<()> {
        if self.mode != Mode::Long64 && ip + len as u64 - 1 > self.s.seg[CS].limit as u64 {
            return Err(Fault::gp0());
        }
        Ok(())
    }

    /// Fetch an instruction that crosses a page or lives outside RAM: byte by byte, asking
    /// for the next page only when the decoder needs its bytes.
    #[cold]
    fn fetch_slow(&mut self, bus: &mut dyn Bus, lin: u64) -> Result<(*const Decoded, usize)> {
        self.sync_time();
        let user = self.cpl == 3;
        let mut buf = [0u8; 15];
        let first = ((PAGE_MASK.wrapping_neg() - (lin & !PAGE_MASK)) as usize).min(15);
        let phys = self.mmu.translate(bus, lin, Access::Exec, user)?;
        for (i, b) in buf[..first].iter_mut().enumerate() {
            *b = self.mmu.phys_read(bus, phys + i as u64, 1) as u8;
        }
        let d = match self.try_decode(&buf[..first]) {
            Ok(d) => d,
            Err(DecoderError::NoMoreBytes) if first < 15 => {
                let next = (lin + first as u64) & self.lin_mask;
                let phys2 = self.mmu.translate(bus, next, Access::Exec, user)?;
                for (k, b) in buf[first..].iter_mut().enumerate() {
                    *b = self.mmu.phys_read(bus, phys2 + k as u64, 1) as u8;
                }
                self.decode(&buf)?
            }
            Err(_) => self.decode(&buf[..first])?,
        };
        self.check_cs_limit(self.s.rip, d.len)?;
        if !self.watch.is_empty() && self.watch.contains(&lin) {
            bus.exec_watch_hit(lin);
        }
        // SAFETY: see `run`; nothing references the scratch entry between blocks.
        unsafe { *self.scratch.as_ptr() = d };
        self.blk_len = 0;
        Ok((self.scratch.as_ptr(), 1))
    }

    fn try_decode(&self, bytes: &[u8]) -> core::result::Result<Decoded, DecoderError> {
        let mut dec = Decoder::with_ip(self.bits, bytes, 0, self.decoder_options);
        let instr = dec.decode();
        match dec.last_error() {
            DecoderError::None => Ok(crate::exec::prepare(instr, bytes, self.bits)),
            DecoderError::NoMoreBytes => Err(DecoderError::NoMoreBytes),
            // Invalid encodings still carry a length; the handler raises #UD.
            _ => Ok(crate::exec::prepare(instr, bytes, self.bits)),
        }
    }

    fn decode(&self, bytes: &[u8]) -> Result<Decoded> {
        match self.try_decode(bytes) {
            Ok(d) => Ok(d),
            // More than 15 bytes of prefixes, or the instruction runs past the limit: #GP.
            Err(_) => Err(Fault::gp0()),
        }
    }

    // ---------------------------------------------------------------- exceptions

    /// Deliver a fault raised by the current instruction; escalate to #DF and triple fault.
    pub(crate) fn exception(&mut self, bus: &mut dyn Bus, f: Fault) -> Option<Exit> {
        let first = f.vector;
        let mut cur = f;
        loop {
            self.last_exception = Some(cur);
            self.s.rip = self.cur_ip;
            self.s.gpr[crate::state::RSP] = self.saved_rsp;
            if let Some(a) = cur.cr2 {
                self.s.cr2 = a;
            }
            let ev = if Fault::class(cur.vector) == FaultClass::DoubleFault { Event::Exception } else { Event::Fault };
            match self.deliver(bus, cur.vector, cur.error, ev) {
                Ok(()) => return None,
                Err(f2) => {
                    let (c1, c2) = (Fault::class(cur.vector), Fault::class(f2.vector));
                    if c1 == FaultClass::DoubleFault {
                        self.halted = true;
                        return Some(Exit::TripleFault { first, cs: self.s.seg[CS].selector, rip: self.cur_ip });
                    }
                    let double = (c1 == FaultClass::Contributory && c2 == FaultClass::Contributory)
                        || (c1 == FaultClass::PageFault
                            && matches!(c2, FaultClass::Contributory | FaultClass::PageFault));
                    cur = if double { Fault::with_error(vector::DF, 0) } else { f2 };
                }
            }
        }
    }

    /// Deliver a trap after the instruction completed (RIP already at the next instruction).
    fn deliver_or_shutdown(&mut self, bus: &mut dyn Bus, v: u8, error: Option<u32>, ev: Event) -> Option<Exit> {
        self.cur_ip = self.s.rip;
        self.saved_rsp = self.s.gpr[crate::state::RSP];
        match self.deliver(bus, v, error, ev) {
            Ok(()) => {
                self.last_exception = Some(Fault::new(v));
                None
            }
            Err(f) => self.exception(bus, f),
        }
    }

    /// Deliver vector `v` through the IVT (real mode) or IDT; the return address is RIP.
    pub(crate) fn deliver(&mut self, bus: &mut dyn Bus, v: u8, error: Option<u32>, ev: Event) -> Result<()> {
        match self.mode {
            Mode::Real => self.deliver_real(bus, v),
            _ => crate::exec::pm::deliver(self, bus, v, error, ev),
        }
    }

    fn deliver_real(&mut self, bus: &mut dyn Bus, v: u8) -> Result<()> {
        let off = v as u64 * 4;
        if off + 3 > self.s.idtr.limit as u64 {
            return Err(Fault::gp0());
        }
        let base = self.s.idtr.base;
        let ip = self.read_lin(bus, (base + off) & self.lin_mask, 2, false)?;
        let cs = self.read_lin(bus, (base + off + 2) & self.lin_mask, 2, false)?;
        let fl = self.s.rflags;
        self.push(bus, 2, fl & 0xFFFF)?;
        self.push(bus, 2, self.s.seg[CS].selector as u64)?;
        self.push(bus, 2, self.s.rip & 0xFFFF)?;
        self.s.rflags &= !(flags::IF | flags::TF | flags::AC | flags::RF);
        self.load_real_cs(cs as u16);
        self.s.rip = ip;
        Ok(())
    }

    /// Real-mode (and V86) CS load: base = selector << 4, cached attributes kept.
    pub(crate) fn load_real_cs(&mut self, sel: u16) {
        let cs = &mut self.s.seg[CS];
        cs.selector = sel;
        cs.base = (sel as u64) << 4;
        if self.mode == Mode::Virtual8086 {
            cs.limit = 0xFFFF;
            cs.attr = attr::REAL_CODE | (3 << attr::DPL_SHIFT);
        }
        self.refresh_mode();
    }

    // ---------------------------------------------------------------- memory access

    /// Check an access of `size` bytes at `off` in segment `seg` and return its linear address.
    #[inline(always)]
    pub(crate) fn lin(&self, seg: usize, off: u64, size: u64, write: bool) -> Result<u64> {
        if self.mode == Mode::Long64 {
            let base = if seg >= crate::state::FS { self.s.seg[seg].base } else { 0 };
            let a = base.wrapping_add(off);
            if ((a as i64) << 16 >> 16) as u64 != a {
                return Err(if seg == SS { Fault::ss0() } else { Fault::gp0() });
            }
            if self.cpl == 3 {
                self.alignment_check(a, size)?;
            }
            return Ok(a);
        }
        let c = &self.segc[seg];
        let ok = off >= c.lo && off + size - 1 <= c.hi && if write { c.write } else { c.read };
        if !ok {
            return Err(if seg == SS { Fault::ss0() } else { Fault::gp0() });
        }
        let lin = self.s.seg[seg].base.wrapping_add(off) & 0xFFFF_FFFF;
        if self.cpl == 3 {
            self.alignment_check(lin, size)?;
        }
        Ok(lin)
    }

    /// `lin` for an access that data breakpoints watch: a hit is noted for the #DB trap.
    #[inline(always)]
    pub(crate) fn lin_watched(&mut self, seg: usize, off: u64, size: u64, write: bool) -> Result<u64> {
        let lin = self.lin(seg, off, size, write)?;
        if self.dr_data {
            self.data_breakpoints(lin, size, write);
        }
        Ok(lin)
    }

    /// #AC(0) for a misaligned access at CPL 3 with CR0.AM and EFLAGS.AC set (SDM Vol. 3,
    /// 6.15, interrupt 17), checked on the linear address before paging, as Bochs does.
    #[inline(always)]
    fn alignment_check(&self, lin: u64, size: u64) -> Result<()> {
        // Words on 2, doublewords on 4, larger operands on 8 bytes.
        let align = 1u64 << (63 - size.clamp(1, 8).leading_zeros());
        if lin & (align - 1) != 0 && self.s.cr0 & cr0::AM != 0 && self.s.rflags & flags::AC != 0 {
            return Err(Fault::with_error(vector::AC, 0));
        }
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn read_lin(&mut self, bus: &mut dyn Bus, lin: u64, size: u64, user_override: bool) -> Result<u64> {
        let user = self.cpl == 3 && !user_override;
        if lin & !PAGE_MASK <= PAGE_MASK.wrapping_neg() - size {
            if let Some(p) = self.mmu.lookup(lin, Access::Read, user) {
                // SAFETY: the TLB entry maps the page to host memory; the access ends in it.
                return Ok(unsafe { crate::mem::read_host(p, size as usize) });
            }
        }
        self.read_lin_slow(bus, lin, size, user)
    }

    #[cold]
    fn read_lin_slow(&mut self, bus: &mut dyn Bus, lin: u64, size: u64, user: bool) -> Result<u64> {
        self.sync_time();
        // An MMIO read may have a device act (and write memory): leave the block.
        self.block_break = true;
        let in_page = PAGE_MASK.wrapping_neg() - (lin & !PAGE_MASK);
        if size <= in_page {
            let phys = self.mmu.translate(bus, lin, Access::Read, user)?;
            return Ok(self.mmu.phys_read(bus, phys, size as usize));
        }
        // Crosses a page: translate both pages before reading anything.
        let p1 = self.mmu.translate(bus, lin, Access::Read, user)?;
        let p2 = self.mmu.translate(bus, (lin + in_page) & self.lin_mask, Access::Read, user)?;
        let mut v = 0;
        for i in 0..size {
            let p = if i < in_page { p1 + i } else { p2 + (i - in_page) };
            v |= self.mmu.phys_read(bus, p, 1) << (8 * i);
        }
        Ok(v)
    }

    #[inline(always)]
    pub(crate) fn write_lin(&mut self, bus: &mut dyn Bus, lin: u64, size: u64, v: u64) -> Result<()> {
        let user = self.cpl == 3;
        if lin & !PAGE_MASK <= PAGE_MASK.wrapping_neg() - size {
            if let Some(p) = self.mmu.lookup(lin, Access::Write, user) {
                // SAFETY: a write TLB entry only exists for writable host RAM; the access ends
                // inside the page.
                unsafe { crate::mem::write_host(p, size as usize, v) };
                // Into the running block (or the 8 bytes before it, so that no write of up to
                // 8 bytes that overlaps its start is missed)?
                if (p as usize).wrapping_sub(self.blk_host.wrapping_sub(8)) < self.blk_len + 8 {
                    self.block_break = true;
                }
                return Ok(());
            }
        }
        self.write_lin_slow(bus, lin, size, v, user)
    }

    #[cold]
    fn write_lin_slow(&mut self, bus: &mut dyn Bus, lin: u64, size: u64, v: u64, user: bool) -> Result<()> {
        // RAM written here may hold the running block; MMIO may make a device write memory.
        self.block_break = true;
        let in_page = PAGE_MASK.wrapping_neg() - (lin & !PAGE_MASK);
        if size <= in_page {
            let phys = self.mmu.translate(bus, lin, Access::Write, user)?;
            self.mmu.phys_write(bus, phys, size as usize, v);
        } else {
            let p1 = self.mmu.translate(bus, lin, Access::Write, user)?;
            let p2 = self.mmu.translate(bus, (lin + in_page) & self.lin_mask, Access::Write, user)?;
            for i in 0..size {
                let p = if i < in_page { p1 + i } else { p2 + (i - in_page) };
                self.mmu.phys_write(bus, p, 1, v >> (8 * i));
            }
        }
        if bus.stop_requested() {
            self.stop = true;
        }
        Ok(())
    }

    /// Read `size` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn read(&mut self, bus: &mut dyn Bus, seg: usize, off: u64, size: u64) -> Result<u64> {
        let lin = self.lin_watched(seg, off, size, false)?;
        self.read_lin(bus, lin, size, false)
    }

    /// Write `size` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn write(&mut self, bus: &mut dyn Bus, seg: usize, off: u64, size: u64, v: u64) -> Result<()> {
        let lin = self.lin_watched(seg, off, size, true)?;
        self.write_lin(bus, lin, size, v)
    }

    /// Check that `size` bytes at `seg:off` can be written, without writing (for instructions
    /// that must fault before changing anything).
    pub(crate) fn probe_write(&mut self, bus: &mut dyn Bus, seg: usize, off: u64, size: u64) -> Result<()> {
        let lin = self.lin(seg, off, size, true)?;
        let user = self.cpl == 3;
        self.mmu.translate(bus, lin, Access::Write, user)?;
        if size > 1 {
            self.mmu.translate(bus, (lin + size - 1) & self.lin_mask, Access::Write, user)?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- stack

    /// Stack pointer width: SS.B selects ESP over SP (RSP in 64-bit mode).
    #[inline(always)]
    pub(crate) fn sp_mask(&self) -> u64 {
        if self.mode == Mode::Long64 {
            u64::MAX
        } else if self.s.seg[SS].big() {
            0xFFFF_FFFF
        } else {
            0xFFFF
        }
    }

    #[inline(always)]
    pub(crate) fn set_sp(&mut self, v: u64) {
        let m = self.sp_mask();
        let r = &mut self.s.gpr[crate::state::RSP];
        *r = (*r & !m) | (v & m);
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, bus: &mut dyn Bus, size: u64, v: u64) -> Result<()> {
        let m = self.sp_mask();
        let sp = self.s.gpr[crate::state::RSP].wrapping_sub(size) & m;
        self.write(bus, SS, sp, size, v)?;
        self.set_sp(sp);
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn pop(&mut self, bus: &mut dyn Bus, size: u64) -> Result<u64> {
        let m = self.sp_mask();
        let sp = self.s.gpr[crate::state::RSP] & m;
        let v = self.read(bus, SS, sp, size)?;
        self.set_sp(sp.wrapping_add(size));
        Ok(v)
    }

    /// Read the stack at SP + `offset` without popping.
    pub(crate) fn stack_peek(&mut self, bus: &mut dyn Bus, offset: u64, size: u64) -> Result<u64> {
        let m = self.sp_mask();
        let sp = self.s.gpr[crate::state::RSP].wrapping_add(offset) & m;
        self.read(bus, SS, sp, size)
    }

    // ---------------------------------------------------------------- port I/O

    /// After any access the platform might act on: A20, INTR and stop requests.
    pub(crate) fn after_io(&mut self, bus: &mut dyn Bus) {
        let a20 = bus.a20_enabled();
        if (self.mmu.a20_mask == u64::MAX) != a20 {
            self.mmu.set_a20(a20);
        }
        self.irq_poll = true;
        if bus.stop_requested() {
            self.stop = true;
        }
    }

    pub(crate) fn bump_icount(&mut self, n: u64) {
        self.icount += n;
    }
}

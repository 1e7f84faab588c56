//! Physical memory map, software TLB and page walks: how a linear address becomes a host pointer.
//!
//! RAM and ROM are host memory the CPU reads and writes directly; every other physical address
//! goes to the platform's [`Bus`] as MMIO. Linear addresses are translated page by page and the
//! result cached in a direct-mapped software TLB (one set for supervisor and one for user
//! accesses), so a hit costs one compare and one load. Writes to a page the TLB has not seen
//! written before go through the slow path once, which sets the page table's dirty bit.

use crate::bus::Bus;
use crate::fault::{Fault, Result, vector};
use crate::state::{cr0, cr4};

pub const PAGE_SIZE: u64 = 4096;
pub const PAGE_MASK: u64 = !(PAGE_SIZE - 1);

/// One range of guest-physical memory backed by host memory.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    pub start: u64,
    pub len: u64,
    pub host: *mut u8,
    /// ROM regions are not writable: guest writes to them are dropped, as on a PC.
    pub writable: bool,
}

/// Why a memory map was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MapError {
    #[error("memory region at {start:#x} (+{len:#x}) is not page aligned")]
    Unaligned { start: u64, len: u64 },
    #[error("memory regions at {a:#x} and {b:#x} overlap")]
    Overlap { a: u64, b: u64 },
}

/// The host-backed part of the guest-physical address space.
#[derive(Clone, Debug, Default)]
pub struct PhysMap {
    regions: Vec<Region>,
}

// SAFETY: the map only holds pointers into guest memory that the creator of the map promised
// (in `PhysMap::new`) stays mapped and is only used by this CPU's thread while the CPU runs.
unsafe impl Send for PhysMap {}

impl PhysMap {
    /// # Safety
    /// Each region's `host .. host + len` must stay mapped, readable (and writable when
    /// `writable`) for as long as any CPU holds this map.
    pub unsafe fn new(mut regions: Vec<Region>) -> core::result::Result<Self, MapError> {
        regions.sort_by_key(|r| r.start);
        for r in &regions {
            if r.start % PAGE_SIZE != 0 || r.len % PAGE_SIZE != 0 || r.len == 0 {
                return Err(MapError::Unaligned { start: r.start, len: r.len });
            }
        }
        for w in regions.windows(2) {
            if w[0].start + w[0].len > w[1].start {
                return Err(MapError::Overlap { a: w[0].start, b: w[1].start });
            }
        }
        Ok(PhysMap { regions })
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The region holding `addr`, if any.
    #[inline]
    pub fn find(&self, addr: u64) -> Option<&Region> {
        // A handful of regions: a linear scan beats a binary search here.
        self.regions.iter().find(|r| addr.wrapping_sub(r.start) < r.len)
    }

    /// Host pointer for `len` bytes at `addr` if they lie in one region.
    pub fn host_range(&self, addr: u64, len: u64) -> Option<(*mut u8, bool)> {
        let r = self.find(addr)?;
        let off = addr - r.start;
        if off + len > r.len {
            return None;
        }
        // SAFETY: `off + len <= r.len`, inside the region the map's creator vouched for.
        Some((unsafe { r.host.add(off as usize) }, r.writable))
    }
}

/// What a memory access is for; selects the TLB tag and the page-fault error code bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

const TLB_BITS: u32 = 10;
const TLB_SIZE: usize = 1 << TLB_BITS;
/// An impossible tag (linear page tags have the low 12 bits clear).
const INVALID: u64 = 1;

#[derive(Clone, Copy)]
struct TlbEntry {
    read: u64,
    write: u64,
    exec: u64,
    /// Host address of the page minus the linear page address.
    addend: usize,
    /// Guest-physical page, for instruction-cache keys.
    phys: u64,
}

const EMPTY: TlbEntry = TlbEntry { read: INVALID, write: INVALID, exec: INVALID, addend: 0, phys: 0 };

/// The paging structure format in force (SDM Vol. 3, 4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    Off,
    /// 32-bit paging, with 4 MiB pages when CR4.PSE is set.
    Legacy {
        pse: bool,
    },
    /// PAE paging (three levels).
    Pae,
    /// 4-level paging (IA-32e mode).
    Level4,
}

/// Linear-to-physical translation and host access.
pub struct Mmu {
    pub(crate) map: PhysMap,
    tlb: Box<[[TlbEntry; TLB_SIZE]; 2]>,
    pub(crate) a20_mask: u64,
    pub(crate) paging: Paging,
    cr3: u64,
    wp: bool,
    nxe: bool,
    /// PAE: the four PDPTEs loaded at the last CR3 write (SDM Vol. 3, 4.4.1).
    pdpte: [u64; 4],
    /// Physical-address width mask (36 bits, as a P6-class CPU without a wider MAXPHYADDR).
    phys_mask: u64,
    /// Set when translations may have changed (flush, INVLPG) or a page walk wrote an
    /// accessed or dirty bit: the CPU leaves its current block. The CPU clears it.
    pub(crate) changed: bool,
}

/// Page-table entry bits.
mod pte {
    pub const P: u64 = 1 << 0;
    pub const RW: u64 = 1 << 1;
    pub const US: u64 = 1 << 2;
    pub const A: u64 = 1 << 5;
    pub const D: u64 = 1 << 6;
    pub const PS: u64 = 1 << 7;
    pub const NX: u64 = 1 << 63;
}

/// Page-fault error code bits.
mod pf {
    pub const P: u32 = 1 << 0;
    pub const W: u32 = 1 << 1;
    pub const U: u32 = 1 << 2;
    pub const RSVD: u32 = 1 << 3;
    pub const I: u32 = 1 << 4;
}

/// The outcome of a translation: where the page is and what may be done with it.
#[derive(Clone, Copy, Debug)]
struct Translation {
    phys: u64,
    /// The walk allows writes (and the dirty bit is now set).
    writable: bool,
    executable: bool,
}

impl Mmu {
    pub fn new(map: PhysMap) -> Self {
        Mmu {
            map,
            tlb: Box::new([[EMPTY; TLB_SIZE]; 2]),
            a20_mask: u64::MAX,
            paging: Paging::Off,
            cr3: 0,
            wp: false,
            nxe: false,
            pdpte: [0; 4],
            phys_mask: (1 << 36) - 1,
            changed: true,
        }
    }

    pub fn flush(&mut self) {
        self.changed = true;
        for set in self.tlb.iter_mut() {
            set.fill(EMPTY);
        }
    }

    pub fn invlpg(&mut self, lin: u64) {
        self.changed = true;
        let i = Self::index(lin);
        for set in self.tlb.iter_mut() {
            set[i] = EMPTY;
        }
    }

    pub fn set_a20(&mut self, enabled: bool) {
        let mask = if enabled { u64::MAX } else { !(1 << 20) };
        if mask != self.a20_mask {
            self.a20_mask = mask;
            self.flush();
        }
    }

    /// Called whenever CR0, CR3, CR4 or EFER change. `bus` reads the PAE PDPTEs.
    pub(crate) fn set_control(&mut self, bus: &mut dyn Bus, cr0v: u64, cr3: u64, cr4v: u64, efer: u64) {
        self.paging = if cr0v & cr0::PG == 0 {
            Paging::Off
        } else if efer & crate::msr::EFER_LMA != 0 {
            Paging::Level4
        } else if cr4v & cr4::PAE != 0 {
            Paging::Pae
        } else {
            Paging::Legacy { pse: cr4v & cr4::PSE != 0 }
        };
        self.cr3 = cr3;
        self.wp = cr0v & cr0::WP != 0;
        self.nxe = efer & crate::msr::EFER_NXE != 0;
        if self.paging == Paging::Pae {
            let base = cr3 & 0xFFFF_FFE0;
            for i in 0..4 {
                self.pdpte[i] = self.phys_read(bus, base + i as u64 * 8, 8);
            }
        }
        self.flush();
    }

    #[inline(always)]
    fn index(lin: u64) -> usize {
        ((lin >> 12) as usize) & (TLB_SIZE - 1)
    }

    /// Fast path: host pointer for an access that does not cross a page, or None.
    #[inline(always)]
    pub(crate) fn lookup(&self, lin: u64, access: Access, user: bool) -> Option<*mut u8> {
        let e = &self.tlb[user as usize][Self::index(lin)];
        let tag = match access {
            Access::Read => e.read,
            Access::Write => e.write,
            Access::Exec => e.exec,
        };
        if tag == lin & PAGE_MASK { Some(e.addend.wrapping_add(lin as usize) as *mut u8) } else { None }
    }

    /// Guest-physical address of the page `lin` is in, if the TLB holds it for execution.
    #[inline(always)]
    pub(crate) fn exec_phys(&self, lin: u64, user: bool) -> u64 {
        self.tlb[user as usize][Self::index(lin)].phys | (lin & !PAGE_MASK)
    }

    /// Translate and, where the page is host memory, fill the TLB.
    /// Returns the physical address for the access.
    pub(crate) fn translate(&mut self, bus: &mut dyn Bus, lin: u64, access: Access, user: bool) -> Result<u64> {
        let t = match self.paging {
            Paging::Off => Translation { phys: lin & 0xFFFF_FFFF, writable: true, executable: true },
            _ => self.walk(bus, lin, access, user)?,
        };
        let phys = t.phys & self.a20_mask;
        let page = phys & PAGE_MASK;
        if let Some(r) = self.map.find(page) {
            let host = r.host as usize + (page - r.start) as usize;
            let addend = host.wrapping_sub((lin & PAGE_MASK) as usize);
            let tag = lin & PAGE_MASK;
            let e = &mut self.tlb[user as usize][Self::index(lin)];
            if e.read != tag && e.write != tag && e.exec != tag {
                *e = EMPTY;
            }
            e.addend = addend;
            e.phys = page;
            e.read = tag;
            if t.writable && r.writable && access == Access::Write {
                e.write = tag;
            }
            if t.executable {
                e.exec = tag;
            }
        }
        Ok(phys | (lin & !PAGE_MASK))
    }

    fn fault(lin: u64, access: Access, user: bool, present: bool, rsvd: bool, nx: bool) -> Fault {
        let mut code = 0;
        if present {
            code |= pf::P;
        }
        if access == Access::Write {
            code |= pf::W;
        }
        if user {
            code |= pf::U;
        }
        if rsvd {
            code |= pf::RSVD | pf::P;
        }
        if access == Access::Exec && nx {
            code |= pf::I;
        }
        Fault { vector: vector::PF, error: Some(code), cr2: Some(lin) }
    }

    /// Walk the paging structures (SDM Vol. 3, 4.3 - 4.5), setting accessed and dirty bits.
    fn walk(&mut self, bus: &mut dyn Bus, lin: u64, access: Access, user: bool) -> Result<Translation> {
        let write = access == Access::Write;
        let nx_on = self.nxe;
        // Entries visited, with their physical addresses, to set A/D bits once the walk succeeds.
        let mut path: [(u64, u64); 4] = [(0, 0); 4];
        let mut depth = 0;
        let mut allow_w = true;
        let mut allow_u = true;
        let mut allow_x = true;
        let rsvd_fault = |present| Self::fault(lin, access, user, present, true, nx_on);
        let phys;
        match self.paging {
            Paging::Off => unreachable!("walk with paging off"),
            Paging::Legacy { pse } => {
                let pde_addr = (self.cr3 & 0xFFFF_F000) | ((lin >> 20) & 0xFFC);
                let pde = self.phys_read(bus, pde_addr, 4);
                if pde & pte::P == 0 {
                    return Err(Self::fault(lin, access, user, false, false, nx_on));
                }
                allow_w &= pde & pte::RW != 0;
                allow_u &= pde & pte::US != 0;
                path[depth] = (pde_addr, pde);
                depth += 1;
                if pse && pde & pte::PS != 0 {
                    // 4 MiB page; PSE-36 bits 13..16 give physical bits 32..35.
                    if pde & (1 << 21) != 0 {
                        return Err(rsvd_fault(true));
                    }
                    let hi = ((pde >> 13) & 0xF) << 32;
                    phys = (pde & 0xFFC0_0000) | hi | (lin & 0x3F_FFFF);
                } else {
                    let pte_addr = (pde & 0xFFFF_F000) | ((lin >> 10) & 0xFFC);
                    let e = self.phys_read(bus, pte_addr, 4);
                    if e & pte::P == 0 {
                        return Err(Self::fault(lin, access, user, false, false, nx_on));
                    }
                    allow_w &= e & pte::RW != 0;
                    allow_u &= e & pte::US != 0;
                    path[depth] = (pte_addr, e);
                    depth += 1;
                    phys = (e & 0xFFFF_F000) | (lin & 0xFFF);
                }
            }
            Paging::Pae | Paging::Level4 => {
                let addr_mask = self.phys_mask & !0xFFF;
                let rsvd_nx = if nx_on { 0 } else { pte::NX };
                let rsvd_hi = ((1u64 << 52) - 1) & !self.phys_mask;
                let mut table;
                let mut level;
                if self.paging == Paging::Pae {
                    let pdpte = self.pdpte[((lin >> 30) & 3) as usize];
                    if pdpte & pte::P == 0 {
                        return Err(Self::fault(lin, access, user, false, false, nx_on));
                    }
                    if pdpte & (rsvd_hi | 0x1E6 | pte::NX) != 0 {
                        return Err(rsvd_fault(true));
                    }
                    table = pdpte & addr_mask;
                    level = 2;
                } else {
                    table = self.cr3 & addr_mask;
                    level = 4;
                }
                loop {
                    let shift = 12 + 9 * (level - 1);
                    let addr = table | (((lin >> shift) & 0x1FF) << 3);
                    let e = self.phys_read(bus, addr, 8);
                    if e & pte::P == 0 {
                        return Err(Self::fault(lin, access, user, false, false, nx_on));
                    }
                    if e & (rsvd_hi | rsvd_nx) != 0 {
                        return Err(rsvd_fault(true));
                    }
                    allow_w &= e & pte::RW != 0;
                    allow_u &= e & pte::US != 0;
                    allow_x &= e & pte::NX == 0;
                    path[depth] = (addr, e);
                    depth += 1;
                    let large = level > 1 && e & pte::PS != 0;
                    if large {
                        // 2 MiB (PD) or 1 GiB (PDPT, 4-level only) page.
                        if level == 4 || (level == 3 && self.paging == Paging::Pae) {
                            return Err(rsvd_fault(true));
                        }
                        let size_mask = (1u64 << shift) - 1;
                        if e & size_mask & !0x1FFF & addr_mask != 0 {
                            return Err(rsvd_fault(true));
                        }
                        phys = (e & addr_mask & !size_mask) | (lin & size_mask);
                        break;
                    }
                    if level == 1 {
                        phys = (e & addr_mask) | (lin & 0xFFF);
                        break;
                    }
                    table = e & addr_mask;
                    level -= 1;
                }
            }
        }
        // Permission checks (SDM Vol. 3, 4.6).
        if user && !allow_u {
            return Err(Self::fault(lin, access, user, true, false, nx_on));
        }
        if write && !allow_w && (user || self.wp) {
            return Err(Self::fault(lin, access, user, true, false, nx_on));
        }
        if access == Access::Exec && !allow_x {
            return Err(Self::fault(lin, access, user, true, false, nx_on));
        }
        // Accessed bits on every level; dirty on the leaf for a write.
        for (i, &(addr, e)) in path[..depth].iter().enumerate() {
            let leaf = i == depth - 1;
            let mut new = e | pte::A;
            if leaf && write {
                new |= pte::D;
            }
            if new != e {
                let size = if matches!(self.paging, Paging::Legacy { .. }) { 4 } else { 8 };
                self.phys_write(bus, addr, size, new);
                self.changed = true;
            }
        }
        let leaf_dirty = depth > 0 && (path[depth - 1].1 & pte::D != 0 || write);
        Ok(Translation {
            phys,
            // Only hand out a writable TLB entry once the dirty bit is set.
            writable: leaf_dirty && (allow_w || (!user && !self.wp)),
            executable: allow_x && (allow_u || !user),
        })
    }

    /// Read `size` (1..=8) bytes at a physical address.
    pub fn phys_read(&self, bus: &mut dyn Bus, addr: u64, size: usize) -> u64 {
        let addr = addr & self.a20_mask;
        if let Some((p, _)) = self.map.host_range(addr, size as u64) {
            // SAFETY: `host_range` checked that `size` bytes at `p` are inside a mapped region.
            unsafe { read_host(p, size) }
        } else if self.map.find(addr).is_some() {
            let mut v = 0;
            for i in 0..size {
                v |= self.phys_read(bus, addr + i as u64, 1) << (8 * i);
            }
            v
        } else {
            bus.mmio_read(addr, size as u8)
        }
    }

    /// Write `size` (1..=8) bytes at a physical address (dropped for ROM).
    pub fn phys_write(&self, bus: &mut dyn Bus, addr: u64, size: usize, value: u64) {
        let addr = addr & self.a20_mask;
        if let Some((p, writable)) = self.map.host_range(addr, size as u64) {
            if writable {
                // SAFETY: `host_range` checked the range; the region is writable host memory.
                unsafe { write_host(p, size, value) }
            }
        } else if self.map.find(addr).is_some() {
            for i in 0..size {
                self.phys_write(bus, addr + i as u64, 1, value >> (8 * i));
            }
        } else {
            bus.mmio_write(addr, size as u8, value);
        }
    }
}

/// # Safety
/// `p .. p + size` must be readable host memory.
#[inline(always)]
pub(crate) unsafe fn read_host(p: *const u8, size: usize) -> u64 {
    // SAFETY: the caller guarantees the range is readable; unaligned reads are allowed.
    unsafe {
        match size {
            1 => *p as u64,
            2 => u16::from_le((p as *const u16).read_unaligned()) as u64,
            4 => u32::from_le((p as *const u32).read_unaligned()) as u64,
            8 => u64::from_le((p as *const u64).read_unaligned()),
            _ => {
                let mut v = 0u64;
                for i in 0..size {
                    v |= (*p.add(i) as u64) << (8 * i);
                }
                v
            }
        }
    }
}

/// # Safety
/// `p .. p + size` must be writable host memory.
#[inline(always)]
pub(crate) unsafe fn write_host(p: *mut u8, size: usize, v: u64) {
    // SAFETY: the caller guarantees the range is writable; unaligned writes are allowed.
    unsafe {
        match size {
            1 => *p = v as u8,
            2 => (p as *mut u16).write_unaligned((v as u16).to_le()),
            4 => (p as *mut u32).write_unaligned((v as u32).to_le()),
            8 => (p as *mut u64).write_unaligned(v.to_le()),
            _ => {
                for i in 0..size {
                    *p.add(i) = (v >> (8 * i)) as u8;
                }
            }
        }
    }
}

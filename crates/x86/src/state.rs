//! Architectural state of one x86 CPU: general registers, flags, segment caches, control registers.

/// General register indices in encoding order (RAX=0 .. R15=15).
pub const RAX: usize = 0;
pub const RCX: usize = 1;
pub const RDX: usize = 2;
pub const RBX: usize = 3;
pub const RSP: usize = 4;
pub const RBP: usize = 5;
pub const RSI: usize = 6;
pub const RDI: usize = 7;

/// Segment register indices in encoding order.
pub const ES: usize = 0;
pub const CS: usize = 1;
pub const SS: usize = 2;
pub const DS: usize = 3;
pub const FS: usize = 4;
pub const GS: usize = 5;

/// RFLAGS bits (Intel SDM Vol. 1, 3.4.3).
pub mod flags {
    pub const CF: u64 = 1 << 0;
    pub const FIXED1: u64 = 1 << 1;
    pub const PF: u64 = 1 << 2;
    pub const AF: u64 = 1 << 4;
    pub const ZF: u64 = 1 << 6;
    pub const SF: u64 = 1 << 7;
    pub const TF: u64 = 1 << 8;
    pub const IF: u64 = 1 << 9;
    pub const DF: u64 = 1 << 10;
    pub const OF: u64 = 1 << 11;
    pub const IOPL: u64 = 3 << 12;
    pub const NT: u64 = 1 << 14;
    pub const RF: u64 = 1 << 16;
    pub const VM: u64 = 1 << 17;
    pub const AC: u64 = 1 << 18;
    pub const VIF: u64 = 1 << 19;
    pub const VIP: u64 = 1 << 20;
    pub const ID: u64 = 1 << 21;
    /// The six arithmetic status flags.
    pub const ARITH: u64 = CF | PF | AF | ZF | SF | OF;
    /// Bits software can change at all on the CPU ondol presents.
    pub const WRITABLE: u64 = ARITH | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;
}

/// CR0 bits (SDM Vol. 3, 2.5).
pub mod cr0 {
    pub const PE: u64 = 1 << 0;
    pub const MP: u64 = 1 << 1;
    pub const EM: u64 = 1 << 2;
    pub const TS: u64 = 1 << 3;
    pub const ET: u64 = 1 << 4;
    pub const NE: u64 = 1 << 5;
    pub const WP: u64 = 1 << 16;
    pub const AM: u64 = 1 << 18;
    pub const NW: u64 = 1 << 29;
    pub const CD: u64 = 1 << 30;
    pub const PG: u64 = 1 << 31;
}

/// CR4 bits (SDM Vol. 3, 2.5).
pub mod cr4 {
    pub const VME: u64 = 1 << 0;
    pub const PVI: u64 = 1 << 1;
    pub const TSD: u64 = 1 << 2;
    pub const DE: u64 = 1 << 3;
    pub const PSE: u64 = 1 << 4;
    pub const PAE: u64 = 1 << 5;
    pub const MCE: u64 = 1 << 6;
    pub const PGE: u64 = 1 << 7;
    pub const PCE: u64 = 1 << 8;
    pub const OSFXSR: u64 = 1 << 9;
    pub const OSXMMEXCPT: u64 = 1 << 10;
}

/// Segment descriptor attribute bits as kept in [`Segment::attr`]: the descriptor's
/// bits 40..47 in 0..7 and bits 52..55 in 8..11 (the layout Bochs and KVM use).
pub mod attr {
    pub const TYPE: u16 = 0xF;
    /// Data: accessed / code: accessed.
    pub const ACCESSED: u16 = 1 << 0;
    /// Data: writable / code: readable.
    pub const RW: u16 = 1 << 1;
    /// Data: expand-down / code: conforming.
    pub const DC: u16 = 1 << 2;
    /// Set for code segments.
    pub const CODE: u16 = 1 << 3;
    /// S: code or data (clear for system descriptors).
    pub const S: u16 = 1 << 4;
    pub const DPL_SHIFT: u16 = 5;
    pub const DPL: u16 = 3 << 5;
    pub const P: u16 = 1 << 7;
    pub const AVL: u16 = 1 << 8;
    pub const L: u16 = 1 << 9;
    pub const DB: u16 = 1 << 10;
    pub const G: u16 = 1 << 11;
    /// Present, writable, accessed data segment: what a real-mode load gives.
    pub const REAL_DATA: u16 = P | S | RW | ACCESSED;
    /// Present, readable, accessed code segment.
    pub const REAL_CODE: u16 = P | S | CODE | RW | ACCESSED;
}

/// A segment register: the visible selector and the hidden descriptor cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    pub selector: u16,
    pub base: u64,
    /// Limit in bytes (already scaled by the granularity bit).
    pub limit: u32,
    /// See [`attr`].
    pub attr: u16,
}

impl Segment {
    pub const fn real(selector: u16, attr: u16) -> Self {
        Segment { selector, base: (selector as u64) << 4, limit: 0xFFFF, attr }
    }
    pub fn dpl(&self) -> u8 {
        ((self.attr & attr::DPL) >> attr::DPL_SHIFT) as u8
    }
    pub fn present(&self) -> bool {
        self.attr & attr::P != 0
    }
    pub fn is_code(&self) -> bool {
        self.attr & attr::S != 0 && self.attr & attr::CODE != 0
    }
    /// D/B bit: 32-bit code, 32-bit stack, or 4 GiB expand-down bound.
    pub fn big(&self) -> bool {
        self.attr & attr::DB != 0
    }
}

/// GDTR / IDTR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DescTable {
    pub base: u64,
    pub limit: u32,
}

/// Everything a guest can observe in the CPU's registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuState {
    /// RAX..R15 in encoding order.
    pub gpr: [u64; 16],
    pub rip: u64,
    pub rflags: u64,
    /// ES, CS, SS, DS, FS, GS.
    pub seg: [Segment; 6],
    pub ldtr: Segment,
    pub tr: Segment,
    pub gdtr: DescTable,
    pub idtr: DescTable,
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub efer: u64,
    pub dr: [u64; 8],
}

impl Default for CpuState {
    fn default() -> Self {
        Self::reset()
    }
}

impl CpuState {
    /// The power-on state (SDM Vol. 3, Table 9-1): CS:IP = F000:FFF0 with the CS base at
    /// FFFF0000, so the first fetch reads the top of the 4 GiB space; EDX holds the signature.
    pub fn reset() -> Self {
        let data = Segment { selector: 0, base: 0, limit: 0xFFFF, attr: attr::REAL_DATA };
        let mut gpr = [0; 16];
        gpr[RDX] = crate::model::SIGNATURE as u64;
        CpuState {
            gpr,
            rip: 0xFFF0,
            rflags: flags::FIXED1,
            seg: [
                data,
                Segment { selector: 0xF000, base: 0xFFFF_0000, limit: 0xFFFF, attr: attr::REAL_CODE },
                data,
                data,
                data,
                data,
            ],
            ldtr: Segment { selector: 0, base: 0, limit: 0xFFFF, attr: attr::P | 2 },
            tr: Segment { selector: 0, base: 0, limit: 0xFFFF, attr: attr::P | 11 },
            gdtr: DescTable { base: 0, limit: 0xFFFF },
            idtr: DescTable { base: 0, limit: 0xFFFF },
            cr0: cr0::ET | cr0::CD | cr0::NW,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            efer: 0,
            dr: [0, 0, 0, 0, 0, 0, 0xFFFF_0FF0, 0x400],
        }
    }

    /// A real-mode state with CS:IP = `cs:ip` and every other segment at 0 (how a VMM starts a
    /// flat program or a boot sector without firmware).
    pub fn real_mode(cs: u16, ip: u16) -> Self {
        let mut s = Self::reset();
        s.seg[CS] = Segment::real(cs, attr::REAL_CODE);
        s.rip = ip as u64;
        s.gpr[RDX] = 0;
        s
    }
}

//! Decoded-instruction cache: iced-x86 decodes an instruction once; later fetches of the same
//! bytes at the same physical address reuse the result.
//!
//! Each slot keeps the instruction's raw bytes, and a hit requires the bytes in memory to still
//! match. That makes self-modifying code, DMA into code and a boot sector overwritten by a disk
//! read all safe without any write tracking. Instructions are decoded at IP 0, so branch targets
//! and RIP-relative addresses come out relative to the instruction's start and the same entry
//! serves any linear address the physical page is mapped at.

use crate::exec::Handler;
use iced_x86::Instruction;

const BITS: u32 = 13;
const SIZE: usize = 1 << BITS;

/// An instruction ready to execute.
#[derive(Clone, Copy)]
pub struct Decoded {
    pub instr: Instruction,
    pub handler: Handler,
    /// Length in bytes.
    pub len: u8,
    /// Operand size in bytes for the instruction's main operand (1, 2, 4 or 8).
    pub osz: u8,
    /// Address size in bytes (2, 4 or 8).
    pub asz: u8,
    /// Operand-size attribute in bytes (2, 4 or 8), from the mode and the prefixes.
    pub opsz: u8,
    /// A per-instruction constant chosen with the handler (condition code, stack slot size).
    pub aux: u8,
}

impl Decoded {
    /// Mask for an effective address of this instruction's address size.
    #[inline(always)]
    pub fn amask(&self) -> u64 {
        match self.asz {
            2 => 0xFFFF,
            4 => 0xFFFF_FFFF,
            _ => u64::MAX,
        }
    }
}

#[derive(Clone, Copy)]
struct Slot {
    /// Physical address | bitness << 56; `u64::MAX` when empty.
    tag: u64,
    bytes: u128,
    mask: u128,
    d: Decoded,
}

pub(crate) struct ICache {
    slots: Box<[Slot]>,
}

/// A placeholder entry (raises #UD if ever executed).
pub(crate) fn empty_decoded() -> Decoded {
    Decoded { instr: Instruction::default(), handler: crate::exec::invalid, len: 0, osz: 0, asz: 0, opsz: 0, aux: 0 }
}

impl ICache {
    pub fn new() -> Self {
        let empty = Slot { tag: u64::MAX, bytes: 0, mask: 0, d: empty_decoded() };
        ICache { slots: vec![empty; SIZE].into_boxed_slice() }
    }

    #[inline(always)]
    fn index(phys: u64) -> usize {
        ((phys ^ (phys >> BITS)) as usize) & (SIZE - 1)
    }

    #[inline(always)]
    fn tag(phys: u64, bits: u32) -> u64 {
        phys | ((bits as u64) << 56)
    }

    /// The cached instruction at `phys` if its bytes are still `bytes`.
    #[inline(always)]
    pub fn get(&self, phys: u64, bits: u32, bytes: u128) -> Option<&Decoded> {
        let s = &self.slots[Self::index(phys)];
        if s.tag == Self::tag(phys, bits) && (s.bytes ^ bytes) & s.mask == 0 { Some(&s.d) } else { None }
    }

    /// Store a decoded instruction; returns the cached copy.
    pub fn insert(&mut self, phys: u64, bits: u32, bytes: u128, d: Decoded) -> &Decoded {
        let mask = if d.len >= 16 { u128::MAX } else { (1u128 << (8 * d.len as u32)) - 1 };
        let slot = &mut self.slots[Self::index(phys)];
        *slot = Slot { tag: Self::tag(phys, bits), bytes: bytes & mask, mask, d };
        &slot.d
    }

    pub fn clear(&mut self) {
        for s in self.slots.iter_mut() {
            s.tag = u64::MAX;
        }
    }
}

//! Decoded-instruction cache: iced-x86 decodes a block of straight-line code once; later
//! entries at the same physical address reuse the result.
//!
//! Each block keeps the raw bytes it was decoded from, and entering it requires the bytes in
//! memory to still match. That makes self-modifying code, DMA into code and a boot sector
//! overwritten by a disk read all safe without tracking writes to code pages; a write into the
//! block that is running ends it after the writing instruction (see `Cpu::run`). Instructions
//! are decoded at IP 0, so branch targets and RIP-relative addresses come out relative to the
//! instruction's start and the same entry serves any linear address the page is mapped at.

use crate::exec::Handler;
use iced_x86::Instruction;

const BITS: u32 = 12;
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
    /// The memory operand's base and index as general-register numbers ([`EA_NONE`] for
    /// none, [`EA_RIP`] for a RIP-relative base), the index's scale as a shift, and the
    /// segment register (ES = 0 .. GS = 5): see `Cpu::ea`.
    pub ea_base: u8,
    pub ea_index: u8,
    pub ea_shift: u8,
    pub ea_seg: u8,
}

/// No base or index register in a memory operand.
pub const EA_NONE: u8 = 0xFF;
/// A RIP- (or EIP-) relative memory operand.
pub const EA_RIP: u8 = 0xFE;

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

/// Most instructions in one block.
pub(crate) const MAX_INSNS: usize = 16;
/// Most bytes in one block (a block never crosses a 4 KiB page either).
pub(crate) const MAX_BYTES: usize = 64;

/// A run of instructions that execute one after another: it starts where execution entered
/// it and ends at the first control transfer, at a page end, or at the size limits. The
/// fields are in the order an entry reads them (tag, bytes, then the first instructions).
#[repr(C)]
pub(crate) struct Block {
    /// Physical address of the first byte | bitness << 56 | VALID; 0 when empty.
    tag: u64,
    /// Length in bytes.
    pub len: usize,
    /// Number of instructions.
    pub n: usize,
    /// The bytes the instructions were decoded from.
    bytes: [u8; MAX_BYTES],
    pub insns: [Decoded; MAX_INSNS],
}

const VALID: u64 = 1 << 63;

pub(crate) struct ICache {
    blocks: Box<[Block]>,
}

/// A placeholder entry (raises #UD if ever executed).
pub(crate) fn empty_decoded() -> Decoded {
    Decoded {
        instr: Instruction::default(),
        handler: crate::exec::invalid,
        len: 0,
        osz: 0,
        asz: 0,
        opsz: 0,
        aux: 0,
        ea_base: EA_NONE,
        ea_index: EA_NONE,
        ea_shift: 0,
        ea_seg: 0,
    }
}

impl ICache {
    pub fn new() -> Self {
        let blocks = (0..SIZE)
            .map(|_| Block { tag: 0, len: 0, n: 0, bytes: [0; MAX_BYTES], insns: [empty_decoded(); MAX_INSNS] })
            .collect();
        ICache { blocks }
    }

    #[inline(always)]
    fn index(phys: u64) -> usize {
        ((phys ^ (phys >> BITS)) as usize) & (SIZE - 1)
    }

    #[inline(always)]
    fn tag(phys: u64, bits: u32) -> u64 {
        phys | ((bits as u64) << 56) | VALID
    }

    /// The block starting at `phys` if its bytes are still those at `host` (which has at
    /// least `avail` bytes readable).
    #[inline(always)]
    pub fn get(&self, phys: u64, bits: u32, host: *const u8, avail: usize) -> Option<&Block> {
        let b = &self.blocks[Self::index(phys)];
        if b.tag != Self::tag(phys, bits) || b.len > avail {
            return None;
        }
        if same_bytes(host, &b.bytes[..b.len]) { Some(b) } else { None }
    }

    /// The slot for a block at `phys`, emptied, to be filled with [`Block::push`].
    pub fn start(&mut self, phys: u64, bits: u32) -> &mut Block {
        let b = &mut self.blocks[Self::index(phys)];
        b.tag = Self::tag(phys, bits);
        b.len = 0;
        b.n = 0;
        b
    }

    pub fn clear(&mut self) {
        for b in self.blocks.iter_mut() {
            b.tag = 0;
        }
    }
}

/// Whether the bytes at `host` are `bytes`: eight at a time, as the blocks are short (a call
/// to memcmp costs more than the comparison).
#[inline(always)]
fn same_bytes(host: *const u8, bytes: &[u8]) -> bool {
    let n = bytes.len();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: the caller of `get` vouches for `avail >= n` readable bytes at `host`, and
        // `i + 8 <= n`; `bytes` has `n` bytes.
        let (a, b) = unsafe {
            ((host.add(i) as *const u64).read_unaligned(), (bytes.as_ptr().add(i) as *const u64).read_unaligned())
        };
        if a != b {
            return false;
        }
        i += 8;
    }
    while i < n {
        // SAFETY: as above, `i < n`.
        if unsafe { *host.add(i) } != bytes[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Block {
    /// Append an instruction decoded from `bytes` (its first `d.len` bytes). The caller keeps
    /// within [`MAX_INSNS`] and [`MAX_BYTES`].
    pub fn push(&mut self, d: Decoded, bytes: &[u8]) {
        let len = d.len as usize;
        self.bytes[self.len..self.len + len].copy_from_slice(&bytes[..len]);
        self.insns[self.n] = d;
        self.len += len;
        self.n += 1;
    }

    /// Forget the block (one whose first instruction could not be decoded).
    pub fn invalidate(&mut self) {
        self.tag = 0;
    }
}

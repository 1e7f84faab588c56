//! ondol's partition boot loader (guest/boot/vbr.S) and the kernel header `ondol disk create`
//! fills in at offset 1F0h of it: where the kernel is, how big, where it loads and enters.

use super::image::SECTOR_SIZE;
use crate::layout::{BOOT_SECTOR, EBDA_START};

/// Offset of the header in the boot sector.
pub const HEADER_OFFSET: usize = 0x1F0;
/// The header's magic, "ONDL".
pub const MAGIC: [u8; 4] = *b"ONDL";
/// Where ondol's boot loader loads a kernel by default, as a segment: 1000:0000 (linear
/// 0x10000), the first 64 KiB boundary above the boot sector at 0x7C00 and its stack.
pub const KERNEL_SEGMENT: u16 = 0x1000;
/// The lowest address a kernel may load at: the boot loader runs at 0000:7C00-7DFF with its
/// stack below it, and the IVT and BDA are lower still.
pub const LOWEST_LOAD: u64 = BOOT_SECTOR + SECTOR_SIZE as u64;
/// The largest kernel the default load address takes: it must end below the EBDA (0x9FC00,
/// just under 640 KiB), which the boot loader refuses to overwrite.
pub const MAX_KERNEL_BYTES: u64 = EBDA_START - (KERNEL_SEGMENT as u64) * 16;

/// The kernel header of ondol's boot loader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelHeader {
    /// The kernel's first sector counted from the partition's first sector (the boot
    /// loader's own sector is 0).
    pub offset: u32,
    /// The kernel's size in sectors.
    pub sectors: u16,
    /// Load segment: the kernel is loaded at SEGMENT:0000.
    pub segment: u16,
    /// Entry offset: the boot loader jumps to SEGMENT:ENTRY.
    pub entry: u16,
}

impl KernelHeader {
    /// The header `ondol disk create` writes for a kernel of `bytes` bytes stored right after
    /// the boot sector, loaded at 1000:0000 and entered at offset 0.
    pub fn for_kernel(bytes: usize) -> KernelHeader {
        let sectors = bytes.div_ceil(SECTOR_SIZE).min(u16::MAX as usize) as u16;
        KernelHeader { offset: 1, sectors, segment: KERNEL_SEGMENT, entry: 0 }
    }

    /// The header in a sector, when it carries the "ONDL" magic.
    pub fn parse(sector: &[u8; SECTOR_SIZE]) -> Option<KernelHeader> {
        let h = &sector[HEADER_OFFSET..HEADER_OFFSET + 14];
        if h[..4] != MAGIC {
            return None;
        }
        Some(KernelHeader {
            offset: u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
            sectors: u16::from_le_bytes([h[8], h[9]]),
            segment: u16::from_le_bytes([h[10], h[11]]),
            entry: u16::from_le_bytes([h[12], h[13]]),
        })
    }

    /// Writes the header (with its magic) into a boot sector.
    pub fn write(&self, sector: &mut [u8; SECTOR_SIZE]) {
        let h = &mut sector[HEADER_OFFSET..HEADER_OFFSET + 14];
        h[..4].copy_from_slice(&MAGIC);
        h[4..8].copy_from_slice(&self.offset.to_le_bytes());
        h[8..10].copy_from_slice(&self.sectors.to_le_bytes());
        h[10..12].copy_from_slice(&self.segment.to_le_bytes());
        h[12..14].copy_from_slice(&self.entry.to_le_bytes());
    }

    /// The linear address the kernel loads at.
    pub fn load_address(&self) -> u64 {
        self.segment as u64 * 16
    }

    /// The kernel's size in bytes (whole sectors).
    pub fn bytes(&self) -> u64 {
        self.sectors as u64 * SECTOR_SIZE as u64
    }

    /// The first linear address after the loaded kernel.
    pub fn load_end(&self) -> u64 {
        self.load_address() + self.bytes()
    }
}

/// ondol's boot loader with `header` filled in: a partition's first sector.
pub fn boot_sector(header: &KernelHeader) -> [u8; SECTOR_SIZE] {
    let mut s = [0u8; SECTOR_SIZE];
    s.copy_from_slice(crate::guest::boot::VBR);
    header.write(&mut s);
    s
}

/// True when a sector's code (everything before the header) is this ondol's boot loader.
pub fn is_this_boot_loader(sector: &[u8; SECTOR_SIZE]) -> bool {
    sector[..HEADER_OFFSET] == crate::guest::boot::VBR[..HEADER_OFFSET]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_boot_loader_is_one_sector_with_55aa_and_a_header() {
        let vbr = crate::guest::boot::VBR;
        assert_eq!(vbr.len(), SECTOR_SIZE);
        assert_eq!(&vbr[510..], &[0x55, 0xAA]);
        let mut s = [0u8; SECTOR_SIZE];
        s.copy_from_slice(vbr);
        assert_eq!(KernelHeader::parse(&s).map(|h| h.segment), Some(KERNEL_SEGMENT));
    }

    #[test]
    fn header_round_trips_and_keeps_the_boot_signature() {
        let h = KernelHeader { offset: 7, sectors: 300, segment: 0x2000, entry: 0x100 };
        let s = boot_sector(&h);
        assert_eq!(KernelHeader::parse(&s), Some(h));
        assert_eq!(&s[510..], &[0x55, 0xAA]);
        assert!(is_this_boot_loader(&s));
        assert_eq!(&s[0x1F0..0x1FE], &[b'O', b'N', b'D', b'L', 7, 0, 0, 0, 44, 1, 0, 0x20, 0, 1]);
    }

    #[test]
    fn a_sector_without_the_magic_has_no_header() {
        assert_eq!(KernelHeader::parse(&[0u8; SECTOR_SIZE]), None);
    }

    #[test]
    fn the_largest_kernel_ends_exactly_at_the_ebda() {
        assert_eq!(MAX_KERNEL_BYTES, 588_800);
        let h = KernelHeader::for_kernel(MAX_KERNEL_BYTES as usize);
        assert_eq!(h.load_end(), EBDA_START);
        assert_eq!(KernelHeader::for_kernel(1).sectors, 1);
        assert_eq!(KernelHeader::for_kernel(513).sectors, 2);
    }
}

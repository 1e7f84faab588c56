//! POST's tables: the interrupt vector table, the BIOS data area, the EBDA (with the ACPI
//! tables in it) and a clear screen.
//! Addresses of the ROM's entry points are those in guest/bios.S (IBM PC/AT locations).

use super::Bios;
use crate::layout::{BDA_START, EBDA_SIZE, EBDA_START, VGA_TEXT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// ROM segment.
const F000: u16 = 0xF000;

/// Offsets of the ROM entry points (guest/bios.S).
pub mod rom {
    pub const NMI: u16 = 0xE2C3;
    pub const INT13: u16 = 0xE3FE;
    pub const HD_PARAMS: u16 = 0xE401;
    pub const INT19: u16 = 0xE6F2;
    pub const CONFIG_TABLE: u16 = 0xE6F5;
    pub const INT14: u16 = 0xE739;
    pub const INT16: u16 = 0xE82E;
    pub const INT09: u16 = 0xE987;
    pub const INT40: u16 = 0xEC59;
    pub const IRQ_MASTER: u16 = 0xEF57;
    pub const DISKETTE_PARAMS: u16 = 0xEFC7;
    pub const INT17: u16 = 0xEFD2;
    pub const INT10: u16 = 0xF065;
    pub const VIDEO_PARAMS: u16 = 0xF0A4;
    pub const INT12: u16 = 0xF841;
    pub const INT11: u16 = 0xF84D;
    pub const INT15: u16 = 0xF859;
    pub const FONT_8X8: u16 = 0xFA6E;
    pub const INT1A: u16 = 0xFE6E;
    pub const INT08: u16 = 0xFEA5;
    pub const IRQ7: u16 = 0xFF00;
    pub const IRQ_SLAVE: u16 = 0xFF03;
    pub const IRQ15: u16 = 0xFF06;
    pub const IRQ8: u16 = 0xFF09;
    pub const INT18: u16 = 0xFF0C;
    pub const IRET: u16 = 0xFF53;
    pub const INT05: u16 = 0xFF54;
}

/// BIOS data area fields (offsets from 0x400; IBM AT Technical Reference, RBIL MEMORY.LST).
pub mod bda {
    pub const COM_PORTS: u64 = 0x00;
    pub const EBDA_SEGMENT: u64 = 0x0E;
    pub const EQUIPMENT: u64 = 0x10;
    pub const BASE_MEMORY_KIB: u64 = 0x13;
    pub const KBD_FLAGS: u64 = 0x17;
    pub const KBD_HEAD: u64 = 0x1A;
    pub const KBD_TAIL: u64 = 0x1C;
    pub const VIDEO_MODE: u64 = 0x49;
    pub const COLUMNS: u64 = 0x4A;
    pub const PAGE_SIZE: u64 = 0x4C;
    pub const PAGE_OFFSET: u64 = 0x4E;
    pub const CURSOR_POS: u64 = 0x50;
    pub const CURSOR_SHAPE: u64 = 0x60;
    pub const ACTIVE_PAGE: u64 = 0x62;
    pub const CRTC_BASE: u64 = 0x63;
    pub const MODE_CONTROL: u64 = 0x65;
    pub const PALETTE: u64 = 0x66;
    pub const TICKS: u64 = 0x6C;
    pub const MIDNIGHT: u64 = 0x70;
    pub const HARD_DISKS: u64 = 0x75;
    pub const KBD_START: u64 = 0x80;
    pub const KBD_END: u64 = 0x82;
    pub const ROWS_MINUS_1: u64 = 0x84;
    pub const CHAR_HEIGHT: u64 = 0x85;
    pub const VIDEO_CONTROL: u64 = 0x87;
    pub const VIDEO_SWITCHES: u64 = 0x88;
    pub const VGA_FLAGS: u64 = 0x89;
}

fn w8(m: &GuestMemoryMmap, a: u64, v: u8) {
    let _ = m.write_obj(v, GuestAddress(a));
}
fn w16(m: &GuestMemoryMmap, a: u64, v: u16) {
    let _ = m.write_obj(v, GuestAddress(a));
}
fn w32(m: &GuestMemoryMmap, a: u64, v: u32) {
    let _ = m.write_obj(v, GuestAddress(a));
}

pub(crate) fn r8(m: &GuestMemoryMmap, a: u64) -> u8 {
    m.read_obj(GuestAddress(a)).unwrap_or(0)
}
pub(crate) fn r16(m: &GuestMemoryMmap, a: u64) -> u16 {
    m.read_obj(GuestAddress(a)).unwrap_or(0)
}
pub(crate) fn r32(m: &GuestMemoryMmap, a: u64) -> u32 {
    m.read_obj(GuestAddress(a)).unwrap_or(0)
}

/// INT 11h: the equipment word.
pub fn equipment_word(m: &GuestMemoryMmap) -> u16 {
    r16(m, BDA_START + bda::EQUIPMENT)
}

/// INT 12h: KiB of conventional memory below the EBDA.
pub fn base_memory_kib(m: &GuestMemoryMmap) -> u16 {
    r16(m, BDA_START + bda::BASE_MEMORY_KIB)
}

/// Point interrupt vector `v` at F000:`off`.
fn vector(m: &GuestMemoryMmap, v: u8, seg: u16, off: u16) {
    w16(m, v as u64 * 4, off);
    w16(m, v as u64 * 4 + 2, seg);
}

impl Bios {
    /// Build the IVT, BDA, EBDA and clear the screen (POST, service F0h).
    pub(super) fn post(&mut self) {
        let m = &self.cfg.mem;
        // Every vector to an IRET first, then the BIOS's own.
        for v in 0..=255u8 {
            vector(m, v, F000, rom::IRET);
        }
        let entries: &[(u8, u16)] = &[
            (0x02, rom::NMI),
            (0x05, rom::INT05),
            (0x08, rom::INT08),
            (0x09, rom::INT09),
            (0x0A, rom::IRQ_MASTER),
            (0x0B, rom::IRQ_MASTER),
            (0x0C, rom::IRQ_MASTER),
            (0x0D, rom::IRQ_MASTER),
            (0x0E, rom::IRQ_MASTER),
            (0x0F, rom::IRQ7),
            (0x10, rom::INT10),
            (0x11, rom::INT11),
            (0x12, rom::INT12),
            (0x13, rom::INT13),
            (0x14, rom::INT14),
            (0x15, rom::INT15),
            (0x16, rom::INT16),
            (0x17, rom::INT17),
            (0x18, rom::INT18),
            (0x19, rom::INT19),
            (0x1A, rom::INT1A),
            (0x1D, rom::VIDEO_PARAMS),
            (0x1E, rom::DISKETTE_PARAMS),
            (0x40, rom::INT40),
            (0x41, rom::HD_PARAMS),
            (0x43, rom::FONT_8X8),
            (0x70, rom::IRQ8),
            (0x71, rom::IRQ_SLAVE),
            (0x72, rom::IRQ_SLAVE),
            (0x73, rom::IRQ_SLAVE),
            (0x74, rom::IRQ_SLAVE),
            (0x75, rom::IRQ_SLAVE),
            (0x76, rom::IRQ_SLAVE),
            (0x77, rom::IRQ15),
        ];
        for &(v, off) in entries {
            vector(m, v, F000, off);
        }
        // INT 1Fh: the upper half of the 8x8 font (none): a null pointer, as IBM's BIOS.
        vector(m, 0x1F, 0, 0);

        // BIOS data area.
        let _ = m.write_slice(&[0u8; 256], GuestAddress(BDA_START));
        let b = |off: u64| BDA_START + off;
        w16(m, b(bda::COM_PORTS), crate::layout::PORT_COM1);
        w16(m, b(bda::EBDA_SEGMENT), (EBDA_START >> 4) as u16);
        // Equipment: 80x25 colour (bits 4-5 = 10b), PS/2 mouse (bit 2), math coprocessor
        // (bit 1: the x87 on either backend), one serial port (bits 9-11). No diskette.
        w16(m, b(bda::EQUIPMENT), 0x0020 | 0x0004 | 0x0002 | (1 << 9));
        w16(m, b(bda::BASE_MEMORY_KIB), (EBDA_START >> 10) as u16);
        w16(m, b(bda::KBD_HEAD), 0x1E);
        w16(m, b(bda::KBD_TAIL), 0x1E);
        w16(m, b(bda::KBD_START), 0x1E);
        w16(m, b(bda::KBD_END), 0x3E);
        w8(m, b(bda::HARD_DISKS), self.cfg.disks.len().min(255) as u8);
        w32(m, b(bda::TICKS), self.ticks_since_midnight());
        // EBDA: its size in KiB in the first word.
        let _ = m.write_slice(&vec![0u8; EBDA_SIZE as usize], GuestAddress(EBDA_START));
        w16(m, EBDA_START, (EBDA_SIZE >> 10) as u16);
        // ACPI tables in the EBDA, where OSPM looks for the RSDP.
        let acpi = super::acpi::write(m);
        // Video: mode 3, 80x25 colour text, cursor at the top left.
        self.set_mode(3);
        self.cfg.trace.event(format!(
            "POST: IVT, BIOS data area and EBDA built, ACPI tables (RSDP at {:#x}) written, screen cleared",
            acpi.rsdp
        ));
    }

    /// Timer ticks (18.2 Hz) since midnight, from the RTC.
    fn ticks_since_midnight(&self) -> u32 {
        let secs = crate::bus::lock(&self.cfg.cmos).unix_secs().rem_euclid(86_400) as u64;
        // 1193182 / 65536 ticks per second.
        (secs * 1_193_182 / 65_536) as u32
    }
}

/// Linear address of the text cell (row, col) on `page`.
pub(crate) fn text_cell(page: u8, row: u8, col: u8) -> u64 {
    VGA_TEXT + page as u64 * 0x1000 + (row as u64 * 80 + col as u64) * 2
}

//! INT 15h system services: the E820 memory map, E801h and 88h memory sizes, the A20 gate
//! (24xxh), the configuration table (C0h), waits (86h). Everything else fails with CF set and
//! AH = 86h ("function not supported"), as the IBM AT BIOS defines it.

use super::Bios;
use super::frame::Frame;
use crate::layout::{BIOS_SIZE, BIOS_START, CONVENTIONAL_END, EBDA_START, HIGH_MEMORY, HIGH_RAM_START};
use vm_memory::{Bytes, GuestAddress};

const UNSUPPORTED: u8 = 0x86;
/// "SMAP", the signature E820 callers pass in EDX and get back in EAX.
const SMAP: u32 = 0x534D_4150;

/// One range of the E820 map (ACPI 6.5, 15.1: System Address Map Interfaces).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    pub base: u64,
    pub len: u64,
    /// 1 usable RAM, 2 reserved.
    pub kind: u32,
}

pub const E820_RAM: u32 = 1;
pub const E820_RESERVED: u32 = 2;

/// The memory map: conventional memory below the EBDA, the EBDA and the BIOS ROM reserved,
/// extended memory, the firmware's alias below 4 GiB reserved, and RAM above 4 GiB.
pub fn e820_map(below_4g: u64, above_4g: u64, rom_size: u64) -> Vec<E820Entry> {
    let mut m = vec![
        E820Entry { base: 0, len: EBDA_START, kind: E820_RAM },
        E820Entry { base: EBDA_START, len: CONVENTIONAL_END - EBDA_START, kind: E820_RESERVED },
        E820Entry { base: BIOS_START, len: BIOS_SIZE, kind: E820_RESERVED },
    ];
    if below_4g > HIGH_MEMORY {
        m.push(E820Entry { base: HIGH_MEMORY, len: below_4g - HIGH_MEMORY, kind: E820_RAM });
    }
    if rom_size > 0 {
        m.push(E820Entry { base: (1 << 32) - rom_size, len: rom_size, kind: E820_RESERVED });
    }
    if above_4g > 0 {
        m.push(E820Entry { base: HIGH_RAM_START, len: above_4g, kind: E820_RAM });
    }
    m
}

impl Bios {
    pub(super) fn int15(&mut self, f: &mut Frame) {
        match f.ah() {
            0x24 => self.handle_1524(f),
            0x4F => f.set_cf(true), // keyboard intercept: keep the scan code
            0x86 => self.handle_1586(f),
            0x88 => {
                // KiB above 1 MiB, capped as the 16-bit interface allows (and at 15 MiB
                // below the ISA hole old callers expect: SeaBIOS caps at 63 MiB).
                let kib = (self.cfg.ram_below_4g.saturating_sub(HIGH_MEMORY) >> 10).min(0xFC00);
                f.set_ax(kib as u16);
                f.set_cf(false);
            }
            0x90 | 0x91 => {
                f.set_ah(0);
                f.set_cf(false);
            }
            0xC0 => {
                f.es = 0xF000;
                f.set_bx(super::post::rom::CONFIG_TABLE);
                f.ok();
            }
            0xE8 => match f.al() {
                0x01 => self.handle_15e801(f),
                0x20 if f.edx == SMAP => self.handle_15e820(f),
                _ => f.fail(UNSUPPORTED),
            },
            _ => f.fail(UNSUPPORTED),
        }
    }

    /// 2400h disable A20, 2401h enable, 2402h status in AL, 2403h support (keyboard
    /// controller and port 92h).
    fn handle_1524(&mut self, f: &mut Frame) {
        match f.al() {
            0x00 | 0x01 => {
                self.cfg.control.set_a20(f.al() == 1);
                f.ok();
            }
            0x02 => {
                f.set_al(self.cfg.control.a20_enabled() as u8);
                f.ok();
                f.set_cx(0);
            }
            0x03 => {
                f.set_bx(0x0003);
                f.ok();
            }
            _ => f.fail(UNSUPPORTED),
        }
    }

    /// 86h: wait CX:DX microseconds. Asks the stub to wait for interrupts until the time has
    /// come, so the guest's timer keeps ticking meanwhile.
    fn handle_1586(&mut self, f: &mut Frame) {
        let now = self.cfg.clock.now_ns();
        let until = *self.wait_until.get_or_insert_with(|| {
            let us = ((f.cx() as u64) << 16) | f.dx() as u64;
            now + us * 1000
        });
        if now < until {
            f.retry = true;
            return;
        }
        self.wait_until = None;
        f.ok();
    }

    /// E801h: KiB between 1 and 16 MiB in AX and CX, 64 KiB blocks above 16 MiB (below
    /// 4 GiB) in BX and DX.
    fn handle_15e801(&mut self, f: &mut Frame) {
        let below = self.cfg.ram_below_4g;
        let low = (below.saturating_sub(HIGH_MEMORY).min(15 << 20) >> 10) as u16;
        let high = (below.saturating_sub(16 << 20) >> 16).min(0xFFFF) as u16;
        f.set_ax(low);
        f.set_cx(low);
        f.set_bx(high);
        f.set_dx(high);
        f.set_cf(false);
    }

    /// E820h: entry EBX of the map into ES:DI; EBX = next entry or 0 after the last.
    fn handle_15e820(&mut self, f: &mut Frame) {
        let i = f.ebx as usize;
        let (Some(e), true) = (self.e820.get(i), f.ecx >= 20) else {
            f.fail(UNSUPPORTED);
            return;
        };
        let mut out = [0u8; 20];
        out[0..8].copy_from_slice(&e.base.to_le_bytes());
        out[8..16].copy_from_slice(&e.len.to_le_bytes());
        out[16..20].copy_from_slice(&e.kind.to_le_bytes());
        if self.cfg.mem.write_slice(&out, GuestAddress(Frame::linear(f.es, f.di()))).is_err() {
            f.fail(UNSUPPORTED);
            return;
        }
        f.eax = SMAP;
        f.ecx = 20;
        f.ebx = if i + 1 < self.e820.len() { i as u32 + 1 } else { 0 };
        f.set_cf(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_is_sorted_disjoint_and_covers_the_ram() {
        let m = e820_map(0xC000_0000, 2 << 30, 64 << 10);
        for w in m.windows(2) {
            assert!(w[0].base + w[0].len <= w[1].base, "{w:x?}");
        }
        let ram: u64 = m.iter().filter(|e| e.kind == E820_RAM).map(|e| e.len).sum();
        assert_eq!(ram, EBDA_START + (0xC000_0000 - HIGH_MEMORY) + (2 << 30));
        assert!(m.iter().any(|e| e.kind == E820_RESERVED && e.base == 0xFFFF_0000));
    }

    #[test]
    fn a_tiny_machine_has_only_conventional_memory() {
        let m = e820_map(1 << 20, 0, 0);
        assert_eq!(m.iter().filter(|e| e.kind == E820_RAM).count(), 1);
    }
}

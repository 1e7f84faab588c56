//! INT 19h (boot) and INT 18h (boot failure), and the direct kernel boot that takes INT 19h's
//! place when `--kernel` is given.

use super::Bios;
use super::frame::{Frame, IF};
use crate::layout::BOOT_SECTOR;
use vm_memory::{Bytes, GuestAddress};

/// What INT 19h starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootTarget {
    /// The boot sector of hard disk 80h, loaded at 0000:7C00.
    Disk,
    /// A Linux kernel the VMM already loaded (16-bit boot protocol): enter its setup code.
    Linux(LinuxEntry),
}

/// Where the real-mode setup code of a loaded Linux kernel is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinuxEntry {
    /// Segment of the setup code (boot_params); it is entered at (segment + 20h):0000.
    pub segment: u16,
}

impl Bios {
    pub(super) fn int19(&mut self, f: &mut Frame) {
        match self.cfg.boot.clone() {
            BootTarget::Disk => self.boot_disk(f),
            BootTarget::Linux(entry) => {
                self.cfg.trace.event(format!(
                    "INT 19h: entering the Linux setup code at {:04x}:0000 (boot protocol, real mode)",
                    entry.segment + 0x20
                ));
                f.cs = entry.segment + 0x20;
                f.ip = 0;
                f.ds = entry.segment;
                f.es = entry.segment;
                f.fs = entry.segment;
                f.gs = entry.segment;
                f.flags = 0x0002;
            }
        }
    }

    fn boot_disk(&mut self, f: &mut Frame) {
        self.cfg.trace.event("INT 19h: boot from disk 80h".to_string());
        let Some(disk) = self.cfg.disks.first_mut() else {
            self.fail_boot("no bootable disk: no disk is attached (give --disk IMG)".into());
            return;
        };
        let name = disk.name().to_string();
        let mut sector = [0u8; 512];
        if let Err(e) = disk.read(0, &mut sector) {
            self.fail_boot(format!("disk 80h ({name}) is not bootable: cannot read sector 0: {e}"));
            return;
        }
        if sector[510..] != [0x55, 0xAA] {
            let msg = format!("disk 80h ({name}) is not bootable: sector 0 has no 55AA boot signature");
            self.console_bytes(format!("ondol BIOS: {msg}\r\n").as_bytes());
            self.fail_boot(msg);
            return;
        }
        if self.cfg.mem.write_slice(&sector, GuestAddress(BOOT_SECTOR)).is_err() {
            self.fail_boot("cannot place the boot sector at 0000:7C00".into());
            return;
        }
        self.cfg.trace.mbr_loaded(&sector);
        f.cs = 0;
        f.ip = BOOT_SECTOR as u16;
        f.set_dl(0x80);
        f.flags = IF | 0x0002;
    }

    /// INT 18h: nothing could boot. On a PC this shows a message and waits; ondol ends the run
    /// with the message the boot code printed last.
    pub(super) fn int18(&mut self, _: &mut Frame) {
        let last = self.last_console_line();
        let msg = if last.is_empty() {
            "the boot code gave up (INT 18h) without a message".to_string()
        } else {
            format!("{last} (INT 18h)")
        };
        self.fail_boot(msg);
    }
}

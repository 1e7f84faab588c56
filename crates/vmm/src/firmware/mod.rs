//! ondol's BIOS: the ROM (guest/bios.S) plus the services in Rust, reached from the ROM's stubs
//! through the BIOS call port. One file per service, handlers named by interrupt and function
//! (as SeaBIOS's `handle_1302`): `video.rs` INT 10h, `disk.rs` INT 13h, `system.rs` INT 15h,
//! `keyboard.rs` INT 16h, `time.rs` INT 1Ah, `boot.rs` INT 18h/19h and the direct kernel boot,
//! `post.rs` the tables POST builds, `acpi.rs` the ACPI tables; this file holds the device and the small services
//! (INT 11h, 12h, 14h, 17h).

pub mod acpi;
mod boot;
mod disk;
pub mod frame;
mod keyboard;
pub mod post;
mod system;
mod time;
mod video;

use crate::bus::{BusDevice, lock};
use crate::clock::Clock;
use crate::devices::cmos::Cmos;
use crate::devices::serial::Serial;
use crate::devices::{Control, StopReason};
use crate::disk::Disk;
use crate::trace::Trace;
use frame::Frame;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use vm_memory::GuestMemoryMmap;

pub use boot::{BootTarget, LinuxEntry};
pub use system::E820Entry;

/// Service numbers above the interrupt vectors (guest/bios.S).
const SVC_POST: u8 = 0xF0;

/// The built-in BIOS ROM image (64 KiB).
pub fn rom() -> &'static [u8] {
    crate::guest::BIOS
}

/// Everything the BIOS services reach.
pub struct BiosConfig {
    pub mem: GuestMemoryMmap,
    /// Hard disks 80h, 81h, ...
    pub disks: Vec<Disk>,
    /// What to do at INT 19h.
    pub boot: BootTarget,
    /// The console: INT 10h output goes here as well as to the VGA text buffer.
    pub console: Box<dyn Write + Send>,
    /// Whether the console is a terminal (INT 10h cursor moves become ANSI sequences).
    pub console_is_tty: bool,
    /// Keyboard input for INT 16h comes from COM1's receiver.
    pub serial: Arc<Mutex<Serial>>,
    pub cmos: Arc<Mutex<Cmos>>,
    pub control: Arc<Control>,
    /// Whether the machine can close the A20 gate (emu); KVM always runs with A20 open, so
    /// INT 15h 2400h reports that it cannot disable it.
    pub a20_gate: bool,
    pub clock: Clock,
    pub trace: Arc<Trace>,
    pub ram_below_4g: u64,
    pub ram_above_4g: u64,
    /// Size of the firmware image mapped below 4 GiB (reserved in the E820 map).
    pub rom_size: u64,
    /// Where a boot failure's message is left for the machine to report.
    pub failure: Arc<Mutex<Option<String>>>,
}

/// The BIOS call port device and the state of the services.
pub struct Bios {
    cfg: BiosConfig,
    /// INT 13h 01h: status of the last operation, per drive.
    disk_status: Vec<u8>,
    /// INT 16h: keys read from the console but not yet consumed (scan code << 8 | ASCII).
    keys: VecDeque<u16>,
    /// Bytes read from the console not yet turned into keys (escape sequences).
    pending: VecDeque<u8>,
    /// INT 10h: where the console's cursor is (row, column), to turn cursor moves into
    /// newlines or ANSI sequences.
    console_pos: (u8, u8),
    /// The console line being written, and the last complete one (for failure reports).
    line: String,
    last_line: String,
    /// INT 15h 86h: guest time the current wait ends.
    wait_until: Option<u64>,
    e820: Vec<E820Entry>,
}

impl Bios {
    pub fn new(cfg: BiosConfig) -> Self {
        let e820 = system::e820_map(cfg.ram_below_4g, cfg.ram_above_4g, cfg.rom_size);
        let drives = cfg.disks.len();
        Bios {
            cfg,
            disk_status: vec![0; drives],
            keys: VecDeque::new(),
            pending: VecDeque::new(),
            console_pos: (0, 0),
            line: String::new(),
            last_line: String::new(),
            wait_until: None,
            e820,
        }
    }

    /// Give the disks back (at the end of a boot; the next boot's BIOS gets them).
    pub fn take_disks(&mut self) -> Vec<Disk> {
        std::mem::take(&mut self.cfg.disks)
    }

    /// The E820 map the BIOS reports.
    pub fn e820(&self) -> &[E820Entry] {
        &self.e820
    }

    /// Handle one call: `frame_ptr` is SS << 16 | SP of the saved registers.
    fn call(&mut self, frame_ptr: u32) {
        let (ss, sp) = ((frame_ptr >> 16) as u16, frame_ptr as u16);
        let Some(mut f) = Frame::load(&self.cfg.mem, ss, sp) else {
            self.fail_boot(format!("the BIOS call frame at {ss:04x}:{sp:04x} is not in RAM"));
            return;
        };
        match f.service {
            0x10 => self.int10(&mut f),
            0x11 => f.set_ax(post::equipment_word(&self.cfg.mem)),
            0x12 => f.set_ax(post::base_memory_kib(&self.cfg.mem)),
            0x13 => self.int13(&mut f),
            0x14 => self.int14(&mut f),
            0x15 => self.int15(&mut f),
            0x16 => self.int16(&mut f),
            0x17 => f.set_ah(0x01), // no printer: time-out
            0x18 => self.int18(&mut f),
            0x19 => self.int19(&mut f),
            0x1A => self.int1a(&mut f),
            0x40 => f.fail(0x80), // no diskette drive: time-out
            SVC_POST => self.post(),
            other => {
                crate::devices::dev_debug!("bios: unknown service {other:#x}");
                f.set_cf(true);
            }
        }
        f.store(&self.cfg.mem);
    }

    /// INT 14h: serial port services on COM1. Output goes to the console.
    fn int14(&mut self, f: &mut Frame) {
        if f.dx() != 0 {
            f.set_ah(0x80);
            return;
        }
        match f.ah() {
            // Initialise: report the line status (transmitter empty) and modem status.
            0x00 | 0x03 => f.set_ax(0x6000),
            0x01 => {
                self.console_bytes(&[f.al()]);
                f.set_ah(0x60);
            }
            0x02 => match self.console_byte() {
                Some(b) => {
                    f.set_al(b);
                    f.set_ah(0);
                }
                None => f.set_ah(0x80),
            },
            _ => f.set_ah(0x80),
        }
    }

    /// Screen output (INT 10h) mirrored to the console, until the guest writes COM1 itself:
    /// from then on the console is the guest's serial output alone (a kernel or boot loader
    /// with a serial console prints everything there, and would otherwise show twice).
    fn screen_to_console(&mut self, b: &[u8]) {
        if lock(&self.cfg.serial).guest_transmitted() {
            self.track_line(b);
            return;
        }
        self.console_bytes(b);
    }

    /// Write raw bytes to the console.
    fn console_bytes(&mut self, b: &[u8]) {
        let _ = self.cfg.console.write_all(b);
        let _ = self.cfg.console.flush();
        self.track_line(b);
    }

    /// Keep the line being printed (for failure reports).
    fn track_line(&mut self, b: &[u8]) {
        for &c in b {
            match c {
                b'\n' => self.last_line = std::mem::take(&mut self.line),
                b'\r' => {}
                0x20..=0x7E if self.line.len() < 512 => self.line.push(c as char),
                _ => {}
            }
        }
    }

    /// One byte typed on the console: one set aside earlier, else from COM1's receiver.
    fn console_byte(&mut self) -> Option<u8> {
        self.pending.pop_front().or_else(|| self.serial_byte())
    }

    /// One byte from COM1's receiver, if one is waiting.
    fn serial_byte(&mut self) -> Option<u8> {
        let mut s = lock(&self.cfg.serial);
        // Line status bit 0: data ready. With DLAB set, offset 0 is the divisor: leave it.
        if s.read(3) & 0x80 != 0 || s.read(5) & 1 == 0 {
            return None;
        }
        Some(s.read(0))
    }

    /// End the run: the boot cannot go on.
    fn fail_boot(&mut self, msg: String) {
        self.cfg.trace.event(format!("boot failed: {msg}"));
        *lock(&self.cfg.failure) = Some(msg);
        self.cfg.control.request_stop(StopReason::BootFailed);
    }

    /// The console line the guest printed last (for failure reports).
    fn last_console_line(&self) -> String {
        let l = if self.line.trim().is_empty() { &self.last_line } else { &self.line };
        l.trim().to_string()
    }
}

impl BusDevice for Bios {
    fn read(&mut self, _offset: u64, data: &mut [u8]) {
        // Reads identify the port: "oB" (ondol BIOS).
        for (i, b) in data.iter_mut().enumerate() {
            *b = *b"oBIO".get(i).unwrap_or(&0);
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if offset != 0 || data.len() != 4 {
            crate::devices::dev_debug!("bios: {}-byte write at offset {offset}", data.len());
            return;
        }
        self.call(u32::from_le_bytes([data[0], data[1], data[2], data[3]]));
    }
}

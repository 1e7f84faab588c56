//! `--trace boot`: a timeline of the boot chain on stderr, as it happens, with guest and host
//! time. Every stage is derived from what the guest does: POST codes on port 80h, the BIOS's
//! INT 19h, each disk read (which sectors, to where), and the CPU reaching the addresses where
//! loaded code is expected to start (0000:7C00, a kernel's entry). Nothing is printed by the
//! boot code itself.

use crate::bus::lock;
use crate::clock::Clock;
use crate::disk::{KernelHeader, Mbr, boot_code};
use std::sync::Mutex;
use std::time::Instant;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Where the boot chain is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Firmware,
    /// The MBR is at 7C00; `running` once the CPU got there.
    Mbr {
        running: bool,
    },
    /// A partition's boot sector is at 7C00.
    BootSector {
        running: bool,
    },
    /// Control reached the kernel.
    Kernel,
}

#[derive(Default)]
struct Loading {
    first_lba: Option<u64>,
    sectors: u64,
    low: u64,
    high: u64,
}

struct State {
    stage: Stage,
    /// (index 1..4, active, type, first LBA, sectors) from the MBR INT 19h loaded.
    partitions: Vec<(usize, bool, u8, u64, u64)>,
    /// Where the loaded kernel will be entered, when ondol's boot loader says so:
    /// (linear, segment, offset).
    kernel_entry: Option<(u64, u16, u16)>,
    /// A Linux kernel placed by ondol: the linear address of its 32-bit entry (code32_start),
    /// where the setup code jumps in protected mode.
    linux_entry: Option<u64>,
    loading: Loading,
    /// Addresses execution is watched at.
    watch: Vec<u64>,
    console_line: String,
    saw_kernel_output: bool,
    saw_init: bool,
    /// The firmware is someone else's ROM (`--firmware`): its POST codes mean what it says.
    foreign_firmware: bool,
}

/// The boot trace. Cheap when disabled: every method returns at once.
pub struct Trace {
    enabled: bool,
    start: Instant,
    clock: Clock,
    st: Mutex<State>,
    /// Bumped whenever the watch list changes.
    generation: std::sync::atomic::AtomicU64,
}

impl Trace {
    pub fn new(enabled: bool, clock: Clock) -> Self {
        Trace {
            enabled,
            start: Instant::now(),
            clock,
            st: Mutex::new(State {
                stage: Stage::Firmware,
                partitions: Vec::new(),
                kernel_entry: None,
                loading: Loading::default(),
                watch: Vec::new(),
                console_line: String::new(),
                saw_kernel_output: false,
                saw_init: false,
                foreign_firmware: false,
                linux_entry: None,
            }),
            generation: Default::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Print one line of the timeline.
    pub fn event(&self, what: String) {
        if !self.enabled {
            return;
        }
        let guest = self.clock.now_ns() as f64 / 1e9;
        let host = self.start.elapsed().as_secs_f64();
        eprintln!("[boot] guest {guest:>10.6} s  host {host:>8.3} s  {what}");
    }

    /// The addresses to watch for execution, and a generation that changes with them.
    pub fn watch(&self) -> (u64, Vec<u64>) {
        let g = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        (g, lock(&self.st).watch.clone())
    }

    pub fn watch_generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn set_watch(&self, st: &mut State, addrs: Vec<u64>) {
        st.watch = addrs;
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The machine starts at the reset vector.
    /// The CPU leaves reset into `firmware`; `ours` when that is ondol's BIOS (whose POST
    /// codes the trace names).
    pub fn reset(&self, firmware: &str, ours: bool) {
        lock(&self.st).foreign_firmware = !ours;
        self.event(format!("reset: the CPU starts at F000:FFF0 (CS base FFFF0000) in {firmware}"));
    }

    /// A code written to the POST port.
    pub fn post_code(&self, code: u8) {
        if !self.enabled {
            return;
        }
        let what = match code {
            _ if lock(&self.st).foreign_firmware => "",
            0x01 => " (ondol BIOS: POST started)",
            0x10 => " (ondol BIOS: interrupt controllers)",
            0x11 => " (ondol BIOS: timer)",
            0x12 => " (ondol BIOS: keyboard controller)",
            0x20 => " (ondol BIOS: memory tables)",
            0x30 => " (ondol BIOS: POST done)",
            0x40 => " (ondol BIOS: INT 19h)",
            _ => "",
        };
        // Linux writes port 80h as an I/O delay once it runs: only trace codes before that.
        if lock(&self.st).stage == Stage::Firmware {
            self.event(format!("POST code {code:02X}h{what}"));
        }
    }

    /// INT 19h put a disk's sector 0 at 0000:7C00.
    pub fn mbr_loaded(&self, sector: &[u8; 512]) {
        if !self.enabled {
            return;
        }
        let mbr = Mbr::parse(sector);
        let code = boot_code(&mbr.code).to_string();
        self.event(format!("MBR read: disk 80h LBA 0 -> 0000:7C00, signature 55AA, boot code: {code}"));
        let mut st = lock(&self.st);
        st.partitions.clear();
        for (i, e) in mbr.partitions.iter().enumerate() {
            if e.is_unused() {
                continue;
            }
            st.partitions.push((i + 1, e.is_active(), e.partition_type, e.start_lba as u64, e.sectors as u64));
        }
        let table: Vec<String> = st
            .partitions
            .iter()
            .map(|&(i, a, t, lba, n)| {
                format!("#{i}{} type {t:02X}h LBA {lba} ({n} sectors)", if a { " active" } else { "" })
            })
            .collect();
        let listing = if table.is_empty() { "no partitions".to_string() } else { table.join(", ") };
        st.stage = Stage::Mbr { running: false };
        st.kernel_entry = None;
        st.loading = Loading::default();
        self.set_watch(&mut st, vec![crate::layout::BOOT_SECTOR]);
        drop(st);
        self.event(format!("partition table in the MBR: {listing}"));
    }

    /// The BIOS read `count` sectors from `drive` at `lba` into guest memory at `dest`.
    pub fn disk_read(&self, drive: u8, lba: u64, count: u64, dest: u64, mem: &GuestMemoryMmap) {
        if !self.enabled || count == 0 {
            return;
        }
        let mut st = lock(&self.st);
        match st.stage {
            Stage::Mbr { running: true } if dest == crate::layout::BOOT_SECTOR => {
                let hit = st.partitions.iter().find(|p| p.3 == lba).copied();
                let mut sector = [0u8; 512];
                let _ = mem.read_slice(&mut sector, GuestAddress(dest));
                st.stage = Stage::BootSector { running: false };
                // ondol's boot loader carries its kernel's place in a header at 1F0h.
                st.kernel_entry = KernelHeader::parse(&sector)
                    .map(|h| ((h.segment as u64) << 4 | h.entry as u64, h.segment, h.entry));
                let mut watch = vec![crate::layout::BOOT_SECTOR];
                if let Some((lin, ..)) = st.kernel_entry {
                    watch.push(lin);
                }
                self.set_watch(&mut st, watch);
                drop(st);
                match hit {
                    Some((i, active, t, lba, n)) => self.event(format!(
                        "partition chosen: #{i}{} (type {t:02X}h, LBA {lba}, {n} sectors): the MBR code read its boot sector -> 0000:7C00",
                        if active { ", active" } else { ", NOT marked active" }
                    )),
                    None => self.event(format!(
                        "the MBR code read disk {drive:02X}h LBA {lba} -> 0000:7C00 (not the start of a partition in the table)"
                    )),
                }
            }
            Stage::BootSector { running: true } => {
                let l = &mut st.loading;
                if l.first_lba.is_none() {
                    l.first_lba = Some(lba);
                    l.low = dest;
                    drop(st);
                    self.event(format!(
                        "loading: the boot code reads disk {drive:02X}h from LBA {lba} into memory at {dest:#x}"
                    ));
                    st = lock(&self.st);
                }
                let l = &mut st.loading;
                l.sectors += count;
                l.low = l.low.min(dest);
                l.high = l.high.max(dest + count * 512);
            }
            _ => {}
        }
    }

    /// The CPU reached a watched address (new code there).
    pub fn exec_hit(&self, addr: u64) {
        if !self.enabled {
            return;
        }
        let mut st = lock(&self.st);
        match st.stage {
            Stage::Mbr { running: false } if addr == crate::layout::BOOT_SECTOR => {
                st.stage = Stage::Mbr { running: true };
                drop(st);
                self.event("MBR code running at 0000:7C00".into());
            }
            Stage::BootSector { running: false } if addr == crate::layout::BOOT_SECTOR => {
                st.stage = Stage::BootSector { running: true };
                drop(st);
                self.event("partition boot sector running at 0000:7C00".into());
            }
            Stage::BootSector { running: true } if st.linux_entry == Some(addr) => {
                st.stage = Stage::Kernel;
                self.set_watch(&mut st, Vec::new());
                drop(st);
                self.event(format!(
                    "control passed to the kernel: the setup code jumped to its 32-bit entry at {addr:#x} (protected mode)"
                ));
            }
            Stage::BootSector { running: true } if st.kernel_entry.map(|k| k.0) == Some(addr) => {
                let (lin, seg, off) = st.kernel_entry.unwrap_or_default();
                let l = std::mem::take(&mut st.loading);
                st.stage = Stage::Kernel;
                self.set_watch(&mut st, Vec::new());
                drop(st);
                if let Some(first) = l.first_lba {
                    self.event(format!(
                        "kernel loaded: {} sectors ({} KiB) from LBA {first} into {:#x}..{:#x}",
                        l.sectors,
                        l.sectors / 2,
                        l.low,
                        l.high
                    ));
                }
                self.event(format!("control passed to the kernel at {seg:04X}:{off:04X} (linear {lin:#x})"));
            }
            _ => {}
        }
    }

    /// A Linux kernel was placed in memory by ondol itself (`--kernel`); its protected-mode
    /// code is entered at `entry32`, which is watched.
    pub fn kernel_direct(&self, what: String, entry32: u64) {
        if !self.enabled {
            return;
        }
        let mut st = lock(&self.st);
        st.stage = Stage::BootSector { running: true };
        st.linux_entry = Some(entry32);
        self.set_watch(&mut st, vec![entry32]);
        drop(st);
        self.event(what);
    }

    /// Bytes the guest wrote to the console: the kernel's first line and init are stages too.
    pub fn console(&self, bytes: &[u8]) {
        if !self.enabled {
            return;
        }
        let mut st = lock(&self.st);
        if st.stage != Stage::Kernel || (st.saw_kernel_output && st.saw_init) {
            return;
        }
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut st.console_line);
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                if !st.saw_kernel_output {
                    st.saw_kernel_output = true;
                    self.event(format!("first kernel output: \"{line}\""));
                }
                if !st.saw_init && (line.contains("Run /init") || line.contains("Run /sbin/init")) {
                    st.saw_init = true;
                    self.event(format!("init: \"{line}\""));
                }
            } else if (0x20..0x7F).contains(&b) && st.console_line.len() < 200 {
                st.console_line.push(b as char);
            }
        }
    }
}

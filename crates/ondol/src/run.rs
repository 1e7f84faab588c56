//! `ondol run`: boot a VM with the guest's COM1 as the terminal, and turn how it ended into an
//! exit status.

use crate::backend::{self, BackendArg};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;
use vmm::disk::Disk;
use vmm::machine::{Boot, KernelBoot, MachineConfig, Outcome, Report};

/// Exit status for a run that hit --timeout (as timeout(1) uses).
pub const EXIT_TIMEOUT: i32 = 124;

/// What `--trace` can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceWhat {
    /// The boot chain: reset vector, POST, INT 19h, MBR, partition boot sector, kernel.
    Boot,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A disk image (raw). The first is the boot disk 80h, the next 81h. With no --disk,
    /// --kernel or --raw, ondol boots its built-in demo disk.
    #[arg(long, value_name = "IMG")]
    pub disk: Vec<PathBuf>,
    /// Guest writes to the disks are kept in memory and dropped at the end (the files are
    /// never changed).
    #[arg(long)]
    pub snapshot: bool,
    /// A Linux kernel (bzImage) to boot directly by the Linux boot protocol, after the BIOS's
    /// POST and instead of a boot sector.
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<PathBuf>,
    /// An initial ramdisk for --kernel.
    #[arg(long, value_name = "FILE", requires = "kernel")]
    pub initrd: Option<PathBuf>,
    /// The kernel command line for --kernel.
    #[arg(long, value_name = "TEXT", requires = "kernel", default_value = "console=ttyS0")]
    pub cmdline: String,
    /// A firmware ROM to run instead of ondol's BIOS (a multiple of 64 KiB, at most 16 MiB):
    /// all of it ends at 4 GiB, its top 128 KiB at most end at 1 MiB; the CPU starts at its
    /// reset vector. No disk is needed.
    #[arg(long, value_name = "ROM")]
    pub firmware: Option<PathBuf>,
    /// A flat real-mode program, loaded at 0000:7C00 and started there without firmware.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["disk", "kernel", "firmware"])]
    pub raw: Option<PathBuf>,
    /// Show what happens as it happens, on stderr: `boot` is the boot chain's timeline.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub trace: Option<TraceWhat>,
    /// Which CPU runs the guest.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// Guest RAM: a number of MiB, or a size with K, M, G or T (binary units).
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    pub memory: u64,
    /// End the run after this many seconds (exit status 124).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
    /// emu: guest time follows executed instructions, so a run repeats exactly.
    #[arg(long)]
    pub deterministic: bool,
    /// Do not read the terminal: the guest's COM1 gets no input.
    #[arg(long)]
    pub no_input: bool,
    /// Print the final registers and instruction count on stderr when the run ends.
    #[arg(long)]
    pub report: bool,
    /// End the run when the guest resets the machine or the CPU shuts down (triple fault),
    /// instead of booting again as a PC does. A reset then ends with status 0, a triple fault
    /// with status 1. (--raw has no firmware to reset into: it always ends there.)
    #[arg(long)]
    pub no_reboot: bool,
}

/// Parse `--memory`: plain numbers are MiB (as QEMU's -m); suffixes K, M, G, T are binary.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => {
                    return Err(format!("unknown size suffix '{c}' in '{s}': use K, M, G or T"));
                }
            };
            (&t[..i], m)
        }
        _ => (t, 1 << 20),
    };
    let n: u64 = num.trim().parse().map_err(|_| format!("'{s}' is not a size: use e.g. 64M, 1G or 512 (MiB)"))?;
    n.checked_mul(mult).ok_or_else(|| format!("'{s}' is too large"))
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(v > 0.0 && v.is_finite() && v < 1e9) {
        return Err(format!("--timeout must be a positive number of seconds, not '{s}'"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Puts the terminal in raw mode while the guest owns it, and restores it when dropped.
struct RawTerminal {
    saved: Option<libc::termios>,
}

impl RawTerminal {
    fn enter() -> Self {
        // SAFETY: isatty and tcgetattr only read the state of fd 0 into a local struct.
        unsafe {
            if libc::isatty(0) != 1 {
                return RawTerminal { saved: None };
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return RawTerminal { saved: None };
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            // Keep output post-processing so guest "\n" still returns the carriage.
            t.c_oflag |= libc::OPOST;
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawTerminal { saved: Some(saved) }
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = self.saved {
            // SAFETY: restores the attributes read from the same fd in `enter`.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}

fn read(what: &str, path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// What the arguments ask to boot.
fn boot_of(args: &RunArgs) -> anyhow::Result<Boot> {
    if let Some(path) = &args.raw {
        return Ok(Boot::Raw(read("--raw", path)?));
    }
    let mut disks = Vec::new();
    for path in &args.disk {
        let d = Disk::open(path, args.snapshot).map_err(|e| anyhow::anyhow!("--disk: {e}"))?;
        disks.push(if args.snapshot { d.snapshot() } else { d });
    }
    let kernel = match &args.kernel {
        Some(path) => Some(KernelBoot {
            name: path.display().to_string(),
            image: read("--kernel", path)?,
            initrd: args.initrd.as_deref().map(|p| read("--initrd", p)).transpose()?,
            cmdline: args.cmdline.clone(),
        }),
        None => None,
    };
    let firmware = args.firmware.as_deref().map(|p| read("--firmware", p)).transpose()?;
    if disks.is_empty() && kernel.is_none() && firmware.is_none() {
        // `ondol run` on its own: the built-in demo disk through the whole boot chain.
        disks.push(vmm::disk::demo_disk());
    }
    Ok(Boot::Firmware { disks, kernel, firmware })
}

/// Say on stderr why the machine is booting again (a triple fault shows the instructions that
/// led to it, as when the run ends on one).
fn announce_reboot(report: &Report) {
    match &report.outcome {
        Outcome::Shutdown { reason } => {
            eprintln!(
                "ondol: the guest shut the CPU down: {reason}; a PC resets, so ondol boots again (--no-reboot stops here)"
            );
            print_recent(&report.recent);
        }
        _ => eprintln!("ondol: the guest reset the machine; booting again (--no-reboot ends the run instead)"),
    }
}

fn print_recent(recent: &[String]) {
    if !recent.is_empty() {
        eprintln!("ondol: last instructions executed:");
        for l in recent {
            eprintln!("  {l}");
        }
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let boot = boot_of(&args)?;
    vmm::machine::validate(args.memory, &boot)?;
    let choice = backend::choose(args.backend, false)?;
    let interactive = !args.no_input;
    // SAFETY: isatty only inspects fd 0.
    let tty = unsafe { libc::isatty(0) == 1 };
    let _raw = if interactive && tty {
        eprintln!("ondol: the terminal is the guest's COM1; Ctrl-A x ends the run");
        Some(RawTerminal::enter())
    } else {
        None
    };
    let cfg = MachineConfig {
        backend: choice.backend,
        memory: args.memory,
        boot,
        timeout: args.timeout,
        deterministic: args.deterministic,
        console_out: Box::new(std::io::stdout()),
        console_in: if interactive { Some(Box::new(std::io::stdin())) } else { None },
        watchdog: choice.watchdog.then(|| Duration::from_secs(10)),
        trace: args.trace == Some(TraceWhat::Boot),
        console_is_tty: tty,
        reboot: if args.no_reboot || args.raw.is_some() { None } else { Some(Box::new(announce_reboot)) },
    };
    let report = vmm::machine::run(cfg)?;
    drop(_raw);
    if args.report {
        if let Some(s) = &report.state {
            eprintln!(
                "ondol: final state: ax={:08x} bx={:08x} cx={:08x} dx={:08x} si={:08x} di={:08x} bp={:08x} sp={:08x} cs:ip={:04x}:{:08x} flags={:08x}",
                s.gpr[0],
                s.gpr[3],
                s.gpr[1],
                s.gpr[2],
                s.gpr[6],
                s.gpr[7],
                s.gpr[5],
                s.gpr[4],
                s.seg[1].selector,
                s.rip,
                s.rflags
            );
        }
        if let Some(n) = report.instructions {
            eprintln!("ondol: {n} instructions in {:.3} s", report.elapsed.as_secs_f64());
        }
    }
    Ok(match report.outcome {
        Outcome::Exit(code) => {
            if code > 255 {
                eprintln!("ondol: the guest wrote {code:#x} to the exit port; reporting 255");
                255
            } else {
                code as i32
            }
        }
        Outcome::PowerOff => 0,
        Outcome::Reset => {
            eprintln!("ondol: the guest reset the machine; the run ends here (--no-reboot)");
            0
        }
        Outcome::Interrupted => {
            eprintln!("ondol: run ended from the console");
            130
        }
        Outcome::Timeout => {
            eprintln!("ondol: timed out after {:.1} s", args.timeout.map(|t| t.as_secs_f64()).unwrap_or(0.0));
            print_recent(&report.recent);
            EXIT_TIMEOUT
        }
        Outcome::Shutdown { reason } => {
            print_recent(&report.recent);
            if !args.no_reboot && args.raw.is_none() && report.resets > 0 {
                anyhow::bail!(
                    "the guest shut the CPU down: {reason}, the same on {} boots in a row; ondol stops booting it again",
                    vmm::machine::SAME_SHUTDOWNS_TO_STOP
                );
            }
            anyhow::bail!("the guest shut the CPU down: {reason}");
        }
        Outcome::BootFailed(msg) => anyhow::bail!("boot failed: {msg}"),
        Outcome::HaltedForever => {
            print_recent(&report.recent);
            let at = report
                .state
                .map(|s| format!(" at {:04x}:{:08x}", s.seg[1].selector, s.rip.wrapping_sub(1)))
                .unwrap_or_default();
            anyhow::bail!(
                "the guest halted with interrupts disabled{at} (CLI; HLT): nothing in this machine can wake it, so the run ends"
            );
        }
        Outcome::Stalled { seconds } => {
            anyhow::bail!(
                "the kvm vCPU made no progress for {seconds} s; this host's KVM failed the probe and cannot run this guest: use --backend emu"
            );
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_qemu() {
        assert_eq!(parse_size("64"), Ok(64 << 20));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert!(parse_size("12Q").unwrap_err().contains("suffix"));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").unwrap_err().contains("too large"));
    }

    #[test]
    fn timeouts_must_be_positive() {
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("inf").is_err());
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
    }
}

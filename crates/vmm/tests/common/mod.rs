//! Shared by the integration tests: run a machine and capture its console.

#![allow(dead_code)]

use hypervisor::Backend;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vmm::machine::{Boot, MachineConfig, Report};

/// A console that keeps what the guest prints.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Run `boot` and return the report and what the console showed.
pub fn run(backend: Backend, boot: Boot, deterministic: bool, input: Option<&[u8]>) -> (Report, String) {
    run_with(backend, boot, deterministic, input, |_| {})
}

/// [`run`] with the configuration adjusted by `adjust` first.
pub fn run_with(
    backend: Backend,
    boot: Boot,
    deterministic: bool,
    input: Option<&[u8]>,
    adjust: impl FnOnce(&mut MachineConfig),
) -> (Report, String) {
    let out = Capture::default();
    let mut cfg = MachineConfig::new(backend, 32 << 20, boot);
    cfg.timeout = Some(Duration::from_secs(30));
    cfg.deterministic = deterministic;
    cfg.console_out = Box::new(out.clone());
    cfg.console_in = input.map(|i| Box::new(std::io::Cursor::new(i.to_vec())) as Box<dyn std::io::Read + Send>);
    cfg.watchdog = Some(Duration::from_secs(5));
    adjust(&mut cfg);
    let report = vmm::machine::run(cfg).unwrap_or_else(|e| panic!("run on {backend}: {e}"));
    (report, out.text())
}

/// A test program from guest/tests.
pub fn program(name: &str) -> &'static [u8] {
    vmm::guest::tests::ALL.iter().find(|p| p.0 == name).unwrap_or_else(|| panic!("no guest program {name}")).1
}

/// Where third-party guest assets are (scripts/fetch-assets puts them there).
pub fn asset(rel: &str) -> std::path::PathBuf {
    let base = std::env::var_os("ONDOL_ASSETS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/assets"));
    let p = base.join(rel);
    assert!(p.exists(), "{} is missing: run scripts/fetch-assets (scripts/test does)", p.display());
    p
}

/// Sectors in the disks the self-checking programs of guest/bios-tests and guest/pm-tests expect
/// (guest/bios-tests/check.inc loads the rest of the program from it).
pub const CHECK_DISK_SECTORS: usize = 2048;

/// A disk for a self-checking program: the program at LBA 0, then sectors that hold their own
/// LBA in their first dword.
pub fn check_disk(prog: &[u8]) -> Vec<u8> {
    let mut img = vec![0u8; CHECK_DISK_SECTORS * 512];
    img[..prog.len()].copy_from_slice(prog);
    for lba in prog.len().div_ceil(512)..CHECK_DISK_SECTORS {
        img[lba * 512..lba * 512 + 4].copy_from_slice(&(lba as u32).to_le_bytes());
    }
    img
}

/// How many checks a self-checking program's source holds (lines using CHECK, CHECK32 or
/// EXPECT_FAULT with a name).
pub fn checks_in_source(rel: &str) -> usize {
    let path = format!("{}/../../guest/{rel}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    src.lines()
        .filter(|l| !l.trim_start().starts_with(".macro"))
        .filter(|l| ["CHECK \"", "CHECK32 \"", "EXPECT_FAULT "].iter().any(|m| l.contains(m)))
        .count()
}

/// Check a self-checking program's COM1 output: every check reported ok, none failed, and the
/// program reached its end.
pub fn assert_all_passed(name: &str, src: &str, where_: &str, out: &str) {
    let want = checks_in_source(src);
    assert!(want > 0, "{name} has no checks");
    assert!(!out.contains("FAIL"), "{name} on {where_}:\n{out}");
    let ok = out.matches(" ok\r\n").count();
    assert_eq!(ok, want, "{name} on {where_}: {ok} of {want} checks reported ok:\n{out}");
    assert!(out.contains("done: failed 0000"), "{name} on {where_} did not finish:\n{out}");
}

/// Boot `disk` on QEMU (TCG, SeaBIOS) with `memory_mb` of RAM, COM1 into a file and
/// isa-debug-exit at port F4h (a guest's exit value v ends QEMU with status 2v+1), plus `extra`
/// arguments (`-no-reboot` to end on a reset); at most 60 s. Returns QEMU's exit status and what
/// the guest wrote to COM1. Needs qemu-system-i386: without it the test fails and says so.
pub fn on_qemu(tag: &str, disk: &[u8], memory_mb: u32, extra: &[&str]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("ondol-qemu-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("disk.img");
    std::fs::write(&img, disk).unwrap();
    let serial = dir.join("com1.txt");
    let status = std::process::Command::new("timeout")
        .arg("60")
        .arg("qemu-system-i386")
        .args(["-accel", "tcg", "-m", &memory_mb.to_string(), "-display", "none", "-monitor", "none"])
        .args(["-nic", "none"])
        .args(extra)
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=4"])
        .arg("-drive")
        .arg(format!("file={},format=raw,snapshot=on", img.display()))
        .status()
        .unwrap_or_else(|e| panic!("cannot run qemu-system-i386 ({e}): install qemu-system-x86 (scripts/deps does)"));
    let out = String::from_utf8_lossy(&std::fs::read(&serial).unwrap_or_default()).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    (status.code(), out)
}

/// Boot `disk` (at least 2016 sectors) in Bochs, the most exact reference emulator here, and
/// return what the guest wrote to COM1 once a line starting with `until` appears or the guest
/// halts with interrupts off (Bochs has no exit port, so the run is stopped then), or after
/// 120 s.
pub fn on_bochs(tag: &str, disk: &[u8], until: Option<&str>) -> String {
    use std::process::{Command, Stdio};
    let dir = std::env::temp_dir().join(format!("ondol-bochs-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("disk.img");
    let com1 = dir.join("com1.txt");
    // 2 cylinders x 16 heads x 63 sectors = 2016 sectors: Bochs wants the image to match.
    let mut disk = disk.to_vec();
    disk.resize(disk.len().max(2016 * 512), 0);
    let rc = dir.join("bochsrc");
    std::fs::write(
        &rc,
        format!(
            "megs: 32\nromimage: file=/usr/share/bochs/BIOS-bochs-latest\n\
             vgaromimage: file=/usr/share/vgabios/vgabios.bin\n\
             ata0-master: type=disk, path={}, mode=flat, cylinders=2, heads=16, spt=63\n\
             boot: disk\ncom1: enabled=1, mode=file, dev={}\ndisplay_library: term\n\
             clock: sync=none\nlog: {}\npanic: action=fatal\nspeaker: enabled=0\n",
            img.display(),
            com1.display(),
            dir.join("bochs.log").display()
        ),
    )
    .unwrap();
    std::fs::write(&img, &disk[..2016 * 512]).unwrap();
    let cont = dir.join("cont.rc");
    std::fs::write(&cont, "c\n").unwrap();
    // Debian's Bochs has its debugger built in and its term display wants a tty: `script`
    // gives it one, `setsid` lets the whole group be stopped.
    let mut child = Command::new("setsid")
        .args(["script", "-qc"])
        .arg(format!("bochs -q -f {} -rc {}", rc.display(), cont.display()))
        .arg("/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run bochs under script ({e}): install bochs (scripts/deps does)"));
    let start = std::time::Instant::now();
    let out = loop {
        let out = String::from_utf8_lossy(&std::fs::read(&com1).unwrap_or_default()).into_owned();
        let log = std::fs::read_to_string(dir.join("bochs.log")).unwrap_or_default();
        let done =
            until.is_some_and(|u| out.lines().any(|l| l.starts_with(u))) || log.contains("HLT instruction with IF=0");
        let exited = child.try_wait().ok().flatten().is_some();
        if done || exited || start.elapsed() > Duration::from_secs(120) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: kill(2) on the process group setsid created; no memory is involved.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

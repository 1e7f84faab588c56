//! Debian's 32-bit kernel (linux-image-686, i386) with a busybox initramfs, end to end: booted
//! directly (`--kernel --initrd --cmdline`) and through ondol's BIOS from a syslinux disk, it
//! must reach the busybox shell (the marker line /init prints) and power off through ACPI S5
//! (`poweroff -f`), which `ondol run` reports as exit status 0.
//!
//! The guest is built by scripts/fetch-assets (through scripts/make-linux-disk) into
//! .cache/linux/ (or $ONDOL_LINUX). The same kernel, initramfs and command line run in
//! qemu-system-i386 (TCG) as the reference.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The line /init prints once a busybox shell runs it.
const MARKER: &str = "ONDOL-BUSYBOX-SHELL-READY";
/// What `busybox sh -c` prints after it (the shell's arithmetic, then the kernel release).
const SH_C: &str = "ONDOL-BUSYBOX-SH-C-OK 42 6.1.";
/// Seconds ondol's emu CPU gets for a whole boot (QEMU TCG needs about 6 s here), unless
/// $ONDOL_LINUX_TIMEOUT says otherwise.
const ONDOL_TIMEOUT: &str = "600";
const QEMU_TIMEOUT: &str = "180";

/// A file of the Linux guest; the test fails (never passes) when it is missing.
fn linux(name: &str) -> PathBuf {
    let dir = std::env::var_os("ONDOL_LINUX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/linux"));
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing: run scripts/fetch-assets (scripts/test does)", p.display());
    p
}

fn cmdline() -> String {
    std::fs::read_to_string(linux("cmdline")).unwrap().trim().to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The marker on a line of its own, then the `sh -c` line, then a power-off (exit status 0).
fn assert_shell_and_power_off(what: &str, o: &Output, elapsed: Duration) {
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    let lines: Vec<&str> = out.lines().map(|l| l.trim_end_matches('\r')).collect();
    let marker = lines.iter().position(|l| *l == MARKER);
    assert!(marker.is_some(), "{what}: no line \"{MARKER}\" after {elapsed:.1?}:\n{out}\n{err}");
    assert!(
        lines[marker.unwrap_or(0)..].iter().any(|l| l.starts_with(SH_C)),
        "{what}: `busybox sh -c` did not run after the marker:\n{out}\n{err}"
    );
    assert_eq!(o.status.code(), Some(0), "{what}: no power-off (exit status 0) after the marker:\n{out}\n{err}");
}

fn ondol(args: &[&str]) -> (Output, Duration) {
    let timeout = std::env::var("ONDOL_LINUX_TIMEOUT").unwrap_or_else(|_| ONDOL_TIMEOUT.to_string());
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_ondol"))
        .args(["run", "--backend", "emu", "--no-input", "--memory", "256M", "--timeout", &timeout])
        .args(args)
        .output()
        .unwrap();
    (o, t.elapsed())
}

fn qemu(args: &[&str]) -> (Output, Duration) {
    let t = Instant::now();
    let o = Command::new("timeout")
        .args([QEMU_TIMEOUT, "qemu-system-i386", "-accel", "tcg", "-m", "256", "-display", "none"])
        .args(["-monitor", "none", "-nic", "none", "-no-reboot", "-serial", "stdio"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run qemu-system-i386 ({e}): install qemu-system-x86 (scripts/deps does)"));
    (o, t.elapsed())
}

fn path(p: PathBuf) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn ondol_emu_boots_the_686_kernel_directly_to_the_busybox_shell_and_powers_off() {
    let (kernel, initrd, cmdline) = (path(linux("vmlinuz")), path(linux("initrd.gz")), cmdline());
    let (o, t) = ondol(&["--trace", "boot", "--kernel", &kernel, "--initrd", &initrd, "--cmdline", &cmdline]);
    assert_shell_and_power_off("ondol emu, direct boot", &o, t);
    // The boot trace follows the kernel from the setup code to its own output.
    let err = text(&o.stderr);
    for stage in [
        "kernel placed by ondol (Linux boot protocol",
        "INT 19h: entering the Linux setup code",
        "control passed to the kernel: the setup code jumped to its 32-bit entry at 0x100000",
        "first kernel output: ",
    ] {
        assert!(err.contains(stage), "the boot trace has no \"{stage}\":\n{err}");
    }
}

#[test]
fn ondol_emu_boots_the_syslinux_disk_through_its_bios_to_the_busybox_shell_and_powers_off() {
    let disk = path(linux("linux.img"));
    let (o, t) = ondol(&["--snapshot", "--disk", &disk]);
    assert_shell_and_power_off("ondol emu, syslinux disk", &o, t);
}

#[test]
fn qemu_boots_the_same_kernel_and_initramfs_directly_to_the_busybox_shell_and_powers_off() {
    let (kernel, initrd, cmdline) = (path(linux("vmlinuz")), path(linux("initrd.gz")), cmdline());
    let (o, t) = qemu(&["-kernel", &kernel, "-initrd", &initrd, "-append", &cmdline]);
    assert_shell_and_power_off("QEMU TCG, direct boot", &o, t);
}

#[test]
fn qemu_boots_the_syslinux_disk_through_seabios_to_the_busybox_shell_and_powers_off() {
    let disk = path(linux("linux.img"));
    let (o, t) = qemu(&["-drive", &format!("file={disk},format=raw,snapshot=on")]);
    assert_shell_and_power_off("QEMU TCG, syslinux disk", &o, t);
}

/// The disk holds what the direct boot uses: the same command line in syslinux.cfg, found by
/// reading the image (the FAT directory is not parsed: the config is stored as plain text).
#[test]
fn the_syslinux_disk_boots_the_same_command_line_as_the_direct_boot() {
    let img = std::fs::read(linux("linux.img")).unwrap();
    let want = format!("APPEND {}", cmdline());
    let found = img.windows(want.len()).any(|w| w == want.as_bytes());
    assert!(found, "linux.img's syslinux.cfg has no line \"{want}\": run scripts/fetch-assets to rebuild it");
    assert_eq!(&img[510..512], &[0x55, 0xAA]);
    assert_eq!(img[446], 0x80, "partition 1 is active");
}

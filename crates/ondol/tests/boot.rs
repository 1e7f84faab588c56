//! The boot chain end to end through `ondol run`: the built-in demo disk, `--trace boot`,
//! syslinux's MBR, the kvm backend on a host whose KVM cannot run a BIOS, and bad disks, each
//! of which must end with one clear line and a non-zero exit, never a panic or a hang.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn ondol() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ondol"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ondol-boot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `ondol run` with a time limit the test enforces from outside too.
fn run(args: &[&str], extra: &[&Path]) -> (Output, Duration) {
    let t = Instant::now();
    let mut c = ondol();
    c.args(["run", "--no-input", "--timeout", "60"]).args(args);
    for p in extra {
        c.arg(p);
    }
    let o = c.output().unwrap();
    (o, t.elapsed())
}

fn create(name: &str, extra: &[&str]) -> PathBuf {
    let img = tmp(name);
    let o = ondol().args(["disk", "create"]).arg(&img).args(["--size", "8M", "--force"]).args(extra).output().unwrap();
    assert!(o.status.success(), "disk create: {}", text(&o.stderr));
    img
}

/// Exit status 1, one line on stderr containing `needle`, no panic.
fn refused(o: &Output, needle: &str) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("ondol: backend")).collect();
    assert_eq!(lines.len(), 1, "one line expected:\n{err}");
    assert!(lines[0].contains(needle), "'{needle}' not in: {err}");
}

#[test]
fn ondol_run_alone_boots_the_demo_disk_through_the_whole_chain() {
    let (o, _) = run(&["--backend", "emu"], &[]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(out.contains("ondol demo kernel"), "{out}");
    assert!(out.contains("loaded at 1000:0000 (linear 0x00010000), entered at 1000:0000"), "{out}");
    assert!(out.contains("booted from disk 80h, partition 1"), "{out}");
    assert!(out.contains("-> ondol MBR"), "{out}");
    assert!(out.contains("powering off"), "{out}");
}

#[test]
fn trace_boot_shows_every_stage_in_order() {
    let (o, _) = run(&["--backend", "emu", "--trace", "boot"], &[]);
    assert_eq!(o.status.code(), Some(0));
    let err = text(&o.stderr);
    let stages = [
        "reset: the CPU starts at F000:FFF0",
        "POST code 01h",
        "POST code 30h (ondol BIOS: POST done)",
        "INT 19h: boot from disk 80h",
        "MBR read: disk 80h LBA 0 -> 0000:7C00, signature 55AA, boot code: ondol MBR",
        "partition table in the MBR: #1 active type DAh LBA 2048",
        "MBR code running at 0000:7C00",
        "partition chosen: #1, active (type DAh, LBA 2048",
        "partition boot sector running at 0000:7C00",
        "loading: the boot code reads disk 80h from LBA 2049 into memory at 0x10000",
        "kernel loaded: 4 sectors (2 KiB) from LBA 2049 into 0x10000..0x10800",
        "control passed to the kernel at 1000:0000 (linear 0x10000)",
        "first kernel output: \"ondol demo kernel\"",
    ];
    let mut at = 0;
    for s in stages {
        let found = err[at..].find(s).unwrap_or_else(|| panic!("stage '{s}' missing or out of order in:\n{err}"));
        at += found + s.len();
    }
    // Every line carries guest and host time.
    for l in err.lines().filter(|l| l.starts_with("[boot]")) {
        assert!(l.contains(" s  host ") && l.contains("guest "), "{l}");
    }
}

#[test]
fn syslinux_mbr_boots_ondols_boot_loader_and_the_demo_kernel() {
    let assets = std::env::var_os("ONDOL_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/assets"));
    let mbr = assets.join("syslinux-common/usr/lib/syslinux/mbr/mbr.bin");
    assert!(mbr.exists(), "{} is missing: run scripts/fetch-assets (scripts/test does)", mbr.display());
    let img = create("syslinux.img", &["--mbr", mbr.to_str().unwrap()]);
    let (o, _) = run(&["--backend", "emu", "--trace", "boot", "--disk"], &[&img]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("boot code: syslinux mbr.bin"), "{err}");
    assert!(err.contains("control passed to the kernel at 1000:0000"), "{err}");
    assert!(out.contains("ondol demo kernel") && out.contains("-> another MBR (LBA 0)"), "{out}");
}

#[test]
fn auto_picks_a_backend_that_boots_the_demo() {
    let (o, _) = run(&[], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("ondol demo kernel"));
    assert!(text(&o.stderr).contains("ondol: backend "), "auto says what it chose: {}", text(&o.stderr));
}

#[test]
fn kvm_on_a_bios_boot_boots_or_ends_with_a_clear_message() {
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        panic!("this test needs /dev/kvm (CI has it): {e}");
    }
    let (o, took) = run(&["--backend", "kvm"], &[]);
    let err = text(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(took < Duration::from_secs(50), "kvm run took {took:?}");
    match o.status.code() {
        // A KVM that runs real-mode guests boots the demo.
        Some(0) => assert!(text(&o.stdout).contains("ondol demo kernel")),
        // One that cannot (this project's CI host) must say so and stop.
        Some(1) => assert!(err.contains("use --backend emu"), "{err}"),
        other => panic!("unexpected exit {other:?}: {err}"),
    }
}

fn patch(img: &Path, offset: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn an_empty_disk_is_refused() {
    let img = tmp("empty.img");
    std::fs::write(&img, b"").unwrap();
    let (o, _) = run(&["--backend", "emu", "--disk"], &[&img]);
    refused(&o, "is empty");
}

#[test]
fn a_disk_without_a_boot_signature_is_refused() {
    let img = create("nosig.img", &[]);
    patch(&img, 510, &[0, 0]);
    let (o, _) = run(&["--backend", "emu", "--disk"], &[&img]);
    refused(&o, "no 55AA boot signature");
}

#[test]
fn no_active_partition_stops_the_mbr() {
    let img = create("noactive.img", &[]);
    patch(&img, 0x1BE, &[0x00]);
    let (o, _) = run(&["--backend", "emu", "--disk"], &[&img]);
    refused(&o, "ondol MBR: no active partition");
}

#[test]
fn two_active_partitions_stop_the_mbr() {
    let img = create("twoactive.img", &["--partitions", "boot:2M,83:rest"]);
    patch(&img, 0x1CE, &[0x80]);
    let (o, _) = run(&["--backend", "emu", "--disk"], &[&img]);
    refused(&o, "ondol MBR: 2+ active partitions");
}

#[test]
fn a_partition_past_the_end_of_the_disk_stops_the_mbr() {
    let img = create("past.img", &[]);
    // Partition 1's size: far more sectors than the 8 MiB disk has.
    patch(&img, 0x1BE + 12, &0x0010_0000u32.to_le_bytes());
    let (o, _) = run(&["--backend", "emu", "--disk"], &[&img]);
    refused(&o, "ondol MBR: partition past end of disk");
}

#[test]
fn a_truncated_image_fails_while_loading_the_kernel() {
    let img = create("trunc.img", &[]);
    // Keep the MBR and the boot loader, cut the kernel off.
    std::fs::OpenOptions::new().write(true).open(&img).unwrap().set_len(2049 * 512).unwrap();
    // The table still claims 8 MiB: make it claim what is left so the MBR goes on.
    patch(&img, 0x1BE + 12, &1u32.to_le_bytes());
    let (o, _) = run(&["--backend", "emu", "--disk"], &[&img]);
    refused(&o, "disk read error while loading the kernel");
}

#[test]
fn a_kernel_that_does_not_fit_in_memory_is_refused() {
    let img = create("bigkernel.img", &[]);
    // The header at the end of the boot loader (LBA 2048): 1500 sectors.
    patch(&img, 2048 * 512 + 0x1F8, &1500u16.to_le_bytes());
    let (o, _) = run(&["--backend", "emu", "--disk"], &[&img]);
    refused(&o, "the kernel does not fit below 640 KiB");
    // And a direct-boot kernel larger than the machine's memory.
    let big = tmp("big-bzimage");
    let mut k = vec![0u8; 8 << 20];
    k[0x1F1] = 4;
    k[0x1FE..0x200].copy_from_slice(&[0x55, 0xAA]);
    k[0x202..0x206].copy_from_slice(b"HdrS");
    k[0x206..0x208].copy_from_slice(&0x020Fu16.to_le_bytes());
    k[0x211] = 1;
    std::fs::write(&big, &k).unwrap();
    let (o, _) = run(&["--backend", "emu", "--memory", "4", "--kernel"], &[&big]);
    refused(&o, "give a larger --memory");
}

#[test]
fn a_kernel_that_is_not_linux_is_refused() {
    let k = tmp("notlinux");
    std::fs::write(&k, vec![0x90u8; 4096]).unwrap();
    let (o, _) = run(&["--backend", "emu", "--kernel"], &[&k]);
    refused(&o, "is not a Linux kernel image");
}

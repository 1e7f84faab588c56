//! `ondol disk create` and `inspect` through the built binary: create then inspect, every
//! bad disk and bad option gets one clear line and exit status 1, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ondol() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ondol"))
}

/// A fresh directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(test: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("ondol-disk-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

/// A third-party asset unpacked by scripts/fetch-assets; a missing one fails the test.
fn asset(package: &str, path: &str) -> PathBuf {
    let root = std::env::var_os("ONDOL_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().join(".cache/assets"));
    let p = root.join(package).join(path);
    assert!(p.is_file(), "missing test asset {}: run scripts/fetch-assets", p.display());
    p
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Exit status 1 and exactly one line on stderr mentioning `needle`, no panic.
fn fails_with_one_line(o: &Output, needle: &str) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "exit status; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    assert!(lines[0].starts_with("ondol: "), "{err}");
    assert!(lines[0].contains(needle), "'{needle}' not in: {err}");
}

fn create(img: &Path, args: &[&str]) -> Output {
    ondol().args(["disk", "create"]).arg(img).args(args).output().unwrap()
}

fn created(img: &Path, args: &[&str]) {
    let o = create(img, args);
    assert_eq!(o.status.code(), Some(0), "create {args:?}: {}", text(&o.stderr));
}

fn inspect(img: &Path) -> Output {
    ondol().args(["disk", "inspect"]).arg(img).output().unwrap()
}

/// Patches bytes of an image file in place.
fn patch(img: &Path, at: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.write_all_at(bytes, at).unwrap();
}

#[test]
fn a_created_disk_inspects_as_bootable() {
    let d = dir("bootable");
    let img = d.join("disk.img");
    let o = create(&img, &["--size", "64M"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with(&format!("created {} (64 MiB, sparse); MBR boot code: ondol MBR", img.display())), "{out}");
    assert!(out.contains("partition 1: boot, active, type da (non-FS data), LBA 2048 to 131071, 63 MiB"), "{out}");
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 64 << 20);
    let o = inspect(&img);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
    for needle in [
        "boot signature: 55 AA (present)",
        "boot code: ondol MBR",
        "  1  *       da non-FS data                     2048        129024      63 MiB",
        "first sector: ondol boot loader: kernel at partition sector 1",
        "the disk looks bootable",
    ] {
        assert!(out.contains(needle), "'{needle}' not in:\n{out}");
    }
}

#[test]
fn partition_specs_and_a_kernel_file_make_the_asked_layout() {
    let d = dir("specs");
    let kernel = d.join("k.bin");
    std::fs::write(&kernel, vec![0xF4; 3000]).unwrap();
    let img = d.join("disk.img");
    created(&img, &["--size", "64M", "--partitions", "boot:8M,0c:32M,83:*", "--kernel", kernel.to_str().unwrap()]);
    let o = inspect(&img);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("6 sectors (3072 bytes)"), "{out}");
    assert!(out.contains("  2          0c W95 FAT32 (LBA)                18432         65536      32 MiB"), "{out}");
    assert!(out.contains("  3          83 Linux                          83968         47104      23 MiB"), "{out}");
}

#[test]
fn an_existing_image_is_kept_unless_forced() {
    let d = dir("force");
    let img = d.join("disk.img");
    std::fs::write(&img, b"precious").unwrap();
    fails_with_one_line(&create(&img, &["--size", "8M"]), "already exists: give --force to overwrite it");
    assert_eq!(std::fs::read(&img).unwrap(), b"precious");
    created(&img, &["--size", "8M", "--force"]);
    assert_eq!(inspect(&img).status.code(), Some(0));
}

#[test]
fn a_disk_with_syslinux_mbr_bin_is_identified() {
    let d = dir("syslinux");
    let img = d.join("disk.img");
    let mbr = asset("syslinux-common", "usr/lib/syslinux/mbr/mbr.bin");
    created(&img, &["--size", "16M", "--mbr", mbr.to_str().unwrap()]);
    let o = inspect(&img);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("boot code: syslinux mbr.bin (boots the active partition)"), "{out}");
    assert!(out.contains("first sector: ondol boot loader"), "{out}");
    let on_disk = std::fs::read(&img).unwrap();
    assert_eq!(&on_disk[..440], &std::fs::read(&mbr).unwrap()[..]);
}

#[test]
fn a_disk_with_grub_boot_img_but_no_core_img_will_not_boot() {
    let d = dir("grub");
    let img = d.join("disk.img");
    let boot = asset("grub-pc-bin", "usr/lib/grub/i386-pc/boot.img");
    created(&img, &["--size", "16M", "--mbr", boot.to_str().unwrap()]);
    let o = inspect(&img);
    assert!(text(&o.stdout).contains("boot code: GRUB 2 boot.img (loads core.img from LBA 1)"));
    fails_with_one_line(&o, "core.img from LBA 1, which is empty");
}

#[test]
fn a_missing_or_empty_image_is_one_line() {
    fails_with_one_line(&inspect(Path::new("/nonexistent/disk.img")), "cannot open disk image /nonexistent/disk.img");
    let d = dir("empty");
    let img = d.join("empty.img");
    std::fs::write(&img, b"").unwrap();
    fails_with_one_line(&inspect(&img), "empty.img is empty: nothing to boot");
}

#[test]
fn a_disk_without_55aa_is_one_line() {
    let d = dir("no55aa");
    let img = d.join("disk.img");
    created(&img, &["--size", "8M"]);
    patch(&img, 510, &[0, 0]);
    let o = inspect(&img);
    fails_with_one_line(&o, "will not boot: sector 0 ends in 00 00, not 55 AA");
    assert!(text(&o.stdout).contains("the disk will not boot (1 error)"));
}

#[test]
fn no_or_several_active_partitions_are_one_line() {
    let d = dir("active");
    let img = d.join("disk.img");
    created(&img, &["--size", "32M", "--partitions", "boot:8M,83:rest"]);
    patch(&img, 0x1BE, &[0]);
    fails_with_one_line(&inspect(&img), "no partition is marked active");
    patch(&img, 0x1BE, &[0x80]);
    patch(&img, 0x1CE, &[0x80]);
    fails_with_one_line(&inspect(&img), "partitions 1 and 2 are all marked active");
}

#[test]
fn overlapping_partitions_are_one_line() {
    let d = dir("overlap");
    let img = d.join("disk.img");
    fails_with_one_line(
        &create(&img, &["--size", "32M", "--partitions", "boot:8M@1M,83:8M@4M"]),
        "partitions 1 and 2 overlap",
    );
    assert!(!img.exists());
    created(&img, &["--size", "32M", "--partitions", "boot:8M,83:rest"]);
    // Entry 2 starts at LBA 10000, inside partition 1.
    patch(&img, 0x1CE + 8, &10000u32.to_le_bytes());
    fails_with_one_line(&inspect(&img), "partitions 1 and 2 overlap (LBA 10000 to 18431)");
}

#[test]
fn a_partition_past_the_end_is_one_line() {
    let d = dir("pastend");
    let img = d.join("disk.img");
    fails_with_one_line(
        &create(&img, &["--size", "8M", "--partitions", "boot:16M"]),
        "partition 1 ends at 17 MiB, past the end of the 8 MiB disk",
    );
    created(&img, &["--size", "8M"]);
    patch(&img, 0x1BE + 12, &100_000u32.to_le_bytes());
    fails_with_one_line(&inspect(&img), "partition 1 ends at LBA 102048, past the end of the disk (16384 sectors)");
}

#[test]
fn a_truncated_image_is_one_line() {
    let d = dir("truncated");
    let img = d.join("disk.img");
    created(&img, &["--size", "8M"]);
    std::fs::OpenOptions::new().write(true).open(&img).unwrap().set_len((2 << 20) + 100).unwrap();
    let o = inspect(&img);
    fails_with_one_line(&o, "is the image truncated?");
    assert!(text(&o.stdout).contains("warning: the image is 2097252 bytes, not a whole number of 512-byte sectors"));
}

#[test]
fn a_kernel_too_big_for_memory_is_one_line() {
    let d = dir("bigkernel");
    let img = d.join("disk.img");
    let kernel = d.join("k.bin");
    std::fs::write(&kernel, vec![0x90; 600 << 10]).unwrap();
    fails_with_one_line(
        &create(&img, &["--size", "8M", "--kernel", kernel.to_str().unwrap()]),
        "the kernel is 614400 bytes and does not fit below 640 KiB",
    );
    assert!(!img.exists());
    // A header that asks for too much: inspect says so.
    created(&img, &["--size", "8M"]);
    patch(&img, 2048 * 512 + 0x1F8, &1200u16.to_le_bytes());
    fails_with_one_line(&inspect(&img), "the kernel does not fit below 640 KiB");
}

#[test]
fn bad_kernels_and_mbr_files_are_one_line() {
    let d = dir("badinput");
    let img = d.join("disk.img");
    let empty = d.join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    fails_with_one_line(&create(&img, &["--size", "8M", "--kernel", empty.to_str().unwrap()]), "the kernel is empty");
    fails_with_one_line(&create(&img, &["--size", "8M", "--kernel", "/nonexistent/k"]), "cannot read --kernel");
    let short = d.join("short.bin");
    std::fs::write(&short, vec![0; 439]).unwrap();
    fails_with_one_line(
        &create(&img, &["--size", "8M", "--mbr", short.to_str().unwrap()]),
        "short.bin: it is 439 bytes: --mbr takes 440 bytes",
    );
    fails_with_one_line(&create(&img, &["--size", "8M", "--mbr", "/etc/passwd"]), "--mbr /etc/passwd: it is");
    fails_with_one_line(&create(&img, &["--size", "8M", "--partitions", "83:rest"]), "no boot partition");
    fails_with_one_line(&create(&img, &["--size", "1M"]), "a disk needs more than that");
    fails_with_one_line(&create(&img, &["--size", "12Q"]), "unknown size suffix");
    fails_with_one_line(&create(&img, &["--size", "8M", "--partitions", "boot:8M,zz:1M"]), "'zz' is neither");
    assert!(!img.exists());
}

/// Boots a disk image in QEMU (SeaBIOS, TCG) with SeaBIOS's console on COM1: Some(COM1
/// text) when the guest powered off through port F4h with 0 (the demo kernel ran to its
/// end), else None with the text in the error.
fn boot_in_qemu(img: &Path) -> Result<String, String> {
    let d = img.parent().unwrap();
    let serial = d.join("com1.txt");
    // SeaBIOS mirrors INT 10h output to the serial port named in fw_cfg etc/sercon-port.
    let sercon = d.join("sercon-port");
    std::fs::write(&sercon, 0x3F8u16.to_le_bytes()).unwrap();
    let _ = std::fs::remove_file(&serial);
    let o = Command::new("timeout")
        .arg("60")
        .arg("qemu-system-i386")
        .args(["-accel", "tcg", "-m", "16", "-display", "none", "-vga", "none", "-monitor", "none", "-nic", "none"])
        .args(["-no-reboot", "-boot", "reboot-timeout=0"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=4"])
        .arg("-fw_cfg")
        .arg(format!("name=etc/sercon-port,file={}", sercon.display()))
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .arg("-drive")
        .arg(format!("file={},format=raw,snapshot=on", img.display()))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run qemu-system-i386 ({e}): install qemu-system-x86 (scripts/deps does it)")
        });
    let out = text(&std::fs::read(&serial).unwrap_or_default());
    // isa-debug-exit: status = (value << 1) | 1; a failed boot reboots, and -no-reboot exits 0.
    match o.status.code() {
        Some(1) => Ok(out),
        Some(0) => Err(out),
        s => panic!("QEMU ended with {s:?}: {}", text(&o.stderr)),
    }
}

#[test]
fn inspect_agrees_with_a_real_bios_booting_each_disk_in_qemu() {
    let d = dir("qemu");
    let syslinux = asset("syslinux-common", "usr/lib/syslinux/mbr/mbr.bin");
    let syslinux = syslinux.to_str().unwrap();
    type Patch = &'static [(u64, &'static [u8])];
    // (create arguments, patches, what the boot shows: the kernel's line or the error).
    let cases: &[(&[&str], Patch, Result<&str, &str>)] = &[
        (&[], &[], Ok("partition 1 (type dah) at LBA 2048, kernel at LBA 2049")),
        (&["--mbr", syslinux], &[], Ok("another MBR (LBA 0)")),
        (&["--partitions", "83:4M,boot:4M,0c:rest"], &[], Ok("partition 2 (type dah) at LBA 10240")),
        (&["--partitions", "boot:1M@4M"], &[], Ok("partition 1 (type dah) at LBA 8192")),
        (&[], &[(0x1BE, &[0])], Err("ondol MBR: no active partition")),
        (&["--partitions", "boot:8M,83:rest"], &[(0x1CE, &[0x80])], Err("ondol MBR: 2+ active partitions")),
        (&[], &[(0x1BE, &[0x81])], Err("ondol MBR: bad partition table")),
        (&[], &[(0x1EE, &[0x80])], Err("ondol MBR: 2+ active partitions")),
        (&["--mbr", syslinux], &[(0x1BE, &[0])], Err("Missing operating system.")),
        (&[], &[(510, &[0, 0])], Err("Boot failed: not a bootable disk")),
        (&[], &[(0x1BE + 12, &[0, 0, 1, 0])], Err("ondol MBR: partition past end of disk")),
        (&[], &[(2048 * 512 + 510, &[0, 0])], Err("ondol MBR: no 55AA in boot sector")),
        (&[], &[(2048 * 512 + 0x1F8, &[0xB0, 0x04])], Err("ondol boot loader: the kernel does not fit below 640 KiB")),
        (&[], &[(2048 * 512 + 0x1F0, b"XXXX")], Err("ondol boot loader: no valid kernel header")),
        // Kernel offset 30718: its last sectors are past the end of the 16 MiB disk.
        (&[], &[(2048 * 512 + 0x1F4, &[0xFE, 0x77])], Err("ondol boot loader: disk read error")),
        (
            &["--mbr", syslinux, "--partitions", "boot:8M,83:rest"],
            &[(0x1CE, &[0x80])],
            Err("Multiple active partitions."),
        ),
        // An empty patch truncates the image there: the partition ends past the end.
        (&[], &[(2 << 20, &[])], Err("ondol MBR: partition past end of disk")),
    ];
    for (n, (args, patches, want)) in cases.iter().enumerate() {
        let img = d.join(&format!("disk{n}.img"));
        created(&img, &[&["--size", "16M"], *args].concat());
        for (at, bytes) in *patches {
            match bytes {
                [] => std::fs::OpenOptions::new().write(true).open(&img).unwrap().set_len(*at).unwrap(),
                _ => patch(&img, *at, bytes),
            }
        }
        let verdict = inspect(&img);
        let booted = boot_in_qemu(&img);
        let what = format!(
            "case {n} {args:?} {patches:?}: inspect says\n{}{}\nQEMU says\n{booted:?}",
            text(&verdict.stdout),
            text(&verdict.stderr)
        );
        match want {
            Ok(line) => {
                assert_eq!(verdict.status.code(), Some(0), "{what}");
                let out = booted.as_ref().unwrap_or_else(|_| panic!("did not reach the kernel: {what}"));
                assert!(out.contains("ondol demo kernel") && out.contains(line), "'{line}' not shown: {what}");
            }
            Err(message) => {
                assert_eq!(verdict.status.code(), Some(1), "{what}");
                let out = booted.as_ref().err().unwrap_or_else(|| panic!("booted the kernel: {what}"));
                assert!(out.contains(message), "'{message}' not shown: {what}");
            }
        }
    }
}

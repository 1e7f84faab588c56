//! ACPI end to end: guest/bios-tests/acpi.S, booted from a disk through the whole boot, finds
//! the RSDP by the specification's search, walks RSDT -> FADT -> FACS/DSDT checking every
//! length and checksum, reads `\_S5_` from the DSDT's AML, checks the PM timer against the PIT,
//! and powers the machine off by writing SLP_TYP | SLP_EN to PM1a control. On ondol (emu and
//! kvm) the run must end as a power-off; the same program powers off QEMU with SeaBIOS's
//! tables, which checks the program's own expectations against another firmware.

mod common;

use hypervisor::Backend;
use vmm::disk::Disk;
use vmm::machine::{Boot, Outcome};

const NAME: &str = "acpi";

fn program() -> &'static [u8] {
    vmm::guest::bios_tests::ALL.iter().find(|p| p.0 == NAME).expect("guest/bios-tests/acpi.S is built").1
}

/// The checks the program's source holds.
fn checks_in_source() -> usize {
    let path = format!("{}/../../guest/bios-tests/{NAME}.S", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    src.lines().filter(|l| l.trim_start().starts_with("CHECK32 \"")).count()
}

/// The program at LBA 0 of a 1 MiB disk.
fn disk_image() -> Vec<u8> {
    let mut img = vec![0u8; 1 << 20];
    img[..program().len()].copy_from_slice(program());
    img
}

fn assert_all_passed(where_: &str, out: &str) {
    let want = checks_in_source();
    assert!(want >= 10, "the program has {want} checks");
    assert!(!out.contains("FAIL"), "on {where_}:\n{out}");
    let ok = out.matches(" ok\r\n").count();
    assert_eq!(ok, want, "on {where_}: {ok} of {want} checks reported ok:\n{out}");
    assert!(out.contains("all checks passed: powering off through ACPI S5"), "on {where_}:\n{out}");
}

fn on_ondol(backend: Backend, deterministic: bool) -> String {
    let boot = Boot::Firmware { disks: vec![Disk::memory(disk_image()).named(NAME)], kernel: None, firmware: None };
    let (report, out) = common::run(backend, boot, deterministic, None);
    assert_eq!(report.outcome, Outcome::PowerOff, "on {backend}:\n{out}");
    out
}

#[test]
fn a_guest_finds_ondols_acpi_tables_and_powers_off_through_s5_on_emu() {
    let out = on_ondol(Backend::Emu, false);
    assert_all_passed("emu", &out);
    // ondol's own values: the RSDP in the EBDA, PM1a control at 600h + 4, the timer at 608h,
    // SCI 9, S5 = 7.
    assert!(out.contains("RSDP at 0009fd00"), "{out}");
    assert!(out.contains("PM1a control at 00000604, PM timer at 00000608, SCI 00000009"), "{out}");
    assert!(out.contains("S5 SLP_TYP 00000007"), "{out}");
}

#[test]
fn the_pm_timer_rate_is_exact_with_deterministic_time() {
    let out = on_ondol(Backend::Emu, true);
    assert_all_passed("emu --deterministic", &out);
    // The interval is 50 ms of PIT counter 2 plus the few instructions that read the timers.
    let line = out.lines().find(|l| l.starts_with("PM timer ticks in 50 ms")).expect("rate line");
    let ticks = u32::from_str_radix(line.rsplit(' ').next().unwrap().trim(), 16).unwrap();
    assert!((178_977..178_977 + 100).contains(&ticks), "{ticks} ticks in 50 ms: {line}");
}

#[test]
fn a_guest_powers_off_through_acpi_on_kvm_too() {
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        panic!("this test needs /dev/kvm (CI has it): {e}");
    }
    assert_all_passed("kvm", &on_ondol(Backend::Kvm, false));
}

#[test]
fn the_same_program_powers_off_qemu_with_seabios_tables() {
    let (status, out) = common::on_qemu("acpi", &disk_image(), 32, &["-no-reboot"]);
    // A power-off ends QEMU with status 0; the exit port would give 2N+1, a timeout 124.
    assert_eq!(status, Some(0), "QEMU did not power off:\n{out}");
    assert_all_passed("QEMU/SeaBIOS", &out);
}

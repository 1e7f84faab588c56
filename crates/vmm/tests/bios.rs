//! BIOS service tests in the style of Blink's test/metal: the self-checking 16-bit programs in
//! guest/bios-tests/ are booted from a disk through the whole boot (reset vector, POST, INT 19h)
//! and call INT 10h, 11h, 12h, 13h, 15h, 16h and 1Ah. Every check must pass on ondol's BIOS
//! (emu); the same programs also run under QEMU's SeaBIOS, so a check that encodes a wrong
//! expectation fails there too.

mod common;

use hypervisor::Backend;
use vmm::disk::Disk;
use vmm::machine::{Boot, Outcome};

fn program(name: &str) -> &'static [u8] {
    vmm::guest::bios_tests::ALL.iter().find(|p| p.0 == name).unwrap_or_else(|| panic!("no BIOS test {name}")).1
}

fn disk_image(name: &str) -> Vec<u8> {
    common::check_disk(program(name))
}

fn assert_all_passed(name: &str, where_: &str, out: &str) {
    common::assert_all_passed(name, &format!("bios-tests/{name}.S"), where_, out);
}

fn on_ondol(name: &str, input: Option<&[u8]>) -> String {
    on_backend(Backend::Emu, name, input)
}

fn on_backend(backend: Backend, name: &str, input: Option<&[u8]>) -> String {
    let boot = Boot::Firmware { disks: vec![Disk::memory(disk_image(name)).named(name)], kernel: None, firmware: None };
    let (report, out) = common::run(backend, boot, false, input);
    assert_eq!(report.outcome, Outcome::Exit(0), "{name} on {backend}:\n{out}");
    out
}

fn on_qemu(name: &str) -> String {
    on_qemu_with(name, &["-no-reboot"])
}

fn on_qemu_with(name: &str, extra: &[&str]) -> String {
    let (status, out) = common::on_qemu(&format!("bios-{name}"), &disk_image(name), 32, extra);
    assert_eq!(status, Some(1), "{name} on QEMU did not exit with status 0:\n{out}");
    out
}

#[test]
fn int10_video_services_pass_on_ondol_and_seabios() {
    assert_all_passed("video", "ondol", &on_ondol("video", None));
    assert_all_passed("video", "QEMU/SeaBIOS", &on_qemu("video"));
}

#[test]
fn int13_disk_services_pass_on_ondol_and_seabios() {
    assert_all_passed("disk", "ondol", &on_ondol("disk", None));
    assert_all_passed("disk", "QEMU/SeaBIOS", &on_qemu("disk"));
}

#[test]
fn int15_int11_int12_int1a_system_services_pass_on_ondol_and_seabios() {
    assert_all_passed("system", "ondol", &on_ondol("system", None));
    assert_all_passed("system", "QEMU/SeaBIOS", &on_qemu("system"));
}

#[test]
fn int16_reads_keys_typed_on_the_serial_console() {
    // ondol feeds INT 16h from COM1; QEMU's SeaBIOS takes keys from its keyboard, so this
    // one runs on ondol only.
    assert_all_passed("keyboard", "ondol", &on_ondol("keyboard", Some(b"ab\r\x1b[A")));
}

#[test]
fn the_bios_services_pass_on_kvm_too() {
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        panic!("this test needs /dev/kvm (CI has it): {e}");
    }
    for name in ["video", "disk", "system"] {
        assert_all_passed(name, "kvm", &on_backend(Backend::Kvm, name, None));
    }
    assert_all_passed("keyboard", "kvm", &on_backend(Backend::Kvm, "keyboard", Some(b"ab\r\x1b[A")));
    // A reset through port CF9h ends a kvm boot as it does an emu one. (The real-mode triple
    // fault reboot.S causes next never reaches KVM_EXIT_SHUTDOWN on this host's kvm_pvm, so
    // booting again is tested on emu above.)
    let boot = Boot::Firmware {
        disks: vec![Disk::memory(disk_image("reboot")).named("reboot")],
        kernel: None,
        firmware: None,
    };
    let (report, out) = common::run(Backend::Kvm, boot, false, None);
    assert_eq!(report.outcome, Outcome::Reset, "reboot on kvm:\n{out}");
}

#[test]
fn a_reset_and_a_triple_fault_boot_the_machine_again_with_the_disk_kept() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let boot = Boot::Firmware {
        disks: vec![Disk::memory(disk_image("reboot")).named("reboot")],
        kernel: None,
        firmware: None,
    };
    let log = seen.clone();
    let (report, out) = common::run_with(Backend::Emu, boot, false, None, |cfg| {
        cfg.reboot = Some(Box::new(move |r| log.lock().unwrap().push(r.outcome.clone())));
    });
    assert_all_passed("reboot", "ondol", &out);
    assert_eq!(report.outcome, Outcome::Exit(0), "{out}");
    assert_eq!(report.resets, 2, "{out}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0], Outcome::Reset);
    assert!(matches!(&seen[1], Outcome::Shutdown { reason } if reason.contains("triple fault")), "{seen:?}");
    assert!(out.contains("boot 1: reset through port CF9h") && out.contains("boot 2: triple fault"), "{out}");
    assert_all_passed("reboot", "QEMU/SeaBIOS", &on_qemu_with("reboot", &[]));
}

#[test]
fn without_reboot_a_reset_ends_the_run() {
    let boot = Boot::Firmware {
        disks: vec![Disk::memory(disk_image("reboot")).named("reboot")],
        kernel: None,
        firmware: None,
    };
    let (report, out) = common::run(Backend::Emu, boot, false, None);
    assert_eq!(report.outcome, Outcome::Reset, "{out}");
    assert_eq!(report.resets, 0);
}

//! Protected-mode conformance: the self-checking programs in guest/pm-tests/ boot through the
//! BIOS, switch to 32-bit protected mode and check segmentation, gates, task state, faults and
//! paging against the Intel SDM. Every check must pass on ondol's emu CPU and on Bochs, the
//! most exact reference emulator here (QEMU's TCG skips segment-limit checks, so it is not used
//! as the reference for these).
//!
//! This host's KVM (kvm_pvm) cannot run protected-mode guests, so these run on emu only; on a
//! VT-x/AMD-V host the CPU itself is the reference.

mod common;

use hypervisor::Backend;
use vmm::disk::Disk;
use vmm::machine::{Boot, Outcome};

fn disk(name: &str) -> Vec<u8> {
    let prog = vmm::guest::pm_tests::ALL.iter().find(|p| p.0 == name).unwrap_or_else(|| panic!("no pm test {name}")).1;
    common::check_disk(prog)
}

fn passes_on_ondol_and_bochs(name: &str) {
    let src = format!("pm-tests/{name}.S");
    let boot = Boot::Firmware { disks: vec![Disk::memory(disk(name)).named(name)], kernel: None, firmware: None };
    let (report, out) = common::run(Backend::Emu, boot, false, None);
    common::assert_all_passed(name, &src, "ondol", &out);
    assert_eq!(report.outcome, Outcome::Exit(0), "{name} on ondol:\n{out}");
    let out = common::on_bochs(name, &disk(name), Some("done:"));
    common::assert_all_passed(name, &src, "Bochs", &out);
}

#[test]
fn segmentation_gates_and_privilege_checks_match_the_sdm() {
    passes_on_ondol_and_bochs("pm");
}

#[test]
fn paging_matches_the_sdm() {
    passes_on_ondol_and_bochs("paging");
}

#[test]
fn task_switches_and_virtual_8086_mode_match_the_sdm() {
    passes_on_ondol_and_bochs("task");
}

//! The same guest programs on both backends must print the same thing on COM1, end the same
//! way and leave the same registers (a backend-agnostic table, as crosvm's hypervisor tests).
//!
//! The kvm half needs /dev/kvm. CI has it; where it is missing the test fails and says so. The
//! table holds the programs this repository's CI host's KVM can run (a software KVM that cannot
//! take real-mode INT, DAA or ENTER with nesting); the others run on emu against QEMU in
//! `reference.rs`.

mod common;

use common::program;
use hypervisor::Backend;
use vmm::machine::{Boot, Outcome};

/// (program, expected exit status).
const TABLE: &[(&str, u32)] = &[("hello", 0), ("alu", 0), ("strings", 0), ("control", 0)];

struct Run {
    outcome: Outcome,
    serial: String,
    gprs: [u64; 8],
    rip: u64,
}

fn run(name: &str, backend: Backend) -> Run {
    let (report, serial) = common::run(backend, Boot::Raw(program(name).to_vec()), false, None);
    let s = report.state.expect("final state");
    let mut gprs = [0; 8];
    gprs.copy_from_slice(&s.gpr[..8]);
    Run { outcome: report.outcome, serial, gprs, rip: s.rip }
}

fn kvm_available() {
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        panic!("the kvm half of the cross-backend table needs /dev/kvm, which cannot be opened here: {e}");
    }
}

#[test]
fn every_program_gives_the_same_output_and_registers_on_emu_and_kvm() {
    kvm_available();
    for &(name, code) in TABLE {
        let emu = run(name, Backend::Emu);
        let kvm = run(name, Backend::Kvm);
        assert_eq!(emu.outcome, Outcome::Exit(code), "{name} on emu:\n{}", emu.serial);
        assert_eq!(kvm.outcome, Outcome::Exit(code), "{name} on kvm:\n{}", kvm.serial);
        assert!(!emu.serial.is_empty(), "{name} printed nothing");
        assert_eq!(emu.serial, kvm.serial, "{name}: COM1 output differs between emu and kvm");
        assert_eq!(emu.gprs, kvm.gprs, "{name}: final general registers differ (eax..edi)");
        assert_eq!(emu.rip, kvm.rip, "{name}: final instruction pointer differs");
    }
}

//! Guest programs run on ondol's emu CPU and on QEMU (TCG, booted as a boot sector by SeaBIOS)
//! must print the same thing on COM1. QEMU is the independent oracle for programs the CI host's
//! KVM cannot run (real-mode INT, exceptions through the IVT, decimal adjust, the x87). Needs
//! qemu-system-i386 (scripts/deps installs it); without it the test fails and says so. The x87
//! programs and unreal mode are also run on Bochs, the more exact reference for them, and must
//! print the same.

mod common;

use common::program;
use hypervisor::Backend;
use vmm::machine::{Boot, Outcome};

const PROGRAMS: &[&str] = &["interrupts", "bcd", "alu", "strings", "control", "hello", "fpu-arith", "fpu-convert"];

/// Programs checked against Bochs, the more exact reference for the x87 and for segment limits;
/// these are kept out of the QEMU comparison where QEMU differs:
/// - fpu-stack: QEMU detects no stack overflow or underflow (no IE + SF, no indefinite), never
///   sets the round-up bit C1, raises no #D for a single-precision denormal load, and leaves C0
///   clear for FPREM1's quotient bit 2;
/// - fpu-trans: QEMU computes FSIN, FCOS, FSINCOS and FPTAN with the host's double-precision
///   functions and reports no #P for them;
/// - fpu-except: QEMU stores the masked result even when #Z, #IA or #D is unmasked, and does not
///   bias the exponent of an unmasked #O or #U result;
/// - fpu-env: QEMU writes the protected-mode FSTENV/FSAVE layout in real mode and keeps the
///   instruction and operand pointers across FNINIT;
/// - fpu-misc: QEMU does not set C1 (rounded up) when FSCALE overflows to infinity, and raises
///   no #D for pseudo-denormal operands.
///
/// fpu-arith and fpu-convert (also in [`PROGRAMS`]) print the same on all three.
///
/// - unreal: QEMU does not check segment limits in real mode (no #GP past FS's 64 KiB).
const BOCHS_PROGRAMS: &[&str] =
    &["fpu-arith", "fpu-convert", "fpu-stack", "fpu-trans", "fpu-except", "fpu-env", "fpu-misc", "unreal"];

fn on_emu(name: &str) -> String {
    let (report, out) = common::run(Backend::Emu, Boot::Raw(program(name).to_vec()), true, None);
    assert_eq!(report.outcome, Outcome::Exit(0), "{name} on emu");
    out
}

fn on_qemu(name: &str) -> String {
    let mut img = program(name).to_vec();
    img.resize(1 << 20, 0);
    let (status, out) = common::on_qemu(&format!("ref-{name}"), &img, 16, &["-no-reboot"]);
    // isa-debug-exit: status = (value << 1) | 1.
    assert_eq!(status, Some(1), "{name} on QEMU did not exit with status 0 through port 0xF4");
    out
}

#[test]
fn emu_prints_what_qemu_prints_for_every_program() {
    for name in PROGRAMS {
        let ours = on_emu(name);
        let theirs = on_qemu(name);
        assert!(!theirs.is_empty(), "{name}: QEMU printed nothing");
        assert_eq!(ours, theirs, "{name}: ondol emu and QEMU TCG disagree");
    }
}

#[test]
fn emu_prints_what_bochs_prints_for_the_x87_and_unreal_mode_programs() {
    for name in BOCHS_PROGRAMS {
        let ours = on_emu(name);
        let theirs = common::on_bochs(name, program(name), None);
        assert!(!theirs.is_empty(), "{name}: Bochs printed nothing");
        assert_eq!(ours, theirs, "{name}: ondol emu and Bochs disagree");
    }
}

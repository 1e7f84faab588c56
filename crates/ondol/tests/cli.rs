//! `ondol run` end to end: bad input gets one clear line and exit status 1 (never a panic),
//! guest exit codes and timeouts become ondol's exit status, and emu and kvm print the same.

use std::path::PathBuf;
use std::process::{Command, Output};

fn ondol() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ondol"))
}

fn program(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ondol-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.bin"));
    let bytes = vmm::guest::tests::ALL.iter().find(|p| p.0 == name).unwrap().1;
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Write `bytes` to a temporary file named after `tag`, run `ondol run --backend emu --no-input`
/// with `args` and the file last (so `args` ends with the option that takes it: --raw, --disk,
/// --firmware), remove the file, and return what ondol did.
fn run_emu(tag: &str, bytes: &[u8], args: &[&str]) -> Output {
    let p = std::env::temp_dir().join(format!("ondol-{tag}-{}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    let o = ondol().args(["run", "--backend", "emu", "--no-input"]).args(args).arg(&p).output().unwrap();
    let _ = std::fs::remove_file(&p);
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit status 1 and exactly one line on stderr mentioning `needle`, no panic.
fn fails_with_one_line(o: Output, needle: &str) {
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "exit status; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    assert!(lines[0].starts_with("ondol: "), "{err}");
    assert!(lines[0].contains(needle), "'{needle}' not in: {err}");
}

#[test]
fn a_missing_file_is_one_line() {
    let o = ondol().args(["run", "--backend", "emu", "--raw", "/nonexistent/prog.bin"]).output().unwrap();
    fails_with_one_line(o, "cannot read --raw /nonexistent/prog.bin");
}

#[test]
fn an_empty_file_is_one_line() {
    let p = std::env::temp_dir().join(format!("ondol-empty-{}", std::process::id()));
    std::fs::write(&p, b"").unwrap();
    let o = ondol().args(["run", "--backend", "emu", "--raw"]).arg(&p).output().unwrap();
    fails_with_one_line(o, "empty");
}

#[test]
fn a_program_too_big_for_conventional_memory_is_one_line() {
    let p = std::env::temp_dir().join(format!("ondol-big-{}", std::process::id()));
    std::fs::write(&p, vec![0x90u8; 700 << 10]).unwrap();
    let o = ondol().args(["run", "--backend", "emu", "--raw"]).arg(&p).output().unwrap();
    fails_with_one_line(o, "below 640 KiB");
}

#[test]
fn memory_sizes_out_of_range_are_one_line() {
    let p = program("hello");
    for (size, needle) in [("0", "below the minimum"), ("1T", "above ondol's limit"), ("12Q", "unknown size suffix")] {
        let o = ondol().args(["run", "--backend", "emu", "--memory", size, "--raw"]).arg(&p).output().unwrap();
        fails_with_one_line(o, needle);
    }
}

#[test]
fn an_unknown_backend_is_one_line() {
    let o = ondol().args(["run", "--backend", "vmware", "--raw", "x"]).output().unwrap();
    fails_with_one_line(o, "invalid value 'vmware'");
}

#[test]
fn an_unusable_kvm_device_is_one_line() {
    let p = program("hello");
    let o = ondol()
        .env("ONDOL_KVM_DEVICE", "/nonexistent/kvm")
        .args(["run", "--backend", "kvm", "--no-input", "--raw"])
        .arg(&p)
        .output()
        .unwrap();
    fails_with_one_line(o, "cannot open /nonexistent/kvm");
    // A file that opens but is no KVM: refused too.
    let o = ondol()
        .env("ONDOL_KVM_DEVICE", env!("CARGO_BIN_EXE_ondol"))
        .args(["run", "--backend", "kvm", "--no-input", "--raw"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("use --backend emu"), "{}", stderr(&o));
}

#[test]
fn auto_falls_back_to_emu_and_says_why() {
    let p = program("hello");
    let o = ondol()
        .env("ONDOL_KVM_DEVICE", "/nonexistent/kvm")
        .args(["run", "--no-input", "--timeout", "20", "--raw"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("backend emu: cannot open /nonexistent/kvm"), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello from the guest\r\n");
}

#[test]
fn the_guest_exit_code_and_a_timeout_become_the_exit_status() {
    // A program that writes 42 to the exit port.
    let o = run_emu("exit42", &[0xB0, 42, 0xE6, 0xF4, 0xFA, 0xF4], &["--raw"]);
    assert_eq!(o.status.code(), Some(42), "{}", stderr(&o));
    // jmp $: runs until the timeout.
    let o = run_emu("spin", &[0xEB, 0xFE], &["--timeout", "0.5", "--raw"]);
    assert_eq!(o.status.code(), Some(124), "{}", stderr(&o));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
}

#[test]
fn a_triple_fault_is_reported_with_the_last_instructions() {
    // lidt with a zero limit, then int3: #GP on delivery, #DF, triple fault.
    let prog = [0x0F, 0x01, 0x1E, 0x08, 0x7C, 0xCC, 0xEB, 0xFE, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    let o = run_emu("triple", &prog, &["--timeout", "10", "--raw"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("triple fault"), "{err}");
    assert!(err.contains("int3"), "the report shows the faulting instruction: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_last_instructions_are_listed_in_order_after_a_rep_string_instruction() {
    // Straight-line code: 5 set-up instructions, 12 NOPs, a REP STOSB that retires 5
    // iterations, a NOP, then a triple fault. The listing keeps the last 16 instructions
    // started, once each, in the order they ran (a ring indexed by retired instructions
    // would show stale entries out of order once the REP skipped ahead).
    let mut prog = vec![
        0xFA, // cli
        0x31, 0xC0, // xor ax, ax
        0x8E, 0xC0, // mov es, ax
        0xBF, 0x00, 0x05, // mov di, 500h
        0xB9, 0x05, 0x00, // mov cx, 5
    ];
    prog.extend([0x90; 12]); // 7C0B..7C16
    prog.extend([0xF3, 0xAA]); // 7C17: rep stosb
    prog.push(0x90); // 7C19: nop
    prog.extend([0x0F, 0x01, 0x1E, 0x20, 0x7C]); // 7C1A: lidt [7C20h]
    prog.push(0xCC); // 7C1F: int3
    prog.extend([0; 6]); // 7C20: the IDTR image, limit 0
    let o = run_emu("recent", &prog, &["--timeout", "30", "--raw"]);
    let err = stderr(&o);
    let addrs: Vec<u64> = err
        .lines()
        .skip_while(|l| !l.contains("last instructions executed"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| u64::from_str_radix(l.split_whitespace().next().unwrap(), 16).unwrap())
        .collect();
    let mut want: Vec<u64> = (0x7C0B..=0x7C16).collect();
    want.extend([0x7C17, 0x7C19, 0x7C1A, 0x7C1F]);
    assert_eq!(addrs, want, "{err}");
}

#[test]
fn a_reset_boots_again_unless_no_reboot() {
    // guest/bios-tests/reboot.S: resets through port CF9h, then triple-faults, then exits 0.
    let prog = vmm::guest::bios_tests::ALL.iter().find(|p| p.0 == "reboot").unwrap().1;
    let mut img = vec![0u8; 2048 * 512];
    img[..prog.len()].copy_from_slice(prog);
    let p = std::env::temp_dir().join(format!("ondol-reboot-{}.img", std::process::id()));
    std::fs::write(&p, &img).unwrap();
    let o =
        ondol().args(["run", "--backend", "emu", "--no-input", "--timeout", "30", "--disk"]).arg(&p).output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("the guest reset the machine; booting again"), "{err}");
    assert!(err.contains("triple fault") && err.contains("boots again"), "{err}");
    assert!(err.contains("int3"), "the triple fault shows its instructions: {err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("third_boot_after_cf9_reset_and_triple_fault ok"));
    // The program put its counter back to 0: the same disk now stops at the first reset.
    let o = ondol()
        .args(["run", "--backend", "emu", "--no-input", "--timeout", "30", "--no-reboot", "--disk"])
        .arg(&p)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("the guest reset the machine; the run ends here (--no-reboot)"), "{err}");
    // Now the counter says 1: the next boot triple-faults, which --no-reboot reports as an error.
    let o = ondol()
        .args(["run", "--backend", "emu", "--no-input", "--timeout", "30", "--no-reboot", "--disk"])
        .arg(&p)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("the guest shut the CPU down: triple fault"), "{err}");
    let _ = std::fs::remove_file(&p);
}

#[test]
fn a_disk_that_triple_faults_on_every_boot_stops_after_three_boots() {
    // A boot sector that triple-faults at once (lidt with a zero limit, int3): a PC would
    // reboot forever; ondol gives up after the same triple fault on three boots in a row.
    let mut img = vec![0u8; 2048 * 512];
    let code = [0x0F, 0x01, 0x1E, 0x08, 0x7C, 0xCC, 0xEB, 0xFE, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    img[..code.len()].copy_from_slice(&code);
    img[510] = 0x55;
    img[511] = 0xAA;
    let o = run_emu("triple-loop", &img, &["--timeout", "30", "--disk"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("boots again").count(), 2, "two reboots before giving up: {err}");
    assert!(err.contains("the same on 3 boots in a row"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_far_jump_through_a_garbage_descriptor_ends_with_a_report() {
    // Protected mode with the GDT pointing at the program's own code: selector 8 is the
    // bytes C0 0C 01 0F 22 C0 EA 00, a reserved system-segment type. The far JMP raises #GP,
    // whose delivery through the (empty) IDT faults again: #DF, then a triple fault.
    let prog = [
        0xFA, // cli
        0x0F, 0x01, 0x16, 0x13, 0x7C, // lgdt [0x7C13]
        0x0F, 0x20, 0xC0, // mov eax, cr0
        0x0C, 0x01, // or al, 1
        0x0F, 0x22, 0xC0, // mov cr0, eax
        0xEA, 0x00, 0x00, 0x08, 0x00, // jmp 0008:0000
        0xFF, 0xFF, 0x00, 0x7C, 0x00, 0x00, // gdtr: limit FFFFh, base 7C00h
    ];
    let o = run_emu("baddesc", &prog, &["--timeout", "30", "--raw"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("triple fault"), "{err}");
    assert!(err.contains("jmp far") && err.contains("#GP at 0000:00007c0e"), "the report shows the far jump: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_jump_into_unmapped_memory_ends_with_a_report() {
    // C000:0000 is the empty option-ROM space: all ones, which decode as an invalid
    // instruction; the #UD handler (the zeroed IVT) sends the CPU through zeroed memory. A PC
    // would run on; ondol's --timeout ends the run and shows where the CPU was.
    let o = run_emu("unmapped", &[0xEA, 0x00, 0x00, 0x00, 0xC0], &["--timeout", "1", "--raw"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(124), "{err}");
    assert!(err.contains("timed out") && err.contains("last instructions executed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_guest_that_halts_with_interrupts_off_ends_the_run() {
    // cli; hlt: nothing can wake the CPU, so ondol ends the run instead of waiting.
    let o = run_emu("clihlt", &[0xFA, 0xF4], &["--timeout", "30", "--raw"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("halted with interrupts disabled at 0000:00007c01"), "{err}");
}

#[test]
fn firmware_roms_of_the_wrong_size_are_one_line() {
    for (name, len) in [("empty", 0usize), ("odd", 1000), ("too-big", 32 << 20)] {
        let o = run_emu(&format!("rom-{name}"), &vec![0u8; len], &["--firmware"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
        assert!(err.contains(&format!("firmware image is {len} bytes")) && err.contains("multiple of 64 KiB"), "{err}");
    }
}

#[test]
fn a_firmware_rom_runs_without_a_disk_and_its_top_128k_sits_below_1m() {
    // A 128 KiB ROM: the reset vector (F000:FFF0, the image's last 16 bytes) jumps to
    // E000:0000, the image's first byte, which exits with status 42 through port F4h.
    let mut rom = vec![0xFFu8; 128 << 10];
    rom[..6].copy_from_slice(&[0xB0, 42, 0xE6, 0xF4, 0xFA, 0xF4]);
    rom[0x1FFF0..0x1FFF5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xE0]);
    let o = run_emu("rom", &rom, &["--timeout", "30", "--firmware"]);
    assert_eq!(o.status.code(), Some(42), "{}", stderr(&o));
}

#[test]
fn emu_and_kvm_print_the_same_for_a_raw_program() {
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        panic!("this test needs /dev/kvm (CI has it): {e}");
    }
    let p = program("alu");
    let run = |backend: &str| {
        let o = ondol().args(["run", "--no-input", "--timeout", "20", "--backend", backend, "--raw"]).arg(&p).output();
        let o = o.unwrap();
        assert_eq!(o.status.code(), Some(0), "{backend}: {}", stderr(&o));
        o.stdout
    };
    let emu = run("emu");
    assert!(!emu.is_empty());
    assert_eq!(emu, run("kvm"));
}

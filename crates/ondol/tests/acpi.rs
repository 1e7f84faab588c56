//! `ondol run` ends with exit status 0 when the guest powers the machine off through ACPI S5
//! (guest/bios-tests/acpi.S: the RSDP search, RSDT, FADT, DSDT `\_S5_`, SLP_TYP | SLP_EN).

use std::process::Command;

#[test]
fn ondol_run_exits_0_when_the_guest_powers_off_through_acpi() {
    let prog = vmm::guest::bios_tests::ALL.iter().find(|p| p.0 == "acpi").expect("guest/bios-tests/acpi.S").1;
    let dir = std::env::temp_dir().join(format!("ondol-acpi-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("acpi.img");
    let mut bytes = prog.to_vec();
    bytes.resize(1 << 20, 0);
    std::fs::write(&img, bytes).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ondol"))
        .args(["run", "--backend", "emu", "--no-input", "--timeout", "60", "--disk"])
        .arg(&img)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("all checks passed: powering off through ACPI S5"), "{out}{err}");
    assert!(!out.contains("FAIL"), "{out}");
    assert_eq!(o.status.code(), Some(0), "a power-off is a successful end:\n{out}{err}");
}

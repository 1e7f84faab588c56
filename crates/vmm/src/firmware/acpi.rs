//! The ACPI tables POST writes (ACPI 6.5, chapter 5): an RSDP (revision 0, pointing at an
//! RSDT, which is all a 32-bit OS needs), the RSDT, the FADT (revision 6.5) describing the
//! fixed hardware of `devices/acpi.rs`, the FACS, and a DSDT whose AML holds only the `\_S5_`
//! package (the sleep type that powers the machine off).
//!
//! They sit in the EBDA ([`ACPI_TABLES_START`]..[`ACPI_TABLES_END`]), where OSPM's search for
//! the RSDP looks (5.2.5.1) and which the E820 map already reports as reserved.
//!
//! Left out on purpose: a MADT (the `emu` CPU has no local APIC or I/O APIC yet; without a
//! MADT an OS uses the PICs, which both backends have; `kvm`'s in-kernel irqchip also has an
//! IOAPIC and local APIC, to be described when the `emu` side has them), GPE blocks, the
//! reset register, sleep states other than S5, and any device in the DSDT (the FADT's boot
//! architecture flags tell the OS the legacy devices are there).

use crate::devices::acpi::{PM_TMR_LEN, PM1_CNT_LEN, PM1_EVT_LEN, SLP_TYP_S5};
use crate::devices::cmos::REG_CENTURY;
use crate::layout::{
    ACPI_TABLES_END, ACPI_TABLES_START, IRQ_SCI, PORT_ACPI_PM_TMR, PORT_ACPI_PM1A_CNT, PORT_ACPI_PM1A_EVT,
};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// OEM ID in every header and the RSDP (6 bytes, space padded).
pub const OEM_ID: &[u8; 6] = b"ONDOL ";
/// OEM table ID in every header (8 bytes).
pub const OEM_TABLE_ID: &[u8; 8] = b"ONDOLPC ";
/// OEM revision in every header.
pub const OEM_REVISION: u32 = 1;
/// Creator ID and revision (the "ASL compiler" fields: here, ondol's table builder).
pub const CREATOR_ID: &[u8; 4] = b"ONDL";
pub const CREATOR_REVISION: u32 = 1;

/// Length of the common description header (5.2.6).
pub const HEADER_LEN: usize = 36;
/// RSDP revision 0 (ACPI 1.0 layout, 5.2.5.3): signature, checksum, OEM ID, revision, RSDT.
pub const RSDP_LEN: usize = 20;
/// The FADT of ACPI 6.x (5.2.9, table 5.9), up to the hypervisor vendor identity.
pub const FADT_LEN: usize = 276;
pub const FADT_REVISION: u8 = 6;
pub const FADT_MINOR_REVISION: u8 = 5;
/// The FACS (5.2.10), version 2; it has no checksum and must be 64-byte aligned.
pub const FACS_LEN: usize = 64;
/// DSDT revision 2: integers in its AML are 64 bits.
pub const DSDT_REVISION: u8 = 2;

/// FADT Flags (table 5.10) ondol sets.
pub mod fadt_flags {
    /// WBINVD flushes caches correctly.
    pub const WBINVD: u32 = 1 << 0;
    /// C1 (HLT) works on every processor.
    pub const PROC_C1: u32 = 1 << 2;
    /// Clear: the power button is the fixed-feature one (PWRBTN_STS/EN in PM1).
    pub const PWR_BUTTON: u32 = 1 << 4;
    /// Set: there is no fixed-feature sleep button (and no control-method one either).
    pub const SLP_BUTTON: u32 = 1 << 5;
    /// Set: RTC wake status is not in the fixed registers.
    pub const FIX_RTC: u32 = 1 << 6;
    /// Clear: the PM timer is 24 bits.
    pub const TMR_VAL_EXT: u32 = 1 << 8;
    pub const ONDOL: u32 = WBINVD | PROC_C1 | SLP_BUTTON | FIX_RTC;
}

/// IA-PC boot architecture flags (table 5.11): legacy ISA devices and an 8042 keyboard
/// controller are present; VGA is (so bit 2 is clear); MSI is not supported (there is no PCI
/// bus, and no APIC on `emu`); the CMOS RTC is present (bit 5 clear).
pub mod boot_arch {
    pub const LEGACY_DEVICES: u16 = 1 << 0;
    pub const I8042: u16 = 1 << 1;
    pub const VGA_NOT_PRESENT: u16 = 1 << 2;
    pub const MSI_NOT_SUPPORTED: u16 = 1 << 3;
    pub const CMOS_RTC_NOT_PRESENT: u16 = 1 << 5;
    pub const ONDOL: u16 = LEGACY_DEVICES | I8042 | MSI_NOT_SUPPORTED;
}

/// The DSDT's AML (ACPI 6.5, chapter 20 for the encoding, 7.4.2 for `\_Sx`):
///
/// ```text
/// Name (_S5_, Package (0x04) { 0x07, 0x07, Zero, Zero })
/// ```
///
/// The package is {PM1a_CNT.SLP_TYP, PM1b_CNT.SLP_TYP, reserved, reserved}; there is no
/// PM1b block, and by convention it repeats the PM1a value.
pub const DSDT_AML: [u8; 14] = [
    0x08, // NameOp (20.2.5.1: DefName := NameOp NameString DataRefObject)
    b'_', b'S', b'5', b'_', // NameSeg "_S5_", at the DSDT's top level: the root scope
    0x12, // PackageOp (20.2.5.4: DefPackage := PackageOp PkgLength NumElements PackageElementList)
    0x08, // PkgLength, one-byte form (bits 7-6 = 0): 8 bytes, itself to the package's end
    0x04, // NumElements
    0x0A, SLP_TYP_S5, // BytePrefix, the byte: PM1a_CNT.SLP_TYP for S5
    0x0A, SLP_TYP_S5, // BytePrefix, the byte: PM1b_CNT.SLP_TYP
    0x00,       // ZeroOp: reserved
    0x00,       // ZeroOp: reserved
];

/// The tables as laid out at `base`, and where each one is.
#[derive(Clone, Debug)]
pub struct Tables {
    pub base: u64,
    /// Every byte from `base` on (gaps for alignment are zero).
    pub bytes: Vec<u8>,
    pub rsdp: u64,
    pub rsdt: u64,
    pub fadt: u64,
    pub facs: u64,
    pub dsdt: u64,
}

/// The byte that makes `bytes` sum to zero (mod 256) when stored in a zeroed checksum field.
pub fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)))
}

/// A description table: the common header (5.2.6) with `body` after it, checksum set.
fn table(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let len = HEADER_LEN + body.len();
    let mut t = Vec::with_capacity(len);
    t.extend_from_slice(signature);
    t.extend_from_slice(&(len as u32).to_le_bytes());
    t.push(revision);
    t.push(0); // checksum, set below
    t.extend_from_slice(OEM_ID);
    t.extend_from_slice(OEM_TABLE_ID);
    t.extend_from_slice(&OEM_REVISION.to_le_bytes());
    t.extend_from_slice(CREATOR_ID);
    t.extend_from_slice(&CREATOR_REVISION.to_le_bytes());
    t.extend_from_slice(body);
    t[9] = checksum(&t);
    t
}

/// RSDP revision 0 (5.2.5.3): "RSD PTR ", checksum of the 20 bytes, OEM ID, revision 0, the
/// RSDT's address.
fn rsdp(rsdt: u32) -> Vec<u8> {
    let mut r = Vec::with_capacity(RSDP_LEN);
    r.extend_from_slice(b"RSD PTR ");
    r.push(0);
    r.extend_from_slice(OEM_ID);
    r.push(0);
    r.extend_from_slice(&rsdt.to_le_bytes());
    r[8] = checksum(&r);
    r
}

/// The RSDT (5.2.7): 32-bit addresses of the other tables.
fn rsdt(entries: &[u32]) -> Vec<u8> {
    let body: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
    table(b"RSDT", 1, &body)
}

/// The FACS (5.2.10, table 5.14): no hardware signature, no waking vector (S5 is the only
/// sleep state), the global lock free, no S4BIOS, version 2.
fn facs() -> Vec<u8> {
    let mut f = vec![0u8; FACS_LEN];
    f[0..4].copy_from_slice(b"FACS");
    f[4..8].copy_from_slice(&(FACS_LEN as u32).to_le_bytes());
    f[32] = 2; // Version
    f
}

/// The FADT (5.2.9, table 5.9). Offsets are the table's own (header included). The 32-bit
/// block addresses describe the PM registers; their 64-bit X_ forms are left zero, which the
/// specification allows below 4 GiB (OSPM then uses the 32-bit fields), as are X_FIRMWARE_CTRL
/// and X_DSDT (which must be zero when the 32-bit FIRMWARE_CTRL and DSDT are used).
fn fadt(facs: u32, dsdt: u32) -> Vec<u8> {
    let mut b = vec![0u8; FADT_LEN - HEADER_LEN];
    let mut put = |off: usize, v: &[u8]| b[off - HEADER_LEN..off - HEADER_LEN + v.len()].copy_from_slice(v);
    put(36, &facs.to_le_bytes()); // FIRMWARE_CTRL
    put(40, &dsdt.to_le_bytes()); // DSDT
    // 44: reserved (ACPI 1.0's INT_MODEL), 0. 45: Preferred_PM_Profile 0 (unspecified).
    put(46, &(IRQ_SCI as u16).to_le_bytes()); // SCI_INT
    // 48: SMI_CMD 0: no SMI command port; the machine is always in ACPI mode (SCI_EN set),
    // so ACPI_ENABLE (52), ACPI_DISABLE (53), S4BIOS_REQ (54) and PSTATE_CNT (55) are 0.
    put(56, &(PORT_ACPI_PM1A_EVT as u32).to_le_bytes()); // PM1a_EVT_BLK
    // 60: PM1b_EVT_BLK 0.
    put(64, &(PORT_ACPI_PM1A_CNT as u32).to_le_bytes()); // PM1a_CNT_BLK
    // 68: PM1b_CNT_BLK 0. 72: PM2_CNT_BLK 0.
    put(76, &(PORT_ACPI_PM_TMR as u32).to_le_bytes()); // PM_TMR_BLK
    // 80: GPE0_BLK 0. 84: GPE1_BLK 0.
    put(88, &[PM1_EVT_LEN as u8]); // PM1_EVT_LEN
    put(89, &[PM1_CNT_LEN as u8]); // PM1_CNT_LEN
    // 90: PM2_CNT_LEN 0.
    put(91, &[PM_TMR_LEN as u8]); // PM_TMR_LEN
    // 92: GPE0_BLK_LEN 0, 93: GPE1_BLK_LEN 0, 94: GPE1_BASE 0, 95: CST_CNT 0.
    put(96, &101u16.to_le_bytes()); // P_LVL2_LAT > 100: no C2
    put(98, &1001u16.to_le_bytes()); // P_LVL3_LAT > 1000: no C3
    // 100: FLUSH_SIZE, 102: FLUSH_STRIDE, 104: DUTY_OFFSET, 105: DUTY_WIDTH, 106: DAY_ALRM,
    // 107: MON_ALRM: all 0 (no throttling, no RTC alarm extensions).
    put(108, &[REG_CENTURY]); // CENTURY: the CMOS index of the century
    put(109, &boot_arch::ONDOL.to_le_bytes()); // IAPC_BOOT_ARCH
    // 111: reserved.
    put(112, &fadt_flags::ONDOL.to_le_bytes()); // Flags
    // 116: RESET_REG (12), 128: RESET_VALUE, 129: ARM_BOOT_ARCH: 0 (not supported / not ARM).
    put(131, &[FADT_MINOR_REVISION]); // FADT Minor Version (bits 3-0), errata 0 (bits 7-4)
    // 132: X_FIRMWARE_CTRL, 140: X_DSDT, 148..244: the X_ register blocks, 244:
    // SLEEP_CONTROL_REG, 256: SLEEP_STATUS_REG, 268: hypervisor vendor identity: all 0.
    table(b"FACP", FADT_REVISION, &b)
}

/// Lay the tables out from `base`: RSDP, RSDT, FADT, FACS (64-byte aligned), DSDT.
pub fn build(base: u64) -> Tables {
    let dsdt_table = table(b"DSDT", DSDT_REVISION, &DSDT_AML);
    let rsdt_len = HEADER_LEN + 4;
    let align = |a: u64, n: u64| a.div_ceil(n) * n;
    let rsdp_at = align(base, 16);
    let rsdt_at = align(rsdp_at + RSDP_LEN as u64, 16);
    let fadt_at = align(rsdt_at + rsdt_len as u64, 16);
    let facs_at = align(fadt_at + FADT_LEN as u64, 64);
    let dsdt_at = align(facs_at + FACS_LEN as u64, 16);
    let end = dsdt_at + dsdt_table.len() as u64;
    let mut bytes = vec![0u8; (end - base) as usize];
    let mut put = |at: u64, t: &[u8]| {
        let o = (at - base) as usize;
        bytes[o..o + t.len()].copy_from_slice(t);
    };
    // Everything lies below 1 MiB, so the 32-bit fields hold every address.
    put(dsdt_at, &dsdt_table);
    put(facs_at, &facs());
    put(fadt_at, &fadt(facs_at as u32, dsdt_at as u32));
    put(rsdt_at, &rsdt(&[fadt_at as u32]));
    put(rsdp_at, &rsdp(rsdt_at as u32));
    Tables { base, bytes, rsdp: rsdp_at, rsdt: rsdt_at, fadt: fadt_at, facs: facs_at, dsdt: dsdt_at }
}

/// Write the tables into guest memory at [`ACPI_TABLES_START`] (POST).
pub fn write(mem: &GuestMemoryMmap) -> Tables {
    let t = build(ACPI_TABLES_START);
    debug_assert!(t.base + t.bytes.len() as u64 <= ACPI_TABLES_END);
    // The EBDA is conventional memory, present in every machine ondol builds (1 MiB and up).
    let _ = mem.write_slice(&t.bytes, GuestAddress(t.base));
    t
}

#[cfg(test)]
mod tests {
    //! The tables are parsed back as an OS would, with the offsets written out from the
    //! specification here (not taken from the builder), and every length and checksum checked.

    use super::*;
    use crate::layout::{EBDA_SIZE, EBDA_START};

    fn u16_at(b: &[u8], o: usize) -> u16 {
        u16::from_le_bytes([b[o], b[o + 1]])
    }
    fn u32_at(b: &[u8], o: usize) -> u32 {
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], o: usize) -> u64 {
        u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
    }
    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |a, &x| a.wrapping_add(x))
    }

    /// Guest memory below 1 MiB holding the tables POST wrote, as a flat byte array.
    fn low_memory() -> Vec<u8> {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
        // What POST leaves at 40:0E: the EBDA segment.
        mem.write_obj((EBDA_START >> 4) as u16, GuestAddress(0x40E)).unwrap();
        write(&mem);
        let mut m = vec![0u8; 1 << 20];
        mem.read_slice(&mut m, GuestAddress(0)).unwrap();
        m
    }

    /// OSPM's search (5.2.5.1): the EBDA's first KiB, then E0000-FFFFF, on 16-byte
    /// boundaries, for "RSD PTR " with a valid checksum.
    fn find_rsdp(m: &[u8]) -> Option<usize> {
        let ebda = (u16_at(m, 0x40E) as usize) << 4;
        (ebda..ebda + 1024)
            .step_by(16)
            .chain((0xE0000..0x100000).step_by(16))
            .find(|&a| &m[a..a + 8] == b"RSD PTR " && sum(&m[a..a + 20]) == 0)
    }

    /// A description table at `addr`: checks the signature, that the length fits, the
    /// checksum over the length, and the OEM fields; returns the table's bytes.
    fn sdt<'a>(m: &'a [u8], addr: usize, sig: &[u8; 4]) -> &'a [u8] {
        assert_eq!(&m[addr..addr + 4], sig, "signature at {addr:#x}");
        let len = u32_at(m, addr + 4) as usize;
        assert!(len >= 36 && addr + len <= m.len(), "{sig:?} length {len}");
        let t = &m[addr..addr + len];
        assert_eq!(sum(t), 0, "{} checksum", String::from_utf8_lossy(sig));
        assert_eq!(&t[10..16], b"ONDOL ");
        assert_eq!(&t[16..24], b"ONDOLPC ");
        assert_eq!(&t[28..32], b"ONDL");
        t
    }

    #[test]
    fn the_rsdp_is_found_by_the_spec_search_in_the_ebdas_first_kib() {
        let m = low_memory();
        let a = find_rsdp(&m).expect("no RSDP found by the OSPM search");
        assert!((EBDA_START as usize..EBDA_START as usize + 1024).contains(&a));
        assert_eq!(a % 16, 0);
        let r = &m[a..a + 20];
        assert_eq!(r[15], 0, "revision 0: ACPI 1.0 RSDP with an RSDT");
        assert_eq!(&r[9..15], b"ONDOL ");
        assert_eq!(sum(r), 0);
    }

    #[test]
    fn rsdt_points_at_the_fadt_and_fadt_at_the_facs_and_dsdt() {
        let m = low_memory();
        let rsdp = find_rsdp(&m).unwrap();
        let rsdt = sdt(&m, u32_at(&m, rsdp + 16) as usize, b"RSDT");
        assert_eq!(rsdt.len(), 36 + 4, "one entry");
        assert_eq!(rsdt[8], 1, "RSDT revision");
        let fadt = sdt(&m, u32_at(rsdt, 36) as usize, b"FACP");
        assert_eq!(fadt.len(), 276, "ACPI 6.x FADT length");
        assert_eq!((fadt[8], fadt[131] & 0xF), (6, 5), "FADT 6.5");
        let facs_at = u32_at(fadt, 36) as usize;
        assert_eq!(facs_at % 64, 0, "the FACS is 64-byte aligned");
        let facs = &m[facs_at..facs_at + 64];
        assert_eq!(&facs[0..4], b"FACS");
        assert_eq!(u32_at(facs, 4), 64, "FACS length");
        assert_eq!(u32_at(facs, 16), 0, "the global lock is free");
        assert_eq!(facs[32], 2, "FACS version");
        assert_eq!(u64_at(fadt, 132), 0, "X_FIRMWARE_CTRL must be 0 when FIRMWARE_CTRL is used");
        assert_eq!(u64_at(fadt, 140), 0, "X_DSDT must be 0 when DSDT is used");
        let dsdt = sdt(&m, u32_at(fadt, 40) as usize, b"DSDT");
        assert_eq!(dsdt[8], 2, "DSDT revision 2");
        // Every table lies inside the EBDA, which E820 reports reserved.
        for (a, n) in [(rsdp, 20), (u32_at(&m, rsdp + 16) as usize, rsdt.len()), (facs_at, 64)] {
            assert!(a >= EBDA_START as usize && a + n <= (EBDA_START + EBDA_SIZE) as usize);
        }
        for t in [fadt, dsdt] {
            let a = t.as_ptr() as usize - m.as_ptr() as usize;
            assert!(a >= EBDA_START as usize && a + t.len() <= (EBDA_START + EBDA_SIZE) as usize);
        }
    }

    #[test]
    fn the_fadt_describes_ondols_pm_registers_sci_and_legacy_pc() {
        let m = low_memory();
        let rsdt = u32_at(&m, find_rsdp(&m).unwrap() + 16) as usize;
        let fadt = sdt(&m, u32_at(&m, rsdt + 36) as usize, b"FACP");
        assert_eq!(u16_at(fadt, 46), 9, "SCI_INT: IRQ 9");
        assert_eq!(u32_at(fadt, 48), 0, "no SMI_CMD: always in ACPI mode");
        assert_eq!(u32_at(fadt, 56), 0x600, "PM1a_EVT_BLK");
        assert_eq!(u32_at(fadt, 60), 0, "no PM1b_EVT_BLK");
        assert_eq!(u32_at(fadt, 64), 0x604, "PM1a_CNT_BLK");
        assert_eq!(u32_at(fadt, 68), 0, "no PM1b_CNT_BLK");
        assert_eq!(u32_at(fadt, 72), 0, "no PM2_CNT_BLK");
        assert_eq!(u32_at(fadt, 76), 0x608, "PM_TMR_BLK");
        assert_eq!((u32_at(fadt, 80), u32_at(fadt, 84)), (0, 0), "no GPE blocks");
        assert_eq!(&fadt[88..92], &[4, 2, 0, 4], "PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN, PM_TMR_LEN");
        assert_eq!(&fadt[92..94], &[0, 0], "GPE block lengths");
        assert!(u16_at(fadt, 96) > 100 && u16_at(fadt, 98) > 1000, "C2 and C3 not supported");
        assert_eq!(fadt[108], 0x32, "CENTURY: CMOS index 32h");
        let arch = u16_at(fadt, 109);
        assert_eq!(arch & 0b11, 0b11, "legacy devices and an 8042");
        assert_eq!(arch & (1 << 2), 0, "VGA present");
        assert_eq!(arch & (1 << 5), 0, "CMOS RTC present");
        let flags = u32_at(fadt, 112);
        assert_ne!(flags & 1, 0, "WBINVD");
        assert_eq!(flags & (1 << 4), 0, "fixed-feature power button");
        assert_eq!(flags & (1 << 8), 0, "24-bit PM timer");
        assert_eq!(flags & (1 << 20), 0, "not a hardware-reduced platform");
        assert!(fadt[148..268].iter().all(|&b| b == 0), "X_ blocks left zero");
    }

    #[test]
    fn the_dsdt_holds_s5_with_the_sleep_type_the_pm_device_powers_off_on() {
        let m = low_memory();
        let rsdt = u32_at(&m, find_rsdp(&m).unwrap() + 16) as usize;
        let fadt = sdt(&m, u32_at(&m, rsdt + 36) as usize, b"FACP");
        let dsdt = sdt(&m, u32_at(fadt, 40) as usize, b"DSDT");
        let aml = &dsdt[36..];
        // NameOp "_S5_" PackageOp PkgLength NumElements, then BytePrefix values.
        assert_eq!(&aml[..6], &[0x08, b'_', b'S', b'5', b'_', 0x12]);
        let pkglen = aml[6] as usize;
        assert_eq!(pkglen >> 6, 0, "one-byte PkgLength");
        assert_eq!(6 + pkglen, aml.len(), "the package runs to the end of the AML");
        assert_eq!(aml[7], 4, "four elements");
        assert_eq!(&aml[8..12], &[0x0A, 7, 0x0A, 7], "SLP_TYPa = SLP_TYPb = 7");
        assert_eq!(&aml[12..], &[0x00, 0x00]);
        assert_eq!(SLP_TYP_S5, 7);
    }

    #[test]
    fn the_tables_fit_in_the_ebda_without_overlapping() {
        let t = build(ACPI_TABLES_START);
        assert!(t.base + t.bytes.len() as u64 <= ACPI_TABLES_END, "{} bytes", t.bytes.len());
        let mut spans = [
            (t.rsdp, RSDP_LEN as u64),
            (t.rsdt, 40),
            (t.fadt, FADT_LEN as u64),
            (t.facs, FACS_LEN as u64),
            (t.dsdt, (HEADER_LEN + DSDT_AML.len()) as u64),
        ];
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "{spans:x?}");
        }
        assert_eq!(t.rsdp % 16, 0);
        assert_eq!(t.facs % 64, 0);
    }

    #[test]
    fn checksum_makes_the_sum_zero() {
        for data in [&b""[..], b"RSD PTR ", &[0xFF; 19], &[1, 2, 3]] {
            let mut v = data.to_vec();
            v.push(checksum(data));
            assert_eq!(sum(&v), 0);
        }
    }
}

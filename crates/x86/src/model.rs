//! The CPU model ondol presents: CPUID leaves, advertising only what the emulator implements.
//!
//! A P6-class 32-bit CPU (family 6) under ondol's own vendor string, so guests take their
//! generic paths instead of Intel- or AMD-specific ones (microcode MSRs, model quirks) that a
//! software CPU does not have. What it advertises is what crates/x86 implements: 4 MiB pages
//! (PSE, PSE-36), PAE paging with NX, global pages, the TSC, MSRs, CMPXCHG8B, CMOV, PAT, and
//! the x87 FPU (fpu/).

/// Family 6, model 1, stepping 0: the processor signature in EDX at reset and in CPUID.1:EAX.
pub const SIGNATURE: u32 = 0x0000_0610;

/// CPUID.1:EDX feature bits.
pub mod feature {
    pub const FPU: u32 = 1 << 0;
    pub const DE: u32 = 1 << 2;
    pub const PSE: u32 = 1 << 3;
    pub const TSC: u32 = 1 << 4;
    pub const MSR: u32 = 1 << 5;
    pub const PAE: u32 = 1 << 6;
    pub const CX8: u32 = 1 << 8;
    pub const PGE: u32 = 1 << 13;
    pub const CMOV: u32 = 1 << 15;
    pub const PAT: u32 = 1 << 16;
    pub const PSE36: u32 = 1 << 17;
    /// CPUID.80000001h:EDX.
    pub const NX: u32 = 1 << 20;
}

/// What CPUID.1:EDX reports. Not DE: I/O breakpoints (CR4.DE) are not implemented (execution
/// and data breakpoints are, as on every CPU since the 386).
pub const FEATURES: u32 = feature::FPU
    | feature::PSE
    | feature::TSC
    | feature::MSR
    | feature::PAE
    | feature::CX8
    | feature::PGE
    | feature::CMOV
    | feature::PAT
    | feature::PSE36;

/// Vendor string "OndolVirtCPU" as EBX, EDX, ECX.
const VENDOR: [u32; 3] = [u32::from_le_bytes(*b"Ondo"), u32::from_le_bytes(*b"lVir"), u32::from_le_bytes(*b"tCPU")];

/// Brand string for leaves 80000002h-80000004h (48 bytes, NUL padded).
const BRAND: &[u8; 48] = b"ondol virtual x86 CPU (software, P6-class)\0\0\0\0\0\0";

const MAX_BASIC: u32 = 1;
const MAX_EXTENDED: u32 = 0x8000_0004;

/// CPUID for leaf `eax`, subleaf `ecx`: returns (EAX, EBX, ECX, EDX).
pub fn cpuid(leaf: u32, _subleaf: u32) -> (u32, u32, u32, u32) {
    match leaf {
        0 => (MAX_BASIC, VENDOR[0], VENDOR[2], VENDOR[1]),
        1 => (SIGNATURE, 0, 0, FEATURES),
        0x8000_0000 => (MAX_EXTENDED, 0, 0, 0),
        0x8000_0001 => (0, 0, 0, feature::NX),
        0x8000_0002..=0x8000_0004 => {
            let i = ((leaf - 0x8000_0002) * 16) as usize;
            let w = |k: usize| u32::from_le_bytes([BRAND[i + k], BRAND[i + k + 1], BRAND[i + k + 2], BRAND[i + k + 3]]);
            (w(0), w(4), w(8), w(12))
        }
        // Intel: leaves above the maximum return the highest basic leaf's values.
        _ => cpuid(MAX_BASIC, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendor_and_brand_strings_read_back() {
        let (max, b, c, d) = cpuid(0, 0);
        assert_eq!(max, MAX_BASIC);
        let vendor: Vec<u8> = [b, d, c].iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(&vendor, b"OndolVirtCPU");
        let brand: Vec<u8> = (0x8000_0002..=0x8000_0004u32)
            .flat_map(|l| {
                let (a, b, c, d) = cpuid(l, 0);
                [a, b, c, d].into_iter().flat_map(|w| w.to_le_bytes())
            })
            .collect();
        assert!(brand.starts_with(b"ondol virtual x86 CPU"));
    }

    #[test]
    fn the_signature_is_family_6_and_out_of_range_leaves_repeat_the_last_basic_one() {
        let (eax, _, _, edx) = cpuid(1, 0);
        assert_eq!((eax >> 8) & 0xF, 6);
        assert!(edx & feature::CMOV != 0 && edx & feature::CX8 != 0 && edx & feature::TSC != 0);
        // I/O breakpoints are not implemented, so no debugging extensions.
        assert_eq!(edx & feature::DE, 0);
        assert_eq!(cpuid(7, 0), cpuid(1, 0));
        assert_eq!(cpuid(0x8000_0010, 0), cpuid(1, 0));
    }
}

//! The CPU model ondol presents: CPUID leaves, advertising only what the emulator implements.

/// Family 4 (486-class), model 8, stepping 0: the processor signature in EDX at reset and in
/// CPUID.1:EAX. It grows as the emulator does (protected mode, x87, paging extensions).
pub const SIGNATURE: u32 = 0x0000_0480;

/// CPUID.1:EDX feature bits the emulator implements.
pub mod feature {
    /// x87 FPU on chip (with FCMOVcc and FCOMI, which also need CMOV advertised to be used).
    pub const FPU: u32 = 1 << 0;
    pub const VME: u32 = 1 << 1;
    pub const TSC: u32 = 1 << 4;
    pub const MSR: u32 = 1 << 5;
    pub const CX8: u32 = 1 << 8;
}

/// Vendor string "GenuineIntel" as EBX, EDX, ECX.
const VENDOR: [u32; 3] = [0x756e_6547, 0x4965_6e69, 0x6c65_746e];

/// CPUID for leaf `eax`, subleaf `ecx`: returns (EAX, EBX, ECX, EDX).
pub fn cpuid(leaf: u32, _subleaf: u32) -> (u32, u32, u32, u32) {
    const MAX_BASIC: u32 = 1;
    match leaf {
        0 => (MAX_BASIC, VENDOR[0], VENDOR[2], VENDOR[1]),
        1 => (SIGNATURE, 0, 0, feature::FPU | feature::TSC | feature::MSR | feature::CX8),
        0x8000_0000 => (0x8000_0000, 0, 0, 0),
        // Intel: leaves above the maximum return the highest basic leaf's values.
        l if l > 0x8000_0000 || (l > MAX_BASIC && l < 0x8000_0000) => cpuid(MAX_BASIC, 0),
        _ => (0, 0, 0, 0),
    }
}

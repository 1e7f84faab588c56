//! Model-specific registers the emulated CPU implements; the rest raise #GP as on hardware.

pub const TSC: u32 = 0x10;
pub const APIC_BASE: u32 = 0x1B;
pub const PAT: u32 = 0x277;
pub const EFER: u32 = 0xC000_0080;

pub const EFER_SCE: u64 = 1 << 0;
pub const EFER_LME: u64 = 1 << 8;
pub const EFER_LMA: u64 = 1 << 10;
pub const EFER_NXE: u64 = 1 << 11;

/// MSR values that are plain storage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Msrs {
    pub pat: u64,
}

impl Msrs {
    pub fn new() -> Self {
        Msrs { pat: 0x0007_0406_0007_0406 }
    }
}

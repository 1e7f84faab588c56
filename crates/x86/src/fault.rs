//! Exceptions raised while executing an instruction.

/// Exception vectors (SDM Vol. 3, Table 6-1).
pub mod vector {
    pub const DE: u8 = 0;
    pub const DB: u8 = 1;
    pub const NMI: u8 = 2;
    pub const BP: u8 = 3;
    pub const OF: u8 = 4;
    pub const BR: u8 = 5;
    pub const UD: u8 = 6;
    pub const NM: u8 = 7;
    pub const DF: u8 = 8;
    pub const TS: u8 = 10;
    pub const NP: u8 = 11;
    pub const SS: u8 = 12;
    pub const GP: u8 = 13;
    pub const PF: u8 = 14;
    pub const MF: u8 = 16;
    pub const AC: u8 = 17;
}

/// A fault or trap raised by an instruction, to be delivered through the IVT/IDT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub vector: u8,
    pub error: Option<u32>,
    /// For #PF: the linear address that faulted (loaded into CR2 on delivery).
    pub cr2: Option<u64>,
}

impl Fault {
    pub const fn new(vector: u8) -> Self {
        Fault { vector, error: None, cr2: None }
    }
    pub const fn with_error(vector: u8, error: u32) -> Self {
        Fault { vector, error: Some(error), cr2: None }
    }
    pub const fn ud() -> Self {
        Self::new(vector::UD)
    }
    pub const fn gp0() -> Self {
        Self::with_error(vector::GP, 0)
    }
    pub const fn ss0() -> Self {
        Self::with_error(vector::SS, 0)
    }
    pub const fn de() -> Self {
        Self::new(vector::DE)
    }
    /// Name as the SDM writes it (#GP, #PF, ...), for reports.
    pub fn name(vector: u8) -> &'static str {
        const NAMES: [&str; 22] = [
            "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF",
            "res", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
        ];
        NAMES.get(vector as usize).copied().unwrap_or("INT")
    }
    /// Faults a second exception during delivery turns into #DF (SDM Vol. 3, Table 6-5).
    pub(crate) fn class(vector: u8) -> FaultClass {
        match vector {
            vector::DE | vector::TS | vector::NP | vector::SS | vector::GP => FaultClass::Contributory,
            vector::PF => FaultClass::PageFault,
            vector::DF => FaultClass::DoubleFault,
            _ => FaultClass::Benign,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultClass {
    Benign,
    Contributory,
    PageFault,
    DoubleFault,
}

pub type Result<T> = core::result::Result<T, Fault>;

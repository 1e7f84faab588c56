//! The machine: guest memory, port and MMIO buses, PC devices, firmware and boot.

pub mod boot;
pub mod bus;
pub mod clock;
pub mod devices;
pub mod disk;
pub mod firmware;
pub mod guest;
pub mod irq;
pub mod layout;
pub mod machine;
pub mod memory;
pub mod probe;
pub mod trace;

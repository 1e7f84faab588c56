//! ondol's software x86 CPU: architectural state, decoding (iced-x86), execution and the MMU.
//!
//! The CPU knows nothing of devices: RAM and ROM are host memory described by a [`PhysMap`],
//! and everything else (port I/O, MMIO, the INTR line) goes through the [`Bus`] trait.

mod bus;
mod cpu;
mod exec;
mod fault;
mod fpu;
mod icache;
mod mem;
pub mod model;
pub mod msr;
pub mod state;

pub use bus::Bus;
pub use cpu::{Cpu, Exit, Mode, RECENT};
pub use fault::{Fault, vector};
pub use fpu::Fpu;
pub use mem::{MapError, PhysMap, Region};
pub use state::{CpuState, DescTable, Segment};

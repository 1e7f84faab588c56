//! Interrupt lines: how a device raises an IRQ without knowing which interrupt controller
//! (ondol's i8259 model on `emu`, the in-kernel irqchip on `kvm`) is behind it.

use std::sync::Arc;

/// One ISA interrupt line.
pub trait IrqLine: Send + Sync {
    /// Drive the line high (true) or low (false).
    fn set_level(&self, level: bool);
    /// A rising edge followed by the line going low again (an edge-triggered ISA interrupt).
    fn pulse(&self) {
        self.set_level(true);
        self.set_level(false);
    }
}

pub type Irq = Arc<dyn IrqLine>;

/// A line connected to nothing (for a device whose interrupt is not wired, and for tests).
pub struct NoIrq;

impl IrqLine for NoIrq {
    fn set_level(&self, _: bool) {}
}

/// A line that records its level and counts rising edges (for device tests).
#[derive(Default)]
pub struct TestIrq {
    pub level: std::sync::atomic::AtomicBool,
    pub edges: std::sync::atomic::AtomicU32,
}

impl IrqLine for TestIrq {
    fn set_level(&self, level: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        if level && !self.level.swap(true, SeqCst) {
            self.edges.fetch_add(1, SeqCst);
        }
        if !level {
            self.level.store(false, SeqCst);
        }
    }
}

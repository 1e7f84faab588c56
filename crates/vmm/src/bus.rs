//! Port I/O and MMIO buses: address ranges mapped to devices, with overlap checks.

use std::sync::{Arc, Mutex};

/// A device as a bus sees it: reads and writes at an offset inside its range.
///
/// Implementations are thin adapters over a bus-agnostic device core: they check the access
/// size, decode the offset into a register, and log what they do not understand.
pub trait BusDevice: Send {
    /// Read `data.len()` bytes at `offset` from the start of the device's range.
    fn read(&mut self, offset: u64, data: &mut [u8]);
    /// Write `data` at `offset` from the start of the device's range.
    fn write(&mut self, offset: u64, data: &[u8]);
}

/// A device shared between the bus and whoever else drives it (an input thread, a trace).
pub type SharedDevice = Arc<Mutex<dyn BusDevice>>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BusError {
    #[error("bus range {base:#x}+{len:#x} ({name}) overlaps {other_base:#x}+{other_len:#x} ({other})")]
    Overlap { base: u64, len: u64, name: &'static str, other_base: u64, other_len: u64, other: &'static str },
    #[error("bus range {base:#x} ({name}) is empty")]
    Empty { base: u64, name: &'static str },
}

struct Entry {
    base: u64,
    len: u64,
    name: &'static str,
    dev: SharedDevice,
}

/// A set of non-overlapping ranges, each served by one device.
#[derive(Default)]
pub struct Bus {
    entries: Vec<Entry>,
}

impl Bus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Map `dev` at `base .. base + len`. Fails when the range overlaps one already mapped.
    pub fn insert(&mut self, base: u64, len: u64, name: &'static str, dev: SharedDevice) -> Result<(), BusError> {
        if len == 0 {
            return Err(BusError::Empty { base, name });
        }
        for e in &self.entries {
            if base < e.base + e.len && e.base < base + len {
                return Err(BusError::Overlap { base, len, name, other_base: e.base, other_len: e.len, other: e.name });
            }
        }
        let at = self.entries.partition_point(|e| e.base < base);
        self.entries.insert(at, Entry { base, len, name, dev });
        Ok(())
    }

    fn find(&self, addr: u64) -> Option<&Entry> {
        let i = self.entries.partition_point(|e| e.base <= addr);
        let e = self.entries.get(i.checked_sub(1)?)?;
        (addr - e.base < e.len).then_some(e)
    }

    /// Read from the device at `addr`; false (and `data` left as is) when nothing is there.
    pub fn read(&self, addr: u64, data: &mut [u8]) -> bool {
        match self.find(addr) {
            Some(e) => {
                lock(&e.dev).read(addr - e.base, data);
                true
            }
            None => false,
        }
    }

    /// Write to the device at `addr`; false when nothing is there.
    pub fn write(&self, addr: u64, data: &[u8]) -> bool {
        match self.find(addr) {
            Some(e) => {
                lock(&e.dev).write(addr - e.base, data);
                true
            }
            None => false,
        }
    }

    /// (base, len, name) of every mapped range, in address order.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64, &'static str)> + '_ {
        self.entries.iter().map(|e| (e.base, e.len, e.name))
    }
}

/// Lock a device, recovering it if a previous holder panicked (a device must stay usable so
/// the VM can report and exit cleanly).
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Reg(u8);
    impl BusDevice for Reg {
        fn read(&mut self, offset: u64, data: &mut [u8]) {
            data[0] = self.0 + offset as u8;
        }
        fn write(&mut self, _: u64, data: &[u8]) {
            self.0 = data[0];
        }
    }

    fn dev(v: u8) -> SharedDevice {
        Arc::new(Mutex::new(Reg(v)))
    }

    #[test]
    fn overlapping_ranges_are_refused() {
        let mut b = Bus::new();
        b.insert(0x40, 4, "pit", dev(0)).unwrap();
        let e = b.insert(0x43, 2, "other", dev(0)).unwrap_err();
        assert!(matches!(e, BusError::Overlap { other: "pit", .. }), "{e}");
        assert!(b.insert(0x3F, 1, "below", dev(0)).is_ok());
        assert!(b.insert(0x44, 1, "above", dev(0)).is_ok());
        assert!(matches!(b.insert(0x50, 0, "empty", dev(0)), Err(BusError::Empty { .. })));
    }

    #[test]
    fn accesses_reach_the_device_at_its_offset() {
        let mut b = Bus::new();
        b.insert(0x70, 2, "cmos", dev(10)).unwrap();
        let mut d = [0u8];
        assert!(b.read(0x71, &mut d));
        assert_eq!(d[0], 11);
        assert!(b.write(0x70, &[5]));
        assert!(b.read(0x70, &mut d));
        assert_eq!(d[0], 5);
        assert!(!b.read(0x72, &mut d));
        assert!(!b.read(0x6F, &mut d));
    }
}

//! Guest memory: RAM (rust-vmm's vm-memory), the firmware ROM, and how they are laid out in
//! guest-physical space (see layout.rs).

use crate::layout::{
    BIOS_SIZE, CONVENTIONAL_END, FIRMWARE_LOW_MAX, FIRMWARE_TOP, HIGH_MEMORY, HIGH_RAM_START, LOW_RAM_MAX, MAX_MEMORY,
    MIN_MEMORY, VGA_SIZE, VGA_START,
};
use hypervisor::MemorySlot;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend as _, GuestMemoryMmap, GuestMemoryRegion, MmapRegion};

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("memory size {0} is below the minimum of 1 MiB; give --memory 1M or more")]
    TooSmall(u64),
    #[error("memory size {size} is above ondol's limit of {max} GiB; give a smaller --memory", max = MAX_MEMORY >> 30)]
    TooLarge { size: u64 },
    #[error("cannot allocate {size} bytes of guest memory: {source}")]
    Alloc {
        size: u64,
        #[source]
        source: vm_memory::mmap::FromRangesError,
    },
    #[error("cannot allocate the firmware ROM: {0}")]
    Rom(#[source] vm_memory::mmap::MmapRegionError),
    #[error("firmware image is {0} bytes: it must be a non-zero multiple of 64 KiB and at most 16 MiB")]
    RomSize(usize),
    #[error("guest address {addr:#x}+{len:#x} is not RAM")]
    OutOfRange { addr: u64, len: usize },
}

/// All of a VM's memory.
pub struct GuestMemory {
    ram: GuestMemoryMmap,
    /// Firmware ROM, mapped below 1 MiB (its last 64 KiB) and at the top of the 32-bit space.
    rom: Option<MmapRegion>,
    size: u64,
}

impl GuestMemory {
    /// `size` bytes of RAM placed as on a PC: 0 .. 640 KiB, the VGA window (RAM, so text
    /// written there can be read back), 1 MiB up to 3 GiB, and the rest above 4 GiB.
    pub fn new(size: u64) -> Result<Self, MemoryError> {
        Self::check_size(size)?;
        let mut ranges =
            vec![(GuestAddress(0), CONVENTIONAL_END as usize), (GuestAddress(VGA_START), VGA_SIZE as usize)];
        let low_end = size.min(LOW_RAM_MAX);
        if low_end > HIGH_MEMORY {
            ranges.push((GuestAddress(HIGH_MEMORY), (low_end - HIGH_MEMORY) as usize));
        }
        if size > LOW_RAM_MAX {
            ranges.push((GuestAddress(HIGH_RAM_START), (size - LOW_RAM_MAX) as usize));
        }
        let ram = GuestMemoryMmap::from_ranges(&ranges).map_err(|source| MemoryError::Alloc { size, source })?;
        Ok(GuestMemory { ram, rom: None, size })
    }

    /// Whether `size` is a RAM size ondol accepts.
    pub fn check_size(size: u64) -> Result<(), MemoryError> {
        if size < MIN_MEMORY {
            return Err(MemoryError::TooSmall(size));
        }
        if size > MAX_MEMORY {
            return Err(MemoryError::TooLarge { size });
        }
        Ok(())
    }

    /// Install a firmware image (BIOS). It must be a multiple of 64 KiB; its last 128 KiB
    /// at most end at 1 MiB and the whole image ends at 4 GiB.
    pub fn set_firmware(&mut self, image: &[u8]) -> Result<(), MemoryError> {
        if image.is_empty() || image.len() % BIOS_SIZE as usize != 0 || image.len() > 16 << 20 {
            return Err(MemoryError::RomSize(image.len()));
        }
        let rom = MmapRegion::new(image.len()).map_err(MemoryError::Rom)?;
        // SAFETY: `rom` is a fresh private mapping of exactly image.len() bytes.
        unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), rom.as_ptr(), image.len()) };
        self.rom = Some(rom);
        Ok(())
    }

    /// RAM size as requested.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// RAM below 4 GiB and above it, in bytes (for CMOS, e820 and the BDA).
    pub fn below_4g(&self) -> u64 {
        self.size.min(LOW_RAM_MAX)
    }
    pub fn above_4g(&self) -> u64 {
        self.size.saturating_sub(LOW_RAM_MAX)
    }

    pub fn ram(&self) -> &GuestMemoryMmap {
        &self.ram
    }

    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.ram.write_slice(data, GuestAddress(addr)).map_err(|_| MemoryError::OutOfRange { addr, len: data.len() })
    }

    pub fn read(&self, addr: u64, data: &mut [u8]) -> Result<(), MemoryError> {
        self.ram.read_slice(data, GuestAddress(addr)).map_err(|_| MemoryError::OutOfRange { addr, len: data.len() })
    }

    /// The slots to give a hypervisor: every RAM region, and the ROM twice (below 1 MiB and
    /// below 4 GiB).
    pub fn slots(&self) -> Vec<MemorySlot> {
        let mut slots: Vec<MemorySlot> = self
            .ram
            .iter()
            .map(|r| MemorySlot { gpa: r.start_addr().0, size: r.len(), host: r.as_ptr(), readonly: false })
            .collect();
        if let Some(rom) = &self.rom {
            let len = rom.size() as u64;
            let low = len.min(FIRMWARE_LOW_MAX);
            // SAFETY: the last `low` bytes lie inside the mapping (low <= len).
            let top = unsafe { rom.as_ptr().add((len - low) as usize) };
            slots.push(MemorySlot { gpa: HIGH_MEMORY - low, size: low, host: top, readonly: true });
            slots.push(MemorySlot { gpa: FIRMWARE_TOP - len, size: len, host: rom.as_ptr(), readonly: true });
        }
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_skips_the_legacy_hole_and_relocates_above_3g() {
        let m = GuestMemory::new(4 << 30).unwrap();
        let slots = m.slots();
        let spans: Vec<(u64, u64)> = slots.iter().map(|s| (s.gpa, s.size)).collect();
        assert_eq!(
            spans,
            vec![(0, 0xA0000), (0xA0000, 0x20000), (0x10_0000, 0xC000_0000 - 0x10_0000), (0x1_0000_0000, 1 << 30)]
        );
        assert_eq!(m.below_4g(), 0xC000_0000);
        assert_eq!(m.above_4g(), 1 << 30);
    }

    #[test]
    fn sizes_outside_the_limits_are_refused_with_a_reason() {
        assert!(matches!(GuestMemory::new(0), Err(MemoryError::TooSmall(0))));
        let e = GuestMemory::new(1 << 40).err().unwrap();
        assert!(e.to_string().contains("--memory"), "{e}");
    }

    #[test]
    fn firmware_appears_below_1m_and_below_4g() {
        let mut m = GuestMemory::new(16 << 20).unwrap();
        let mut img = vec![0u8; 128 << 10];
        img[0] = 0x11;
        *img.last_mut().unwrap() = 0x22;
        img[0x10000] = 0x33;
        m.set_firmware(&img).unwrap();
        let slots = m.slots();
        // 128 KiB: all of it at E0000-FFFFF and at FFFE0000-FFFFFFFF.
        let low = slots.iter().find(|s| s.gpa == 0xE0000).unwrap();
        let high = slots.iter().find(|s| s.gpa == 0xFFFE_0000).unwrap();
        assert!(low.readonly && high.readonly && low.size == 128 << 10);
        // SAFETY: both slots are live mappings of the sizes they state.
        unsafe {
            assert_eq!((*low.host, *low.host.add(0x10000), *low.host.add(0x1FFFF)), (0x11, 0x33, 0x22));
            assert_eq!(*high.host, 0x11);
        }
        // 256 KiB: only the top 128 KiB below 1 MiB.
        let mut big = vec![0u8; 256 << 10];
        big[128 << 10] = 0x44;
        m.set_firmware(&big).unwrap();
        let low = m.slots().into_iter().find(|s| s.gpa == 0xE0000).unwrap();
        assert_eq!(low.size, 128 << 10);
        // SAFETY: as above.
        assert_eq!(unsafe { *low.host }, 0x44);
        // 64 KiB: F0000-FFFFF.
        m.set_firmware(&img[..64 << 10]).unwrap();
        assert!(m.slots().iter().any(|s| s.gpa == 0xF0000 && s.size == 64 << 10));
        assert!(matches!(m.set_firmware(&[0; 1000]), Err(MemoryError::RomSize(1000))));
    }

    #[test]
    fn reads_and_writes_outside_ram_fail() {
        let m = GuestMemory::new(2 << 20).unwrap();
        m.write(0x7C00, &[1, 2, 3]).unwrap();
        let mut b = [0; 3];
        m.read(0x7C00, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3]);
        assert!(m.write(0xC0000, &[0]).is_err());
        assert!(m.write(2 << 20, &[0]).is_err());
    }
}

//! Direct kernel boot by the Linux x86 boot protocol (Documentation/arch/x86/boot.rst), the
//! 16-bit way: the real-mode setup code and the protected-mode kernel are placed in memory as a
//! boot loader would, and the BIOS enters the setup code instead of loading a boot sector. The
//! setup code then calls the BIOS (E820, video) itself and switches to protected mode.
//!
//! rust-vmm's linux-loader loads only the protected-mode part for the 64-bit entry and skips
//! the setup code, which is the part this boot path runs; the few header fields used here are
//! read and written at their documented offsets instead.

use crate::layout::{EBDA_START, HIGH_MEMORY};
use crate::memory::GuestMemory;

/// Where the real-mode code goes: X in boot.rst's layout (boot sector at X, setup from X+200h,
/// stack/heap up to X+10000h, command line from X+10000h).
pub const SETUP_BASE: u64 = 0x1_0000;
/// Command line address and the most ondol places there.
const CMDLINE: u64 = SETUP_BASE + 0x1_0000;
const CMDLINE_MAX: usize = 0x7FFF;

/// Setup header offsets (boot.rst, "The real-mode kernel header").
mod hdr {
    pub const SETUP_SECTS: usize = 0x1F1;
    pub const VID_MODE: usize = 0x1FA;
    pub const BOOT_FLAG: usize = 0x1FE;
    pub const HEADER: usize = 0x202;
    pub const VERSION: usize = 0x206;
    pub const TYPE_OF_LOADER: usize = 0x210;
    pub const LOADFLAGS: usize = 0x211;
    pub const CODE32_START: usize = 0x214;
    pub const RAMDISK_IMAGE: usize = 0x218;
    pub const RAMDISK_SIZE: usize = 0x21C;
    pub const HEAP_END_PTR: usize = 0x224;
    pub const CMD_LINE_PTR: usize = 0x228;
    pub const INITRD_ADDR_MAX: usize = 0x22C;
    pub const CMDLINE_SIZE: usize = 0x238;
    pub const INIT_SIZE: usize = 0x260;
}

const LOADED_HIGH: u8 = 0x01;
const CAN_USE_HEAP: u8 = 0x80;

#[derive(Debug, thiserror::Error)]
pub enum LinuxError {
    #[error("{0} is not a Linux kernel image (no 55AA boot flag and HdrS header): give a bzImage")]
    NotLinux(String),
    #[error("{name}: boot protocol {major}.{minor:02} is too old: ondol needs 2.04 or later (Linux 2.6 and newer)")]
    TooOld { name: String, major: u8, minor: u8 },
    #[error("{0} is a zImage (loaded low): ondol boots bzImage kernels only")]
    ZImage(String),
    #[error("{0} is truncated: shorter than its own setup code")]
    Truncated(String),
    #[error(
        "the kernel needs {need} MiB of memory from 1 MiB up (image and decompression), more than the {have} MiB below 4 GiB: give a larger --memory"
    )]
    KernelTooLarge { need: u64, have: u64 },
    #[error(
        "the initrd ({size} bytes) does not fit in memory below {limit:#x} above the kernel: give a larger --memory or a smaller initrd"
    )]
    InitrdTooLarge { size: u64, limit: u64 },
    #[error("the command line is {len} bytes: this kernel takes at most {max}")]
    CmdlineTooLong { len: usize, max: usize },
    #[error(transparent)]
    Memory(#[from] crate::memory::MemoryError),
}

/// What was loaded where.
#[derive(Clone, Debug)]
pub struct LoadedLinux {
    pub protocol: (u8, u8),
    /// Segment of the setup code: entered at (segment + 20h):0000.
    pub setup_segment: u16,
    pub setup_bytes: u64,
    pub kernel_start: u64,
    pub kernel_bytes: u64,
    pub initrd: Option<(u64, u64)>,
    pub cmdline: String,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Load a bzImage, an optional initrd and a command line into `mem`.
pub fn load(
    mem: &GuestMemory,
    name: &str,
    image: &[u8],
    initrd: Option<&[u8]>,
    cmdline: &str,
) -> Result<LoadedLinux, LinuxError> {
    if image.len() < 0x264 || u16_at(image, hdr::BOOT_FLAG) != 0xAA55 || &image[hdr::HEADER..hdr::HEADER + 4] != b"HdrS"
    {
        return Err(LinuxError::NotLinux(name.into()));
    }
    let version = u16_at(image, hdr::VERSION);
    let (major, minor) = ((version >> 8) as u8, version as u8);
    if version < 0x0204 {
        return Err(LinuxError::TooOld { name: name.into(), major, minor });
    }
    if image[hdr::LOADFLAGS] & LOADED_HIGH == 0 {
        return Err(LinuxError::ZImage(name.into()));
    }
    let sects = match image[hdr::SETUP_SECTS] {
        0 => 4,
        n => n as u64,
    };
    let setup_bytes = (sects + 1) * 512;
    if image.len() as u64 <= setup_bytes {
        return Err(LinuxError::Truncated(name.into()));
    }
    let kernel = &image[setup_bytes as usize..];
    let below_4g = mem.below_4g();
    // Room the kernel needs from its load address: the image, or init_size (2.10+) if larger.
    let init_size = if version >= 0x020A { u32_at(image, hdr::INIT_SIZE) as u64 } else { 0 };
    let need = HIGH_MEMORY + (kernel.len() as u64).max(init_size);
    if need > below_4g {
        return Err(LinuxError::KernelTooLarge { need: need.div_ceil(1 << 20), have: below_4g >> 20 });
    }
    let max_cmdline = if version >= 0x0206 { u32_at(image, hdr::CMDLINE_SIZE) as usize } else { 255 };
    if cmdline.len() > max_cmdline.min(CMDLINE_MAX) {
        return Err(LinuxError::CmdlineTooLong { len: cmdline.len(), max: max_cmdline.min(CMDLINE_MAX) });
    }
    debug_assert!(CMDLINE + CMDLINE_MAX as u64 + 1 < EBDA_START);

    // The initrd: as high as the kernel allows, below 4 GiB and above the kernel, 4 KiB aligned.
    let initrd_at = match initrd {
        Some(rd) => {
            let max = u32_at(image, hdr::INITRD_ADDR_MAX) as u64;
            let max = if max == 0 { 0x37FF_FFFF } else { max };
            let limit = below_4g.min(max + 1);
            let size = rd.len() as u64;
            let at = limit.checked_sub(size).map(|a| a & !0xFFF);
            match at {
                Some(a) if a >= need => Some((a, size)),
                _ => return Err(LinuxError::InitrdTooLarge { size, limit }),
            }
        }
        None => None,
    };

    let mut setup = image[..setup_bytes as usize].to_vec();
    setup[hdr::TYPE_OF_LOADER] = 0xFF;
    setup[hdr::LOADFLAGS] |= CAN_USE_HEAP;
    setup[hdr::VID_MODE..hdr::VID_MODE + 2].copy_from_slice(&0xFFFFu16.to_le_bytes());
    setup[hdr::HEAP_END_PTR..hdr::HEAP_END_PTR + 2].copy_from_slice(&0xFE00u16.to_le_bytes());
    setup[hdr::CMD_LINE_PTR..hdr::CMD_LINE_PTR + 4].copy_from_slice(&(CMDLINE as u32).to_le_bytes());
    setup[hdr::CODE32_START..hdr::CODE32_START + 4].copy_from_slice(&(HIGH_MEMORY as u32).to_le_bytes());
    if let Some((at, size)) = initrd_at {
        setup[hdr::RAMDISK_IMAGE..hdr::RAMDISK_IMAGE + 4].copy_from_slice(&(at as u32).to_le_bytes());
        setup[hdr::RAMDISK_SIZE..hdr::RAMDISK_SIZE + 4].copy_from_slice(&(size as u32).to_le_bytes());
    }
    mem.write(SETUP_BASE, &setup)?;
    let mut line = cmdline.as_bytes().to_vec();
    line.push(0);
    mem.write(CMDLINE, &line)?;
    mem.write(HIGH_MEMORY, kernel)?;
    if let (Some(rd), Some((at, _))) = (initrd, initrd_at) {
        mem.write(at, rd)?;
    }
    Ok(LoadedLinux {
        protocol: (major, minor),
        setup_segment: (SETUP_BASE >> 4) as u16,
        setup_bytes,
        kernel_start: HIGH_MEMORY,
        kernel_bytes: kernel.len() as u64,
        initrd: initrd_at,
        cmdline: cmdline.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal image with a setup header of protocol `version`.
    fn image(version: u16, setup_sects: u8, kernel: usize) -> Vec<u8> {
        let mut v = vec![0u8; (setup_sects as usize + 1) * 512 + kernel];
        v[hdr::SETUP_SECTS] = setup_sects;
        v[hdr::BOOT_FLAG..hdr::BOOT_FLAG + 2].copy_from_slice(&0xAA55u16.to_le_bytes());
        v[hdr::HEADER..hdr::HEADER + 4].copy_from_slice(b"HdrS");
        v[hdr::VERSION..hdr::VERSION + 2].copy_from_slice(&version.to_le_bytes());
        v[hdr::LOADFLAGS] = LOADED_HIGH;
        v[hdr::CMDLINE_SIZE..hdr::CMDLINE_SIZE + 4].copy_from_slice(&2048u32.to_le_bytes());
        v
    }

    #[test]
    fn a_bzimage_is_split_into_setup_kernel_initrd_and_command_line() {
        let mem = GuestMemory::new(64 << 20).unwrap();
        let img = image(0x020F, 4, 3000);
        let rd = vec![7u8; 5000];
        let l = load(&mem, "k", &img, Some(&rd), "console=ttyS0").unwrap();
        assert_eq!(l.setup_segment, 0x1000);
        assert_eq!(l.kernel_bytes, 3000);
        let (at, size) = l.initrd.unwrap();
        assert_eq!(size, 5000);
        assert!(at + size <= 64 << 20 && at % 4096 == 0);
        let mut b = [0u8; 4];
        mem.read(SETUP_BASE + hdr::CMD_LINE_PTR as u64, &mut b).unwrap();
        assert_eq!(u32::from_le_bytes(b) as u64, CMDLINE);
        let mut line = [0u8; 14];
        mem.read(CMDLINE, &mut line).unwrap();
        assert_eq!(&line, b"console=ttyS0\0");
        mem.read(SETUP_BASE + hdr::TYPE_OF_LOADER as u64, &mut b[..1]).unwrap();
        assert_eq!(b[0], 0xFF);
        mem.read(at, &mut b).unwrap();
        assert_eq!(b, [7; 4]);
    }

    #[test]
    fn what_cannot_boot_is_refused_with_a_reason() {
        let mem = GuestMemory::new(16 << 20).unwrap();
        assert!(matches!(load(&mem, "k", &[0u8; 4096], None, ""), Err(LinuxError::NotLinux(_))));
        assert!(matches!(load(&mem, "k", &image(0x0202, 4, 10), None, ""), Err(LinuxError::TooOld { .. })));
        let mut z = image(0x020F, 4, 10);
        z[hdr::LOADFLAGS] = 0;
        assert!(matches!(load(&mem, "k", &z, None, ""), Err(LinuxError::ZImage(_))));
        assert!(matches!(load(&mem, "k", &image(0x020F, 4, 0), None, ""), Err(LinuxError::Truncated(_))));
        let big = image(0x020F, 4, 20 << 20);
        let e = load(&mem, "k", &big, None, "").unwrap_err();
        assert!(e.to_string().contains("--memory"), "{e}");
        let e = load(&mem, "k", &image(0x020F, 4, 10), Some(&vec![0; 15 << 20]), "").unwrap_err();
        assert!(matches!(e, LinuxError::InitrdTooLarge { .. }), "{e}");
        let e = load(&mem, "k", &image(0x020F, 4, 10), None, &"x".repeat(3000)).unwrap_err();
        assert!(matches!(e, LinuxError::CmdlineTooLong { .. }), "{e}");
    }
}

//! Recognising boot code and what a partition's first sectors hold, by stable strings and
//! bytes of the real binaries (syslinux 6.04's mbr/, GRUB 2.06's boot.img, as Debian ships
//! them; see `ondol disk inspect`).

use super::image::{Disk, SECTOR_SIZE};
use super::mbr::CODE_SIZE;
use super::vbr::{self, KernelHeader};

/// Where ondol's MBR (guest/boot/mbr.S) keeps its marker.
pub const ONDOL_MARKER_OFFSET: usize = 0x1B0;
pub const ONDOL_MARKER: &[u8; 8] = b"ondolMBR";

/// The prefix of every message ondol's boot loader (guest/boot/vbr.S) prints.
const ONDOL_BOOT_LOADER_MESSAGE: &[u8] = b"ondol boot loader: ";
/// The first instructions of every syslinux MBR: xor ax,ax; cli; mov ds,ax; mov ss,ax;
/// mov sp,7C00h (mbr/mbr.S, isohdpfx.S and their variants all start so).
const SYSLINUX_START: &[u8] = &[0x33, 0xC0, 0xFA, 0x8E, 0xD8, 0x8E, 0xD0, 0xBC, 0x00, 0x7C];
/// Offset right after syslinux's relocation jump (ljmp 0:061Fh), where the build variants
/// differ: 60h (pusha: the _c build, Ctrl held forces drive 80h), B2h 80h (mov dl,80h: the _f
/// build), anything else: the plain build.
const SYSLINUX_VARIANT_OFFSET: usize = 0x1F;
/// GRUB's message block, the same in GRUB 2's boot.img and GRUB Legacy's stage1.
const GRUB_MESSAGES: &[u8] = b"GRUB \0Geom\0Hard Disk\0Read\0 Error";
/// GRUB 2's boot.img starts with a jump over the BPB to 65h; its core.img's LBA is the u64
/// at 5Ch (GRUB_BOOT_MACHINE_KERNEL_SECTOR in include/grub/i386/pc/boot.h).
const GRUB2_JUMP: &[u8] = &[0xEB, 0x63];
const GRUB2_KERNEL_SECTOR: usize = 0x5C;

/// Which syslinux MBR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslinuxMbr {
    /// mbr.bin: boots the active partition.
    Mbr,
    /// altmbr.bin: boots the partition whose number is in byte 1B7h, whatever the flags say.
    AltMbr { partition: u8 },
    /// gptmbr.bin: boots the GPT partition with the legacy-BIOS-bootable attribute.
    GptMbr,
}

/// Which build of a syslinux MBR (syslinux's mbr/ Makefile: plain, _c and _f).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslinuxBuild {
    Plain,
    /// `_c`: holding Ctrl at boot makes it use drive 80h.
    CtrlForcesDrive80,
    /// `_f`: always uses drive 80h, whatever DL the BIOS gave.
    ForcesDrive80,
}

/// The boot code in an MBR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootCode {
    /// ondol's MBR (the "ondolMBR" marker at 1B0h); `current` when it is byte for byte the
    /// one this ondol builds.
    Ondol {
        current: bool,
    },
    Syslinux {
        kind: SyslinuxMbr,
        build: SyslinuxBuild,
    },
    /// GRUB 2's boot.img: loads the first sector of core.img from `core_lba`.
    Grub2 {
        core_lba: u64,
    },
    /// GRUB's messages without boot.img's layout: GRUB Legacy's stage1 or another version.
    GrubOther,
    /// 440 zero bytes: no boot code at all.
    Zeroes,
    /// Not recognised: the first bytes, and the printable strings in it.
    Unknown {
        preview: [u8; 16],
        strings: Vec<String>,
    },
}

impl BootCode {
    /// Whether this code boots the partition marked active (so the table needs exactly one).
    /// Unknown code is assumed to, as the IBM and Microsoft MBRs do.
    pub fn boots_active_partition(&self) -> bool {
        matches!(
            self,
            BootCode::Ondol { .. }
                | BootCode::Syslinux { kind: SyslinuxMbr::Mbr, .. }
                | BootCode::Unknown { .. }
                | BootCode::Zeroes
        )
    }
}

impl std::fmt::Display for BootCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BootCode::Ondol { current: true } => write!(f, "ondol MBR (marker \"ondolMBR\" at 1B0h)"),
            BootCode::Ondol { current: false } => {
                write!(f, "ondol MBR (marker \"ondolMBR\" at 1B0h; another version than this ondol's)")
            }
            BootCode::Syslinux { kind, build } => {
                match kind {
                    SyslinuxMbr::Mbr => write!(f, "syslinux mbr.bin (boots the active partition)")?,
                    SyslinuxMbr::AltMbr { partition } => {
                        write!(f, "syslinux altmbr.bin (boots partition {partition}, set in byte 1B7h)")?
                    }
                    SyslinuxMbr::GptMbr => {
                        write!(f, "syslinux gptmbr.bin (boots the GPT's legacy-bootable partition)")?
                    }
                }
                match build {
                    SyslinuxBuild::Plain => Ok(()),
                    SyslinuxBuild::CtrlForcesDrive80 => write!(f, ", _c build: Ctrl held forces drive 80h"),
                    SyslinuxBuild::ForcesDrive80 => write!(f, ", _f build: always drive 80h"),
                }
            }
            BootCode::Grub2 { core_lba } => write!(f, "GRUB 2 boot.img (loads core.img from LBA {core_lba})"),
            BootCode::GrubOther => write!(f, "GRUB boot code, not GRUB 2's boot.img (GRUB Legacy stage1?)"),
            BootCode::Zeroes => write!(f, "none (all zeroes)"),
            BootCode::Unknown { preview, strings } => {
                write!(f, "unknown: {}", hex(preview))?;
                if !strings.is_empty() {
                    let quoted: Vec<String> = strings.iter().map(|s| format!("{s:?}")).collect();
                    write!(f, "; strings {}", quoted.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Bytes as spaced hex pairs.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// Runs of at least 6 printable ASCII characters (at most 4 of them).
fn printable_strings(code: &[u8]) -> Vec<String> {
    code.split(|b| !(0x20..0x7F).contains(b))
        .filter(|run| run.len() >= 6)
        .take(4)
        .map(|run| String::from_utf8_lossy(run).into_owned())
        .collect()
}

/// What boot code the MBR's first 440 bytes are.
pub fn boot_code(code: &[u8; CODE_SIZE]) -> BootCode {
    if &code[ONDOL_MARKER_OFFSET..ONDOL_MARKER_OFFSET + 8] == ONDOL_MARKER {
        return BootCode::Ondol { current: code[..] == crate::guest::boot::MBR[..CODE_SIZE] };
    }
    if code.iter().all(|&b| b == 0) {
        return BootCode::Zeroes;
    }
    if code.starts_with(SYSLINUX_START) {
        let kind = if contains(code, b"!GPT") && contains(code, b"Missing OS") {
            Some(SyslinuxMbr::GptMbr)
        } else if contains(code, b"Operating system load error.") {
            if contains(code, b"Multiple active partitions.") {
                Some(SyslinuxMbr::Mbr)
            } else {
                Some(SyslinuxMbr::AltMbr { partition: code[CODE_SIZE - 1] })
            }
        } else {
            None
        };
        if let Some(kind) = kind {
            let v = &code[SYSLINUX_VARIANT_OFFSET..];
            let build = match v {
                [0x60, 0xB4, 0x02, 0xCD, 0x16, ..] => SyslinuxBuild::CtrlForcesDrive80,
                [0xB2, 0x80, ..] => SyslinuxBuild::ForcesDrive80,
                _ => SyslinuxBuild::Plain,
            };
            return BootCode::Syslinux { kind, build };
        }
    }
    if contains(code, GRUB_MESSAGES) {
        if code.starts_with(GRUB2_JUMP) {
            let mut lba = [0u8; 8];
            lba.copy_from_slice(&code[GRUB2_KERNEL_SECTOR..GRUB2_KERNEL_SECTOR + 8]);
            return BootCode::Grub2 { core_lba: u64::from_le_bytes(lba) };
        }
        return BootCode::GrubOther;
    }
    let mut preview = [0u8; 16];
    preview.copy_from_slice(&code[..16]);
    BootCode::Unknown { preview, strings: printable_strings(code) }
}

/// Which ext version a superblock's feature flags say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtVersion {
    Ext2,
    Ext3,
    Ext4,
}

/// What a partition's first sectors hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contents {
    /// ondol's boot loader (its "ONDL" header or its messages) with its kernel header, None
    /// when the header is missing; `current` when the code is this ondol's.
    OndolBootLoader {
        header: Option<KernelHeader>,
        current: bool,
        boot_signature: bool,
    },
    /// A FAT boot sector: FAT12, FAT16 or FAT32, with its OEM name (e.g. "SYSLINUX",
    /// "mkfs.fat") and volume label.
    Fat {
        bits: u8,
        oem: String,
        label: String,
        boot_signature: bool,
    },
    Ntfs {
        boot_signature: bool,
    },
    ExFat {
        boot_signature: bool,
    },
    /// An ext2/3/4 superblock at byte 1024; `boot_code` when the first sector is not empty
    /// (extlinux installs its boot sector there).
    Ext {
        version: ExtVersion,
        boot_code: bool,
        boot_signature: bool,
    },
    Xfs,
    LinuxSwap,
    /// An empty first sector.
    Zeroes,
    /// Not recognised: the first bytes, and whether it ends in 55AA.
    Unknown {
        preview: [u8; 16],
        boot_signature: bool,
    },
    /// The first sector is past the end of the image.
    PastEnd,
}

impl Contents {
    /// Whether the sector ends in 55AA, as an MBR requires before it jumps to it.
    pub fn boot_signature(&self) -> bool {
        match self {
            Contents::OndolBootLoader { boot_signature, .. }
            | Contents::Fat { boot_signature, .. }
            | Contents::Ntfs { boot_signature }
            | Contents::ExFat { boot_signature }
            | Contents::Ext { boot_signature, .. }
            | Contents::Unknown { boot_signature, .. } => *boot_signature,
            Contents::Xfs | Contents::LinuxSwap | Contents::Zeroes | Contents::PastEnd => false,
        }
    }
}

impl std::fmt::Display for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sig = |s: bool| if s { "" } else { ", no 55AA" };
        match self {
            Contents::OndolBootLoader { header, current, boot_signature } => {
                let version = if *current { "" } else { " (another version than this ondol's)" };
                write!(f, "ondol boot loader{version}{}: ", sig(*boot_signature))?;
                match header {
                    Some(h) => write!(
                        f,
                        "kernel at partition sector {}, {} sectors ({} bytes), loaded at {:04X}:0000 (0x{:X}), \
                         entered at {:04X}:{:04X}",
                        h.offset,
                        h.sectors,
                        h.bytes(),
                        h.segment,
                        h.load_address(),
                        h.segment,
                        h.entry
                    ),
                    None => write!(f, "no kernel header (\"ONDL\" at 1F0h)"),
                }
            }
            Contents::Fat { bits, oem, label, boot_signature } => {
                write!(f, "FAT{bits} file system (OEM name {oem:?}, label {label:?}{})", sig(*boot_signature))
            }
            Contents::Ntfs { boot_signature } => write!(f, "NTFS file system{}", sig(*boot_signature)),
            Contents::ExFat { boot_signature } => write!(f, "exFAT file system{}", sig(*boot_signature)),
            Contents::Ext { version, boot_code, boot_signature } => {
                let v = match version {
                    ExtVersion::Ext2 => 2,
                    ExtVersion::Ext3 => 3,
                    ExtVersion::Ext4 => 4,
                };
                write!(f, "ext{v} file system")?;
                if *boot_code {
                    write!(f, " with boot code in its first sector{}", sig(*boot_signature))?;
                }
                Ok(())
            }
            Contents::Xfs => write!(f, "XFS file system"),
            Contents::LinuxSwap => write!(f, "Linux swap"),
            Contents::Zeroes => write!(f, "empty (all zeroes)"),
            Contents::Unknown { preview, boot_signature } => {
                write!(f, "unknown: {}{}", hex(preview), if *boot_signature { ", ends in 55AA" } else { ", no 55AA" })
            }
            Contents::PastEnd => write!(f, "past the end of the image"),
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end().to_string()
}

/// Reads a sector of a partition, or None when it is past the end of the image.
fn sector(disk: &Disk, start: u64, n: u64) -> Option<[u8; SECTOR_SIZE]> {
    disk.read_sector(start.checked_add(n)?).ok()
}

/// What the partition starting at `start` holds (its first sector, and the ext superblock
/// at byte 1024 and the swap signature at byte 4086 when the first sector does not say).
pub fn contents(disk: &Disk, start: u64) -> Contents {
    let Some(s) = sector(disk, start, 0) else {
        return Contents::PastEnd;
    };
    let boot_signature = s[510..] == [0x55, 0xAA];
    let header = KernelHeader::parse(&s);
    if header.is_some() || contains(&s, ONDOL_BOOT_LOADER_MESSAGE) {
        return Contents::OndolBootLoader { header, current: vbr::is_this_boot_loader(&s), boot_signature };
    }
    let bytes_per_sector = u16::from_le_bytes([s[11], s[12]]);
    let bpb = matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096);
    if &s[3..11] == b"NTFS    " {
        return Contents::Ntfs { boot_signature };
    }
    if &s[3..11] == b"EXFAT   " {
        return Contents::ExFat { boot_signature };
    }
    if bpb {
        let fat = if s[0x42] == 0x29 && &s[0x52..0x57] == b"FAT32" {
            Some((32, &s[0x47..0x52]))
        } else if s[0x26] == 0x29 && &s[0x36..0x39] == b"FAT" {
            Some((if &s[0x36..0x3B] == b"FAT12" { 12 } else { 16 }, &s[0x2B..0x36]))
        } else {
            None
        };
        if let Some((bits, label)) = fat {
            return Contents::Fat { bits, oem: text(&s[3..11]), label: text(label), boot_signature };
        }
    }
    if &s[..4] == b"XFSB" {
        return Contents::Xfs;
    }
    // ext2/3/4: the superblock at byte 1024 (sector 2), magic EF53h at its offset 38h;
    // compat features at 5Ch (has_journal 4), incompat at 60h (extents 40h).
    let superblock = sector(disk, start, 2).filter(|sb| sb[0x38..0x3A] == [0x53, 0xEF]);
    if let Some(sb) = superblock {
        let compat = u32::from_le_bytes([sb[0x5C], sb[0x5D], sb[0x5E], sb[0x5F]]);
        let incompat = u32::from_le_bytes([sb[0x60], sb[0x61], sb[0x62], sb[0x63]]);
        let version = if incompat & 0x40 != 0 {
            ExtVersion::Ext4
        } else if compat & 0x4 != 0 {
            ExtVersion::Ext3
        } else {
            ExtVersion::Ext2
        };
        return Contents::Ext { version, boot_code: s.iter().any(|&b| b != 0), boot_signature };
    }
    // Linux swap: "SWAPSPACE2" in the last 10 bytes of the first 4 KiB page (sector 7).
    if sector(disk, start, 7).is_some_and(|p| &p[502..] == b"SWAPSPACE2") {
        return Contents::LinuxSwap;
    }
    if s.iter().all(|&b| b == 0) {
        return Contents::Zeroes;
    }
    let mut preview = [0u8; 16];
    preview.copy_from_slice(&s[..16]);
    Contents::Unknown { preview, boot_signature }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(bytes: &[u8]) -> [u8; CODE_SIZE] {
        let mut c = [0u8; CODE_SIZE];
        c[..bytes.len()].copy_from_slice(&bytes[..bytes.len().min(CODE_SIZE)]);
        c
    }

    #[test]
    fn ondols_own_mbr_is_recognised_by_its_marker() {
        assert_eq!(boot_code(&code(&crate::guest::boot::MBR[..CODE_SIZE])), BootCode::Ondol { current: true });
        let mut other = code(b"\xEB\xFE");
        other[0x1B0..0x1B8].copy_from_slice(b"ondolMBR");
        assert_eq!(boot_code(&other), BootCode::Ondol { current: false });
    }

    #[test]
    fn zeroes_and_unknown_code_are_told_apart() {
        assert_eq!(boot_code(&[0; CODE_SIZE]), BootCode::Zeroes);
        let c = code(b"\xFA\x33\xC0\x8E\xD0 Invalid partition table\0Error loading OS\0");
        match boot_code(&c) {
            BootCode::Unknown { preview, strings } => {
                assert_eq!(preview[..5], [0xFA, 0x33, 0xC0, 0x8E, 0xD0]);
                assert_eq!(strings, vec![" Invalid partition table".to_string(), "Error loading OS".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        assert!(boot_code(&c).to_string().starts_with("unknown: fa 33 c0 8e d0 20 49"));
    }

    #[test]
    fn ondol_boot_loader_is_recognised_with_its_header() {
        let h = KernelHeader::for_kernel(1540);
        let mut img = vec![0u8; 8 * SECTOR_SIZE];
        img[SECTOR_SIZE..2 * SECTOR_SIZE].copy_from_slice(&vbr::boot_sector(&h));
        let d = Disk::memory(img);
        assert_eq!(contents(&d, 1), Contents::OndolBootLoader { header: Some(h), current: true, boot_signature: true });
        assert_eq!(contents(&d, 2), Contents::Zeroes);
        assert_eq!(contents(&d, 8), Contents::PastEnd);
        assert_eq!(contents(&d, u64::MAX), Contents::PastEnd);
    }

    #[test]
    fn file_systems_are_recognised_by_their_signatures() {
        let mut img = vec![0u8; 64 * SECTOR_SIZE];
        // FAT32 at sector 0 (as mkfs.fat writes it).
        let s = &mut img[..SECTOR_SIZE];
        s[3..11].copy_from_slice(b"mkfs.fat");
        s[11..13].copy_from_slice(&512u16.to_le_bytes());
        s[0x42] = 0x29;
        s[0x47..0x52].copy_from_slice(b"BOOT       ");
        s[0x52..0x5A].copy_from_slice(b"FAT32   ");
        s[510] = 0x55;
        s[511] = 0xAA;
        // FAT16 at sector 8.
        let s = &mut img[8 * SECTOR_SIZE..9 * SECTOR_SIZE];
        s[3..11].copy_from_slice(b"SYSLINUX");
        s[11..13].copy_from_slice(&512u16.to_le_bytes());
        s[0x26] = 0x29;
        s[0x2B..0x36].copy_from_slice(b"NO NAME    ");
        s[0x36..0x3E].copy_from_slice(b"FAT16   ");
        // NTFS at 16, ext4 at 24 (superblock at 26), XFS at 32, swap at 40 (page end at 47).
        img[16 * SECTOR_SIZE + 3..16 * SECTOR_SIZE + 11].copy_from_slice(b"NTFS    ");
        let sb = 26 * SECTOR_SIZE;
        img[sb + 0x38] = 0x53;
        img[sb + 0x39] = 0xEF;
        img[sb + 0x60] = 0x40;
        img[32 * SECTOR_SIZE..32 * SECTOR_SIZE + 4].copy_from_slice(b"XFSB");
        img[48 * SECTOR_SIZE - 10..48 * SECTOR_SIZE].copy_from_slice(b"SWAPSPACE2");
        let d = Disk::memory(img);
        assert_eq!(
            contents(&d, 0),
            Contents::Fat { bits: 32, oem: "mkfs.fat".into(), label: "BOOT".into(), boot_signature: true }
        );
        assert_eq!(
            contents(&d, 8),
            Contents::Fat { bits: 16, oem: "SYSLINUX".into(), label: "NO NAME".into(), boot_signature: false }
        );
        assert_eq!(contents(&d, 16), Contents::Ntfs { boot_signature: false });
        assert_eq!(
            contents(&d, 24),
            Contents::Ext { version: ExtVersion::Ext4, boot_code: false, boot_signature: false }
        );
        assert_eq!(contents(&d, 32), Contents::Xfs);
        assert_eq!(contents(&d, 40), Contents::LinuxSwap);
    }
}

//! The master boot record: 440 bytes of boot code, the disk signature, four partition entries
//! and the 55AA boot signature, parsed and written byte for byte.

use super::chs::{Chs, chs_for_lba};
use super::image::SECTOR_SIZE;

/// Bytes of boot code before the disk signature.
pub const CODE_SIZE: usize = 440;
/// The 32-bit disk signature (Windows and Linux PARTUUIDs use it).
pub const DISK_SIGNATURE_OFFSET: usize = 0x1B8;
/// The partition table: four 16-byte entries.
pub const TABLE_OFFSET: usize = 0x1BE;
pub const ENTRY_SIZE: usize = 16;
/// The last two bytes of a boot sector: 55 AA, or the BIOS will not boot it.
pub const SIGNATURE_OFFSET: usize = 0x1FE;
pub const BOOT_SIGNATURE: [u8; 2] = [0x55, 0xAA];

/// The partition type of a GPT protective MBR's entry (UEFI specification 5.2.3).
pub const TYPE_GPT_PROTECTIVE: u8 = 0xEE;

/// One partition table entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartitionEntry {
    /// 80h = active (boot this one), 00h = not; anything else is invalid.
    pub boot_flag: u8,
    pub start_chs: Chs,
    /// The partition type (00h = unused entry).
    pub partition_type: u8,
    pub end_chs: Chs,
    pub start_lba: u32,
    pub sectors: u32,
}

impl PartitionEntry {
    pub const ACTIVE: u8 = 0x80;

    /// An entry covering `sectors` sectors from `start_lba`, with the CHS fields fdisk would
    /// write (LBA-assisted, 1023/254/63 when out of range).
    pub fn new(partition_type: u8, start_lba: u32, sectors: u32, active: bool) -> PartitionEntry {
        let last = (start_lba as u64 + sectors as u64).saturating_sub(1);
        PartitionEntry {
            boot_flag: if active { Self::ACTIVE } else { 0 },
            start_chs: chs_for_lba(start_lba as u64),
            partition_type,
            end_chs: chs_for_lba(last),
            start_lba,
            sectors,
        }
    }

    pub fn parse(b: &[u8; ENTRY_SIZE]) -> PartitionEntry {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        PartitionEntry {
            boot_flag: b[0],
            start_chs: Chs::from_mbr_bytes([b[1], b[2], b[3]]),
            partition_type: b[4],
            end_chs: Chs::from_mbr_bytes([b[5], b[6], b[7]]),
            start_lba: u32_at(8),
            sectors: u32_at(12),
        }
    }

    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b[0] = self.boot_flag;
        b[1..4].copy_from_slice(&self.start_chs.to_mbr_bytes());
        b[4] = self.partition_type;
        b[5..8].copy_from_slice(&self.end_chs.to_mbr_bytes());
        b[8..12].copy_from_slice(&self.start_lba.to_le_bytes());
        b[12..16].copy_from_slice(&self.sectors.to_le_bytes());
        b
    }

    /// Type 00h: the entry describes no partition.
    pub fn is_unused(&self) -> bool {
        self.partition_type == 0
    }

    pub fn is_active(&self) -> bool {
        self.boot_flag == Self::ACTIVE
    }

    /// The first sector after the partition.
    pub fn end_lba(&self) -> u64 {
        self.start_lba as u64 + self.sectors as u64
    }

    /// The common name of this entry's type.
    pub fn type_name(&self) -> &'static str {
        type_name(self.partition_type)
    }
}

/// A parsed master boot record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mbr {
    pub code: [u8; CODE_SIZE],
    pub disk_signature: u32,
    /// The two bytes after the disk signature (0000h, or 5A5Ah for "copy protected").
    pub reserved: [u8; 2],
    pub partitions: [PartitionEntry; 4],
    /// The last two bytes: 55 AA on a bootable disk.
    pub signature: [u8; 2],
}

impl Mbr {
    /// An MBR with this boot code and table, and the 55AA signature.
    pub fn new(code: &[u8; CODE_SIZE], disk_signature: u32, partitions: [PartitionEntry; 4]) -> Mbr {
        Mbr { code: *code, disk_signature, reserved: [0; 2], partitions, signature: BOOT_SIGNATURE }
    }

    /// Parses sector 0. Every 512-byte sector parses; whether it makes sense is
    /// `ondol disk inspect`'s question.
    pub fn parse(sector: &[u8; SECTOR_SIZE]) -> Mbr {
        let mut code = [0u8; CODE_SIZE];
        code.copy_from_slice(&sector[..CODE_SIZE]);
        let s = DISK_SIGNATURE_OFFSET;
        let partitions = std::array::from_fn(|i| {
            let at = TABLE_OFFSET + i * ENTRY_SIZE;
            let mut e = [0u8; ENTRY_SIZE];
            e.copy_from_slice(&sector[at..at + ENTRY_SIZE]);
            PartitionEntry::parse(&e)
        });
        Mbr {
            code,
            disk_signature: u32::from_le_bytes([sector[s], sector[s + 1], sector[s + 2], sector[s + 3]]),
            reserved: [sector[s + 4], sector[s + 5]],
            partitions,
            signature: [sector[SIGNATURE_OFFSET], sector[SIGNATURE_OFFSET + 1]],
        }
    }

    /// The 512 bytes of sector 0.
    pub fn to_bytes(&self) -> [u8; SECTOR_SIZE] {
        let mut s = [0u8; SECTOR_SIZE];
        s[..CODE_SIZE].copy_from_slice(&self.code);
        s[DISK_SIGNATURE_OFFSET..DISK_SIGNATURE_OFFSET + 4].copy_from_slice(&self.disk_signature.to_le_bytes());
        s[DISK_SIGNATURE_OFFSET + 4..TABLE_OFFSET].copy_from_slice(&self.reserved);
        for (i, e) in self.partitions.iter().enumerate() {
            let at = TABLE_OFFSET + i * ENTRY_SIZE;
            s[at..at + ENTRY_SIZE].copy_from_slice(&e.to_bytes());
        }
        s[SIGNATURE_OFFSET..].copy_from_slice(&self.signature);
        s
    }

    pub fn has_boot_signature(&self) -> bool {
        self.signature == BOOT_SIGNATURE
    }

    /// A GPT disk's protective MBR: an entry of type EEh.
    pub fn is_gpt_protective(&self) -> bool {
        self.partitions.iter().any(|p| p.partition_type == TYPE_GPT_PROTECTIVE)
    }
}

/// The common name of an MBR partition type (the names fdisk and the partition type lists
/// use), or "unknown".
pub fn type_name(t: u8) -> &'static str {
    match t {
        0x00 => "empty",
        0x01 => "FAT12",
        0x04 => "FAT16 <32M",
        0x05 => "extended",
        0x06 => "FAT16",
        0x07 => "HPFS/NTFS/exFAT",
        0x0B => "W95 FAT32",
        0x0C => "W95 FAT32 (LBA)",
        0x0E => "W95 FAT16 (LBA)",
        0x0F => "W95 extended (LBA)",
        0x11 => "hidden FAT12",
        0x12 => "Compaq diagnostics",
        0x14 => "hidden FAT16 <32M",
        0x16 => "hidden FAT16",
        0x17 => "hidden HPFS/NTFS",
        0x1B => "hidden W95 FAT32",
        0x1C => "hidden W95 FAT32 (LBA)",
        0x1E => "hidden W95 FAT16 (LBA)",
        0x27 => "hidden NTFS WinRE",
        0x39 => "Plan 9",
        0x3C => "PartitionMagic recovery",
        0x42 => "SFS / Windows dynamic",
        0x4D => "QNX4.x",
        0x63 => "GNU HURD / System V",
        0x7F => "reserved for experimental use",
        0x80 => "old Minix",
        0x81 => "Minix / old Linux",
        0x82 => "Linux swap / Solaris",
        0x83 => "Linux",
        0x84 => "OS/2 hidden or Intel hibernation",
        0x85 => "Linux extended",
        0x86 | 0x87 => "NTFS volume set",
        0x88 => "Linux plaintext",
        0x8E => "Linux LVM",
        0x93 => "Amoeba",
        0x9F => "BSD/OS",
        0xA0 => "IBM Thinkpad hibernation",
        0xA5 => "FreeBSD",
        0xA6 => "OpenBSD",
        0xA8 => "Darwin UFS",
        0xA9 => "NetBSD",
        0xAB => "Darwin boot",
        0xAF => "HFS / HFS+",
        0xBE => "Solaris boot",
        0xBF => "Solaris",
        0xDA => "non-FS data",
        0xDE => "Dell utility",
        0xEB => "BeOS BFS",
        0xEE => "GPT protective",
        0xEF => "EFI system",
        0xFB => "VMware VMFS",
        0xFC => "VMware VMKCORE",
        0xFD => "Linux RAID autodetect",
        _ => "unknown",
    }
}

/// Extended partition types: containers of logical partitions (chains of EBRs).
pub fn is_extended(t: u8) -> bool {
    matches!(t, 0x05 | 0x0F | 0x85)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Mbr {
        let mut code = [0u8; CODE_SIZE];
        for (i, b) in code.iter_mut().enumerate() {
            *b = i as u8;
        }
        Mbr::new(
            &code,
            0xDEADBEEF,
            [
                PartitionEntry::new(0xDA, 2048, 16384, true),
                PartitionEntry::new(0x0C, 18432, 65536, false),
                PartitionEntry::default(),
                PartitionEntry::new(0x83, 3 << 30, 1 << 30, false),
            ],
        )
    }

    #[test]
    fn mbr_round_trips_through_bytes() {
        let m = sample();
        let bytes = m.to_bytes();
        assert_eq!(&bytes[510..], &[0x55, 0xAA]);
        assert_eq!(&bytes[0x1B8..0x1BC], &0xDEADBEEFu32.to_le_bytes());
        assert_eq!(Mbr::parse(&bytes), m);
        assert_eq!(Mbr::parse(&bytes).to_bytes(), bytes);
    }

    #[test]
    fn any_sector_parses_and_writes_back_unchanged() {
        let mut s = [0u8; SECTOR_SIZE];
        for (i, b) in s.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let m = Mbr::parse(&s);
        assert!(!m.has_boot_signature());
        assert_eq!(m.to_bytes(), s);
    }

    #[test]
    fn entry_fields_sit_at_their_offsets() {
        let e = PartitionEntry::new(0xDA, 2048, 16384, true);
        let b = e.to_bytes();
        assert_eq!(b[0], 0x80);
        assert_eq!(&b[1..4], &[32, 33, 0]); // 0/32/33
        assert_eq!(b[4], 0xDA);
        assert_eq!(&b[8..12], &2048u32.to_le_bytes());
        assert_eq!(&b[12..16], &16384u32.to_le_bytes());
        assert_eq!(e.end_lba(), 18432);
        assert_eq!(e.end_chs, Chs { cylinder: 1, head: 37, sector: 36 }); // LBA 18431
        assert!(e.is_active());
    }

    #[test]
    fn entries_beyond_cylinder_1023_get_fdisks_maximum_chs() {
        let e = PartitionEntry::new(0x83, 3 << 30, 1 << 30, false);
        assert_eq!(e.to_bytes()[1..4], [0xFE, 0xFF, 0xFF]);
        assert_eq!(e.to_bytes()[5..8], [0xFE, 0xFF, 0xFF]);
    }

    #[test]
    fn type_names_cover_the_common_types() {
        assert_eq!(type_name(0x83), "Linux");
        assert_eq!(type_name(0xDA), "non-FS data");
        assert_eq!(type_name(0xEE), "GPT protective");
        assert_eq!(type_name(0x0C), "W95 FAT32 (LBA)");
        assert_eq!(type_name(0x42 ^ 0xFF), "unknown");
    }
}

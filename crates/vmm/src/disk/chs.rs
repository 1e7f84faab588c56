//! Cylinder/head/sector addresses: the CHS fields of MBR partition entries and the
//! LBA-assisted geometry (255 heads, 63 sectors per track) that fdisk and BIOSes use.

/// A CHS address as an MBR entry stores it: cylinder 0..=1023, head 0..=254, sector 1..=63.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chs {
    pub cylinder: u16,
    pub head: u8,
    pub sector: u8,
}

impl Chs {
    /// What fdisk writes for an LBA beyond the CHS range: 1023/254/63 (bytes FE FF FF).
    pub const MAX: Chs = Chs { cylinder: 1023, head: 254, sector: 63 };

    /// Decodes the 3 bytes of an MBR entry: head; sector in bits 0-5 with cylinder bits 8-9
    /// in bits 6-7; cylinder bits 0-7.
    pub fn from_mbr_bytes(b: [u8; 3]) -> Chs {
        Chs { head: b[0], sector: b[1] & 0x3F, cylinder: (((b[1] & 0xC0) as u16) << 2) | b[2] as u16 }
    }

    /// Encodes for an MBR entry (the inverse of [`Chs::from_mbr_bytes`]).
    pub fn to_mbr_bytes(self) -> [u8; 3] {
        [self.head, (self.sector & 0x3F) | ((self.cylinder >> 2) as u8 & 0xC0), self.cylinder as u8]
    }
}

impl std::fmt::Display for Chs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.cylinder, self.head, self.sector)
    }
}

/// A disk geometry for CHS addressing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub cylinders: u32,
    pub heads: u32,
    pub sectors_per_track: u32,
}

impl Geometry {
    /// Heads and sectors per track of the LBA-assisted translation every modern partitioning
    /// tool assumes (fdisk, parted): the CHS fields ondol writes use them.
    pub const HEADS: u32 = 255;
    pub const SECTORS_PER_TRACK: u32 = 63;

    /// The LBA-assisted geometry of a disk of `sectors` sectors: 255 heads, 63 sectors per
    /// track, and as many whole cylinders as fit (at least 1, at most 1024, the INT 13h limit).
    /// A BIOS that reports this in INT 13h 08h agrees with the partition tables ondol writes.
    pub fn lba_assisted(sectors: u64) -> Geometry {
        let per_cylinder = (Self::HEADS * Self::SECTORS_PER_TRACK) as u64;
        let cylinders = (sectors / per_cylinder).clamp(1, 1024) as u32;
        Geometry { cylinders, heads: Self::HEADS, sectors_per_track: Self::SECTORS_PER_TRACK }
    }

    /// Sectors this geometry addresses.
    pub fn sectors(&self) -> u64 {
        self.cylinders as u64 * self.heads as u64 * self.sectors_per_track as u64
    }

    /// The CHS address of `lba`, or 1023/254/63 when it is beyond cylinder 1023 (as fdisk).
    pub fn chs(&self, lba: u64) -> Chs {
        let spt = self.sectors_per_track as u64;
        let heads = self.heads as u64;
        let cylinder = lba / (spt * heads);
        if cylinder > 1023 {
            return Chs::MAX;
        }
        Chs { cylinder: cylinder as u16, head: ((lba / spt) % heads) as u8, sector: (lba % spt + 1) as u8 }
    }

    /// The LBA of a CHS address, or None when it is not inside this geometry (sector 0, head
    /// or sector beyond the geometry).
    pub fn lba(&self, chs: Chs) -> Option<u64> {
        if chs.sector == 0
            || chs.sector as u32 > self.sectors_per_track
            || chs.head as u32 >= self.heads
            || chs.cylinder as u32 >= self.cylinders
        {
            return None;
        }
        let (c, h, s) = (chs.cylinder as u64, chs.head as u64, chs.sector as u64);
        Some((c * self.heads as u64 + h) * self.sectors_per_track as u64 + s - 1)
    }
}

/// The CHS fields fdisk writes for `lba` (255 heads, 63 sectors, 1023/254/63 beyond range).
pub fn chs_for_lba(lba: u64) -> Chs {
    Geometry { cylinders: 1024, heads: Geometry::HEADS, sectors_per_track: Geometry::SECTORS_PER_TRACK }.chs(lba)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chs_bytes_round_trip_with_high_cylinder_bits() {
        let c = Chs { cylinder: 0x3FF, head: 254, sector: 63 };
        assert_eq!(c.to_mbr_bytes(), [0xFE, 0xFF, 0xFF]);
        assert_eq!(Chs::from_mbr_bytes([0xFE, 0xFF, 0xFF]), c);
        let c = Chs { cylinder: 0x1A5, head: 3, sector: 17 };
        assert_eq!(c.to_mbr_bytes(), [3, 0x51, 0xA5]);
        assert_eq!(Chs::from_mbr_bytes(c.to_mbr_bytes()), c);
    }

    #[test]
    fn chs_of_familiar_lbas_matches_fdisk() {
        // fdisk's first partition at 2048: 0/32/33; at 63 (old DOS alignment): 0/1/1.
        assert_eq!(chs_for_lba(2048), Chs { cylinder: 0, head: 32, sector: 33 });
        assert_eq!(chs_for_lba(63), Chs { cylinder: 0, head: 1, sector: 1 });
        assert_eq!(chs_for_lba(0), Chs { cylinder: 0, head: 0, sector: 1 });
        // The last sector of cylinder 1023 and the first one past it.
        let last = 1024 * 255 * 63 - 1;
        assert_eq!(chs_for_lba(last), Chs::MAX);
        assert_eq!(chs_for_lba(last + 1), Chs::MAX);
        assert_eq!(chs_for_lba(u32::MAX as u64), Chs::MAX);
        // A 64 MiB disk's last sector.
        assert_eq!(chs_for_lba(131071), Chs { cylinder: 8, head: 40, sector: 32 });
    }

    #[test]
    fn lba_and_chs_are_inverse_inside_the_geometry() {
        let g = Geometry::lba_assisted(1 << 21);
        assert_eq!(g, Geometry { cylinders: 130, heads: 255, sectors_per_track: 63 });
        for lba in [0, 1, 62, 63, 2048, 16064, 16065, g.sectors() - 1] {
            assert_eq!(g.lba(g.chs(lba)), Some(lba), "lba {lba}");
        }
        assert_eq!(g.lba(Chs { cylinder: 0, head: 0, sector: 0 }), None);
        assert_eq!(g.lba(Chs { cylinder: 130, head: 0, sector: 1 }), None);
    }

    #[test]
    fn lba_assisted_geometry_has_one_to_1024_cylinders() {
        assert_eq!(Geometry::lba_assisted(8192).cylinders, 1);
        assert_eq!(Geometry::lba_assisted(1 << 40).cylinders, 1024);
    }
}

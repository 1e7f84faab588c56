//! Disks: raw images for the BIOS's INT 13h and MBR partition tables.

mod chs;
mod image;
mod mbr;

pub use chs::{Chs, Geometry, chs_for_lba};
pub use image::{Disk, DiskError, SECTOR_SIZE};
pub use mbr::{CODE_SIZE, Mbr, PartitionEntry, TYPE_GPT_PROTECTIVE, is_extended, type_name};

//! Disks: raw images for the BIOS's INT 13h, MBR partition tables, and `ondol disk create`
//! and `inspect`.
//!
//! The disks ondol creates boot the way a PC boots:
//!
//! ```text
//! LBA 0            MBR: 440 bytes of boot code (ondol's guest/boot/mbr.S, or --mbr FILE),
//!                  disk signature, partition table, 55 AA
//! LBA 1..2047      free (1 MiB alignment)
//! boot partition   active, type DAh ("non-FS data"), from LBA 2048 by default:
//!   sector 0       ondol's boot loader (guest/boot/vbr.S) with the kernel header at 1F0h:
//!                  "ONDL", kernel offset 1, size in sectors, load segment 1000h, entry 0
//!   sector 1..     the kernel, a flat real-mode binary (the demo kernel by default)
//! other partitions as --partitions asks, left empty
//! ```

mod chs;
mod create;
mod identify;
mod image;
mod inspect;
mod mbr;
mod vbr;

#[cfg(test)]
mod tests;

pub use chs::{Chs, Geometry, chs_for_lba};
pub use create::{
    ALIGNMENT, BOOT_PARTITION_TYPE, CreateError, CreateOptions, MAX_DISK_BYTES, PartitionKind, PartitionSize,
    PartitionSpec, Plan, check_kernel_format, check_kernel_size, create, mbr_code, parse_partitions, plan,
};
pub use identify::{BootCode, Contents, ExtVersion, SyslinuxBuild, SyslinuxMbr, boot_code, contents};
pub use image::{Disk, DiskError, SECTOR_SIZE};
pub use inspect::{Finding, GptSummary, PartitionInfo, Problem, Report, human_size, inspect};
pub use mbr::{CODE_SIZE, Mbr, PartitionEntry, TYPE_GPT_PROTECTIVE, is_extended, type_name};
pub use vbr::{KERNEL_SEGMENT, KernelHeader, MAX_KERNEL_BYTES};

/// The size of the built-in demo disk: 4 MiB, a 3 MiB boot partition after the first MiB.
pub const DEMO_DISK_SIZE: u64 = 4 << 20;

/// The built-in demo disk `ondol run` boots with no arguments: ondol's MBR, one active boot
/// partition with ondol's boot loader and the demo kernel. Built in memory on each call, so
/// the binary carries only the three programs (about 2.5 KiB), not an image.
pub fn demo_disk() -> Disk {
    let opts = CreateOptions { size: DEMO_DISK_SIZE, ..Default::default() };
    // The layout is fixed and checked by a test; only the guest programs could break it.
    let plan = plan(&opts).expect("the built-in demo disk's layout is valid");
    Disk::memory(plan.image()).named("built-in demo disk")
}

//! `ondol disk`: create raw disk images that boot through ondol's MBR and boot loader, and
//! inspect what a disk image holds.

use crate::run::parse_size;
use anyhow::Context;
use std::path::{Path, PathBuf};
use vmm::disk::{self, CreateError, CreateOptions, Disk};

#[derive(Debug, clap::Subcommand)]
pub enum DiskCmd {
    /// Write a raw disk image (sparse): an MBR with ondol's boot code, a partition table, and
    /// an active boot partition with ondol's boot loader and a kernel (the demo by default).
    Create(CreateArgs),
    /// Report a disk image's boot signature, MBR boot code, partition table, what each
    /// partition starts with, and every inconsistency; exit status 1 when it will not boot.
    Inspect {
        /// The disk image.
        image: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The image file to write.
    pub image: PathBuf,
    /// The disk's size: a number of MiB, or a size with K, M, G or T (binary units).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub size: u64,
    /// A flat real-mode kernel, loaded at 1000:0000 and entered at offset 0 (default: the
    /// built-in demo kernel).
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<PathBuf>,
    /// Partitions, in table order: KIND:SIZE[@START],... with KIND `boot` (ondol's boot
    /// partition, active) or a hex MBR type (83, 0c, ...), SIZE with K/M/G/T or `rest`/`*`
    /// (last one only), START a multiple of 1M. Default: boot:rest, from 1 MiB to the end.
    #[arg(long, value_name = "SPEC")]
    pub partitions: Option<String>,
    /// Use this file's MBR boot code instead of ondol's: 440 bytes (syslinux's mbr.bin) or a
    /// 512-byte sector (its first 440 bytes).
    #[arg(long, value_name = "FILE")]
    pub mbr: Option<PathBuf>,
    /// Overwrite IMAGE if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn disk(cmd: DiskCmd) -> anyhow::Result<i32> {
    match cmd {
        DiskCmd::Create(args) => create(args),
        DiskCmd::Inspect { image } => inspect(&image),
    }
}

fn file_len(path: &Path, what: &str) -> anyhow::Result<u64> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    anyhow::ensure!(!meta.is_dir(), "{what} {} is a directory: give a file", path.display());
    Ok(meta.len())
}

fn create(args: CreateArgs) -> anyhow::Result<i32> {
    let partitions = args.partitions.as_deref().map(disk::parse_partitions).transpose()?;
    let kernel = match &args.kernel {
        Some(path) => {
            // Refuse a kernel by its size before reading it: it may be huge.
            disk::check_kernel_size(file_len(path, "--kernel")?)
                .with_context(|| format!("--kernel {}", path.display()))?;
            let bytes = std::fs::read(path).with_context(|| format!("cannot read --kernel {}", path.display()))?;
            disk::check_kernel_size(bytes.len() as u64).with_context(|| format!("--kernel {}", path.display()))?;
            Some(bytes)
        }
        None => None,
    };
    let mbr_code = match &args.mbr {
        Some(path) => {
            let context = || format!("--mbr {}", path.display());
            let len = file_len(path, "--mbr")?;
            if len > disk::SECTOR_SIZE as u64 {
                return Err(CreateError::MbrCodeSize(len)).with_context(context);
            }
            let bytes = std::fs::read(path).with_context(|| format!("cannot read --mbr {}", path.display()))?;
            Some(disk::mbr_code(&bytes).with_context(context)?)
        }
        None => None,
    };
    let opts = CreateOptions { size: args.size, kernel, partitions, mbr_code, disk_signature: None };
    let plan = disk::create(&args.image, &opts, args.force)?;
    println!(
        "created {} ({}, sparse); MBR boot code: {}; disk signature {:08x}",
        args.image.display(),
        disk::human_size(plan.size),
        disk::boot_code(&plan.mbr.code),
        plan.mbr.disk_signature
    );
    print!("{}", plan.summary());
    Ok(0)
}

fn inspect(image: &Path) -> anyhow::Result<i32> {
    let d = Disk::open(image, true)?;
    let report = disk::inspect(&d)?;
    print!("{report}");
    if report.bootable() {
        return Ok(0);
    }
    let errors: Vec<String> = report.errors().map(|p| p.to_string()).collect();
    eprintln!("ondol: {} will not boot: {}", image.display(), errors.join("; "));
    Ok(1)
}

//! `ondol disk create`: a raw image with an MBR (ondol's boot code or another's), a partition
//! table, and an active boot partition holding ondol's boot loader followed by a kernel.
//!
//! The image is written sparse: its length is set, then only sector 0 and the boot
//! partition's first sectors are written; everything else reads as zeroes.

use super::image::SECTOR_SIZE;
use super::inspect::human_size;
use super::mbr::{self, CODE_SIZE, Mbr, PartitionEntry};
use super::vbr::{self, KernelHeader, MAX_KERNEL_BYTES};
use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The MBR type of ondol's boot partition: DAh, "non-FS data" (fdisk's name). The partition
/// holds a boot sector and a raw kernel, no file system, and DAh says exactly that, so no
/// operating system tries to mount or check it and partitioning tools name it. (7Fh, reserved
/// for experimental use, was the alternative; it says less.) Neither ondol's MBR nor
/// syslinux's mbr.bin looks at the type.
pub const BOOT_PARTITION_TYPE: u8 = 0xDA;
/// Partitions start on 1 MiB boundaries (2048 sectors), as fdisk and parted align them; the
/// first one at 1 MiB, leaving the space after the MBR free (GRUB puts core.img there).
pub const ALIGNMENT: u64 = 1 << 20;
const ALIGN_SECTORS: u64 = ALIGNMENT / SECTOR_SIZE as u64;
/// An MBR's 32-bit LBAs address 2 TiB.
pub const MAX_DISK_BYTES: u64 = (1 << 32) * SECTOR_SIZE as u64;

const SPEC_EXAMPLE: &str = "write e.g. boot:16M,83:rest or boot:8M,0c:32M,83:*";

/// What `ondol disk create` refuses, and why.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("--partitions item '{item}': {why}; {SPEC_EXAMPLE}")]
    Spec { item: String, why: String },
    #[error("--partitions is empty; {SPEC_EXAMPLE}")]
    SpecEmpty,
    #[error("--partitions has {0} partitions: an MBR holds at most 4")]
    TooMany(usize),
    #[error("--partitions has {0} boot partitions: give exactly one")]
    SeveralBoot(usize),
    #[error("--partitions has no boot partition: add one (boot:SIZE) for ondol's boot loader and the kernel")]
    NoBoot,
    #[error("--partitions: only the last partition can take the rest of the disk")]
    RestNotLast,
    #[error("--partitions: partitions {a} and {b} overlap: move one with @START or make one smaller")]
    Overlap { a: usize, b: usize },
    #[error(
        "partition {index} ends at {}, past the end of the {} disk: make --size larger or the partition smaller",
        human_size(*.end), human_size(*.disk)
    )]
    BeyondDisk { index: usize, end: u64, disk: u64 },
    #[error(
        "partition {index} would start at {}, but the disk is {}: make --size larger or the partitions before it smaller",
        human_size(*.start), human_size(*.disk)
    )]
    NoRoom { index: usize, start: u64, disk: u64 },
    #[error("--size {0}: not a whole number of 512-byte sectors")]
    SizeNotSectors(u64),
    #[error("--size {}: partitions start at 1 MiB, so a disk needs more than that (e.g. --size 2M)", human_size(*.0))]
    SizeTooSmall(u64),
    #[error("--size {}: an MBR partition table addresses at most 2 TiB", human_size(*.0))]
    SizeTooLarge(u64),
    #[error(
        "the kernel is {0}; ondol's boot loader takes a flat real-mode binary (linked to run at offset 0 of its segment)"
    )]
    KernelNotFlat(&'static str),
    #[error("the kernel is empty: nothing to boot")]
    KernelEmpty,
    #[error(
        "the kernel is {0} bytes and does not fit below 640 KiB: loaded at 1000:0000 it must end by the EBDA at 0x9FC00, so at most {MAX_KERNEL_BYTES} bytes"
    )]
    KernelTooBig(u64),
    #[error(
        "the kernel ({kernel} bytes) and the boot sector do not fit in the {} boot partition: make it larger",
        human_size(*.partition)
    )]
    KernelDoesNotFitPartition { kernel: u64, partition: u64 },
    #[error(
        "it is {0} bytes: --mbr takes 440 bytes of MBR code (syslinux's mbr.bin) or a 512-byte sector (for syslinux's 439-byte altmbr.bin, append the partition number as one byte)"
    )]
    MbrCodeSize(u64),
    #[error("{path} already exists: give --force to overwrite it")]
    Exists { path: String },
    #[error("cannot write {path}: {err}")]
    Io { path: String, err: io::Error },
}

/// What goes in a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionKind {
    /// ondol's boot partition: active, type [`BOOT_PARTITION_TYPE`], boot loader and kernel.
    Boot,
    /// An empty partition of this MBR type.
    Type(u8),
}

/// How big a partition is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionSize {
    Bytes(u64),
    /// Up to the end of the disk.
    Rest,
}

/// One item of `--partitions`: `KIND:SIZE[@START]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionSpec {
    pub kind: PartitionKind,
    pub size: PartitionSize,
    /// Start in bytes (a multiple of 1 MiB); None: the next 1 MiB boundary after the
    /// previous partition.
    pub start: Option<u64>,
}

impl PartitionSpec {
    /// The default layout: one boot partition from 1 MiB to the end of the disk.
    pub const DEFAULT: [PartitionSpec; 1] =
        [PartitionSpec { kind: PartitionKind::Boot, size: PartitionSize::Rest, start: None }];
}

/// A size in a partition spec: a number with K, M, G or T (binary units); a plain number is
/// MiB, as `--size` takes it.
fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(digits);
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is not a size: use e.g. 16M or 1G"))?;
    let mult: u64 = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "M" => 1 << 20,
        "K" => 1 << 10,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("unknown size suffix '{}' in '{s}': use K, M, G or T", suffix.trim())),
    };
    n.checked_mul(mult).ok_or_else(|| format!("'{s}' is too large"))
}

fn parse_item(item: &str) -> Result<PartitionSpec, String> {
    let (kind, rest) = item.split_once(':').ok_or("expected KIND:SIZE")?;
    let kind = kind.trim();
    let kind = if kind.eq_ignore_ascii_case("boot") {
        PartitionKind::Boot
    } else {
        let hex = kind.strip_prefix("0x").or_else(|| kind.strip_prefix("0X")).unwrap_or(kind);
        let is_hex = !hex.is_empty() && hex.len() <= 2 && hex.chars().all(|c| c.is_ascii_hexdigit());
        let t = is_hex
            .then(|| u8::from_str_radix(hex, 16).ok())
            .flatten()
            .ok_or_else(|| format!("'{kind}' is neither 'boot' nor a hex MBR type such as 83 or 0c"))?;
        match t {
            0 => return Err("type 00 marks an unused entry".into()),
            mbr::TYPE_GPT_PROTECTIVE => return Err("type ee is the GPT protective type; this writes MBR disks".into()),
            t => PartitionKind::Type(t),
        }
    };
    let (size, start) = match rest.split_once('@') {
        Some((size, start)) => (size, Some(start)),
        None => (rest, None),
    };
    let size = match size.trim() {
        "rest" | "*" => PartitionSize::Rest,
        s => {
            let b = parse_bytes(s)?;
            if b == 0 {
                return Err("a partition needs a size above 0".into());
            }
            if b % SECTOR_SIZE as u64 != 0 {
                return Err(format!("{b} bytes is not a whole number of 512-byte sectors"));
            }
            PartitionSize::Bytes(b)
        }
    };
    let start = match start {
        None => None,
        Some(s) => {
            let b = parse_bytes(s)?;
            if b == 0 || b % ALIGNMENT != 0 {
                return Err(format!("start {s} is not a multiple of 1 MiB from 1M up (LBA 0 holds the MBR)"));
            }
            Some(b)
        }
    };
    Ok(PartitionSpec { kind, size, start })
}

/// Parses `--partitions`: a comma list of `KIND:SIZE[@START]`, KIND `boot` (ondol's boot
/// partition, active) or a hex MBR type; SIZE with K/M/G/T (plain: MiB) or `rest`/`*` for
/// the rest of the disk (last item only); START a multiple of 1 MiB.
pub fn parse_partitions(spec: &str) -> Result<Vec<PartitionSpec>, CreateError> {
    if spec.trim().is_empty() {
        return Err(CreateError::SpecEmpty);
    }
    let specs = spec
        .split(',')
        .map(|item| parse_item(item).map_err(|why| CreateError::Spec { item: item.trim().to_string(), why }))
        .collect::<Result<Vec<_>, _>>()?;
    check_specs(&specs)?;
    Ok(specs)
}

fn check_specs(specs: &[PartitionSpec]) -> Result<(), CreateError> {
    if specs.is_empty() {
        return Err(CreateError::SpecEmpty);
    }
    if specs.len() > 4 {
        return Err(CreateError::TooMany(specs.len()));
    }
    match specs.iter().filter(|s| s.kind == PartitionKind::Boot).count() {
        0 => return Err(CreateError::NoBoot),
        1 => {}
        n => return Err(CreateError::SeveralBoot(n)),
    }
    if specs[..specs.len() - 1].iter().any(|s| s.size == PartitionSize::Rest) {
        return Err(CreateError::RestNotLast);
    }
    Ok(())
}

/// Reads MBR code from a file's bytes: 440 bytes of code, or a 512-byte sector whose first
/// 440 bytes are taken.
pub fn mbr_code(bytes: &[u8]) -> Result<[u8; CODE_SIZE], CreateError> {
    match bytes.len() {
        CODE_SIZE | SECTOR_SIZE => {
            let mut c = [0u8; CODE_SIZE];
            c.copy_from_slice(&bytes[..CODE_SIZE]);
            Ok(c)
        }
        n => Err(CreateError::MbrCodeSize(n as u64)),
    }
}

/// Checks a kernel's size before it is read: not empty, and small enough to load at
/// 1000:0000 and end below the EBDA.
pub fn check_kernel_size(bytes: u64) -> Result<(), CreateError> {
    match bytes {
        0 => Err(CreateError::KernelEmpty),
        b if b > MAX_KERNEL_BYTES => Err(CreateError::KernelTooBig(b)),
        _ => Ok(()),
    }
}

/// Refuses kernels that are plainly not flat real-mode binaries: ELF files (link them with
/// `objcopy -O binary`) and Linux kernels ("HdrS" at 202h: they need the Linux boot protocol).
pub fn check_kernel_format(kernel: &[u8]) -> Result<(), CreateError> {
    if kernel.starts_with(b"\x7FELF") {
        return Err(CreateError::KernelNotFlat("an ELF file (make a flat binary with objcopy -O binary)"));
    }
    if kernel.get(0x202..0x206) == Some(b"HdrS") {
        return Err(CreateError::KernelNotFlat("a Linux kernel (it boots through the Linux boot protocol)"));
    }
    Ok(())
}

/// What to create.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// The image's size in bytes.
    pub size: u64,
    /// A flat real-mode kernel, loaded at 1000:0000 and entered at offset 0; None: the demo.
    pub kernel: Option<Vec<u8>>,
    /// None: [`PartitionSpec::DEFAULT`].
    pub partitions: Option<Vec<PartitionSpec>>,
    /// None: ondol's MBR.
    pub mbr_code: Option<[u8; CODE_SIZE]>,
    /// None: derived from the layout and contents, so the same options give the same image.
    pub disk_signature: Option<u32>,
}

/// A disk ready to be written: its MBR, and the few sectors that are not zero.
#[derive(Clone, Debug)]
pub struct Plan {
    pub size: u64,
    pub mbr: Mbr,
    /// 1..=4: the boot partition's entry.
    pub boot_index: usize,
    pub header: KernelHeader,
    pub kernel_bytes: u64,
    /// (byte offset, bytes) over a zeroed image.
    writes: Vec<(u64, Vec<u8>)>,
}

/// FNV-1a: a stable disk signature from the layout and contents.
fn fnv1a(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for p in parts {
        for &b in *p {
            h = (h ^ b as u32).wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// Lays a disk out: checks every option and computes the MBR and the sectors to write.
pub fn plan(opts: &CreateOptions) -> Result<Plan, CreateError> {
    let size = opts.size;
    if size % SECTOR_SIZE as u64 != 0 {
        return Err(CreateError::SizeNotSectors(size));
    }
    if size <= ALIGNMENT {
        return Err(CreateError::SizeTooSmall(size));
    }
    if size > MAX_DISK_BYTES {
        return Err(CreateError::SizeTooLarge(size));
    }
    let kernel: Cow<[u8]> = match &opts.kernel {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Borrowed(crate::guest::boot::DEMO),
    };
    check_kernel_size(kernel.len() as u64)?;
    check_kernel_format(&kernel)?;
    let specs: &[PartitionSpec] = opts.partitions.as_deref().unwrap_or(&PartitionSpec::DEFAULT);
    check_specs(specs)?;

    let total = size / SECTOR_SIZE as u64;
    let mut next = ALIGN_SECTORS;
    let mut placed = Vec::new();
    for (n, spec) in specs.iter().enumerate() {
        let index = n + 1;
        let start = match spec.start {
            Some(b) => b / SECTOR_SIZE as u64,
            None => next.div_ceil(ALIGN_SECTORS) * ALIGN_SECTORS,
        };
        if start >= total {
            return Err(CreateError::NoRoom { index, start: start * SECTOR_SIZE as u64, disk: size });
        }
        let sectors = match spec.size {
            PartitionSize::Bytes(b) => b / SECTOR_SIZE as u64,
            PartitionSize::Rest => total - start,
        };
        let end = start.saturating_add(sectors);
        if end > total {
            return Err(CreateError::BeyondDisk { index, end: end.saturating_mul(SECTOR_SIZE as u64), disk: size });
        }
        placed.push((spec.kind, start, sectors));
        next = end;
    }
    for (a, &(_, sa, na)) in placed.iter().enumerate() {
        for (b, &(_, sb, nb)) in placed.iter().enumerate().skip(a + 1) {
            if sa.max(sb) < (sa + na).min(sb + nb) {
                return Err(CreateError::Overlap { a: a + 1, b: b + 1 });
            }
        }
    }

    let mut entries = [PartitionEntry::default(); 4];
    let mut boot = (0, 0, 0);
    for (i, &(kind, start, sectors)) in placed.iter().enumerate() {
        // Both fit in u32: the disk is at most 2^32 sectors.
        let (start32, sectors32) = (start as u32, sectors as u32);
        entries[i] = match kind {
            PartitionKind::Boot => {
                boot = (i + 1, start, sectors);
                PartitionEntry::new(BOOT_PARTITION_TYPE, start32, sectors32, true)
            }
            PartitionKind::Type(t) => PartitionEntry::new(t, start32, sectors32, false),
        };
    }
    let (boot_index, boot_start, boot_sectors) = boot;
    let header = KernelHeader::for_kernel(kernel.len());
    if 1 + header.sectors as u64 > boot_sectors {
        return Err(CreateError::KernelDoesNotFitPartition {
            kernel: kernel.len() as u64,
            partition: boot_sectors * SECTOR_SIZE as u64,
        });
    }

    let code = opts.mbr_code.unwrap_or_else(|| {
        let mut c = [0u8; CODE_SIZE];
        c.copy_from_slice(&crate::guest::boot::MBR[..CODE_SIZE]);
        c
    });
    let mut mbr = Mbr::new(&code, 0, entries);
    mbr.disk_signature = opts.disk_signature.unwrap_or_else(|| {
        let table = mbr.to_bytes();
        match fnv1a(&[&size.to_le_bytes(), &table, &kernel]) {
            0 => 1,
            s => s,
        }
    });

    let mut boot_area = vbr::boot_sector(&header).to_vec();
    boot_area.extend_from_slice(&kernel);
    boot_area.resize((1 + header.sectors as usize) * SECTOR_SIZE, 0);
    let writes = vec![(0, mbr.to_bytes().to_vec()), (boot_start * SECTOR_SIZE as u64, boot_area)];
    Ok(Plan { size, mbr, boot_index, header, kernel_bytes: kernel.len() as u64, writes })
}

impl Plan {
    /// The whole image in memory (for small disks: the built-in demo disk, tests).
    pub fn image(&self) -> Vec<u8> {
        let mut img = vec![0u8; self.size as usize];
        for (at, data) in &self.writes {
            img[*at as usize..*at as usize + data.len()].copy_from_slice(data);
        }
        img
    }

    /// Writes the image to `path` sparse (its length set, only the non-zero sectors
    /// written). An existing file is refused unless `overwrite`; then it is truncated first.
    /// A half-written file is removed.
    pub fn write_to(&self, path: &Path, overwrite: bool) -> Result<(), CreateError> {
        let name = path.display().to_string();
        let mut oo = OpenOptions::new();
        oo.write(true);
        if overwrite {
            oo.create(true).truncate(true);
        } else {
            oo.create_new(true);
        }
        let file = oo.open(path).map_err(|err| match err.kind() {
            io::ErrorKind::AlreadyExists => CreateError::Exists { path: name.clone() },
            _ => CreateError::Io { path: name.clone(), err },
        })?;
        let r = file
            .set_len(self.size)
            .and_then(|()| self.writes.iter().try_for_each(|(at, data)| file.write_all_at(data, *at)));
        if let Err(err) = r {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(CreateError::Io { path: name, err });
        }
        Ok(())
    }

    /// One line per partition and one for the kernel, for `ondol disk create` to print.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for (i, e) in self.mbr.partitions.iter().enumerate().filter(|(_, e)| !e.is_unused()) {
            let what = if i + 1 == self.boot_index { "boot, active, " } else { "" };
            s += &format!(
                "  partition {}: {what}type {:02x} ({}), LBA {} to {}, {}\n",
                i + 1,
                e.partition_type,
                e.type_name(),
                e.start_lba,
                e.end_lba() - 1,
                human_size(e.sectors as u64 * SECTOR_SIZE as u64)
            );
        }
        let e = &self.mbr.partitions[self.boot_index - 1];
        s += &format!(
            "  kernel: {} bytes at LBA {} (partition sector {}), loaded at {:04X}:0000, entered at {:04X}:{:04X}\n",
            self.kernel_bytes,
            e.start_lba as u64 + self.header.offset as u64,
            self.header.offset,
            self.header.segment,
            self.header.segment,
            self.header.entry
        );
        s
    }
}

/// Lays out and writes a disk image (see [`plan`] and [`Plan::write_to`]).
pub fn create(path: &Path, opts: &CreateOptions, overwrite: bool) -> Result<Plan, CreateError> {
    let plan = plan(opts)?;
    plan.write_to(path, overwrite)?;
    Ok(plan)
}

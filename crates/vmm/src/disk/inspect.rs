//! `ondol disk inspect`: what a disk holds (boot signature, boot code, partition table, each
//! partition's first sector) and every inconsistency, each marked as stopping a boot or not.

use super::identify::{self, BootCode, Contents, SyslinuxMbr};
use super::image::{Disk, DiskError, SECTOR_SIZE};
use super::mbr::{self, Mbr, PartitionEntry, TYPE_GPT_PROTECTIVE};
use super::vbr::{KernelHeader, LOWEST_LOAD};
use crate::layout::EBDA_START;

/// One inconsistency found on a disk.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("the image is {bytes} bytes, less than one 512-byte sector")]
    SmallerThanSector { bytes: u64 },
    #[error(
        "the image is {bytes} bytes, not a whole number of 512-byte sectors (truncated?): its last sector reads padded with zeroes"
    )]
    NotWholeSectors { bytes: u64 },
    #[error("sector 0 ends in {:02X} {:02X}, not 55 AA: a BIOS will not boot this disk", .found[0], .found[1])]
    NoBootSignature { found: [u8; 2] },
    #[error("the MBR holds no boot code (its 440 bytes are zeroes)")]
    NoBootCode,
    #[error("partition {index} has boot flag {flag:02X}h: only 00h and 80h (active) are valid")]
    BadBootFlag { index: usize, flag: u8 },
    #[error("entry {index} is unused (type 00h) but has boot flag {flag:02X}h: clear it to 00h")]
    UnusedEntryFlagged { index: usize, flag: u8 },
    #[error("no partition is marked active (boot flag 80h): the MBR code has nothing to boot")]
    NoActivePartition,
    #[error("partitions {} are all marked active: the MBR code boots exactly one", list(.indices))]
    SeveralActive { indices: Vec<usize> },
    #[error("partition {index} starts at LBA 0, over the MBR")]
    StartsAtZero { index: usize },
    #[error("partition {index} has type {partition_type:02X}h but 0 sectors")]
    ZeroSize { index: usize, partition_type: u8 },
    #[error(
        "partition {index} ends at LBA {end}, past the end of the disk ({sectors} sectors): is the image truncated?"
    )]
    PastEnd { index: usize, end: u64, sectors: u64 },
    #[error("partitions {a} and {b} overlap (LBA {from} to {to})")]
    Overlap { a: usize, b: usize, from: u64, to: u64 },
    #[error("the boot partition {index}'s first sector {why}: the MBR code will not start it")]
    BootSectorUnbootable { index: usize, why: &'static str },
    #[error("partition {index}: ondol's boot loader has no kernel header (\"ONDL\" at 1F0h): recreate the disk")]
    KernelHeaderMissing { index: usize },
    #[error("partition {index}: the kernel header gives a kernel of 0 sectors")]
    KernelEmpty { index: usize },
    #[error("partition {index}: the kernel header points at the boot sector itself (offset 0)")]
    KernelOverBootSector { index: usize },
    #[error(
        "partition {index}: the kernel (LBA {first} to {end}) runs past the end of the partition (LBA {partition_end})"
    )]
    KernelPastPartition { index: usize, first: u64, end: u64, partition_end: u64 },
    #[error("partition {index}: the kernel (LBA {first} to {end}) runs past the end of the disk ({sectors} sectors)")]
    KernelPastDisk { index: usize, first: u64, end: u64, sectors: u64 },
    #[error(
        "partition {index}: the kernel does not fit below 640 KiB: it loads at 0x{start:X} to 0x{end:X}, past the EBDA at 0x{ebda:X}",
        ebda = EBDA_START
    )]
    KernelTooBig { index: usize, start: u64, end: u64 },
    #[error(
        "partition {index}: the kernel loads at 0x{address:X}, below 0x{lowest:X}, over the boot loader, its stack, the BDA or the IVT",
        lowest = LOWEST_LOAD
    )]
    KernelLoadTooLow { index: usize, address: u64 },
    #[error("partition {index}: the kernel's entry {segment:04X}:{entry:04X} is past its {bytes} bytes")]
    EntryPastKernel { index: usize, segment: u16, entry: u16, bytes: u64 },
    #[error("the MBR is a GPT protective MBR but LBA 1 holds no GPT header (\"EFI PART\")")]
    GptHeaderMissing,
    #[error("syslinux's gptmbr.bin needs a GPT disk, but the MBR has no protective (EEh) entry")]
    GptMbrWithoutGpt,
    #[error("syslinux's altmbr.bin boots partition {partition}, which is not in use (set byte 1B7h to 1-4)")]
    AltMbrPartitionUnused { partition: u8 },
    #[error("GRUB's boot.img has no core.img sector (LBA 0 at offset 5Ch): install GRUB with grub-install")]
    GrubCoreUnset,
    #[error("GRUB's boot.img loads core.img from LBA {lba}, past the end of the disk")]
    GrubCorePastEnd { lba: u64 },
    #[error("GRUB's boot.img loads core.img from LBA {lba}, which is empty: install GRUB with grub-install")]
    GrubCoreMissing { lba: u64 },
}

fn list(indices: &[usize]) -> String {
    let s: Vec<String> = indices.iter().map(|i| i.to_string()).collect();
    s.join(" and ")
}

/// A problem and whether it stops a boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub problem: Problem,
    pub stops_boot: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", if self.stops_boot { "error" } else { "warning" }, self.problem)
    }
}

/// A used entry of the partition table and what its first sector holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// 1..=4.
    pub index: usize,
    pub entry: PartitionEntry,
    /// None for extended (their first sector is an EBR), GPT protective and empty entries.
    pub contents: Option<Contents>,
}

/// The GPT behind a protective MBR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GptSummary {
    /// "EFI PART" at LBA 1.
    pub header: bool,
    /// Partition entries in the GPT, and how many are in use.
    pub entries: u32,
    pub used: u32,
}

/// Everything `ondol disk inspect` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub name: String,
    pub size_bytes: u64,
    pub sectors: u64,
    pub mbr: Mbr,
    pub boot_code: BootCode,
    /// Present when the MBR is a GPT protective MBR.
    pub gpt: Option<GptSummary>,
    pub partitions: Vec<PartitionInfo>,
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when nothing found stops a boot.
    pub fn bootable(&self) -> bool {
        !self.findings.iter().any(|f| f.stops_boot)
    }

    /// The problems that stop a boot.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.findings.iter().filter(|f| f.stops_boot).map(|f| &f.problem)
    }

    /// Whether a problem was found (for tests and callers that look for one kind).
    pub fn has(&self, pred: impl Fn(&Problem) -> bool) -> bool {
        self.findings.iter().any(|f| pred(&f.problem))
    }
}

/// A size in the largest binary unit that keeps it readable.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, n) in UNITS {
        if bytes >= n {
            return if bytes % n == 0 {
                format!("{} {unit}", bytes / n)
            } else {
                format!("{:.1} {unit}", bytes as f64 / n as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sectors = format!("{} sector{}", self.sectors, if self.sectors == 1 { "" } else { "s" });
        if self.size_bytes < 1024 {
            writeln!(f, "{}: {} bytes ({sectors})", self.name, self.size_bytes)?;
        } else {
            writeln!(f, "{}: {} ({} bytes, {sectors})", self.name, human_size(self.size_bytes), self.size_bytes)?;
        }
        let sig = self.mbr.signature;
        let present = if self.mbr.has_boot_signature() { "present" } else { "missing" };
        writeln!(f, "boot signature: {:02X} {:02X} ({present})", sig[0], sig[1])?;
        writeln!(f, "boot code: {}", self.boot_code)?;
        writeln!(f, "disk signature: {:08x}", self.mbr.disk_signature)?;
        if let Some(g) = &self.gpt {
            if g.header {
                writeln!(f, "GPT: protective MBR; GPT header at LBA 1, {} of {} entries in use", g.used, g.entries)?;
            } else {
                writeln!(f, "GPT: protective MBR, but no GPT header at LBA 1")?;
            }
        }
        if self.partitions.is_empty() {
            writeln!(f, "partitions: none")?;
        } else {
            let unchecked =
                if self.mbr.has_boot_signature() { "" } else { " (as found; without 55AA they are not checked)" };
            writeln!(f, "partitions:{unchecked}")?;
            writeln!(f, "  #  {:<6}  {:<28} {:>10} {:>13} {:>11}", "active", "type", "start LBA", "sectors", "size")?;
            for p in &self.partitions {
                let e = &p.entry;
                let flag = match e.boot_flag {
                    0 => "".to_string(),
                    0x80 => "*".to_string(),
                    x => format!("{x:02X}h?"),
                };
                let ty = format!("{:02x} {}", e.partition_type, e.type_name());
                writeln!(
                    f,
                    "  {}  {flag:<6}  {ty:<28} {:>10} {:>13} {:>11}",
                    p.index,
                    e.start_lba,
                    e.sectors,
                    human_size(e.sectors as u64 * SECTOR_SIZE as u64)
                )?;
                match &p.contents {
                    Some(c) => writeln!(f, "     first sector: {c}")?,
                    None if mbr::is_extended(e.partition_type) => {
                        writeln!(f, "     extended partition (its logical partitions are not listed)")?
                    }
                    None => {}
                }
            }
        }
        if self.findings.is_empty() {
            writeln!(f, "problems: none")?;
        } else {
            writeln!(f, "problems:")?;
            for finding in &self.findings {
                writeln!(f, "  {finding}")?;
            }
        }
        let errors = self.errors().count();
        if errors == 0 {
            writeln!(f, "the disk looks bootable")
        } else {
            writeln!(f, "the disk will not boot ({errors} error{})", if errors == 1 { "" } else { "s" })
        }
    }
}

/// Reads the GPT header at LBA 1 and counts the used entries.
fn gpt_summary(disk: &Disk) -> GptSummary {
    let none = GptSummary { header: false, entries: 0, used: 0 };
    let Ok(h) = disk.read_sector(1) else {
        return none;
    };
    if &h[..8] != b"EFI PART" {
        return none;
    }
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let entries_lba = u64::from_le_bytes([h[0x48], h[0x49], h[0x4A], h[0x4B], h[0x4C], h[0x4D], h[0x4E], h[0x4F]]);
    let (entries, entry_size) = (u32_at(0x50), u32_at(0x54));
    let mut used = 0;
    // Sane tables only: 128-byte (or larger, multiple of 8) entries, at most 16 KiB entries.
    if (128..=4096).contains(&entry_size) && entry_size % 8 == 0 && entries <= 16384 {
        let bytes = entries as usize * entry_size as usize;
        let mut table = vec![0u8; bytes.div_ceil(SECTOR_SIZE) * SECTOR_SIZE];
        if disk.read(entries_lba, &mut table).is_ok() {
            used =
                table[..bytes].chunks(entry_size as usize).filter(|e| e[..16].iter().any(|&b| b != 0)).count() as u32;
        }
    }
    GptSummary { header: true, entries, used }
}

/// Inspects a disk: reads sector 0, the partitions' first sectors (and a few more to find
/// file systems), and the GPT header behind a protective MBR. Never reads a disk whole.
pub fn inspect(disk: &Disk) -> Result<Report, DiskError> {
    let size = disk.size_bytes();
    let sectors = disk.sectors();
    let mut findings = Vec::new();
    let mut add = |problem: Problem, stops_boot: bool| findings.push(Finding { problem, stops_boot });
    let sector0 = if size == 0 { [0u8; SECTOR_SIZE] } else { disk.read_sector(0)? };
    if size < SECTOR_SIZE as u64 {
        add(Problem::SmallerThanSector { bytes: size }, true);
    } else if size % SECTOR_SIZE as u64 != 0 {
        add(Problem::NotWholeSectors { bytes: size }, false);
    }
    let mbr = Mbr::parse(&sector0);
    if !mbr.has_boot_signature() {
        add(Problem::NoBootSignature { found: mbr.signature }, true);
    }
    let boot_code = identify::boot_code(&mbr.code);
    if boot_code == BootCode::Zeroes {
        add(Problem::NoBootCode, true);
    }
    // Without 55AA sector 0 is no MBR: a BIOS stops there, and its "table" means nothing.
    let checked = mbr.has_boot_signature();
    let protective = mbr.is_gpt_protective();
    // Whether the code boots the active partition: ondol's MBR and syslinux's mbr.bin do even
    // on a GPT disk; unknown code behind a protective MBR is assumed to read the GPT.
    let by_active = match boot_code {
        BootCode::Ondol { .. } | BootCode::Syslinux { kind: SyslinuxMbr::Mbr, .. } => true,
        _ => boot_code.boots_active_partition() && !protective,
    };

    let used: Vec<(usize, PartitionEntry)> =
        mbr.partitions.iter().enumerate().filter(|(_, e)| !e.is_unused()).map(|(i, e)| (i + 1, *e)).collect();
    let mut add = |problem: Problem, stops_boot: bool| {
        if checked {
            add(problem, stops_boot)
        }
    };
    let actives: Vec<usize> = used.iter().filter(|(_, e)| e.is_active()).map(|(i, _)| *i).collect();
    // The partition the boot code will start, when it is known.
    let boot_index = match &boot_code {
        BootCode::Syslinux { kind: SyslinuxMbr::AltMbr { partition }, .. } => Some(*partition as usize),
        _ if by_active && actives.len() == 1 => Some(actives[0]),
        _ => None,
    };

    // ondol's MBR reads every entry's flag, used or not: a flagged unused entry confuses it.
    for (i, e) in mbr.partitions.iter().enumerate().filter(|(_, e)| e.is_unused() && e.boot_flag != 0) {
        add(Problem::UnusedEntryFlagged { index: i + 1, flag: e.boot_flag }, by_active);
    }
    for &(i, e) in &used {
        if e.boot_flag != 0 && e.boot_flag != PartitionEntry::ACTIVE {
            add(Problem::BadBootFlag { index: i, flag: e.boot_flag }, by_active);
        }
        if e.start_lba == 0 && e.sectors != 0 {
            add(Problem::StartsAtZero { index: i }, true);
        }
        if e.sectors == 0 {
            add(Problem::ZeroSize { index: i, partition_type: e.partition_type }, boot_index == Some(i));
        }
        let protective_entry = e.partition_type == TYPE_GPT_PROTECTIVE;
        if e.end_lba() > sectors && !(protective_entry && e.sectors == u32::MAX) {
            add(Problem::PastEnd { index: i, end: e.end_lba(), sectors }, !protective_entry);
        }
    }
    for (n, &(a, ea)) in used.iter().enumerate() {
        for &(b, eb) in &used[n + 1..] {
            let from = (ea.start_lba as u64).max(eb.start_lba as u64);
            let to = ea.end_lba().min(eb.end_lba());
            if from < to {
                // Hybrid MBRs may overlap the protective entry on purpose.
                let hybrid = ea.partition_type == TYPE_GPT_PROTECTIVE || eb.partition_type == TYPE_GPT_PROTECTIVE;
                add(Problem::Overlap { a, b, from, to: to - 1 }, !hybrid);
            }
        }
    }
    if actives.is_empty() && by_active {
        add(Problem::NoActivePartition, true);
    }
    if actives.len() > 1 {
        add(Problem::SeveralActive { indices: actives.clone() }, by_active);
    }

    let mut partitions = Vec::new();
    for &(i, e) in &used {
        let skip = mbr::is_extended(e.partition_type) || e.partition_type == TYPE_GPT_PROTECTIVE || e.sectors == 0;
        let contents = if skip { None } else { Some(identify::contents(disk, e.start_lba as u64)) };
        let is_boot = boot_index == Some(i);
        if let Some(c) = &contents {
            if is_boot {
                let why = match c {
                    Contents::PastEnd => Some("is past the end of the image"),
                    Contents::Zeroes => Some("is empty (no boot loader)"),
                    _ if !c.boot_signature() => Some("has no 55AA boot signature"),
                    _ => None,
                };
                if let Some(why) = why {
                    add(Problem::BootSectorUnbootable { index: i, why }, true);
                }
            }
            match c {
                Contents::OndolBootLoader { header: Some(header), .. } => {
                    for p in kernel_problems(i, &e, header, sectors) {
                        add(p, is_boot);
                    }
                }
                Contents::OndolBootLoader { header: None, .. } => {
                    add(Problem::KernelHeaderMissing { index: i }, is_boot)
                }
                _ => {}
            }
        }
        partitions.push(PartitionInfo { index: i, entry: e, contents });
    }

    let gpt = protective.then(|| gpt_summary(disk));
    let gptmbr = matches!(boot_code, BootCode::Syslinux { kind: SyslinuxMbr::GptMbr, .. });
    if gpt.as_ref().is_some_and(|g| !g.header) {
        add(Problem::GptHeaderMissing, gptmbr);
    }
    if gptmbr && !protective {
        add(Problem::GptMbrWithoutGpt, true);
    }
    match boot_code {
        BootCode::Syslinux { kind: SyslinuxMbr::AltMbr { partition }, .. }
            if (1..=4).contains(&partition) && !used.iter().any(|(i, _)| *i == partition as usize) =>
        {
            add(Problem::AltMbrPartitionUnused { partition }, true)
        }
        BootCode::Syslinux { kind: SyslinuxMbr::AltMbr { partition: 0 }, .. } => {
            add(Problem::AltMbrPartitionUnused { partition: 0 }, true)
        }
        BootCode::Grub2 { core_lba: 0 } => add(Problem::GrubCoreUnset, true),
        BootCode::Grub2 { core_lba } => match disk.read_sector(core_lba) {
            Err(_) => add(Problem::GrubCorePastEnd { lba: core_lba }, true),
            Ok(s) if s.iter().all(|&b| b == 0) => add(Problem::GrubCoreMissing { lba: core_lba }, true),
            Ok(_) => {}
        },
        _ => {}
    }

    Ok(Report { name: disk.name().to_string(), size_bytes: size, sectors, mbr, boot_code, gpt, partitions, findings })
}

/// What is wrong with an ondol kernel header in partition `index`.
fn kernel_problems(index: usize, e: &PartitionEntry, h: &KernelHeader, disk_sectors: u64) -> Vec<Problem> {
    let mut v = Vec::new();
    if h.sectors == 0 {
        v.push(Problem::KernelEmpty { index });
        return v;
    }
    if h.offset == 0 {
        v.push(Problem::KernelOverBootSector { index });
    }
    let first = e.start_lba as u64 + h.offset as u64;
    let end = first + h.sectors as u64;
    if end > e.end_lba() {
        v.push(Problem::KernelPastPartition { index, first, end: end - 1, partition_end: e.end_lba() - 1 });
    }
    if end > disk_sectors {
        v.push(Problem::KernelPastDisk { index, first, end: end - 1, sectors: disk_sectors });
    }
    if h.load_address() < LOWEST_LOAD {
        v.push(Problem::KernelLoadTooLow { index, address: h.load_address() });
    }
    if h.load_end() > EBDA_START {
        v.push(Problem::KernelTooBig { index, start: h.load_address(), end: h.load_end() });
    }
    if h.entry as u64 >= h.bytes() {
        v.push(Problem::EntryPastKernel { index, segment: h.segment, entry: h.entry, bytes: h.bytes() });
    }
    v
}

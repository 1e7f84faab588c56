//! Tests of the disk module across its parts: images, create, inspect and every inconsistency
//! it reports, and the real third-party MBRs (from scripts/fetch-assets).

use super::*;
use std::path::{Path, PathBuf};

const MIB: u64 = 1 << 20;

/// A path in the temp directory, unique to this process and test; removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        let p = std::env::temp_dir().join(format!("ondol-disk-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        TempPath(p)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A third-party asset unpacked by scripts/fetch-assets; a missing one fails the test.
fn asset(package: &str, path: &str) -> Vec<u8> {
    let root = std::env::var_os("ONDOL_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().join(".cache/assets"));
    let p = root.join(package).join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("missing test asset {} ({e}): run scripts/fetch-assets", p.display()))
}

fn syslinux(name: &str) -> Vec<u8> {
    asset("syslinux-common", &format!("usr/lib/syslinux/mbr/{name}"))
}

fn opts(size: u64) -> CreateOptions {
    CreateOptions { size, ..Default::default() }
}

fn image(o: &CreateOptions) -> Vec<u8> {
    plan(o).unwrap().image()
}

fn report(img: Vec<u8>) -> Report {
    inspect(&Disk::memory(img)).unwrap()
}

/// The problems that stop a boot, and the others.
fn split(r: &Report) -> (Vec<Problem>, Vec<Problem>) {
    let errors = r.findings.iter().filter(|f| f.stops_boot).map(|f| f.problem.clone()).collect();
    let warnings = r.findings.iter().filter(|f| !f.stops_boot).map(|f| f.problem.clone()).collect();
    (errors, warnings)
}

/// Rewrites sector 0's MBR.
fn with_mbr(mut img: Vec<u8>, f: impl FnOnce(&mut Mbr)) -> Vec<u8> {
    let mut s = [0u8; SECTOR_SIZE];
    s.copy_from_slice(&img[..SECTOR_SIZE]);
    let mut m = Mbr::parse(&s);
    f(&mut m);
    img[..SECTOR_SIZE].copy_from_slice(&m.to_bytes());
    img
}

/// Rewrites the kernel header of the boot partition at LBA 2048.
fn with_header(mut img: Vec<u8>, f: impl FnOnce(&mut KernelHeader)) -> Vec<u8> {
    let at = 2048 * SECTOR_SIZE;
    let mut s = [0u8; SECTOR_SIZE];
    s.copy_from_slice(&img[at..at + SECTOR_SIZE]);
    let mut h = KernelHeader::parse(&s).unwrap();
    f(&mut h);
    h.write(&mut s);
    img[at..at + SECTOR_SIZE].copy_from_slice(&s);
    img
}

// ------------------------------------------------------------------ Disk

#[test]
fn memory_disk_reads_and_writes_whole_sectors() {
    let mut d = Disk::memory(vec![0u8; 4 * SECTOR_SIZE]);
    assert_eq!((d.sectors(), d.size_bytes(), d.name()), (4, 2048, "in-memory disk"));
    d.write(1, &[0xAB; 2 * SECTOR_SIZE]).unwrap();
    let mut buf = [0u8; 3 * SECTOR_SIZE];
    d.read(0, &mut buf).unwrap();
    assert!(buf[..512].iter().all(|&b| b == 0));
    assert!(buf[512..].iter().all(|&b| b == 0xAB));
    assert_eq!(d.read_sector(3).unwrap(), [0u8; SECTOR_SIZE]);
    assert_eq!(d.geometry(), Geometry { cylinders: 1, heads: 255, sectors_per_track: 63 });
}

#[test]
fn transfers_past_the_end_or_not_in_whole_sectors_fail() {
    let mut d = Disk::memory(vec![0u8; 4 * SECTOR_SIZE]);
    let mut buf = [0u8; 2 * SECTOR_SIZE];
    let e = d.read(3, &mut buf).unwrap_err();
    assert!(matches!(e, DiskError::OutOfRange { lba: 3, end: 5, sectors: 4, .. }), "{e}");
    assert!(e.to_string().contains("past the end of the disk (4 sectors)"), "{e}");
    assert!(matches!(d.read(u64::MAX, &mut buf), Err(DiskError::OutOfRange { .. })));
    assert!(matches!(d.write(4, &buf[..512]), Err(DiskError::OutOfRange { .. })));
    assert!(matches!(d.read(0, &mut buf[..100]), Err(DiskError::Unaligned { len: 100, .. })));
    assert!(matches!(d.write(0, &buf[..513]), Err(DiskError::Unaligned { len: 513, .. })));
}

#[test]
fn a_final_partial_sector_reads_zero_padded_and_refuses_writes() {
    let mut d = Disk::memory(vec![0xEE; 2 * SECTOR_SIZE + 100]);
    assert_eq!(d.sectors(), 3);
    let s = d.read_sector(2).unwrap();
    assert!(s[..100].iter().all(|&b| b == 0xEE) && s[100..].iter().all(|&b| b == 0));
    let e = d.write(2, &[0u8; SECTOR_SIZE]).unwrap_err();
    assert!(matches!(e, DiskError::PartialSector { lba: 2, .. }), "{e}");
    assert!(matches!(d.write(1, &[0u8; 2 * SECTOR_SIZE]), Err(DiskError::PartialSector { .. })));
    d.write(1, &[1u8; SECTOR_SIZE]).unwrap();
}

#[test]
fn a_file_disk_reads_and_writes_in_place() {
    let t = TempPath::new("rw.img");
    std::fs::write(&t.0, vec![0u8; 8 * SECTOR_SIZE]).unwrap();
    let mut d = Disk::open(&t.0, false).unwrap();
    assert!(!d.is_read_only());
    assert_eq!(d.name(), t.0.display().to_string());
    d.write(5, &[0x5A; SECTOR_SIZE]).unwrap();
    d.flush().unwrap();
    assert_eq!(d.read_sector(5).unwrap(), [0x5A; SECTOR_SIZE]);
    let on_disk = std::fs::read(&t.0).unwrap();
    assert!(on_disk[5 * 512..6 * 512].iter().all(|&b| b == 0x5A));
}

#[test]
fn a_disk_opened_read_only_refuses_writes() {
    let t = TempPath::new("ro.img");
    std::fs::write(&t.0, vec![0u8; 2 * SECTOR_SIZE]).unwrap();
    let mut d = Disk::open(&t.0, true).unwrap();
    assert!(d.is_read_only());
    let e = d.write(0, &[1u8; SECTOR_SIZE]).unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
    assert_eq!(d.read_sector(0).unwrap(), [0u8; SECTOR_SIZE]);
}

#[test]
fn opening_an_empty_file_says_nothing_to_boot() {
    let t = TempPath::new("empty.img");
    std::fs::write(&t.0, b"").unwrap();
    let e = Disk::open(&t.0, true).unwrap_err();
    assert!(matches!(e, DiskError::Empty { .. }));
    assert!(e.to_string().ends_with("is empty: nothing to boot (make a disk with `ondol disk create`)"), "{e}");
}

#[test]
fn opening_a_missing_file_or_a_directory_fails_in_one_line() {
    let e = Disk::open(Path::new("/nonexistent/disk.img"), false).unwrap_err();
    assert_eq!(e.to_string(), "cannot open disk image /nonexistent/disk.img: No such file or directory (os error 2)");
    let e = Disk::open(&std::env::temp_dir(), false).unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");
}

#[test]
fn a_sparse_multi_gib_image_is_created_and_read_without_reading_it_whole() {
    use std::os::unix::fs::MetadataExt;
    let t = TempPath::new("big.img");
    create(&t.0, &opts(8 << 30), false).unwrap();
    let meta = std::fs::metadata(&t.0).unwrap();
    assert_eq!(meta.len(), 8 << 30);
    assert!(meta.blocks() * 512 < MIB, "allocated {} bytes: not sparse", meta.blocks() * 512);
    let d = Disk::open(&t.0, true).unwrap();
    assert_eq!(d.sectors(), 16 << 20);
    assert_eq!(d.read_sector(d.sectors() - 1).unwrap(), [0u8; SECTOR_SIZE]);
    let r = inspect(&d).unwrap();
    assert!(r.bootable(), "{r}");
    assert_eq!(r.partitions[0].entry.sectors as u64, (16 << 20) - 2048);
    assert_eq!(r.partitions[0].entry.end_chs, Chs::MAX);
}

// ------------------------------------------------------------------ create

#[test]
fn the_default_disk_is_one_active_boot_partition_from_1_mib_to_the_end() {
    let p = plan(&opts(64 * MIB)).unwrap();
    let e = p.mbr.partitions[0];
    assert_eq!((e.boot_flag, e.partition_type, e.start_lba, e.sectors), (0x80, 0xDA, 2048, 131072 - 2048));
    assert!(p.mbr.partitions[1..].iter().all(|e| e.is_unused()));
    assert_eq!(p.boot_index, 1);
    let img = p.image();
    // ondol's MBR code, then the disk signature, the table and 55AA.
    assert_eq!(&img[..440], &crate::guest::boot::MBR[..440]);
    assert_eq!(&img[0x1B0..0x1B8], b"ondolMBR");
    assert_eq!(&img[510..512], &[0x55, 0xAA]);
    // The boot loader with its header, then the demo kernel.
    let part = 2048 * SECTOR_SIZE;
    let demo = crate::guest::boot::DEMO;
    let h = KernelHeader::parse(img[part..part + 512].try_into().unwrap()).unwrap();
    assert_eq!(h, KernelHeader { offset: 1, sectors: demo.len().div_ceil(512) as u16, segment: 0x1000, entry: 0 });
    assert_eq!(&img[part + 512..part + 512 + demo.len()], demo);
    let r = report(img);
    assert!(r.bootable() && r.findings.is_empty(), "{r}");
    assert_eq!(r.boot_code, BootCode::Ondol { current: true });
}

#[test]
fn partition_specs_lay_out_aligned_partitions_in_order() {
    /// (type, active, start LBA, sectors) of each used entry.
    type Row = (u8, bool, u32, u32);
    let layouts: [(&str, &[Row]); 5] = [
        ("boot:16M,83:rest", &[(0xDA, true, 2048, 32768), (0x83, false, 34816, 131072 - 34816)]),
        (
            "boot:8M,0c:32M,83:*",
            &[(0xDA, true, 2048, 16384), (0x0C, false, 18432, 65536), (0x83, false, 83968, 131072 - 83968)],
        ),
        ("83:1500K,boot:rest", &[(0x83, false, 2048, 3000), (0xDA, true, 6144, 131072 - 6144)]),
        ("0x82:8M@32M,BOOT:4M@1M", &[(0x82, false, 65536, 16384), (0xDA, true, 2048, 8192)]),
        (
            "boot:1M,0c:1M,07:1M,83:1M",
            &[(0xDA, true, 2048, 2048), (0x0C, false, 4096, 2048), (7, false, 6144, 2048), (0x83, false, 8192, 2048)],
        ),
    ];
    for (spec, want) in layouts {
        let o = CreateOptions { partitions: Some(parse_partitions(spec).unwrap()), ..opts(64 * MIB) };
        let p = plan(&o).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let got: Vec<_> = p
            .mbr
            .partitions
            .iter()
            .filter(|e| !e.is_unused())
            .map(|e| (e.partition_type, e.is_active(), e.start_lba, e.sectors))
            .collect();
        assert_eq!(got, want, "{spec}");
        let r = report(p.image());
        assert!(r.bootable(), "{spec}: {r}");
    }
}

#[test]
fn partition_specs_are_refused_with_what_to_write() {
    let cases = [
        ("", "is empty"),
        ("boot", "expected KIND:SIZE"),
        ("boot:8Q", "unknown size suffix 'Q'"),
        ("boot:lots", "'lots' is not a size"),
        ("boot:0", "above 0"),
        ("zz:8M", "neither 'boot' nor a hex MBR type"),
        ("123:8M", "neither 'boot' nor a hex MBR type"),
        ("+1:8M", "neither 'boot' nor a hex MBR type"),
        ("00:8M", "unused entry"),
        ("ee:8M", "GPT protective"),
        ("boot:8M@1536K", "multiple of 1 MiB"),
        ("boot:8M@0", "multiple of 1 MiB"),
        ("boot:1M,83:1M,83:1M,83:1M,83:1M", "at most 4"),
        ("boot:1M,boot:1M", "2 boot partitions"),
        ("83:rest", "no boot partition"),
        ("83:rest,boot:8M", "only the last partition"),
    ];
    for (spec, needle) in cases {
        let e = parse_partitions(spec).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains(needle), "{spec}: {e}");
        assert!(!e.contains('\n'), "{spec}: {e}");
    }
    assert!(
        parse_partitions("boot:8Q")
            .unwrap_err()
            .to_string()
            .ends_with("write e.g. boot:16M,83:rest or boot:8M,0c:32M,83:*")
    );
}

#[test]
fn layouts_that_do_not_fit_the_disk_are_refused() {
    let cases = [
        ("boot:16M,83:rest", 8 * MIB, "partition 1 ends at 17 MiB, past the end of the 8 MiB disk"),
        ("boot:4M,83:4M", 8 * MIB, "partition 2 ends at 9 MiB"),
        ("boot:7M,83:rest", 8 * MIB, "partition 2 would start at 8 MiB, but the disk is 8 MiB"),
        ("boot:1M,83:1M@16M", 8 * MIB, "partition 2 would start at 16 MiB"),
        ("boot:8M@1M,83:8M@4M", 32 * MIB, "partitions 1 and 2 overlap: move one with @START or make one smaller"),
    ];
    for (spec, size, needle) in cases {
        let o = CreateOptions { partitions: Some(parse_partitions(spec).unwrap()), ..opts(size) };
        let e = plan(&o).unwrap_err().to_string();
        assert!(e.contains(needle), "{spec}: {e}");
        assert!(e.contains("make --size larger") || e.contains("overlap"), "{spec}: {e}");
    }
}

#[test]
fn disk_sizes_out_of_range_are_refused() {
    for (size, needle) in [
        (MIB, "a disk needs more than that"),
        (0, "a disk needs more than that"),
        (3 * MIB + 100, "not a whole number of 512-byte sectors"),
        (MAX_DISK_BYTES + 512, "at most 2 TiB"),
    ] {
        let e = plan(&opts(size)).unwrap_err().to_string();
        assert!(e.contains(needle), "{size}: {e}");
    }
    plan(&opts(MIB + 4096)).unwrap();
}

#[test]
fn kernels_are_refused_when_empty_too_big_for_640k_or_for_their_partition() {
    let k = |n: usize| CreateOptions { kernel: Some(vec![0x90; n]), ..opts(8 * MIB) };
    assert!(matches!(plan(&k(0)), Err(CreateError::KernelEmpty)));
    let e = plan(&k(MAX_KERNEL_BYTES as usize + 1)).unwrap_err();
    assert!(matches!(e, CreateError::KernelTooBig(588_801)));
    assert!(e.to_string().contains("does not fit below 640 KiB"), "{e}");
    let p = plan(&k(MAX_KERNEL_BYTES as usize)).unwrap();
    assert_eq!(p.header.load_end(), crate::layout::EBDA_START);
    assert!(report(p.image()).bootable());
    let small = CreateOptions { size: MIB + 64 * 1024, ..k(64 * 1024) };
    let e = plan(&small).unwrap_err();
    assert!(matches!(e, CreateError::KernelDoesNotFitPartition { kernel: 65536, partition: 65536 }), "{e}");
    assert!(e.to_string().contains("do not fit in the 64 KiB boot partition"), "{e}");
    assert!(check_kernel_size(1).is_ok());
}

#[test]
fn elf_files_and_linux_kernels_are_refused_as_kernels() {
    let mut elf = vec![0u8; 4096];
    elf[..4].copy_from_slice(b"\x7FELF");
    let e = plan(&CreateOptions { kernel: Some(elf), ..opts(8 * MIB) }).unwrap_err().to_string();
    assert!(e.starts_with("the kernel is an ELF file (make a flat binary with objcopy -O binary)"), "{e}");
    let mut bz = vec![0u8; 4096];
    bz[0x202..0x206].copy_from_slice(b"HdrS");
    let e = plan(&CreateOptions { kernel: Some(bz), ..opts(8 * MIB) }).unwrap_err().to_string();
    assert!(e.contains("a Linux kernel"), "{e}");
}

#[test]
fn mbr_code_comes_from_440_or_512_byte_files_only() {
    assert_eq!(mbr_code(&[7u8; 440]).unwrap(), [7u8; 440]);
    let mut sector = [1u8; 512];
    sector[439] = 2;
    assert_eq!(mbr_code(&sector).unwrap()[439], 2);
    for n in [0, 439, 441, 511, 513, 4096] {
        let e = mbr_code(&vec![0; n]).unwrap_err().to_string();
        assert!(e.starts_with(&format!("it is {n} bytes: --mbr takes 440 bytes")), "{e}");
    }
    let code = [0xEB; 440];
    let img = image(&CreateOptions { mbr_code: Some(code), ..opts(4 * MIB) });
    assert_eq!(&img[..440], &code[..]);
    assert_eq!(img[0x1BE], 0x80);
}

#[test]
fn the_disk_signature_is_stable_for_the_same_options_and_differs_otherwise() {
    let a = plan(&opts(8 * MIB)).unwrap().mbr.disk_signature;
    assert_eq!(a, plan(&opts(8 * MIB)).unwrap().mbr.disk_signature);
    assert_ne!(a, 0);
    assert_ne!(a, plan(&opts(16 * MIB)).unwrap().mbr.disk_signature);
    let k = CreateOptions { kernel: Some(vec![1, 2, 3]), ..opts(8 * MIB) };
    assert_ne!(a, plan(&k).unwrap().mbr.disk_signature);
    let fixed = CreateOptions { disk_signature: Some(0x1234_5678), ..opts(8 * MIB) };
    assert_eq!(&image(&fixed)[0x1B8..0x1BC], &[0x78, 0x56, 0x34, 0x12]);
}

#[test]
fn create_refuses_an_existing_file_unless_told_to_overwrite_it() {
    let t = TempPath::new("exists.img");
    std::fs::write(&t.0, vec![0xFF; 16 * 1024 * 1024]).unwrap();
    let e = create(&t.0, &opts(4 * MIB), false).unwrap_err();
    assert_eq!(e.to_string(), format!("{} already exists: give --force to overwrite it", t.0.display()));
    assert_eq!(std::fs::metadata(&t.0).unwrap().len(), 16 * MIB);
    create(&t.0, &opts(4 * MIB), true).unwrap();
    let img = std::fs::read(&t.0).unwrap();
    assert_eq!(img.len() as u64, 4 * MIB);
    assert!(img[3 * MIB as usize..].iter().all(|&b| b == 0), "old contents left behind");
    assert!(inspect(&Disk::open(&t.0, true).unwrap()).unwrap().bootable());
}

#[test]
fn create_into_a_missing_directory_fails_in_one_line() {
    let e = create(Path::new("/nonexistent/dir/d.img"), &opts(4 * MIB), false).unwrap_err().to_string();
    assert!(e.starts_with("cannot write /nonexistent/dir/d.img: No such file"), "{e}");
}

#[test]
fn the_built_in_demo_disk_is_small_and_bootable() {
    let d = demo_disk();
    assert_eq!(d.name(), "built-in demo disk");
    assert_eq!(d.size_bytes(), DEMO_DISK_SIZE);
    let r = inspect(&d).unwrap();
    assert!(r.bootable() && r.findings.is_empty(), "{r}");
    assert!(matches!(r.partitions[0].contents, Some(Contents::OndolBootLoader { current: true, .. })));
}

// ------------------------------------------------------------------ inspect

#[test]
fn the_report_names_the_code_the_table_and_the_first_sectors() {
    let o = CreateOptions {
        partitions: Some(parse_partitions("boot:8M,0c:16M,83:rest").unwrap()),
        disk_signature: Some(0xCAFE_F00D),
        ..opts(64 * MIB)
    };
    let text = report(image(&o)).to_string();
    for needle in [
        "in-memory disk: 64 MiB (67108864 bytes, 131072 sectors)",
        "boot signature: 55 AA (present)",
        "boot code: ondol MBR (marker \"ondolMBR\" at 1B0h)",
        "disk signature: cafef00d",
        "  #  active  type                          start LBA       sectors        size",
        "  1  *       da non-FS data                     2048         16384       8 MiB",
        "  2          0c W95 FAT32 (LBA)                18432         32768      16 MiB",
        "     first sector: ondol boot loader: kernel at partition sector 1, 4 sectors (2048 bytes), loaded at 1000:0000 (0x10000), entered at 1000:0000",
        "     first sector: empty (all zeroes)",
        "problems: none",
        "the disk looks bootable",
    ] {
        assert!(text.contains(needle), "'{needle}' not in:\n{text}");
    }
}

#[test]
fn a_disk_without_55aa_will_not_boot() {
    let img = with_mbr(image(&opts(4 * MIB)), |m| m.signature = [0, 0]);
    let r = report(img);
    assert_eq!(split(&r).0, vec![Problem::NoBootSignature { found: [0, 0] }]);
    assert!(r.to_string().contains("boot signature: 00 00 (missing)"));
    assert!(r.to_string().contains("the disk will not boot (1 error)"));
}

#[test]
fn an_mbr_of_zeroes_has_no_boot_code() {
    let r = report(with_mbr(image(&opts(4 * MIB)), |m| m.code = [0; CODE_SIZE]));
    assert_eq!(r.boot_code, BootCode::Zeroes);
    assert_eq!(split(&r).0, vec![Problem::NoBootCode]);
}

#[test]
fn no_active_partition_several_active_and_bad_flags_stop_the_boot() {
    let two = CreateOptions { partitions: Some(parse_partitions("boot:8M,83:rest").unwrap()), ..opts(32 * MIB) };
    let r = report(with_mbr(image(&two), |m| m.partitions[0].boot_flag = 0));
    assert_eq!(split(&r).0, vec![Problem::NoActivePartition]);
    let r = report(with_mbr(image(&two), |m| m.partitions[1].boot_flag = 0x80));
    assert_eq!(split(&r).0, vec![Problem::SeveralActive { indices: vec![1, 2] }]);
    assert!(r.to_string().contains("partitions 1 and 2 are all marked active"));
    let r = report(with_mbr(image(&two), |m| m.partitions[1].boot_flag = 0x81));
    assert_eq!(split(&r).0, vec![Problem::BadBootFlag { index: 2, flag: 0x81 }]);
    assert!(r.to_string().contains("  2  81h?"), "{r}");
    let r = report(with_mbr(image(&two), |m| m.partitions[3].boot_flag = 0x80));
    assert_eq!(split(&r).0, vec![Problem::UnusedEntryFlagged { index: 4, flag: 0x80 }]);
}

#[test]
fn overlapping_partitions_stop_the_boot() {
    let two = CreateOptions { partitions: Some(parse_partitions("boot:8M,83:rest").unwrap()), ..opts(32 * MIB) };
    let r = report(with_mbr(image(&two), |m| m.partitions[1] = PartitionEntry::new(0x83, 10000, 20000, false)));
    assert_eq!(split(&r).0, vec![Problem::Overlap { a: 1, b: 2, from: 10000, to: 18431 }]);
    assert!(r.to_string().contains("error: partitions 1 and 2 overlap (LBA 10000 to 18431)"));
}

#[test]
fn a_partition_past_the_end_of_a_truncated_image_stops_the_boot() {
    let mut img = image(&opts(8 * MIB));
    img.truncate(2 * MIB as usize);
    let r = report(img);
    assert_eq!(split(&r).0, vec![Problem::PastEnd { index: 1, end: 16384, sectors: 4096 }]);
    assert!(r.to_string().contains("is the image truncated?"));
}

#[test]
fn an_image_cut_inside_a_sector_is_warned_about_and_reads_padded() {
    let mut img = image(&opts(4 * MIB));
    img.truncate(4 * MIB as usize - 100);
    let r = report(img);
    let (errors, warnings) = split(&r);
    assert_eq!(warnings, vec![Problem::NotWholeSectors { bytes: 4 * MIB - 100 }]);
    assert_eq!(errors, vec![]);
    assert_eq!(r.sectors, 8192);
}

#[test]
fn an_image_smaller_than_a_sector_is_reported_not_a_panic() {
    let r = report(vec![0x55; 100]);
    assert_eq!(
        split(&r).0,
        vec![Problem::SmallerThanSector { bytes: 100 }, Problem::NoBootSignature { found: [0, 0] }]
    );
    assert!(r.to_string().starts_with("in-memory disk: 100 bytes (1 sector)\n"), "{r}");
    let r = report(Vec::new());
    assert!(split(&r).0.contains(&Problem::SmallerThanSector { bytes: 0 }));
}

#[test]
fn without_55aa_the_table_is_shown_but_not_checked() {
    // Random-looking bytes: garbage entries would give a list of nonsense problems.
    let mut s = [0u8; SECTOR_SIZE];
    for (i, b) in s.iter_mut().enumerate() {
        *b = (i * 131 + 17) as u8;
    }
    let r = report(s.to_vec());
    assert_eq!(r.findings.len(), 1, "{r}");
    assert!(matches!(r.findings[0].problem, Problem::NoBootSignature { .. }));
    assert!(r.to_string().contains("partitions: (as found; without 55AA they are not checked)"), "{r}");
}

#[test]
fn partitions_at_lba_0_or_of_zero_size_are_reported() {
    let r = report(with_mbr(image(&opts(8 * MIB)), |m| m.partitions[1] = PartitionEntry::new(0x83, 0, 100, false)));
    let (errors, _) = split(&r);
    assert!(errors.contains(&Problem::StartsAtZero { index: 2 }), "{r}");
    assert!(errors.contains(&Problem::Overlap { a: 2, b: 1, from: 0, to: 99 }) || !errors.is_empty());
    let r = report(with_mbr(image(&opts(8 * MIB)), |m| m.partitions[2] = PartitionEntry::new(0x83, 0, 0, false)));
    assert_eq!(split(&r), (vec![], vec![Problem::ZeroSize { index: 3, partition_type: 0x83 }]));
    // The boot partition itself with zero size stops the boot.
    let r = report(with_mbr(image(&opts(8 * MIB)), |m| m.partitions[0].sectors = 0));
    assert!(split(&r).0.contains(&Problem::ZeroSize { index: 1, partition_type: 0xDA }), "{r}");
}

#[test]
fn kernel_headers_pointing_outside_the_partition_or_the_disk_are_reported() {
    let two = CreateOptions { partitions: Some(parse_partitions("boot:1M,83:rest").unwrap()), ..opts(8 * MIB) };
    let r = report(with_header(image(&two), |h| h.offset = 2046));
    assert_eq!(
        split(&r).0,
        vec![Problem::KernelPastPartition { index: 1, first: 4094, end: 4097, partition_end: 4095 }]
    );
    let r = report(with_header(image(&opts(4 * MIB)), |h| h.offset = 6142));
    let (errors, _) = split(&r);
    assert!(errors.contains(&Problem::KernelPastDisk { index: 1, first: 8190, end: 8193, sectors: 8192 }), "{r}");
    assert!(errors.iter().any(|p| matches!(p, Problem::KernelPastPartition { .. })));
}

#[test]
fn kernel_headers_that_would_not_load_are_reported() {
    let img = || image(&opts(4 * MIB));
    let r = report(with_header(img(), |h| h.segment = 0x9F80));
    assert_eq!(split(&r).0, vec![Problem::KernelTooBig { index: 1, start: 0x9F800, end: 0xA0000 }]);
    assert!(r.to_string().contains("does not fit below 640 KiB"));
    let r = report(with_header(img(), |h| h.segment = 0));
    assert_eq!(split(&r).0, vec![Problem::KernelLoadTooLow { index: 1, address: 0 }]);
    let r = report(with_header(img(), |h| h.sectors = 0));
    assert_eq!(split(&r).0, vec![Problem::KernelEmpty { index: 1 }]);
    let r = report(with_header(img(), |h| h.entry = 0x800));
    assert_eq!(split(&r).0, vec![Problem::EntryPastKernel { index: 1, segment: 0x1000, entry: 0x800, bytes: 2048 }]);
    let r = report(with_header(img(), |h| h.offset = 0));
    assert_eq!(split(&r).0, vec![Problem::KernelOverBootSector { index: 1 }]);
    let mut no_magic = img();
    no_magic[2048 * 512 + 0x1F0..2048 * 512 + 0x1F4].copy_from_slice(b"XXXX");
    let r = report(no_magic);
    assert_eq!(split(&r).0, vec![Problem::KernelHeaderMissing { index: 1 }]);
    assert!(r.to_string().contains("first sector: ondol boot loader: no kernel header (\"ONDL\" at 1F0h)"), "{r}");
}

#[test]
fn kernel_header_problems_outside_the_boot_partition_are_only_warnings() {
    let two = CreateOptions { partitions: Some(parse_partitions("boot:8M,83:rest").unwrap()), ..opts(32 * MIB) };
    let r = report(with_mbr(with_header(image(&two), |h| h.segment = 0), |m| {
        m.partitions[0].boot_flag = 0;
        m.partitions[1].boot_flag = 0x80;
        m.partitions[1].partition_type = 0xDA;
    }));
    // Partition 2 is active now and its first sector is empty; partition 1's bad header warns.
    let (errors, warnings) = split(&r);
    assert_eq!(errors, vec![Problem::BootSectorUnbootable { index: 2, why: "is empty (no boot loader)" }]);
    assert_eq!(warnings, vec![Problem::KernelLoadTooLow { index: 1, address: 0 }]);
}

#[test]
fn ondols_boot_loader_without_55aa_stops_the_boot() {
    let mut img = image(&opts(4 * MIB));
    img[2048 * 512 + 510] = 0;
    let r = report(img);
    assert_eq!(split(&r).0, vec![Problem::BootSectorUnbootable { index: 1, why: "has no 55AA boot signature" }]);
    assert!(r.to_string().contains("first sector: ondol boot loader, no 55AA: kernel at"), "{r}");
}

#[test]
fn an_active_partition_whose_first_sector_lacks_55aa_stops_the_boot() {
    let mut img = image(&opts(4 * MIB));
    img[2048 * 512..2048 * 512 + 512].copy_from_slice(&[0x90; 512]);
    let r = report(img);
    assert_eq!(split(&r).0, vec![Problem::BootSectorUnbootable { index: 1, why: "has no 55AA boot signature" }]);
    assert!(r.to_string().contains("first sector: unknown: 90 90 90"));
}

/// A GPT disk: protective MBR, header at LBA 1, entries at LBA 2 with two partitions used.
fn gpt_disk(code: &[u8; CODE_SIZE], header: bool) -> Vec<u8> {
    let mut img = vec![0u8; 4 * MIB as usize];
    let sectors = img.len() as u32 / 512;
    let m = Mbr::new(
        code,
        0,
        [PartitionEntry::new(0xEE, 1, sectors - 1, false), Default::default(), Default::default(), Default::default()],
    );
    img[..512].copy_from_slice(&m.to_bytes());
    if header {
        let h = &mut img[512..1024];
        h[..8].copy_from_slice(b"EFI PART");
        h[0x48..0x50].copy_from_slice(&2u64.to_le_bytes());
        h[0x50..0x54].copy_from_slice(&128u32.to_le_bytes());
        h[0x54..0x58].copy_from_slice(&128u32.to_le_bytes());
        img[1024] = 0x11;
        img[1024 + 128] = 0x22;
    }
    img
}

#[test]
fn a_gpt_protective_mbr_is_reported_as_such_not_as_an_error() {
    let mut code = [0u8; CODE_SIZE];
    code[..2].copy_from_slice(&[0xEB, 0xFE]);
    let r = report(gpt_disk(&code, true));
    assert!(r.findings.is_empty(), "{r}");
    assert_eq!(r.gpt, Some(GptSummary { header: true, entries: 128, used: 2 }));
    let text = r.to_string();
    assert!(text.contains("GPT: protective MBR; GPT header at LBA 1, 2 of 128 entries in use"), "{text}");
    assert!(text.contains("ee GPT protective"), "{text}");
    let r = report(gpt_disk(&code, false));
    assert_eq!(split(&r), (vec![], vec![Problem::GptHeaderMissing]));
}

#[test]
fn ondols_mbr_on_a_gpt_disk_has_no_active_partition_to_boot() {
    let mut code = [0u8; CODE_SIZE];
    code.copy_from_slice(&crate::guest::boot::MBR[..CODE_SIZE]);
    let r = report(gpt_disk(&code, true));
    assert_eq!(split(&r).0, vec![Problem::NoActivePartition]);
}

// ------------------------------------------------------------------ third-party MBRs (assets)

#[test]
fn syslinux_mbrs_are_identified_by_kind_and_build() {
    let cases = [
        ("mbr.bin", SyslinuxMbr::Mbr, SyslinuxBuild::Plain),
        ("extra/mbr_c.bin", SyslinuxMbr::Mbr, SyslinuxBuild::CtrlForcesDrive80),
        ("extra/mbr_f.bin", SyslinuxMbr::Mbr, SyslinuxBuild::ForcesDrive80),
        ("gptmbr.bin", SyslinuxMbr::GptMbr, SyslinuxBuild::Plain),
        ("extra/gptmbr_c.bin", SyslinuxMbr::GptMbr, SyslinuxBuild::CtrlForcesDrive80),
        ("extra/gptmbr_f.bin", SyslinuxMbr::GptMbr, SyslinuxBuild::ForcesDrive80),
        ("altmbr.bin", SyslinuxMbr::AltMbr { partition: 0 }, SyslinuxBuild::Plain),
        ("extra/altmbr_c.bin", SyslinuxMbr::AltMbr { partition: 0 }, SyslinuxBuild::CtrlForcesDrive80),
        ("extra/altmbr_f.bin", SyslinuxMbr::AltMbr { partition: 0 }, SyslinuxBuild::ForcesDrive80),
    ];
    for (name, kind, build) in cases {
        let bin = syslinux(name);
        let mut code = [0u8; CODE_SIZE];
        code[..bin.len()].copy_from_slice(&bin);
        assert_eq!(boot_code(&code), BootCode::Syslinux { kind, build }, "{name}");
    }
}

#[test]
fn a_disk_with_syslinux_mbr_bin_and_ondols_boot_partition_looks_bootable() {
    let code = mbr_code(&syslinux("mbr.bin")).unwrap();
    let r = report(image(&CreateOptions { mbr_code: Some(code), ..opts(8 * MIB) }));
    assert_eq!(r.boot_code, BootCode::Syslinux { kind: SyslinuxMbr::Mbr, build: SyslinuxBuild::Plain });
    assert!(r.bootable() && r.findings.is_empty(), "{r}");
    assert!(r.to_string().contains("boot code: syslinux mbr.bin (boots the active partition)"));
    // mbr.bin needs the active flag as ondol's MBR does.
    let r = report(with_mbr(image(&CreateOptions { mbr_code: Some(code), ..opts(8 * MIB) }), |m| {
        m.partitions[0].boot_flag = 0
    }));
    assert_eq!(split(&r).0, vec![Problem::NoActivePartition]);
}

#[test]
fn syslinux_altmbr_boots_the_partition_its_last_byte_names() {
    let mut bin = syslinux("altmbr.bin");
    assert_eq!(bin.len(), 439);
    bin.push(1);
    let code = mbr_code(&[bin.as_slice(), &[0u8; 72]].concat()).unwrap();
    let img =
        with_mbr(image(&CreateOptions { mbr_code: Some(code), ..opts(8 * MIB) }), |m| m.partitions[0].boot_flag = 0);
    let r = report(img.clone());
    assert_eq!(
        r.boot_code,
        BootCode::Syslinux { kind: SyslinuxMbr::AltMbr { partition: 1 }, build: SyslinuxBuild::Plain }
    );
    assert!(r.findings.is_empty(), "{r}");
    let r = report(with_mbr(img, |m| m.code[439] = 3));
    assert_eq!(split(&r).0, vec![Problem::AltMbrPartitionUnused { partition: 3 }]);
}

#[test]
fn syslinux_gptmbr_needs_a_gpt() {
    let code = mbr_code(&syslinux("gptmbr.bin")).unwrap();
    let r = report(gpt_disk(&code, true));
    assert!(r.findings.is_empty(), "{r}");
    let r = report(gpt_disk(&code, false));
    assert_eq!(split(&r).0, vec![Problem::GptHeaderMissing]);
    let r = report(image(&CreateOptions { mbr_code: Some(code), ..opts(8 * MIB) }));
    assert_eq!(split(&r).0, vec![Problem::GptMbrWithoutGpt]);
}

#[test]
fn grub2_boot_img_is_identified_with_its_core_img_sector() {
    let img = asset("grub-pc-bin", "usr/lib/grub/i386-pc/boot.img");
    let code = mbr_code(&img).unwrap();
    assert_eq!(boot_code(&code), BootCode::Grub2 { core_lba: 1 });
    let hybrid = mbr_code(&asset("grub-pc-bin", "usr/lib/grub/i386-pc/boot_hybrid.img")).unwrap();
    // grub-mkrescue fills the hybrid one's core.img sector in; as shipped it is 0.
    assert_eq!(boot_code(&hybrid), BootCode::Grub2 { core_lba: 0 });
    let r = report(image(&CreateOptions { mbr_code: Some(hybrid), ..opts(8 * MIB) }));
    assert_eq!(split(&r).0, vec![Problem::GrubCoreUnset]);
    // No core.img at LBA 1 of a fresh disk: GRUB would not boot it; no active flag is needed.
    let disk =
        with_mbr(image(&CreateOptions { mbr_code: Some(code), ..opts(8 * MIB) }), |m| m.partitions[0].boot_flag = 0);
    let r = report(disk.clone());
    assert_eq!(split(&r).0, vec![Problem::GrubCoreMissing { lba: 1 }]);
    let mut with_core = disk;
    with_core[512] = 0x52;
    assert!(report(with_core).findings.is_empty());
    let mut far = code;
    far[0x5C..0x64].copy_from_slice(&1_000_000u64.to_le_bytes());
    let r = report(image(&CreateOptions { mbr_code: Some(far), ..opts(8 * MIB) }));
    assert_eq!(split(&r).0, vec![Problem::GrubCorePastEnd { lba: 1_000_000 }]);
}

#[test]
fn a_snapshot_keeps_writes_in_memory_and_leaves_the_image_alone() {
    let dir = std::env::temp_dir().join(format!("ondol-snap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("img");
    std::fs::write(&path, vec![1u8; 4096]).unwrap();
    let mut d = Disk::open(&path, true).unwrap().snapshot();
    assert!(!d.is_read_only());
    d.write(2, &[9u8; 512]).unwrap();
    let mut b = [0u8; 1536];
    d.read(1, &mut b).unwrap();
    assert_eq!((b[0], b[512], b[1024]), (1, 9, 1));
    assert_eq!(std::fs::read(&path).unwrap(), vec![1u8; 4096], "the file must not change");
    let _ = std::fs::remove_dir_all(&dir);
}

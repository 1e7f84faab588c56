//! A disk image in 512-byte sectors: a file read and written in place (any size, sparse or
//! not), or bytes in memory. This is what the BIOS's INT 13h reads and writes.

use super::chs::Geometry;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes in a sector: every transfer is a whole number of them.
pub const SECTOR_SIZE: usize = 512;

/// What can go wrong opening, reading or writing a disk image.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("cannot open disk image {path}: {err}")]
    Open { path: String, err: io::Error },
    #[error("{name} is a directory: give a disk image file")]
    Directory { name: String },
    #[error("{name} is empty: nothing to boot (make a disk with `ondol disk create`)")]
    Empty { name: String },
    #[error("{name}: a transfer must be whole 512-byte sectors, not {len} bytes")]
    Unaligned { name: String, len: usize },
    #[error("{name}: sectors {lba}..{end} are past the end of the disk ({sectors} sectors)")]
    OutOfRange { name: String, lba: u64, end: u128, sectors: u64 },
    #[error("{name} is open read-only: cannot write sector {lba}")]
    ReadOnly { name: String, lba: u64 },
    #[error(
        "{name}: sector {lba} is only partly in the image ({size} bytes, not a whole number of sectors): cannot write it"
    )]
    PartialSector { name: String, lba: u64, size: u64 },
    #[error("{name}: I/O error at sector {lba}: {err}")]
    Io { name: String, lba: u64, err: io::Error },
}

enum Store {
    File(File),
    Memory(Vec<u8>),
}

/// A disk: sectors 0..[`Disk::sectors`], read and written whole.
///
/// An image whose size is not a multiple of 512 has a final partial sector: it reads padded
/// with zeroes and cannot be written.
pub struct Disk {
    store: Store,
    name: String,
    size: u64,
    read_only: bool,
    /// Snapshot mode: sectors written since, kept in memory; the image is never written.
    overlay: Option<std::collections::HashMap<u64, Box<[u8; SECTOR_SIZE]>>>,
}

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disk")
            .field("name", &self.name)
            .field("size", &self.size)
            .field("read_only", &self.read_only)
            .field("in_memory", &matches!(self.store, Store::Memory(_)))
            .finish()
    }
}

fn writable_refused(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem)
}

impl Disk {
    /// Opens an image file in place: read-write, or read-only when `read_only` is set or the
    /// file cannot be opened for writing (see [`Disk::is_read_only`]). Nothing is read yet.
    pub fn open(path: &Path, read_only: bool) -> Result<Disk, DiskError> {
        let name = path.display().to_string();
        let open_err = |err| DiskError::Open { path: name.clone(), err };
        let meta = std::fs::metadata(path).map_err(open_err)?;
        if meta.is_dir() {
            return Err(DiskError::Directory { name });
        }
        let (file, read_only) = if read_only {
            (File::open(path).map_err(open_err)?, true)
        } else {
            match OpenOptions::new().read(true).write(true).open(path) {
                Ok(f) => (f, false),
                Err(e) if writable_refused(&e) => (File::open(path).map_err(open_err)?, true),
                Err(e) => return Err(open_err(e)),
            }
        };
        // Seeking to the end also sizes block devices, whose metadata length is 0.
        let size = (&file).seek(SeekFrom::End(0)).map_err(open_err)?;
        if size == 0 {
            return Err(DiskError::Empty { name });
        }
        Ok(Disk { store: Store::File(file), name, size, read_only, overlay: None })
    }

    /// A disk held in memory (the built-in demo disk, tests). Writable; may be empty.
    pub fn memory(bytes: Vec<u8>) -> Disk {
        let size = bytes.len() as u64;
        Disk { store: Store::Memory(bytes), name: "in-memory disk".into(), size, read_only: false, overlay: None }
    }

    /// The same disk in snapshot mode: writes land in memory and are dropped with the disk, so
    /// the image (which may be read-only) never changes.
    pub fn snapshot(mut self) -> Disk {
        self.overlay.get_or_insert_with(Default::default);
        self.read_only = false;
        self
    }

    /// The same disk under another display name.
    pub fn named(mut self, name: impl Into<String>) -> Disk {
        self.name = name.into();
        self
    }

    /// The name messages use: the file's path, or what the disk was named.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The image's size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size
    }

    /// The number of sectors, counting a final partial sector.
    pub fn sectors(&self) -> u64 {
        self.size.div_ceil(SECTOR_SIZE as u64)
    }

    /// The CHS geometry a BIOS reports for this disk (INT 13h 08h): LBA-assisted, 255 heads
    /// and 63 sectors per track, the geometry of the CHS fields `ondol disk create` writes.
    pub fn geometry(&self) -> Geometry {
        Geometry::lba_assisted(self.sectors())
    }

    /// True when writes are refused (asked for, or the file was not writable).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Checks a transfer of `len` bytes at `lba` and returns its byte offset.
    fn check(&self, lba: u64, len: usize) -> Result<u64, DiskError> {
        if len % SECTOR_SIZE != 0 {
            return Err(DiskError::Unaligned { name: self.name.clone(), len });
        }
        let count = (len / SECTOR_SIZE) as u64;
        let end = lba as u128 + count as u128;
        if end > self.sectors() as u128 {
            return Err(DiskError::OutOfRange { name: self.name.clone(), lba, end, sectors: self.sectors() });
        }
        Ok(lba * SECTOR_SIZE as u64)
    }

    /// Reads `buf.len() / 512` sectors starting at `lba` into `buf`.
    pub fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        let start = self.check(lba, buf.len())?;
        let avail = (self.size - start).min(buf.len() as u64) as usize;
        let (data, pad) = buf.split_at_mut(avail);
        match &self.store {
            Store::File(f) => {
                f.read_exact_at(data, start).map_err(|err| DiskError::Io { name: self.name.clone(), lba, err })?
            }
            Store::Memory(m) => data.copy_from_slice(&m[start as usize..start as usize + avail]),
        }
        pad.fill(0);
        if let Some(o) = &self.overlay {
            for (i, chunk) in buf.chunks_mut(SECTOR_SIZE).enumerate() {
                if let Some(sector) = o.get(&(lba + i as u64)) {
                    chunk.copy_from_slice(&sector[..]);
                }
            }
        }
        Ok(())
    }

    /// Reads one sector.
    pub fn read_sector(&self, lba: u64) -> Result<[u8; SECTOR_SIZE], DiskError> {
        let mut s = [0u8; SECTOR_SIZE];
        self.read(lba, &mut s)?;
        Ok(s)
    }

    /// Writes `buf.len() / 512` sectors starting at `lba`.
    pub fn write(&mut self, lba: u64, buf: &[u8]) -> Result<(), DiskError> {
        let start = self.check(lba, buf.len())?;
        if self.read_only {
            return Err(DiskError::ReadOnly { name: self.name.clone(), lba });
        }
        if start + buf.len() as u64 > self.size {
            let last = self.size / SECTOR_SIZE as u64;
            return Err(DiskError::PartialSector { name: self.name.clone(), lba: last, size: self.size });
        }
        if let Some(o) = &mut self.overlay {
            for (i, chunk) in buf.chunks(SECTOR_SIZE).enumerate() {
                let mut sector = Box::new([0u8; SECTOR_SIZE]);
                sector.copy_from_slice(chunk);
                o.insert(lba + i as u64, sector);
            }
            return Ok(());
        }
        match &mut self.store {
            Store::File(f) => {
                f.write_all_at(buf, start).map_err(|err| DiskError::Io { name: self.name.clone(), lba, err })
            }
            Store::Memory(m) => {
                m[start as usize..start as usize + buf.len()].copy_from_slice(buf);
                Ok(())
            }
        }
    }

    /// Makes written data durable (a file's data reaches the disk; nothing for memory).
    pub fn flush(&mut self) -> Result<(), DiskError> {
        match &self.store {
            Store::File(f) if !self.read_only => {
                f.sync_data().map_err(|err| DiskError::Io { name: self.name.clone(), lba: 0, err })
            }
            _ => Ok(()),
        }
    }
}

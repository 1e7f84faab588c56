//! The state root: blobs by sha256 (verified on write and read, written atomically), image
//! names, unpacked layers, containers, and a lock that serialises writers.
//!
//! Layout under the root (default /var/lib/ondol):
//! ```text
//! lock                   flock(2) target: held exclusively by every writer
//! blobs/sha256/<hex>     manifests, configs and layers, named by the sha256 of their bytes
//! images.json            {"NAME:TAG": "sha256:<manifest digest>"}
//! layers/<hex>/          a layer unpacked for overlayfs, named by its diff id (uncompressed sha256)
//! containers/<id>/       one container: record.json, bundle/, upper/, work/, log
//! runtime/               libcontainer's state (one directory per running container)
//! tmp/<pid>.<n>...       work in progress; renamed into place when complete, swept when its pid is gone
//! ```

use crate::digest::{Digest, HashingReader, VerifyingReader};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what}: {err} (check that {path} is writable by this user and the disk is not full)")]
    Io { what: String, path: PathBuf, err: io::Error },
    #[error("blob {digest} is corrupt: {detail}; remove the image that uses it and import or pull it again")]
    Corrupt { digest: Digest, detail: String },
    #[error(
        "content does not match its digest: got {got}, expected {expected}; the source is corrupt or truncated: fetch or export it again"
    )]
    Mismatch { got: Digest, expected: Digest },
    #[error("blob {0} is not in the store; import or pull the image again")]
    MissingBlob(Digest),
    #[error("{path} is not valid JSON: {detail}; it was changed by hand or by another program: restore or remove it")]
    BadIndex { path: PathBuf, detail: String },
}

pub(crate) fn io_err(what: impl Into<String>, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let what = what.into();
    let path = path.to_path_buf();
    move |err| StoreError::Io { what, path, err }
}

/// Largest JSON document (manifest, config, index) the store reads into memory.
const MAX_JSON: u64 = 32 << 20;

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// The state root.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// An exclusive hold on the store; released on drop (and by the kernel if the process dies).
pub struct StoreLock {
    _file: File,
}

impl Store {
    /// Opens (creating if needed) the state root.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root: PathBuf = root.into();
        for d in ["blobs/sha256", "layers", "containers", "runtime", "tmp"] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(io_err("cannot create the state directory", &p))?;
        }
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the writer lock (blocking), then sweeps temporary files left by dead processes.
    pub fn lock(&self) -> Result<StoreLock, StoreError> {
        let p = self.root.join("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err("cannot open the store lock", &p))?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if r != 0 {
            return Err(io_err("cannot lock the store", &p)(io::Error::last_os_error()));
        }
        self.sweep_tmp();
        Ok(StoreLock { _file: f })
    }

    /// Removes tmp entries whose creating process is gone (a crash mid-write).
    fn sweep_tmp(&self) {
        let Ok(rd) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid: Option<i32> = name.split('.').next().and_then(|p| p.parse().ok());
            let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
            if !alive {
                let p = e.path();
                if p.is_dir() && !p.is_symlink() {
                    let _ = crate::layer::remove_tree(&p);
                } else {
                    let _ = fs::remove_file(&p);
                }
            }
        }
    }

    /// A fresh path under tmp/ that nothing else uses (not created).
    pub fn tmp_path(&self, tag: &str) -> PathBuf {
        let n = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        self.root.join("tmp").join(format!("{}.{n}.{nanos}.{tag}", std::process::id()))
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Streams `src` into the store. When `expected` is given the content must match it, or
    /// nothing is stored. Returns the digest, the size, and whether the blob is new.
    pub fn put_blob(&self, src: impl Read, expected: Option<&Digest>) -> Result<(Digest, u64, bool), StoreError> {
        let tmp = self.tmp_path("blob");
        let mut f = File::create(&tmp).map_err(io_err("cannot create a temporary blob", &tmp))?;
        let mut rd = HashingReader::new(src);
        let copied = io::copy(&mut rd, &mut f);
        let fin = copied.and_then(|_| f.sync_all());
        drop(f);
        if let Err(e) = fin {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("cannot write a blob", &tmp)(e));
        }
        let (digest, size) = rd.finish();
        if let Some(exp) = expected {
            if *exp != digest {
                let _ = fs::remove_file(&tmp);
                return Err(StoreError::Mismatch { got: digest, expected: exp.clone() });
            }
        }
        let dest = self.blob_path(&digest);
        if dest.is_file() {
            let _ = fs::remove_file(&tmp);
            return Ok((digest, size, false));
        }
        fs::rename(&tmp, &dest).map_err(io_err("cannot move a blob into place", &dest))?;
        sync_dir(&self.root.join("blobs/sha256"));
        Ok((digest, size, true))
    }

    /// Stores a byte string (a manifest or config).
    pub fn put_bytes(&self, data: &[u8]) -> Result<(Digest, bool), StoreError> {
        let (d, _, new) = self.put_blob(data, None)?;
        Ok((d, new))
    }

    /// Opens a blob for streaming; the reader fails at its end if the content is corrupt.
    pub fn open_blob(&self, d: &Digest) -> Result<VerifyingReader<File>, StoreError> {
        let p = self.blob_path(d);
        match File::open(&p) {
            Ok(f) => Ok(VerifyingReader::new(f, d.clone())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::MissingBlob(d.clone())),
            Err(e) => Err(io_err("cannot open a blob", &p)(e)),
        }
    }

    /// Reads a small blob whole, verified.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        let rd = self.open_blob(d)?;
        rd.take(MAX_JSON)
            .read_to_end(&mut out)
            .map_err(|e| StoreError::Corrupt { digest: d.clone(), detail: e.to_string() })?;
        if Digest::of(&out) != *d {
            return Err(StoreError::Corrupt {
                digest: d.clone(),
                detail: "content does not match its name (or it is larger than 32 MiB)".into(),
            });
        }
        Ok(out)
    }

    pub fn remove_blob(&self, d: &Digest) -> Result<(), StoreError> {
        let p = self.blob_path(d);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("cannot remove a blob", &p)(e)),
        }
    }

    /// All blobs present.
    pub fn blobs(&self) -> Result<Vec<Digest>, StoreError> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io_err("cannot list blobs", &dir))? {
            let e = e.map_err(io_err("cannot list blobs", &dir))?;
            if let Ok(d) = Digest::parse(&format!("sha256:{}", e.file_name().to_string_lossy())) {
                out.push(d);
            }
        }
        Ok(out)
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("images.json")
    }

    /// NAME:TAG -> manifest digest.
    pub fn images(&self) -> Result<BTreeMap<String, Digest>, StoreError> {
        let p = self.index_path();
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StoreError::BadIndex { path: p, detail: e.to_string() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(io_err("cannot read the image index", &p)(e)),
        }
    }

    /// Replaces the image index atomically. Hold the lock.
    pub fn set_images(&self, m: &BTreeMap<String, Digest>) -> Result<(), StoreError> {
        let data = serde_json::to_vec_pretty(m)
            .map_err(|e| StoreError::BadIndex { path: self.index_path(), detail: e.to_string() })?;
        self.write_atomic(&self.index_path(), &data)
    }

    /// Writes a small file atomically: temp file, fsync, rename, fsync of the directory.
    pub fn write_atomic(&self, dest: &Path, data: &[u8]) -> Result<(), StoreError> {
        write_atomic(dest, data)
    }

    /// Where the unpacked layer with this diff id lives.
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.root.join("runtime")
    }

    /// A layer holding only the directories a container runtime mounts on (proc, dev, sys),
    /// made on first use and shared by every container.
    pub fn mountpoints_dir(&self) -> Result<PathBuf, StoreError> {
        let d = self.root.join("mountpoints");
        for sub in ["proc", "dev", "sys"] {
            let p = d.join(sub);
            if !p.is_dir() {
                fs::create_dir_all(&p).map_err(io_err("cannot create the mount point layer", &p))?;
            }
        }
        Ok(d)
    }
}

/// Writes `dest` atomically (a sibling temp file, fsync, rename, directory fsync).
pub fn write_atomic(dest: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let n = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}.{n}.tmp",
        dest.file_name().map(|s| s.to_string_lossy()).unwrap_or_default(),
        std::process::id()
    ));
    let r = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if let Err(e) = r {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("cannot write", dest)(e));
    }
    sync_dir(dir);
    Ok(())
}

/// Replaces `dest` atomically against a killed process (a sibling temp file, then rename), but
/// without fsync: for files whose loss in a power cut costs nothing, because what they describe
/// (processes, cgroups, mounts) does not survive one either (container records, config.json).
pub fn replace_file(dest: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let n = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}.{n}.tmp",
        dest.file_name().map(|s| s.to_string_lossy()).unwrap_or_default(),
        std::process::id()
    ));
    let r = fs::write(&tmp, data).and_then(|()| fs::rename(&tmp, dest));
    if let Err(e) = r {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("cannot write", dest)(e));
    }
    Ok(())
}

/// fsync a directory so a rename in it survives a power cut (best effort).
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path().join("root")).unwrap();
        (t, s)
    }

    #[test]
    fn blob_is_named_by_its_sha256_and_reads_back() {
        let (_t, s) = store();
        let (d, new) = s.put_bytes(b"layer bytes").unwrap();
        assert!(new);
        assert_eq!(d, Digest::of(b"layer bytes"));
        assert_eq!(s.read_blob(&d).unwrap(), b"layer bytes");
        let (_, new_again) = s.put_bytes(b"layer bytes").unwrap();
        assert!(!new_again);
    }

    #[test]
    fn put_with_wrong_expected_digest_stores_nothing() {
        let (_t, s) = store();
        let wrong = Digest::of(b"something else");
        let err = s.put_blob(&b"payload"[..], Some(&wrong)).unwrap_err();
        assert!(matches!(err, StoreError::Mismatch { .. }), "{err}");
        assert!(s.blobs().unwrap().is_empty());
        assert_eq!(fs::read_dir(s.root().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn corrupted_blob_on_disk_is_detected_on_read() {
        let (_t, s) = store();
        let (d, _) = s.put_bytes(b"{\"a\":1}").unwrap();
        fs::write(s.blob_path(&d), b"{\"a\":2}").unwrap();
        assert!(matches!(s.read_blob(&d), Err(StoreError::Corrupt { .. })));
        let mut sink = Vec::new();
        assert!(s.open_blob(&d).unwrap().read_to_end(&mut sink).is_err());
    }

    #[test]
    fn image_index_round_trips_and_is_replaced_atomically() {
        let (_t, s) = store();
        assert!(s.images().unwrap().is_empty());
        let mut m = BTreeMap::new();
        m.insert("busybox:latest".to_string(), Digest::of(b"m"));
        s.set_images(&m).unwrap();
        assert_eq!(s.images().unwrap(), m);
        let leftovers: Vec<_> = fs::read_dir(s.root())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn lock_sweeps_temp_files_of_dead_processes_only() {
        let (_t, s) = store();
        // pid 0x7ffffffe is far above pid_max: certainly not running.
        let dead = s.root().join("tmp/2147483646.0.0.blob");
        fs::write(&dead, b"half").unwrap();
        let mine = s.tmp_path("blob");
        fs::write(&mine, b"in progress").unwrap();
        let _l = s.lock().unwrap();
        assert!(!dead.exists());
        assert!(mine.exists());
    }
}

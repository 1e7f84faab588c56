//! Image layers: unpacking a layer tar safely (whiteouts, opaque directories, refusal of any
//! entry that would land outside the target) and turning an overlayfs upper directory or a set
//! of build-context files back into a layer tar.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// What can go wrong with a layer.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error(
        "layer entry '{0}' climbs out of the image root with '..'; the layer is malformed or malicious, refusing it"
    )]
    Traversal(String),
    #[error(
        "layer entry '{entry}' would be written through the symlink '{link}' (-> {target}); a layer must never write through a symlink: the layer is malformed or malicious, refusing it"
    )]
    ThroughSymlink { entry: String, link: String, target: String },
    #[error("layer entry '{entry}' needs '{parent}' to be a directory, but it is not; the layer is malformed")]
    NotADirectory { entry: String, parent: String },
    #[error("layer entry '{entry}' links to '{target}', which is not in this layer; the layer is malformed")]
    BadHardlink { entry: String, target: String },
    #[error("layer entry '{0}' is a whiteout with an empty name; the layer is malformed")]
    BadWhiteout(String),
    #[error("layer tar is unreadable ({0}); it is truncated or not a tar: fetch or export the image again")]
    Tar(io::Error),
    #[error(
        "layer compression is unreadable ({0}); the layer is truncated or corrupt: fetch or export the image again"
    )]
    Compression(String),
    #[error("cannot write '{path}' while unpacking a layer: {err}")]
    Io { path: PathBuf, err: io::Error },
}

fn ioe(path: &Path) -> impl FnOnce(io::Error) -> LayerError + '_ {
    move |err| LayerError::Io { path: path.to_path_buf(), err }
}

/// How whiteouts are represented in the unpacked tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One directory per layer, stacked by overlayfs: a whiteout becomes a 0/0 character
    /// device and an opaque directory gets the `trusted.overlay.opaque=y` attribute.
    Overlay,
    /// Layers applied in order onto one directory (the plain-copy fallback): whiteouts delete.
    Apply,
}

/// Opens a possibly compressed layer: gzip and zstd are recognised by their magic numbers
/// (whatever the media type says), anything else is read as a plain tar.
pub fn decompress<'a>(r: impl Read + 'a) -> Result<Box<dyn Read + 'a>, LayerError> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let head = br.fill_buf().map_err(LayerError::Tar)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(br)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = ruzstd::decoding::StreamingDecoder::new(br).map_err(|e| LayerError::Compression(e.to_string()))?;
        Ok(Box::new(d))
    } else {
        Ok(Box::new(br))
    }
}

/// Turns a tar entry path into a clean path relative to the image root, or refuses it.
pub fn clean_path(raw: &[u8]) -> Result<PathBuf, LayerError> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    let p = Path::new(std::ffi::OsStr::from_bytes(raw));
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            // A leading '/' means the image root (as tar and every image tool read it).
            Component::Prefix(_) | Component::RootDir => {}
            Component::ParentDir => return Err(LayerError::Traversal(shown)),
            Component::CurDir => {}
            Component::Normal(n) => out.push(n),
        }
    }
    Ok(out)
}

/// Makes sure every parent of `rel` under `root` is a real directory (creating missing ones),
/// refusing to pass through a symlink.
fn prepare_parents(root: &Path, rel: &Path, shown: &str) -> Result<(), LayerError> {
    let mut cur = root.to_path_buf();
    let mut relcur = PathBuf::new();
    let parent = rel.parent().unwrap_or(Path::new(""));
    for c in parent.components() {
        cur.push(c);
        relcur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&cur).map(|t| t.display().to_string()).unwrap_or_default();
                return Err(LayerError::ThroughSymlink {
                    entry: shown.to_string(),
                    link: relcur.display().to_string(),
                    target,
                });
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(LayerError::NotADirectory {
                    entry: shown.to_string(),
                    parent: relcur.display().to_string(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&cur).map_err(ioe(&cur))?;
                fs::set_permissions(&cur, fs::Permissions::from_mode(0o755)).map_err(ioe(&cur))?;
            }
            Err(e) => return Err(ioe(&cur)(e)),
        }
    }
    Ok(())
}

/// Removes whatever is at `p` without following symlinks.
pub fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => remove_tree(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes a directory tree (never following symlinks out of it).
pub fn remove_tree(p: &Path) -> io::Result<()> {
    match fs::remove_dir_all(p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn lchown(p: &Path, uid: u64, gid: u64) -> io::Result<()> {
    let c = cstr(p)?;
    // SAFETY: c is a valid NUL-terminated path that lives across the call.
    let r = unsafe { libc::lchown(c.as_ptr(), uid as libc::uid_t, gid as libc::gid_t) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn mknod(p: &Path, kind: libc::mode_t, perm: u32, major: u32, minor: u32) -> io::Result<()> {
    let c = cstr(p)?;
    let dev = libc::makedev(major, minor);
    // SAFETY: c is a valid NUL-terminated path that lives across the call.
    let r = unsafe { libc::mknod(c.as_ptr(), kind | (perm & 0o7777) as libc::mode_t, dev) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn lsetxattr(p: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c = cstr(p)?;
    let n = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both strings are valid and NUL-terminated; value is a valid slice for its length.
    let r = unsafe { libc::lsetxattr(c.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads an extended attribute (None when absent).
pub fn lgetxattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let c = cstr(p).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: strings are NUL-terminated; buf is writable for its whole length.
    let r = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

fn set_mtime(p: &Path, secs: u64) -> io::Result<()> {
    let c = cstr(p)?;
    let t = libc::timespec { tv_sec: secs as libc::time_t, tv_nsec: 0 };
    let times = [t, t];
    // SAFETY: c is NUL-terminated; times points at two timespecs as utimensat requires.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What one unpack did.
#[derive(Debug, Default)]
pub struct Unpacked {
    pub entries: u64,
    pub whiteouts: u64,
}

const WH: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Unpacks one layer (an uncompressed tar stream) into `dest`, which must exist.
/// The whole stream is consumed, so a verifying reader underneath sees its end.
pub fn unpack(src: impl Read, dest: &Path, mode: Mode) -> Result<Unpacked, LayerError> {
    let mut ar = tar::Archive::new(src);
    let mut stats = Unpacked::default();
    let mut created: HashSet<PathBuf> = HashSet::new();
    let is_root = nix::unistd::geteuid().is_root();
    let mut dir_times: Vec<(PathBuf, u64)> = Vec::new();
    {
        let entries = ar.entries().map_err(LayerError::Tar)?;
        for entry in entries {
            let mut entry = entry.map_err(LayerError::Tar)?;
            let raw = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let rel = clean_path(&raw)?;
            if rel.as_os_str().is_empty() {
                continue; // "./": the root itself
            }
            stats.entries += 1;
            let name = rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            prepare_parents(dest, &rel, &shown)?;
            let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
            if name == OPAQUE {
                stats.whiteouts += 1;
                let dir = dest.join(&parent_rel);
                match mode {
                    Mode::Overlay => lsetxattr(&dir, "trusted.overlay.opaque", b"y").map_err(ioe(&dir))?,
                    Mode::Apply => {
                        for e in fs::read_dir(&dir).map_err(ioe(&dir))? {
                            let e = e.map_err(ioe(&dir))?;
                            let r = parent_rel.join(e.file_name());
                            if !created.contains(&r) {
                                remove_any(&e.path()).map_err(ioe(&e.path()))?;
                            }
                        }
                    }
                }
                continue;
            }
            if let Some(victim) = name.strip_prefix(WH) {
                stats.whiteouts += 1;
                if victim.is_empty() || victim == "." || victim == ".." {
                    return Err(LayerError::BadWhiteout(shown));
                }
                let target = dest.join(&parent_rel).join(victim);
                remove_any(&target).map_err(ioe(&target))?;
                if mode == Mode::Overlay {
                    mknod(&target, libc::S_IFCHR, 0, 0, 0).map_err(ioe(&target))?;
                }
                continue;
            }
            let path = dest.join(&rel);
            let h = entry.header().clone();
            let kind = h.entry_type();
            let perm = h.mode().map_err(LayerError::Tar)? & 0o7777;
            let existing = fs::symlink_metadata(&path).ok();
            if kind.is_dir() {
                if !existing.as_ref().is_some_and(|m| m.is_dir()) {
                    remove_any(&path).map_err(ioe(&path))?;
                    fs::create_dir(&path).map_err(ioe(&path))?;
                }
            } else if existing.is_some() {
                remove_any(&path).map_err(ioe(&path))?;
            }
            match kind {
                tar::EntryType::Directory => {}
                tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                    let mut f = OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .custom_flags(libc::O_NOFOLLOW)
                        .mode(0o600)
                        .open(&path)
                        .map_err(ioe(&path))?;
                    io::copy(&mut entry, &mut f).map_err(LayerError::Tar)?;
                }
                tar::EntryType::Symlink => {
                    let target = entry.link_name_bytes().map(|b| b.into_owned()).unwrap_or_default();
                    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&target), &path).map_err(ioe(&path))?;
                }
                tar::EntryType::Link => {
                    let raw_t = entry.link_name_bytes().map(|b| b.into_owned()).unwrap_or_default();
                    let shown_t = String::from_utf8_lossy(&raw_t).into_owned();
                    let t = clean_path(&raw_t)?;
                    prepare_parents(dest, &t, &shown_t)?;
                    let tpath = dest.join(&t);
                    match fs::symlink_metadata(&tpath) {
                        Ok(m) if !m.is_dir() => {}
                        _ => {
                            return Err(LayerError::BadHardlink { entry: shown, target: shown_t });
                        }
                    }
                    fs::hard_link(&tpath, &path).map_err(ioe(&path))?;
                    created.insert(rel);
                    continue;
                }
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    let t = match kind {
                        tar::EntryType::Char => libc::S_IFCHR,
                        tar::EntryType::Block => libc::S_IFBLK,
                        _ => libc::S_IFIFO,
                    };
                    let major = h.device_major().ok().flatten().unwrap_or(0);
                    let minor = h.device_minor().ok().flatten().unwrap_or(0);
                    mknod(&path, t, perm, major, minor).map_err(ioe(&path))?;
                }
                // PAX/GNU metadata records are consumed by the tar reader; anything else
                // (e.g. a socket) has no meaning in an image.
                _ => continue,
            }
            let uid = h.uid().unwrap_or(0);
            let gid = h.gid().unwrap_or(0);
            if is_root {
                lchown(&path, uid, gid).map_err(ioe(&path))?;
            }
            if kind != tar::EntryType::Symlink {
                fs::set_permissions(&path, fs::Permissions::from_mode(perm)).map_err(ioe(&path))?;
            }
            if let Ok(Some(exts)) = entry.pax_extensions() {
                for ext in exts.flatten() {
                    if let Ok(k) = ext.key() {
                        if let Some(attr) = k.strip_prefix("SCHILY.xattr.") {
                            if is_root || attr.starts_with("user.") {
                                let _ = lsetxattr(&path, attr, ext.value_bytes());
                            }
                        }
                    }
                }
            }
            let mtime = h.mtime().unwrap_or(0);
            if kind.is_dir() {
                dir_times.push((path, mtime));
            } else {
                let _ = set_mtime(&path, mtime);
            }
            created.insert(rel);
        }
    }
    for (p, t) in dir_times.iter().rev() {
        let _ = set_mtime(p, *t);
    }
    let mut rest = ar.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(LayerError::Tar)?;
    Ok(stats)
}

fn tar_io(e: io::Error) -> LayerError {
    LayerError::Io { path: PathBuf::from("<layer tar>"), err: e }
}

fn walk_sorted(dir: &Path, out: &mut Vec<PathBuf>, base: &Path) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)?.flatten().map(|e| e.path()).collect();
    names.sort();
    for p in names {
        let rel = p.strip_prefix(base).unwrap_or(&p).to_path_buf();
        out.push(rel);
        let m = fs::symlink_metadata(&p)?;
        if m.is_dir() {
            walk_sorted(&p, out, base)?;
        }
    }
    Ok(())
}

/// Writes the changes recorded in an overlayfs upper directory as an OCI layer tar:
/// 0/0 character devices become `.wh.NAME`, opaque directories get `.wh..wh..opq`.
pub fn diff_upper(upper: &Path, out: impl Write) -> Result<u64, LayerError> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut paths = Vec::new();
    walk_sorted(upper, &mut paths, upper).map_err(ioe(upper))?;
    let mut n = 0;
    for rel in paths {
        let p = upper.join(&rel);
        let m = fs::symlink_metadata(&p).map_err(ioe(&p))?;
        if m.file_type().is_char_device() && m.rdev() == 0 {
            let name = rel.file_name().map(|s| s.to_os_string()).unwrap_or_default();
            let mut wh = std::ffi::OsString::from(WH);
            wh.push(name);
            let whp = rel.with_file_name(wh);
            append_empty(&mut b, &whp, m.mtime() as u64)?;
            n += 1;
            continue;
        }
        if m.file_type().is_socket() {
            continue;
        }
        b.append_path_with_name(&p, &rel).map_err(tar_io)?;
        n += 1;
        if m.is_dir() && lgetxattr(&p, "trusted.overlay.opaque").as_deref() == Some(b"y") {
            append_empty(&mut b, &rel.join(OPAQUE), m.mtime() as u64)?;
        }
    }
    b.into_inner().map_err(tar_io)?.flush().map_err(tar_io)?;
    Ok(n)
}

fn append_empty<W: Write>(b: &mut tar::Builder<W>, path: &Path, mtime: u64) -> Result<(), LayerError> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, path, io::empty()).map_err(tar_io)
}

/// Writes a layer holding `src` (a file or a directory's contents) at `dest` inside the image,
/// plus the directories leading to it. Used by the builder's COPY.
pub fn tar_copy<W: Write>(b: &mut tar::Builder<W>, src: &Path, dest: &Path) -> Result<(), LayerError> {
    b.follow_symlinks(false);
    let m = fs::symlink_metadata(src).map_err(ioe(src))?;
    let dest = clean_path(dest.as_os_str().as_bytes())?;
    // Parent directories, so the layer is self-contained.
    let mut acc = PathBuf::new();
    if let Some(parent) = dest.parent() {
        for c in parent.components() {
            acc.push(c);
            append_dir(b, &acc)?;
        }
    }
    if m.is_dir() {
        if !dest.as_os_str().is_empty() {
            b.append_path_with_name(src, &dest).map_err(tar_io)?;
        }
        let mut paths = Vec::new();
        walk_sorted(src, &mut paths, src).map_err(ioe(src))?;
        for rel in paths {
            let p = src.join(&rel);
            let pm = fs::symlink_metadata(&p).map_err(ioe(&p))?;
            if pm.file_type().is_socket() {
                continue;
            }
            b.append_path_with_name(&p, dest.join(&rel)).map_err(tar_io)?;
        }
    } else {
        b.append_path_with_name(src, &dest).map_err(tar_io)?;
    }
    Ok(())
}

fn append_dir<W: Write>(b: &mut tar::Builder<W>, path: &Path) -> Result<(), LayerError> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(0o755);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, path, io::empty()).map_err(tar_io)
}

/// Copies a file (used when a hardlinked layer file cannot be linked).
pub fn copy_file(from: &Path, to: &Path) -> io::Result<()> {
    let mut a = File::open(from)?;
    let mut b = File::create(to)?;
    io::copy(&mut a, &mut b)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar builder that writes raw names, so tests can craft hostile entries.
    struct T {
        b: tar::Builder<Vec<u8>>,
    }

    impl T {
        fn new() -> T {
            T { b: tar::Builder::new(Vec::new()) }
        }
        fn header(kind: tar::EntryType, name: &str, size: u64) -> tar::Header {
            let mut h = tar::Header::new_old();
            h.set_entry_type(kind);
            h.set_size(size);
            h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
            // Raw name bytes: bypass the builder's own path checks.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_cksum();
            h
        }
        fn file(mut self, name: &str, data: &str) -> T {
            let h = T::header(tar::EntryType::Regular, name, data.len() as u64);
            self.b.append(&h, data.as_bytes()).unwrap();
            self
        }
        fn dir(mut self, name: &str) -> T {
            let h = T::header(tar::EntryType::Directory, name, 0);
            self.b.append(&h, io::empty()).unwrap();
            self
        }
        fn link(mut self, kind: tar::EntryType, name: &str, target: &str) -> T {
            let mut h = T::header(kind, name, 0);
            let t = target.as_bytes();
            h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
            h.set_cksum();
            self.b.append(&h, io::empty()).unwrap();
            self
        }
        fn bytes(self) -> Vec<u8> {
            self.b.into_inner().unwrap()
        }
    }

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap()
    }

    #[test]
    fn files_dirs_and_symlinks_unpack() {
        let t = tempfile::tempdir().unwrap();
        let tar = T::new()
            .dir("etc/")
            .file("etc/hostname", "box\n")
            .file("./bin/tool", "x")
            .link(tar::EntryType::Symlink, "bin/alias", "/bin/tool")
            .link(tar::EntryType::Link, "bin/hard", "bin/tool")
            .bytes();
        unpack(&tar[..], t.path(), Mode::Apply).unwrap();
        assert_eq!(read(&t.path().join("etc/hostname")), "box\n");
        assert_eq!(fs::read_link(t.path().join("bin/alias")).unwrap(), Path::new("/bin/tool"));
        assert_eq!(read(&t.path().join("bin/hard")), "x");
    }

    #[test]
    fn dotdot_entry_is_refused_and_nothing_escapes() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        fs::create_dir(&root).unwrap();
        let tar = T::new().file("../../escaped", "pwned").bytes();
        let err = unpack(&tar[..], &root, Mode::Apply).unwrap_err();
        assert!(matches!(err, LayerError::Traversal(_)), "{err}");
        assert!(err.to_string().contains("../../escaped"));
        assert!(!t.path().join("escaped").exists());
    }

    #[test]
    fn absolute_entry_stays_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        fs::create_dir(&root).unwrap();
        let tar = T::new().dir("/").file("/etc/passwd", "root::0:0").bytes();
        unpack(&tar[..], &root, Mode::Apply).unwrap();
        assert_eq!(read(&root.join("etc/passwd")), "root::0:0");
    }

    #[test]
    fn write_through_absolute_symlink_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        fs::create_dir(&root).unwrap();
        fs::create_dir(&outside).unwrap();
        let tar = T::new()
            .link(tar::EntryType::Symlink, "etc", outside.to_str().unwrap())
            .file("etc/passwd", "pwned")
            .bytes();
        let err = unpack(&tar[..], &root, Mode::Overlay).unwrap_err();
        assert!(matches!(err, LayerError::ThroughSymlink { .. }), "{err}");
        assert!(!outside.join("passwd").exists());
    }

    #[test]
    fn hardlink_out_of_the_layer_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let tar = T::new().link(tar::EntryType::Link, "shadow", "../../etc/shadow").bytes();
        let err = unpack(&tar[..], t.path(), Mode::Apply).unwrap_err();
        assert!(matches!(err, LayerError::Traversal(_)), "{err}");
        let tar = T::new().link(tar::EntryType::Link, "shadow", "missing").bytes();
        let err = unpack(&tar[..], t.path(), Mode::Apply).unwrap_err();
        assert!(matches!(err, LayerError::BadHardlink { .. }), "{err}");
    }

    #[test]
    fn whiteout_and_opaque_dir_apply_in_order() {
        let t = tempfile::tempdir().unwrap();
        let lower = T::new().file("a/keep", "1").file("a/gone", "2").file("o/old1", "3").file("o/old2", "4").bytes();
        unpack(&lower[..], t.path(), Mode::Apply).unwrap();
        // The opaque marker comes after a new file in the same directory: the new file stays.
        let upper = T::new().file("a/.wh.gone", "").file("o/new", "5").file("o/.wh..wh..opq", "").bytes();
        let st = unpack(&upper[..], t.path(), Mode::Apply).unwrap();
        assert_eq!(st.whiteouts, 2);
        assert!(t.path().join("a/keep").exists());
        assert!(!t.path().join("a/gone").exists());
        assert!(!t.path().join("a/.wh.gone").exists());
        assert!(!t.path().join("o/old1").exists());
        assert!(!t.path().join("o/old2").exists());
        assert_eq!(read(&t.path().join("o/new")), "5");
    }

    #[test]
    #[ignore = "needs root (mknod, trusted.* xattrs); scripts/test-containers runs it"]
    fn overlay_mode_writes_overlayfs_whiteouts() {
        assert!(nix::unistd::geteuid().is_root(), "this test needs root (mknod and trusted.* xattrs): run it as root");
        let t = tempfile::tempdir().unwrap();
        let tar = T::new().file("d/.wh.x", "").dir("o/").file("o/.wh..wh..opq", "").bytes();
        unpack(&tar[..], t.path(), Mode::Overlay).unwrap();
        let m = fs::symlink_metadata(t.path().join("d/x")).unwrap();
        assert!(m.file_type().is_char_device());
        assert_eq!(m.rdev(), 0);
        assert_eq!(lgetxattr(&t.path().join("o"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
        // And back: the upper directory turns into the same whiteouts.
        let mut out = Vec::new();
        diff_upper(t.path(), &mut out).unwrap();
        let names: Vec<String> = tar::Archive::new(&out[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"d/.wh.x".to_string()), "{names:?}");
        assert!(names.contains(&"o/.wh..wh..opq".to_string()), "{names:?}");
    }

    #[test]
    fn truncated_tar_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let tar = T::new().file("big", &"x".repeat(5000)).bytes();
        let cut = &tar[..1024];
        assert!(unpack(cut, t.path(), Mode::Apply).is_err());
    }

    #[test]
    fn gzip_and_zstd_layers_are_recognised() {
        let tar = T::new().file("f", "zz").bytes();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let zs = ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest);
        for blob in [gz, zs, tar.clone()] {
            let t = tempfile::tempdir().unwrap();
            unpack(decompress(&blob[..]).unwrap(), t.path(), Mode::Apply).unwrap();
            assert_eq!(read(&t.path().join("f")), "zz");
        }
    }
}

//! Containers from images on youki's libcontainer: run (foreground or detached), ps, logs,
//! stop, kill, rm, exec; and the crash-safety rules that make a killed ondol harmless.
//!
//! Crash safety, by construction:
//! - A container's record (containers/<id>/record.json) is written, atomically, before any
//!   mount, cgroup or process exists, and names everything that may be created for it: its
//!   cgroup path is derived from its id, its libcontainer state lives in runtime/<id>.
//! - The overlayfs rootfs is mounted inside a private mount namespace that ondol enters first,
//!   so the host never sees the mount: it goes away with the last process that uses it.
//! - `ps` reconciles records with the processes that are really there, and `rm` removes
//!   whatever a record names (processes in the cgroup, cgroup directories, state, files),
//!   whichever step a crash interrupted.

use crate::cgroups::{Hierarchy, Limits};
use crate::digest::Digest;
use crate::image::{self, ImageError};
use crate::layer::{self, Mode};
use crate::spec::{self, SpecInput, Volume};
use crate::store::{Store, StoreError, io_err, replace_file};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What can go wrong running containers.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error("no container '{0}'; see `ondol container ps -a`")]
    NoSuchContainer(String),
    #[error("a container named '{0}' already exists; pick another --name or remove it with `ondol container rm {0}`")]
    NameInUse(String),
    #[error("'{0}' is not a valid container name; use letters, digits, '_', '.' and '-'")]
    BadName(String),
    #[error("container '{0}' is running; stop it first, or use rm -f")]
    Running(String),
    #[error("container '{0}' is not running")]
    NotRunning(String),
    #[error("the image has no command to run; give one after the image name")]
    NoCommand,
    #[error("user '{0}' is not in the image's /etc/passwd; give a numeric UID[:GID]")]
    NoSuchUser(String),
    #[error("group '{0}' is not in the image's /etc/group; give a numeric GID")]
    NoSuchGroup(String),
    #[error("'{0}' is not a valid -v volume; use /HOST/PATH:/CONTAINER/PATH[:ro]")]
    BadVolume(String),
    #[error("volume source {0} does not exist on the host; create it first")]
    MissingVolume(String),
    #[error("'{0}' is not a signal name or number; use e.g. TERM, SIGKILL or 9")]
    BadSignal(String),
    #[error("cannot set up the container's root file system: {0}")]
    Rootfs(String),
    #[error("the container runtime failed: {0}")]
    Runtime(String),
    #[error("{what}: {err}")]
    Sys { what: String, err: nix::Error },
}

fn sys(what: impl Into<String>) -> impl FnOnce(nix::Error) -> RuntimeError {
    let what = what.into();
    move |err| RuntimeError::Sys { what, err }
}

/// An error and all its causes on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn lc(e: libcontainer::error::LibcontainerError) -> RuntimeError {
    RuntimeError::Runtime(chain(&e))
}

/// Where a container is in its life, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Running,
    Exited,
}

/// A container's record: everything needed to show it and to remove it after any crash.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: Digest,
    pub command: Vec<String>,
    pub created: u64,
    pub status: Status,
    pub pid: Option<i32>,
    pub pid_start: Option<u64>,
    pub exit_code: Option<i32>,
    /// Diff ids of the layers the rootfs stacks (kept from garbage collection).
    pub layers: Vec<Digest>,
    /// Layer blobs, for the plain-copy fallback.
    pub layer_blobs: Vec<Digest>,
    pub rootfs: String,
    pub auto_remove: bool,
    /// The ondol process supervising the container, and its start time.
    pub owner: i32,
    pub owner_start: u64,
    pub cgroups_path: String,
}

/// What `ps` shows for a record, after checking which processes are really there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Creating,
    Running(i32),
    Exited(Option<i32>),
    /// Creation was interrupted (the creating ondol died): `rm` cleans it up.
    Dead,
}

impl std::fmt::Display for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Observed::Creating => write!(f, "creating"),
            Observed::Running(_) => write!(f, "running"),
            Observed::Exited(Some(c)) => write!(f, "exited ({c})"),
            Observed::Exited(None) => write!(f, "exited (unknown)"),
            Observed::Dead => write!(f, "dead"),
        }
    }
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), if it is
/// alive and not a zombie.
pub fn proc_start(pid: i32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    if f.first() == Some(&"Z") || f.first() == Some(&"X") {
        return None;
    }
    f.get(19)?.parse().ok()
}

fn alive(pid: Option<i32>, start: Option<u64>) -> bool {
    match (pid, start) {
        (Some(p), Some(s)) => proc_start(p) == Some(s),
        _ => false,
    }
}

impl Record {
    /// Stands in for an unreadable record: dead, owning nothing but what its id names.
    fn orphan(id: &str, created: u64) -> Record {
        Record {
            id: id.to_string(),
            name: id.to_string(),
            image: "(record unreadable)".into(),
            image_id: Digest::of(b""),
            command: Vec::new(),
            created,
            status: Status::Creating,
            pid: None,
            pid_start: None,
            exit_code: None,
            layers: Vec::new(),
            layer_blobs: Vec::new(),
            rootfs: String::new(),
            auto_remove: false,
            owner: 0,
            owner_start: 0,
            cgroups_path: format!("/ondol/{id}"),
        }
    }

    pub fn observe(&self) -> Observed {
        let owner_alive = proc_start(self.owner) == Some(self.owner_start);
        match self.status {
            Status::Creating if owner_alive => Observed::Creating,
            Status::Creating => Observed::Dead,
            Status::Running if alive(self.pid, self.pid_start) => Observed::Running(self.pid.unwrap_or(0)),
            Status::Running => Observed::Exited(None),
            Status::Exited => Observed::Exited(self.exit_code),
        }
    }
}

/// How to run a container.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub image: String,
    pub cmd: Vec<String>,
    pub name: Option<String>,
    pub rm: bool,
    pub detach: bool,
    pub env: Vec<String>,
    pub volumes: Vec<String>,
    pub limits: Limits,
    pub host_network: bool,
    pub user: Option<String>,
    pub read_only: bool,
    pub workdir: Option<String>,
    pub entrypoint: Option<Vec<String>>,
}

/// A prepared rootfs for a one-off build step (used by the builder).
pub struct StepRootfs {
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
}

/// The container runtime over a store.
pub struct Runtime {
    store: Store,
}

static FWD_PID: AtomicI32 = AtomicI32::new(0);
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let p = FWD_PID.load(Ordering::SeqCst);
    if p > 0 {
        // SAFETY: kill(2) is async-signal-safe; p is the container's init process.
        unsafe { libc::kill(p, sig) };
    } else {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

/// Forwards the usual termination and user signals to the container's process.
fn install_forwarding() {
    for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2] {
        // SAFETY: an all-zero sigaction is a valid starting point; the handler only uses
        // async-signal-safe calls and atomics.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
}

fn set_forward_target(pid: i32) {
    FWD_PID.store(pid, Ordering::SeqCst);
    let p = PENDING.swap(0, Ordering::SeqCst);
    if p != 0 {
        // SAFETY: kill(2) on the container's init process.
        unsafe { libc::kill(pid, p) };
    }
}

/// Waits for a child; returns its exit status the way a shell reports it.
pub fn wait_exit(pid: i32) -> i32 {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, c)) => return c,
            Ok(WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(_) => return 255,
        }
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn random_id() -> String {
    let mut b = [0u8; 8];
    if File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).is_err() {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        b = ((t as u64) ^ (std::process::id() as u64) << 32).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect::<String>()[..12].to_string()
}

/// Parses a signal name (TERM, SIGTERM) or number.
pub fn parse_signal(s: &str) -> Result<Signal, RuntimeError> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| RuntimeError::BadSignal(s.to_string()));
    }
    let up = s.to_ascii_uppercase();
    let full = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    full.parse::<Signal>().map_err(|_| RuntimeError::BadSignal(s.to_string()))
}

/// Reads NAME -> (uid, gid) and NAME -> gid from the image, never following a symlink
/// (a hostile image could point /etc/passwd at the host's files).
fn read_image_file(rootfs: &Path, rel: &str) -> Option<String> {
    let etc = rootfs.join("etc");
    if fs::symlink_metadata(&etc).ok()?.file_type().is_symlink() {
        return None;
    }
    let p = etc.join(rel);
    if fs::symlink_metadata(&p).ok()?.file_type().is_symlink() {
        return None;
    }
    let mut s = String::new();
    OpenOptions::new().read(true).custom_flags_nofollow().open(&p).ok()?.take(4 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

trait NoFollow {
    fn custom_flags_nofollow(&mut self) -> &mut Self;
}

impl NoFollow for OpenOptions {
    fn custom_flags_nofollow(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NOFOLLOW)
    }
}

/// Resolves USER[:GROUP] (names or numbers) against the image's passwd and group files.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), RuntimeError> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = read_image_file(rootfs, "passwd").unwrap_or_default();
    let (uid, mut gid, uname) = if let Ok(n) = u.parse::<u32>() {
        let row = passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 3 && f[2] == u);
        match row {
            Some(f) => (n, f[3].parse().unwrap_or(0), Some(f[0].to_string())),
            None => (n, 0, None),
        }
    } else {
        let f = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[0] == u)
            .ok_or_else(|| RuntimeError::NoSuchUser(u.to_string()))?;
        (
            f[2].parse().map_err(|_| RuntimeError::NoSuchUser(u.to_string()))?,
            f[3].parse().unwrap_or(0),
            Some(u.to_string()),
        )
    };
    let group = read_image_file(rootfs, "group").unwrap_or_default();
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| RuntimeError::NoSuchGroup(g.to_string()))?,
        };
    }
    let mut extra = Vec::new();
    if let Some(name) = uname {
        for f in group.lines().map(|l| l.split(':').collect::<Vec<_>>()) {
            if f.len() > 3 && f[3].split(',').any(|m| m == name) {
                if let Ok(n) = f[2].parse::<u32>() {
                    if n != gid {
                        extra.push(n);
                    }
                }
            }
        }
    }
    Ok((uid, gid, extra))
}

/// Merges KEY=VALUE lists; later ones win.
pub fn merge_env(base: &[String], over: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in base.iter().chain(over) {
        let k = e.split('=').next().unwrap_or("");
        out.retain(|x| x.split('=').next() != Some(k));
        out.push(e.clone());
    }
    if !out.iter().any(|e| e.starts_with("PATH=")) {
        out.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    out
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && n.as_bytes()[0].is_ascii_alphanumeric()
}

/// Mounts overlayfs (or copies layers) at `dir`/rootfs (the container directory is the OCI
/// bundle). Call inside a private mount namespace. Returns "overlay" or "copy".
fn mount_rootfs(store: &Store, dir: &Path, lower: &[PathBuf], blobs: &[Digest]) -> Result<String, RuntimeError> {
    let rootfs = dir.join("rootfs");
    let upper = dir.join("upper");
    let work = dir.join("work");
    for d in [&rootfs, &upper, &work] {
        fs::create_dir(d).map_err(|e| RuntimeError::Rootfs(format!("{}: {e}", d.display())))?;
    }
    // On top of the image: the directories the runtime mounts on (as Docker's init layer), so
    // no run has to make them in its upper directory.
    let mountpoints = store.mountpoints_dir()?;
    let lowers: Vec<String> =
        std::iter::once(&mountpoints).chain(lower.iter().rev()).map(|p| p.display().to_string()).collect();
    let opts = format!("lowerdir={},upperdir={},workdir={}", lowers.join(":"), upper.display(), work.display());
    let want_copy = std::env::var("ONDOL_ROOTFS").is_ok_and(|v| v == "copy");
    if !want_copy && opts.len() < 4000 {
        // `volatile` (Linux 5.10+): overlayfs skips syncing the upper file system, at unmount
        // (a whole-file-system sync of the state directory's disk, which waited for other
        // programs' writes: tens of ms a run) and on the container's own fsync calls. An upper
        // directory is never mounted again (containers are not restarted; builds read it
        // through the page cache and store the layer with fsync), so what a crash could lose
        // there is lost anyway. Volumes are their own mounts and keep their fsync.
        let mount = |o: &str| nix::mount::mount(Some("overlay"), &rootfs, Some("overlay"), MsFlags::empty(), Some(o));
        match mount(&format!("{opts},volatile")).or_else(|_| mount(&opts)) {
            Ok(()) => return Ok("overlay".into()),
            Err(e) => {
                if std::env::var_os("ONDOL_DEBUG").is_some() {
                    eprintln!("ondol: overlayfs unavailable ({e}); copying the layers instead");
                }
            }
        }
    }
    // Fallback: apply every layer, in order, onto a plain directory.
    for b in blobs {
        let rd = store.open_blob(b)?;
        let plain = layer::decompress(rd).map_err(|e| RuntimeError::Rootfs(e.to_string()))?;
        layer::unpack(plain, &rootfs, Mode::Apply).map_err(|e| RuntimeError::Rootfs(e.to_string()))?;
    }
    Ok("copy".into())
}

/// Enters a private mount namespace so mounts made now are invisible to the host and vanish
/// with this process and its container; with `new_net`, also a new network namespace whose
/// loopback interface is up (the container joins it: `--network none` means loopback only).
pub fn private_namespaces(new_net: bool) -> Result<(), RuntimeError> {
    let mut flags = nix::sched::CloneFlags::CLONE_NEWNS;
    if new_net {
        flags |= nix::sched::CloneFlags::CLONE_NEWNET;
    }
    nix::sched::unshare(flags).map_err(sys("cannot create private namespaces (ondol needs root)"))?;
    nix::mount::mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(sys("cannot make mounts private"))?;
    if new_net {
        loopback_up().map_err(sys("cannot bring up the container's loopback interface"))?;
    }
    Ok(())
}

/// Sets IFF_UP on `lo` in the current network namespace (the kernel then gives it 127.0.0.1/8
/// and ::1).
fn loopback_up() -> nix::Result<()> {
    // SAFETY: socket(2) with constant arguments; the descriptor is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: fd is a new descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the flags of the interface named in ifr into ifr.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe { ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads ifr (name and flags) and sets those flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } < 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// Makes `cwd` (absolute, inside the container) exist under `rootfs` as the container will
/// see it, like `mkdir -p` run inside the container: symlinks on the way are followed inside
/// `rootfs` (an absolute target starts again at its root, `..` stops there), never to the host;
/// missing directories are made root-owned with mode 0755 (as Docker and runc do).
fn ensure_dir_in_root(rootfs: &Path, cwd: &str) -> Result<(), RuntimeError> {
    let fail = |e: nix::Error| RuntimeError::Rootfs(format!("cannot create the working directory {cwd}: {e}"));
    let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
    let root = nix::fcntl::open(rootfs, flags, nix::sys::stat::Mode::empty()).map_err(fail)?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    let root = unsafe { OwnedFd::from_raw_fd(root) };
    let mut todo: std::collections::VecDeque<std::ffi::OsString> =
        Path::new(cwd).components().map(|c| c.as_os_str().to_os_string()).collect();
    let mut at = PathBuf::from("/"); // resolved so far: no symlinks in it
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        match name.as_bytes() {
            b"/" | b"." => continue,
            b".." => {
                at.pop();
                continue;
            }
            _ => {}
        }
        let parent = open_in_root(&root, &at).map_err(fail)?;
        match nix::fcntl::readlinkat(Some(parent.as_raw_fd()), name.as_os_str()) {
            Ok(target) => {
                links += 1;
                if links > 40 {
                    return Err(fail(nix::Error::ELOOP));
                }
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    at = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    todo.push_front(c.as_os_str().to_os_string());
                }
                continue;
            }
            Err(nix::Error::EINVAL) => {} // exists, not a symlink
            Err(nix::Error::ENOENT) => {
                let c = std::ffi::CString::new(name.as_bytes()).map_err(|_| fail(nix::Error::EINVAL))?;
                // SAFETY: mkdirat with a descriptor we own and a NUL-terminated name without
                // a slash (one path component).
                if unsafe { libc::mkdirat(parent.as_raw_fd(), c.as_ptr(), 0o755) } < 0 {
                    let e = nix::Error::last();
                    if e != nix::Error::EEXIST {
                        return Err(fail(e));
                    }
                }
            }
            Err(e) => return Err(fail(e)),
        }
        at.push(name);
    }
    open_in_root(&root, &at).map(drop).map_err(fail)
}

/// openat2(O_PATH|O_DIRECTORY, RESOLVE_IN_ROOT): `path` as if `root` were `/`.
fn open_in_root(root: &OwnedFd, path: &Path) -> nix::Result<OwnedFd> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| nix::Error::EINVAL)?;
    // SAFETY: open_how is plain old data; all zeroes is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT;
    // SAFETY: openat2 with a descriptor we own, a NUL-terminated path and a valid open_how of
    // the size we pass.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Where a container's output goes.
pub enum Stdio {
    /// The caller's stdin, stdout and stderr.
    Inherit,
    /// stdin from /dev/null, stdout and stderr appended to the container's log file.
    Log,
}

impl Runtime {
    pub fn new(store: Store) -> Runtime {
        Runtime { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.store.containers_dir().join(id)
    }

    fn save(&self, r: &Record) -> Result<(), RuntimeError> {
        let data = serde_json::to_vec_pretty(r).map_err(|e| RuntimeError::Runtime(e.to_string()))?;
        replace_file(&self.dir(&r.id).join("record.json"), &data)?;
        Ok(())
    }

    /// Every container record. A container directory whose record cannot be read (records are
    /// not fsynced: after a power cut one may be empty) is listed as a dead orphan named after
    /// the directory, so `ps -a` shows it and `rm` removes it.
    pub fn records(&self) -> Result<Vec<Record>, RuntimeError> {
        self.sweep_new_dirs();
        let d = self.store.containers_dir();
        let mut out = Vec::new();
        for e in fs::read_dir(&d).map_err(io_err("cannot list containers", &d))?.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if id.starts_with('.') || !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue; // being created (see prepare_locked), or not a container
            }
            let rec = fs::read(e.path().join("record.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
                .filter(|r| r.id == id);
            out.push(rec.unwrap_or_else(|| {
                let created = e
                    .metadata()
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |t| t.as_secs());
                Record::orphan(&id, created)
            }));
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Removes `.new.PID.ID` directories whose creating process is gone (killed between
    /// mkdir and rename); nothing else refers to them, so any process may.
    fn sweep_new_dirs(&self) {
        let Ok(rd) = fs::read_dir(self.store.containers_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(".new.").and_then(|r| r.split('.').next()?.parse::<i32>().ok()) else {
                continue;
            };
            if proc_start(pid).is_none() {
                let _ = layer::remove_tree(&e.path());
            }
        }
    }

    /// Finds a container by name, id or id prefix.
    pub fn find(&self, key: &str) -> Result<Record, RuntimeError> {
        let all = self.records()?;
        if let Some(r) = all.iter().find(|r| r.name == key || r.id == key) {
            return Ok(r.clone());
        }
        let m: Vec<&Record> = all.iter().filter(|r| key.len() >= 3 && r.id.starts_with(key)).collect();
        if m.len() == 1 {
            return Ok(m[0].clone());
        }
        Err(RuntimeError::NoSuchContainer(key.to_string()))
    }

    /// Diff ids that containers still use (kept by image garbage collection).
    pub fn layers_in_use(&self) -> std::collections::BTreeSet<Digest> {
        self.records().unwrap_or_default().into_iter().flat_map(|r| r.layers).collect()
    }

    /// Creates the record (under the store lock) for a new container from `opts`.
    fn prepare(&self, opts: &RunOptions) -> Result<(Record, image::Image), RuntimeError> {
        let _lock = self.store.lock()?;
        let img = image::resolve(&self.store, &opts.image)?;
        self.prepare_locked(opts, img)
    }

    fn prepare_locked(&self, opts: &RunOptions, img: image::Image) -> Result<(Record, image::Image), RuntimeError> {
        let lower = image::unpack_all(&self.store, &img)?;
        let _ = lower;
        let mut layers = Vec::new();
        let mut blobs = Vec::new();
        for (b, d) in img.layers()? {
            blobs.push(b);
            layers.push(d);
        }
        let existing = self.records()?;
        let mut id = random_id();
        while self.dir(&id).exists() {
            id = random_id();
        }
        let name = opts.name.clone().unwrap_or_else(|| format!("c-{}", &id[..8]));
        if !valid_name(&name) {
            return Err(RuntimeError::BadName(name));
        }
        if existing.iter().any(|r| r.name == name || r.id == name) {
            return Err(RuntimeError::NameInUse(name));
        }
        let me = std::process::id() as i32;
        let rec = Record {
            id: id.clone(),
            name,
            image: img.name.clone(),
            image_id: img.config_digest.clone(),
            command: opts.cmd.clone(),
            created: now(),
            status: Status::Creating,
            pid: None,
            pid_start: None,
            exit_code: None,
            layers,
            layer_blobs: blobs,
            rootfs: String::new(),
            auto_remove: opts.rm,
            owner: me,
            owner_start: proc_start(me).unwrap_or(0),
            cgroups_path: format!("/ondol/{id}"),
        };
        // The directory appears under its id only with its record inside (made under a dot
        // name, then renamed), so a directory without a readable record is an orphan (see
        // `records`), never one being created.
        let dir = self.dir(&id);
        let new = self.store.containers_dir().join(format!(".new.{me}.{id}"));
        fs::create_dir(&new).map_err(io_err("cannot create the container directory", &new))?;
        let data = serde_json::to_vec_pretty(&rec).map_err(|e| RuntimeError::Runtime(e.to_string()))?;
        let record = new.join("record.json");
        let placed = fs::write(&record, &data)
            .map_err(io_err("cannot write", &record))
            .and_then(|()| fs::rename(&new, &dir).map_err(io_err("cannot create the container directory", &dir)));
        if let Err(e) = placed {
            let _ = layer::remove_tree(&new);
            return Err(e.into());
        }
        Ok((rec, img))
    }

    /// Builds the process settings from the image config and the options.
    fn spec_input(
        &self,
        rec: &Record,
        img: &image::Image,
        opts: &RunOptions,
        rootfs: &Path,
    ) -> Result<SpecInput, RuntimeError> {
        let cfg = img.config.config().clone().unwrap_or_default();
        let entry = opts.entrypoint.clone().or_else(|| cfg.entrypoint().clone()).unwrap_or_default();
        let cmd = if opts.cmd.is_empty() { cfg.cmd().clone().unwrap_or_default() } else { opts.cmd.clone() };
        let args: Vec<String> = entry.into_iter().chain(cmd).collect();
        if args.is_empty() {
            return Err(RuntimeError::NoCommand);
        }
        let user =
            opts.user.clone().or_else(|| cfg.user().clone()).filter(|u| !u.is_empty()).unwrap_or_else(|| "0".into());
        let (uid, gid, additional_gids) = resolve_user(rootfs, &user)?;
        let mut volumes = Vec::new();
        for v in &opts.volumes {
            let vol = Volume::parse(v).ok_or_else(|| RuntimeError::BadVolume(v.clone()))?;
            if !Path::new(&vol.host).exists() {
                return Err(RuntimeError::MissingVolume(vol.host));
            }
            volumes.push(vol);
        }
        let hier = Hierarchy::host().ok().unwrap_or_default();
        let mut env = merge_env(&cfg.env().clone().unwrap_or_default(), &opts.env);
        env.push(format!("HOSTNAME={}", rec.name));
        Ok(SpecInput {
            args,
            env,
            cwd: opts
                .workdir
                .clone()
                .or_else(|| cfg.working_dir().clone())
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            uid,
            gid,
            additional_gids,
            hostname: rec.name.clone(),
            host_network: opts.host_network,
            // private_namespaces made it, with loopback up, in this (the supervising) process.
            net_ns: (!opts.host_network).then(|| format!("/proc/{}/ns/net", std::process::id())),
            read_only: opts.read_only,
            volumes,
            limits: opts.limits,
            v2_swap: hier.v2_swap(),
            cgroups_path: rec.cgroups_path.clone(),
            resolv_conf: opts.host_network,
        })
    }

    /// Creates and starts the container; returns the init pid. Runs in the supervising process,
    /// which must already be in a private mount namespace.
    fn start(
        &self,
        rec: &mut Record,
        img: &image::Image,
        opts: &RunOptions,
        stdio: Stdio,
    ) -> Result<i32, RuntimeError> {
        let dir = self.dir(&rec.id);
        let lower: Vec<PathBuf> = rec.layers.iter().map(|d| self.store.layer_dir(d)).collect();
        rec.rootfs = mount_rootfs(&self.store, &dir, &lower, &rec.layer_blobs)?;
        let input = self.spec_input(rec, img, opts, &dir.join("rootfs"))?;
        ensure_dir_in_root(&dir.join("rootfs"), &input.cwd)?;
        let spec = spec::generate(&input)
            .map_err(|e| RuntimeError::Runtime(format!("generated config.json is invalid: {e}")))?;
        let cfg = serde_json::to_vec_pretty(&spec).map_err(|e| RuntimeError::Runtime(e.to_string()))?;
        let cfg_path = dir.join("config.json");
        fs::write(&cfg_path, &cfg).map_err(io_err("cannot write the container config", &cfg_path))?;
        let mut b = ContainerBuilder::new(rec.id.clone(), SyscallType::Linux)
            .with_root_path(self.store.runtime_dir())
            .map_err(lc)?;
        if let Stdio::Log = stdio {
            let logp = dir.join("log");
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&logp)
                .map_err(io_err("cannot open the container log", &logp))?;
            let log2 = log.try_clone().map_err(io_err("cannot open the container log", &logp))?;
            let null = File::open("/dev/null").map_err(io_err("cannot open /dev/null", Path::new("/dev/null")))?;
            b = b.with_stdin(OwnedFd::from(null)).with_stdout(OwnedFd::from(log)).with_stderr(OwnedFd::from(log2));
        }
        let mut c = b.as_init(&dir).with_systemd(false).with_detach(matches!(stdio, Stdio::Log)).build().map_err(lc)?;
        let pid =
            c.pid().map(|p| p.as_raw()).ok_or_else(|| RuntimeError::Runtime("the container has no process".into()))?;
        rec.pid = Some(pid);
        rec.pid_start = proc_start(pid);
        c.start().map_err(lc)?;
        rec.status = Status::Running;
        self.save(rec)?;
        Ok(pid)
    }

    /// After the container's process is gone: record the status (unless the record is about to
    /// go), release runtime resources.
    fn finish(&self, rec: &mut Record, code: Option<i32>) {
        rec.status = Status::Exited;
        rec.exit_code = code;
        if !rec.auto_remove {
            let _ = self.save(rec);
        }
        // Without an exit status the start failed, and a runtime process may still be setting
        // the container up; with one, libcontainer's setup processes were waited for.
        self.release(rec, code.is_none());
        if rec.auto_remove {
            let _ = layer::remove_tree(&self.dir(&rec.id));
        }
    }

    /// Removes whatever runtime resources a container may have (idempotent): processes left
    /// in its cgroup, the cgroup directories, libcontainer's state directory, the rootfs mount.
    /// This is what libcontainer's `delete` does for the configs ondol generates (no hooks, no
    /// Intel RDT), without its cgroup manager, which rereads mountinfo through a verified
    /// procfs handle once per controller (about 4 ms a container here).
    /// `settle`: a runtime process may still be creating the cgroup (see [`Hierarchy::destroy`]).
    fn release(&self, rec: &Record, settle: bool) {
        if let Ok(h) = Hierarchy::host() {
            let _ = h.destroy(&rec.cgroups_path, Duration::from_secs(5), settle);
        }
        let _ = layer::remove_tree(&self.store.runtime_dir().join(&rec.id));
        let rootfs = self.dir(&rec.id).join("rootfs");
        let _ = nix::mount::umount2(&rootfs, MntFlags::MNT_DETACH);
    }

    /// `container run` in the foreground: stdio passes through, signals are forwarded, and the
    /// container's exit status is returned.
    pub fn run_foreground(&self, opts: &RunOptions) -> Result<i32, RuntimeError> {
        let (mut rec, img) = self.prepare(opts)?;
        install_forwarding();
        let started =
            private_namespaces(!opts.host_network).and_then(|_| self.start(&mut rec, &img, opts, Stdio::Inherit));
        let pid = match started {
            Ok(p) => p,
            Err(e) => {
                self.finish(&mut rec, None);
                if !opts.rm {
                    let _ = self.remove_files(&rec);
                }
                return Err(e);
            }
        };
        set_forward_target(pid);
        let code = wait_exit(pid);
        FWD_PID.store(0, Ordering::SeqCst);
        self.finish(&mut rec, Some(code));
        Ok(code)
    }

    /// `container run -d`: a supervising process (forked, in its own session) runs the
    /// container with output to the log and records its exit; returns the id once started.
    pub fn run_detached(&self, opts: &RunOptions) -> Result<String, RuntimeError> {
        let (mut rec, img) = self.prepare(opts)?;
        let (rd, wr) = nix::unistd::pipe().map_err(sys("cannot create a pipe"))?;
        // SAFETY: ondol is single-threaded here; the child only runs this function's code and exits.
        match unsafe { nix::unistd::fork() }.map_err(sys("cannot fork the supervisor"))? {
            nix::unistd::ForkResult::Parent { .. } => {
                drop(wr);
                let mut msg = String::new();
                let _ = File::from(rd).read_to_string(&mut msg);
                match msg.strip_prefix("ok") {
                    Some(_) => Ok(rec.id),
                    None if msg.is_empty() => Err(RuntimeError::Runtime(
                        "the supervisor died while starting the container; see `ondol container ps -a`".into(),
                    )),
                    None => Err(RuntimeError::Runtime(msg.trim_start_matches("err ").to_string())),
                }
            }
            nix::unistd::ForkResult::Child => {
                drop(rd);
                let _ = nix::unistd::setsid();
                let me = std::process::id() as i32;
                rec.owner = me;
                rec.owner_start = proc_start(me).unwrap_or(0);
                let _ = self.save(&rec);
                if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
                    for fd in 0..3 {
                        let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
                    }
                }
                let mut w = File::from(wr);
                let started =
                    private_namespaces(!opts.host_network).and_then(|_| self.start(&mut rec, &img, opts, Stdio::Log));
                match started {
                    Ok(pid) => {
                        let _ = w.write_all(b"ok");
                        drop(w);
                        let code = wait_exit(pid);
                        self.finish(&mut rec, Some(code));
                    }
                    Err(e) => {
                        let _ = w.write_all(format!("err {}", chain(&e)).as_bytes());
                        drop(w);
                        self.finish(&mut rec, None);
                        let _ = self.remove_files(&rec);
                    }
                }
                std::process::exit(0);
            }
        }
    }

    /// Runs one build step: `args` in a container whose rootfs stacks `lower` under `upper`.
    /// Output passes through; returns the exit status.
    pub fn run_step(
        &self,
        img: &image::Image,
        args: Vec<String>,
        user: Option<String>,
        env: Vec<String>,
        workdir: Option<String>,
    ) -> Result<(i32, PathBuf), RuntimeError> {
        let opts = RunOptions {
            image: img.name.clone(),
            cmd: args,
            entrypoint: Some(Vec::new()),
            user,
            env,
            workdir,
            host_network: true,
            ..Default::default()
        };
        let (mut rec, img) = {
            let _lock = self.store.lock()?;
            self.prepare_locked(&opts, img.clone())?
        };
        // The step runs in a child so this process keeps the host's mount namespace.
        // SAFETY: single-threaded; the child runs the container and exits with its status.
        match unsafe { nix::unistd::fork() }.map_err(sys("cannot fork a build step"))? {
            nix::unistd::ForkResult::Child => {
                let r = private_namespaces(!opts.host_network)
                    .and_then(|_| self.start(&mut rec, &img, &opts, Stdio::Inherit));
                let started = r.is_ok();
                let code = match r {
                    Ok(pid) => wait_exit(pid),
                    Err(e) => {
                        eprintln!("ondol: {}", chain(&e));
                        125
                    }
                };
                self.release(&rec, !started);
                std::process::exit(code);
            }
            nix::unistd::ForkResult::Parent { child } => {
                let code = wait_exit(child.as_raw());
                let upper = self.dir(&rec.id).join("upper");
                Ok((code, upper))
            }
        }
    }

    /// The container directory of a record (the builder reads upper/ from it).
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.dir(id)
    }

    /// Removes a container by id without checks (builder cleanup).
    pub fn discard(&self, id: &str) {
        let d = self.dir(id);
        if let Ok(b) = fs::read(d.join("record.json")) {
            if let Ok(r) = serde_json::from_slice::<Record>(&b) {
                self.release(&r, true);
            }
        }
        let _ = layer::remove_tree(&d);
    }

    fn remove_files(&self, rec: &Record) -> Result<(), RuntimeError> {
        let d = self.dir(&rec.id);
        layer::remove_tree(&d).map_err(io_err("cannot remove the container directory", &d))?;
        Ok(())
    }

    /// Sends a signal to a running container's process.
    pub fn kill(&self, key: &str, sig: Signal) -> Result<Record, RuntimeError> {
        let rec = self.find(key)?;
        match rec.observe() {
            Observed::Running(pid) => {
                nix::sys::signal::kill(Pid::from_raw(pid), sig)
                    .map_err(sys(format!("cannot signal container {}", rec.name)))?;
                Ok(rec)
            }
            _ => Err(RuntimeError::NotRunning(rec.name)),
        }
    }

    /// SIGTERM, then SIGKILL after `timeout`.
    pub fn stop(&self, key: &str, timeout: Duration) -> Result<Record, RuntimeError> {
        let rec = self.find(key)?;
        let Observed::Running(pid) = rec.observe() else {
            return Ok(rec);
        };
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
        let deadline = Instant::now() + timeout;
        while alive(rec.pid, rec.pid_start) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(rec.pid, rec.pid_start) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            if let Ok(h) = Hierarchy::host() {
                h.destroy(&rec.cgroups_path, Duration::from_secs(5), true)?;
            }
        }
        // The supervising ondol records the exit status, releases the container's resources,
        // then exits: wait for that, so what `stop` returns to is settled.
        let deadline = Instant::now() + Duration::from_secs(15);
        while proc_start(rec.owner) == Some(rec.owner_start) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(self.find(&rec.id).unwrap_or(rec))
    }

    /// Removes a container: whatever processes, cgroups, state and files are left.
    pub fn remove(&self, key: &str, force: bool) -> Result<Record, RuntimeError> {
        let rec = self.find(key)?;
        match rec.observe() {
            Observed::Running(pid) if !force => {
                let _ = pid;
                return Err(RuntimeError::Running(rec.name));
            }
            Observed::Creating if !force => return Err(RuntimeError::Running(rec.name)),
            Observed::Running(pid) => {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            _ => {}
        }
        if force && proc_start(rec.owner) == Some(rec.owner_start) && rec.owner != std::process::id() as i32 {
            // A supervisor still waiting: it exits once the container is gone.
            let _ = nix::sys::signal::kill(Pid::from_raw(rec.owner), Signal::SIGKILL);
        }
        self.release(&rec, true);
        self.remove_files(&rec)?;
        Ok(rec)
    }

    /// The log of a detached container.
    pub fn log_path(&self, key: &str) -> Result<PathBuf, RuntimeError> {
        let rec = self.find(key)?;
        Ok(self.dir(&rec.id).join("log"))
    }

    /// Runs a command in a running container; returns its exit status.
    pub fn exec(&self, key: &str, args: Vec<String>, env: Vec<String>) -> Result<i32, RuntimeError> {
        let rec = self.find(key)?;
        if !matches!(rec.observe(), Observed::Running(_)) {
            return Err(RuntimeError::NotRunning(rec.name));
        }
        install_forwarding();
        let mut b = ContainerBuilder::new(rec.id.clone(), SyscallType::Linux)
            .with_root_path(self.store.runtime_dir())
            .map_err(lc)?
            .as_tenant()
            .with_container_args(args)
            .with_detach(false);
        if !env.is_empty() {
            let m = env.iter().filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
            b = b.with_env(m);
        }
        let pid = b.build().map_err(lc)?;
        set_forward_target(pid.as_raw());
        Ok(wait_exit(pid.as_raw()))
    }
}

/// Makes an io::Error from a message (used by callers that need one).
pub fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_from_the_image_files() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("etc")).unwrap();
        fs::write(t.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nweb:x:33:33::/:/bin/sh\n").unwrap();
        fs::write(t.path().join("etc/group"), "root:x:0:\nwww:x:33:\nlog:x:4:web\n").unwrap();
        assert_eq!(resolve_user(t.path(), "web").unwrap(), (33, 33, vec![4]));
        assert_eq!(resolve_user(t.path(), "1000:www").unwrap(), (1000, 33, vec![]));
        assert_eq!(resolve_user(t.path(), "0").unwrap(), (0, 0, vec![]));
        assert!(matches!(resolve_user(t.path(), "nobody"), Err(RuntimeError::NoSuchUser(_))));
        assert!(matches!(resolve_user(t.path(), "web:nogroup"), Err(RuntimeError::NoSuchGroup(_))));
    }

    #[test]
    fn passwd_symlink_out_of_the_image_is_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("host-passwd");
        fs::write(&outside, "evil:x:7:7::/:/bin/sh\n").unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("etc/passwd")).unwrap();
        assert!(matches!(resolve_user(&root, "evil"), Err(RuntimeError::NoSuchUser(_))));
    }

    #[test]
    fn env_overrides_by_key_and_keeps_a_path() {
        let e = merge_env(&["A=1".into(), "B=2".into()], &["A=3".into()]);
        assert!(e.contains(&"A=3".to_string()) && e.contains(&"B=2".to_string()));
        assert!(!e.contains(&"A=1".to_string()));
        assert!(e.iter().any(|x| x.starts_with("PATH=")));
    }

    #[test]
    fn signals_parse_by_name_and_number() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
    }

    #[test]
    fn working_directory_is_made_inside_the_root_even_through_an_absolute_symlink() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("rootfs");
        let host = t.path().join("host");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::create_dir(&host).unwrap();
        // /app -> <host> (absolute): inside the container that path is under the rootfs.
        std::os::unix::fs::symlink(&host, root.join("app")).unwrap();
        ensure_dir_in_root(&root, "/app/work/dir").unwrap();
        assert!(fs::read_dir(&host).unwrap().next().is_none(), "created outside the root");
        let inside = root.join(host.strip_prefix("/").unwrap()).join("work/dir");
        assert!(inside.is_dir(), "{} missing", inside.display());
        // Existing directories (and '..' that tries to climb out) are fine.
        ensure_dir_in_root(&root, "/etc").unwrap();
        ensure_dir_in_root(&root, "/../../x").unwrap();
        assert!(root.join("x").is_dir());
        assert!(!t.path().join("x").exists());
        // A file in the way is an error that names the directory.
        fs::write(root.join("file"), "").unwrap();
        let e = ensure_dir_in_root(&root, "/file/sub").unwrap_err().to_string();
        assert!(e.contains("/file/sub"), "{e}");
    }

    #[test]
    fn a_container_directory_without_a_readable_record_is_a_dead_orphan_that_rm_removes() {
        let t = tempfile::tempdir().unwrap();
        let rt = Runtime::new(Store::open(t.path()).unwrap());
        let d = rt.store().containers_dir();
        fs::create_dir_all(d.join("0123456789ab/upper")).unwrap();
        fs::write(d.join("0123456789ab/record.json"), "").unwrap();
        fs::create_dir(d.join(".new.1.fedcba987654")).unwrap();
        fs::write(d.join("not-a-container"), "").unwrap();
        let all = rt.records().unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        // pid 1 is alive: its .new directory stays; a dead creator's goes.
        assert!(d.join(".new.1.fedcba987654").exists());
        fs::create_dir(d.join(".new.2147483646.00000000000a")).unwrap();
        rt.records().unwrap();
        assert!(!d.join(".new.2147483646.00000000000a").exists());
        assert_eq!(all[0].id, "0123456789ab");
        assert_eq!(all[0].observe(), Observed::Dead);
        rt.remove("0123456789ab", false).unwrap();
        assert!(!d.join("0123456789ab").exists());
    }

    #[test]
    fn record_of_a_dead_creator_is_observed_dead() {
        let r = Record {
            id: "x".into(),
            name: "x".into(),
            image: "i".into(),
            image_id: Digest::of(b""),
            command: vec![],
            created: 0,
            status: Status::Creating,
            pid: None,
            pid_start: None,
            exit_code: None,
            layers: vec![],
            layer_blobs: vec![],
            rootfs: String::new(),
            auto_remove: false,
            owner: i32::MAX - 1,
            owner_start: 1,
            cgroups_path: "/ondol/x".into(),
        };
        assert_eq!(r.observe(), Observed::Dead);
        let me = std::process::id() as i32;
        let live = Record { owner: me, owner_start: proc_start(me).unwrap(), ..r.clone() };
        assert_eq!(live.observe(), Observed::Creating);
        let ran = Record { status: Status::Running, pid: Some(i32::MAX - 1), pid_start: Some(5), ..r };
        assert_eq!(ran.observe(), Observed::Exited(None));
    }
}

//! cgroups, independent of the host: which hierarchy a machine has (v1, hybrid, unified v2),
//! where a container's cgroup directories are, what the resource limits look like in OCI terms,
//! and cleanup (kill what is left, remove the directories) after a crash.
//! libcontainer applies the limits; this module decides them and cleans up behind a dead ondol.

use oci_spec::runtime::LinuxResources;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What can go wrong with cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("'{0}' is not a memory size; use a number with an optional unit: 64m, 1g, 512k, 1048576")]
    BadMemory(String),
    #[error("'{0}' is not a CPU count; use a positive number such as 0.5 or 2")]
    BadCpus(String),
    #[error("'{0}' is not a process limit; use a positive whole number such as 100")]
    BadPids(String),
    #[error("cannot clean up cgroup {path}: {err}; remove it by hand once its processes are gone")]
    Cleanup { path: PathBuf, err: io::Error },
}

/// The cgroup layout of a machine, read from /proc/self/mountinfo.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Mount point of the cgroup2 file system, if any.
    pub v2: Option<PathBuf>,
    /// v1 controller -> mount point.
    pub v1: BTreeMap<String, PathBuf>,
}

/// The three shapes a machine can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only v1 controllers.
    Legacy,
    /// v1 controllers plus a (mostly empty) cgroup2 mount: limits go to v1.
    Hybrid,
    /// cgroup2 at the root: limits go to v2.
    Unified,
}

impl Hierarchy {
    /// Parses mountinfo text (proc(5) format).
    pub fn from_mountinfo(text: &str) -> Hierarchy {
        let mut h = Hierarchy::default();
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            if l.len() < 5 || r.len() < 3 {
                continue;
            }
            let mount_point = PathBuf::from(unescape(l[4]));
            match r[0] {
                "cgroup2" => {
                    h.v2.get_or_insert(mount_point);
                }
                "cgroup" => {
                    for opt in r[2].split(',') {
                        let name = match opt {
                            "rw" | "ro" | "relatime" | "noatime" | "nosuid" | "nodev" | "noexec" | "clone_children"
                            | "xattr" => continue,
                            o if o.starts_with("release_agent=") => continue,
                            o => o,
                        };
                        h.v1.entry(name.to_string()).or_insert_with(|| mount_point.clone());
                    }
                }
                _ => {}
            }
        }
        h
    }

    /// The running machine's hierarchy.
    pub fn host() -> io::Result<Hierarchy> {
        Ok(Hierarchy::from_mountinfo(&fs::read_to_string("/proc/self/mountinfo")?))
    }

    /// Whether a unified machine accounts swap (so memory.swap.max can be written).
    pub fn v2_swap(&self) -> bool {
        self.mode() == Mode::Unified
            && fs::read_to_string("/proc/self/cgroup").ok().is_some_and(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("0::"))
                    .zip(self.v2.as_ref())
                    .is_some_and(|(rel, m)| m.join(rel.trim_start_matches('/')).join("memory.swap.max").exists())
            })
    }

    pub fn mode(&self) -> Mode {
        match (&self.v2, self.v1.is_empty()) {
            (Some(_), true) => Mode::Unified,
            (Some(_), false) => Mode::Hybrid,
            (None, _) => Mode::Legacy,
        }
    }

    /// The directories a cgroup path (as in linux.cgroupsPath) has on this machine, one per
    /// v1 hierarchy (controllers sharing a mount share a directory), or the one v2 directory.
    pub fn dirs(&self, cgroup_path: &str) -> Vec<PathBuf> {
        let rel = cgroup_path.trim_start_matches('/');
        match self.mode() {
            Mode::Unified => self.v2.iter().map(|m| m.join(rel)).collect(),
            Mode::Legacy | Mode::Hybrid => {
                let mut v: Vec<PathBuf> = self.v1.values().map(|m| m.join(rel)).collect();
                v.sort();
                v.dedup();
                v
            }
        }
    }

    /// Every process in the cgroup (across hierarchies), without duplicates.
    pub fn pids(&self, cgroup_path: &str) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .dirs(cgroup_path)
            .iter()
            .filter_map(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect::<Vec<i32>>())
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kills every process left in the cgroup and removes its directories (deepest first).
    /// Only processes inside this container's own cgroup are touched.
    ///
    /// A runtime process whose ondol was killed while it was setting the container up may still
    /// be creating the cgroup's directories (one hierarchy after another) until it notices its
    /// parent is gone; so with `settle`, once everything is removed, watch a little longer
    /// (about 0.1 s) and remove what reappears. Without it, one pass: for the ondol that ran
    /// the container, once libcontainer's setup processes are known to be gone.
    pub fn destroy(&self, cgroup_path: &str, timeout: Duration, settle: bool) -> Result<(), CgroupError> {
        let deadline = Instant::now() + timeout;
        if !settle {
            return self.destroy_once(cgroup_path, deadline);
        }
        let mut quiet_rounds = 0;
        while quiet_rounds < SETTLE_ROUNDS {
            let existed = self.dirs(cgroup_path).iter().any(|d| d.is_dir());
            self.destroy_once(cgroup_path, deadline)?;
            if existed {
                quiet_rounds = 0;
            } else {
                quiet_rounds += 1;
            }
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(SETTLE_PAUSE);
        }
        Ok(())
    }

    fn destroy_once(&self, cgroup_path: &str, deadline: Instant) -> Result<(), CgroupError> {
        let rel = cgroup_path.trim_start_matches('/');
        if rel.is_empty() {
            return Ok(()); // never the root cgroup
        }
        loop {
            let pids = self.pids(cgroup_path);
            if pids.is_empty() {
                break;
            }
            for p in pids {
                // SAFETY: kill(2) with a pid read from this container's cgroup.procs.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for d in self.dirs(cgroup_path) {
            remove_cgroup_dir(&d, deadline)?;
        }
        Ok(())
    }
}

/// `destroy` stops once the cgroup has stayed absent for this many pauses.
const SETTLE_ROUNDS: u32 = 3;
const SETTLE_PAUSE: Duration = Duration::from_millis(30);

/// rmdir a cgroup directory and its children (children first); retries while processes exit.
fn remove_cgroup_dir(d: &Path, deadline: Instant) -> Result<(), CgroupError> {
    if !d.is_dir() {
        return Ok(());
    }
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_dir(&e.path(), deadline)?;
            }
        }
    }
    loop {
        match fs::remove_dir(d) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(err) => {
                return Err(CgroupError::Cleanup { path: d.to_path_buf(), err });
            }
        }
    }
}

fn unescape(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The limits a user asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Bytes of memory (swap included: a container over it is killed, not swapped).
    pub memory: Option<i64>,
    /// CPUs, as a fraction of one CPU's time per period.
    pub cpus: Option<f64>,
    /// Maximum number of processes (tasks).
    pub pids: Option<i64>,
}

/// The CFS period ondol uses (100 ms, as Docker does).
pub const CPU_PERIOD: u64 = 100_000;

/// Parses 64m, 1g, 512k, 1048576, 1.5g.
pub fn parse_memory(s: &str) -> Result<i64, CgroupError> {
    let bad = || CgroupError::BadMemory(s.to_string());
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    if !v.is_finite() || v <= 0.0 {
        return Err(bad());
    }
    let bytes = (v * mult as f64) as i64;
    // The kernel needs room for at least a few pages.
    if bytes < 4 << 20 {
        return Err(CgroupError::BadMemory(format!("{s} (the minimum is 4m)")));
    }
    Ok(bytes)
}

pub fn parse_cpus(s: &str) -> Result<f64, CgroupError> {
    let v: f64 = s.trim().parse().map_err(|_| CgroupError::BadCpus(s.to_string()))?;
    if !v.is_finite() || v <= 0.0 || v > 1024.0 {
        return Err(CgroupError::BadCpus(s.to_string()));
    }
    Ok(v)
}

pub fn parse_pids(s: &str) -> Result<i64, CgroupError> {
    match s.trim().parse::<i64>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(CgroupError::BadPids(s.to_string())),
    }
}

impl Limits {
    /// The CFS quota for `cpus` per [`CPU_PERIOD`].
    pub fn cpu_quota(&self) -> Option<i64> {
        self.cpus.map(|c| (c * CPU_PERIOD as f64).round().max(1000.0) as i64)
    }

    /// The limits as OCI linux.resources (JSON), which libcontainer writes to v1 or v2 files.
    /// `v2_swap`: the machine is unified and accounts swap (memory.swap.max exists).
    pub fn to_resources_json(&self, v2_swap: bool) -> serde_json::Value {
        let mut r = serde_json::json!({});
        if let Some(m) = self.memory {
            r["memory"] = serde_json::json!({ "limit": m, "swap": m });
            if v2_swap {
                // libcgroups skips memory.swap.max when swap == limit (0 extra swap), which
                // would leave swap unlimited on v2; say it explicitly.
                r["unified"] = serde_json::json!({ "memory.swap.max": "0" });
            }
        }
        if let Some(q) = self.cpu_quota() {
            r["cpu"] = serde_json::json!({ "quota": q, "period": CPU_PERIOD });
        }
        if let Some(p) = self.pids {
            r["pids"] = serde_json::json!({ "limit": p });
        }
        r
    }

    pub fn to_resources(&self, v2_swap: bool) -> LinuxResources {
        serde_json::from_value(self.to_resources_json(v2_swap))
            .unwrap_or_else(|e| unreachable!("generated resources do not parse: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const UNIFIED: &str = "\
25 21 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn hybrid_machine_puts_a_container_in_each_v1_hierarchy() {
        let h = Hierarchy::from_mountinfo(HYBRID);
        assert_eq!(h.mode(), Mode::Hybrid);
        assert_eq!(h.v1.get("cpuacct"), Some(&PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")));
        assert!(h.v1.contains_key("name=systemd"));
        let dirs = h.dirs("/ondol/abc");
        assert!(dirs.contains(&PathBuf::from("/sys/fs/cgroup/memory/ondol/abc")));
        assert!(dirs.contains(&PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/ondol/abc")));
        // cpu and cpuacct share one mount: one directory, not two.
        assert_eq!(dirs.len(), 4);
    }

    #[test]
    fn unified_machine_has_one_directory_per_container() {
        let h = Hierarchy::from_mountinfo(UNIFIED);
        assert_eq!(h.mode(), Mode::Unified);
        assert_eq!(h.dirs("/ondol/abc"), vec![PathBuf::from("/sys/fs/cgroup/ondol/abc")]);
        assert_eq!(Hierarchy::from_mountinfo("").mode(), Mode::Legacy);
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        let h = Hierarchy::from_mountinfo("1 1 0:1 / /odd\\040dir rw - cgroup2 cgroup2 rw\n");
        assert_eq!(h.v2, Some(PathBuf::from("/odd dir")));
    }

    #[test]
    fn memory_sizes_parse_with_units() {
        assert_eq!(parse_memory("64m").unwrap(), 64 << 20);
        assert_eq!(parse_memory("1G").unwrap(), 1 << 30);
        assert_eq!(parse_memory("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_memory("8388608").unwrap(), 8 << 20);
        for bad in ["", "m", "-1m", "1x", "1k", "nan"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpus_and_pids_parse_and_map_to_cfs_quota() {
        let l = Limits { cpus: Some(parse_cpus("0.5").unwrap()), pids: Some(parse_pids("20").unwrap()), memory: None };
        assert_eq!(l.cpu_quota(), Some(50_000));
        assert!(parse_cpus("0").is_err() && parse_cpus("x").is_err());
        assert!(parse_pids("0").is_err() && parse_pids("1.5").is_err());
        let r = l.to_resources(false);
        assert!(r.unified().is_none());
        assert_eq!(r.pids().as_ref().map(|p| p.limit()), Some(20));
        assert_eq!(r.cpu().as_ref().and_then(|c| c.quota()), Some(50_000));
        assert!(r.memory().is_none());
    }

    /// The v2 code path (what a user's unified machine runs), exercised on a fake hierarchy in
    /// a temporary directory: libcgroups' v2 manager writes our limits into plain files.
    #[test]
    fn limits_land_in_cgroup_v2_files_on_a_fake_unified_hierarchy() {
        use libcgroups::common::{CgroupManager, ControllerOpt};
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fs::write(root.join("cgroup.controllers"), "cpu memory pids").unwrap();
        fs::write(root.join("cgroup.subtree_control"), "").unwrap();
        let leaf = root.join("ondol/c1");
        fs::create_dir_all(&leaf).unwrap();
        for f in [
            "cgroup.controllers",
            "cgroup.subtree_control",
            "memory.max",
            "memory.swap.max",
            "cpu.max",
            "pids.max",
            "cgroup.procs",
        ] {
            fs::write(root.join("ondol").join(f), "").unwrap();
            fs::write(leaf.join(f), "").unwrap();
        }
        fs::write(root.join("ondol/cgroup.controllers"), "cpu memory pids").unwrap();
        fs::write(leaf.join("cgroup.controllers"), "cpu memory pids").unwrap();
        let limits = Limits { memory: Some(parse_memory("64m").unwrap()), cpus: Some(1.5), pids: Some(32) };
        let res = limits.to_resources(true);
        let m = libcgroups::v2::manager::Manager::new(root.to_path_buf(), PathBuf::from("ondol/c1")).unwrap();
        m.apply(&ControllerOpt {
            resources: &res,
            disable_oom_killer: false,
            oom_score_adj: None,
            freezer_state: None,
        })
        .unwrap();
        let read = |f: &str| fs::read_to_string(leaf.join(f)).unwrap().trim().to_string();
        assert_eq!(read("memory.max"), (64u64 << 20).to_string());
        // v2 counts swap separately: no swap beyond the memory limit.
        assert_eq!(read("memory.swap.max"), "0");
        assert_eq!(read("cpu.max"), "150000 100000");
        assert_eq!(read("pids.max"), "32");
    }
}

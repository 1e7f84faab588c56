//! The OCI runtime config (config.json) ondol generates for a container: the image's process
//! settings, Docker's default capabilities, a default seccomp profile, no-new-privileges,
//! namespaces, mounts, limits, and an optional read-only rootfs.

use crate::cgroups::Limits;
use oci_spec::runtime::Spec;
use serde_json::{Value, json};

/// Docker's default capability set (moby's oci/caps/defaults.go lists the same fourteen).
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// System calls the default seccomp profile refuses with EPERM: the ones Docker's default
/// profile leaves out for a container without CAP_SYS_ADMIN and friends (kernel modules,
/// kexec, mounts, namespaces, clocks, keyrings, swap, reboot, BPF, perf, userfaultfd, ...).
pub const DENIED_SYSCALLS: [&str; 41] = [
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "delete_module",
    "finit_module",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "migrate_pages",
    "move_pages",
    "set_mempolicy",
    "mount",
    "umount2",
    "pivot_root",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "name_to_handle_at",
    "open_by_handle_at",
    "perf_event_open",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "unshare",
    "settimeofday",
    "swapon",
    "swapoff",
    "syslog",
    "userfaultfd",
];

/// A bind mount from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub host: String,
    pub container: String,
    pub read_only: bool,
}

impl Volume {
    /// Parses HOST:CTR[:ro|rw].
    pub fn parse(s: &str) -> Option<Volume> {
        let parts: Vec<&str> = s.split(':').collect();
        let (host, ctr, ro) = match parts.as_slice() {
            [h, c] => (*h, *c, false),
            [h, c, "ro"] => (*h, *c, true),
            [h, c, "rw"] => (*h, *c, false),
            _ => return None,
        };
        if !host.starts_with('/') || !ctr.starts_with('/') {
            return None;
        }
        Some(Volume { host: host.to_string(), container: ctr.to_string(), read_only: ro })
    }
}

/// Everything that shapes a container's config.json.
#[derive(Debug, Clone, Default)]
pub struct SpecInput {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub hostname: String,
    pub host_network: bool,
    /// Without host networking: join this network namespace (a path such as
    /// /proc/PID/ns/net) instead of creating an empty one whose loopback is down.
    pub net_ns: Option<String>,
    pub read_only: bool,
    pub volumes: Vec<Volume>,
    pub limits: Limits,
    pub v2_swap: bool,
    pub cgroups_path: String,
    /// Bind the host's /etc/resolv.conf (for host networking, as builds need).
    pub resolv_conf: bool,
}

/// The seccomp section: allow everything except [`DENIED_SYSCALLS`] and new user namespaces.
pub fn default_seccomp() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            { "names": DENIED_SYSCALLS.to_vec(), "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM },
            // clone3's flags are behind a pointer seccomp cannot read: ENOSYS makes libc use clone.
            { "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS },
            // clone(CLONE_NEWUSER): no new user namespaces (Docker refuses them the same way).
            { "names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM,
              "args": [{ "index": 0, "value": libc::CLONE_NEWUSER as u64, "valueTwo": libc::CLONE_NEWUSER as u64, "op": "SCMP_CMP_MASKED_EQ" }] }
        ]
    })
}

fn nofile_hard() -> u64 {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the rlimit struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 || r.rlim_max == libc::RLIM_INFINITY {
        return 1_048_576;
    }
    r.rlim_max
}

/// Builds config.json for `rootfs` ("rootfs" relative to the bundle).
pub fn generate(i: &SpecInput) -> Result<Spec, serde_json::Error> {
    let mut v = serde_json::to_value(Spec::default())?;
    v["root"] = json!({ "path": "rootfs", "readonly": i.read_only });
    v["hostname"] = json!(i.hostname);
    let caps = json!(DEFAULT_CAPS.to_vec());
    v["process"] = json!({
        "terminal": false,
        "user": { "uid": i.uid, "gid": i.gid, "additionalGids": i.additional_gids },
        "args": i.args,
        "env": i.env,
        "cwd": i.cwd,
        "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
        // As many open files as this process may have (raising the hard limit needs privileges
        // a sandboxed root may lack).
        "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": nofile_hard(), "soft": nofile_hard() }],
        "noNewPrivileges": true
    });
    let mut ns = vec![json!({"type": "pid"}), json!({"type": "ipc"}), json!({"type": "uts"}), json!({"type": "mount"})];
    if !i.host_network {
        ns.push(match &i.net_ns {
            Some(path) => json!({"type": "network", "path": path}),
            None => json!({"type": "network"}),
        });
    }
    v["linux"]["namespaces"] = json!(ns);
    v["linux"]["cgroupsPath"] = json!(i.cgroups_path);
    v["linux"]["resources"] = i.limits.to_resources_json(i.v2_swap);
    v["linux"]["seccomp"] = default_seccomp();
    // Mounts: the defaults, minus the cgroup mount on hybrid hosts is fine (read-only bind).
    let mounts = v["mounts"].as_array_mut().map(std::mem::take).unwrap_or_default();
    let mut mounts: Vec<Value> =
        mounts.into_iter().filter(|m| !(i.host_network && m["destination"] == "/sys")).collect();
    if i.host_network {
        // Without a network namespace sysfs cannot be mounted fresh: bind the host's read-only.
        mounts.push(json!({ "destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"] }));
    }
    if i.resolv_conf && std::path::Path::new("/etc/resolv.conf").exists() {
        mounts.push(json!({ "destination": "/etc/resolv.conf", "type": "bind", "source": "/etc/resolv.conf", "options": ["rbind", "ro"] }));
    }
    for vol in &i.volumes {
        let mut opts = vec!["rbind", "rprivate"];
        if vol.read_only {
            opts.push("ro");
        }
        mounts.push(json!({ "destination": vol.container, "type": "bind", "source": vol.host, "options": opts }));
    }
    v["mounts"] = json!(mounts);
    serde_json::from_value(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SpecInput {
        SpecInput {
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            hostname: "c1".into(),
            cgroups_path: "/ondol/c1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn generated_config_has_default_caps_seccomp_and_nnp() {
        let s = generate(&input()).unwrap();
        let p = s.process().as_ref().unwrap();
        assert_eq!(p.no_new_privileges(), Some(true));
        let caps = p.capabilities().as_ref().unwrap();
        let bounding: Vec<String> = caps.bounding().as_ref().unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(bounding.len(), DEFAULT_CAPS.len());
        assert!(!bounding.iter().any(|c| c.contains("SYS_ADMIN")), "{bounding:?}");
        let linux = s.linux().as_ref().unwrap();
        let seccomp = linux.seccomp().as_ref().unwrap();
        let denied: Vec<&String> = seccomp.syscalls().as_ref().unwrap().iter().flat_map(|r| r.names()).collect();
        assert!(denied.iter().any(|n| *n == "mount") && denied.iter().any(|n| *n == "kexec_load"));
        let ns: Vec<String> = linux.namespaces().as_ref().unwrap().iter().map(|n| format!("{:?}", n.typ())).collect();
        assert!(ns.contains(&"Network".to_string()) && ns.contains(&"Pid".to_string()), "{ns:?}");
    }

    #[test]
    fn host_network_drops_the_net_namespace_and_read_only_is_honoured() {
        let mut i = input();
        i.host_network = true;
        i.read_only = true;
        i.volumes = vec![Volume::parse("/tmp:/data:ro").unwrap()];
        let s = generate(&i).unwrap();
        let ns = s.linux().as_ref().unwrap().namespaces().as_ref().unwrap();
        assert!(!ns.iter().any(|n| format!("{:?}", n.typ()) == "Network"));
        assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));
        let m = s.mounts().as_ref().unwrap().iter().find(|m| m.destination().to_str() == Some("/data")).unwrap();
        assert!(m.options().as_ref().unwrap().iter().any(|o| o == "ro"));
    }

    #[test]
    fn a_given_network_namespace_is_joined_by_path() {
        let mut i = input();
        i.net_ns = Some("/proc/42/ns/net".into());
        let s = generate(&i).unwrap();
        let ns = s.linux().as_ref().unwrap().namespaces().as_ref().unwrap();
        let net = ns.iter().find(|n| format!("{:?}", n.typ()) == "Network").unwrap();
        assert_eq!(net.path().as_deref(), Some(std::path::Path::new("/proc/42/ns/net")));
    }

    #[test]
    fn volume_syntax_is_checked() {
        assert!(!Volume::parse("/a:/b").unwrap().read_only);
        assert!(Volume::parse("/a:/b:ro").unwrap().read_only);
        for bad in ["a:/b", "/a:b", "/a", "/a:/b:xx", "/a:/b:ro:x"] {
            assert!(Volume::parse(bad).is_none(), "{bad}");
        }
    }
}

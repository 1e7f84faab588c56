//! End-to-end tests of `ondol container|image|oci` with real containers. They need root, the
//! busybox images scripts/container-images makes and Debian's packages (runc, skopeo,
//! docker-registry), so they are #[ignore]d in a plain `cargo test` and scripts/test-containers
//! runs them with `--ignored`; run that way without what they need, they fail, never skip.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn cache() -> PathBuf {
    let p = std::env::var_os("ONDOL_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/containers"));
    assert!(
        p.join("oci/index.json").is_file() && p.join("busybox-docker.tar").is_file(),
        "test images missing under {}: run scripts/test-containers",
        p.display()
    );
    assert!(nix_is_root(), "container tests need root: run scripts/test-containers as root");
    p
}

fn nix_is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

struct Env {
    _t: tempfile::TempDir,
    root: PathBuf,
    tmp: PathBuf,
}

impl Env {
    /// A fresh state root with busybox:latest imported (umoci's layout).
    fn new() -> Env {
        let c = cache();
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let tmp = t.path().to_path_buf();
        let e = Env { _t: t, root, tmp };
        e.ok(&["image", "import", c.join("oci").to_str().unwrap()]);
        e
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ondol"));
        // --root right after the subcommand, before any trailing container command.
        let n = args.len().min(2);
        c.args(&args[..n]).arg("--root").arg(&self.root).args(&args[n..]);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "ondol {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs and expects failure with exactly one line on stderr; returns it.
    fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(!o.status.success(), "ondol {args:?} should fail");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(err.trim_end().lines().count(), 1, "want one line, got: {err}");
        err
    }

    /// Blob names and the image index: what "the store is untouched" compares.
    fn snapshot(&self) -> (Vec<String>, String, Vec<String>) {
        let mut blobs: Vec<String> = fs::read_dir(self.root.join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        blobs.sort();
        let mut layers: Vec<String> = fs::read_dir(self.root.join("layers"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        layers.sort();
        (blobs, fs::read_to_string(self.root.join("images.json")).unwrap_or_default(), layers)
    }
}

/// No cgroup directory of a container whose id is or starts with `id` is left, in any hierarchy
/// (v1 or v2).
fn no_cgroup_left(id: &str) {
    let mut left = Vec::new();
    for h in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for parent in [h.path().join("ondol"), PathBuf::from("/sys/fs/cgroup/ondol")] {
            for d in fs::read_dir(&parent).into_iter().flatten().flatten() {
                if d.file_name().to_string_lossy().starts_with(id) && d.path().is_dir() {
                    left.push(d.path().display().to_string());
                }
            }
        }
    }
    assert!(left.is_empty(), "cgroups left behind: {left:?}");
}

/// The id `ps -a` shows for the container named `name`.
fn id_of(e: &Env, name: &str) -> String {
    let ps = e.ok(&["container", "ps", "-a"]);
    let line = ps.lines().find(|l| l.split_whitespace().nth(1) == Some(name));
    line.and_then(|l| l.split_whitespace().next()).unwrap_or_else(|| panic!("{name} not in ps -a:\n{ps}")).to_string()
}

/// Polls `what` until it holds; fails the test after `secs` seconds.
fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up after {secs} s waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn no_mounts_under(p: &Path) {
    let m = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let s = p.to_string_lossy();
    assert!(!m.contains(&*s), "mounts left under {s}:\n{m}");
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn echo_hello_prints_hello_and_exit_status_passes_through() {
    let e = Env::new();
    assert_eq!(e.ok(&["container", "run", "--rm", "busybox", "echo", "hello"]), "hello\n");
    let o = e.run(&["container", "run", "--rm", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    // stdin passes through too.
    let mut c = e
        .cmd(&["container", "run", "--rm", "busybox", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(b"from stdin").unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, b"from stdin");
    // --rm leaves nothing: no files, no mounts, no cgroups (a container's default name, its
    // host name, is c- and the first 8 characters of its id).
    let host = e.ok(&["container", "run", "--rm", "busybox", "hostname"]);
    let id_prefix = host.trim().strip_prefix("c-").expect("default name c-ID");
    assert_eq!(id_prefix.len(), 8, "{host}");
    no_cgroup_left(id_prefix);
    assert_eq!(fs::read_dir(e.root.join("containers")).unwrap().count(), 0);
    no_mounts_under(&e.root);
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn memory_limit_kills_a_process_over_it() {
    let e = Env::new();
    let script = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived";
    let o = e.run(&["container", "run", "--rm", "--memory", "16m", "busybox", "sh", "-c", script]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("survived"));
    // The shell holding the string is the biggest process: the OOM killer's SIGKILL, 128 + 9.
    assert_eq!(o.status.code(), Some(137), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    // Without the limit the same script survives.
    assert!(e.ok(&["container", "run", "--rm", "busybox", "sh", "-c", script]).contains("survived"));
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn pids_limit_stops_a_fork_bomb() {
    let e = Env::new();
    // An inner shell forks 100 sleeps, or until fork fails: busybox sh then says "can't fork"
    // and exits (status 2). The outer shell forks nothing after that: it counts the processes
    // left with builtins only and prints the inner shell's complaint.
    let script = "sh -c 'i=0; while [ $i -lt 100 ]; do sleep 60 & i=$((i+1)); done' 2>/tmp/err; \
                  echo inner=$?; set -- /proc/[0-9]*; echo count=$#; read -r why </tmp/err; echo \"$why\"";
    let limited = e.ok(&["container", "run", "--rm", "--pids-limit", "20", "busybox", "sh", "-c", script]);
    // 20 tasks: outer shell, inner shell, 18 sleeps; then the inner shell exits.
    assert!(limited.starts_with("inner=2\ncount=19\n"), "{limited}");
    assert!(limited.contains("can't fork"), "{limited}");
    // The same script without the limit: all 100 sleeps start.
    let free = e.ok(&["container", "run", "--rm", "busybox", "sh", "-c", script]);
    assert!(free.starts_with("inner=0\ncount=101\n"), "{free}");
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn network_none_has_only_loopback_and_host_sees_host_interfaces() {
    let e = Env::new();
    assert_eq!(
        e.ok(&["container", "run", "--rm", "busybox", "ls", "/sys/class/net"]).split_whitespace().collect::<Vec<_>>(),
        ["lo"]
    );
    // Loopback is up, has its addresses, and carries traffic.
    let lo = e.ok(&["container", "run", "--rm", "busybox", "sh", "-c", "ip addr show lo && ping -c 1 -W 5 127.0.0.1"]);
    assert!(lo.contains("UP") && lo.contains("inet 127.0.0.1/8"), "{lo}");
    assert!(lo.contains("1 packets received"), "{lo}");
    let host: Vec<String> = fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let seen = e.ok(&["container", "run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net"]);
    for h in host {
        assert!(seen.contains(&h), "{h} missing from {seen}");
    }
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn env_volume_user_workdir_and_read_only_rootfs() {
    let e = Env::new();
    let vol = e.tmp.join("vol");
    fs::create_dir(&vol).unwrap();
    fs::write(vol.join("in.txt"), "host data").unwrap();
    let v = format!("{}:/data", vol.display());
    let out = e.ok(&[
        "container",
        "run",
        "--rm",
        "-e",
        "GREETING=hi",
        "-v",
        &v,
        "-w",
        "/data",
        "busybox",
        "sh",
        "-c",
        "echo $GREETING; cat in.txt; echo made > out.txt",
    ]);
    assert_eq!(out, "hi\nhost data");
    assert_eq!(fs::read_to_string(vol.join("out.txt")).unwrap(), "made\n");
    let vro = format!("{}:/data:ro", vol.display());
    let o = e.run(&["container", "run", "--rm", "-v", &vro, "busybox", "touch", "/data/x"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("Read-only file system"), "{o:?}");
    assert!(!vol.join("x").exists());
    assert_eq!(e.ok(&["container", "run", "--rm", "--user", "user", "busybox", "id", "-u"]), "1000\n");
    assert_eq!(e.ok(&["container", "run", "--rm", "--user", "65534:65534", "busybox", "id", "-g"]), "65534\n");
    let o = e.run(&["container", "run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("Read-only file system"), "{o:?}");
    e.ok(&["container", "run", "--rm", "busybox", "touch", "/x"]);
    // A working directory that the image lacks is made (inside the container's root).
    assert_eq!(e.ok(&["container", "run", "--rm", "-w", "/no/such/dir", "busybox", "pwd"]), "/no/such/dir\n");
    // Default capabilities: no CAP_SYS_ADMIN (bit 21), so mount is refused.
    let o = e.run(&["container", "run", "--rm", "busybox", "mount", "-t", "tmpfs", "x", "/mnt"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("permission denied"), "{o:?}");
    let status = e.ok(&["container", "run", "--rm", "busybox", "cat", "/proc/self/status"]);
    let capbnd = status.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
    let bits = u64::from_str_radix(capbnd.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(bits & (1 << 21), 0, "{capbnd}");
    assert!(status.lines().any(|l| l.starts_with("NoNewPrivs:") && l.ends_with('1')), "{status}");
    assert!(status.lines().any(|l| l.starts_with("Seccomp:") && l.ends_with('2')), "{status}");
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn detached_container_logs_exec_stop_and_rm() {
    let e = Env::new();
    let id = e
        .ok(&["container", "run", "-d", "--name", "bg", "busybox", "sh", "-c", "echo started; exec sleep 60"])
        .trim()
        .to_string();
    assert!(!id.is_empty());
    let ps = e.ok(&["container", "ps"]);
    assert!(ps.lines().any(|l| l.contains("bg") && l.contains("running")), "{ps}");
    eventually(20, "the log to show 'started'", || e.ok(&["container", "logs", "bg"]).contains("started"));
    assert_eq!(e.ok(&["container", "exec", "bg", "echo", "inside"]), "inside\n");
    assert!(e.fails(&["container", "rm", "bg"]).contains("running"));
    e.ok(&["container", "stop", "-t", "1", "bg"]);
    let ps = e.ok(&["container", "ps", "-a"]);
    assert!(ps.lines().any(|l| l.contains("bg") && l.contains("exited")), "{ps}");
    e.ok(&["container", "rm", "bg"]);
    assert!(!e.ok(&["container", "ps", "-a"]).contains("bg"));
    no_cgroup_left(&id);
    no_mounts_under(&e.root);
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn killed_ondol_leaves_a_container_ps_shows_and_rm_removes() {
    let e = Env::new();
    let mut child: Child =
        e.cmd(&["container", "run", "--name", "crash", "busybox", "sleep", "60"]).stdin(Stdio::null()).spawn().unwrap();
    eventually(20, "the container to run", || e.ok(&["container", "ps"]).contains("running"));
    child.kill().unwrap();
    child.wait().unwrap();
    let id = id_of(&e, "crash");
    e.ok(&["container", "rm", "-f", "crash"]);
    no_cgroup_left(&id);
    assert!(!e.ok(&["container", "ps", "-a"]).contains("crash"));
    assert_eq!(fs::read_dir(e.root.join("containers")).unwrap().count(), 0);
    assert_eq!(fs::read_dir(e.root.join("runtime")).unwrap().count(), 0);
    no_mounts_under(&e.root);
    // Killed while creating: the record is there before anything else, so rm works too.
    for delay in [0u64, 5, 20, 60] {
        let mut c = e
            .cmd(&["container", "run", "--name", "early", "busybox", "sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        c.kill().unwrap();
        c.wait().unwrap();
        // Whatever state the kill left, the container is either not there or removable.
        if e.ok(&["container", "ps", "-a"]).contains("early") {
            let id = id_of(&e, "early");
            e.ok(&["container", "rm", "-f", "early"]);
            no_cgroup_left(&id);
        }
        assert!(!e.ok(&["container", "ps", "-a"]).contains("early"));
        assert_eq!(fs::read_dir(e.root.join("containers")).unwrap().count(), 0);
        no_mounts_under(&e.root);
    }
}

/// Makes an OCI layout with the given layers (tar bytes, already compressed or not).
fn layout(dir: &Path, layers: &[(Vec<u8>, Vec<u8>)], name: &str) {
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let put = |data: &[u8]| -> String {
        let d = container::Digest::of(data);
        fs::write(dir.join("blobs/sha256").join(d.hex()), data).unwrap();
        d.to_string()
    };
    let mut descs = Vec::new();
    let mut diffs = Vec::new();
    for (blob, plain) in layers {
        let mt = if blob.starts_with(&[0x1f, 0x8b]) {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        } else if blob.starts_with(&[0x28, 0xb5]) {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        } else {
            "application/vnd.oci.image.layer.v1.tar"
        };
        descs.push(format!(r#"{{"mediaType":"{mt}","digest":"{}","size":{}}}"#, put(blob), blob.len()));
        diffs.push(format!("\"{}\"", container::Digest::of(plain)));
    }
    let cfg = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"],"Env":["PATH=/bin"]}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        diffs.join(",")
    );
    let cd = put(cfg.as_bytes());
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{}]}}"#,
        cfg.len(),
        descs.join(",")
    );
    let md = put(m.as_bytes());
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    fs::write(dir.join("index.json"), format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{name}"}}}}]}}"#, m.len())).unwrap();
}

/// A tar with raw entry names (so hostile names survive).
fn raw_tar(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data) in entries {
        let mut h = tar::Header::new_old();
        h.set_entry_type(*kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        if *kind == tar::EntryType::Symlink {
            h.set_size(0);
            h.as_old_mut().linkname[..data.len()].copy_from_slice(data.as_bytes());
        } else {
            h.set_size(data.len() as u64);
        }
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        let body: &[u8] = if *kind == tar::EntryType::Symlink { b"" } else { data.as_bytes() };
        b.append(&h, body).unwrap();
    }
    b.into_inner().unwrap()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(data).unwrap();
    g.finish().unwrap()
}

fn busybox_layer() -> Vec<u8> {
    let c = cache();
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", c.join("rootfs")).unwrap();
    b.into_inner().unwrap()
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn gzip_and_zstd_layers_with_whiteouts_and_opaque_dirs_run() {
    let e = Env::new();
    let base = busybox_layer();
    let lower = raw_tar(&[
        ("etc/", tar::EntryType::Directory, ""),
        ("etc/gone", tar::EntryType::Regular, "x"),
        ("etc/kept", tar::EntryType::Regular, "k"),
        ("opq/", tar::EntryType::Directory, ""),
        ("opq/old", tar::EntryType::Regular, "o"),
    ]);
    let upper = raw_tar(&[
        ("etc/.wh.gone", tar::EntryType::Regular, ""),
        ("opq/", tar::EntryType::Directory, ""),
        ("opq/.wh..wh..opq", tar::EntryType::Regular, ""),
        ("opq/new", tar::EntryType::Regular, "n"),
    ]);
    let zs = ruzstd::encoding::compress_to_vec(&upper[..], ruzstd::encoding::CompressionLevel::Fastest);
    let dir = e.tmp.join("wh");
    layout(&dir, &[(gz(&base), base.clone()), (lower.clone(), lower), (zs, upper)], "wh:1");
    e.ok(&["image", "import", dir.to_str().unwrap()]);
    for mode in ["overlay", "copy"] {
        let mut c = e.cmd(&["container", "run", "--rm", "wh:1", "sh", "-c", "ls /etc /opq"]);
        if mode == "copy" {
            c.env("ONDOL_ROOTFS", "copy");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{mode}: {}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8(o.stdout).unwrap();
        let names: Vec<&str> = out.split_whitespace().collect();
        assert!(names.contains(&"kept") && names.contains(&"new"), "{mode}: {out}");
        assert!(!names.contains(&"gone") && !names.contains(&"old"), "{mode}: {out}");
    }
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn bad_inputs_are_refused_in_one_line_and_leave_the_store_untouched() {
    let e = Env::new();
    let before = e.snapshot();
    // Missing image.
    assert!(e.fails(&["container", "run", "--rm", "nosuch:img", "true"]).contains("not in the store"));
    // Corrupt layer: one byte changed in a layer blob of a copy of the layout.
    let c = cache();
    let bad = e.tmp.join("corrupt");
    assert!(Command::new("cp").arg("-a").arg(c.join("oci")).arg(&bad).status().unwrap().success());
    let mut biggest = None;
    let mut size = 0;
    for f in fs::read_dir(bad.join("blobs/sha256")).unwrap() {
        let f = f.unwrap();
        if f.metadata().unwrap().len() > size {
            size = f.metadata().unwrap().len();
            biggest = Some(f.path());
        }
    }
    let layer = biggest.unwrap();
    let mut data = fs::read(&layer).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    fs::write(&layer, data).unwrap();
    let root2 = e.tmp.join("root2");
    let err = Command::new(env!("CARGO_BIN_EXE_ondol"))
        .args(["image", "import", "--tag", "corrupt:1"])
        .arg(&bad)
        .arg("--root")
        .arg(&root2)
        .output()
        .unwrap();
    assert!(!err.status.success());
    let msg = String::from_utf8_lossy(&err.stderr);
    assert!(msg.contains("corrupt") && msg.trim_end().lines().count() == 1, "{msg}");
    assert!(fs::read_dir(root2.join("blobs/sha256")).unwrap().next().is_none(), "a blob was left behind");
    assert!(fs::read_dir(root2.join("layers")).unwrap().next().is_none());
    // The same corruption against a populated store.
    assert!(e.fails(&["image", "import", "--tag", "corrupt:1", bad.to_str().unwrap()]).contains("corrupt"));
    // Truncated tar.
    let full = fs::read(c.join("busybox-oci.tar")).unwrap();
    let cut = e.tmp.join("cut.tar");
    fs::write(&cut, &full[..full.len() * 2 / 3]).unwrap();
    let msg = e.fails(&["image", "import", "--tag", "cut:1", cut.to_str().unwrap()]);
    assert!(msg.contains("cut.tar"), "{msg}");
    // Path traversal, and a symlink that points out of the rootfs with a file written through it.
    let victim = e.tmp.join("victim");
    fs::create_dir(&victim).unwrap();
    let dotdot = raw_tar(&[("../../../../../../../../tmp/ondol-escaped", tar::EntryType::Regular, "pwned")]);
    let dir = e.tmp.join("trav");
    layout(&dir, &[(dotdot.clone(), dotdot)], "trav:1");
    assert!(e.fails(&["image", "import", dir.to_str().unwrap()]).contains("'..'"));
    assert!(!Path::new("/tmp/ondol-escaped").exists());
    let link = raw_tar(&[
        ("etc", tar::EntryType::Symlink, victim.to_str().unwrap()),
        ("etc/passwd", tar::EntryType::Regular, "pwned"),
    ]);
    let dir = e.tmp.join("link");
    layout(&dir, &[(link.clone(), link)], "link:1");
    assert!(e.fails(&["image", "import", dir.to_str().unwrap()]).contains("symlink"));
    assert!(!victim.join("passwd").exists());
    assert_eq!(e.snapshot(), before);
    // Invalid config.json for the OCI runtime: refused before anything is created.
    let bundle = e.tmp.join("bundle");
    fs::create_dir_all(bundle.join("rootfs")).unwrap();
    fs::write(bundle.join("config.json"), "{\"ociVersion\": 5").unwrap();
    assert!(e.fails(&["oci", "create", "--bundle", bundle.to_str().unwrap(), "badcfg"]).contains("config.json"));
    assert!(!e.root.join("oci/badcfg").exists());
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn save_then_import_and_docker_archive_import_give_the_same_image() {
    let e = Env::new();
    let out = e.tmp.join("saved.tar");
    e.ok(&["image", "save", "busybox", out.to_str().unwrap()]);
    let e2 = Env::new();
    e2.ok(&["image", "rm", "busybox"]);
    assert!(!e2.ok(&["image", "ls"]).contains("busybox:latest"));
    e2.ok(&["image", "import", out.to_str().unwrap()]);
    e2.ok(&["image", "import", cache().join("busybox-docker.tar").to_str().unwrap()]);
    let ls = e2.ok(&["image", "ls"]);
    let lines: Vec<&str> = ls.lines().collect();
    assert!(lines[0].starts_with("NAME:TAG"), "{ls}");
    assert!(lines.iter().any(|l| l.starts_with("busybox:latest ")), "{ls}");
    assert!(lines.iter().any(|l| l.starts_with("busybox:docker ")), "{ls}");
    assert_eq!(e2.ok(&["container", "run", "--rm", "busybox:docker", "echo", "ok"]), "ok\n");
    // rm removes the name and, once nothing uses them, the blobs.
    e2.ok(&["image", "rm", "busybox:latest"]);
    e2.ok(&["image", "rm", "busybox:docker"]);
    assert_eq!(fs::read_dir(e2.root.join("blobs/sha256")).unwrap().count(), 0);
}

/// The number of layers in an image's manifest, read from what `image save` writes.
fn layer_count(e: &Env, image: &str) -> usize {
    let out = e.tmp.join(format!("{}.tar", image.replace(':', "_")));
    e.ok(&["image", "save", image, out.to_str().unwrap()]);
    let mut files = std::collections::HashMap::new();
    for entry in tar::Archive::new(fs::File::open(&out).unwrap()).entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        files.insert(name.trim_start_matches("./").to_string(), data);
    }
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_slice(files.get(name).unwrap_or_else(|| panic!("{name} not in the saved image"))).unwrap()
    };
    let index = json("index.json");
    let digest = index["manifests"][0]["digest"].as_str().unwrap().replace(':', "/");
    json(&format!("blobs/{digest}"))["layers"].as_array().unwrap().len()
}

struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn pull_and_push_round_trip_through_a_local_registry() {
    let e = Env::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = e.tmp.join("registry.yml");
    fs::write(&cfg, format!("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n", e.tmp.join("reg").display())).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry is not installed: run scripts/test-containers");
    let _reg = Registry(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = format!("127.0.0.1:{port}/test/busybox:v1");
    e.ok(&["image", "tag", "busybox", &r]);
    e.ok(&["image", "push", &r]);
    let e2 = Env::new();
    e2.ok(&["image", "rm", "busybox"]);
    e2.ok(&["image", "pull", &r]);
    assert!(e2.ok(&["image", "ls"]).lines().any(|l| l.starts_with(&format!("{r} "))));
    assert_eq!(e2.ok(&["container", "run", "--rm", &r, "echo", "pulled"]), "pulled\n");
    // skopeo, a third-party client, reads what ondol pushed.
    let o = Command::new("skopeo").args(["inspect", "--tls-verify=false", &format!("docker://{r}")]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(e2.fails(&["image", "pull", &format!("127.0.0.1:{port}/test/none:v1")]).contains("404"));
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn oci_create_start_state_kill_delete_on_a_bundle() {
    let e = Env::new();
    let bundle = e.tmp.join("b");
    assert!(Command::new("cp").arg("-a").arg(cache().join("bundle")).arg(&bundle).status().unwrap().success());
    let mut cfg: serde_json::Value = serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap();
    cfg["process"]["terminal"] = serde_json::json!(false);
    cfg["process"]["args"] = serde_json::json!(["sleep", "60"]);
    fs::write(bundle.join("config.json"), cfg.to_string()).unwrap();
    // create passes its stdio to the container: give it none, or the test waits for sleep.
    let o = e
        .cmd(&["oci", "create", "--bundle", bundle.to_str().unwrap(), "o1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(o.success());
    assert!(e.ok(&["oci", "state", "o1"]).contains("\"created\""));
    e.ok(&["oci", "start", "o1"]);
    assert!(e.ok(&["oci", "state", "o1"]).contains("\"running\""));
    e.ok(&["oci", "kill", "o1", "KILL"]);
    eventually(20, "the container to stop", || e.ok(&["oci", "state", "o1"]).contains("\"stopped\""));
    e.ok(&["oci", "delete", "o1"]);
    e.fails(&["oci", "state", "o1"]);
}

#[test]
#[ignore = "needs root and the busybox images: run scripts/test-containers"]
fn image_build_runs_steps_in_containers_and_keeps_run_output() {
    let e = Env::new();
    let ctx = e.tmp.join("ctx");
    fs::create_dir(&ctx).unwrap();
    fs::write(ctx.join("greeting.txt"), "hello from context\n").unwrap();
    fs::write(ctx.join("Dockerfile"), "# two steps that change files\nFROM busybox\nCOPY greeting.txt /app/\nWORKDIR /app\nENV WHO=builder\nRUN echo \"built by $WHO\" > built.txt && rm /bin/vi\nUSER user\nCMD [\"cat\", \"greeting.txt\", \"built.txt\"]\n").unwrap();
    e.ok(&["image", "build", "-t", "made:1", "-f", ctx.join("Dockerfile").to_str().unwrap(), ctx.to_str().unwrap()]);
    assert_eq!(e.ok(&["container", "run", "--rm", "made:1"]), "hello from context\nbuilt by builder\n");
    assert_eq!(e.ok(&["container", "run", "--rm", "made:1", "id", "-u"]), "1000\n");
    assert_ne!(e.run(&["container", "run", "--rm", "made:1", "ls", "/bin/vi"]).status.code(), Some(0));
    // Each filesystem step (COPY, RUN) is a layer on top of the base image's one.
    assert_eq!(layer_count(&e, "busybox"), 1);
    assert_eq!(layer_count(&e, "made:1"), 3);
    // WORKDIR of a directory no step made: the container starts there all the same.
    fs::write(ctx.join("Dockerfile"), "FROM busybox\nWORKDIR /made/by/workdir\nCMD [\"pwd\"]\n").unwrap();
    e.ok(&["image", "build", "-t", "wd:1", ctx.to_str().unwrap()]);
    assert_eq!(e.ok(&["container", "run", "--rm", "wd:1"]), "/made/by/workdir\n");
    fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN exit 3\n").unwrap();
    assert!(e.fails(&["image", "build", "-t", "broken:1", ctx.to_str().unwrap()]).contains("3"));
    assert!(!e.ok(&["image", "ls"]).contains("broken"));
}

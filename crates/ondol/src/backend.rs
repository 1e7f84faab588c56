//! Choosing the backend: `--backend auto|kvm|emu`, and the KVM probe run in a child process.

use hypervisor::Backend;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the probe child may take before ondol decides the KVM cannot run guests.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    /// kvm when /dev/kvm opens and passes the probe, else emu.
    Auto,
    /// Hardware-assisted virtualization through /dev/kvm.
    Kvm,
    /// ondol's own x86 CPU in software.
    Emu,
}

/// The outcome of the probe.
pub enum Probe {
    Passed,
    /// /dev/kvm cannot be opened or used at all.
    Unavailable(String),
    /// /dev/kvm opens but the probe guest failed or hung.
    Failed(String),
}

/// The backend chosen and whether the kvm backend needs a no-progress watchdog (it failed the
/// probe but was asked for explicitly).
pub struct Choice {
    pub backend: Backend,
    pub watchdog: bool,
}

/// Whether /dev/kvm can be opened read-write at all.
fn kvm_openable() -> Result<(), String> {
    std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").map(|_| ()).map_err(|e| e.to_string())
}

/// Run the probe guest in a child process (`ondol kvm-probe`) with a time limit, so a KVM
/// that hangs inside KVM_RUN cannot hang ondol.
pub fn probe() -> Probe {
    if let Err(e) = kvm_openable() {
        return Probe::Unavailable(e);
    }
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            return Probe::Failed(format!("cannot find ondol's own executable to run the probe: {e}"));
        }
    };
    let mut child = match Command::new(exe)
        .arg("kvm-probe")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Probe::Failed(format!("cannot start the probe: {e}")),
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(mut o) = child.stdout.take() {
                    use std::io::Read;
                    let _ = o.read_to_string(&mut out);
                }
                let msg = out.trim().to_string();
                return if status.success() {
                    Probe::Passed
                } else if msg.starts_with("cannot open") || msg.contains("not a usable KVM device") {
                    Probe::Unavailable(msg)
                } else {
                    Probe::Failed(if msg.is_empty() { format!("the probe exited with {status}") } else { msg })
                };
            }
            Ok(None) if start.elapsed() > PROBE_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Probe::Failed(format!(
                    "the probe guest did not finish within {} s (KVM_RUN hung)",
                    PROBE_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Probe::Failed(format!("cannot wait for the probe: {e}")),
        }
    }
}

/// Decide the backend and say why on stderr.
pub fn choose(arg: BackendArg, quiet: bool) -> anyhow::Result<Choice> {
    let say = |m: String| {
        if !quiet {
            eprintln!("ondol: {m}");
        }
    };
    match arg {
        BackendArg::Emu => Ok(Choice { backend: Backend::Emu, watchdog: false }),
        BackendArg::Kvm => match probe() {
            Probe::Passed => Ok(Choice { backend: Backend::Kvm, watchdog: false }),
            Probe::Unavailable(why) => {
                anyhow::bail!("--backend kvm: {why}")
            }
            Probe::Failed(why) => {
                say(format!(
                    "warning: this host's KVM failed the probe ({why}); running on kvm as asked, and ending the run if the guest stops making progress"
                ));
                Ok(Choice { backend: Backend::Kvm, watchdog: true })
            }
        },
        BackendArg::Auto => match probe() {
            Probe::Passed => {
                say("backend kvm: /dev/kvm passed the probe (real-mode INT, protected mode with paging)".into());
                Ok(Choice { backend: Backend::Kvm, watchdog: false })
            }
            Probe::Unavailable(why) => {
                say(format!("backend emu: {why}"));
                Ok(Choice { backend: Backend::Emu, watchdog: false })
            }
            Probe::Failed(why) => {
                say(format!("backend emu: /dev/kvm opens but cannot run ondol's guests: {why}"));
                Ok(Choice { backend: Backend::Emu, watchdog: false })
            }
        },
    }
}

/// `ondol kvm-probe`: the child side. Prints one line and exits 0 when the probe passed.
pub fn probe_child() -> i32 {
    match vmm::probe::run_probe(Backend::Kvm) {
        Ok(()) => {
            println!("kvm probe passed");
            0
        }
        Err(e) => {
            println!("{e}");
            1
        }
    }
}

//! Shared by the integration tests: run a machine and capture its console.

#![allow(dead_code)]

use hypervisor::Backend;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vmm::machine::{Boot, MachineConfig, Report};

/// A console that keeps what the guest prints.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Run `boot` and return the report and what the console showed.
pub fn run(backend: Backend, boot: Boot, deterministic: bool, input: Option<&[u8]>) -> (Report, String) {
    let out = Capture::default();
    let mut cfg = MachineConfig::new(backend, 32 << 20, boot);
    cfg.timeout = Some(Duration::from_secs(30));
    cfg.deterministic = deterministic;
    cfg.console_out = Box::new(out.clone());
    cfg.console_in = input.map(|i| Box::new(std::io::Cursor::new(i.to_vec())) as Box<dyn std::io::Read + Send>);
    cfg.watchdog = Some(Duration::from_secs(5));
    let report = vmm::machine::run(cfg).unwrap_or_else(|e| panic!("run on {backend}: {e}"));
    (report, out.text())
}

/// A test program from guest/tests.
pub fn program(name: &str) -> &'static [u8] {
    vmm::guest::tests::ALL.iter().find(|p| p.0 == name).unwrap_or_else(|| panic!("no guest program {name}")).1
}

/// Where third-party guest assets are (scripts/fetch-assets puts them there).
pub fn asset(rel: &str) -> std::path::PathBuf {
    let base = std::env::var_os("ONDOL_ASSETS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/assets"));
    let p = base.join(rel);
    assert!(p.exists(), "{} is missing: run scripts/fetch-assets (scripts/test does)", p.display());
    p
}

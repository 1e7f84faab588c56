//! The OCI runtime command line on a bundle (runtime spec "Operations"): create, start, state,
//! kill, delete; state lives in a directory of its own (default <root>/oci).

use crate::runtime::{RuntimeError, chain, parse_signal};
use libcontainer::container::{Container, ContainerStatus, builder::ContainerBuilder};
use libcontainer::syscall::syscall::SyscallType;
use std::path::{Path, PathBuf};

/// The OCI runtime's state directory.
pub struct Oci {
    root: PathBuf,
}

fn lc(e: libcontainer::error::LibcontainerError) -> RuntimeError {
    RuntimeError::Runtime(chain(&e))
}

/// The runtime spec's state document.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    pub bundle: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::HashMap<String, String>>,
}

impl Oci {
    pub fn new(root: impl Into<PathBuf>) -> Result<Oci, RuntimeError> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|e| RuntimeError::Runtime(format!("cannot create {}: {e}", root.display())))?;
        Ok(Oci { root })
    }

    fn load(&self, id: &str) -> Result<Container, RuntimeError> {
        let dir = self.root.join(id);
        if !dir.join("state.json").is_file() {
            return Err(RuntimeError::NoSuchContainer(id.to_string()));
        }
        let mut c = Container::load(dir).map_err(lc)?;
        c.refresh_status().map_err(lc)?;
        Ok(c)
    }

    /// Checks config.json before anything is created, so a bad bundle leaves nothing behind.
    pub fn check_bundle(bundle: &Path) -> Result<(), RuntimeError> {
        let p = bundle.join("config.json");
        let data = std::fs::read(&p).map_err(|e| {
            RuntimeError::Runtime(format!(
                "cannot read {}: {e}; give the bundle directory that holds config.json",
                p.display()
            ))
        })?;
        let spec: oci_spec::runtime::Spec = serde_json::from_slice(&data).map_err(|e| {
            RuntimeError::Runtime(format!(
                "{} is not a valid OCI runtime config: {e}; fix it (e.g. regenerate it with `runc spec`)",
                p.display()
            ))
        })?;
        let root = spec.root().as_ref().ok_or_else(|| {
            RuntimeError::Runtime(format!("{} has no root.path; add the rootfs directory", p.display()))
        })?;
        let rootfs = if root.path().is_absolute() { root.path().clone() } else { bundle.join(root.path()) };
        if !rootfs.is_dir() {
            return Err(RuntimeError::Runtime(format!(
                "the bundle's rootfs {} is not a directory; unpack the image there first",
                rootfs.display()
            )));
        }
        if spec.process().as_ref().is_none_or(|p| p.args().as_ref().is_none_or(|a| a.is_empty())) {
            return Err(RuntimeError::Runtime(format!("{} has no process.args; say what to run", p.display())));
        }
        Ok(())
    }

    /// `create`: sets up the container and leaves its process waiting for `start`.
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: Option<&Path>,
        console_socket: Option<&Path>,
    ) -> Result<i32, RuntimeError> {
        Self::check_bundle(bundle)?;
        let bundle =
            std::fs::canonicalize(bundle).map_err(|e| RuntimeError::Runtime(format!("{}: {e}", bundle.display())))?;
        let mut b = ContainerBuilder::new(id.to_string(), SyscallType::Linux)
            .with_root_path(self.root.clone())
            .map_err(lc)?
            .validate_id()
            .map_err(lc)?
            .with_console_socket(console_socket);
        if let Some(p) = pid_file {
            b = b.with_pid_file(Some(p)).map_err(lc)?;
        }
        let c = b.as_init(bundle).with_systemd(false).with_detach(true).build();
        match c {
            Ok(c) => Ok(c.pid().map(|p| p.as_raw()).unwrap_or(0)),
            Err(e) => {
                // Leave nothing half-made behind.
                if let Ok(mut c) = Container::load(self.root.join(id)) {
                    let _ = c.delete(true);
                }
                Err(lc(e))
            }
        }
    }

    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.load(id)?.start().map_err(lc)
    }

    pub fn state(&self, id: &str) -> Result<State, RuntimeError> {
        let c = self.load(id)?;
        let status = match c.status() {
            ContainerStatus::Creating => "creating",
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Stopped => "stopped",
            ContainerStatus::Paused => "paused",
        };
        Ok(State {
            oci_version: "1.0.2".into(),
            id: c.id().to_string(),
            status: status.into(),
            pid: c.pid().map(|p| p.as_raw()).filter(|_| status != "stopped"),
            bundle: c.bundle().clone(),
            annotations: oci_spec::runtime::Spec::load(c.bundle().join("config.json"))
                .ok()
                .and_then(|s| s.annotations().clone()),
        })
    }

    pub fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), RuntimeError> {
        let sig = parse_signal(signal)?;
        let mut c = self.load(id)?;
        c.kill(sig, all).map_err(lc)
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        let mut c = self.load(id)?;
        c.delete(force).map_err(lc)
    }
}

//! `ondol container`, `ondol image` and `ondol oci`: the command-line face of the container crate.

use clap::Subcommand;

/// `ondol container ...`
#[derive(Debug, Subcommand)]
pub enum ContainerCmd {}

/// `ondol image ...`
#[derive(Debug, Subcommand)]
pub enum ImageCmd {}

/// `ondol oci ...` (the OCI runtime command line)
#[derive(Debug, Subcommand)]
pub enum OciCmd {}

/// Run a container command; returns the process exit status.
pub fn container(cmd: ContainerCmd) -> anyhow::Result<i32> {
    match cmd {}
}

pub fn image(cmd: ImageCmd) -> anyhow::Result<i32> {
    match cmd {}
}

pub fn oci(cmd: OciCmd) -> anyhow::Result<i32> {
    match cmd {}
}

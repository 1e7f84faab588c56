//! The `ondol` binary: command-line parsing and dispatch; every error ends here as one line.

mod backend;
mod containers;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// ondol: boot a PC the way a PC boots, on KVM or on ondol's own x86 CPU; and run containers.
#[derive(Debug, Parser)]
#[command(name = "ondol", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Boot a virtual machine; the guest's COM1 is this terminal.
    Run(run::RunArgs),
    /// Run the KVM probe guest and report (used by `--backend auto` in a child process).
    #[command(hide = true)]
    KvmProbe,
    /// Containers from OCI images (the seed's Docker).
    Container {
        #[command(subcommand)]
        cmd: containers::ContainerCmd,
    },
    /// OCI images: import, pull, push, build, list, remove, save.
    Image {
        #[command(subcommand)]
        cmd: containers::ImageCmd,
    },
    /// The OCI runtime command line (create, start, state, kill, delete) on a bundle.
    Oci {
        #[command(subcommand)]
        cmd: containers::OciCmd,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Run(args) => run::run(args),
        Cmd::KvmProbe => Ok(backend::probe_child()),
        Cmd::Container { cmd } => containers::container(cmd),
        Cmd::Image { cmd } => containers::image(cmd),
        Cmd::Oci { cmd } => containers::oci(cmd),
    };
    match r {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("ondol: {e:#}");
            ExitCode::from(1)
        }
    }
}

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

/// Turn a command-line error into one line (clap's own rendering spans several).
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:"))
        .collect();
    if let Some(first) = parts.first_mut() {
        *first = first.trim_start_matches("error: ");
    }
    format!("{} (see ondol --help)", parts.join(" "))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("ondol: {}", one_line(&e));
            return ExitCode::from(1);
        }
    };
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

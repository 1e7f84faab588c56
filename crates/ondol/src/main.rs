//! The `ondol` binary: command-line parsing and dispatch; every error ends here as one line.

mod backend;
mod containers;
mod disk;
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
    /// Disk images: create one that boots through ondol's MBR and boot loader, or inspect one.
    Disk {
        #[command(subcommand)]
        cmd: disk::DiskCmd,
    },
    /// Run the KVM probe guest and report (used by `--backend auto` in a child process).
    #[command(hide = true)]
    KvmProbe,
    /// Write one of the built-in guest programs (guest/) to a file: `probe`, `tests/NAME` or
    /// `bench/NAME` (used by scripts/bench to run the same bytes on QEMU and Bochs).
    #[command(hide = true)]
    GuestImage { name: String, out: std::path::PathBuf },
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

fn guest_image(name: &str, out: &std::path::Path) -> anyhow::Result<i32> {
    let (dir, stem) = name.split_once('/').unwrap_or(("", name));
    let table: &[(&str, &[u8])] = match dir {
        "" => vmm::guest::ALL,
        "tests" => vmm::guest::tests::ALL,
        "bench" => vmm::guest::bench::ALL,
        _ => anyhow::bail!("no guest directory '{dir}': use probe, tests/NAME or bench/NAME"),
    };
    let Some((_, bytes)) = table.iter().find(|(n, _)| *n == stem) else {
        let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        anyhow::bail!("no guest program '{name}'; there are: {}", names.join(", "));
    };
    std::fs::write(out, bytes).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    Ok(0)
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
        Cmd::Disk { cmd } => disk::disk(cmd),
        Cmd::KvmProbe => Ok(backend::probe_child()),
        Cmd::GuestImage { name, out } => guest_image(&name, &out),
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

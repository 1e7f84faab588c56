//! `ondol container`, `ondol image` and `ondol oci`: the command-line face of the container crate.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use container::cgroups::{Limits, parse_cpus, parse_memory, parse_pids};
use container::runtime::{Observed, RunOptions, Runtime, parse_signal};
use container::{Store, build, image, oci::Oci, registry};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// The state root, shared by every container, image and oci subcommand.
#[derive(Debug, Args)]
pub struct RootArg {
    /// State directory (images, containers).
    #[arg(long, global = true, default_value = container::DEFAULT_ROOT)]
    root: PathBuf,
}

/// `ondol container ...`
#[derive(Debug, Subcommand)]
pub enum ContainerCmd {
    /// Run a command in a new container from an image.
    Run(RunArgs),
    /// List containers (running ones; -a for all).
    Ps {
        #[arg(short, long)]
        all: bool,
        #[command(flatten)]
        root: RootArg,
    },
    /// Print a detached container's output.
    Logs {
        container: String,
        #[command(flatten)]
        root: RootArg,
    },
    /// Stop a container: SIGTERM, then SIGKILL after the timeout.
    Stop {
        container: String,
        #[arg(short, long, default_value_t = 10)]
        time: u64,
        #[command(flatten)]
        root: RootArg,
    },
    /// Send a signal to a container's process.
    Kill {
        container: String,
        #[arg(short, long, default_value = "KILL")]
        signal: String,
        #[command(flatten)]
        root: RootArg,
    },
    /// Remove containers (-f kills running ones first).
    Rm {
        #[arg(required = true)]
        containers: Vec<String>,
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        root: RootArg,
    },
    /// Run a command in a running container.
    Exec {
        #[arg(short, long = "env")]
        env: Vec<String>,
        container: String,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
        #[command(flatten)]
        root: RootArg,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// Run in the background; print the container id.
    #[arg(short, long)]
    detach: bool,
    #[arg(long)]
    name: Option<String>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Bind mount HOST:CONTAINER[:ro] (repeatable).
    #[arg(short, long = "volume")]
    volume: Vec<String>,
    /// Memory limit (e.g. 64m, 1g); a process over it is killed.
    #[arg(long)]
    memory: Option<String>,
    /// CPU limit in CPUs (e.g. 0.5).
    #[arg(long)]
    cpus: Option<String>,
    /// Maximum number of processes.
    #[arg(long)]
    pids_limit: Option<String>,
    /// none (own network namespace, loopback only) or host.
    #[arg(long, default_value = "none")]
    network: String,
    /// USER[:GROUP], names or numbers.
    #[arg(short, long)]
    user: Option<String>,
    /// Mount the root file system read-only.
    #[arg(long)]
    read_only: bool,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    cmd: Vec<String>,
    #[command(flatten)]
    root: RootArg,
}

/// `ondol image ...`
#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// Import an OCI image layout (directory or tar) or a docker save archive.
    Import {
        path: PathBuf,
        /// Name the image NAME[:TAG].
        #[arg(short, long)]
        tag: Option<String>,
        #[command(flatten)]
        root: RootArg,
    },
    /// Pull HOST[:PORT]/NAME[:TAG] from a registry (plain HTTP).
    Pull {
        reference: String,
        #[command(flatten)]
        root: RootArg,
    },
    /// Push the local image HOST[:PORT]/NAME[:TAG] to that registry.
    Push {
        reference: String,
        #[command(flatten)]
        root: RootArg,
    },
    /// List images.
    Ls {
        #[command(flatten)]
        root: RootArg,
    },
    /// Remove images (by name or id); unused blobs and layers go too.
    Rm {
        #[arg(required = true)]
        images: Vec<String>,
        #[command(flatten)]
        root: RootArg,
    },
    /// Give an image another name.
    Tag {
        source: String,
        target: String,
        #[command(flatten)]
        root: RootArg,
    },
    /// Write an image as an OCI image layout tar.
    Save {
        reference: String,
        out: PathBuf,
        #[command(flatten)]
        root: RootArg,
    },
    /// Build an image from a Dockerfile (FROM, COPY, RUN, ENV, WORKDIR, CMD, ENTRYPOINT, USER).
    Build {
        /// The Dockerfile (default DIR/Dockerfile).
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// Name the result NAME[:TAG] (default: the directory's name, tag latest).
        #[arg(short, long)]
        tag: Option<String>,
        dir: PathBuf,
        #[command(flatten)]
        root: RootArg,
    },
}

/// `ondol oci ...` (the OCI runtime command line)
#[derive(Debug, Subcommand)]
pub enum OciCmd {
    /// Create a container from a bundle; its process waits for `start`.
    Create {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        console_socket: Option<PathBuf>,
        id: String,
        #[command(flatten)]
        oci: OciRoot,
    },
    /// Start the process of a created container.
    Start {
        id: String,
        #[command(flatten)]
        oci: OciRoot,
    },
    /// Print the container's state (JSON, as the runtime spec defines it).
    State {
        id: String,
        #[command(flatten)]
        oci: OciRoot,
    },
    /// Send a signal (default TERM) to the container's process.
    Kill {
        id: String,
        #[arg(default_value = "TERM")]
        signal: String,
        #[arg(short, long)]
        all: bool,
        #[command(flatten)]
        oci: OciRoot,
    },
    /// Delete a stopped container (--force: any container).
    Delete {
        id: String,
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        oci: OciRoot,
    },
}

#[derive(Debug, Args)]
pub struct OciRoot {
    /// State directory for OCI containers (default ROOT/oci).
    #[arg(long)]
    state: Option<PathBuf>,
    #[command(flatten)]
    root: RootArg,
}

fn open(root: &RootArg) -> Result<Store> {
    Ok(Store::open(&root.root)?)
}

fn limits(a: &RunArgs) -> Result<Limits> {
    Ok(Limits {
        memory: a.memory.as_deref().map(parse_memory).transpose()?,
        cpus: a.cpus.as_deref().map(parse_cpus).transpose()?,
        pids: a.pids_limit.as_deref().map(parse_pids).transpose()?,
    })
}

/// Run a container command; returns the process exit status.
pub fn container(cmd: ContainerCmd) -> Result<i32> {
    match cmd {
        ContainerCmd::Run(a) => {
            let host_network = match a.network.as_str() {
                "none" => false,
                "host" => true,
                other => bail!("--network {other} is not supported; use none or host"),
            };
            for e in &a.env {
                if !e.contains('=') {
                    bail!("-e {e}: give KEY=VALUE");
                }
            }
            let opts = RunOptions {
                image: a.image.clone(),
                cmd: a.cmd.clone(),
                name: a.name.clone(),
                rm: a.rm,
                detach: a.detach,
                env: a.env.clone(),
                volumes: a.volume.clone(),
                limits: limits(&a)?,
                host_network,
                user: a.user.clone(),
                read_only: a.read_only,
                workdir: a.workdir.clone(),
                entrypoint: None,
            };
            let rt = Runtime::new(open(&a.root)?);
            if a.detach {
                println!("{}", rt.run_detached(&opts)?);
                Ok(0)
            } else {
                Ok(rt.run_foreground(&opts)?)
            }
        }
        ContainerCmd::Ps { all, root } => {
            let rt = Runtime::new(open(&root)?);
            let mut out = std::io::stdout().lock();
            writeln!(out, "{:<14}{:<20}{:<30}{:<18}COMMAND", "ID", "NAME", "IMAGE", "STATUS")?;
            for r in rt.records()? {
                let st = r.observe();
                if !all && !matches!(st, Observed::Running(_) | Observed::Creating) {
                    continue;
                }
                writeln!(
                    out,
                    "{:<14}{:<20}{:<30}{:<18}{}",
                    r.id,
                    r.name,
                    r.image,
                    st.to_string(),
                    r.command.join(" ")
                )?;
            }
            Ok(0)
        }
        ContainerCmd::Logs { container, root } => {
            let rt = Runtime::new(open(&root)?);
            let p = rt.log_path(&container)?;
            match std::fs::File::open(&p) {
                Ok(mut f) => {
                    std::io::copy(&mut f, &mut std::io::stdout().lock())?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    eprintln!("ondol: {container} has no log (only detached containers, run with -d, keep one)");
                }
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", p.display())),
            }
            Ok(0)
        }
        ContainerCmd::Stop { container, time, root } => {
            let r = Runtime::new(open(&root)?).stop(&container, Duration::from_secs(time))?;
            println!("{}", r.name);
            Ok(0)
        }
        ContainerCmd::Kill { container, signal, root } => {
            let sig = parse_signal(&signal)?;
            let r = Runtime::new(open(&root)?).kill(&container, sig)?;
            println!("{}", r.name);
            Ok(0)
        }
        ContainerCmd::Rm { containers, force, root } => {
            let rt = Runtime::new(open(&root)?);
            let mut status = 0;
            for c in containers {
                match rt.remove(&c, force) {
                    Ok(r) => println!("{}", r.name),
                    Err(e) => {
                        eprintln!("ondol: {e}");
                        status = 1;
                    }
                }
            }
            Ok(status)
        }
        ContainerCmd::Exec { env, container, cmd, root } => Ok(Runtime::new(open(&root)?).exec(&container, cmd, env)?),
    }
}

fn human(n: u64) -> String {
    let units = ["B", "KB", "MB", "GB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 { format!("{n}B") } else { format!("{v:.1}{}", units[i]) }
}

pub fn image(cmd: ImageCmd) -> Result<i32> {
    match cmd {
        ImageCmd::Import { path, tag, root } => {
            let store = open(&root)?;
            for (name, img) in image::import(&store, &path, tag.as_deref())? {
                println!("{name} {}", img.config_digest.short());
            }
            Ok(0)
        }
        ImageCmd::Pull { reference, root } => {
            let img = registry::pull(&open(&root)?, &reference)?;
            println!("{} {}", img.name, img.manifest_digest);
            Ok(0)
        }
        ImageCmd::Push { reference, root } => {
            let img = registry::push(&open(&root)?, &reference)?;
            println!("{} {}", img.name, img.manifest_digest);
            Ok(0)
        }
        ImageCmd::Ls { root } => {
            let store = open(&root)?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{:<50}{:<14}{:<10}CREATED", "NAME:TAG", "ID", "SIZE")?;
            for s in image::list(&store)? {
                writeln!(out, "{:<50}{:<14}{:<10}{}", s.name, s.id.short(), human(s.size), s.created)?;
            }
            Ok(0)
        }
        ImageCmd::Rm { images, root } => {
            let store = open(&root)?;
            let in_use = Runtime::new(store.clone()).layers_in_use();
            let mut status = 0;
            for i in images {
                match image::remove(&store, &i, &in_use) {
                    Ok(img) => println!("{}", img.name),
                    Err(e) => {
                        eprintln!("ondol: {e}");
                        status = 1;
                    }
                }
            }
            Ok(status)
        }
        ImageCmd::Tag { source, target, root } => {
            image::tag(&open(&root)?, &source, &target)?;
            Ok(0)
        }
        ImageCmd::Save { reference, out, root } => {
            image::save(&open(&root)?, &reference, &out)?;
            Ok(0)
        }
        ImageCmd::Build { file, tag, dir, root } => {
            let store = open(&root)?;
            let file = file.unwrap_or_else(|| dir.join("Dockerfile"));
            let img = build::build(&store, &file, &dir, tag.as_deref())?;
            println!("{} {}", img.name, img.config_digest.short());
            Ok(0)
        }
    }
}

fn oci_state(o: &OciRoot) -> Result<Oci> {
    let dir = o.state.clone().unwrap_or_else(|| o.root.root.join("oci"));
    Ok(Oci::new(dir)?)
}

pub fn oci(cmd: OciCmd) -> Result<i32> {
    match cmd {
        OciCmd::Create { bundle, pid_file, console_socket, id, oci } => {
            oci_state(&oci)?.create(&id, &bundle, pid_file.as_deref(), console_socket.as_deref())?;
            Ok(0)
        }
        OciCmd::Start { id, oci } => {
            oci_state(&oci)?.start(&id)?;
            Ok(0)
        }
        OciCmd::State { id, oci } => {
            let s = oci_state(&oci)?.state(&id)?;
            println!("{}", serde_json::to_string_pretty(&s)?);
            Ok(0)
        }
        OciCmd::Kill { id, signal, all, oci } => {
            oci_state(&oci)?.kill(&id, &signal, all)?;
            Ok(0)
        }
        OciCmd::Delete { id, force, oci } => {
            oci_state(&oci)?.delete(&id, force)?;
            Ok(0)
        }
    }
}

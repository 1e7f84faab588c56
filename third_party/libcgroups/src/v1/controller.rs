use std::fs;
use std::path::Path;

use nix::unistd::Pid;

use crate::common::{self, CGROUP_PROCS, ControllerOpt, WrapIoResult, WrappedIoError};

pub(super) trait Controller {
    type Error: From<WrappedIoError>;
    type Resource;

    /// Adds a new task specified by its pid to the cgroup
    fn add_task(pid: Pid, cgroup_path: &Path) -> Result<(), Self::Error> {
        fs::create_dir_all(cgroup_path).wrap_create_dir(cgroup_path)?;
        attach(pid, cgroup_path)?;
        Ok(())
    }

    /// Applies resource restrictions to the cgroup
    fn apply(controller_opt: &ControllerOpt, cgroup_root: &Path) -> Result<(), Self::Error>;

    /// Checks if the controller needs to handle this request
    fn needs_to_handle<'a>(controller_opt: &'a ControllerOpt) -> Option<&'a Self::Resource>;
}

/// ondol patch (see third_party/README.md): moves `pid` into the cgroup at `cgroup_path`.
///
/// Writing a pid to `cgroup.procs` takes the kernel's global cgroup_threadgroup_rwsem for
/// writing, which waits for an RCU grace period (10-20 ms on a loaded 2-CPU VM) whenever no
/// other writer did so within the last one. When the caller attaches itself and has a single
/// thread (libcontainer's intermediate process, freshly cloned), writing "0" to `tasks` moves
/// the same (only) thread without that lock (kernel/cgroup/cgroup.c,
/// cgroup_procs_write_start: "If the thread is `current` ... we can skip the global lock").
pub(crate) fn attach(pid: Pid, cgroup_path: &Path) -> Result<(), WrappedIoError> {
    if pid == Pid::this() && single_threaded() {
        common::write_cgroup_file(cgroup_path.join(CGROUP_TASKS), 0)
    } else {
        common::write_cgroup_file(cgroup_path.join(CGROUP_PROCS), pid)
    }
}

/// The v1 file that moves one thread (`0`: the calling thread).
const CGROUP_TASKS: &str = "tasks";

/// Whether the calling process has exactly one thread (false when that cannot be read).
fn single_threaded() -> bool {
    fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1)
}

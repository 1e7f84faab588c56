//! The backend seam: a VM with guest memory and one vCPU, on `kvm` (hardware-assisted, through
//! /dev/kvm) or `emu` (ondol's own x86 CPU). The machine drives either through the same
//! [`Vcpu::run`], which hands every port and MMIO access to the machine's [`VmOps`].

pub mod emu;
pub mod kvm;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use x86::state::{CpuState, DescTable, Segment};

/// Which backend runs the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Kvm,
    Emu,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Kvm => "kvm",
            Backend::Emu => "emu",
        })
    }
}

/// A range of guest-physical memory backed by host memory the machine owns.
#[derive(Clone, Copy, Debug)]
pub struct MemorySlot {
    pub gpa: u64,
    pub size: u64,
    pub host: *mut u8,
    /// ROM: guest writes are dropped (emu) or exit as MMIO writes (kvm).
    pub readonly: bool,
}

// SAFETY: a slot only describes memory; whoever creates a VM from slots guarantees the memory
// stays mapped for the VM's lifetime (see `create`).
unsafe impl Send for MemorySlot {}
// SAFETY: as above; the description itself is immutable.
unsafe impl Sync for MemorySlot {}

/// What the machine wants after a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// The machine as a vCPU sees it. Every method is called on the vCPU's thread while the vCPU
/// is inside [`Vcpu::run`].
pub trait VmOps {
    fn pio_read(&mut self, port: u16, data: &mut [u8]);
    fn pio_write(&mut self, port: u16, data: &[u8]);
    fn mmio_read(&mut self, gpa: u64, data: &mut [u8]);
    fn mmio_write(&mut self, gpa: u64, data: &[u8]);
    /// Whether the machine wants the vCPU to return from `run` (asked after every access).
    fn stop_requested(&mut self) -> bool;
    /// Called between slices of guest execution (emu) or when the vCPU was kicked (kvm):
    /// advance timers, move input into devices, decide whether to keep running.
    fn poll(&mut self) -> Control;
    /// The guest executed HLT. Block until an interrupt may be pending (or the machine wants
    /// to stop). `interrupts_enabled` is the guest's IF: with it clear only a stop wakes it.
    fn wait_for_interrupt(&mut self, interrupts_enabled: bool) -> Control;
    /// Emulated interrupt controller (emu): the INTR line.
    fn interrupt_pending(&mut self) -> bool;
    /// Emulated interrupt controller (emu): the INTA cycle.
    fn acknowledge_interrupt(&mut self) -> Option<u8>;
    /// The A20 gate (emu; KVM cannot mask A20 and always runs with it open).
    fn a20_enabled(&mut self) -> bool;
    /// Guest time in nanoseconds, for the emu CPU's TSC (None: it counts instructions).
    fn guest_time_ns(&mut self) -> Option<u64> {
        None
    }
    /// Addresses whose execution the machine wants reported (boot trace): a generation number
    /// that changes whenever the list does, so backends only fetch the list on change.
    fn exec_watch_generation(&mut self) -> u64 {
        0
    }
    fn exec_watch_list(&mut self) -> Vec<u64> {
        Vec::new()
    }
    /// Execution reached a watched linear address.
    fn exec_watch_hit(&mut self, _addr: u64) {}
    /// The x87's FERR# output (emu): asserted while an unmasked x87 exception is pending with
    /// CR0.NE clear; a PC routes it to IRQ 13.
    fn fpu_error(&mut self, _asserted: bool) {}
    /// How many instructions the emu CPU may run before the next `poll` (a timer deadline).
    fn slice_instructions(&mut self) -> u64 {
        50_000
    }
}

/// Why [`Vcpu::run`] returned without an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VcpuExit {
    /// The machine asked to stop (exit port, reset, timeout, power-off).
    Stopped,
    /// The CPU shut down: a triple fault (a PC resets here).
    Shutdown { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum HypervisorError {
    #[error(
        "cannot open {path}: {source} (load the kvm module and give this user read/write access to it, or use --backend emu)"
    )]
    KvmOpen {
        path: String,
        #[source]
        source: kvm_ioctls::Error,
    },
    #[error("{path} is not a usable KVM device (KVM_GET_API_VERSION gave {version}, not 12); use --backend emu")]
    KvmVersion { path: String, version: i32 },
    #[error("KVM {op} failed: {source}")]
    Kvm {
        op: &'static str,
        #[source]
        source: kvm_ioctls::Error,
    },
    #[error(
        "KVM stopped the guest with an internal error (suberror {suberror}) at {rip}: this host's KVM cannot run this guest; use --backend emu"
    )]
    KvmInternal { suberror: u32, rip: String },
    #[error(
        "KVM could not enter the guest (hardware reason {0:#x}): the guest state is invalid for VMX/SVM; use --backend emu"
    )]
    KvmFailEntry(u64),
    #[error("KVM returned an unexpected exit ({0}); use --backend emu")]
    KvmUnexpected(String),
    #[error("invalid guest memory map: {0}")]
    Memory(#[from] x86::MapError),
    #[error("{0} is not available on the {1} backend")]
    Unsupported(&'static str, Backend),
}

pub type Result<T> = std::result::Result<T, HypervisorError>;

/// A VM: guest memory and interrupt routing.
pub trait Vm: Send + Sync {
    fn backend(&self) -> Backend;
    /// Whether the backend has its own interrupt controllers and PIT (kvm's in-kernel
    /// irqchip); if not, the machine emulates them and answers `VmOps::interrupt_pending`.
    fn in_kernel_irqchip(&self) -> bool;
    /// Drive an interrupt line of the in-kernel irqchip.
    fn set_irq_line(&self, irq: u32, level: bool) -> Result<()>;
}

/// One virtual CPU.
pub trait Vcpu: Send {
    fn state(&mut self) -> Result<CpuState>;
    fn set_state(&mut self, s: &CpuState) -> Result<()>;
    /// Run the guest until the machine asks to stop or the CPU shuts down.
    fn run(&mut self, ops: &mut dyn VmOps) -> Result<VcpuExit>;
    /// A handle another thread can use to make `run` call `VmOps::poll` soon.
    fn kicker(&self) -> Kicker;
    /// The last instructions executed, disassembled, where the backend can tell (emu).
    fn recent_instructions(&mut self, _ops: &mut dyn VmOps) -> Vec<String> {
        Vec::new()
    }
    /// Instructions retired so far, where the backend counts them (emu).
    fn instructions(&self) -> Option<u64> {
        None
    }
}

/// Makes a running vCPU come back to `VmOps::poll` (timeouts, Ctrl-C, a watchdog).
#[derive(Clone, Default)]
pub struct Kicker {
    pending: Arc<AtomicBool>,
    wake: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Kicker {
    pub(crate) fn new(wake: Option<Arc<dyn Fn() + Send + Sync>>) -> Self {
        Kicker { pending: Arc::new(AtomicBool::new(false)), wake }
    }

    pub fn kick(&self) {
        self.pending.store(true, Ordering::SeqCst);
        if let Some(w) = &self.wake {
            w();
        }
    }

    /// Mark a kick as pending without waking anyone (the vCPU saw the interruption itself).
    pub(crate) fn kick_pending_only(&self) {
        self.pending.store(true, Ordering::SeqCst);
    }

    /// Consume a pending kick.
    pub(crate) fn take(&self) -> bool {
        self.pending.swap(false, Ordering::SeqCst)
    }
}

/// Options for creating a VM.
#[derive(Clone, Default)]
pub struct VmOptions {
    /// emu: where the CPU publishes its retired-instruction count (virtual clock).
    pub icount_sink: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// kvm: the device to open instead of /dev/kvm.
    pub kvm_device: Option<std::path::PathBuf>,
}

/// The KVM device ondol opens: `$ONDOL_KVM_DEVICE` when set (for unusual setups and for tests
/// of an unusable KVM), else /dev/kvm.
pub fn kvm_device_path() -> std::path::PathBuf {
    std::env::var_os("ONDOL_KVM_DEVICE").map(Into::into).unwrap_or_else(|| "/dev/kvm".into())
}

/// Create a VM on `backend` with `slots` of guest memory and one vCPU.
///
/// # Safety
/// Every slot's host memory must stay mapped, and not be unmapped or remapped, until both
/// returned objects are dropped.
pub unsafe fn create(backend: Backend, slots: &[MemorySlot], opts: &VmOptions) -> Result<(Arc<dyn Vm>, Box<dyn Vcpu>)> {
    match backend {
        // SAFETY: forwarded from the caller.
        Backend::Kvm => unsafe { kvm::create(slots, opts) },
        // SAFETY: forwarded from the caller.
        Backend::Emu => unsafe { emu::create(slots, opts) },
    }
}

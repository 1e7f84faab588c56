//! The KVM probe: run guest/probe.S (real-mode INT/IRET, protected mode with paging, back to
//! real mode) on /dev/kvm and report whether it completed. `--backend auto` picks kvm only
//! when it does. Run it in a child process with a time limit: a KVM that cannot run the probe
//! may hang inside KVM_RUN.

use crate::memory::GuestMemory;
use hypervisor::{Backend, Control, CpuState, VcpuExit, VmOps, VmOptions};

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Hypervisor(#[from] hypervisor::HypervisorError),
    #[error(transparent)]
    Memory(#[from] crate::memory::MemoryError),
    #[error("the probe guest reported failure {0} (a real-mode INT or the protected-mode round trip went wrong)")]
    Failed(u8),
    #[error("the probe guest ended with {0}")]
    Ended(String),
}

/// Just enough machine for the probe: the exit port.
struct ProbeOps {
    exit: Option<u8>,
}

impl VmOps for ProbeOps {
    fn pio_read(&mut self, _: u16, data: &mut [u8]) {
        data.fill(0xFF);
    }
    fn pio_write(&mut self, port: u16, data: &[u8]) {
        if port == crate::layout::PORT_EXIT {
            self.exit = data.first().copied();
        }
    }
    fn mmio_read(&mut self, _: u64, data: &mut [u8]) {
        data.fill(0xFF);
    }
    fn mmio_write(&mut self, _: u64, _: &[u8]) {}
    fn stop_requested(&mut self) -> bool {
        self.exit.is_some()
    }
    fn poll(&mut self) -> Control {
        Control::Stop
    }
    fn wait_for_interrupt(&mut self, _: bool) -> Control {
        Control::Stop
    }
    fn interrupt_pending(&mut self) -> bool {
        false
    }
    fn acknowledge_interrupt(&mut self) -> Option<u8> {
        None
    }
    fn a20_enabled(&mut self) -> bool {
        true
    }
}

/// Run the probe guest on `backend` (kvm in practice; emu in tests, where it must pass).
pub fn run_probe(backend: Backend) -> Result<(), ProbeError> {
    let mem = GuestMemory::new(2 << 20)?;
    mem.write(crate::layout::BOOT_SECTOR, crate::guest::PROBE)?;
    // SAFETY: `mem` outlives the VM and vCPU, which are dropped at the end of this function.
    let (_vm, mut vcpu) = unsafe { hypervisor::create(backend, &mem.slots(), &VmOptions::default())? };
    vcpu.set_state(&CpuState::real_mode(0, crate::layout::BOOT_SECTOR as u16))?;
    let mut ops = ProbeOps { exit: None };
    match vcpu.run(&mut ops)? {
        VcpuExit::Stopped => match ops.exit {
            Some(0) => Ok(()),
            Some(code) => Err(ProbeError::Failed(code)),
            None => Err(ProbeError::Ended("a stop without an exit code".into())),
        },
        VcpuExit::Shutdown { reason } => Err(ProbeError::Ended(reason)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_probe_passes_on_the_emu_cpu() {
        super::run_probe(hypervisor::Backend::Emu).expect("emu must run the probe");
    }
}

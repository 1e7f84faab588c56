//! The `kvm` backend: hardware-assisted virtualization through /dev/kvm (kvm-ioctls), with the
//! in-kernel interrupt controllers (PIC, IOAPIC, LAPIC) and PIT.

use crate::{Backend, Control, CpuState, HypervisorError, Kicker, MemorySlot, Result, Segment, VcpuExit, VmOps};
use kvm_bindings::{
    KVM_MAX_CPUID_ENTRIES, KVM_MEM_READONLY, KVM_PIT_SPEAKER_DUMMY, kvm_dtable, kvm_pit_config, kvm_regs, kvm_run,
    kvm_segment, kvm_sregs, kvm_userspace_memory_region,
};
use kvm_ioctls::{Kvm, VcpuExit as KvmExit, VcpuFd, VmFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use x86::state::{DescTable, attr};

/// Guest-physical pages KVM needs outside RAM on Intel hosts (see layout.rs in vmm).
const TSS_ADDR: u64 = 0xFFFB_D000;
const IDENTITY_MAP_ADDR: u64 = 0xFFFB_C000;

pub struct KvmVm {
    vm: VmFd,
}

impl crate::Vm for KvmVm {
    fn backend(&self) -> Backend {
        Backend::Kvm
    }
    fn in_kernel_irqchip(&self) -> bool {
        true
    }
    fn set_irq_line(&self, irq: u32, level: bool) -> Result<()> {
        self.vm.set_irq_line(irq, level).map_err(|source| HypervisorError::Kvm { op: "KVM_IRQ_LINE", source })
    }
}

/// Where a kick must land: the vCPU thread and its kvm_run page.
struct KickTarget {
    /// `&kvm_run.immediate_exit`.
    immediate_exit: *mut u8,
    /// pthread_t of the thread inside KVM_RUN, 0 when none.
    thread: AtomicU64,
}

// SAFETY: `immediate_exit` points into the vCPU's kvm_run mapping, which lives as long as the
// VcpuFd that owns it; the kicker is only used while the vCPU exists. A byte store from another
// thread is how the KVM API intends immediate_exit to be used.
unsafe impl Send for KickTarget {}
// SAFETY: as above; concurrent access is a single-byte volatile store.
unsafe impl Sync for KickTarget {}

pub struct KvmVcpu {
    fd: VcpuFd,
    watch_generation: u64,
    run: *mut kvm_run,
    kicker: Kicker,
    target: Arc<KickTarget>,
    // Keeps the VM fd alive as long as the vCPU.
    _vm: Arc<KvmVm>,
}

// SAFETY: `run` points into the vCPU's own kvm_run mapping owned by `fd`; the vCPU is used by
// one thread at a time (the trait requires `&mut self` for everything that touches it).
unsafe impl Send for KvmVcpu {}

fn kvm_err(op: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> HypervisorError {
    move |source| HypervisorError::Kvm { op, source }
}

/// The signal that interrupts KVM_RUN: its handler does nothing, the EINTR is the point.
fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int) {}

fn install_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: installing a handler that does nothing (async-signal-safe) for a real-time
        // signal ondol reserves for itself; no SA_RESTART so KVM_RUN returns EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_kick as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(kick_signal(), &sa, std::ptr::null_mut());
        }
    });
}

/// # Safety
/// See [`crate::create`].
pub(crate) unsafe fn create(
    slots: &[MemorySlot],
    opts: &crate::VmOptions,
) -> Result<(Arc<dyn crate::Vm>, Box<dyn crate::Vcpu>)> {
    let path = opts.kvm_device.clone().unwrap_or_else(crate::kvm_device_path);
    let open_err = |source| HypervisorError::KvmOpen { path: path.display().to_string(), source };
    let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| open_err(kvm_ioctls::Error::new(libc::EINVAL)))?;
    let kvm = Kvm::new_with_path(&cpath).map_err(open_err)?;
    let version = kvm.get_api_version();
    if version != 12 {
        return Err(HypervisorError::KvmVersion { path: path.display().to_string(), version });
    }
    let vm = kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?;
    vm.set_tss_address(TSS_ADDR as usize).map_err(kvm_err("KVM_SET_TSS_ADDR"))?;
    vm.set_identity_map_address(IDENTITY_MAP_ADDR).map_err(kvm_err("KVM_SET_IDENTITY_MAP_ADDR"))?;
    vm.create_irq_chip().map_err(kvm_err("KVM_CREATE_IRQCHIP"))?;
    let pit = kvm_pit_config { flags: KVM_PIT_SPEAKER_DUMMY, ..Default::default() };
    vm.create_pit2(pit).map_err(kvm_err("KVM_CREATE_PIT2"))?;
    for (i, s) in slots.iter().enumerate() {
        let region = kvm_userspace_memory_region {
            slot: i as u32,
            flags: if s.readonly { KVM_MEM_READONLY } else { 0 },
            guest_phys_addr: s.gpa,
            memory_size: s.size,
            userspace_addr: s.host as u64,
        };
        // SAFETY: the caller guarantees the host memory stays mapped for the VM's lifetime.
        unsafe { vm.set_user_memory_region(region) }.map_err(kvm_err("KVM_SET_USER_MEMORY_REGION"))?;
    }
    let mut fd = vm.create_vcpu(0).map_err(kvm_err("KVM_CREATE_VCPU"))?;
    let cpuid = kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).map_err(kvm_err("KVM_GET_SUPPORTED_CPUID"))?;
    fd.set_cpuid2(&cpuid).map_err(kvm_err("KVM_SET_CPUID2"))?;
    install_kick_handler();
    let run: *mut kvm_run = fd.get_kvm_run();
    // SAFETY: `run` is the vCPU's mapped kvm_run; taking the address of a field reads nothing.
    let immediate_exit = unsafe { std::ptr::addr_of_mut!((*run).immediate_exit) };
    let target = Arc::new(KickTarget { immediate_exit, thread: AtomicU64::new(0) });
    let t = target.clone();
    let kicker = Kicker::new(Some(Arc::new(move || {
        // SAFETY: see KickTarget: a byte store into the live kvm_run page.
        unsafe { std::ptr::write_volatile(t.immediate_exit, 1) };
        let thread = t.thread.load(Ordering::SeqCst);
        if thread != 0 {
            // SAFETY: the thread id was recorded by the vCPU thread, which clears it before it
            // leaves `run`; signalling it only interrupts a system call.
            unsafe { libc::pthread_kill(thread as libc::pthread_t, kick_signal()) };
        }
    })));
    let vm = Arc::new(KvmVm { vm });
    Ok((vm.clone(), Box::new(KvmVcpu { fd, watch_generation: 0, run, kicker, target, _vm: vm })))
}

fn to_kvm_segment(s: &Segment, unusable_if_null: bool) -> kvm_segment {
    let a = s.attr;
    kvm_segment {
        base: s.base,
        limit: s.limit,
        selector: s.selector,
        type_: (a & attr::TYPE) as u8,
        present: (a & attr::P != 0) as u8,
        dpl: ((a & attr::DPL) >> attr::DPL_SHIFT) as u8,
        db: (a & attr::DB != 0) as u8,
        s: (a & attr::S != 0) as u8,
        l: (a & attr::L != 0) as u8,
        g: (a & attr::G != 0) as u8,
        avl: (a & attr::AVL != 0) as u8,
        unusable: (unusable_if_null && a & attr::P == 0) as u8,
        padding: 0,
    }
}

fn from_kvm_segment(k: &kvm_segment) -> Segment {
    let mut a = (k.type_ as u16) & attr::TYPE;
    if k.s != 0 {
        a |= attr::S;
    }
    a |= ((k.dpl as u16) & 3) << attr::DPL_SHIFT;
    if k.present != 0 && k.unusable == 0 {
        a |= attr::P;
    }
    if k.avl != 0 {
        a |= attr::AVL;
    }
    if k.l != 0 {
        a |= attr::L;
    }
    if k.db != 0 {
        a |= attr::DB;
    }
    if k.g != 0 {
        a |= attr::G;
    }
    Segment { selector: k.selector, base: k.base, limit: k.limit, attr: a }
}

impl crate::Vcpu for KvmVcpu {
    fn state(&mut self) -> Result<CpuState> {
        let r = self.fd.get_regs().map_err(kvm_err("KVM_GET_REGS"))?;
        let s = self.fd.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?;
        let mut st = CpuState::reset();
        st.gpr = [
            r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14,
            r.r15,
        ];
        st.rip = r.rip;
        st.rflags = r.rflags;
        st.seg = [s.es, s.cs, s.ss, s.ds, s.fs, s.gs].map(|k| from_kvm_segment(&k));
        st.tr = from_kvm_segment(&s.tr);
        st.ldtr = from_kvm_segment(&s.ldt);
        st.gdtr = DescTable { base: s.gdt.base, limit: s.gdt.limit as u32 };
        st.idtr = DescTable { base: s.idt.base, limit: s.idt.limit as u32 };
        st.cr0 = s.cr0;
        st.cr2 = s.cr2;
        st.cr3 = s.cr3;
        st.cr4 = s.cr4;
        st.efer = s.efer;
        Ok(st)
    }

    fn set_state(&mut self, st: &CpuState) -> Result<()> {
        let g = &st.gpr;
        let regs = kvm_regs {
            rax: g[0],
            rcx: g[1],
            rdx: g[2],
            rbx: g[3],
            rsp: g[4],
            rbp: g[5],
            rsi: g[6],
            rdi: g[7],
            r8: g[8],
            r9: g[9],
            r10: g[10],
            r11: g[11],
            r12: g[12],
            r13: g[13],
            r14: g[14],
            r15: g[15],
            rip: st.rip,
            rflags: st.rflags,
        };
        let mut s: kvm_sregs = self.fd.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?;
        let pm = st.cr0 & x86::state::cr0::PE != 0;
        s.es = to_kvm_segment(&st.seg[0], pm);
        s.cs = to_kvm_segment(&st.seg[1], false);
        s.ss = to_kvm_segment(&st.seg[2], pm);
        s.ds = to_kvm_segment(&st.seg[3], pm);
        s.fs = to_kvm_segment(&st.seg[4], pm);
        s.gs = to_kvm_segment(&st.seg[5], pm);
        s.tr = to_kvm_segment(&st.tr, false);
        s.ldt = to_kvm_segment(&st.ldtr, false);
        s.gdt = kvm_dtable { base: st.gdtr.base, limit: st.gdtr.limit as u16, padding: [0; 3] };
        s.idt = kvm_dtable { base: st.idtr.base, limit: st.idtr.limit as u16, padding: [0; 3] };
        s.cr0 = st.cr0;
        s.cr2 = st.cr2;
        s.cr3 = st.cr3;
        s.cr4 = st.cr4;
        s.efer = st.efer;
        self.fd.set_sregs(&s).map_err(kvm_err("KVM_SET_SREGS"))?;
        self.fd.set_regs(&regs).map_err(kvm_err("KVM_SET_REGS"))?;
        Ok(())
    }

    fn run(&mut self, ops: &mut dyn VmOps) -> Result<VcpuExit> {
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() } as u64;
        self.target.thread.store(me, Ordering::SeqCst);
        let r = self.run_loop(ops);
        self.target.thread.store(0, Ordering::SeqCst);
        r
    }

    fn kicker(&self) -> Kicker {
        self.kicker.clone()
    }
}

impl KvmVcpu {
    /// Program the debug registers to stop at the watched addresses (KVM_SET_GUEST_DEBUG with
    /// hardware breakpoints; at most four).
    fn apply_watch(&mut self, addrs: &[u64]) -> Result<()> {
        use kvm_bindings::{KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_USE_HW_BP, kvm_guest_debug};
        let mut dbg = kvm_guest_debug::default();
        if !addrs.is_empty() {
            dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
            let mut dr7 = 0u64;
            for (i, &a) in addrs.iter().take(4).enumerate() {
                dbg.arch.debugreg[i] = a;
                // Global enable, execute breakpoint (R/W = 00, LEN = 00).
                dr7 |= 2 << (i * 2);
            }
            dbg.arch.debugreg[7] = dr7;
        }
        self.fd.set_guest_debug(&dbg).map_err(kvm_err("KVM_SET_GUEST_DEBUG"))
    }

    fn run_loop(&mut self, ops: &mut dyn VmOps) -> Result<VcpuExit> {
        loop {
            let g = ops.exec_watch_generation();
            if g != self.watch_generation {
                self.watch_generation = g;
                let list = ops.exec_watch_list();
                self.apply_watch(&list)?;
            }
            if self.kicker.take() {
                // SAFETY: see KickTarget; only this thread and kickers touch the byte.
                unsafe { std::ptr::write_volatile(self.target.immediate_exit, 0) };
                if ops.poll() == Control::Stop {
                    return Ok(VcpuExit::Stopped);
                }
            }
            let runp = self.run;
            // Element size of a KVM_EXIT_IO (string I/O packs `count` elements in one exit).
            let io_size = || {
                // SAFETY: `runp` is this vCPU's kvm_run mapping; after an IO exit the kernel has
                // filled the `io` member, whose header does not overlap the data bytes the exit
                // slice borrows.
                let io = unsafe { (*runp).__bindgen_anon_1.io };
                (io.size as usize).max(1)
            };
            let exit = self.fd.run();
            match exit {
                Ok(KvmExit::IoIn(port, data)) => {
                    for chunk in data.chunks_mut(io_size()) {
                        ops.pio_read(port, chunk);
                    }
                }
                Ok(KvmExit::IoOut(port, data)) => {
                    for chunk in data.chunks(io_size()) {
                        ops.pio_write(port, chunk);
                    }
                    if ops.stop_requested() {
                        return Ok(VcpuExit::Stopped);
                    }
                }
                Ok(KvmExit::MmioRead(addr, data)) => ops.mmio_read(addr, data),
                Ok(KvmExit::MmioWrite(addr, data)) => {
                    ops.mmio_write(addr, data);
                    if ops.stop_requested() {
                        return Ok(VcpuExit::Stopped);
                    }
                }
                Ok(KvmExit::Hlt) => {
                    // Only without an in-kernel irqchip; with one the kernel waits itself.
                    if ops.wait_for_interrupt(true) == Control::Stop {
                        return Ok(VcpuExit::Stopped);
                    }
                }
                Ok(KvmExit::Shutdown) => {
                    return Ok(VcpuExit::Shutdown { reason: "triple fault (KVM_EXIT_SHUTDOWN)".into() });
                }
                Ok(KvmExit::FailEntry(reason, _)) => {
                    return Err(HypervisorError::KvmFailEntry(reason));
                }
                Ok(KvmExit::InternalError) => {
                    // SAFETY: after KVM_EXIT_INTERNAL_ERROR the kernel filled `internal`.
                    let suberror = unsafe { (*runp).__bindgen_anon_1.internal.suberror };
                    let rip = match self.fd.get_regs() {
                        Ok(r) => match self.fd.get_sregs() {
                            Ok(s) => format!("{:04x}:{:08x}", s.cs.selector, r.rip),
                            Err(_) => format!("rip {:08x}", r.rip),
                        },
                        Err(_) => "an unknown address".into(),
                    };
                    return Err(HypervisorError::KvmInternal { suberror, rip });
                }
                Ok(KvmExit::Debug(arch)) => {
                    ops.exec_watch_hit(arch.pc);
                    // Resume past the breakpoint: RF suppresses it for one instruction.
                    let mut regs = self.fd.get_regs().map_err(kvm_err("KVM_GET_REGS"))?;
                    regs.rflags |= 1 << 16;
                    self.fd.set_regs(&regs).map_err(kvm_err("KVM_SET_REGS"))?;
                }
                Ok(KvmExit::Intr) => {
                    self.kicker.kick_pending_only();
                }
                Ok(other) => return Err(HypervisorError::KvmUnexpected(format!("{other:?}"))),
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                    self.kicker.kick_pending_only();
                }
                Err(source) => {
                    return Err(HypervisorError::Kvm { op: "KVM_RUN", source });
                }
            }
        }
    }
}

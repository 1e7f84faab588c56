//! The machine: memory, buses and devices around one vCPU, and the loop that runs it until
//! the guest exits, powers off, resets, shuts down or runs out of time.

use crate::bus::{BusError, lock};
use crate::clock::Clock;
use crate::devices::pc::{Interrupts, PcDevices, PcDevicesConfig};
use crate::devices::{self, Control, StopReason};
use crate::disk::Disk;
use crate::firmware::{Bios, BiosConfig, BootTarget, LinuxEntry};
use crate::irq::{Irq, IrqLine};
use crate::layout;
use crate::memory::{GuestMemory, MemoryError};
use crate::trace::Trace;
use hypervisor::{Backend, CpuState, HypervisorError, VcpuExit, VmOps, VmOptions};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to boot.
pub enum Boot {
    /// A flat real-mode program loaded at 0000:7C00 and started there, with no firmware.
    Raw(Vec<u8>),
    /// A PC boot: the CPU starts at the reset vector in the firmware (ondol's BIOS unless
    /// `firmware` is given), POST runs, and INT 19h boots disk 80h or enters `kernel`.
    Firmware { disks: Vec<Disk>, kernel: Option<KernelBoot>, firmware: Option<Vec<u8>> },
}

/// A kernel for direct boot (Linux boot protocol).
pub struct KernelBoot {
    pub name: String,
    pub image: Vec<u8>,
    pub initrd: Option<Vec<u8>>,
    pub cmdline: String,
}

/// Called with the report of a boot that ended in a reset, before the machine boots again.
pub type RebootHook = Box<dyn FnMut(&Report) + Send>;

/// Everything a run needs.
pub struct MachineConfig {
    pub backend: Backend,
    /// Guest RAM in bytes.
    pub memory: u64,
    pub boot: Boot,
    /// Wall-clock limit for the whole run.
    pub timeout: Option<Duration>,
    /// emu only: guest time follows retired instructions, so runs repeat exactly.
    pub deterministic: bool,
    /// Where COM1 and the debug console write.
    pub console_out: Box<dyn Write + Send>,
    /// What COM1 reads (the terminal); None for no input.
    pub console_in: Option<Box<dyn Read + Send>>,
    /// End the run when a kvm guest makes no port or MMIO access for this long (for KVMs that
    /// failed the probe and may hang inside KVM_RUN).
    pub watchdog: Option<Duration>,
    /// Print the boot timeline on stderr (`--trace boot`).
    pub trace: bool,
    /// Whether the console is a terminal (the BIOS then draws with ANSI cursor moves).
    pub console_is_tty: bool,
    /// On a guest reset or triple fault, boot again as a PC does, after calling this with the
    /// report of the boot that ended; None ends the run there instead (QEMU's -no-reboot).
    pub reboot: Option<RebootHook>,
}

impl MachineConfig {
    /// A run of `boot` on `backend` with `memory` bytes of RAM, no time limit, no console
    /// input, output dropped, no trace (set the fields to change that).
    pub fn new(backend: Backend, memory: u64, boot: Boot) -> Self {
        MachineConfig {
            backend,
            memory,
            boot,
            timeout: None,
            deterministic: false,
            console_out: Box::new(std::io::sink()),
            console_in: None,
            watchdog: None,
            trace: false,
            console_is_tty: false,
            reboot: None,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The guest wrote this value to the exit port.
    Exit(u32),
    /// The guest powered the machine off.
    PowerOff,
    /// The guest reset the machine (i8042 pulse, port 0x92, triple fault on reset-capable paths).
    Reset,
    /// The `timeout` elapsed.
    Timeout,
    /// The user ended the run from the console (Ctrl-A x).
    Interrupted,
    /// The CPU shut down (triple fault).
    Shutdown { reason: String },
    /// The kvm watchdog saw no progress.
    Stalled { seconds: u64 },
    /// The firmware found nothing to boot, or the boot code gave up (INT 18h).
    BootFailed(String),
    /// The CPU halted with interrupts disabled (emu): nothing can wake it.
    HaltedForever,
}

/// A finished run.
pub struct Report {
    pub outcome: Outcome,
    /// The vCPU's registers at the end.
    pub state: Option<CpuState>,
    /// Instructions retired (emu).
    pub instructions: Option<u64>,
    /// The last instructions executed, disassembled (emu), for reports of a crash.
    pub recent: Vec<String>,
    /// Codes written to the POST port, with guest time in ns.
    pub post_codes: Vec<(u64, u8)>,
    pub elapsed: Duration,
    /// How many times the machine was reset and booted again during the run (with `reboot`).
    pub resets: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum VmmError {
    #[error(transparent)]
    Memory(#[from] MemoryError),
    #[error(transparent)]
    Hypervisor(#[from] HypervisorError),
    #[error("internal device map error: {0}")]
    Bus(#[from] BusError),
    #[error("the program is empty: nothing to run")]
    EmptyProgram,
    #[error("the program is {0} bytes: loaded at 0x7C00 it must end below 640 KiB (at most {max} bytes)", max = layout::CONVENTIONAL_END - layout::BOOT_SECTOR)]
    ProgramTooLarge(usize),
    #[error("nothing to boot: give --disk IMG, --kernel FILE, --firmware ROM or --raw FILE")]
    NothingToBoot,
    #[error(transparent)]
    Linux(#[from] crate::boot::linux::LinuxError),
}

/// A writer several devices share (COM1 and the debug console both go to the console).
/// Every write is flushed: the console is interactive.
#[derive(Clone)]
struct SharedWriter(Arc<Mutex<Box<dyn Write + Send>>>, Arc<Trace>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.console(buf);
        let mut w = lock(&self.0);
        w.write_all(buf)?;
        w.flush()?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        lock(&self.0).flush()
    }
}

/// An interrupt line into KVM's in-kernel irqchip.
struct KvmIrq {
    vm: Arc<dyn hypervisor::Vm>,
    line: u32,
}

impl IrqLine for KvmIrq {
    fn set_level(&self, level: bool) {
        // A failing KVM_IRQ_LINE leaves the interrupt undelivered, which is all a device
        // could report anyway.
        let _ = self.vm.set_irq_line(self.line, level);
    }
}

/// Extra stop reasons the machine itself raises (beyond what devices request).
#[derive(Default)]
struct Stops {
    timeout: AtomicBool,
    interrupted: AtomicBool,
    stalled: AtomicU64,
}

impl Stops {
    /// Whether the run as a whole must end (not just this boot).
    fn any(&self) -> bool {
        self.timeout.load(Ordering::SeqCst)
            || self.interrupted.load(Ordering::SeqCst)
            || self.stalled.load(Ordering::SeqCst) != 0
    }
}

/// The machine as the vCPU sees it (implements [`VmOps`]).
struct Machine {
    pc: PcDevices,
    io: crate::bus::Bus,
    mmio: crate::bus::Bus,
    clock: Clock,
    control: Arc<Control>,
    stops: Arc<Stops>,
    /// The PIC's INTR output, readable without taking its lock (emu).
    intr: Option<Arc<AtomicBool>>,
    /// Counts port and MMIO accesses (the kvm watchdog's sign of progress).
    accesses: Arc<AtomicU64>,
    deadline: Option<Instant>,
    trace: Arc<Trace>,
}

impl Machine {
    fn poll_timers(&mut self) {
        self.pc.poll(self.clock.now_ns());
    }

    fn next_timer_ns(&self) -> Option<u64> {
        self.pc.next_event_ns()
    }

    fn must_stop(&self) -> bool {
        self.control.stop_requested().is_some()
            || self.stops.timeout.load(Ordering::Relaxed)
            || self.stops.interrupted.load(Ordering::Relaxed)
            || self.stops.stalled.load(Ordering::Relaxed) != 0
            || self.deadline.map(|d| Instant::now() >= d).unwrap_or(false)
    }
}

impl VmOps for Machine {
    fn pio_read(&mut self, port: u16, data: &mut [u8]) {
        self.accesses.fetch_add(1, Ordering::Relaxed);
        if !self.io.read(port as u64, data) {
            data.fill(0xFF);
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8]) {
        self.accesses.fetch_add(1, Ordering::Relaxed);
        if port == layout::PORT_POST && self.trace.enabled() {
            self.trace.post_code(data.first().copied().unwrap_or(0));
        }
        self.io.write(port as u64, data);
    }

    fn mmio_read(&mut self, gpa: u64, data: &mut [u8]) {
        self.accesses.fetch_add(1, Ordering::Relaxed);
        if !self.mmio.read(gpa, data) {
            data.fill(0xFF);
        }
    }

    fn mmio_write(&mut self, gpa: u64, data: &[u8]) {
        self.accesses.fetch_add(1, Ordering::Relaxed);
        self.mmio.write(gpa, data);
    }

    fn stop_requested(&mut self) -> bool {
        self.control.stop_requested().is_some()
    }

    fn poll(&mut self) -> hypervisor::Control {
        self.poll_timers();
        if self.must_stop() { hypervisor::Control::Stop } else { hypervisor::Control::Continue }
    }

    fn wait_for_interrupt(&mut self, interrupts_enabled: bool) -> hypervisor::Control {
        let wakeup = self.control.wakeup().clone();
        loop {
            // Take the token before looking, so a notification after the look ends the wait.
            let token = wakeup.token();
            self.poll_timers();
            if self.must_stop() {
                return hypervisor::Control::Stop;
            }
            if interrupts_enabled && self.interrupt_pending() {
                return hypervisor::Control::Continue;
            }
            if !interrupts_enabled {
                // CLI; HLT: only an NMI, SMI or INIT would wake the CPU, and this machine
                // raises none of them. End the run rather than wait for the timeout.
                self.control.request_stop(StopReason::HaltedForever);
                return hypervisor::Control::Stop;
            }
            let next = if interrupts_enabled { self.next_timer_ns() } else { None };
            // Wake at least every 50 ms to look at the wall-clock deadline.
            let max = Duration::from_millis(50);
            match (self.clock.is_virtual(), next) {
                (true, Some(t)) => self.clock.skip_to(t),
                (_, None) => {
                    wakeup.wait(token, Some(max));
                }
                (false, Some(t)) => {
                    let wait = Duration::from_nanos(t.saturating_sub(self.clock.now_ns()));
                    wakeup.wait(token, Some(wait.min(max)));
                }
            }
        }
    }

    fn interrupt_pending(&mut self) -> bool {
        self.intr.as_ref().map(|f| f.load(Ordering::SeqCst)).unwrap_or(false)
    }

    fn acknowledge_interrupt(&mut self) -> Option<u8> {
        self.pc.pic.as_ref().and_then(|p| lock(p).acknowledge())
    }

    fn a20_enabled(&mut self) -> bool {
        self.control.a20_enabled()
    }

    fn guest_time_ns(&mut self) -> Option<u64> {
        Some(self.clock.now_ns())
    }

    fn fpu_error(&mut self, asserted: bool) {
        self.pc.fpu_irq.set_level(asserted);
    }

    fn exec_watch_generation(&mut self) -> u64 {
        self.trace.watch_generation()
    }

    fn exec_watch_list(&mut self) -> Vec<u64> {
        self.trace.watch().1
    }

    fn exec_watch_hit(&mut self, addr: u64) {
        self.trace.exec_hit(addr);
    }

    fn slice_instructions(&mut self) -> u64 {
        match (&self.clock, self.next_timer_ns()) {
            (Clock::Virtual { .. }, Some(t)) => {
                let now = self.clock.now_ns();
                (t.saturating_sub(now) / crate::clock::VIRTUAL_NS_PER_INSTRUCTION).clamp(64, 200_000)
            }
            _ => 50_000,
        }
    }
}

/// Check what can be checked before any VM exists (so a bad argument is reported before the
/// backend is chosen).
pub fn validate(memory: u64, boot: &Boot) -> Result<(), VmmError> {
    GuestMemory::check_size(memory)?;
    match boot {
        Boot::Raw(prog) if prog.is_empty() => Err(VmmError::EmptyProgram),
        Boot::Raw(prog) if prog.len() as u64 > layout::CONVENTIONAL_END - layout::BOOT_SECTOR => {
            Err(VmmError::ProgramTooLarge(prog.len()))
        }
        Boot::Raw(_) => Ok(()),
        Boot::Firmware { disks, kernel: None, firmware: None } if disks.is_empty() => Err(VmmError::NothingToBoot),
        Boot::Firmware { firmware: Some(rom), .. } => {
            // Checked again when mapped; here so a bad ROM is reported before anything runs.
            let mut m = GuestMemory::new(crate::layout::MIN_MEMORY)?;
            m.set_firmware(rom)?;
            Ok(())
        }
        Boot::Firmware { .. } => Ok(()),
    }
}

/// Run a VM to its end. With `reboot`, a guest reset or triple fault starts the machine
/// again as a PC's reset line does (the disks, with what the guest wrote, carry over); the run
/// ends on exit, power-off, timeout or the console's Ctrl-A x.
pub fn run(cfg: MachineConfig) -> Result<Report, VmmError> {
    let start = Instant::now();
    let MachineConfig {
        backend,
        memory,
        mut boot,
        timeout,
        deterministic,
        console_out,
        console_in,
        watchdog,
        trace,
        console_is_tty,
        mut reboot,
    } = cfg;
    validate(memory, &boot)?;
    let session = Session {
        out: Arc::new(Mutex::new(console_out)),
        stops: Arc::new(Stops::default()),
        current: Arc::new(Mutex::new(None)),
        done: Arc::new(AtomicBool::new(false)),
    };
    // Ends the helper threads however this function returns.
    struct Done(Arc<AtomicBool>);
    impl Drop for Done {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let _done = Done(session.done.clone());
    if let Some(t) = timeout {
        let (stops, current, done) = (session.stops.clone(), session.current.clone(), session.done.clone());
        std::thread::spawn(move || {
            let end = Instant::now() + t;
            while !done.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now >= end {
                    stops.timeout.store(true, Ordering::SeqCst);
                    wake(&current);
                    return;
                }
                std::thread::sleep((end - now).min(Duration::from_millis(100)));
            }
        });
    }
    if let Some(input) = console_in {
        spawn_console_input(input, session.stops.clone(), session.current.clone(), session.done.clone());
    }
    let once = BootOnce {
        backend,
        memory,
        deterministic,
        watchdog,
        trace,
        console_is_tty,
        deadline: timeout.map(|t| start + t),
    };
    let mut resets = 0;
    // The last triple fault and how many boots in a row ended in exactly it.
    let mut last_shutdown: Option<String> = None;
    let mut same_shutdowns = 0;
    loop {
        let mut report = boot_once(&once, &session, &mut boot)?;
        let reset = matches!(report.outcome, Outcome::Reset | Outcome::Shutdown { .. });
        match &report.outcome {
            Outcome::Shutdown { reason } if last_shutdown.as_deref() == Some(reason) => same_shutdowns += 1,
            Outcome::Shutdown { reason } => (last_shutdown, same_shutdowns) = (Some(reason.clone()), 1),
            _ => (last_shutdown, same_shutdowns) = (None, 0),
        }
        // A guest that triple-faults at the same place on every boot would reboot forever.
        let looping = same_shutdowns >= SAME_SHUTDOWNS_TO_STOP;
        match reboot.as_mut() {
            Some(notify) if reset && !looping && !session.stops.any() => {
                notify(&report);
                resets += 1;
            }
            _ => {
                report.resets = resets;
                report.elapsed = start.elapsed();
                return Ok(report);
            }
        }
    }
}

/// Boots in a row that end in the same triple fault (same vector and CS:EIP) after which
/// ondol stops booting again and reports it: the guest cannot get past it.
pub const SAME_SHUTDOWNS_TO_STOP: u32 = 3;

/// What outlives one boot of the machine: the console, the stop flags, and the way to wake
/// the vCPU and feed COM1 of whichever boot is running.
struct Session {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    stops: Arc<Stops>,
    current: Arc<Mutex<Option<Current>>>,
    /// Set when the run is over: the helper threads end.
    done: Arc<AtomicBool>,
}

/// The running boot's vCPU kicker, device wakeup and COM1.
struct Current {
    kicker: hypervisor::Kicker,
    wakeup: Arc<devices::Wakeup>,
    serial: Arc<Mutex<devices::serial::Serial>>,
}

/// Make the running boot look at its stop flags now.
fn wake(current: &Mutex<Option<Current>>) {
    if let Some(c) = lock(current).as_ref() {
        c.kicker.kick();
        c.wakeup.notify();
    }
}

/// The settings every boot of a run shares.
struct BootOnce {
    backend: Backend,
    memory: u64,
    deterministic: bool,
    watchdog: Option<Duration>,
    trace: bool,
    console_is_tty: bool,
    deadline: Option<Instant>,
}

/// One boot, from power-on or reset to whatever ends it. The disks go to the firmware and come
/// back into `boot` at the end.
fn boot_once(o: &BootOnce, session: &Session, boot: &mut Boot) -> Result<Report, VmmError> {
    let start = Instant::now();
    let backend = o.backend;
    let icount = Arc::new(AtomicU64::new(0));
    let clock =
        if o.deterministic && backend == Backend::Emu { Clock::virtual_clock(icount.clone()) } else { Clock::host() };
    let trace = Arc::new(Trace::new(o.trace, clock.clone()));
    let mut mem = GuestMemory::new(o.memory)?;
    let (initial, firmware) = match boot {
        Boot::Raw(prog) => {
            mem.write(layout::BOOT_SECTOR, prog)?;
            let mut s = CpuState::real_mode(0, layout::BOOT_SECTOR as u16);
            s.gpr[x86::state::RSP] = layout::BOOT_SECTOR;
            s.gpr[x86::state::RDX] = 0x80;
            (s, None)
        }
        Boot::Firmware { disks, kernel, firmware } => {
            let rom_size = match &firmware {
                Some(rom) => {
                    mem.set_firmware(rom)?;
                    trace.reset("the firmware image given with --firmware", false);
                    rom.len() as u64
                }
                None => {
                    mem.set_firmware(crate::firmware::rom())?;
                    trace.reset("ondol's BIOS", true);
                    crate::firmware::rom().len() as u64
                }
            };
            let target = match kernel {
                Some(k) => {
                    let l = crate::boot::linux::load(&mem, &k.name, &k.image, k.initrd.as_deref(), &k.cmdline)?;
                    trace.kernel_direct(format!(
                        "kernel placed by ondol (Linux boot protocol {}.{:02}): setup {} bytes at {:04X}:0000, kernel {} bytes at {:#x}{}, command line \"{}\"",
                        l.protocol.0,
                        l.protocol.1,
                        l.setup_bytes,
                        l.setup_segment,
                        l.kernel_bytes,
                        l.kernel_start,
                        l.initrd.map(|(a, n)| format!(", initrd {n} bytes at {a:#x}")).unwrap_or_default(),
                        l.cmdline
                    ), l.kernel_start);
                    BootTarget::Linux(LinuxEntry { segment: l.setup_segment })
                }
                None => BootTarget::Disk,
            };
            (CpuState::reset(), Some((std::mem::take(disks), target, rom_size)))
        }
    };
    let opts = VmOptions { icount_sink: Some(icount), kvm_device: None };
    // SAFETY: `mem` lives until the end of this function, after the VM and vCPU are dropped.
    let (vm, mut vcpu) = unsafe { hypervisor::create(backend, &mem.slots(), &opts)? };
    vcpu.set_state(&initial)?;

    let control = Arc::new(Control::new(true));
    let console = SharedWriter(session.out.clone(), trace.clone());
    let interrupts = if vm.in_kernel_irqchip() {
        let vm = vm.clone();
        Interrupts::External(Arc::new(move |line| -> Irq { Arc::new(KvmIrq { vm: vm.clone(), line }) }))
    } else {
        Interrupts::Emulated
    };
    let pc = PcDevices::new(PcDevicesConfig {
        interrupts,
        clock: clock.clone(),
        control: control.clone(),
        serial_out: Box::new(console.clone()),
        debugcon_out: Box::new(console.clone()),
        ram_below_4g: mem.below_4g(),
        ram_above_4g: mem.above_4g(),
    });
    let mut io = crate::bus::Bus::new();
    pc.map_ports(&mut io)?;
    let wakeup = control.wakeup().clone();
    let failure = Arc::new(Mutex::new(None));
    let mut bios_dev = None;
    if let Some((disks, target, rom_size)) = firmware {
        let bios = Arc::new(Mutex::new(Bios::new(BiosConfig {
            mem: mem.ram().clone(),
            disks,
            boot: target,
            console: Box::new(console.clone()),
            console_is_tty: o.console_is_tty,
            serial: pc.serial.clone(),
            cmos: pc.cmos.clone(),
            control: control.clone(),
            a20_gate: backend == Backend::Emu,
            clock: clock.clone(),
            trace: trace.clone(),
            ram_below_4g: mem.below_4g(),
            ram_above_4g: mem.above_4g(),
            rom_size,
            failure: failure.clone(),
        })));
        io.insert(layout::PORT_BIOS_CALL as u64, 4, "bios", bios.clone())?;
        bios_dev = Some(bios);
    }

    let stops = session.stops.clone();
    let accesses = Arc::new(AtomicU64::new(0));
    let kicker = vcpu.kicker();
    let done = Arc::new(AtomicBool::new(false));
    *lock(&session.current) =
        Some(Current { kicker: kicker.clone(), wakeup: wakeup.clone(), serial: pc.serial.clone() });

    if let (Some(limit), Backend::Kvm) = (o.watchdog, backend) {
        let (stops, kicker, done, accesses) = (stops.clone(), kicker.clone(), done.clone(), accesses.clone());
        std::thread::spawn(move || {
            let mut last = accesses.load(Ordering::Relaxed);
            let mut since = Instant::now();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let now = accesses.load(Ordering::Relaxed);
                if now != last {
                    last = now;
                    since = Instant::now();
                } else if since.elapsed() >= limit {
                    stops.stalled.store(limit.as_secs().max(1), Ordering::SeqCst);
                    kicker.kick();
                    // A KVM stuck inside KVM_RUN may not even return for a signal.
                    std::thread::sleep(Duration::from_secs(2));
                    if !done.load(Ordering::Relaxed) {
                        eprintln!(
                            "ondol: the kvm vCPU made no progress for {} s and did not return when interrupted; this host's KVM cannot run this guest: use --backend emu",
                            limit.as_secs()
                        );
                        std::process::exit(1);
                    }
                    return;
                }
            }
        });
    }

    let intr = pc.pic.as_ref().map(|p| lock(p).intr_flag());
    let post = pc.post.clone();
    let mut machine = Machine {
        pc,
        io,
        mmio: crate::bus::Bus::new(),
        clock,
        control: control.clone(),
        stops: stops.clone(),
        intr,
        accesses,
        deadline: o.deadline,
        trace,
    };
    let result = vcpu.run(&mut machine);
    done.store(true, Ordering::SeqCst);
    *lock(&session.current) = None;
    let _ = lock(&console.0).flush();
    if let (Some(bios), Boot::Firmware { disks, .. }) = (&bios_dev, boot) {
        *disks = lock(bios).take_disks();
    }
    let exit = result?;
    let outcome = match exit {
        VcpuExit::Shutdown { reason } => Outcome::Shutdown { reason },
        VcpuExit::Stopped => match control.stop_requested() {
            Some(StopReason::Exit(code)) => Outcome::Exit(code),
            Some(StopReason::PowerOff) => Outcome::PowerOff,
            Some(StopReason::Reset) => Outcome::Reset,
            Some(StopReason::BootFailed) => {
                Outcome::BootFailed(lock(&failure).clone().unwrap_or_else(|| "the boot failed".into()))
            }
            Some(StopReason::HaltedForever) => Outcome::HaltedForever,
            None if stops.interrupted.load(Ordering::SeqCst) => Outcome::Interrupted,
            None if stops.stalled.load(Ordering::SeqCst) != 0 => {
                Outcome::Stalled { seconds: stops.stalled.load(Ordering::SeqCst) }
            }
            None => Outcome::Timeout,
        },
    };
    let recent = match outcome {
        Outcome::Shutdown { .. } | Outcome::Timeout | Outcome::Stalled { .. } | Outcome::HaltedForever => {
            vcpu.recent_instructions(&mut machine)
        }
        _ => Vec::new(),
    };
    Ok(Report {
        outcome,
        state: vcpu.state().ok(),
        instructions: vcpu.instructions(),
        recent,
        post_codes: lock(&post).codes().map(|c| (c.time_ns, c.code)).collect(),
        elapsed: start.elapsed(),
        resets: 0,
    })
}

/// Ctrl-A then x on the console ends the run (as in QEMU's -nographic); Ctrl-A Ctrl-A sends a
/// literal Ctrl-A.
const ESCAPE: u8 = 0x01;

/// Feed the console's bytes to COM1 of whichever boot is running (across reboots).
fn spawn_console_input(
    mut input: Box<dyn Read + Send>,
    stops: Arc<Stops>,
    current: Arc<Mutex<Option<Current>>>,
    done: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut escape = false;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let mut bytes = Vec::with_capacity(n);
            for &b in &buf[..n] {
                if escape {
                    escape = false;
                    match b {
                        b'x' | b'X' => {
                            stops.interrupted.store(true, Ordering::SeqCst);
                            wake(&current);
                            return;
                        }
                        ESCAPE => bytes.push(ESCAPE),
                        _ => {}
                    }
                } else if b == ESCAPE {
                    escape = true;
                } else {
                    bytes.push(b);
                }
            }
            let mut rest = &bytes[..];
            while !rest.is_empty() && !done.load(Ordering::Relaxed) {
                // Between boots there is no COM1: the bytes wait for the next one.
                let taken = match lock(&current).as_ref() {
                    Some(c) => {
                        let taken = lock(&c.serial).enqueue_input(rest);
                        c.wakeup.notify();
                        taken
                    }
                    None => 0,
                };
                rest = &rest[taken..];
                if !rest.is_empty() {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    });
}

//! The PC's devices wired onto the port bus for a backend: which models exist, at which ports,
//! with which interrupt lines (ondol's PICs on `emu`, the in-kernel irqchip on `kvm`).

use crate::bus::{Bus, BusError, lock};
use crate::clock::Clock;
use crate::devices::cmos::{Cmos, CmosPort};
use crate::devices::debugcon::{DebugCon, DebugConPort};
use crate::devices::exit::ExitPort;
use crate::devices::i8042::{I8042, I8042Port};
use crate::devices::pic::{ElcrPort, Pic, PicChip, PicIrq, PicPort};
use crate::devices::pit::{Pit, PitPort, PortB};
use crate::devices::post::{Post, PostPort};
use crate::devices::serial::{Serial, SerialPort};
use crate::devices::sysctl::{FpuPort, SystemControlA};
use crate::devices::{Control, Wakeup};
use crate::irq::{Irq, IrqLine};
use crate::layout::*;
use hypervisor::Vm;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A writer several devices share (COM1 and the debug console both go to the console).
/// Every write is flushed: the console is interactive.
#[derive(Clone)]
pub struct SharedWriter(pub Arc<Mutex<Box<dyn Write + Send>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
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
    vm: Arc<dyn Vm>,
    line: u32,
}

impl IrqLine for KvmIrq {
    fn set_level(&self, level: bool) {
        // A failing KVM_IRQ_LINE leaves the interrupt undelivered; the guest sees a lost IRQ,
        // which is all a device could report anyway.
        let _ = self.vm.set_irq_line(self.line, level);
    }
}

/// What `build` needs.
pub struct PcConfig {
    pub vm: Arc<dyn Vm>,
    pub clock: Clock,
    pub control: Arc<Control>,
    pub console: SharedWriter,
    pub memory_below_4g: u64,
    pub memory_above_4g: u64,
}

/// The wired machine.
pub struct Pc {
    pub io: Bus,
    pub mmio: Bus,
    /// ondol's PICs (emu); None when the kernel's irqchip is used.
    pub pic: Option<Arc<Mutex<Pic>>>,
    /// ondol's PIT (emu); None on kvm.
    pub pit: Option<Arc<Mutex<Pit>>>,
    pub cmos: Arc<Mutex<Cmos>>,
    pub serial: Arc<Mutex<Serial>>,
    pub i8042: Arc<Mutex<I8042>>,
    pub post: Arc<Mutex<Post>>,
    pub wakeup: Arc<Wakeup>,
}

impl Pc {
    /// Advance the timer devices to `now_ns`.
    pub fn poll_timers(&self, now_ns: u64) {
        if let Some(p) = &self.pit {
            lock(p).poll(now_ns);
        }
        lock(&self.cmos).poll(now_ns);
    }

    /// When the next timer interrupt is due, if any is programmed.
    pub fn next_timer_ns(&self) -> Option<u64> {
        let pit = self.pit.as_ref().and_then(|p| lock(p).next_event_ns());
        let rtc = lock(&self.cmos).next_event_ns();
        match (pit, rtc) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn shared<T>(v: T) -> Arc<Mutex<T>> {
    Arc::new(Mutex::new(v))
}

/// Build the PC's devices and map them.
pub fn build(cfg: &PcConfig) -> Result<Pc, BusError> {
    let wakeup = cfg.control.wakeup().clone();
    let pic = (!cfg.vm.in_kernel_irqchip()).then(|| shared(Pic::new()));
    let irq = |line: u32| -> Irq {
        match &pic {
            Some(p) => Arc::new(PicIrq::new(p.clone(), line, wakeup.clone())),
            None => Arc::new(KvmIrq {
                vm: cfg.vm.clone(),
                line,
            }),
        }
    };

    let mut io = Bus::new();
    if let Some(p) = &pic {
        io.insert(
            PORT_PIC_MASTER as u64,
            2,
            "pic-master",
            shared(PicPort::new(p.clone(), PicChip::Master)),
        )?;
        io.insert(
            PORT_PIC_SLAVE as u64,
            2,
            "pic-slave",
            shared(PicPort::new(p.clone(), PicChip::Slave)),
        )?;
        io.insert(
            PORT_ELCR as u64,
            2,
            "elcr",
            shared(ElcrPort::new(p.clone())),
        )?;
    }
    let pit = pic
        .as_ref()
        .map(|_| shared(Pit::new(cfg.clock.clone(), irq(IRQ_PIT))));
    if let Some(p) = &pit {
        io.insert(PORT_PIT as u64, 4, "pit", shared(PitPort(p.clone())))?;
        io.insert(PORT_SYSTEM_B as u64, 1, "port61", shared(PortB(p.clone())))?;
    }
    let serial = shared(Serial::new(irq(IRQ_COM1), Box::new(cfg.console.clone())));
    io.insert(
        PORT_COM1 as u64,
        8,
        "com1",
        shared(SerialPort(serial.clone())),
    )?;
    let i8042 = shared(I8042::new(
        cfg.control.clone(),
        irq(IRQ_KEYBOARD),
        irq(IRQ_MOUSE),
    ));
    io.insert(
        PORT_I8042_DATA as u64,
        1,
        "i8042-data",
        shared(I8042Port::data(i8042.clone())),
    )?;
    io.insert(
        PORT_I8042_CMD as u64,
        1,
        "i8042-cmd",
        shared(I8042Port::command(i8042.clone())),
    )?;
    let cmos = shared(Cmos::new(
        cfg.clock.clone(),
        irq(IRQ_RTC),
        cfg.memory_below_4g,
        cfg.memory_above_4g,
    ));
    io.insert(PORT_CMOS as u64, 2, "cmos", shared(CmosPort(cmos.clone())))?;
    let post = shared(Post::new(cfg.clock.clone()));
    io.insert(PORT_POST as u64, 1, "post", shared(PostPort(post.clone())))?;
    io.insert(
        PORT_SYSTEM_A as u64,
        1,
        "port92",
        shared(SystemControlA::new(cfg.control.clone())),
    )?;
    io.insert(PORT_FPU as u64, 2, "fpu", shared(FpuPort))?;
    io.insert(
        PORT_EXIT as u64,
        4,
        "exit",
        shared(ExitPort::new(cfg.control.clone())),
    )?;
    let debugcon = shared(DebugCon::new(Box::new(cfg.console.clone())));
    io.insert(
        PORT_DEBUGCON as u64,
        1,
        "debugcon",
        shared(DebugConPort(debugcon)),
    )?;

    Ok(Pc {
        io,
        mmio: Bus::new(),
        pic,
        pit,
        cmos,
        serial,
        i8042,
        post,
        wakeup,
    })
}

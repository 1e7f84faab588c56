//! The legacy PC device set: every core built, its interrupt lines wired, and every port range
//! mapped on a port bus. With [`Interrupts::Emulated`] (the `emu` backend) ondol's own i8259
//! pair and i8254 are part of it; with [`Interrupts::External`] (`kvm`'s in-kernel irqchip and
//! PIT) they are left out and the other devices' lines go where the closure says.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::Control;
use super::acpi::{AcpiPm, AcpiPmPort, PM_TMR_LEN, PM1_CNT_LEN, PM1_EVT_LEN, PmBlock};
use super::cmos::{CMOS_SIZE, Cmos, CmosPort};
use super::debugcon::{DebugCon, DebugConPort};
use super::exit::ExitPort;
use super::i8042::{I8042, I8042Port};
use super::pic::{ElcrPort, Pic, PicChip, PicIrq, PicPort};
use super::pit::{Pit, PitPort, PortB};
use super::post::{Post, PostPort};
use super::serial::{Serial, SerialPort, UART_PORTS};
use super::sysctl::{FpuPort, ResetControl, SystemControlA};
use crate::bus::{Bus, BusError, SharedDevice, lock};
use crate::clock::Clock;
use crate::irq::Irq;
use crate::layout::*;

/// Where device interrupt lines go.
#[derive(Clone)]
pub enum Interrupts {
    /// To ondol's own PIC pair (which the CPU polls); the PIT is ondol's too.
    Emulated,
    /// To an interrupt controller outside ondol (KVM's in-kernel irqchip, which also has the
    /// PIT): the closure gives the line for an ISA IRQ number.
    External(Arc<dyn Fn(u32) -> Irq + Send + Sync>),
}

/// What [`PcDevices::new`] needs from the machine.
pub struct PcDevicesConfig {
    pub interrupts: Interrupts,
    pub clock: Clock,
    pub control: Arc<Control>,
    /// Where COM1's transmitted bytes go (the terminal).
    pub serial_out: Box<dyn Write + Send>,
    /// Where port 0xE9's bytes go.
    pub debugcon_out: Box<dyn Write + Send>,
    /// RAM below 4 GiB and above it, for the CMOS memory-size fields.
    pub ram_below_4g: u64,
    pub ram_above_4g: u64,
}

/// Every legacy device core, shared with the bus adapters [`PcDevices::map_ports`] creates.
pub struct PcDevices {
    pub control: Arc<Control>,
    /// ondol's PICs; None with external interrupts.
    pub pic: Option<Arc<Mutex<Pic>>>,
    /// ondol's PIT; None with external interrupts.
    pub pit: Option<Arc<Mutex<Pit>>>,
    pub cmos: Arc<Mutex<Cmos>>,
    pub serial: Arc<Mutex<Serial>>,
    pub i8042: Arc<Mutex<I8042>>,
    pub post: Arc<Mutex<Post>>,
    pub debugcon: Arc<Mutex<DebugCon>>,
    /// The ACPI power-management registers and PM timer (both backends).
    pub acpi: Arc<Mutex<AcpiPm>>,
    /// IRQ 13, driven by the x87's FERR# and cleared by a write to port F0h.
    pub fpu_irq: Irq,
}

impl PcDevices {
    pub fn new(cfg: PcDevicesConfig) -> Self {
        let pic = matches!(cfg.interrupts, Interrupts::Emulated).then(|| Arc::new(Mutex::new(Pic::new())));
        let wakeup = cfg.control.wakeup().clone();
        let irq = |line: u32| -> Irq {
            match (&cfg.interrupts, &pic) {
                (Interrupts::External(f), _) => f(line),
                (Interrupts::Emulated, Some(p)) => Arc::new(PicIrq::new(p.clone(), line, wakeup.clone())),
                (Interrupts::Emulated, None) => unreachable!("an emulated PIC is always built"),
            }
        };
        PcDevices {
            pit: pic.as_ref().map(|_| Arc::new(Mutex::new(Pit::new(cfg.clock.clone(), irq(IRQ_PIT))))),
            cmos: Arc::new(Mutex::new(Cmos::new(cfg.clock.clone(), irq(IRQ_RTC), cfg.ram_below_4g, cfg.ram_above_4g))),
            serial: Arc::new(Mutex::new(Serial::new(irq(IRQ_COM1), cfg.serial_out))),
            i8042: Arc::new(Mutex::new(I8042::new(cfg.control.clone(), irq(IRQ_KEYBOARD), irq(IRQ_MOUSE)))),
            post: Arc::new(Mutex::new(Post::new(cfg.clock.clone()))),
            debugcon: Arc::new(Mutex::new(DebugCon::new(cfg.debugcon_out))),
            acpi: Arc::new(Mutex::new(AcpiPm::new(cfg.clock.clone(), irq(IRQ_SCI), cfg.control.clone()))),
            fpu_irq: irq(IRQ_FPU),
            control: cfg.control,
            pic,
        }
    }

    /// The (base, length, name, adapter) of every port range, in the order they are mapped.
    pub fn port_ranges(&self) -> Vec<(u16, u64, &'static str, SharedDevice)> {
        fn dev(d: impl crate::bus::BusDevice + 'static) -> SharedDevice {
            Arc::new(Mutex::new(d))
        }
        let mut v = Vec::new();
        if let Some(pic) = &self.pic {
            v.push((PORT_PIC_MASTER, 2, "pic-master", dev(PicPort::new(pic.clone(), PicChip::Master))));
            v.push((PORT_PIC_SLAVE, 2, "pic-slave", dev(PicPort::new(pic.clone(), PicChip::Slave))));
            v.push((PORT_ELCR, 2, "elcr", dev(ElcrPort::new(pic.clone()))));
        }
        if let Some(pit) = &self.pit {
            v.push((PORT_PIT, 4, "pit", dev(PitPort(pit.clone()))));
            v.push((PORT_SYSTEM_B, 1, "system-port-b", dev(PortB(pit.clone()))));
        }
        v.extend([
            (PORT_I8042_DATA, 1, "i8042-data", dev(I8042Port::data(self.i8042.clone()))),
            (PORT_I8042_CMD, 1, "i8042-cmd", dev(I8042Port::command(self.i8042.clone()))),
            (PORT_CMOS, 2, "cmos", dev(CmosPort(self.cmos.clone()))),
            (PORT_POST, 1, "post", dev(PostPort(self.post.clone()))),
            (PORT_SYSTEM_A, 1, "system-port-a", dev(SystemControlA::new(self.control.clone()))),
            (PORT_RESET_CONTROL, 1, "reset-control", dev(ResetControl::new(self.control.clone()))),
            (PORT_FPU, 2, "fpu", dev(FpuPort::new(self.fpu_irq.clone()))),
            (PORT_EXIT, 1, "exit", dev(ExitPort::new(self.control.clone()))),
            (PORT_DEBUGCON, 1, "debugcon", dev(DebugConPort(self.debugcon.clone()))),
            (PORT_COM1, UART_PORTS, "com1", dev(SerialPort(self.serial.clone()))),
            (PORT_ACPI_PM1A_EVT, PM1_EVT_LEN, "acpi-pm1a-evt", dev(AcpiPmPort::new(self.acpi.clone(), PmBlock::Event))),
            (
                PORT_ACPI_PM1A_CNT,
                PM1_CNT_LEN,
                "acpi-pm1a-cnt",
                dev(AcpiPmPort::new(self.acpi.clone(), PmBlock::Control)),
            ),
            (PORT_ACPI_PM_TMR, PM_TMR_LEN, "acpi-pm-tmr", dev(AcpiPmPort::new(self.acpi.clone(), PmBlock::Timer))),
        ]);
        v
    }

    /// Map every device on the port bus.
    pub fn map_ports(&self, bus: &mut Bus) -> Result<(), BusError> {
        for (base, len, name, dev) in self.port_ranges() {
            bus.insert(base as u64, len, name, dev)?;
        }
        Ok(())
    }

    /// Raise the timer interrupts due by `now_ns` (PIT, RTC, the ACPI PM timer's overflow).
    /// Call it from the vCPU loop at least when guest time passes [`PcDevices::next_event_ns`].
    pub fn poll(&self, now_ns: u64) {
        if let Some(pit) = &self.pit {
            lock(pit).poll(now_ns);
        }
        lock(&self.cmos).poll(now_ns);
        lock(&self.acpi).poll(now_ns);
    }

    /// Guest time of the next timer interrupt, if any (a halted vCPU may sleep until then).
    pub fn next_event_ns(&self) -> Option<u64> {
        let pit = self.pit.as_ref().and_then(|p| lock(p).next_event_ns());
        let rtc = lock(&self.cmos).next_event_ns();
        let acpi = lock(&self.acpi).next_event_ns();
        [pit, rtc, acpi].into_iter().flatten().min()
    }
}

const _: () = assert!(CMOS_SIZE == 128);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn machine() -> (PcDevices, Bus, Clock) {
        let clock = Clock::virtual_clock(Arc::new(AtomicU64::new(0)));
        let devs = PcDevices::new(PcDevicesConfig {
            interrupts: Interrupts::Emulated,
            clock: clock.clone(),
            control: Arc::new(Control::new(true)),
            serial_out: Box::new(std::io::sink()),
            debugcon_out: Box::new(std::io::sink()),
            ram_below_4g: 128 << 20,
            ram_above_4g: 0,
        });
        let mut bus = Bus::new();
        devs.map_ports(&mut bus).unwrap();
        (devs, bus, clock)
    }

    fn out(bus: &Bus, port: u16, v: u8) {
        assert!(bus.write(port as u64, &[v]), "port {port:#x} unmapped");
    }

    fn inb(bus: &Bus, port: u16) -> u8 {
        let mut d = [0u8];
        assert!(bus.read(port as u64, &mut d), "port {port:#x} unmapped");
        d[0]
    }

    #[test]
    fn every_range_maps_without_overlap() {
        let (devs, bus, _) = machine();
        assert_eq!(bus.ranges().count(), devs.port_ranges().len());
    }

    /// A BIOS-style boot: program the PICs and the PIT through the bus, then let IRQ 0 arrive
    /// as vector 8 and the RTC's update interrupt as vector 0x70.
    #[test]
    fn timer_interrupts_reach_the_cpu_through_the_bus() {
        let (devs, bus, clock) = machine();
        for (port, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 4), (0x21, 1)] {
            out(&bus, PORT_PIC_MASTER + port - 0x20, v);
        }
        for (port, v) in [(0xA0, 0x11), (0xA1, 0x70), (0xA1, 2), (0xA1, 1)] {
            out(&bus, PORT_PIC_SLAVE + port - 0xA0, v);
        }
        out(&bus, PORT_PIT + 3, 0x34);
        out(&bus, PORT_PIT, 0x00);
        out(&bus, PORT_PIT, 0x00);
        let next = devs.next_event_ns().unwrap();
        clock.skip_to(next);
        devs.poll(clock.now_ns());
        assert_eq!(lock(devs.pic.as_ref().unwrap()).acknowledge(), Some(0x08));
        out(&bus, PORT_PIC_MASTER, 0x20);
        // RTC update-ended interrupt. Read register C first: if the skip above crossed a
        // second boundary its UF flag is already set, and enabling UIE would raise at once.
        out(&bus, PORT_CMOS, 0x0C);
        inb(&bus, PORT_CMOS + 1);
        out(&bus, PORT_CMOS, 0x0B);
        out(&bus, PORT_CMOS + 1, 0x12);
        let rtc_next = lock(&devs.cmos).next_event_ns().unwrap();
        out(&bus, PORT_PIT + 3, 0x30); // stop the periodic timer: one-shot
        out(&bus, PORT_PIT, 0xFF);
        out(&bus, PORT_PIT, 0xFF);
        clock.skip_to(rtc_next);
        devs.poll(clock.now_ns());
        let mut vectors = Vec::new();
        loop {
            // (Not `while let`: its guard would live through the body, which locks again.)
            let Some(v) = lock(devs.pic.as_ref().unwrap()).acknowledge() else {
                break;
            };
            vectors.push(v);
            out(&bus, PORT_PIC_SLAVE, 0x20);
            out(&bus, PORT_PIC_MASTER, 0x20);
        }
        assert!(vectors.contains(&0x70), "{vectors:x?}");
        out(&bus, PORT_CMOS, 0x0C);
        assert_eq!(inb(&bus, PORT_CMOS + 1) & 0x90, 0x90);
    }

    #[test]
    fn serial_input_and_keyboard_raise_their_irqs() {
        let (devs, bus, _) = machine();
        for (port, v) in [(0, 0x11), (1, 0x08), (1, 4), (1, 1)] {
            out(&bus, PORT_PIC_MASTER + port, v);
        }
        out(&bus, PORT_COM1 + 1, 0x01);
        assert_eq!(lock(&devs.serial).enqueue_input(b"x"), 1);
        assert_eq!(lock(devs.pic.as_ref().unwrap()).acknowledge(), Some(0x0C));
        assert_eq!(inb(&bus, PORT_COM1), b'x');
        lock(&devs.i8042).push_scancodes(&[0x1C]);
        assert_eq!(lock(devs.pic.as_ref().unwrap()).acknowledge(), Some(0x09));
        assert_eq!(inb(&bus, PORT_I8042_DATA), 0x1C);
    }

    /// OSPM's S5 entry through the bus: SLP_TYP = 7 then SLP_EN in PM1a control at 0x604.
    #[test]
    fn acpi_s5_through_the_pm1a_control_port_powers_off() {
        let (devs, bus, _) = machine();
        assert_eq!(inb(&bus, PORT_ACPI_PM1A_CNT) & 1, 1, "SCI_EN set from power-on");
        assert!(bus.write(PORT_ACPI_PM1A_CNT as u64, &(7u16 << 10 | 1).to_le_bytes()));
        assert_eq!(devs.control.stop_requested(), None);
        assert!(bus.write(PORT_ACPI_PM1A_CNT as u64, &(7u16 << 10 | 1 << 13 | 1).to_le_bytes()));
        assert_eq!(devs.control.stop_requested(), Some(super::super::StopReason::PowerOff));
    }

    /// The SCI is IRQ 9 on the slave PIC, level triggered through the ELCR, as Linux sets it
    /// up in PIC mode: the PM timer's overflow with TMR_EN arrives as vector 0x71 and stays
    /// pending until TMR_STS is cleared.
    #[test]
    fn the_acpi_sci_is_a_level_irq_9_on_the_slave_pic() {
        let (devs, bus, clock) = machine();
        for (port, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 4), (0x21, 1), (0x21, 0xFB)] {
            out(&bus, PORT_PIC_MASTER + port - 0x20, v);
        }
        for (port, v) in [(0xA0, 0x11), (0xA1, 0x70), (0xA1, 2), (0xA1, 1), (0xA1, 0xFD)] {
            out(&bus, PORT_PIC_SLAVE + port - 0xA0, v);
        }
        out(&bus, PORT_ELCR + 1, 0x02); // IRQ 9 level triggered
        let mut t = [0u8; 4];
        bus.read(PORT_ACPI_PM_TMR as u64, &mut t);
        assert!(bus.write(PORT_ACPI_PM1A_EVT as u64 + 2, &1u16.to_le_bytes())); // TMR_EN
        let due = devs.next_event_ns().unwrap();
        assert!((2_343_000_000..2_344_000_000).contains(&due), "TMR_STS due at 2^23 ticks, not {due} ns");
        clock.skip_to(due);
        devs.poll(clock.now_ns());
        assert_eq!(lock(devs.pic.as_ref().unwrap()).acknowledge(), Some(0x71));
        out(&bus, PORT_PIC_SLAVE, 0x20);
        out(&bus, PORT_PIC_MASTER, 0x20);
        assert_eq!(lock(devs.pic.as_ref().unwrap()).acknowledge(), Some(0x71), "level: still asserted");
        // The handler clears TMR_STS, then sends the EOIs: nothing is pending any more.
        assert!(bus.write(PORT_ACPI_PM1A_EVT as u64, &1u16.to_le_bytes()));
        out(&bus, PORT_PIC_SLAVE, 0x20);
        out(&bus, PORT_PIC_MASTER, 0x20);
        assert_eq!(lock(devs.pic.as_ref().unwrap()).acknowledge(), None);
    }

    #[test]
    fn grub_tsc_calibration_loop_terminates() {
        // grub-core/kern/i386/tsc_pit.c: gate off, counter 2 mode 0 with 0xFFFF... then
        // spin on port 0x61 bit 5 while the guest's clock runs.
        let (_devs, bus, clock) = machine();
        out(&bus, PORT_SYSTEM_B, (inb(&bus, PORT_SYSTEM_B) & !0x02) | 0x01);
        out(&bus, PORT_PIT + 3, 0xB0);
        out(&bus, PORT_PIT + 2, 0xFF);
        out(&bus, PORT_PIT + 2, 0xFF);
        let mut spins = 0u64;
        while inb(&bus, PORT_SYSTEM_B) & 0x20 == 0 {
            spins += 1;
            assert!(spins < 1_000_000, "bit 5 never rose");
            clock.skip_to(clock.now_ns() + 1_000);
        }
        assert!(clock.now_ns() >= 54_000_000, "65535 ticks are about 55 ms");
    }

    /// A guest can write anything to any port: hammer every mapped port (and its
    /// neighbours) with random bytes, sizes and offsets, with time moving on and interrupts
    /// acknowledged, and check nothing panics or hangs.
    #[test]
    fn random_port_traffic_never_panics() {
        let (devs, bus, clock) = machine();
        let ranges: Vec<(u64, u64)> = bus.ranges().map(|(b, l, _)| (b, l)).collect();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..200_000u32 {
            let r = rnd();
            let (base, len) = ranges[(r % ranges.len() as u64) as usize];
            let port = (base + (r >> 8) % (len + 2)).saturating_sub(1);
            let size = [1usize, 1, 1, 2, 4][((r >> 20) % 5) as usize];
            let v = (r >> 32).to_le_bytes();
            if (r >> 40) & 1 == 0 {
                bus.write(port, &v[..size]);
            } else {
                let mut d = [0u8; 4];
                bus.read(port, &mut d[..size]);
            }
            if i % 64 == 0 {
                clock.skip_to(clock.now_ns() + (rnd() % 5_000_000));
                devs.poll(clock.now_ns());
                if let Some(next) = devs.next_event_ns() {
                    assert!(next > 0);
                }
                let _ = lock(devs.pic.as_ref().unwrap()).acknowledge();
                lock(&devs.serial).enqueue_input(&[rnd() as u8]);
                lock(&devs.i8042).push_scancodes(&[rnd() as u8, 0xF0]);
                let _ = devs.control.take_stop();
            }
        }
        // Still answers sanely afterwards.
        out(&bus, PORT_CMOS, 0x0D);
        assert_eq!(inb(&bus, PORT_CMOS + 1), 0x80);
    }
}

#[cfg(test)]
mod external_tests {
    use super::*;
    use crate::irq::TestIrq;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// With an external irqchip the PIC, ELCR, PIT and port 61h are left to it, and the other
    /// devices raise their lines through the closure.
    #[test]
    fn external_interrupts_leave_out_pic_and_pit_and_route_lines() {
        type Lines = Arc<Mutex<Vec<(u32, Arc<TestIrq>)>>>;
        let lines: Lines = Arc::default();
        let l2 = lines.clone();
        let devs = PcDevices::new(PcDevicesConfig {
            interrupts: Interrupts::External(Arc::new(move |n| {
                let t = Arc::new(TestIrq::default());
                lock(&l2).push((n, t.clone()));
                t as Irq
            })),
            clock: Clock::virtual_clock(Arc::new(AtomicU64::new(0))),
            control: Arc::new(Control::new(true)),
            serial_out: Box::new(std::io::sink()),
            debugcon_out: Box::new(std::io::sink()),
            ram_below_4g: 64 << 20,
            ram_above_4g: 0,
        });
        assert!(devs.pic.is_none() && devs.pit.is_none());
        let names: Vec<&str> = devs.port_ranges().iter().map(|r| r.2).collect();
        for absent in ["pic-master", "pic-slave", "elcr", "pit", "system-port-b"] {
            assert!(!names.contains(&absent), "{absent} mapped with an external irqchip");
        }
        for present in ["acpi-pm1a-evt", "acpi-pm1a-cnt", "acpi-pm-tmr"] {
            assert!(names.contains(&present), "{present} missing with an external irqchip");
        }
        let mut bus = Bus::new();
        devs.map_ports(&mut bus).unwrap();
        bus.write(PORT_COM1 as u64 + 1, &[0x01]);
        bus.write(PORT_COM1 as u64 + 4, &[0x08]);
        assert_eq!(lock(&devs.serial).enqueue_input(b"k"), 1);
        let com1 = lock(&lines).iter().find(|(n, _)| *n == IRQ_COM1).map(|l| l.1.clone()).unwrap();
        assert!(com1.edges.load(Ordering::SeqCst) >= 1, "COM1 input raised no edge on IRQ 4");
        // The SCI goes to line 9 of the external irqchip.
        lock(&devs.acpi).press_power_button();
        bus.write(PORT_ACPI_PM1A_EVT as u64 + 2, &(1u16 << 8).to_le_bytes());
        let sci = lock(&lines).iter().find(|(n, _)| *n == IRQ_SCI).map(|l| l.1.clone()).unwrap();
        assert!(sci.level.load(Ordering::SeqCst), "the power button raised no SCI on IRQ 9");
    }
}

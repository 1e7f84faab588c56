//! 16550A UART (COM1) on rust-vmm's `vm-superio` Serial: guest output to a host sink, host
//! input through a 64-byte receive FIFO, interrupts as edges on an [`Irq`] line.
//!
//! Reference: National Semiconductor PC16550D datasheet (register map, LSR, IIR, MCR). On a
//! PC the UART's INTRPT output reaches the PIC only through a buffer enabled by MCR OUT2
//! (IBM PC AT Technical Reference, "Serial/Parallel Adapter"), so interrupts are dropped
//! while the guest holds OUT2 low. vm-superio's model: the transmitter is always empty (THRE
//! and TEMT stay set), reading IIR clears the pending interrupt identification, and FCR
//! writes are accepted but the FIFOs are always on (IIR reads 0xC_).

use std::convert::Infallible;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{dev_debug, read_bytes, write_bytes};
use crate::bus::{BusDevice, lock};
use crate::irq::Irq;

/// Register offsets from the base port (DLAB = LCR bit 7 maps the divisor latch at 0/1).
pub const UART_RBR_THR: u8 = 0;
pub const UART_IER: u8 = 1;
pub const UART_IIR_FCR: u8 = 2;
pub const UART_LCR: u8 = 3;
pub const UART_MCR: u8 = 4;
pub const UART_LSR: u8 = 5;
pub const UART_MSR: u8 = 6;
pub const UART_SCR: u8 = 7;
/// Number of ports a UART occupies.
pub const UART_PORTS: u64 = 8;

const MCR_OUT2: u8 = 0x08;
/// LCR bit 7: divisor latch access (offsets 0 and 1 are the divisor, not THR and IER).
const LCR_DLAB: u8 = 0x80;

/// vm-superio's interrupt trigger: an edge on the ISA line, if OUT2 lets it through.
struct IrqTrigger {
    irq: Irq,
    out2: Arc<AtomicBool>,
}

impl vm_superio::Trigger for IrqTrigger {
    type E = Infallible;

    fn trigger(&self) -> Result<(), Infallible> {
        if self.out2.load(Ordering::Relaxed) {
            self.irq.pulse();
        }
        Ok(())
    }
}

type Inner = vm_superio::Serial<IrqTrigger, vm_superio::serial::NoEvents, Box<dyn Write + Send>>;

/// The UART core.
pub struct Serial {
    inner: Inner,
    out2: Arc<AtomicBool>,
    /// The guest has written the transmitter at least once (the BIOS stops mirroring its
    /// screen to the console then: the guest drives COM1 itself).
    transmitted: bool,
}

impl Serial {
    /// A UART whose transmitted bytes go to `out` and whose interrupt is `irq` (IRQ 4 for
    /// COM1).
    pub fn new(irq: Irq, out: Box<dyn Write + Send>) -> Self {
        // vm-superio starts with MCR = OUT2.
        let out2 = Arc::new(AtomicBool::new(true));
        let trigger = IrqTrigger { irq, out2: out2.clone() };
        Serial { inner: vm_superio::Serial::new(trigger, out), out2, transmitted: false }
    }

    /// A guest read of register `offset` (0-7).
    pub fn read(&mut self, offset: u8) -> u8 {
        self.inner.read(offset)
    }

    /// A guest write of register `offset` (0-7).
    pub fn write(&mut self, offset: u8, v: u8) {
        if offset == UART_MCR {
            self.out2.store(v & MCR_OUT2 != 0, Ordering::Relaxed);
        }
        if offset == UART_RBR_THR && self.inner.read(UART_LCR) & LCR_DLAB == 0 {
            self.transmitted = true;
        }
        if let Err(e) = self.inner.write(offset, v) {
            // The sink failed (a closed pipe): the byte is lost, the guest carries on.
            dev_debug!("serial: write {v:#x} at offset {offset}: {e}");
        }
    }

    /// Queue host input for the guest. Returns how many bytes fit in the receive FIFO
    /// (possibly 0: retry the rest once the guest has read some). Raises the receive
    /// interrupt if the guest enabled it.
    pub fn enqueue_input(&mut self, bytes: &[u8]) -> usize {
        self.inner.enqueue_raw_bytes(bytes).unwrap_or(0)
    }

    /// Whether the guest has transmitted anything itself.
    pub fn guest_transmitted(&self) -> bool {
        self.transmitted
    }

    /// Free space in the receive FIFO.
    pub fn input_capacity(&self) -> usize {
        self.inner.fifo_capacity()
    }
}

/// Bus adapter for a UART's 8 ports (COM1 at [`crate::layout::PORT_COM1`]).
pub struct SerialPort(pub Arc<Mutex<Serial>>);

impl BusDevice for SerialPort {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let mut s = lock(&self.0);
        read_bytes("serial", UART_PORTS, offset, data, |off| s.read(off as u8));
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut s = lock(&self.0);
        write_bytes("serial", UART_PORTS, offset, data, |off, v| s.write(off as u8, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::TestIrq;
    use std::sync::atomic::Ordering::SeqCst;

    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn uart() -> (Serial, SharedBuf, Arc<TestIrq>) {
        let buf = SharedBuf::default();
        let irq = Arc::new(TestIrq::default());
        (Serial::new(irq.clone(), Box::new(buf.clone())), buf, irq)
    }

    /// What Linux's early_serial_console and SeaBIOS do: 115200 8N1, FIFOs on, DTR/RTS/OUT2.
    fn guest_init(s: &mut Serial) {
        s.write(UART_LCR, 0x80);
        s.write(0, 0x01);
        s.write(1, 0x00);
        s.write(UART_LCR, 0x03);
        s.write(UART_IER, 0x00);
        s.write(UART_IIR_FCR, 0xC7);
        s.write(UART_MCR, 0x0B);
    }

    #[test]
    fn guest_init_then_thr_writes_reach_the_sink() {
        let (mut s, buf, irq) = uart();
        guest_init(&mut s);
        for &b in b"Linux\n" {
            assert_eq!(s.read(UART_LSR) & 0x20, 0x20, "THR empty before each byte");
            s.write(UART_RBR_THR, b);
        }
        assert_eq!(&*lock(&buf.0), b"Linux\n");
        assert_eq!(irq.edges.load(SeqCst), 0, "no interrupt with IER = 0");
    }

    #[test]
    fn divisor_latch_is_reached_through_dlab() {
        let (mut s, _, _) = uart();
        s.write(UART_LCR, 0x80);
        s.write(0, 0x0C);
        s.write(1, 0x00);
        assert_eq!(s.read(0), 0x0C);
        s.write(UART_LCR, 0x03);
        assert_eq!(s.read(UART_LCR), 0x03);
        s.write(UART_SCR, 0x5A);
        assert_eq!(s.read(UART_SCR), 0x5A, "scratch register (GRUB's probe)");
    }

    #[test]
    fn input_raises_the_interrupt_and_is_read_from_rbr() {
        let (mut s, _, irq) = uart();
        guest_init(&mut s);
        s.write(UART_IER, 0x01);
        assert_eq!(s.read(UART_LSR) & 0x01, 0, "no data yet");
        assert_eq!(s.enqueue_input(b"ok"), 2);
        assert_eq!(irq.edges.load(SeqCst), 1);
        assert_eq!(s.read(UART_LSR) & 0x61, 0x61, "DR, THRE, TEMT");
        assert_eq!(s.read(UART_IIR_FCR), 0xC4, "FIFOs on, received data available");
        assert_eq!(s.read(UART_RBR_THR), b'o');
        assert_eq!(s.read(UART_LSR) & 0x01, 0x01);
        assert_eq!(s.read(UART_RBR_THR), b'k');
        assert_eq!(s.read(UART_LSR) & 0x01, 0, "FIFO drained");
        assert_eq!(s.read(UART_IIR_FCR) & 0x0F, 0x01, "no interrupt pending");
    }

    #[test]
    fn thr_empty_interrupt_when_enabled() {
        let (mut s, _, irq) = uart();
        guest_init(&mut s);
        s.write(UART_IER, 0x02);
        assert_eq!(irq.edges.load(SeqCst), 1, "enabling THRE with THR empty interrupts");
        assert_eq!(s.read(UART_IIR_FCR) & 0x0F, 0x02);
        s.write(UART_RBR_THR, b'x');
        assert_eq!(irq.edges.load(SeqCst), 2);
    }

    #[test]
    fn fifo_accepts_64_bytes_then_reports_how_many_fit() {
        let (mut s, _, _) = uart();
        assert_eq!(s.input_capacity(), 64);
        assert_eq!(s.enqueue_input(&[b'a'; 60]), 60);
        assert_eq!(s.enqueue_input(&[b'b'; 10]), 4);
        assert_eq!(s.enqueue_input(b"c"), 0);
        s.read(UART_RBR_THR);
        assert_eq!(s.enqueue_input(b"cd"), 1);
        assert_eq!(s.enqueue_input(b""), 0);
    }

    #[test]
    fn out2_low_keeps_the_interrupt_off_the_bus() {
        let (mut s, _, irq) = uart();
        s.write(UART_MCR, 0x03); // DTR | RTS, OUT2 clear
        s.write(UART_IER, 0x01);
        s.enqueue_input(b"x");
        assert_eq!(irq.edges.load(SeqCst), 0);
        assert_eq!(s.read(UART_LSR) & 0x01, 0x01, "the data is still there");
    }

    #[test]
    fn loopback_returns_transmitted_bytes() {
        let (mut s, buf, _) = uart();
        s.write(UART_MCR, 0x10 | MCR_OUT2);
        s.write(UART_RBR_THR, 0xA5);
        assert_eq!(s.read(UART_RBR_THR), 0xA5);
        assert!(lock(&buf.0).is_empty());
        assert_eq!(s.enqueue_input(b"x"), 0, "no host input in loopback");
    }

    #[test]
    fn adapter_decodes_offsets_and_splits_wide_accesses() {
        let (s, buf, _) = uart();
        let mut port = SerialPort(Arc::new(Mutex::new(s)));
        port.write(UART_LCR as u64, &[0x03]);
        port.write(0, b"A");
        let mut d = [0u8; 2];
        port.read(UART_LCR as u64, &mut d);
        assert_eq!(d[0], 0x03);
        port.read(7, &mut d);
        assert_eq!(d[1], 0xFF, "past the UART");
        assert_eq!(&*lock(&buf.0), b"A");
    }
}

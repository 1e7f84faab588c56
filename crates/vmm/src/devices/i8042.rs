//! i8042 keyboard controller (data port 0x60, status/command port 0x64) with a PS/2 keyboard
//! and a minimal PS/2 mouse behind it; A20 and CPU reset through its output port.
//!
//! References: IBM PC AT Technical Reference, "Keyboard Controller" (status register,
//! command byte, commands 20h-FFh, input and output ports); IBM PS/2 Hardware Interface
//! Technical Reference, "Keyboard and Auxiliary Device Controller" and "Keyboard" (device
//! commands EDh-FFh, scan code sets, the 8042's set 2 to set 1 translation table); QEMU
//! hw/input/pckbd.c and ps2.c for what modern guests expect.
//!
//! Keyboard input: [`I8042::push_scancodes`] takes scan code set 2 bytes (make codes, F0-
//! prefixed break codes, E0/E1 prefixes), what a PS/2 keyboard sends by default. A keyboard
//! switched to set 1 (command F0h) gets them converted; set 3 gets set 2 codes. The controller
//! translates the keyboard's bytes to set 1 when command byte bit 6 is set, as the BIOS
//! leaves it. The mouse acknowledges every PS/2 mouse command but never moves.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::{Control, StopReason, dev_debug, read_bytes, write_bytes};
use crate::bus::{BusDevice, lock};
use crate::irq::Irq;

// Status register (port 0x64 read).
pub const STATUS_OBF: u8 = 0x01;
pub const STATUS_IBF: u8 = 0x02;
pub const STATUS_SYS: u8 = 0x04;
/// Last write was to port 0x64 (a command), not 0x60 (data).
pub const STATUS_A2: u8 = 0x08;
/// Keyboard not inhibited by the key lock.
pub const STATUS_INH: u8 = 0x10;
/// The output buffer holds a byte from the auxiliary device.
pub const STATUS_AUX_OBF: u8 = 0x20;
pub const STATUS_TIMEOUT: u8 = 0x40;
pub const STATUS_PARITY: u8 = 0x80;

// Command byte (controller RAM byte 0).
pub const CB_KBD_INT: u8 = 0x01;
pub const CB_AUX_INT: u8 = 0x02;
pub const CB_SYS: u8 = 0x04;
pub const CB_KBD_DISABLE: u8 = 0x10;
pub const CB_AUX_DISABLE: u8 = 0x20;
pub const CB_TRANSLATE: u8 = 0x40;

// Output port (commands D0h/D1h).
pub const OUT_RESET: u8 = 0x01;
pub const OUT_A20: u8 = 0x02;
const OUT_KBD_OBF: u8 = 0x10;
const OUT_AUX_OBF: u8 = 0x20;

const ACK: u8 = 0xFA;
const RESEND: u8 = 0xFE;
const BAT_OK: u8 = 0xAA;

/// How many scan code bytes the keyboard buffers (a real keyboard holds 16 keys).
pub const KEY_QUEUE_BYTES: usize = 256;
/// Bound on queued command responses (a guest can send commands without reading).
const RESPONSE_QUEUE_BYTES: usize = 64;

/// The 8042's scan code translation (set 2 to set 1), from the IBM PS/2 reference; the same
/// table is in every PC emulator. Entries above 0x7F are identity except 0x83 (F7) and 0x84.
#[rustfmt::skip]
const TRANSLATE: [u8; 256] = [
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
    0x80, 0x81, 0x82, 0x41, 0x54, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
    0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
];

/// Set 2 to set 1 the way the 8042 translates a byte stream: F0 is dropped and sets bit 7 of
/// the next byte.
struct Translator {
    brk: bool,
}

impl Translator {
    fn feed(&mut self, b: u8) -> Option<u8> {
        if b == 0xF0 {
            self.brk = true;
            return None;
        }
        let t = TRANSLATE[b as usize] | if self.brk { 0x80 } else { 0 };
        self.brk = false;
        Some(t)
    }
}

/// Who put the byte in the output buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Keyboard,
    Aux,
}

/// A PS/2 keyboard.
struct Keyboard {
    responses: VecDeque<u8>,
    keys: VecDeque<u8>,
    scanning: bool,
    set: u8,
    leds: u8,
    typematic: u8,
    /// A command waiting for its parameter byte (EDh, F0h, F3h).
    expecting: Option<u8>,
    /// The last byte sent to the controller (for the resend command).
    last_sent: u8,
    /// The last key byte sent was a prefix (E0, E1, F0): its sequence is not finished.
    mid_sequence: bool,
    /// Converter for a keyboard switched to set 1.
    to_set1: Translator,
}

impl Keyboard {
    fn new() -> Self {
        Keyboard {
            responses: VecDeque::new(),
            keys: VecDeque::new(),
            scanning: true,
            set: 2,
            leds: 0,
            typematic: 0x2B,
            expecting: None,
            last_sent: 0,
            mid_sequence: false,
            to_set1: Translator { brk: false },
        }
    }

    fn defaults(&mut self) {
        self.set = 2;
        self.typematic = 0x2B;
        self.to_set1.brk = false;
    }

    fn respond(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.responses.len() < RESPONSE_QUEUE_BYTES {
                self.responses.push_back(b);
            }
        }
    }

    /// A byte from the host (through the controller) to the keyboard.
    fn command(&mut self, v: u8) {
        // A parameter byte; a command code instead of a parameter starts that command.
        if let Some(cmd) = self.expecting.take() {
            if v < 0x80 {
                match cmd {
                    0xED => self.leds = v & 7,
                    0xF3 => self.typematic = v,
                    _ => match v {
                        0 => {
                            self.respond(&[ACK, self.set]);
                            return;
                        }
                        1..=3 => self.set = v,
                        _ => {
                            self.respond(&[RESEND]);
                            return;
                        }
                    },
                }
                self.respond(&[ACK]);
                return;
            }
        }
        match v {
            0xED | 0xF0 | 0xF3 => {
                self.expecting = Some(v);
                self.respond(&[ACK]);
            }
            0xEE => self.respond(&[0xEE]),
            0xF2 => self.respond(&[ACK, 0xAB, 0x83]),
            0xF4 => {
                self.scanning = true;
                self.respond(&[ACK]);
            }
            0xF5 => {
                self.scanning = false;
                self.defaults();
                self.respond(&[ACK]);
            }
            0xF6 => {
                self.defaults();
                self.respond(&[ACK]);
            }
            // Set 3 key-type commands: accepted, no effect here.
            0xF7..=0xFD => self.respond(&[ACK]),
            0xFE => self.respond(&[self.last_sent]),
            0xFF => {
                self.keys.clear();
                self.responses.clear();
                self.mid_sequence = false;
                self.defaults();
                self.leds = 0;
                self.scanning = true;
                self.respond(&[ACK, BAT_OK]);
            }
            _ => self.respond(&[RESEND]),
        }
    }

    /// Queue set 2 bytes from the host keyboard; returns how many were taken.
    fn push(&mut self, codes: &[u8]) -> usize {
        if !self.scanning {
            return codes.len(); // a keyboard that does not scan drops keys
        }
        let n = codes.len().min(KEY_QUEUE_BYTES - self.keys.len());
        for &b in &codes[..n] {
            if self.set == 1 {
                if let Some(t) = self.to_set1.feed(b) {
                    self.keys.push_back(t);
                }
            } else {
                self.keys.push_back(b);
            }
        }
        n
    }

    fn next_byte(&mut self) -> Option<u8> {
        // Responses go ahead of queued keys, but not inside a key's byte sequence.
        let key = if self.mid_sequence || self.responses.is_empty() { self.keys.pop_front() } else { None };
        let b = match key {
            Some(k) => {
                self.mid_sequence = matches!(k, 0xE0 | 0xE1 | 0xF0);
                k
            }
            None => self.responses.pop_front()?,
        };
        self.last_sent = b;
        Some(b)
    }
}

/// A PS/2 mouse that acknowledges commands and never moves.
struct Mouse {
    responses: VecDeque<u8>,
    expecting: Option<u8>,
    reporting: bool,
    remote: bool,
    wrap: bool,
    scaling_2to1: bool,
    resolution: u8,
    sample_rate: u8,
    last_sent: u8,
}

impl Mouse {
    fn new() -> Self {
        Mouse {
            responses: VecDeque::new(),
            expecting: None,
            reporting: false,
            remote: false,
            wrap: false,
            scaling_2to1: false,
            resolution: 2,
            sample_rate: 100,
            last_sent: 0,
        }
    }

    fn defaults(&mut self) {
        self.reporting = false;
        self.remote = false;
        self.scaling_2to1 = false;
        self.resolution = 2;
        self.sample_rate = 100;
    }

    fn respond(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.responses.len() < RESPONSE_QUEUE_BYTES {
                self.responses.push_back(b);
            }
        }
    }

    fn command(&mut self, v: u8) {
        if let Some(cmd) = self.expecting.take() {
            match cmd {
                0xE8 => self.resolution = v & 3,
                _ => self.sample_rate = v,
            }
            self.respond(&[ACK]);
            return;
        }
        if self.wrap && v != 0xEC && v != 0xFF {
            self.respond(&[v]);
            return;
        }
        match v {
            0xE6 => self.scaling_2to1 = false,
            0xE7 => self.scaling_2to1 = true,
            0xE8 | 0xF3 => self.expecting = Some(v),
            0xE9 => {
                let status = (self.remote as u8) << 6 | (self.reporting as u8) << 5 | (self.scaling_2to1 as u8) << 4;
                self.respond(&[ACK, status, self.resolution, self.sample_rate]);
                return;
            }
            0xEA => self.remote = false,
            // Read data: one packet with no movement and no buttons (bit 3 is always 1).
            0xEB => {
                self.respond(&[ACK, 0x08, 0, 0]);
                return;
            }
            0xEC => self.wrap = false,
            0xEE => self.wrap = true,
            0xF0 => self.remote = true,
            0xF2 => {
                self.respond(&[ACK, 0x00]);
                return;
            }
            0xF4 => self.reporting = true,
            0xF5 => self.reporting = false,
            0xF6 => self.defaults(),
            0xFE => {
                self.respond(&[self.last_sent]);
                return;
            }
            0xFF => {
                self.responses.clear();
                self.defaults();
                self.wrap = false;
                self.respond(&[ACK, BAT_OK, 0x00]);
                return;
            }
            _ => {
                self.respond(&[RESEND]);
                return;
            }
        }
        self.respond(&[ACK]);
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.responses.pop_front()?;
        self.last_sent = b;
        Some(b)
    }
}

/// The keyboard controller.
pub struct I8042 {
    control: Arc<Control>,
    irq1: Irq,
    irq12: Irq,
    irq1_level: bool,
    irq12_level: bool,
    /// Controller RAM; byte 0 is the command byte.
    ram: [u8; 32],
    /// Status bits kept here: A2 (the rest is derived).
    a2: bool,
    /// Output port bits other than reset, A20 and the buffer-full lines.
    out_port: u8,
    /// The output buffer.
    out: Option<(u8, Source)>,
    /// The last byte read from port 0x60 (what a read of an empty buffer returns).
    last_read: u8,
    /// Controller replies and bytes written with D2h/D3h, ahead of device bytes.
    ctrl: VecDeque<(u8, Source)>,
    /// A controller command waiting for its data byte on port 0x60.
    pending: Option<u8>,
    kbd: Keyboard,
    aux: Mouse,
    xlate: Translator,
}

impl I8042 {
    /// At power-on (QEMU's defaults): keyboard and mouse interrupts enabled, no translation
    /// (the BIOS sets command byte bit 6), output port with reset inactive and A20 as
    /// `control` says.
    pub fn new(control: Arc<Control>, irq1: Irq, irq12: Irq) -> Self {
        let mut ram = [0u8; 32];
        ram[0] = CB_KBD_INT | CB_AUX_INT;
        I8042 {
            control,
            irq1,
            irq12,
            irq1_level: false,
            irq12_level: false,
            ram,
            a2: true,
            out_port: 0xCC,
            out: None,
            last_read: 0,
            ctrl: VecDeque::new(),
            pending: None,
            kbd: Keyboard::new(),
            aux: Mouse::new(),
            xlate: Translator { brk: false },
        }
    }

    /// The command byte (controller RAM byte 0).
    pub fn command_byte(&self) -> u8 {
        self.ram[0]
    }

    /// Set the command byte as command 60h would.
    pub fn set_command_byte(&mut self, v: u8) {
        self.ram[0] = v;
        self.refill();
    }

    /// The keyboard LEDs (bit 0 scroll, 1 num, 2 caps lock) as the guest last set them.
    pub fn leds(&self) -> u8 {
        self.kbd.leds
    }

    /// Queue scan code set 2 bytes from the host keyboard. Returns how many were taken
    /// (fewer than given when the keyboard's buffer is full: retry the rest later; all of
    /// them, dropped, when the guest disabled scanning). Delivered one at a time through the
    /// output buffer with IRQ 1, if the command byte enables it.
    pub fn push_scancodes(&mut self, codes: &[u8]) -> usize {
        let n = self.kbd.push(codes);
        self.refill();
        n
    }

    /// The status register (port 0x64).
    pub fn status(&self) -> u8 {
        let mut s = STATUS_INH;
        if self.a2 {
            s |= STATUS_A2;
        }
        if self.ram[0] & CB_SYS != 0 {
            s |= STATUS_SYS;
        }
        match self.out {
            Some((_, Source::Aux)) => s |= STATUS_OBF | STATUS_AUX_OBF,
            Some((_, Source::Keyboard)) => s |= STATUS_OBF,
            None => {}
        }
        s
    }

    /// The output port (command D0h).
    pub fn output_port(&self) -> u8 {
        let mut p = (self.out_port & !(OUT_A20 | OUT_KBD_OBF | OUT_AUX_OBF)) | OUT_RESET;
        if self.control.a20_enabled() {
            p |= OUT_A20;
        }
        match self.out {
            Some((_, Source::Aux)) => p |= OUT_AUX_OBF,
            Some((_, Source::Keyboard)) => p |= OUT_KBD_OBF,
            None => {}
        }
        p
    }

    fn write_output_port(&mut self, v: u8) {
        self.out_port = v;
        self.control.set_a20(v & OUT_A20 != 0);
        if v & OUT_RESET == 0 {
            self.control.request_stop(StopReason::Reset);
        }
    }

    /// A read of port 0x60: the output buffer (or the last byte again if it is empty).
    pub fn read_data(&mut self) -> u8 {
        if let Some((b, _)) = self.out.take() {
            self.last_read = b;
            // The interrupt line drops with OBF, so that the next byte raises a new edge.
            self.drive_irqs();
        }
        self.refill();
        self.last_read
    }

    /// A write to port 0x60: the data byte of a pending controller command, or a byte for
    /// the keyboard.
    pub fn write_data(&mut self, v: u8) {
        self.a2 = false;
        match self.pending.take() {
            Some(cmd @ 0x60..=0x7F) => self.ram[(cmd & 0x1F) as usize] = v,
            Some(0xD1) => self.write_output_port(v),
            Some(0xD2) => self.ctrl_reply(v, Source::Keyboard),
            Some(0xD3) => self.ctrl_reply(v, Source::Aux),
            Some(0xD4) => self.aux.command(v),
            Some(cmd) => dev_debug!("i8042: data {v:#x} for command {cmd:#x} ignored"),
            None => {
                // Sending to the keyboard re-enables its interface (as QEMU's pckbd does).
                self.ram[0] &= !CB_KBD_DISABLE;
                self.kbd.command(v);
            }
        }
        self.refill();
    }

    fn ctrl_reply(&mut self, v: u8, src: Source) {
        if self.ctrl.len() < RESPONSE_QUEUE_BYTES {
            self.ctrl.push_back((v, src));
        }
    }

    /// A write to port 0x64: a controller command.
    pub fn write_command(&mut self, cmd: u8) {
        self.a2 = true;
        self.pending = None;
        let kbd = Source::Keyboard;
        match cmd {
            0x20..=0x3F => self.ctrl_reply(self.ram[(cmd & 0x1F) as usize], kbd),
            0x60..=0x7F | 0xD1..=0xD4 => self.pending = Some(cmd),
            // Password installed test: not installed.
            0xA4 => self.ctrl_reply(0xF1, kbd),
            0xA7 => self.ram[0] |= CB_AUX_DISABLE,
            0xA8 => self.ram[0] &= !CB_AUX_DISABLE,
            // Interface tests: no error.
            0xA9 | 0xAB => self.ctrl_reply(0x00, kbd),
            0xAA => {
                self.ram[0] |= CB_SYS;
                self.ctrl_reply(0x55, kbd);
            }
            0xAD => self.ram[0] |= CB_KBD_DISABLE,
            0xAE => self.ram[0] &= !CB_KBD_DISABLE,
            // Input port: bit 7 keyboard not inhibited, bit 5 no manufacturing jumper.
            0xC0 => self.ctrl_reply(0xA0, kbd),
            0xD0 => self.ctrl_reply(self.output_port(), kbd),
            0xDD => self.control.set_a20(false),
            0xDF => self.control.set_a20(true),
            // Test inputs: keyboard clock and data low.
            0xE0 => self.ctrl_reply(0x00, kbd),
            // Pulse output port bits 0-3 low where the command's bit is 0: bit 0 resets.
            0xF0..=0xFF => {
                if cmd & 1 == 0 {
                    self.control.request_stop(StopReason::Reset);
                }
            }
            _ => dev_debug!("i8042: unknown controller command {cmd:#x}"),
        }
        self.refill();
    }

    /// Move the next byte into an empty output buffer and drive IRQ 1 and 12.
    fn refill(&mut self) {
        if self.out.is_none() {
            self.out = self.ctrl.pop_front();
        }
        let cb = self.ram[0];
        if self.out.is_none() && cb & CB_KBD_DISABLE == 0 {
            while let Some(b) = self.kbd.next_byte() {
                let b = if cb & CB_TRANSLATE != 0 {
                    match self.xlate.feed(b) {
                        Some(t) => t,
                        None => continue,
                    }
                } else {
                    b
                };
                self.out = Some((b, Source::Keyboard));
                break;
            }
        }
        if self.out.is_none() && cb & CB_AUX_DISABLE == 0 {
            self.out = self.aux.next_byte().map(|b| (b, Source::Aux));
        }
        self.drive_irqs();
    }

    fn drive_irqs(&mut self) {
        let cb = self.ram[0];
        let irq1 = matches!(self.out, Some((_, Source::Keyboard))) && cb & CB_KBD_INT != 0;
        let irq12 = matches!(self.out, Some((_, Source::Aux))) && cb & CB_AUX_INT != 0;
        if irq1 != self.irq1_level {
            self.irq1_level = irq1;
            self.irq1.set_level(irq1);
        }
        if irq12 != self.irq12_level {
            self.irq12_level = irq12;
            self.irq12.set_level(irq12);
        }
    }
}

/// Bus adapter for one of the controller's ports: map it twice, at
/// [`crate::layout::PORT_I8042_DATA`] (0x60) and [`crate::layout::PORT_I8042_CMD`] (0x64),
/// one port each (port 0x61 between them belongs to the PIT).
pub struct I8042Port {
    dev: Arc<Mutex<I8042>>,
    command: bool,
}

impl I8042Port {
    /// The data port (0x60).
    pub fn data(dev: Arc<Mutex<I8042>>) -> Self {
        I8042Port { dev, command: false }
    }

    /// The status/command port (0x64).
    pub fn command(dev: Arc<Mutex<I8042>>) -> Self {
        I8042Port { dev, command: true }
    }
}

impl BusDevice for I8042Port {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let mut k = lock(&self.dev);
        read_bytes("i8042", 1, offset, data, |_| if self.command { k.status() } else { k.read_data() });
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut k = lock(&self.dev);
        write_bytes("i8042", 1, offset, data, |_, v| if self.command { k.write_command(v) } else { k.write_data(v) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irq::TestIrq;
    use std::sync::atomic::Ordering::SeqCst;

    struct Rig {
        k: I8042,
        control: Arc<Control>,
        irq1: Arc<TestIrq>,
        irq12: Arc<TestIrq>,
    }

    impl Rig {
        fn new() -> Self {
            let control = Arc::new(Control::new(true));
            let irq1 = Arc::new(TestIrq::default());
            let irq12 = Arc::new(TestIrq::default());
            Rig { k: I8042::new(control.clone(), irq1.clone(), irq12.clone()), control, irq1, irq12 }
        }

        /// Everything waiting in the output buffer, in order.
        fn drain(&mut self) -> Vec<u8> {
            let mut v = Vec::new();
            while self.k.status() & STATUS_OBF != 0 && v.len() < 1000 {
                v.push(self.k.read_data());
            }
            v
        }

        fn cmd_reply(&mut self, cmd: u8) -> Vec<u8> {
            self.k.write_command(cmd);
            self.drain()
        }

        fn kbd(&mut self, bytes: &[u8]) -> Vec<u8> {
            for &b in bytes {
                self.k.write_data(b);
            }
            self.drain()
        }
    }

    #[test]
    fn power_on_status_and_command_byte() {
        let r = Rig::new();
        assert_eq!(r.k.status(), STATUS_INH | STATUS_A2);
        assert_eq!(r.k.command_byte(), 0x03);
    }

    #[test]
    fn command_byte_read_and_write() {
        let mut r = Rig::new();
        r.k.write_command(0x60);
        r.k.write_data(0x65);
        assert_eq!(r.k.status() & (STATUS_A2 | STATUS_SYS), STATUS_SYS);
        assert_eq!(r.cmd_reply(0x20), [0x65]);
        assert_eq!(r.k.command_byte(), 0x65);
        // Other controller RAM bytes.
        r.k.write_command(0x65);
        r.k.write_data(0x42);
        assert_eq!(r.cmd_reply(0x25), [0x42]);
    }

    #[test]
    fn self_test_interface_tests_and_input_port() {
        let mut r = Rig::new();
        assert_eq!(r.cmd_reply(0xAA), [0x55]);
        assert_eq!(r.k.status() & STATUS_SYS, STATUS_SYS);
        assert_eq!(r.cmd_reply(0xAB), [0x00]);
        assert_eq!(r.cmd_reply(0xA9), [0x00]);
        assert_eq!(r.cmd_reply(0xC0), [0xA0]);
        assert_eq!(r.cmd_reply(0xA4), [0xF1]);
        assert_eq!(r.cmd_reply(0xE0), [0x00]);
    }

    #[test]
    fn controller_reply_raises_irq1_when_enabled() {
        let mut r = Rig::new();
        r.k.write_command(0xAA);
        assert!(r.irq1.level.load(SeqCst));
        r.k.read_data();
        assert!(!r.irq1.level.load(SeqCst));
        assert_eq!(r.k.status() & STATUS_OBF, 0);
        assert_eq!(r.k.read_data(), 0x55, "an empty buffer reads the last byte again");
    }

    #[test]
    fn aux_and_keyboard_enable_disable_commands() {
        let mut r = Rig::new();
        r.k.write_command(0xA7);
        assert_eq!(r.k.command_byte() & CB_AUX_DISABLE, CB_AUX_DISABLE);
        r.k.write_command(0xA8);
        assert_eq!(r.k.command_byte() & CB_AUX_DISABLE, 0);
        r.k.write_command(0xAD);
        assert_eq!(r.k.command_byte() & CB_KBD_DISABLE, CB_KBD_DISABLE);
        r.k.push_scancodes(&[0x1C]);
        assert_eq!(r.k.status() & STATUS_OBF, 0, "keyboard interface disabled: key waits");
        r.k.write_command(0xAE);
        assert_eq!(r.drain(), [0x1C]);
    }

    #[test]
    fn a20_through_the_output_port_and_dd_df() {
        let mut r = Rig::new();
        r.control.set_a20(false);
        assert_eq!(r.cmd_reply(0xD0)[0] & (OUT_A20 | OUT_RESET), OUT_RESET);
        // Linux's and syslinux's sequence: D1, DF, then FF (a pulse of nothing).
        r.k.write_command(0xD1);
        r.k.write_data(0xDF);
        r.k.write_command(0xFF);
        assert!(r.control.a20_enabled());
        assert_eq!(r.cmd_reply(0xD0)[0] & (OUT_A20 | OUT_RESET), OUT_A20 | OUT_RESET);
        assert_eq!(r.control.stop_requested(), None);
        r.k.write_command(0xDD);
        assert!(!r.control.a20_enabled());
        r.k.write_command(0xDF);
        assert!(r.control.a20_enabled());
    }

    #[test]
    fn output_port_shows_buffer_full_lines() {
        let mut r = Rig::new();
        r.k.write_command(0xD0);
        let p = r.k.read_data();
        assert_eq!(p & (OUT_KBD_OBF | OUT_AUX_OBF), 0, "the reply itself was read out");
        r.k.push_scancodes(&[0x1C]);
        r.k.write_command(0xD0);
        // The key was in the buffer first, so the reply follows it.
        assert_eq!(r.k.read_data(), 0x1C);
        assert_eq!(r.k.read_data() & OUT_KBD_OBF, OUT_KBD_OBF);
    }

    #[test]
    fn reset_through_fe_pulse() {
        let mut r = Rig::new();
        r.k.write_command(0xFE);
        assert_eq!(r.control.stop_requested(), Some(StopReason::Reset));
    }

    #[test]
    fn reset_through_output_port_bit0_cleared() {
        let mut r = Rig::new();
        r.k.write_command(0xD1);
        r.k.write_data(0xFE);
        assert_eq!(r.control.stop_requested(), Some(StopReason::Reset));
        assert!(r.control.a20_enabled(), "bit 1 was set");
    }

    #[test]
    fn pulses_without_bit0_do_not_reset() {
        let mut r = Rig::new();
        for cmd in [0xF1, 0xF3, 0xFD, 0xFF] {
            r.k.write_command(cmd);
        }
        assert_eq!(r.control.stop_requested(), None);
        r.k.write_command(0xF0);
        assert_eq!(r.control.stop_requested(), Some(StopReason::Reset));
    }

    #[test]
    fn d2_and_d3_echo_as_keyboard_and_aux_data() {
        let mut r = Rig::new();
        r.k.write_command(0xD2);
        r.k.write_data(0x5A);
        assert_eq!(r.k.status() & (STATUS_OBF | STATUS_AUX_OBF), STATUS_OBF);
        assert!(r.irq1.level.load(SeqCst));
        assert_eq!(r.k.read_data(), 0x5A);
        r.k.write_command(0xD3);
        r.k.write_data(0xA5);
        assert_eq!(r.k.status() & (STATUS_OBF | STATUS_AUX_OBF), STATUS_OBF | STATUS_AUX_OBF);
        assert!(r.irq12.level.load(SeqCst));
        assert_eq!(r.k.read_data(), 0xA5);
        assert!(!r.irq12.level.load(SeqCst));
    }

    #[test]
    fn keyboard_reset_acks_and_passes_self_test() {
        let mut r = Rig::new();
        r.k.push_scancodes(&[0x1C, 0xF0, 0x1C]);
        r.k.read_data();
        // F0 was already in the output buffer; the 1C behind it is gone.
        assert_eq!(r.kbd(&[0xFF]), [0xF0, ACK, BAT_OK], "reset clears queued keys");
    }

    #[test]
    fn keyboard_identify_echo_leds_typematic_and_defaults() {
        let mut r = Rig::new();
        assert_eq!(r.kbd(&[0xF2]), [ACK, 0xAB, 0x83]);
        assert_eq!(r.kbd(&[0xEE]), [0xEE]);
        assert_eq!(r.kbd(&[0xED, 0x04]), [ACK, ACK]);
        assert_eq!(r.k.leds(), 4);
        assert_eq!(r.kbd(&[0xF3, 0x20]), [ACK, ACK]);
        assert_eq!(r.kbd(&[0xF6]), [ACK]);
        assert_eq!(r.kbd(&[0xFA]), [ACK], "set-3 key type command accepted");
        assert_eq!(r.kbd(&[0x12]), [RESEND], "unknown command");
        assert_eq!(r.kbd(&[0xFE]), [RESEND], "resend repeats the last byte");
    }

    #[test]
    fn led_command_interrupted_by_another_command() {
        let mut r = Rig::new();
        assert_eq!(r.kbd(&[0xED, 0xF2]), [ACK, ACK, 0xAB, 0x83]);
    }

    #[test]
    fn identify_under_translation_gives_ab_41() {
        let mut r = Rig::new();
        r.k.set_command_byte(0x61);
        assert_eq!(r.kbd(&[0xF2]), [ACK, 0xAB, 0x41]);
    }

    #[test]
    fn scan_code_set_get_and_set() {
        let mut r = Rig::new();
        assert_eq!(r.kbd(&[0xF0, 0x00]), [ACK, ACK, 0x02]);
        assert_eq!(r.kbd(&[0xF0, 0x01]), [ACK, ACK]);
        assert_eq!(r.kbd(&[0xF0, 0x00]), [ACK, ACK, 0x01]);
        assert_eq!(r.kbd(&[0xF0, 0x07]), [ACK, RESEND]);
        // The keyboard now sends set 1 itself.
        r.k.push_scancodes(&[0x1C, 0xF0, 0x1C]);
        assert_eq!(r.drain(), [0x1E, 0x9E]);
    }

    #[test]
    fn scanning_disable_drops_keys_and_enable_resumes() {
        let mut r = Rig::new();
        assert_eq!(r.kbd(&[0xF5]), [ACK]);
        assert_eq!(r.k.push_scancodes(&[0x1C]), 1);
        assert!(r.drain().is_empty());
        assert_eq!(r.kbd(&[0xF4]), [ACK]);
        r.k.push_scancodes(&[0x1C]);
        assert_eq!(r.drain(), [0x1C]);
    }

    #[test]
    fn keys_arrive_one_at_a_time_with_irq1_each() {
        let mut r = Rig::new();
        r.k.push_scancodes(&[0x1C, 0xF0, 0x1C]);
        let mut got = Vec::new();
        while r.k.status() & STATUS_OBF != 0 {
            assert!(r.irq1.level.load(SeqCst));
            got.push(r.k.read_data());
        }
        assert_eq!(got, [0x1C, 0xF0, 0x1C], "set 2 without translation");
        assert_eq!(r.irq1.edges.load(SeqCst), 3);
        assert!(!r.irq1.level.load(SeqCst));
    }

    #[test]
    fn translation_turns_set2_into_set1() {
        let mut r = Rig::new();
        r.k.set_command_byte(0x61);
        // 'a' make/break, then Enter, then right Ctrl (E0 14 / E0 F0 14).
        r.k.push_scancodes(&[0x1C, 0xF0, 0x1C, 0x5A, 0xF0, 0x5A, 0xE0, 0x14, 0xE0, 0xF0, 0x14]);
        assert_eq!(r.drain(), [0x1E, 0x9E, 0x1C, 0x9C, 0xE0, 0x1D, 0xE0, 0x9D]);
    }

    #[test]
    fn no_irq1_when_the_command_byte_disables_it() {
        let mut r = Rig::new();
        r.k.set_command_byte(0x00);
        r.k.push_scancodes(&[0x1C]);
        assert_eq!(r.k.status() & STATUS_OBF, STATUS_OBF);
        assert_eq!(r.irq1.edges.load(SeqCst), 0);
    }

    #[test]
    fn key_queue_is_bounded_and_reports_what_fit() {
        let mut r = Rig::new();
        r.k.set_command_byte(0x00);
        let n = r.k.push_scancodes(&[0x1C; 1000]);
        assert_eq!(n, KEY_QUEUE_BYTES);
        // One byte moved on to the output buffer, which made room for one more.
        assert_eq!(r.k.push_scancodes(&[0x1C, 0x1C]), 1);
        assert_eq!(r.k.push_scancodes(&[0x1C]), 0);
        r.k.read_data();
        assert_eq!(r.k.push_scancodes(&[0x1C, 0x1C]), 1);
    }

    #[test]
    fn command_responses_go_ahead_of_queued_keys() {
        let mut r = Rig::new();
        r.k.push_scancodes(&[0x1C, 0xF0, 0x1C]);
        assert_eq!(r.k.read_data(), 0x1C);
        r.k.write_data(0xED); // the buffer now holds F0 already; the ACK follows it
        assert_eq!(r.drain(), [0xF0, 0x1C, ACK], "no response between F0 and its code");
        // Between keys a response goes first (the byte already in the buffer stays).
        r.k.push_scancodes(&[0x1C, 0x32, 0x21]);
        r.k.write_data(0xEE);
        assert_eq!(r.drain(), [0x1C, 0xEE, 0x32, 0x21]);
    }

    #[test]
    fn mouse_commands_through_d4_are_acknowledged_on_irq12() {
        let mut r = Rig::new();
        let aux = |r: &mut Rig, b: u8| {
            r.k.write_command(0xD4);
            r.k.write_data(b);
            let mut got = Vec::new();
            while r.k.status() & STATUS_AUX_OBF != 0 {
                got.push(r.k.read_data());
            }
            got
        };
        assert_eq!(aux(&mut r, 0xFF), [ACK, BAT_OK, 0x00]);
        assert!(r.irq12.edges.load(SeqCst) >= 1);
        assert_eq!(aux(&mut r, 0xF2), [ACK, 0x00]);
        assert_eq!(aux(&mut r, 0xF3), [ACK]);
        assert_eq!(aux(&mut r, 200), [ACK]);
        assert_eq!(aux(&mut r, 0xF4), [ACK]);
        assert_eq!(aux(&mut r, 0xE9), [ACK, 0x20, 2, 200]);
        assert_eq!(aux(&mut r, 0xEB), [ACK, 0x08, 0, 0]);
        assert_eq!(aux(&mut r, 0x01), [RESEND]);
        assert_eq!(aux(&mut r, 0xEE), [ACK]);
        assert_eq!(aux(&mut r, 0x55), [0x55], "wrap mode echoes");
        assert_eq!(aux(&mut r, 0xEC), [ACK]);
        assert!(r.irq1.edges.load(SeqCst) == 0, "mouse bytes never raise IRQ 1");
    }

    #[test]
    fn adapters_route_data_and_command_ports() {
        let r = Rig::new();
        let dev = Arc::new(Mutex::new(r.k));
        let mut data = I8042Port::data(dev.clone());
        let mut cmd = I8042Port::command(dev.clone());
        cmd.write(0, &[0xAA]);
        let mut d = [0u8];
        cmd.read(0, &mut d);
        assert_eq!(d[0] & STATUS_OBF, STATUS_OBF);
        data.read(0, &mut d);
        assert_eq!(d[0], 0x55);
    }
}

//! INT 16h keyboard services, fed from the serial console: bytes typed on COM1 become PC key
//! codes (scan code << 8 | ASCII), with the common terminal escape sequences for arrows, Home,
//! End, Page Up/Down, Insert, Delete and F1-F12.

use super::Bios;
use super::frame::Frame;
use super::post::{bda, r8};
use crate::layout::BDA_START;

/// Scan codes (set 1) of the printable ASCII characters on a US keyboard, from 0x20.
const SCAN: [u8; 95] = [
    0x39, 0x02, 0x28, 0x04, 0x05, 0x06, 0x08, 0x28, 0x0A, 0x0B, 0x09, 0x0D, 0x33, 0x0C, 0x34, 0x35, // space .. /
    0x0B, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, // 0-9
    0x27, 0x27, 0x33, 0x0D, 0x34, 0x35, 0x03, // : ; < = > ? @
    0x1E, 0x30, 0x2E, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25, 0x26, 0x32, // A-M
    0x31, 0x18, 0x19, 0x10, 0x13, 0x1F, 0x14, 0x16, 0x2F, 0x11, 0x2D, 0x15, 0x2C, // N-Z
    0x1A, 0x2B, 0x1B, 0x07, 0x0C, 0x29, // [ \ ] ^ _ `
    0x1E, 0x30, 0x2E, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25, 0x26, 0x32, // a-m
    0x31, 0x18, 0x19, 0x10, 0x13, 0x1F, 0x14, 0x16, 0x2F, 0x11, 0x2D, 0x15, 0x2C, // n-z
    0x1A, 0x2B, 0x1B, 0x29, // { | } ~
];

/// The key code for one byte that is not part of an escape sequence.
pub(crate) fn key_for_byte(b: u8) -> u16 {
    match b {
        0x0D | 0x0A => 0x1C0D,
        0x08 | 0x7F => 0x0E08,
        0x09 => 0x0F09,
        0x1B => 0x011B,
        0x20..=0x7E => (SCAN[(b - 0x20) as usize] as u16) << 8 | b as u16,
        // Ctrl-A .. Ctrl-Z: the letter's scan code with the control character.
        0x01..=0x1A => (SCAN[(b + 0x40 - 0x20) as usize] as u16) << 8 | b as u16,
        _ => b as u16,
    }
}

/// Decode a terminal escape sequence at the front of `bytes` (which starts with ESC).
/// Returns the key and how many bytes it used, or None when the bytes are not (yet) one.
pub(crate) fn escape_key(bytes: &[u8]) -> Option<(u16, usize)> {
    let seqs: &[(&[u8], u16)] = &[
        (b"\x1b[A", 0x4800),
        (b"\x1b[B", 0x5000),
        (b"\x1b[C", 0x4D00),
        (b"\x1b[D", 0x4B00),
        (b"\x1b[H", 0x4700),
        (b"\x1b[F", 0x4F00),
        (b"\x1bOH", 0x4700),
        (b"\x1bOF", 0x4F00),
        (b"\x1b[1~", 0x4700),
        (b"\x1b[2~", 0x5200),
        (b"\x1b[3~", 0x5300),
        (b"\x1b[4~", 0x4F00),
        (b"\x1b[5~", 0x4900),
        (b"\x1b[6~", 0x5100),
        (b"\x1bOP", 0x3B00),
        (b"\x1bOQ", 0x3C00),
        (b"\x1bOR", 0x3D00),
        (b"\x1bOS", 0x3E00),
        (b"\x1b[15~", 0x3F00),
        (b"\x1b[17~", 0x4000),
        (b"\x1b[18~", 0x4100),
        (b"\x1b[19~", 0x4200),
        (b"\x1b[20~", 0x4300),
        (b"\x1b[21~", 0x4400),
        (b"\x1b[23~", 0x8500),
        (b"\x1b[24~", 0x8600),
    ];
    seqs.iter().find(|(s, _)| bytes.starts_with(s)).map(|&(s, k)| (k, s.len()))
}

impl Bios {
    /// Move console bytes into the key queue.
    fn gather_keys(&mut self) {
        while let Some(b) = self.console_byte() {
            self.pending.push_back(b);
        }
        while let Some(&b) = self.pending.front() {
            if b == 0x1B && self.pending.len() > 1 {
                let bytes: Vec<u8> = self.pending.iter().copied().take(6).collect();
                if let Some((k, n)) = escape_key(&bytes) {
                    self.pending.drain(..n);
                    self.keys.push_back(k);
                    continue;
                }
            }
            self.pending.pop_front();
            self.keys.push_back(key_for_byte(b));
        }
    }

    pub(super) fn int16(&mut self, f: &mut Frame) {
        let extended = f.ah() & 0x10 != 0;
        match f.ah() {
            0x00 | 0x10 => {
                self.gather_keys();
                match self.keys.pop_front() {
                    Some(k) => f.set_ax(if extended { k } else { plain(k) }),
                    // Nothing typed yet: the stub sleeps until an interrupt and asks again.
                    None => f.retry = true,
                }
            }
            0x01 | 0x11 => {
                self.gather_keys();
                match self.keys.front() {
                    Some(&k) => {
                        f.set_ax(if extended { k } else { plain(k) });
                        f.set_zf(false);
                    }
                    None => f.set_zf(true),
                }
            }
            0x02 => f.set_al(r8(&self.cfg.mem, BDA_START + bda::KBD_FLAGS)),
            0x12 => {
                f.set_al(r8(&self.cfg.mem, BDA_START + bda::KBD_FLAGS));
                f.set_ah(r8(&self.cfg.mem, BDA_START + bda::KBD_FLAGS + 1));
            }
            0x03 => {}
            0x05 => {
                // Store a key in the buffer.
                if self.keys.len() < 15 {
                    self.keys.push_back(f.cx());
                    f.set_al(0);
                } else {
                    f.set_al(1);
                }
            }
            0x09 => f.set_al(0x20),   // functionality: 10h-12h supported
            0x0A => f.set_bx(0xAB83), // keyboard ID: MF2
            _ => {}
        }
    }
}

/// What the non-extended functions return for extended keys (E0h-prefixed codes).
fn plain(k: u16) -> u16 {
    if k & 0xFF == 0xE0 { k & 0xFF00 } else { k }
}

/// Drain helper for tests.
#[cfg(test)]
fn keys_of(bytes: &[u8]) -> Vec<u16> {
    let mut q: std::collections::VecDeque<u8> = bytes.iter().copied().collect();
    let mut out = Vec::new();
    while let Some(&b) = q.front() {
        let v: Vec<u8> = q.iter().copied().take(6).collect();
        if b == 0x1B {
            if let Some((k, n)) = escape_key(&v) {
                q.drain(..n);
                out.push(k);
                continue;
            }
        }
        q.pop_front();
        out.push(key_for_byte(b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_bytes_become_pc_key_codes() {
        assert_eq!(keys_of(b"aZ1\r"), vec![0x1E61, 0x2C5A, 0x0231, 0x1C0D]);
        assert_eq!(keys_of(b"\x7f\t \x03"), vec![0x0E08, 0x0F09, 0x3920, 0x2E03]);
    }

    #[test]
    fn terminal_escape_sequences_become_arrow_and_function_keys() {
        assert_eq!(keys_of(b"\x1b[A\x1b[B\x1b[3~\x1bOP\x1b[24~"), vec![0x4800, 0x5000, 0x5300, 0x3B00, 0x8600]);
        // A lone escape stays an escape.
        assert_eq!(keys_of(b"\x1bx"), vec![0x011B, 0x2D78]);
    }
}

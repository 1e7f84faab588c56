//! INT 1Ah time services: the tick count in the BIOS data area and the RTC's date and time.

use super::Bios;
use super::frame::Frame;
use super::post::{bda, r8, r32};
use crate::bus::lock;
use crate::layout::BDA_START;
use vm_memory::{Bytes, GuestAddress};

/// RTC registers (MC146818).
const SECONDS: u8 = 0x00;
const MINUTES: u8 = 0x02;
const HOURS: u8 = 0x04;
const DAY: u8 = 0x07;
const MONTH: u8 = 0x08;
const YEAR: u8 = 0x09;
const REG_B: u8 = 0x0B;
const CENTURY: u8 = 0x32;
/// Register B: binary (not BCD) mode, 24-hour mode, daylight saving.
const B_BINARY: u8 = 0x04;
const B_24H: u8 = 0x02;
const B_DSE: u8 = 0x01;

fn to_bcd(v: u8) -> u8 {
    let v = v % 100;
    (v / 10) << 4 | (v % 10)
}

fn from_bcd(v: u8) -> u8 {
    (v >> 4).wrapping_mul(10).wrapping_add(v & 15)
}

impl Bios {
    /// Read RTC registers as BCD, leaving the guest's index register as it was. Also returns
    /// register B.
    fn rtc_read(&self, regs: &[u8]) -> (Vec<u8>, u8) {
        let mut c = lock(&self.cfg.cmos);
        let saved = c.index();
        let b = {
            c.write_index(REG_B);
            c.read_data()
        };
        let out = regs
            .iter()
            .map(|&r| {
                c.write_index(r);
                let v = c.read_data();
                if r == HOURS && b & B_24H == 0 {
                    // 12-hour mode: bit 7 is PM.
                    let pm = v & 0x80 != 0;
                    let h = if b & B_BINARY != 0 { v & 0x7F } else { from_bcd(v & 0x7F) } % 12;
                    let h24 = if pm { h + 12 } else { h };
                    if b & B_BINARY != 0 { h24 } else { to_bcd(h24) }
                } else {
                    v
                }
            })
            .map(|v| if b & B_BINARY != 0 { to_bcd(v) } else { v })
            .collect();
        c.write_index(saved);
        (out, b)
    }

    /// Write RTC registers from BCD values, in the RTC's own format.
    fn rtc_write(&self, regs: &[(u8, u8)]) {
        let mut c = lock(&self.cfg.cmos);
        let saved = c.index();
        c.write_index(REG_B);
        let b = c.read_data();
        for &(r, bcd) in regs {
            c.write_index(r);
            c.write_data(if b & B_BINARY != 0 { from_bcd(bcd) } else { bcd });
        }
        c.write_index(saved);
    }

    pub(super) fn int1a(&mut self, f: &mut Frame) {
        let m = &self.cfg.mem;
        match f.ah() {
            0x00 => {
                let t = r32(m, BDA_START + bda::TICKS);
                f.set_cx((t >> 16) as u16);
                f.set_dx(t as u16);
                f.set_al(r8(m, BDA_START + bda::MIDNIGHT));
                let _ = m.write_obj(0u8, GuestAddress(BDA_START + bda::MIDNIGHT));
                f.set_cf(false);
            }
            0x01 => {
                let t = (f.cx() as u32) << 16 | f.dx() as u32;
                let _ = m.write_obj(t, GuestAddress(BDA_START + bda::TICKS));
                let _ = m.write_obj(0u8, GuestAddress(BDA_START + bda::MIDNIGHT));
                f.set_cf(false);
            }
            0x02 => {
                let (v, b) = self.rtc_read(&[HOURS, MINUTES, SECONDS]);
                f.set_ch(v[0]);
                f.set_cl(v[1]);
                f.set_dh(v[2]);
                f.set_dl(b & B_DSE);
                f.set_cf(false);
            }
            0x03 => {
                self.rtc_write(&[(HOURS, f.ch()), (MINUTES, f.cl()), (SECONDS, f.dh())]);
                f.set_cf(false);
            }
            0x04 => {
                let (v, _) = self.rtc_read(&[CENTURY, YEAR, MONTH, DAY]);
                f.set_ch(v[0]);
                f.set_cl(v[1]);
                f.set_dh(v[2]);
                f.set_dl(v[3]);
                f.set_cf(false);
            }
            0x05 => {
                self.rtc_write(&[(CENTURY, f.ch()), (YEAR, f.cl()), (MONTH, f.dh()), (DAY, f.dl())]);
                f.set_cf(false);
            }
            _ => f.set_cf(true),
        }
    }
}

//! INT 13h disk services for hard disks 80h, 81h, ...: CHS and extended (EDD) reads and
//! writes, drive parameters, status. Diskette drives (DL < 80h) do not exist.

use super::Bios;
use super::frame::Frame;
use vm_memory::{Bytes, GuestAddress};

/// INT 13h status codes (AH).
mod status {
    pub const OK: u8 = 0x00;
    pub const INVALID: u8 = 0x01;
    pub const WRITE_PROTECTED: u8 = 0x03;
    pub const NOT_FOUND: u8 = 0x04;
    pub const TIMEOUT: u8 = 0x80;
    pub const UNSUPPORTED: u8 = 0x01;
}

const SECTOR: usize = 512;

impl Bios {
    fn drive_index(&self, dl: u8) -> Option<usize> {
        let i = dl.checked_sub(0x80)? as usize;
        (i < self.cfg.disks.len()).then_some(i)
    }

    fn finish(&mut self, f: &mut Frame, drive: Option<usize>, st: u8) {
        if let Some(i) = drive {
            self.disk_status[i] = st;
        }
        if st == status::OK { f.ok() } else { f.fail(st) }
    }

    pub(super) fn int13(&mut self, f: &mut Frame) {
        let dl = f.dl();
        let Some(d) = self.drive_index(dl) else {
            // No such drive (no diskettes at all): 15h reports "no drive", the rest fail.
            match f.ah() {
                0x15 => {
                    f.set_ah(0);
                    f.set_cf(false);
                }
                0x00 if dl < 0x80 => f.fail(status::TIMEOUT),
                _ => f.fail(status::INVALID),
            }
            return;
        };
        let st = match f.ah() {
            0x00 => status::OK,
            0x01 => {
                let s = self.disk_status[d];
                f.set_al(s);
                f.set_ah(0);
                f.set_cf(s != 0);
                self.disk_status[d] = 0;
                return;
            }
            0x02 | 0x03 => self.handle_1302(f, d),
            0x04 => status::OK, // verify: nothing to check on an image
            0x08 => {
                let g = self.cfg.disks[d].geometry();
                let (c, h, s) = (g.cylinders, g.heads, g.sectors_per_track);
                let maxc = c - 1;
                f.set_ch(maxc as u8);
                f.set_cl(s as u8 | ((maxc >> 2) as u8 & 0xC0));
                f.set_dh((h - 1) as u8);
                f.set_dl(self.cfg.disks.len() as u8);
                f.set_bl(0);
                f.es = 0;
                f.set_di(0);
                f.set_al(0);
                status::OK
            }
            0x0C | 0x0D | 0x10 | 0x11 | 0x14 => status::OK, // seek, reset, ready, recalibrate, diagnostic
            0x15 => {
                // Fixed disk; CX:DX = number of sectors.
                let n = self.cfg.disks[d].sectors().min(u32::MAX as u64) as u32;
                f.set_cx((n >> 16) as u16);
                f.set_dx(n as u16);
                f.set_ah(3);
                f.set_cf(false);
                self.disk_status[d] = 0;
                return;
            }
            0x41 if f.bx() == 0x55AA => {
                // EDD 1.1 with the fixed-disk access subset (42h-44h, 47h, 48h).
                f.set_bx(0xAA55);
                f.set_cx(0x0001);
                f.set_ah(0x21);
                f.set_cf(false);
                self.disk_status[d] = 0;
                return;
            }
            0x42 | 0x43 => self.handle_1342(f, d),
            0x44 | 0x47 => status::OK, // verify, seek
            0x48 => self.handle_1348(f, d),
            0x4B => status::UNSUPPORTED, // not a CD-ROM in emulation
            _ => status::UNSUPPORTED,
        };
        self.finish(f, Some(d), st);
    }

    /// 02h read / 03h write: AL sectors at cylinder CH + CL[7:6], head DH, sector CL[5:0],
    /// to or from ES:BX.
    fn handle_1302(&mut self, f: &mut Frame, d: usize) -> u8 {
        let count = f.al() as u64;
        let cyl = f.ch() as u64 | ((f.cl() as u64 & 0xC0) << 2);
        let head = f.dh() as u64;
        let sector = f.cl() as u64 & 0x3F;
        let g = self.cfg.disks[d].geometry();
        let (heads, spt) = (g.heads, g.sectors_per_track);
        if count == 0 || sector == 0 || sector > spt as u64 || head >= heads as u64 {
            f.set_al(0);
            return status::INVALID;
        }
        let lba = (cyl * heads as u64 + head) * spt as u64 + sector - 1;
        let buf = Frame::linear(f.es, f.bx());
        let write = f.ah() == 0x03;
        let (done, st) = self.transfer(d, lba, count, buf, write);
        f.set_al(done as u8);
        st
    }

    /// 42h read / 43h write: the disk address packet at DS:SI.
    fn handle_1342(&mut self, f: &mut Frame, d: usize) -> u8 {
        let m = &self.cfg.mem;
        let dap = Frame::linear(f.ds, f.si());
        let mut p = [0u8; 24];
        if m.read_slice(&mut p[..16], GuestAddress(dap)).is_err() || p[0] < 0x10 {
            return status::INVALID;
        }
        let count = u16::from_le_bytes([p[2], p[3]]) as u64;
        let off = u16::from_le_bytes([p[4], p[5]]);
        let seg = u16::from_le_bytes([p[6], p[7]]);
        let lba = u64::from_le_bytes(p[8..16].try_into().unwrap_or([0; 8]));
        let mut buf = Frame::linear(seg, off);
        if seg == 0xFFFF && off == 0xFFFF && p[0] >= 0x18 {
            // EDD 3.0: a 64-bit flat buffer address follows.
            if m.read_slice(&mut p[16..24], GuestAddress(dap + 16)).is_ok() {
                buf = u64::from_le_bytes(p[16..24].try_into().unwrap_or([0; 8]));
            }
        }
        let write = f.ah() == 0x43;
        let (done, st) = self.transfer(d, lba, count, buf, write);
        // The packet's count says how many sectors were transferred.
        let _ = self.cfg.mem.write_obj(done as u16, GuestAddress(dap + 2));
        st
    }

    /// 48h: drive parameters into the buffer at DS:SI (its first word is its size).
    fn handle_1348(&mut self, f: &mut Frame, d: usize) -> u8 {
        let m = &self.cfg.mem;
        let at = Frame::linear(f.ds, f.si());
        let size: u16 = m.read_obj(GuestAddress(at)).unwrap_or(0);
        if size < 0x1A {
            return status::INVALID;
        }
        let sectors = self.cfg.disks[d].sectors();
        let g = self.cfg.disks[d].geometry();
        let (c, h, s) = (g.cylinders, g.heads, g.sectors_per_track);
        let mut out = Vec::with_capacity(0x1A);
        out.extend(0x1Au16.to_le_bytes());
        out.extend(0x0002u16.to_le_bytes()); // flags: CHS information valid
        out.extend(c.to_le_bytes());
        out.extend(h.to_le_bytes());
        out.extend(s.to_le_bytes());
        out.extend(sectors.to_le_bytes());
        out.extend((SECTOR as u16).to_le_bytes());
        if m.write_slice(&out, GuestAddress(at)).is_err() {
            return status::INVALID;
        }
        status::OK
    }

    /// Move `count` sectors between disk `d` at `lba` and guest memory at `buf`.
    /// Returns (sectors done, status).
    fn transfer(&mut self, d: usize, lba: u64, count: u64, buf: u64, write: bool) -> (u64, u8) {
        let disk = &mut self.cfg.disks[d];
        let mut data = vec![0u8; SECTOR];
        let mut done = 0;
        let mut st = status::OK;
        if write && disk.is_read_only() {
            return (0, status::WRITE_PROTECTED);
        }
        while done < count {
            let l = lba + done;
            let at = GuestAddress(buf + done * SECTOR as u64);
            if write {
                if self.cfg.mem.read_slice(&mut data, at).is_err() {
                    st = status::INVALID;
                    break;
                }
                if disk.write(l, &data).is_err() {
                    st = status::NOT_FOUND;
                    break;
                }
            } else {
                if disk.read(l, &mut data).is_err() {
                    st = status::NOT_FOUND;
                    break;
                }
                if self.cfg.mem.write_slice(&data, at).is_err() {
                    st = status::INVALID;
                    break;
                }
            }
            done += 1;
        }
        if !write {
            self.cfg.trace.disk_read(0x80 + d as u8, lba, done, buf, &self.cfg.mem);
        }
        (done, st)
    }
}

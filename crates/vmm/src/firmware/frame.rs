//! The registers a BIOS stub saved on the caller's stack, as the Rust services read and change
//! them (layout in guest/bios.S).

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Byte offsets in the frame.
const GS: u64 = 0;
const FS: u64 = 2;
const ES: u64 = 4;
const DS: u64 = 6;
const EDI: u64 = 8;
const ESI: u64 = 12;
const EBP: u64 = 16;
const EBX: u64 = 24;
const EDX: u64 = 28;
const ECX: u64 = 32;
const EAX: u64 = 36;
const SERVICE: u64 = 40;
const STATUS: u64 = 41;
const IP: u64 = 42;
const CS: u64 = 44;
const FLAGS: u64 = 46;
/// Size of the frame.
pub const FRAME_SIZE: u64 = 48;

pub const CF: u16 = 1 << 0;
pub const ZF: u16 = 1 << 6;
pub const IF: u16 = 1 << 9;

/// A copy of the saved registers; [`Frame::store`] writes the changes back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// Linear address of the frame (SS * 16 + SP).
    pub at: u64,
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
    pub esi: u32,
    pub edi: u32,
    pub ebp: u32,
    pub ds: u16,
    pub es: u16,
    pub fs: u16,
    pub gs: u16,
    pub service: u8,
    /// Set to 1 to make the stub wait for an interrupt and call again.
    pub retry: bool,
    /// Where the INT returns to, and the FLAGS it restores.
    pub ip: u16,
    pub cs: u16,
    pub flags: u16,
}

fn rd16(m: &GuestMemoryMmap, a: u64) -> Option<u16> {
    m.read_obj::<u16>(GuestAddress(a)).ok()
}

fn rd32(m: &GuestMemoryMmap, a: u64) -> Option<u32> {
    m.read_obj::<u32>(GuestAddress(a)).ok()
}

impl Frame {
    /// Read the frame at `ss:sp`; None if it is not in RAM.
    pub fn load(m: &GuestMemoryMmap, ss: u16, sp: u16) -> Option<Frame> {
        let at = ((ss as u64) << 4) + sp as u64;
        Some(Frame {
            at,
            eax: rd32(m, at + EAX)?,
            ebx: rd32(m, at + EBX)?,
            ecx: rd32(m, at + ECX)?,
            edx: rd32(m, at + EDX)?,
            esi: rd32(m, at + ESI)?,
            edi: rd32(m, at + EDI)?,
            ebp: rd32(m, at + EBP)?,
            ds: rd16(m, at + DS)?,
            es: rd16(m, at + ES)?,
            fs: rd16(m, at + FS)?,
            gs: rd16(m, at + GS)?,
            service: m.read_obj::<u8>(GuestAddress(at + SERVICE)).ok()?,
            retry: false,
            ip: rd16(m, at + IP)?,
            cs: rd16(m, at + CS)?,
            flags: rd16(m, at + FLAGS)?,
        })
    }

    /// Write the registers back for the stub to restore.
    pub fn store(&self, m: &GuestMemoryMmap) {
        let at = self.at;
        let w32 = |off: u64, v: u32| {
            let _ = m.write_obj(v, GuestAddress(at + off));
        };
        let w16 = |off: u64, v: u16| {
            let _ = m.write_obj(v, GuestAddress(at + off));
        };
        w32(EAX, self.eax);
        w32(EBX, self.ebx);
        w32(ECX, self.ecx);
        w32(EDX, self.edx);
        w32(ESI, self.esi);
        w32(EDI, self.edi);
        w32(EBP, self.ebp);
        w16(DS, self.ds);
        w16(ES, self.es);
        w16(FS, self.fs);
        w16(GS, self.gs);
        let _ = m.write_obj(self.retry as u8, GuestAddress(at + STATUS));
        w16(IP, self.ip);
        w16(CS, self.cs);
        w16(FLAGS, self.flags);
    }

    pub fn ax(&self) -> u16 {
        self.eax as u16
    }
    pub fn al(&self) -> u8 {
        self.eax as u8
    }
    pub fn ah(&self) -> u8 {
        (self.eax >> 8) as u8
    }
    pub fn bx(&self) -> u16 {
        self.ebx as u16
    }
    pub fn bl(&self) -> u8 {
        self.ebx as u8
    }
    pub fn bh(&self) -> u8 {
        (self.ebx >> 8) as u8
    }
    pub fn cx(&self) -> u16 {
        self.ecx as u16
    }
    pub fn cl(&self) -> u8 {
        self.ecx as u8
    }
    pub fn ch(&self) -> u8 {
        (self.ecx >> 8) as u8
    }
    pub fn dx(&self) -> u16 {
        self.edx as u16
    }
    pub fn dl(&self) -> u8 {
        self.edx as u8
    }
    pub fn dh(&self) -> u8 {
        (self.edx >> 8) as u8
    }
    pub fn si(&self) -> u16 {
        self.esi as u16
    }
    pub fn di(&self) -> u16 {
        self.edi as u16
    }

    pub fn set_ax(&mut self, v: u16) {
        self.eax = (self.eax & !0xFFFF) | v as u32;
    }
    pub fn set_al(&mut self, v: u8) {
        self.eax = (self.eax & !0xFF) | v as u32;
    }
    pub fn set_ah(&mut self, v: u8) {
        self.eax = (self.eax & !0xFF00) | (v as u32) << 8;
    }
    pub fn set_bx(&mut self, v: u16) {
        self.ebx = (self.ebx & !0xFFFF) | v as u32;
    }
    pub fn set_bl(&mut self, v: u8) {
        self.ebx = (self.ebx & !0xFF) | v as u32;
    }
    pub fn set_bh(&mut self, v: u8) {
        self.ebx = (self.ebx & !0xFF00) | (v as u32) << 8;
    }
    pub fn set_cx(&mut self, v: u16) {
        self.ecx = (self.ecx & !0xFFFF) | v as u32;
    }
    pub fn set_cl(&mut self, v: u8) {
        self.ecx = (self.ecx & !0xFF) | v as u32;
    }
    pub fn set_ch(&mut self, v: u8) {
        self.ecx = (self.ecx & !0xFF00) | (v as u32) << 8;
    }
    pub fn set_dx(&mut self, v: u16) {
        self.edx = (self.edx & !0xFFFF) | v as u32;
    }
    pub fn set_dl(&mut self, v: u8) {
        self.edx = (self.edx & !0xFF) | v as u32;
    }
    pub fn set_dh(&mut self, v: u8) {
        self.edx = (self.edx & !0xFF00) | (v as u32) << 8;
    }
    pub fn set_di(&mut self, v: u16) {
        self.edi = (self.edi & !0xFFFF) | v as u32;
    }

    /// Set or clear the caller's carry flag (the usual BIOS error flag).
    pub fn set_cf(&mut self, on: bool) {
        if on {
            self.flags |= CF;
        } else {
            self.flags &= !CF;
        }
    }

    pub fn set_zf(&mut self, on: bool) {
        if on {
            self.flags |= ZF;
        } else {
            self.flags &= !ZF;
        }
    }

    /// Success: CF clear, AH = 0.
    pub fn ok(&mut self) {
        self.set_ah(0);
        self.set_cf(false);
    }

    /// Failure with status `ah`: CF set.
    pub fn fail(&mut self, ah: u8) {
        self.set_ah(ah);
        self.set_cf(true);
    }

    /// Linear address of `seg:off`.
    pub fn linear(seg: u16, off: u16) -> u64 {
        ((seg as u64) << 4) + off as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_through_guest_memory() {
        let m = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x10000)]).unwrap();
        let mut raw = [0u8; FRAME_SIZE as usize];
        raw[EAX as usize..EAX as usize + 4].copy_from_slice(&0x1234_0E41u32.to_le_bytes());
        raw[SERVICE as usize] = 0x10;
        raw[FLAGS as usize..FLAGS as usize + 2].copy_from_slice(&0x0202u16.to_le_bytes());
        m.write_slice(&raw, GuestAddress(0x7BD0)).unwrap();
        let mut f = Frame::load(&m, 0x07B0, 0x00D0).unwrap();
        assert_eq!((f.service, f.ah(), f.al(), f.flags), (0x10, 0x0E, 0x41, 0x0202));
        f.set_ah(0x86);
        f.set_cf(true);
        f.retry = true;
        f.store(&m);
        let g = Frame::load(&m, 0, 0x7BD0).unwrap();
        assert_eq!(g.eax, 0x1234_8641);
        assert_eq!(g.flags, 0x0203);
        assert_eq!(m.read_obj::<u8>(GuestAddress(0x7BD0 + STATUS)).unwrap(), 1);
    }
}

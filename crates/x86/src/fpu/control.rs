//! x87 control instructions: FLDCW, FSTCW, FSTSW, FCLEX, FINIT, FLDENV/FSTENV, FRSTOR/FSAVE
//! (16- and 32-bit operand size, real-mode and protected-mode images), FXSAVE/FXRSTOR, and the
//! 8087/287 leftovers that a 387 ignores. None of them updates the last-instruction pointers.

use super::round::ex;
use super::value::F80;
use super::{begin, sync_ferr};
use crate::bus::Bus;
use crate::cpu::{Cpu, Mode};
use crate::exec::Handler;
use crate::fault::{Fault, Result};
use crate::icache::Decoded;
use crate::state::RAX;
use iced_x86::Code;

/// Control word bits that always read as 0 (13-15, 7) and the one that reads as 1 (6).
const CW_RESERVED: u16 = 0xE0C0;
const CW_ONE: u16 = 0x0040;

pub(super) fn handler(c: Code) -> Option<Handler> {
    use Code as C;
    Some(match c {
        C::Fldcw_m2byte => fldcw,
        C::Fnstcw_m2byte => fstcw::<false>,
        C::Fstcw_m2byte => fstcw::<true>,
        C::Fnstsw_m2byte => fstsw::<false, false>,
        C::Fstsw_m2byte => fstsw::<true, false>,
        C::Fnstsw_AX => fstsw::<false, true>,
        C::Fstsw_AX => fstsw::<true, true>,
        C::Fnclex => fclex::<false>,
        C::Fclex => fclex::<true>,
        C::Fninit => finit::<false>,
        C::Finit => finit::<true>,
        C::Fldenv_m14byte | C::Fldenv_m28byte => fldenv::<false>,
        C::Frstor_m94byte | C::Frstor_m108byte => fldenv::<true>,
        C::Fnstenv_m14byte | C::Fnstenv_m28byte => fstenv::<false, false>,
        C::Fstenv_m14byte | C::Fstenv_m28byte => fstenv::<true, false>,
        C::Fnsave_m94byte | C::Fnsave_m108byte => fstenv::<false, true>,
        C::Fsave_m94byte | C::Fsave_m108byte => fstenv::<true, true>,
        C::Fneni | C::Fndisi | C::Fnsetpm => legacy::<false>,
        C::Feni | C::Fdisi | C::Fsetpm => legacy::<true>,
        C::Fxsave_m512byte | C::Fxsave64_m512byte => fxsave,
        C::Fxrstor_m512byte | C::Fxrstor64_m512byte => fxrstor,
        _ => return None,
    })
}

/// Check that `n` bytes at `s:o` can be written.
fn probe(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded, s: usize, o: u64, n: u64) -> Result<()> {
    let m = d.amask();
    if o + n - 1 <= m {
        return cpu.probe_write(bus, s, o, n);
    }
    for k in 0..n {
        cpu.probe_write(bus, s, (o + k) & m, 1)?;
    }
    Ok(())
}

/// Write `bytes` at `s:o` after checking every byte can be written.
fn write_bytes(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded, s: usize, o: u64, bytes: &[u8]) -> Result<()> {
    let m = d.amask();
    probe(cpu, bus, d, s, o, bytes.len() as u64)?;
    for (k, c) in bytes.chunks(8).enumerate() {
        let mut v = [0u8; 8];
        v[..c.len()].copy_from_slice(c);
        let off = (o + 8 * k as u64) & m;
        if off + c.len() as u64 - 1 <= m {
            cpu.write(bus, s, off, c.len() as u64, u64::from_le_bytes(v))?;
        } else {
            for (j, b) in c.iter().enumerate() {
                cpu.write(bus, s, (off + j as u64) & m, 1, *b as u64)?;
            }
        }
    }
    Ok(())
}

/// Read `buf.len()` bytes at `s:o`.
fn read_bytes(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded, s: usize, o: u64, buf: &mut [u8]) -> Result<()> {
    let m = d.amask();
    for (k, c) in buf.chunks_mut(8).enumerate() {
        let off = (o + 8 * k as u64) & m;
        if off + c.len() as u64 - 1 <= m {
            let v = cpu.read(bus, s, off, c.len() as u64)?.to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        } else {
            for (j, b) in c.iter_mut().enumerate() {
                *b = cpu.read(bus, s, (off + j as u64) & m, 1)? as u8;
            }
        }
    }
    Ok(())
}

fn fldcw(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let (s, o) = cpu.ea(d);
    let v = cpu.read(bus, s, o, 2)? as u16;
    cpu.fpu.cw = (v & !CW_RESERVED) | CW_ONE;
    sync_ferr(cpu, bus);
    Ok(())
}

fn fstcw<const WAIT: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, WAIT)?;
    let (s, o) = cpu.ea(d);
    let cw = cpu.fpu.cw;
    cpu.write(bus, s, o, 2, cw as u64)
}

fn fstsw<const WAIT: bool, const AX: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, WAIT)?;
    let v = cpu.fpu.status_word() as u64;
    if AX {
        cpu.s.gpr[RAX] = (cpu.s.gpr[RAX] & !0xFFFF) | v;
        return Ok(());
    }
    let (s, o) = cpu.ea(d);
    cpu.write(bus, s, o, 2, v)
}

fn fclex<const WAIT: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, WAIT)?;
    cpu.fpu.sw &= !(ex::ALL | ex::SF);
    sync_ferr(cpu, bus);
    Ok(())
}

fn finit<const WAIT: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, WAIT)?;
    cpu.fpu.init();
    sync_ferr(cpu, bus);
    Ok(())
}

/// FNENI, FNDISI, FNSETPM: 8087/287 instructions a 387 or later executes as no-ops.
fn legacy<const WAIT: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, _: &Decoded) -> Result<()> {
    begin(cpu, bus, WAIT)
}

fn real_format(cpu: &Cpu) -> bool {
    matches!(cpu.mode, Mode::Real | Mode::Virtual8086)
}

/// The environment image: 14 bytes (16-bit operand size) or 28 (32-bit), in the real-mode or
/// protected-mode layout (SDM Vol. 1, Figures 8-9 to 8-12). Reserved halves of 32-bit fields
/// read as FFFFh, as on Intel hardware (and Bochs).
pub(super) fn env_image(cpu: &Cpu, o32: bool) -> ([u8; 28], usize) {
    let f = &cpu.fpu;
    let mut b = [0u8; 28];
    let (cw, sw, tw) = (f.cw as u32, f.status_word() as u32, f.tag_word() as u32);
    let fop = f.fop as u32 & 0x7FF;
    let ip = ((f.fcs as u32) << 4).wrapping_add(f.fip as u32);
    let dp = ((f.fds as u32) << 4).wrapping_add(f.fdp as u32);
    let real = real_format(cpu);
    if o32 {
        let fields = if real {
            [
                0xFFFF_0000 | cw,
                0xFFFF_0000 | sw,
                0xFFFF_0000 | tw,
                0xFFFF_0000 | (ip & 0xFFFF),
                ((ip & 0xFFFF_0000) >> 4) | fop,
                0xFFFF_0000 | (dp & 0xFFFF),
                (dp & 0xFFFF_0000) >> 4,
            ]
        } else {
            [
                0xFFFF_0000 | cw,
                0xFFFF_0000 | sw,
                0xFFFF_0000 | tw,
                f.fip as u32,
                f.fcs as u32 | (fop << 16),
                f.fdp as u32,
                0xFFFF_0000 | f.fds as u32,
            ]
        };
        for (i, v) in fields.iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        (b, 28)
    } else {
        let fields = if real {
            [cw, sw, tw, ip & 0xFFFF, ((ip & 0xF_0000) >> 4) | fop, dp & 0xFFFF, (dp & 0xF_0000) >> 4]
        } else {
            [cw, sw, tw, f.fip as u32 & 0xFFFF, f.fcs as u32, f.fdp as u32 & 0xFFFF, f.fds as u32]
        };
        for (i, v) in fields.iter().enumerate() {
            b[2 * i..2 * i + 2].copy_from_slice(&(*v as u16).to_le_bytes());
        }
        (b, 14)
    }
}

/// Load an environment image (the inverse of [`env_image`]).
pub(super) fn load_env(cpu: &mut Cpu, b: &[u8], o32: bool) {
    let real = real_format(cpu);
    let word = |i: usize| -> u32 {
        if o32 {
            u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
        } else {
            u16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as u32
        }
    };
    let f = &mut cpu.fpu;
    f.cw = (word(0) as u16 & !CW_RESERVED) | CW_ONE;
    f.set_status_word(word(1) as u16);
    f.set_tag_word(word(2) as u16);
    let (w3, w4, w5, w6) = (word(3), word(4), word(5), word(6));
    if real {
        // Pointer bits 16 and up sit in bits 12 and up of the next field.
        let mask = if o32 { 0x0FFF_F000 } else { 0xF000 };
        f.fip = (((w4 & mask) << 4) | (w3 & 0xFFFF)) as u64;
        f.fop = (w4 & 0x7FF) as u16;
        f.fdp = (((w6 & mask) << 4) | (w5 & 0xFFFF)) as u64;
        f.fcs = 0;
        f.fds = 0;
    } else {
        f.fip = w3 as u64;
        f.fcs = w4 as u16;
        f.fop = if o32 { ((w4 >> 16) & 0x7FF) as u16 } else { 0 };
        f.fdp = w5 as u64;
        f.fds = w6 as u16;
    }
}

/// FLDENV (`REGS` false) and FRSTOR (`REGS` true).
fn fldenv<const REGS: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, true)?;
    let (s, o) = cpu.ea(d);
    let o32 = d.opsz >= 4;
    let n = if o32 { 28 } else { 14 };
    let mut buf = [0u8; 108];
    let len = if REGS { n + 80 } else { n };
    read_bytes(cpu, bus, d, s, o, &mut buf[..len])?;
    load_env(cpu, &buf[..n], o32);
    if REGS {
        for i in 0..8 {
            let r = &buf[n + 10 * i..n + 10 * i + 10];
            let mut w = [0u8; 16];
            w[..10].copy_from_slice(r);
            let p = cpu.fpu.phys(i);
            cpu.fpu.regs[p] = F80::from_bits(u128::from_le_bytes(w));
        }
    }
    sync_ferr(cpu, bus);
    Ok(())
}

/// FSTENV (`REGS` false: then masks every exception) and FSAVE (`REGS` true: then FNINIT).
fn fstenv<const WAIT: bool, const REGS: bool>(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, WAIT)?;
    let (s, o) = cpu.ea(d);
    let o32 = d.opsz >= 4;
    let (img, n) = env_image(cpu, o32);
    let mut buf = [0u8; 108];
    buf[..n].copy_from_slice(&img[..n]);
    let len = if REGS {
        for i in 0..8 {
            let v = cpu.fpu.get(i).to_bits().to_le_bytes();
            buf[n + 10 * i..n + 10 * i + 10].copy_from_slice(&v[..10]);
        }
        n + 80
    } else {
        n
    };
    write_bytes(cpu, bus, d, s, o, &buf[..len])?;
    if REGS {
        cpu.fpu.init();
    } else {
        cpu.fpu.cw |= ex::ALL;
    }
    sync_ferr(cpu, bus);
    Ok(())
}

/// The 16-byte alignment FXSAVE and FXRSTOR require of their linear address (#GP(0)).
fn fx_operand(cpu: &Cpu, d: &Decoded) -> Result<(usize, u64)> {
    let (s, o) = cpu.ea(d);
    if cpu.s.seg[s].base.wrapping_add(o) & 15 != 0 {
        return Err(Fault::gp0());
    }
    Ok((s, o))
}

/// The x87 part of the FXSAVE image (bytes 0..160; MXCSR and the XMM registers are not
/// saved: this CPU has no SSE). `wide`: the REX.W layout with 64-bit pointers.
pub(super) fn fx_image(cpu: &Cpu, wide: bool) -> [u8; 160] {
    let f = &cpu.fpu;
    let mut b = [0u8; 160];
    b[0..2].copy_from_slice(&f.cw.to_le_bytes());
    b[2..4].copy_from_slice(&f.status_word().to_le_bytes());
    b[4] = f.abridged_tag();
    b[6..8].copy_from_slice(&(f.fop & 0x7FF).to_le_bytes());
    if wide {
        b[8..16].copy_from_slice(&f.fip.to_le_bytes());
        b[16..24].copy_from_slice(&f.fdp.to_le_bytes());
    } else {
        b[8..12].copy_from_slice(&(f.fip as u32).to_le_bytes());
        b[12..14].copy_from_slice(&f.fcs.to_le_bytes());
        b[16..20].copy_from_slice(&(f.fdp as u32).to_le_bytes());
        b[20..22].copy_from_slice(&f.fds.to_le_bytes());
    }
    for i in 0..8 {
        let v = f.get(i).to_bits().to_le_bytes();
        b[32 + 16 * i..32 + 16 * i + 10].copy_from_slice(&v[..10]);
    }
    b
}

fn fxsave(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, false)?;
    let (s, o) = fx_operand(cpu, d)?;
    let img = fx_image(cpu, d.instr.code() == Code::Fxsave64_m512byte);
    // Bytes 24..32 (MXCSR, MXCSR_MASK) are left alone: check all of 0..160 first.
    probe(cpu, bus, d, s, o, 160)?;
    write_bytes(cpu, bus, d, s, o, &img[..24])?;
    write_bytes(cpu, bus, d, s, (o + 32) & d.amask(), &img[32..])
}

fn fxrstor(cpu: &mut Cpu, bus: &mut dyn Bus, d: &Decoded) -> Result<()> {
    begin(cpu, bus, false)?;
    let (s, o) = fx_operand(cpu, d)?;
    let mut b = [0u8; 160];
    read_bytes(cpu, bus, d, s, o, &mut b)?;
    let wide = d.instr.code() == Code::Fxrstor64_m512byte;
    let w16 = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let w32 = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let f = &mut cpu.fpu;
    f.cw = (w16(0) & !CW_RESERVED) | CW_ONE;
    f.set_status_word(w16(2));
    f.empty = !b[4];
    f.fop = w16(6) & 0x7FF;
    if wide {
        f.fip = w32(8) as u64 | (w32(12) as u64) << 32;
        f.fdp = w32(16) as u64 | (w32(20) as u64) << 32;
    } else {
        f.fip = w32(8) as u64;
        f.fcs = w16(12);
        f.fdp = w32(16) as u64;
        f.fds = w16(20);
    }
    for i in 0..8 {
        let mut w = [0u8; 16];
        w[..10].copy_from_slice(&b[32 + 16 * i..32 + 16 * i + 10]);
        let p = f.phys(i);
        f.regs[p] = F80::from_bits(u128::from_le_bytes(w));
    }
    sync_ferr(cpu, bus);
    Ok(())
}

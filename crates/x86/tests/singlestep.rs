//! Runs the hardware-recorded SingleStepTests (80286, real mode) against the emu CPU.
//!
//! Each test loads registers and RAM, runs one instruction (then the HLT that follows it or
//! sits at the jump or exception target), and compares registers and RAM with what a real
//! 80286 did. The suite is read from `$ONDOL_SINGLESTEP_DIR` when set, else from the shared
//! copy in `../shared/testdata/80286-real` beside the repository. Where the 286 and the 386+
//! CPU ondol presents differ, the test is checked against the 386 rule instead, and the
//! difference is named in [`EXCLUSIONS`]; nothing is skipped silently.
//!
//! `ONDOL_SINGLESTEP_FILTER=F6.7` runs one form; `ONDOL_SINGLESTEP_VERBOSE=N` prints the first
//! N failures in full.

use flate2::read::GzDecoder;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use x86::state::{self, CpuState, Segment, attr};
use x86::{Bus, Cpu, Exit, PhysMap, Region};

/// Where the 80286 and a 386-or-later CPU are architecturally different. Tests that meet one of
/// these are checked against the 386 behaviour named here instead of the 286 recording.
const EXCLUSIONS: &[(&str, &str, &str)] = &[
    (
        "lock",
        "LOCK prefix on an instruction that is not a locked read-modify-write of memory",
        "the 286 ignores the prefix; a 386 or later raises #UD (SDM Vol. 2A, LOCK): checked that ondol raises #UD",
    ),
    (
        "long",
        "instruction longer than 10 bytes (prefixes included)",
        "the 286 raises exception 13; a 386 accepts up to 15 bytes: checked that ondol executes it without an exception",
    ),
    (
        "fsgs",
        "FS or GS (64h/65h prefixes, MOV to or from FS/GS)",
        "the 286 has no FS/GS and raises #UD; a 386 has them: checked that ondol executes it without #UD",
    ),
    (
        "ss-wrap",
        "stack-segment word access crossing offset FFFFh",
        "the 286 raises exception 13; a 386 raises #SS (exception 12) for the stack segment (SDM Vol. 2, real-address mode exceptions; 386 PRM Table 14-1): checked that ondol raises #SS",
    ),
    (
        "str-wrap",
        "word string instruction faulting on a word at offset FFFFh",
        "the 286 raises exception 13 after it has advanced SI/DI/CX; a 386 faults before changing them, so the instruction restarts (SDM Vol. 3, 6.5): checked that ondol raises #GP or #SS",
    ),
];

/// What the 386 rule of an exclusion expects.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// One of these vectors is delivered.
    Vector(&'static [u8]),
    /// The instruction completes without an exception.
    Completes,
}

/// RAM the tests assume: 16 MiB plus the FFFF:FFFF overhang above 1 MiB.
const RAM: usize = 0x110_0000;
/// Where a #UD handler with a HLT is installed for the LOCK check.
const UD_HANDLER: u64 = 0x500;

struct TestBus;

impl Bus for TestBus {
    fn io_read(&mut self, _: u16, size: u8) -> u32 {
        if size == 1 { 0xFF } else { 0xFFFF }
    }
    fn io_write(&mut self, _: u16, _: u8, _: u32) {}
    fn mmio_read(&mut self, _: u64, _: u8) -> u64 {
        u64::MAX
    }
    fn mmio_write(&mut self, _: u64, _: u8, _: u64) {}
}

const REGS: [(&str, usize); 8] =
    [("ax", 0), ("cx", 1), ("dx", 2), ("bx", 3), ("sp", 4), ("bp", 5), ("si", 6), ("di", 7)];
const SEGS: [(&str, usize); 4] = [("es", state::ES), ("cs", state::CS), ("ss", state::SS), ("ds", state::DS)];

fn suite_dir() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("ONDOL_SINGLESTEP_DIR") {
        return Ok(PathBuf::from(d));
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = manifest.join("../../../shared/testdata/80286-real");
    if shared.join("metadata.json").exists() {
        return Ok(shared);
    }
    Err(format!("SingleStepTests not found: set ONDOL_SINGLESTEP_DIR or provide {} (see its README)", shared.display()))
}

/// Flags mask for a form from metadata.json: bits the 286 leaves undefined are cleared.
fn flags_mask(meta: &Value, op: &str, reg: Option<&str>) -> u64 {
    let o = &meta["opcodes"][op];
    let m = match reg {
        Some(r) => o["reg"][r]["flags-mask"].as_u64(),
        None => o["flags-mask"].as_u64(),
    };
    // Bits 12..15 (IOPL, NT, reserved) are not comparable in real mode (README).
    m.unwrap_or(0xFFFF) & 0x0FFF
}

/// Whether the instruction (after prefixes) is a LOCK-able read-modify-write of memory.
fn lockable(i: &iced_x86::Instruction) -> bool {
    use iced_x86::{Mnemonic as M, OpKind};
    let mem_dest = i.op_count() > 0 && i.op0_kind() == OpKind::Memory;
    mem_dest
        && matches!(
            i.mnemonic(),
            M::Add
                | M::Adc
                | M::And
                | M::Btc
                | M::Btr
                | M::Bts
                | M::Cmpxchg
                | M::Cmpxchg8b
                | M::Dec
                | M::Inc
                | M::Neg
                | M::Not
                | M::Or
                | M::Sbb
                | M::Sub
                | M::Xor
                | M::Xadd
                | M::Xchg
        )
}

struct Runner {
    ram: Vec<u8>,
    cpu: Cpu,
}

enum Outcome {
    Pass,
    Fail(String),
    /// Checked against the 386 rule of exclusion `.0`; `.1` is whether ondol followed it.
    Excluded(usize, bool),
}

fn parse_ram(v: &Value) -> Vec<(usize, u8)> {
    v.as_array().unwrap().iter().map(|e| (e[0].as_u64().unwrap() as usize, e[1].as_u64().unwrap() as u8)).collect()
}

/// Which exclusion (index into EXCLUSIONS) a test falls under before running it.
fn classify(t: &Value, i: &iced_x86::Instruction, bytes: &[u8]) -> Option<usize> {
    use iced_x86::{Mnemonic as M, Register};
    let prefixes: Vec<u8> = bytes
        .iter()
        .copied()
        .take_while(|b| matches!(b, 0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0xF0 | 0xF2 | 0xF3))
        .collect();
    if prefixes.contains(&0xF0) && !lockable(i) {
        return Some(0);
    }
    if i.len() > 10 {
        return Some(1);
    }
    let fsgs = |r: Register| r == Register::FS || r == Register::GS;
    if prefixes.contains(&0x64)
        || prefixes.contains(&0x65)
        || (0..i.op_count()).any(|n| i.op_kind(n) == iced_x86::OpKind::Register && fsgs(i.op_register(n)))
    {
        return Some(2);
    }
    let word_string = matches!(i.mnemonic(), M::Movsw | M::Cmpsw | M::Stosw | M::Lodsw | M::Scasw | M::Insw | M::Outsw);
    if word_string && t.get("exception").map(|e| e["number"] == 13).unwrap_or(false) {
        return Some(4);
    }
    None
}

fn expect_of(excl: usize) -> Expect {
    match excl {
        0 => Expect::Vector(&[6]),
        1 | 2 => Expect::Completes,
        3 => Expect::Vector(&[12]),
        _ => Expect::Vector(&[12, 13]),
    }
}

impl Runner {
    fn new() -> Self {
        let mut ram = vec![0u8; RAM];
        let region = Region { start: 0, len: RAM as u64, host: ram.as_mut_ptr(), writable: true };
        // SAFETY: `ram` lives in the Runner beside the CPU and its buffer is never reallocated.
        let map = unsafe { PhysMap::new(vec![region]) }.expect("one aligned region");
        Runner { ram, cpu: Cpu::new(map) }
    }

    fn run_test(&mut self, t: &Value, fmask: u64) -> Outcome {
        let bytes: Vec<u8> = t["bytes"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
        let instr = iced_x86::Decoder::new(16, &bytes, iced_x86::DecoderOptions::NONE).decode();
        if let Some(x) = classify(t, &instr, &bytes) {
            return Outcome::Excluded(x, self.check_386(t, expect_of(x)));
        }
        let out = self.run_against_recording(t, fmask);
        // A stack access the 286 faulted with exception 13 where the 386 raises #SS.
        if let Outcome::Fail(_) = out {
            let recorded13 = t.get("exception").map(|e| e["number"] == 13).unwrap_or(false);
            let stacky = instr.is_stack_instruction()
                || ((0..instr.op_count()).any(|n| instr.op_kind(n) == iced_x86::OpKind::Memory)
                    && instr.memory_segment() == iced_x86::Register::SS);
            if recorded13 && stacky && self.check_386(t, Expect::Vector(&[12])) {
                return Outcome::Excluded(3, true);
            }
        }
        out
    }

    /// Load the test's registers and RAM into the CPU.
    fn load(&mut self, t: &Value) -> Vec<(usize, u8)> {
        let init = &t["initial"];
        let ram_init = parse_ram(&init["ram"]);
        for &(a, v) in &ram_init {
            self.ram[a] = v;
        }
        let r = &init["regs"];
        let g = |n: &str| r[n].as_u64().unwrap();
        let mut s = CpuState::real_mode(g("cs") as u16, g("ip") as u16);
        for (n, i) in REGS {
            s.gpr[i] = g(n);
        }
        for (n, i) in SEGS {
            s.seg[i] = Segment::real(g(n) as u16, if i == state::CS { attr::REAL_CODE } else { attr::REAL_DATA });
        }
        // A 286 in real mode holds bits 12..15 of FLAGS at 0 whatever is loaded (the recorded
        // final flags show it), so that is the state the instruction really started from.
        s.rflags = (g("flags") & 0x0FFF) | 2;
        s.idtr.limit = 0x3FF;
        self.cpu.set_state(&mut TestBus, s);
        ram_init
    }

    /// Run to the HLT; Err with a reason when it never gets there.
    fn run_to_hlt(&mut self) -> Result<(), String> {
        for _ in 0..64 {
            match self.cpu.run(&mut TestBus, 100_000) {
                Exit::Halted => return Ok(()),
                Exit::Budget => continue,
                other => return Err(format!("stopped: {other:?}")),
            }
        }
        Err("did not reach the HLT".into())
    }

    /// Run a test under the 386 rule of an exclusion: handlers with a HLT at UD_HANDLER for the
    /// vectors that could be raised, then check what happened.
    fn check_386(&mut self, t: &Value, expect: Expect) -> bool {
        let ram_init = self.load(t);
        for v in [6usize, 12, 13] {
            self.ram[v * 4..v * 4 + 4].copy_from_slice(&[(UD_HANDLER & 0xFF) as u8, (UD_HANDLER >> 8) as u8, 0, 0]);
        }
        self.ram[UD_HANDLER as usize] = 0xF4;
        let halted = self.run_to_hlt().is_ok();
        let st = self.cpu.state();
        let at_handler = st.seg[state::CS].selector == 0 && st.rip == UD_HANDLER + 1;
        let ok = halted
            && match expect {
                Expect::Vector(vs) => {
                    at_handler && self.cpu.last_exception().map(|f| vs.contains(&f.vector)).unwrap_or(false)
                }
                Expect::Completes => !at_handler && self.cpu.last_exception().is_none(),
            };
        self.ram[0..64].fill(0);
        self.ram[UD_HANDLER as usize] = 0;
        self.cleanup(&ram_init, &t["final"], Outcome::Excluded(0, ok));
        ok
    }

    fn run_against_recording(&mut self, t: &Value, fmask: u64) -> Outcome {
        let fin = &t["final"];
        let ram_init = self.load(t);
        if let Err(why) = self.run_to_hlt() {
            return self.cleanup(&ram_init, fin, Outcome::Fail(why));
        }
        let r = &t["initial"]["regs"];
        let g = |n: &str| r[n].as_u64().unwrap();
        let st = self.cpu.state().clone();
        let fr = &fin["regs"];
        let want = |n: &str| fr.get(n).and_then(|v| v.as_u64()).unwrap_or_else(|| g(n));
        let mut diffs = Vec::new();
        for (n, i) in REGS {
            if st.gpr[i] & 0xFFFF != want(n) {
                diffs.push(format!("{n}: got {:04x} want {:04x}", st.gpr[i] & 0xFFFF, want(n)));
            }
        }
        for (n, i) in SEGS {
            if st.seg[i].selector as u64 != want(n) {
                diffs.push(format!("{n}: got {:04x} want {:04x}", st.seg[i].selector, want(n)));
            }
        }
        if st.rip != want("ip") {
            diffs.push(format!("ip: got {:04x} want {:04x}", st.rip, want("ip")));
        }
        let (gf, wf) = (st.rflags & fmask, want("flags") & fmask);
        if gf != wf {
            diffs.push(format!("flags: got {:04x} want {:04x} (mask {fmask:04x}, diff {:04x})", gf, wf, gf ^ wf));
        }
        // The FLAGS image an exception pushes holds the instruction's undefined flags too:
        // compare it under the same mask.
        let fin_ram = parse_ram(&fin["ram"]);
        // The suite's flag_address is rounded down to even for an odd SP: locate the image
        // from SS:SP (FLAGS is the first word an exception pushes) when the RAM shows it there.
        let flag_addr = t.get("exception").and_then(|e| e["flag_address"].as_u64()).map(|a| {
            let pushed = (g("ss") * 16 + (g("sp").wrapping_sub(2) & 0xFFFF)) as usize;
            let listed = |a: usize| fin_ram.iter().any(|e| e.0 == a);
            if listed(pushed) && listed(pushed + 1) { pushed } else { a as usize }
        });
        if let Some(fa) = flag_addr {
            let want_img = fin_ram
                .iter()
                .filter(|e| e.0 == fa || e.0 == fa + 1)
                .fold(0u64, |acc, &(a, v)| acc | (v as u64) << (8 * (a - fa)));
            let got_img = self.ram[fa] as u64 | (self.ram[fa + 1] as u64) << 8;
            if got_img & fmask != want_img & fmask {
                diffs.push(format!("pushed flags: got {got_img:04x} want {want_img:04x} (mask {fmask:04x})"));
            }
        }
        for &(a, v) in &fin_ram {
            if Some(a) == flag_addr || Some(a) == flag_addr.map(|f| f + 1) {
                continue;
            }
            if self.ram[a] != v {
                diffs.push(format!("ram[{a:06x}]: got {:02x} want {v:02x}", self.ram[a]));
            }
        }
        // Bytes the test gave and did not expect to change must still hold their value.
        let changed: std::collections::HashSet<usize> = fin_ram.iter().map(|e| e.0).collect();
        for &(a, v) in &ram_init {
            if !changed.contains(&a) && self.ram[a] != v {
                diffs.push(format!("ram[{a:06x}]: changed to {:02x}, expected to stay {v:02x}", self.ram[a]));
            }
        }
        let out = if diffs.is_empty() { Outcome::Pass } else { Outcome::Fail(diffs.join("; ")) };
        self.cleanup(&ram_init, fin, out)
    }

    fn cleanup(&mut self, init: &[(usize, u8)], fin: &Value, out: Outcome) -> Outcome {
        for &(a, _) in init {
            self.ram[a] = 0;
        }
        for e in fin["ram"].as_array().unwrap() {
            self.ram[e[0].as_u64().unwrap() as usize] = 0;
        }
        // Whatever the instruction pushed or stored lands near SS:SP or in the listed bytes;
        // clear the stack page too so a stray write cannot leak into the next test.
        let st = self.cpu.state();
        let sp = (st.seg[state::SS].base + (st.gpr[state::RSP] & 0xFFFF)) as usize;
        let lo = sp.saturating_sub(64).min(RAM);
        let hi = (sp + 64).min(RAM);
        self.ram[lo..hi].fill(0);
        out
    }
}

fn main() {
    let dir = match suite_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("singlestep: FAILED: {e}");
            std::process::exit(1);
        }
    };
    let filter = std::env::var("ONDOL_SINGLESTEP_FILTER").ok();
    let verbose: usize = std::env::var("ONDOL_SINGLESTEP_VERBOSE").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let meta: Value = serde_json::from_reader(std::fs::File::open(dir.join("metadata.json")).expect("metadata.json"))
        .expect("metadata.json is JSON");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("suite directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    files.sort();
    let mut runner = Runner::new();
    let (mut pass, mut fail) = (0u64, 0u64);
    let mut excl = vec![(0u64, 0u64); EXCLUSIONS.len()];
    let mut per_form: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut shown = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().trim_end_matches(".json.gz").to_string();
        if let Some(flt) = &filter {
            if &name != flt {
                continue;
            }
        }
        let (op, reg) = match name.split_once('.') {
            Some((o, r)) => (o.to_string(), Some(r.to_string())),
            None => (name.clone(), None),
        };
        let fmask = flags_mask(&meta, &op, reg.as_deref());
        let tests: Value = serde_json::from_reader(GzDecoder::new(std::fs::File::open(f).expect("test file")))
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let entry = per_form.entry(name.clone()).or_default();
        for t in tests.as_array().expect("array of tests") {
            match runner.run_test(t, fmask) {
                Outcome::Pass => {
                    pass += 1;
                    entry.0 += 1;
                }
                Outcome::Excluded(x, true) => excl[x].0 += 1,
                Outcome::Excluded(x, false) => {
                    excl[x].1 += 1;
                    entry.1 += 1;
                    if shown < verbose {
                        shown += 1;
                        println!(
                            "{name} #{} {}: did not follow the 386 rule of '{}'",
                            t["idx"], t["name"], EXCLUSIONS[x].0
                        );
                    }
                }
                Outcome::Fail(why) => {
                    fail += 1;
                    entry.1 += 1;
                    if shown < verbose {
                        shown += 1;
                        println!("{name} #{} {:?} {}: {why}", t["idx"], t["bytes"], t["name"]);
                    }
                }
            }
        }
    }
    let excl_ok: u64 = excl.iter().map(|e| e.0).sum();
    let excl_bad: u64 = excl.iter().map(|e| e.1).sum();
    let total = pass + fail + excl_ok + excl_bad;
    println!("SingleStepTests 80286 real mode from {}", dir.display());
    println!("exclusions (checked against the 386 rule instead of the 286 recording):");
    for ((_, what, why), (ok, bad)) in EXCLUSIONS.iter().zip(&excl) {
        println!("  - {what}: {why}; {ok} tests followed it, {bad} did not");
    }
    let mut worst: Vec<(&String, &(u64, u64))> = per_form.iter().filter(|(_, v)| v.1 > 0).collect();
    worst.sort_by_key(|w| std::cmp::Reverse(w.1.1));
    if !worst.is_empty() {
        println!("worst forms:");
        for (n, (p, f)) in worst.iter().take(12) {
            println!("  {n:<6} {f:>4} failed, {p:>4} passed");
        }
    }
    let passed = pass + excl_ok;
    let failed = fail + excl_bad;
    println!(
        "{passed} passed, {failed} failed ({:.2}% of {total}; {pass} matched the 286 recording, {excl_ok} followed the 386 rule of an exclusion)",
        100.0 * passed as f64 / total.max(1) as f64
    );
    if total == 0 {
        eprintln!("singlestep: FAILED: no tests found in {}", dir.display());
        std::process::exit(1);
    }
    if filter.is_none() && (passed as f64) < 0.99 * total as f64 {
        eprintln!("singlestep: FAILED: below the 99% floor");
        std::process::exit(1);
    }
}

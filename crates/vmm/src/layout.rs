//! Every port and address of the PC ondol builds, in one place, each with where it comes from.
//!
//! Port numbers are the IBM PC/AT assignments (IBM PC AT Technical Reference, 1984, "I/O
//! Address Map"), as every PC-compatible and every VMM since keeps them. Memory addresses
//! follow the PC memory map (conventional memory, EBDA, VGA window, ROM BIOS) and the
//! e820 conventions in the ACPI specification, section 15 (System Address Map Interfaces).

// ------------------------------------------------------------------ I/O ports

/// i8237 DMA controller 1 (unused by ondol; reads float high).
pub const PORT_DMA1: u16 = 0x00;
/// i8259 master PIC: command (0x20) and data (0x21).
pub const PORT_PIC_MASTER: u16 = 0x20;
/// i8254 PIT: counters 0..2 (0x40..0x42) and the control word (0x43).
pub const PORT_PIT: u16 = 0x40;
/// i8042 keyboard controller: data port.
pub const PORT_I8042_DATA: u16 = 0x60;
/// System control port B: PIT counter 2 gate and speaker (bits 0, 1), refresh toggle (bit 4),
/// PIT counter 2 output (bit 5).
pub const PORT_SYSTEM_B: u16 = 0x61;
/// i8042 keyboard controller: status (read) and command (write).
pub const PORT_I8042_CMD: u16 = 0x64;
/// CMOS/RTC index (bit 7 masks NMI) and data.
pub const PORT_CMOS: u16 = 0x70;
/// POST diagnostic port: firmware writes progress codes here.
pub const PORT_POST: u16 = 0x80;
/// System control port A ("fast A20"): bit 1 opens A20, bit 0 resets the CPU.
pub const PORT_SYSTEM_A: u16 = 0x92;
/// i8259 slave PIC: command (0xA0) and data (0xA1).
pub const PORT_PIC_SLAVE: u16 = 0xA0;
/// Math coprocessor error latch: a write to F0h clears IRQ 13 (FERR#); F1h is accepted and ignored.
pub const PORT_FPU: u16 = 0xF0;
/// ondol's exit port, isa-debug-exit style (QEMU `-device isa-debug-exit,iobase=0xf4`): a
/// guest writes V and the VM ends with exit status V (0 = success). The same port under QEMU
/// exits with status V*2+1, so test programs run on both.
pub const PORT_EXIT: u16 = 0xF4;
/// Bochs/QEMU debug console ("port E9 hack"): bytes written appear on the console; reads
/// return 0xE9 so a guest can detect it.
pub const PORT_DEBUGCON: u16 = 0xE9;
/// ELCR: edge/level control for IRQ 0-7 and 8-15 (PIIX, Intel 82371AB datasheet 4.1.12).
pub const PORT_ELCR: u16 = 0x4D0;
/// Reset Control Register (PIIX4, Intel 82371AB datasheet 4.1.17): writing 06h resets.
pub const PORT_RESET_CONTROL: u16 = 0xCF9;
/// COM1 16550A UART.
pub const PORT_COM1: u16 = 0x3F8;
/// ondol BIOS hypercall port: the ROM's stubs trap to the VMM's Rust BIOS services here.
pub const PORT_BIOS_CALL: u16 = 0x510;
/// ACPI power-management registers (the FADT points at them; `devices/acpi.rs`), at the
/// offsets Intel's ICH9 gives them from its PMBASE (ICH9 datasheet, "Power Management I/O
/// Registers": PM1_STS 00h, PM1_EN 02h, PM1_CNT 04h, PM1_TMR 08h), with PMBASE = 0x600 as
/// QEMU's q35 machine places it (QEMU tests/data/acpi/q35/FACP: PM1a event 0x600, control
/// 0x604, timer 0x608). PM1a event block: status (+0) and enable (+2), 4 ports.
pub const PORT_ACPI_PM1A_EVT: u16 = 0x600;
/// ACPI PM1a control block (SCI_EN, SLP_TYP, SLP_EN), 2 ports.
pub const PORT_ACPI_PM1A_CNT: u16 = 0x604;
/// ACPI PM timer (3.579545 MHz, 24 bits), 4 ports.
pub const PORT_ACPI_PM_TMR: u16 = 0x608;

// ------------------------------------------------------------------ IRQ lines (ISA)

pub const IRQ_PIT: u32 = 0;
pub const IRQ_KEYBOARD: u32 = 1;
/// Cascade from the slave PIC.
pub const IRQ_CASCADE: u32 = 2;
pub const IRQ_COM1: u32 = 4;
pub const IRQ_RTC: u32 = 8;
/// ACPI system control interrupt (FADT SCI_INT): IRQ 9, as on PIIX4 and ICH9 PCs (the
/// chipsets' default SCI routing) and QEMU's FADTs; level triggered, active high at the PIC.
pub const IRQ_SCI: u32 = 9;
pub const IRQ_MOUSE: u32 = 12;
pub const IRQ_FPU: u32 = 13;

/// Interrupt vectors the BIOS programs the PICs with (IBM PC: IRQ0-7 at 08h, IRQ8-15 at 70h).
pub const PIC_MASTER_VECTOR: u8 = 0x08;
pub const PIC_SLAVE_VECTOR: u8 = 0x70;

// ------------------------------------------------------------------ memory

/// Real-mode interrupt vector table: 256 far pointers.
pub const IVT_START: u64 = 0x0000;
/// BIOS data area (IBM PC AT Technical Reference; RBIL MEMORY.LST).
pub const BDA_START: u64 = 0x0400;
/// Where the BIOS loads the boot sector and jumps (0000:7C00).
pub const BOOT_SECTOR: u64 = 0x7C00;
/// Top of conventional memory: 640 KiB.
pub const CONVENTIONAL_END: u64 = 0xA_0000;
/// Extended BIOS data area: the last KiB below 640 KiB (its segment is at BDA 0x40E).
pub const EBDA_START: u64 = 0x9_FC00;
pub const EBDA_SIZE: u64 = 0x400;
/// The ACPI tables (RSDP first, then RSDT, FADT, FACS, DSDT; `firmware/acpi.rs`) live in the
/// EBDA from here to its end. OSPM finds the RSDP by searching the EBDA's first KiB on 16-byte
/// boundaries (ACPI 6.5, 5.2.5.1); the EBDA is reserved in the E820 map, so the tables stay
/// intact. The EBDA's first 256 bytes are left to the BIOS's own data.
pub const ACPI_TABLES_START: u64 = EBDA_START + 0x100;
pub const ACPI_TABLES_END: u64 = EBDA_START + EBDA_SIZE;
/// VGA memory window (graphics at A0000, monochrome text at B0000, colour text at B8000).
pub const VGA_START: u64 = 0xA_0000;
pub const VGA_SIZE: u64 = 0x2_0000;
/// Colour text mode buffer (80x25 cells of character + attribute).
pub const VGA_TEXT: u64 = 0xB_8000;
/// Option ROM space; nothing is mapped there (reads return all ones).
pub const OPTION_ROM_START: u64 = 0xC_0000;
/// The system BIOS ROM: the top 64 KiB of the first MiB.
pub const BIOS_START: u64 = 0xF_0000;
pub const BIOS_SIZE: u64 = 0x1_0000;
/// A larger `--firmware` image shows at most its top 128 KiB below 1 MiB (E0000-FFFFF), as
/// on PCs with a 128 KiB BIOS and as QEMU maps `-bios`.
pub const FIRMWARE_LOW_MAX: u64 = 0x2_0000;
/// Start of extended memory.
pub const HIGH_MEMORY: u64 = 0x10_0000;
/// The firmware is also mapped at the top of the 32-bit space, where the CPU fetches its
/// first instruction (CS base FFFF0000 + IP FFF0 after reset).
pub const FIRMWARE_TOP: u64 = 0x1_0000_0000;
/// RAM below 4 GiB ends here at the most; the space above it is left for MMIO (PCI hole).
pub const LOW_RAM_MAX: u64 = 0xC000_0000;
/// RAM above 3 GiB is relocated above 4 GiB.
pub const HIGH_RAM_START: u64 = 0x1_0000_0000;

/// KVM on Intel needs three pages for the real-mode TSS and one for the identity map, in
/// guest-physical space that is not RAM (KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR).
pub const KVM_TSS_ADDR: u64 = 0xFFFB_D000;
pub const KVM_IDENTITY_MAP_ADDR: u64 = 0xFFFB_C000;

/// Smallest and largest guest RAM ondol accepts.
pub const MIN_MEMORY: u64 = 1 << 20;
pub const MAX_MEMORY: u64 = 64 << 30;

# ondol-link: 0
# ondol's BIOS ROM: the 64 KiB at F000:0000, also mapped at the top of the 4 GiB space.
#
# The CPU starts at F000:FFF0 (the reset vector). POST programs the interrupt controllers, the
# timer and the keyboard controller with OUT instructions (so it works on ondol's device models
# and on KVM's in-kernel ones alike), asks the VMM to build the memory tables (IVT, BDA, EBDA),
# and runs INT 19h. The BIOS services themselves (INT 10h, 13h, 15h, 16h, 1Ah, ...) are written
# in Rust in the VMM (crates/vmm/src/firmware/): each interrupt entry point, at its traditional
# IBM PC/AT address, is a stub that saves the registers on the caller's stack and writes SS:SP
# to the BIOS call port 510h with one 32-bit OUT. The VMM reads and updates the saved registers
# there (and the caller's FLAGS image for CF/ZF), then the stub restores them and IRETs.
#
# Saved frame, from SS:SP up: GS FS ES DS (2 bytes each), EDI ESI EBP ESP EBX EDX ECX EAX
# (PUSHAD, 4 each), the service number (low byte) and status (high byte: the VMM sets 1 for
# "nothing yet, wait for an interrupt and ask again"), then IP CS FLAGS pushed by INT.
#
# Hardware interrupt handlers that only acknowledge or count (IRQ0 timer tick, IRQ1, RTC, the
# spurious lines) are plain assembly here.
.code16
.intel_syntax noprefix

.equ CALL_PORT, 0x510           # layout.rs: PORT_BIOS_CALL
.equ POST_PORT, 0x80
.equ PIC1, 0x20
.equ PIC2, 0xA0
.equ SVC_POST, 0xF0             # service numbers above the interrupt vectors
.equ SVC_BOOT_FAILED, 0xF1

# Post a code to port 80h (the trace shows them).
.macro POST code
    mov al, \code
    out POST_PORT, al
.endm

# ---------------------------------------------------------------------------------------------
    .org 0
id:     .ascii "ondol BIOS\0"
        .ascii "IBM COMPATIBLE\0"

# A service stub: push the service number, join the common call path.
.macro SERVICE name, num
\name:
    push \num
    jmp bios_call
.endm

SERVICE svc_int10, 0x10
SERVICE svc_int11, 0x11
SERVICE svc_int12, 0x12
SERVICE svc_int13, 0x13
SERVICE svc_int14, 0x14
SERVICE svc_int15, 0x15
SERVICE svc_int16, 0x16
SERVICE svc_int17, 0x17
SERVICE svc_int18, 0x18
SERVICE svc_int19, 0x19
SERVICE svc_int1a, 0x1A
SERVICE svc_int40, 0x40

# The common path: save everything, hand SS:SP to the VMM, restore, IRET.
bios_call:
    pushad
    push ds
    push es
    push fs
    push gs
1:  mov ax, ss
    shl eax, 16
    mov ax, sp
    mov dx, CALL_PORT
    out dx, eax
    mov bp, sp
    test byte ptr ss:[bp + 41], 1
    jz 2f
    # Not ready (a key, a delay): let interrupts in, sleep until one, ask again.
    sti
    hlt
    cli
    jmp 1b
2:  pop gs
    pop fs
    pop es
    pop ds
    popad
    add sp, 2
    iret

# ---------------------------------------------------------------------------------------------
# POST.
post:
    cli
    cld
    POST 0x01
    xor ax, ax
    mov ss, ax
    mov sp, 0x7C00
    mov ds, ax
    mov es, ax
    # The math coprocessor: from its power-on state (every exception unmasked) to FNINIT's.
    fninit
    # The two i8259 PICs: edge triggered, cascaded, vectors 08h and 70h, 8086 mode.
    POST 0x10
    mov al, 0x11
    out PIC1, al
    out PIC2, al
    mov al, 0x08
    out PIC1 + 1, al
    mov al, 0x70
    out PIC2 + 1, al
    mov al, 0x04
    out PIC1 + 1, al
    mov al, 0x02
    out PIC2 + 1, al
    mov al, 0x01
    out PIC1 + 1, al
    out PIC2 + 1, al
    # Unmask the timer, keyboard and cascade; the slave's lines stay masked.
    mov al, 0xF8
    out PIC1 + 1, al
    mov al, 0xFF
    out PIC2 + 1, al
    # The i8254: counter 0, mode 3, divisor 65536: IRQ0 at 18.2 Hz.
    POST 0x11
    mov al, 0x36
    out 0x43, al
    xor al, al
    out 0x40, al
    out 0x40, al
    # The i8042: command byte 61h (translate to scan code set 1, IRQ1 on, system flag).
    POST 0x12
    call kbc_wait
    mov al, 0x60
    out 0x64, al
    call kbc_wait
    mov al, 0x61
    out 0x60, al
    # Memory tables, BDA, EBDA, video: the VMM.
    POST 0x20
    pushf
    push cs
    push offset post_done
    push SVC_POST
    jmp bios_call
post_done:
    POST 0x30
    sti
    POST 0x40
    int 0x19
    # INT 19h does not return; if it does, fall into INT 18h.
    int 0x18
3:  cli
    hlt
    jmp 3b

kbc_wait:
    in al, 0x64
    test al, 2
    jnz kbc_wait
    ret

# ---------------------------------------------------------------------------------------------
# Hardware interrupt handlers.

# IRQ0: count the tick in the BDA (40:6C, with the midnight flag at 40:70), call INT 1Ch, EOI.
irq0:
    push ds
    push eax
    xor ax, ax
    mov ds, ax
    mov eax, [0x46C]
    inc eax
    cmp eax, 0x1800B0           # ticks in 24 hours
    jb 4f
    xor eax, eax
    mov byte ptr [0x470], 1
4:  mov [0x46C], eax
    int 0x1C
    mov al, 0x20
    out PIC1, al
    pop eax
    pop ds
    iret

# IRQ1: read and drop the scan code (keys reach INT 16h from the serial console), EOI.
irq1:
    push ax
    in al, 0x60
    mov al, 0x20
    out PIC1, al
    pop ax
    iret

# IRQ8: the RTC. Reading register C acknowledges it; then EOI both PICs.
irq8:
    push ax
    mov al, 0x0C
    out 0x70, al
    in al, 0x71
    mov al, 0x20
    out PIC2, al
    out PIC1, al
    pop ax
    iret

# Other master lines: EOI. IRQ7 may be spurious: EOI only if it is really in service.
irq_master:
    push ax
    mov al, 0x20
    out PIC1, al
    pop ax
    iret
irq7:
    push ax
    mov al, 0x0B
    out PIC1, al
    in al, PIC1
    test al, 0x80
    jz 5f
    mov al, 0x20
    out PIC1, al
5:  pop ax
    iret

# Slave lines: EOI both. IRQ15 may be spurious: then only the master (the cascade) gets one.
irq_slave:
    push ax
    mov al, 0x20
    out PIC2, al
    out PIC1, al
    pop ax
    iret
irq15:
    push ax
    mov al, 0x0B
    out PIC2, al
    in al, PIC2
    test al, 0x80
    jz 6f
    mov al, 0x20
    out PIC2, al
6:  mov al, 0x20
    out PIC1, al
    pop ax
    iret

# ---------------------------------------------------------------------------------------------
# Entry points at the IBM PC/AT addresses (IBM AT Technical Reference, BIOS listing), so
# software that jumps to them directly and the default IVT both find the BIOS where it was.
    .org 0xE05B
    jmp post
    .org 0xE2C3                 # NMI
    iret
    .org 0xE3FE                 # INT 13h
    jmp svc_int13
    .org 0xE401                 # fixed disk parameter table (unused: INT 13h 48h has it)
    .space 16
    .org 0xE6F2                 # INT 19h
    jmp svc_int19
    .org 0xE6F5                 # system configuration table (INT 15h C0h)
config_table:
    .word 8                     # bytes that follow
    .byte 0xFC                  # model: AT
    .byte 0x01                  # submodel
    .byte 0x00                  # BIOS revision
    .byte 0x70                  # feature 1: 2nd PIC, RTC, INT 15h 4Fh called by IRQ1
    .byte 0x40                  # feature 2: INT 16h 09h supported
    .byte 0, 0, 0
    .org 0xE739                 # INT 14h
    jmp svc_int14
    .org 0xE82E                 # INT 16h
    jmp svc_int16
    .org 0xE987                 # INT 09h (IRQ1)
    jmp irq1
    .org 0xEC59                 # INT 40h (diskette)
    jmp svc_int40
    .org 0xEF57                 # INT 0Eh (IRQ6, diskette)
    jmp irq_master
    .org 0xEFC7                 # diskette parameter table (INT 1Eh points here)
    .byte 0xAF, 0x02, 0x25, 0x02, 0x12, 0x1B, 0xFF, 0x6C, 0xF6, 0x0F, 0x08
    .org 0xEFD2                 # INT 17h
    jmp svc_int17
    .org 0xF065                 # INT 10h
    jmp svc_int10
    .org 0xF0A4                 # video parameter table (INT 1Dh points here)
    .space 16
    .org 0xF841                 # INT 12h
    jmp svc_int12
    .org 0xF84D                 # INT 11h
    jmp svc_int11
    .org 0xF859                 # INT 15h
    jmp svc_int15
    .org 0xFA6E                 # 8x8 font, characters 0-127 (INT 10h 1130h points here)
font8x8:
    .space 1024
    .org 0xFE6E                 # INT 1Ah
    jmp svc_int1a
    .org 0xFEA5                 # INT 08h (IRQ0)
    jmp irq0
    .org 0xFF00                 # entry points the VMM puts in the IVT (see firmware/post.rs)
    jmp irq7                    # FF00
    jmp irq_slave               # FF03
    jmp irq15                   # FF06
    jmp irq8                    # FF09
    jmp svc_int18               # FF0C
    .org 0xFF53                 # the default handler: IRET
    iret
    iret                        # FF54: INT 05h, print screen: nothing to print to
    .org 0xFFF0                 # reset vector
    ljmp 0xF000, 0xE05B
    .org 0xFFF5
    .ascii "11/26/26"           # BIOS date
    .org 0xFFFE
    .byte 0xFC                  # model byte: AT
    .byte 0x00

# ondol-link: 0x7c00
# Unmasked x87 exceptions (checked against Bochs): #Z, #IA and #D leave the operands alone;
# #O and #U on a register store the result with its exponent biased by 24576 (and #P); #O on a
# memory store writes nothing; a pending exception raises #MF at FWAIT with CR0.NE = 1, and
# FERR# (IRQ 13, cleared by port F0h) with CR0.NE = 0. Lines: status word, then values.
.include "lib.inc"
.include "fpu.inc"
start:
    PROLOGUE
    mov word ptr [16 * 4], offset mf
    mov word ptr [16 * 4 + 2], 0
    mov word ptr [0x75 * 4], offset irq13
    mov word ptr [0x75 * 4 + 2], 0
    fninit
    fldcw [cw]
    fld1
    fldz
    fdivp st(1), st
    call show                   # #Z: 0 still in ST(0)
    call show                   # and 1 in ST(1)
    fldz
    fdiv st, st(0)
    call show                   # #IA: 0 unchanged
    fld tbyte ptr [tiny]
    fld1
    fadd st, st(1)
    call show                   # #D: 1 unchanged
    call show                   # (the denormal)
    fld tbyte ptr [small]
    fmul st, st(0)
    call show                   # #U: 2^-10000 squared, biased by 24576, and #P
    fld tbyte ptr [big]
    fld st(0)
    fmulp st(1), st
    call show                   # #O: big squared, biased by -24576
    fld tbyte ptr [big]
    fstp dword ptr [RES]
    call show                   # #O on a store: nothing stored, nothing popped
    mov eax, cr0
    or al, 0x20                 # NE
    mov cr0, eax
    fld1
    fldz
    fdivp st(1), st
    fwait                       # #MF
    mov eax, cr0
    and al, 0xDF
    mov cr0, eax
    mov si, offset pic
1:  lodsw
    mov dx, ax
    lodsb
    out dx, al
    cmp si, offset pic_end
    jne 1b
    fdivp st(1), st
    sti
    fwait                       # FERR#: IRQ 13
    nop
    cli
    call show                   # the operands (ZE left them)
    call show
    EXIT 0

mf:
    pusha
    mov al, 'M'
    call putc
    call showsw
    popa
    iret

irq13:
    pusha
    mov al, 'I'
    call putc
    call showsw
    out 0xF0, al
    mov al, 0x20
    out 0xA0, al
    out 0x20, al
    popa
    iret
    LIBRARY
    X87LIB 0xFFFF

cw:     .word 0x0340            # every exception unmasked
tiny:   .byte 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0           # 2^-16383, a denormal
small:  .byte 0, 0, 0, 0, 0, 0, 0, 0x80, 0xEF, 0x18     # 2^-10000
big:    .byte 0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFE, 0x7F     # 1.5 * 2^16383
# PIC initialisation (port, value): IRQ 0-7 at 08h, 8-15 at 70h; only IRQ 2 and 13 unmasked.
pic:    .word 0x20
        .byte 0x11
        .word 0x21
        .byte 0x08
        .word 0x21
        .byte 0x04
        .word 0x21
        .byte 0x01
        .word 0xA0
        .byte 0x11
        .word 0xA1
        .byte 0x70
        .word 0xA1
        .byte 0x02
        .word 0xA1
        .byte 0x01
        .word 0x21
        .byte 0xFB
        .word 0xA1
        .byte 0xDF
pic_end:
    BOOT_SIGNATURE

# ondol-link: 0x7c00
# x87 environment and state images in real mode (checked against Bochs; QEMU writes the
# protected-mode layout in real mode): FNSTENV with 16- and 32-bit operand size (control,
# status and tag words; instruction pointer, opcode and operand pointer as 20/32-bit linear
# addresses), FNSTENV masking every exception, FNSAVE + FNINIT, FRSTOR and FLDENV of edited
# images. Each line: the image, last byte first.
.include "lib.inc"
.include "fpu.inc"
start:
    PROLOGUE
    fninit
    fld1
    fldpi
    fdiv st, st(1)
    fld tbyte ptr [val]         # the last non-control instruction: FIP, FOP, FDP
    fldcw [cw]
    fnstenv [RES]
    mov cx, 14
    call showmem
    data32 fnstenv [RES]
    mov cx, 28
    call showmem                # exceptions now masked
    fnstcw [RES]
    mov cx, 2
    call showmem
    fnsave [RES]
    mov cx, 94
    call showmem
    fnstenv [RES]
    mov cx, 14
    call showmem                # FNINIT after FNSAVE
    frstor [img]
    call show                   # TOP 5 from the image: ST(0) = R5
    fnstenv [RES]
    mov cx, 14
    call showmem
    fldenv [img]
    fxam
    fnstenv [RES]
    mov cx, 14
    call showmem
    EXIT 0
    LIBRARY
    X87LIB 0xFFFF

cw:     .word 0x0B72
val:    .byte 0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0x80, 0xFF, 0x3F
# A 16-bit real-mode image: CW, SW (TOP 5, C2, PE), tags (R5 valid, R6 zero, rest empty), IP
# 12345h with opcode 5AAh, operand pointer 6789Ah, then ST(0)..ST(7) (R5..R4).
img:    .word 0x0C7F, 0x2C20, 0xF3FF, 0x2345, 0x15AA, 0x789A, 0x6000
        .byte 1, 0, 0, 0, 0, 0, 0, 0x80, 0, 0x40
        .byte 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80
    BOOT_SIGNATURE

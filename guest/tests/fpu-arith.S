# ondol-link: 0x7c00
# x87 arithmetic with every exception masked: 1/3 and -1/3 in the four rounding modes and the
# three precisions, square root, division by zero, invalid operations, FRNDINT, FXTRACT, FPREM,
# FSCALE, comparisons and FXAM. Each line is the status word, then the result popped from
# ST(0). C1 is masked out: QEMU does not report the round-up bit (fpu-stack.S checks it).
.include "lib.inc"
.include "fpu.inc"
start:
    PROLOGUE
    fninit
    mov bx, offset cws
1:  fldcw [bx]
    fld1
    fidiv word ptr [three]
    call show
    fld1
    fchs
    fidiv word ptr [three]
    call show
    inc bx
    inc bx
    cmp bx, offset cws_end
    jne 1b
    fninit
    fild word ptr [two]
    fsqrt
    call show                   # sqrt(2)
    fld1
    fldz
    fdivp st(1), st
    call show                   # 1/0: +inf, ZE
    fldz
    fldz
    fdivp st(1), st
    call show                   # 0/0: indefinite, IE
    fldpi
    frndint
    call show                   # 3, PE
    fild word ptr [ten]
    fxtract
    call show                   # significand 1.25
    call show                   # exponent 3
    fild word ptr [three]
    fild word ptr [eleven]
    fprem
    call show                   # 2, quotient 3 in C3 C1
    fldpi
    fscale
    call show                   # pi * 8
    fld1
    fldz
    fcom st(1)
    call showsw                 # 0 < 1: C0
    fucompp
    call showsw                 # both popped
    fldz
    fldz
    fdiv st, st(1)
    ftst
    call showsw                 # NaN: unordered, IE
    fxam
    call show                   # NaN class (C0), sign
    fldlg2
    fxam
    call show                   # normal class (C2)
    EXIT 0
    LIBRARY
    X87LIB 0xFDFF

# Control words: the four rounding modes at 64 bits, then nearest at 24 bits, up at 53 bits,
# down at 24 bits.
cws:    .word 0x037F, 0x077F, 0x0B7F, 0x0F7F, 0x007F, 0x0A7F, 0x047F
cws_end:
three:  .word 3
two:    .word 2
ten:    .word 10
eleven: .word 11
    BOOT_SIGNATURE

# ondol-link: 0x7c00
# More x87 corners (checked against Bochs): FSCALE overflow and underflow, a partial FPREM
# (exponent difference >= 64), FBLD with non-decimal digits, FXAM of a pseudo-denormal, denormal
# operands and results, FCOMI/FUCOMIP flags, FCMOVcc, FCHS/FABS of a NaN, FSQRT of -0 and of
# a negative number. Each line: status word (or EFLAGS), then the value popped.
.include "lib.inc"
.include "fpu.inc"
start:
    PROLOGUE
    fninit
    fild word ptr [n20000]
    fld1
    fscale
    call show                   # 2^20000: OE PE, +inf
    fstp st(0)
    fild word ptr [n20000]
    fchs
    fld1
    fscale
    call show                   # 2^-20000: UE PE, +0
    fstp st(0)
    fild word ptr [three]
    fld tbyte ptr [big]
    fprem
    call show                   # partial: C2
    fstp st(0)
    fbld tbyte ptr [badbcd]
    call show                   # digits A-F taken at face value
    fld tbyte ptr [pseudo]
    fxam
    call show                   # pseudo-denormal: C3 C2
    fld tbyte ptr [pseudo]
    fld1
    fmul st, st(1)
    call show                   # #D: 2^-16382
    fstp st(0)
    fld tbyte ptr [pseudo]
    fld tbyte ptr [pseudo]
    fsubp st(1), st
    call show                   # pseudo - pseudo = +0, #D
    fld1
    fldz
    fcomi st, st(1)
    call flags                  # 0 < 1: CF
    fdiv st, st(0)
    fucomip st, st(1)
    call flags                  # NaN: ZF PF CF
    fcmovu st, st(0)
    fldz
    fcmovu st, st(1)
    call show                   # PF set: 1 moved
    fldz
    fdiv st, st(0)
    fchs
    call show                   # +indefinite (sign flipped), no IE
    fld1
    fchs
    fsqrt
    call show                   # sqrt(-1): IE, indefinite
    fldz
    fchs
    fsqrt
    call show                   # sqrt(-0) = -0
    EXIT 0

flags:
    pushf
    pop ax
    and ax, 0x08D5
    call hex16
    jmp newline
    LIBRARY
    X87LIB 0xFFFF

n20000: .word 20000
three:  .word 3
big:    .byte 0, 0, 0, 0, 0, 0, 0, 0x80, 0x64, 0x40   # 2^101
badbcd: .byte 0xAB, 0xCD, 0xEF, 0, 0, 0, 0, 0, 0, 0x80
pseudo: .byte 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0         # exponent 0, J = 1
    BOOT_SIGNATURE

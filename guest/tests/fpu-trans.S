# ondol-link: 0x7c00
# x87 transcendental instructions and constants: FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1,
# FYL2X, FYL2XP1 on ordinary arguments, FSIN out of range (C2), and the seven constants in two
# rounding modes. Results are stored as doubles (the x87's error is below one extended ulp, so
# doubles agree wherever the exact value is not within an extended ulp of a double rounding
# boundary); constants in full. Each line: status word (C1 masked), then the value.
# Arguments avoid three places where Bochs 2.7 and the SDM part ways (ondol follows the SDM):
# FYL2X(3) (Bochs is one double ulp off log2 3), FYL2X of a power of two (Bochs reports #P for
# the exact result) and FSIN of -2^63 (out of range: the SDM's FSIN needs -2^63 < x < 2^63).
.include "lib.inc"
.include "fpu.inc"
start:
    PROLOGUE
    fninit
    mov bx, offset args
1:  fld qword ptr [bx]
    fsin
    call st64
    fld qword ptr [bx]
    fcos
    call st64
    fld qword ptr [bx]
    fptan
    call st64                   # 1.0
    call st64                   # tan
    fld qword ptr [bx]
    fsincos
    call st64                   # cos
    call st64                   # sin
    fld qword ptr [bx]
    fld1
    fpatan
    call st64                   # atan(x)
    fld1
    fld qword ptr [bx]
    fyl2x
    call st64                   # log2(x)
    add bx, 8
    cmp bx, offset args_end
    jne 1b
    fld qword ptr [half]
    f2xm1
    call st64
    fld1
    fld qword ptr [quarter]
    fyl2xp1
    call st64
    fld qword ptr [huge]
    fsin
    call show                   # out of range: C2, unchanged
    mov bx, offset cws
2:  fldcw [bx]
    fld1
    fldl2t
    fldl2e
    fldpi
    fldlg2
    fldln2
    fldz
    mov cx, 7
3:  push cx
    call show
    pop cx
    loop 3b
    inc bx
    inc bx
    cmp bx, offset cws_end
    jne 2b
    EXIT 0

# st64: pop ST(0) as a double and print it with the status word.
st64:
    fstp qword ptr [RES]
    mov cx, 8
    jmp showmem
    LIBRARY
    X87LIB 0xFDFF

args:   .double 0.75, 1.25, 2.5, 10.0, -100.0
args_end:
half:   .double 0.5
quarter: .double -0.25
huge:   .double 18446744073709551616.0   # 2^64
cws:    .word 0x037F, 0x0F7F
cws_end:
    BOOT_SIGNATURE

# ondol-link: 0x7c00
# x87 conversions with every exception masked: pi stored as a 16/32-bit integer, single and
# double in each rounding mode; out-of-range integer stores (the integer indefinite); packed
# BCD stores and loads; 64-bit integer loads; single-precision SNaN loads; stores
# that overflow or underflow single precision. Each line: the status word after the store (C1
# masked: QEMU does not report the round-up bit) and the bytes stored, last byte first.
.include "lib.inc"
.include "fpu.inc"
start:
    PROLOGUE
    fninit
    fldpi
    fchs
    mov bx, offset cws
1:  fldcw [bx]
    fist word ptr [RES]
    mov cx, 2
    call showmem
    fist dword ptr [RES]
    mov cx, 4
    call showmem
    fst dword ptr [RES]
    mov cx, 4
    call showmem
    fst qword ptr [RES]
    mov cx, 8
    call showmem
    inc bx
    inc bx
    cmp bx, offset cws_end
    jne 1b
    fninit
    fild dword ptr [big]
    fist word ptr [RES]
    mov cx, 2
    call showmem                # 40000: integer indefinite, IE
    fbstp tbyte ptr [RES]
    mov cx, 10
    call showmem                # BCD 40000
    fbld tbyte ptr [bcd]
    call show                   # -987654321
    fild qword ptr [i64]
    call show                   # 64-bit integer, exact
    fld dword ptr [snan]
    call show                   # SNaN: IE, loaded quiet
    fild dword ptr [big]
    fmul st, st(0)
    fmul st, st(0)
    fmul st, st(0)
    fmul st, st(0)
    fst dword ptr [RES]
    mov cx, 4
    call showmem                # overflow: +inf, OE PE
    fld1
    fdivrp st(1), st
    fst dword ptr [RES]
    mov cx, 4
    call showmem                # underflow to 0: UE PE
    fbstp tbyte ptr [RES]
    mov cx, 10
    call showmem                # tiny: BCD 0, PE
    EXIT 0
    LIBRARY
    X87LIB 0xFDFF

cws:    .word 0x037F, 0x077F, 0x0B7F, 0x0F7F
cws_end:
big:    .long 40000
bcd:    .byte 0x21, 0x43, 0x65, 0x87, 0x09, 0, 0, 0, 0, 0x80
i64:    .quad 0x123456789ABCDEF1
snan:   .long 0x7F800123
    BOOT_SIGNATURE

# ondol-link: 0x7c00
# x87 details QEMU does not model (checked against Bochs): the round-up bit C1, stack overflow
# and underflow (IE + SF, C1, the indefinite), FXCH and FST with empty registers, the FPREM1
# quotient bits, #D on a single-precision denormal load, FXAM of an empty register, FFREE,
# FINCSTP/FDECSTP and the tag word. Each line: status word, then the value popped or stored.
.include "lib.inc"
.include "fpu.inc"
start:
    PROLOGUE
    fninit
    mov bx, offset cws
1:  fldcw [bx]
    fld1
    fidiv word ptr [three]
    call show                   # 1/3: C1 set when rounded up
    fld1
    fchs
    fidiv word ptr [three]
    fist word ptr [RES]
    mov cx, 2
    call showmem                # round(-1/3): C1 set when rounded away from zero
    call show
    inc bx
    inc bx
    cmp bx, offset cws_end
    jne 1b
    fninit
    fild word ptr [three]
    fild word ptr [eleven]
    fprem1
    call show                   # -1, quotient 4: C0
    fstp st(0)
    mov cx, 9
2:  fldz
    loop 2b
    call show                   # 9th push: IE SF C1, the indefinite
    fninit
    fadd st, st(1)
    call show                   # underflow: IE SF, C1 = 0, the indefinite
    fld1
    fxch st(3)
    call show                   # FXCH with an empty ST(3): indefinite in ST(0)
    call show                   # next: ST(1) was empty (popped above)
    fninit
    fst st(2)
    fnstenv [RES]
    mov cx, 6
    call showmem                # underflow store; tag word: R2 special
    fninit
    fld1
    fldz
    ffree st(1)
    fdecstp
    fdecstp
    fincstp
    fnstenv [RES]
    mov cx, 6
    call showmem                # TOP, tags after FFREE / FDECSTP / FINCSTP
    fninit
    fxam
    call showsw                 # empty: C3 C0, C1 = sign of R0
    fld dword ptr [denorm]
    call show                   # single denormal: DE, normalized
    EXIT 0
    LIBRARY
    X87LIB 0xFFFF

cws:    .word 0x037F, 0x077F, 0x0B7F, 0x0F7F
cws_end:
three:  .word 3
eleven: .word 11
denorm: .long 0x80012345
    BOOT_SIGNATURE

# ondol-link: 0x7c00
# Control flow that even a minimal KVM can run (no INT, no ENTER): far CALL/RET through a
# pointer, far JMP into another CS, LOOP/LOOPE/LOOPNE, JCXZ, Jcc on every flag, PUSHA/POPA,
# XCHG, XLAT, and code that patches instructions it then executes (after a jump, the very
# next instruction, and the one after a REP STOSB).
.include "lib.inc"
start:
    PROLOGUE
    mov ax, 0x1111
    mov cx, 0x2222
    mov dx, 0x3333
    mov bx, 0x4444
    mov bp, 0x5555
    mov si, 0x6666
    mov di, 0x7777
    pusha
    xor ax, ax
    mov bx, ax
    popa
    add ax, cx
    add ax, dx
    add ax, bx
    add ax, bp
    add ax, si
    add ax, di
    call hex16
    # Far call through a memory pointer; far return with an immediate.
    push 0x1234
    lcall [farptr]
    call hex16
    mov ax, sp
    call hex16
    # Far jump to the next label through segment 0x07C0 (same bytes, another CS).
    ljmp 0x07C0, offset (after_jump - 0x7C00)
after_jump:
    mov ax, cs
    call hex16
    ljmp 0, offset back_home
back_home:
    # LOOP, LOOPNE, JCXZ.
    xor ax, ax
    mov cx, 10
1:  add ax, cx
    loop 1b
    jcxz 2f
    mov ax, 0xDEAD
2:  call hex16
    mov cx, 100
    mov bx, 0
3:  inc bx
    cmp bx, 7
    loopne 3b
    mov ax, cx
    call hex16
    # Conditional jumps: build a bit mask of which conditions hold after a compare.
    mov ax, 0x8000
    cmp ax, 1
    call condmask
    mov ax, 5
    cmp ax, 5
    call condmask
    mov ax, 3
    cmp ax, 0xFFFF
    call condmask
    # XCHG and XLAT.
    mov ax, 0x1234
    mov bx, 0x5678
    xchg ax, bx
    xchg bh, bl
    mov ax, bx
    call hex16
    mov bx, offset table
    mov al, 3
    xlat
    call hex8
    # Self-modifying code: patch the immediate of an instruction, then run it.
    mov byte ptr [patched + 1], 0x5A
    jmp 4f
4:
patched:
    mov al, 0x00
    call hex8
    # Patch the very next instruction, with no jump in between (P6 and later CPUs see the new
    # bytes: the store snoops the prefetched code).
    mov byte ptr [patched2 + 1], 0x6B
patched2:
    mov al, 0x00
    call hex8
    # A REP STOSB that overwrites the instruction after it: the JMP becomes two NOPs.
    push es
    push ds
    pop es
    mov di, offset patched3
    mov al, 0x90
    mov cx, 2
    cld
    rep stosb
patched3:
    jmp 5f
    mov al, 0x7C
    call hex8
5:  pop es
    call newline
    EXIT 0

# condmask: print a 16-bit mask, bit n set when condition n (o no b ae e ne be a s ns p np l ge
# le g) holds for the current flags.
condmask:
    pushf
    xor dx, dx
    mov cx, 1
    popf
    pushf
    jno 10f
    or dx, 0x0001
10: popf
    pushf
    jb 11f
    or dx, 0x0002
11: popf
    pushf
    jnb 12f
    or dx, 0x0004
12: popf
    pushf
    jne 13f
    or dx, 0x0008
13: popf
    pushf
    jbe 14f
    or dx, 0x0010
14: popf
    pushf
    ja 15f
    or dx, 0x0020
15: popf
    pushf
    jns 16f
    or dx, 0x0040
16: popf
    pushf
    jnp 17f
    or dx, 0x0080
17: popf
    pushf
    jge 18f
    or dx, 0x0100
18: popf
    pushf
    jl 19f
    or dx, 0x0200
19: popf
    pushf
    jg 20f
    or dx, 0x0400
20: popf
    pushf
    jle 21f
    or dx, 0x0800
21: popf
    mov ax, dx
    call hex16
    ret

farproc:
    mov bp, sp
    mov ax, [bp + 4]
    lret 2

farptr: .word farproc, 0
table: .byte 0x10, 0x20, 0x30, 0x40, 0x50
    LIBRARY
    BOOT_SIGNATURE

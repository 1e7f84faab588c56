# ondol-link: 0x7c00
# Benchmark: string copies, REP MOVSD of 64 KiB between two buffers, 20000 times (about
# 330 million element moves, each counted as one instruction), then exit status 0.
.code16
.intel_syntax noprefix
start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7C00
    cld
    mov ax, 0x1000
    mov ds, ax
    mov ax, 0x2000
    mov es, ax
    mov bx, 20000
1:  xor si, si
    xor di, di
    mov cx, 16384
    rep movsd
    dec bx
    jnz 1b
    mov al, 0
    out 0xF4, al
    cli
    hlt
    .org 510
    .word 0xAA55

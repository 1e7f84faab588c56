# ondol-link: 0x7c00
# Benchmark: a tight real-mode ALU loop, 4 instructions an iteration, 100 million iterations
# (about 400 million instructions), then exit status 0 through port 0xF4.
.code16
.intel_syntax noprefix
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    mov ecx, 100000000
    xor eax, eax
    xor edx, edx
1:  add eax, ecx
    xor edx, eax
    dec ecx
    jnz 1b
    mov al, 0
    out 0xF4, al
    cli
    hlt
    .org 510
    .word 0xAA55

# ondol-link: 0x7c00
# Benchmark: 32-bit protected mode with 4 KiB paging on. The loop reads, mixes and writes back
# a 64 KiB buffer through the TLB, 7 instructions a dword, 16384 dwords a pass, 4000 passes
# (about 459 million instructions), then exit status 0 through port 0xF4.
.code16
.intel_syntax noprefix
.equ PD, 0x10000
.equ PT, 0x11000
.equ BUF, 0x20000
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    ljmp 0x08, offset pm
.code32
pm: mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7C00
    # Identity-map the first 4 MiB with 4 KiB pages.
    mov edi, PT
    mov eax, 3
    mov ecx, 1024
1:  stosd
    add eax, 4096
    loop 1b
    mov dword ptr [PD], PT | 3
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov ebp, 4000
    xor edx, edx
2:  mov esi, BUF
    mov ecx, 16384
3:  mov eax, [esi]
    add edx, eax
    xor eax, edx
    mov [esi], eax
    add esi, 4
    dec ecx
    jnz 3b
    dec ebp
    jnz 2b
    mov al, 0
    out 0xF4, al
    cli
    hlt
    .p2align 3
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF
    .quad 0x00CF92000000FFFF
gdtr:
    .word gdtr - gdt - 1
    .long gdt
    .org 510
    .word 0xAA55

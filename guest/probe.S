# ondol-link: 0x7c00
# The KVM probe: what ondol needs a KVM to run before `--backend auto` picks it.
# Real-mode software interrupt and IRET, the switch to 32-bit protected mode with paging, a
# store through the page tables, and the way back to real mode. Exit status 0 through port
# 0xF4 when all of it worked, 1 when a check failed. A KVM that cannot run it hangs or fails;
# the caller runs it in a child process with a time limit.
.code16
.intel_syntax noprefix
.equ PD, 0x10000
.equ PT, 0x11000
.equ MARK, 0x9000

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    # Real-mode INT through the IVT and back with IRET.
    mov word ptr [0x40 * 4], offset handler
    mov word ptr [0x40 * 4 + 2], 0
    xor bx, bx
    int 0x40
    cmp bx, 0x1234
    jne fail
    # Identity-map the first MiB: one page directory entry, 256 page table entries.
    mov ax, PD >> 4
    mov es, ax
    xor di, di
    mov eax, PT | 3
    stosd
    xor eax, eax
    mov cx, 1023
    rep stosd
    mov ax, PT >> 4
    mov es, ax
    xor di, di
    mov eax, 3
    mov cx, 256
1:  stosd
    add eax, 0x1000
    loop 1b
    xor ax, ax
    mov es, ax
    lgdt [gdt_desc]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    ljmp 0x08, offset pm32

.code32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp 2f
2:  mov dword ptr [MARK], 0xC0FFEE
    mov eax, cr0
    and eax, 0x7FFFFFFF
    mov cr0, eax
    ljmp 0x18, offset pm16

.code16
pm16:
    mov ax, 0x20
    mov ds, ax
    mov ss, ax
    mov eax, cr0
    and al, 0xFE
    mov cr0, eax
    ljmp 0, offset real_again
real_again:
    xor ax, ax
    mov ds, ax
    mov ss, ax
    cmp dword ptr [MARK], 0xC0FFEE
    jne fail
    mov al, 0
    out 0xF4, al
    cli
    hlt
fail:
    mov al, 1
    out 0xF4, al
    cli
    hlt

handler:
    mov bx, 0x1234
    iret

.p2align 3
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF    # 0x08: 32-bit code, 4 GiB
    .quad 0x00CF92000000FFFF    # 0x10: 32-bit data, 4 GiB
    .quad 0x00009A000000FFFF    # 0x18: 16-bit code, 64 KiB
    .quad 0x000092000000FFFF    # 0x20: 16-bit data, 64 KiB
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

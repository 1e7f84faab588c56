# ondol-link: 0x7c00
# Unreal mode: the segment descriptor caches survive a return to real mode, as boot loaders
# rely on. DS and ES get a 4 GiB limit in protected mode; back in real mode, 32-bit offsets
# through them reach memory above 1 MiB, and reloading them changes the base, not the limit.
# FS, loaded only in real mode, keeps its 64 KiB limit: an offset past it is #GP (INT 0Dh in
# real mode), whose handler prints "GP" and skips the instruction. Needs a CPU that takes
# exceptions in real mode (emu, QEMU, Bochs).
.include "lib.inc"
start:
    PROLOGUE
    mov word ptr [0x0D * 4], offset gp_handler
    mov word ptr [0x0D * 4 + 2], 0
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 1f
1:  mov bx, 0x08                    # flat data, 4 GiB
    mov ds, bx
    mov es, bx
    and al, 0xFE
    mov cr0, eax
    jmp 2f
2:  xor ax, ax
    mov ds, ax                      # base 0; the limit stays 4 GiB
    mov fs, ax
    mov esi, 0x200000
    mov dword ptr [esi], 0x12345678
    mov eax, [esi]
    call hex32
    mov al, ' '
    call putc
    mov ax, 0x1000
    mov es, ax                      # base 10000h, limit still 4 GiB
    mov esi, 0x1F0000
    mov eax, es:[esi]               # linear 200000h again
    call hex32
    mov al, ' '
    call putc
    mov ebx, 0x10000
fs_site:
    mov eax, fs:[ebx]               # past FS's 64 KiB limit: #GP
    call newline
    EXIT 0

gp_handler:
    push bp
    mov bp, sp
    mov al, 'G'
    call putc
    mov al, 'P'
    call putc
    add word ptr [bp + 2], 5        # skip `mov eax, fs:[ebx]` (64 67 66 8B 03)
    pop bp
    iret

.p2align 3
gdt:
    .quad 0
    .quad 0x00CF92000000FFFF        # 08: data, 4 GiB
gdtr:
    .word gdtr - gdt - 1
    .long gdt
    LIBRARY
    BOOT_SIGNATURE

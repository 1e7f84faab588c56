# ondol-link: 0
# ondol's demo kernel: a small real-mode program `ondol disk create` puts in the boot
# partition (and the built-in demo disk boots). It reports where it was loaded and entered and
# the chain that brought it there, from what it finds in memory and on the disk: the boot
# information ondol's boot loader left in ES:DI, the partition entry in DS:SI, the MBR in
# sector 0, the BIOS's memory map; then it powers the machine off (exit port F4h, value 0).
# Linked at offset 0 of its segment: ondol's boot loader loads it at 1000:0000.
.code16
.intel_syntax noprefix

start:
    # Where are we? CS from the far jump, IP from a call.
    call 1f
1:  pop bp
    sub bp, offset 1b           # offset of `start` in CS (0 when entered at the load address)
    mov ax, cs
    mov ds, ax
    mov [entry_cs], ax
    mov [entry_ip], bp
    mov [drive], dl
    mov [info_seg], es
    mov [info_off], di
    mov ax, cs
    mov ss, ax
    mov sp, 0xFFF0
    cld
    mov si, offset banner
    call puts
    # Loaded at / entered at.
    mov si, offset s_loaded
    call puts
    mov ax, [entry_cs]
    call hex16
    mov si, offset s_colon0
    call puts
    movzx eax, word ptr [entry_cs]
    shl eax, 4
    call hex32
    mov si, offset s_entry
    call puts
    mov ax, [entry_cs]
    call hex16
    mov al, ':'
    call putc
    mov ax, [entry_ip]
    call hex16
    call newline
    # The boot information from ondol's boot loader.
    les di, [info_off]
    cmp dword ptr es:[di], 0x3149424F   # "OBI1"
    jne no_info
    mov si, offset s_disk
    call puts
    mov al, es:[di + 4]
    call hex8
    mov si, offset s_part
    call puts
    mov al, es:[di + 5]
    add al, '0'
    call putc
    mov si, offset s_type
    call puts
    mov al, es:[di + 6]
    call hex8
    mov si, offset s_lba
    call puts
    mov eax, es:[di + 8]
    call decimal
    mov si, offset s_klba
    call puts
    mov eax, es:[di + 12]
    call decimal
    call newline
    jmp chain
no_info:
    mov si, offset s_noinfo
    call puts
chain:
    # Identify the MBR: read sector 0 of the boot disk.
    push ds
    pop es
    mov si, offset dap
    mov [dap_seg], ds
    mov ah, 0x42
    mov dl, [drive]
    int 0x13
    mov si, offset s_chain
    call puts
    mov si, offset s_mbr_unknown
    jc 2f
    cmp dword ptr [sector + 0x1B0], 0x6F646E6F      # "ondo"
    jne 2f
    cmp dword ptr [sector + 0x1B4], 0x52424D6C      # "lMBR"
    jne 2f
    mov si, offset s_mbr_ondol
2:  call puts
    mov si, offset s_chain_tail
    call puts
    # Memory: INT 12h and the sum of usable E820 ranges.
    mov si, offset s_mem
    call puts
    int 0x12
    movzx eax, ax
    call decimal
    mov si, offset s_kib
    call puts
    xor ebx, ebx
    xor ebp, ebp                # usable KiB
3:  mov eax, 0xE820
    mov ecx, 20
    mov edx, 0x534D4150
    mov di, offset e820
    int 0x15
    jc 4f
    cmp dword ptr [e820 + 16], 1
    jne 5f
    mov eax, [e820 + 8]
    mov edx, [e820 + 12]
    shrd eax, edx, 10
    add ebp, eax
5:  test ebx, ebx
    jnz 3b
4:  mov eax, ebp
    call decimal
    mov si, offset s_usable
    call puts
    mov si, offset s_off
    call puts
    mov al, 0
    out 0xF4, al
    cli
6:  hlt
    jmp 6b

# --- output through the BIOS (INT 10h teletype) ---
putc:
    push ax
    push bx
    mov ah, 0x0E
    mov bx, 7
    int 0x10
    pop bx
    pop ax
    ret
puts:
    push ax
7:  lodsb
    test al, al
    jz 8f
    call putc
    jmp 7b
8:  pop ax
    ret
newline:
    push ax
    mov al, 13
    call putc
    mov al, 10
    call putc
    pop ax
    ret
hex32:
    push eax
    shr eax, 16
    call hex16
    pop eax
hex16:
    push ax
    mov al, ah
    call hex8
    pop ax
hex8:
    push ax
    shr al, 4
    call hexdigit
    pop ax
    push ax
    and al, 15
    call hexdigit
    pop ax
    ret
hexdigit:
    add al, '0'
    cmp al, '9'
    jbe putc
    add al, 'a' - '9' - 1
    jmp putc
# decimal: print EAX in decimal.
decimal:
    push eax
    push ebx
    push edx
    push cx
    mov ebx, 10
    xor cx, cx
9:  xor edx, edx
    div ebx
    push dx
    inc cx
    test eax, eax
    jnz 9b
10: pop ax
    add al, '0'
    call putc
    loop 10b
    pop cx
    pop edx
    pop ebx
    pop eax
    ret

banner:       .asciz "\r\nondol demo kernel\r\n"
s_loaded:     .asciz "  loaded at "
s_colon0:     .asciz ":0000 (linear 0x"
s_entry:      .asciz "), entered at "
s_disk:       .asciz "  booted from disk "
s_part:       .asciz "h, partition "
s_type:       .asciz " (type "
s_lba:        .asciz "h) at LBA "
s_klba:       .asciz ", kernel at LBA "
s_noinfo:     .asciz "  no boot information from ondol's boot loader (entered by another loader)\r\n"
s_chain:      .asciz "  chain: BIOS (reset vector F000:FFF0, INT 19h) -> "
s_mbr_ondol:  .asciz "ondol MBR (LBA 0, relocated to 0000:0600)"
s_mbr_unknown: .asciz "another MBR (LBA 0)"
s_chain_tail: .asciz " -> ondol boot loader (partition boot sector at 0000:7C00) -> this kernel\r\n"
s_mem:        .asciz "  memory: "
s_kib:        .asciz " KiB conventional (INT 12h), "
s_usable:     .asciz " KiB usable in the E820 map\r\n"
s_off:        .asciz "powering off\r\n"

entry_cs: .word 0
entry_ip: .word 0
drive:    .byte 0
info_off: .word 0
info_seg: .word 0
dap:      .byte 0x10, 0
          .word 1
          .word sector
dap_seg:  .word 0
          .quad 0
.p2align 4
e820:     .space 20
sector:   .space 512

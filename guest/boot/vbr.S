# ondol-link: 0x7c00
# ondol's partition boot loader: the first sector of the active partition.
#
# The MBR loads it at 0000:7C00 and jumps with DL = drive and DS:SI = the partition entry. It
# reads the header `ondol disk create` wrote at offset 1F0h of this sector (the kernel's place
# in the partition, its size, where to load it and where to enter it), loads the kernel with
# INT 13h 42h in chunks, and jumps to it with DL = drive, DS:SI = the partition entry and
# ES:DI = the boot information block below. Errors print one line and call INT 18h.
.code16
.intel_syntax noprefix
.equ CHUNK, 64                  # sectors per INT 13h call (32 KiB)
.equ EBDA, 0x9FC00              # nothing may be loaded at or above the EBDA

start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7C00
    mov es, ax
    sti
    cld
    # Keep what the MBR handed over.
    mov cs:[info_drive], dl
    mov cs:[info_entry_seg], ds
    mov cs:[info_entry_off], si
    mov eax, [si + 8]
    mov bl, [si + 4]
    push cs
    pop ds
    mov [info_part_lba], eax
    mov [info_part_type], bl
    # Index of the entry when it is in the table at 0000:07BE (1..4), else 0.
    mov ax, [info_entry_off]
    sub ax, 0x7BE
    xor cx, cx
    cmp word ptr [info_entry_seg], 0
    jne 1f
    cmp ax, 64
    jae 1f
    test al, 15
    jnz 1f
    shr ax, 4
    inc ax
    mov cx, ax
1:  mov [info_part_index], cl
    # The header.
    mov bp, offset msg_header
    cmp dword ptr [hdr_magic], 0x4C444E4F    # "ONDL"
    jne fail
    mov eax, [hdr_offset]
    add eax, [info_part_lba]
    mov [info_kernel_lba], eax
    mov [dap_lba], eax
    # Does it fit below the EBDA? end = seg * 16 + sectors * 512.
    movzx eax, word ptr [hdr_segment]
    shl eax, 4
    movzx ecx, word ptr [hdr_sectors]
    shl ecx, 9
    add eax, ecx
    mov bp, offset msg_large
    cmp eax, EBDA
    ja fail
    mov bp, offset msg_header
    cmp word ptr [hdr_sectors], 0
    je fail
    mov ax, [hdr_segment]
    mov [dap_seg], ax
    mov cx, [hdr_sectors]
load:
    mov ax, cx
    cmp ax, CHUNK
    jbe 2f
    mov ax, CHUNK
2:  mov [dap_count], ax
    push cx
    mov si, offset dap
    mov ah, 0x42
    mov dl, [info_drive]
    int 0x13
    pop cx
    mov bp, offset msg_read
    jc fail
    mov ax, [dap_count]
    sub cx, ax
    shl ax, 5                   # sectors * 512 / 16 = paragraphs
    add [dap_seg], ax
    movzx eax, word ptr [dap_count]
    add [dap_lba], eax
    test cx, cx
    jnz load
    # Hand over: DL = drive, DS:SI = partition entry, ES:DI = boot information.
    mov ax, [hdr_segment]
    mov [jump_seg], ax
    mov ax, [hdr_entry]
    mov [jump_off], ax
    mov dl, [info_drive]
    mov di, offset info
    push ds
    pop es
    lds si, [info_entry_off]
    .byte 0x2E, 0xFF, 0x2E      # jmp far cs:[jump_off]
    .word jump_off

fail:
    mov si, offset msg_prefix
    call print
    mov si, bp
    call print
    int 0x18
3:  cli
    hlt
    jmp 3b

print:
    lodsb
    test al, al
    jz 4f
    mov ah, 0x0E
    mov bx, 7
    int 0x10
    jmp print
4:  ret

msg_prefix: .asciz "ondol boot loader: "
msg_header: .asciz "no valid kernel header in this partition\r\n"
msg_large:  .asciz "the kernel does not fit below 640 KiB\r\n"
msg_read:   .asciz "disk read error while loading the kernel\r\n"

jump_off: .word 0
jump_seg: .word 0

dap:       .byte 0x10, 0
dap_count: .word 0
           .word 0                      # buffer offset
dap_seg:   .word 0
dap_lba:   .quad 0

# Boot information handed to the kernel in ES:DI.
info:            .ascii "OBI1"
info_drive:      .byte 0
info_part_index: .byte 0               # 1..4 in the MBR table, 0 if elsewhere
info_part_type:  .byte 0
                 .byte 0
info_part_lba:   .long 0
info_kernel_lba: .long 0
info_entry_off:  .word 0               # DS:SI the MBR passed (the partition entry)
info_entry_seg:  .word 0

# The header `ondol disk create` writes.
    .org 0x1F0
hdr_magic:   .ascii "ONDL"
hdr_offset:  .long 1                   # kernel's first sector, from the partition start
hdr_sectors: .word 0                   # kernel size in sectors
hdr_segment: .word 0x1000              # load segment (offset 0)
hdr_entry:   .word 0                   # entry offset in that segment
    .word 0xAA55

# ondol-link: 0x600
# ondol's master boot record: the 440 bytes of code in sector 0 of a disk.
#
# The BIOS loads it at 0000:7C00 with DL = the boot drive. It moves itself to 0000:0600 (so the
# partition's boot sector can be loaded at 7C00), checks the partition table (exactly one entry
# marked active, 80h; anything else but 00h is an error), checks with INT 13h 48h that the active
# partition ends inside the disk, loads the partition's first sector to 0000:7C00 (INT 13h 42h:
# BIOSes without the extensions, older than 1998, are refused), checks its 55AA
# signature and jumps to it with DL = drive and DS:SI = the partition entry, as MBRs do.
# On an error it prints one line through INT 10h and calls INT 18h (boot failure).
.code16
.intel_syntax noprefix
.equ TABLE, 0x7BE            # partition table, after relocation
.equ LOAD, 0x7C00
.equ PARAMS, 0x800           # INT 13h 48h result buffer, free memory above the relocated MBR

start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, LOAD
    mov ds, ax
    mov es, ax
    cld
    mov si, LOAD
    mov di, 0x600
    mov cx, 256
    rep movsw
    ljmp 0, offset relocated
relocated:
    sti
    mov [drive], dl
    mov si, TABLE
    xor bx, bx
    mov cx, 4
1:  mov al, [si]
    test al, al
    jz 2f
    cmp al, 0x80
    mov bp, offset msg_table
    jne fail
    mov bp, offset msg_several
    test bx, bx
    jnz fail
    mov bx, si
2:  add si, 16
    loop 1b
    mov bp, offset msg_none
    test bx, bx
    jz fail
    # EDD present? (INT 13h 41h)
    mov ah, 0x41
    mov dl, [drive]
    push bx
    mov bx, 0x55AA
    int 0x13
    pop si
    jc chs
    cmp bx, 0xAA55
    jne chs
    test cl, 1
    jz chs
    # The partition must end inside the disk (INT 13h 48h: total sectors).
    mov ah, 0x48
    mov dl, [drive]
    push si
    mov si, PARAMS
    mov word ptr [si], 0x1A
    int 0x13
    pop si
    jc 3f
    mov eax, [si + 8]
    add eax, [si + 12]
    cmp eax, [PARAMS + 16]
    mov bp, offset msg_past
    ja fail
3:  # Read the partition's first sector with INT 13h 42h.
    mov eax, [si + 8]
    mov [dap_lba], eax
    push si
    mov si, offset dap
    mov ah, 0x42
    mov dl, [drive]
    int 0x13
    pop si
    jnc loaded
read_error:
    mov bp, offset msg_read
    jmp fail
chs:
    mov bp, offset msg_edd
    jmp fail
loaded:
    mov bp, offset msg_sig
    cmp word ptr [LOAD + 510], 0xAA55
    jne fail
    mov dl, [drive]
    # DS:SI = the active entry, as MBRs hand over.
    ljmp 0, LOAD

# Print "ondol MBR: ", the message at BP and CR LF, then INT 18h.
fail:
    mov si, offset msg_prefix
    call print
    mov si, bp
    call print
    mov si, offset crlf
    call print
    int 0x18
4:  cli
    hlt
    jmp 4b

print:
    lodsb
    test al, al
    jz 5f
    mov ah, 0x0E
    mov bx, 7
    int 0x10
    jmp print
5:  ret

msg_prefix:  .asciz "ondol MBR: "
msg_none:    .asciz "no active partition"
msg_several: .asciz "2+ active partitions"
msg_table:   .asciz "bad partition table"
msg_past:    .asciz "partition past end of disk"
msg_read:    .asciz "read error"
msg_sig:     .asciz "no 55AA in boot sector"
msg_edd:     .asciz "BIOS lacks INT 13h extensions"
crlf:        .asciz "\r\n"

dap:    .byte 0x10, 0
        .word 1                 # sectors
        .word LOAD, 0           # buffer offset, segment
dap_lba: .quad 0
drive:  .byte 0

    # A marker other tools (ondol disk inspect, the demo kernel) recognise.
    .org 0x1B0
    .ascii "ondolMBR"
    # The code area ends here: the disk signature, the partition table and 55AA follow,
    # written by `ondol disk create`.
    .org 0x1B8

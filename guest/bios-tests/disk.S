# ondol-link: 0x7c00
# INT 13h on the boot disk. The test harness builds a disk of exactly 2048 sectors (1 MiB)
# whose sectors after this program hold their own LBA in their first dword, so reads can be
# checked on any BIOS.
.include "check.inc"
.equ BUF, 0xA000                # past the end of this program
.equ SECTORS, 2048
BIOS_TEST_START
    # 41h: extensions present, with the fixed-disk access subset.
    mov ah, 0x41
    mov bx, 0x55AA
    mov dl, [boot_drive]
    int 0x13
    mov ax, bx
    jc 1f
    cmp bx, 0xAA55
1:  CHECK "int13_41_extensions"
    mov ax, cx
    test cl, 1
    setnz al
    cmp al, 1
    CHECK "int13_41_fixed_disk_subset"
    # 08h: geometry.
    mov ah, 0x08
    mov dl, [boot_drive]
    int 0x13
    mov ax, cx
    jc 2f
    mov [spt], cl
    and byte ptr [spt], 0x3F
    inc dh
    mov [heads], dh
    test cl, 0x3F               # at least one sector per track
    setz al
    cmp al, 0
2:  CHECK "int13_08_geometry"
    mov al, dl
    cmp dl, 1
    setb al
    cmp al, 0
    CHECK "int13_08_drive_count"
    # 48h: total sectors.
    mov ah, 0x48
    mov dl, [boot_drive]
    mov si, offset params
    mov word ptr [si], 0x1A
    int 0x13
    mov ax, [params + 16]
    jc 3f
    cmp word ptr [params + 16], SECTORS
3:  CHECK "int13_48_total_sectors"
    mov ax, [params + 24]
    cmp word ptr [params + 24], 512
    CHECK "int13_48_sector_size"
    # 15h: fixed disk, CX:DX sectors.
    mov ah, 0x15
    mov dl, [boot_drive]
    int 0x13
    mov al, ah
    cmp ah, 3
    CHECK "int13_15_fixed_disk"
    # CX:DX: the sectors the BIOS addresses (SeaBIOS counts its CHS geometry's, ondol all of
    # them): more than none, not more than the disk has.
    mov ax, dx
    test cx, cx
    jnz 8f
    cmp dx, 0
    je 8f
    cmp dx, SECTORS
    ja 8f
    xor bx, bx
8:  CHECK "int13_15_sectors"
    # 02h: CHS read of LBA 100 through the geometry from 08h.
    mov ax, 100
    xor dx, dx
    movzx cx, byte ptr [spt]
    div cx                      # ax = track, dx = sector - 1
    mov cl, dl
    inc cl
    xor dx, dx
    movzx bx, byte ptr [heads]
    div bx                      # ax = cylinder, dx = head
    mov dh, dl
    mov ch, al
    shl ah, 6
    or cl, ah
    mov bx, BUF
    mov ax, 0x0201
    mov dl, [boot_drive]
    int 0x13
    mov ax, [BUF]
    jc 4f
    cmp word ptr [BUF], 100
4:  CHECK "int13_02_chs_read"
    # 42h: extended read of two sectors at LBA 1000.
    mov dword ptr [dap_lba], 1000
    mov word ptr [dap_count], 2
    mov si, offset dap
    mov ah, 0x42
    mov dl, [boot_drive]
    int 0x13
    mov ax, [BUF]
    jc 5f
    cmp word ptr [BUF], 1000
    jne 5f
    mov ax, [BUF + 512]
    cmp word ptr [BUF + 512], 1001
5:  CHECK "int13_42_extended_read"
    # 43h then 42h: write a pattern to LBA 1500 and read it back.
    mov di, BUF
    mov cx, 256
    mov ax, 0x5AA5
    rep stosw
    mov dword ptr [dap_lba], 1500
    mov word ptr [dap_count], 1
    mov si, offset dap
    mov ax, 0x4300
    mov dl, [boot_drive]
    int 0x13
    jc 6f
    mov dword ptr [BUF], 0
    mov si, offset dap
    mov ah, 0x42
    mov dl, [boot_drive]
    int 0x13
    mov ax, [BUF]
    jc 6f
    cmp word ptr [BUF + 510], 0x5AA5
6:  CHECK "int13_43_write_read_back"
    # 42h past the end fails with CF and a status.
    mov dword ptr [dap_lba], SECTORS
    mov word ptr [dap_count], 1
    mov si, offset dap
    mov ah, 0x42
    mov dl, [boot_drive]
    int 0x13
    mov al, ah
    setc ah
    cmp ah, 1
    CHECK "int13_42_past_end_fails"
    # 00h: reset.
    xor ax, ax
    mov dl, [boot_drive]
    int 0x13
    setc al
    cmp al, 0
    CHECK "int13_00_reset"
    # A drive that is not there.
    mov ah, 0x08
    mov dl, 0x81
    int 0x13
    setc al
    cmp al, 1
    CHECK "int13_08_absent_drive_fails"
    jmp 7f
spt:   .byte 0
heads: .byte 0
.p2align 2
dap:       .byte 0x10, 0
dap_count: .word 0
           .word BUF, 0
dap_lba:   .quad 0
params:    .space 0x1E
7:
BIOS_TEST_END

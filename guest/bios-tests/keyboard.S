# ondol-link: 0x7c00
# INT 16h fed from the serial console: the harness types "ab", Enter and the up arrow
# (ESC [ A) before the program runs.
.include "check.inc"
BIOS_TEST_START
    # 01h: a key is waiting ('a', scan code 1Eh) and stays.
    mov ah, 0x01
    int 0x16
    jz 1f
    cmp ax, 0x1E61
1:  CHECK "int16_01_peeks_key"
    xor ah, ah
    int 0x16
    cmp ax, 0x1E61
    CHECK "int16_00_reads_a"
    xor ah, ah
    int 0x16
    cmp ax, 0x3062
    CHECK "int16_00_reads_b"
    mov ah, 0x10
    int 0x16
    cmp ax, 0x1C0D
    CHECK "int16_10_reads_enter"
    mov ah, 0x10
    int 0x16
    cmp ax, 0x4800
    CHECK "int16_10_reads_up_arrow"
    # Nothing left.
    mov ah, 0x01
    int 0x16
    setz al
    cmp al, 1
    CHECK "int16_01_empty"
    # 02h: shift flags equal the BDA's.
    mov ah, 0x02
    int 0x16
    push ds
    push 0x40
    pop ds
    cmp al, [0x17]
    pop ds
    CHECK "int16_02_shift_flags"
BIOS_TEST_END

# ondol-link: 0x7c00
# INT 10h: video mode, cursor, character output to the text buffer at B800:0000, scrolling,
# display identification, and the BIOS data area fields that describe the screen.
.include "check.inc"
BIOS_TEST_START
    mov ax, 0xB800
    mov es, ax
    # 0Fh after POST: an 80-column colour text mode.
    mov ah, 0x0F
    int 0x10
    push ax
    cmp ah, 80
    CHECK "int10_0f_columns_80"
    pop ax
    and al, 0x7F
    cmp al, 3
    CHECK "int10_0f_mode_3"
    # 00h: set mode 3; the cursor goes home.
    mov ax, 0x0003
    int 0x10
    mov ah, 0x03
    xor bh, bh
    int 0x10
    mov ax, dx
    test dx, dx
    CHECK "int10_00_cursor_home"
    # 02h/03h: set and read back the cursor.
    mov ah, 0x02
    xor bh, bh
    mov dx, 0x050A
    int 0x10
    mov ah, 0x03
    xor bh, bh
    int 0x10
    mov ax, dx
    cmp dx, 0x050A
    CHECK "int10_02_03_cursor"
    # 09h: three 'X' with attribute 1Eh at the cursor, which does not move.
    mov ax, 0x0958
    mov bx, 0x001E
    mov cx, 3
    int 0x10
    mov ax, es:[(5 * 80 + 12) * 2]
    cmp ax, 0x1E58
    CHECK "int10_09_writes_char_and_attribute"
    mov ah, 0x03
    xor bh, bh
    int 0x10
    mov ax, dx
    cmp dx, 0x050A
    CHECK "int10_09_keeps_cursor"
    # 08h: read it back.
    mov ah, 0x08
    xor bh, bh
    int 0x10
    cmp ax, 0x1E58
    CHECK "int10_08_reads_char_and_attribute"
    # 0Eh: teletype over it keeps the attribute and moves the cursor.
    mov ax, 0x0E59
    xor bx, bx
    int 0x10
    mov ax, es:[(5 * 80 + 10) * 2]
    cmp al, 'Y'
    CHECK "int10_0e_writes_char"
    mov ah, 0x03
    xor bh, bh
    int 0x10
    mov ax, dx
    cmp dx, 0x050B
    CHECK "int10_0e_advances_cursor"
    mov ax, 0x0E0D
    int 0x10
    mov ax, 0x0E0A
    int 0x10
    mov ah, 0x03
    xor bh, bh
    int 0x10
    mov ax, dx
    cmp dx, 0x0600
    CHECK "int10_0e_cr_lf"
    # 06h: scroll the whole screen up one line: row 5 moves to row 4.
    mov ax, 0x0601
    mov bh, 0x07
    xor cx, cx
    mov dx, 0x184F
    int 0x10
    mov ax, es:[(4 * 80 + 11) * 2]
    cmp ax, 0x1E58
    CHECK "int10_06_scrolls_up"
    mov ax, es:[(24 * 80) * 2]
    cmp ax, 0x0720
    CHECK "int10_06_blanks_bottom_line"
    # 07h: and down again.
    mov ax, 0x0701
    mov bh, 0x07
    xor cx, cx
    mov dx, 0x184F
    int 0x10
    mov ax, es:[(5 * 80 + 11) * 2]
    cmp ax, 0x1E58
    CHECK "int10_07_scrolls_down"
    # 13h: write a string with attribute 4Fh at row 20, column 0, moving the cursor.
    push es
    push cs
    pop es
    mov ax, 0x1301
    mov bx, 0x004F
    mov cx, 3
    mov dx, 0x1400
    mov bp, offset str_abc
    int 0x10
    jmp 4f
str_abc: .ascii "abc"
4:
    pop es
    mov ax, es:[(20 * 80 + 2) * 2]
    cmp ax, 0x4F63
    CHECK "int10_13_writes_string"
    # 12h BL=10h: EGA/VGA information (BL becomes the memory size code 0-3).
    mov ah, 0x12
    mov bx, 0xFF10
    int 0x10
    mov ax, bx
    cmp bl, 3
    seta al
    cmp al, 0
    CHECK "int10_12_ega_information"
    # 1A00h: display combination: a VGA (BL = 07h or 08h).
    mov ax, 0x1A00
    int 0x10
    cmp al, 0x1A
    CHECK "int10_1a_supported"
    mov ax, bx
    cmp bl, 0x08                # VGA with colour display
    je 3f
    cmp bl, 0x07                # VGA with monochrome display
3:  CHECK "int10_1a_vga"
    # 4F00h: VBE answered: either supported (AX = 004Fh) or absent (AL != 4Fh).
    push es
    push ds
    pop es
    mov di, 0x6000
    mov ax, 0x4F00
    int 0x10
    pop es
    cmp ax, 0x004F
    je 1f
    cmp al, 0x4F
    jne 1f
    or al, 1                    # AL = 4Fh with an error in AH: a wrong answer (ZF clear)
    jmp 2f
1:  xor bx, bx                  # ZF set
2:  CHECK "int10_4f00_answered"
    # The BIOS data area agrees: mode 3, 80 columns, 25 rows.
    push ds
    mov ax, 0x40
    mov ds, ax
    mov al, [0x49]
    mov ah, [0x84]
    mov cx, [0x4A]
    pop ds
    cmp ax, 0x1803
    CHECK "bda_mode_and_rows"
    mov ax, cx
    cmp cx, 80
    CHECK "bda_columns"
BIOS_TEST_END

# ondol-link: 0x7c00
# String instructions with REP prefixes, forwards and backwards, and a checksum of the result.
.include "lib.inc"
.equ BUF, 0x1000
start:
    PROLOGUE
    # Fill 256 bytes with 0xA5, then copy them word-wise 0x100 bytes higher.
    mov di, BUF
    mov al, 0xA5
    mov cx, 256
    rep stosb
    mov si, BUF
    mov di, BUF + 0x100
    mov cx, 128
    rep movsw
    # Overwrite a run backwards with a counting pattern.
    std
    mov di, BUF + 0x1FF
    mov cx, 64
    mov al, 0
1:  stosb
    inc al
    loop 1b
    cld
    # Checksum the 512 bytes with lodsw.
    mov si, BUF
    mov cx, 256
    xor bx, bx
2:  lodsw
    add bx, ax
    rol bx, 1
    loop 2b
    mov ax, bx
    call hex16
    # Compare the two halves: REPE CMPSB stops at the first difference.
    mov si, BUF
    mov di, BUF + 0x100
    mov cx, 256
    repe cmpsb
    mov ax, cx
    call hex16
    mov ax, si
    call hex16
    # Find a byte with REPNE SCASB.
    mov di, BUF + 0x100
    mov cx, 256
    mov al, 0x20
    repne scasb
    mov ax, di
    call hex16
    call newline
    EXIT 0
    LIBRARY
    BOOT_SIGNATURE

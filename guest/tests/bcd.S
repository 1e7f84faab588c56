# ondol-link: 0x7c00
# Decimal adjust instructions over a spread of inputs: DAA, DAS after ADD/SUB, AAA, AAS, AAM,
# AAD. Prints each result with the flags the SDM defines for it (undefined flags masked out).
.include "lib.inc"
start:
    PROLOGUE
    mov si, offset pairs
    mov cx, 8
1:  push cx
    mov al, [si]
    add al, [si + 1]
    daa
    pushf
    call hex8
    pop ax
    and al, 0xD5            # SF ZF AF PF CF (OF undefined)
    call hex8
    mov al, [si]
    sub al, [si + 1]
    das
    pushf
    call hex8
    pop ax
    and al, 0xD5
    call hex8
    mov ax, [si]
    aaa
    pushf
    call hex16
    pop ax
    and al, 0x11            # AF CF
    call hex8
    mov ax, [si]
    aas
    pushf
    call hex16
    pop ax
    and al, 0x11
    call hex8
    mov al, [si]
    aam
    pushf
    call hex16
    pop ax
    and al, 0xC4            # SF ZF PF
    call hex8
    mov ax, [si]
    aad
    pushf
    call hex16
    pop ax
    and al, 0xC4
    call hex8
    call newline
    add si, 2
    pop cx
    loop 1b
    EXIT 0

pairs: .byte 0x19, 0x28, 0x99, 0x01, 0x45, 0x55, 0x0F, 0x0A, 0x80, 0x90, 0x00, 0x00, 0x73, 0x38, 0x5A, 0xA5
    LIBRARY
    BOOT_SIGNATURE

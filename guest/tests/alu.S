# ondol-link: 0x7c00
# Integer arithmetic and logic in 16 and 32 bits: each result is printed in hex, so any
# difference between two CPUs shows in the output. No INT, no DAA (so /dev/kvm layers that
# emulate real mode in software can run it too).
.include "lib.inc"
start:
    PROLOGUE
    # 16-bit add/adc/sub/sbb chain with flags captured by pushf.
    mov ax, 0x1234
    mov bx, 0xF00D
    add ax, bx
    pushf
    adc ax, 0x7FFF
    pushf
    sub ax, 0x8001
    pushf
    sbb bx, ax
    pushf
    call hex16
    mov ax, bx
    call hex16
    pop ax
    and ax, 0x08D5      # OF SF ZF AF PF CF
    call hex16
    pop ax
    and ax, 0x08D5
    call hex16
    pop ax
    and ax, 0x08D5
    call hex16
    pop ax
    and ax, 0x08D5
    call hex16
    call newline
    # 32-bit logic, shifts and rotates.
    mov eax, 0x89ABCDEF
    mov ecx, 0x12345678
    xor eax, ecx
    rol eax, 7
    mov edx, eax
    shr edx, 3
    sar eax, 5
    or eax, edx
    not ecx
    and ecx, eax
    rcr ecx, 1
    shld eax, ecx, 9
    shrd ecx, edx, 13
    call hex32
    mov eax, ecx
    call hex32
    call newline
    # Multiply and divide, 16 and 32 bits, signed and unsigned.
    mov ax, 0xFEDC
    mov cx, 0x1357
    mul cx
    call hex16
    mov ax, dx
    call hex16
    mov eax, 0x12345678
    mov ecx, 0x9ABCDEF0
    imul ecx
    call hex32
    mov eax, edx
    call hex32
    mov edx, 0x00001234
    mov eax, 0x56789ABC
    mov ecx, 0x00ABCDEF
    div ecx
    call hex32
    mov eax, edx
    call hex32
    mov ax, -1000
    cwd
    mov cx, 7
    idiv cx
    call hex16
    mov ax, dx
    call hex16
    imul ax, cx, -3
    call hex16
    call newline
    # Bit scans, bit tests, sign and zero extension.
    mov eax, 0x00F00000
    bsf ecx, eax
    bsr edx, eax
    mov ax, cx
    call hex16
    mov ax, dx
    call hex16
    # F3 0F BC/BD (TZCNT/LZCNT on CPUs with BMI1/ABM) are BSF/BSR on a CPU without them:
    # BSR gives 23 where LZCNT would give 8; BSF of 0 leaves the destination alone.
    .byte 0xF3
    bsr edx, eax
    mov ax, dx
    call hex16
    mov ecx, 0x1234
    xor eax, eax
    .byte 0xF3
    bsf ecx, eax
    mov ax, cx
    call hex16
    mov ebx, 0x80000001
    bts ebx, 4
    btr ebx, 31
    btc ebx, 0
    mov eax, ebx
    call hex32
    mov al, 0x85
    movsx ecx, al
    movzx edx, al
    mov eax, ecx
    call hex32
    mov eax, edx
    call hex32
    call newline
    EXIT 0
    LIBRARY
    BOOT_SIGNATURE

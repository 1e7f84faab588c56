# ondol-link: 0x7c00
# INT 15h (E820, E801, 88h, A20, C0h, 86h, unknown functions), INT 11h, INT 12h, INT 1Ah.
# The harness gives the machine 32 MiB of RAM.
.include "check.inc"
.equ E, 0x9000
BIOS_TEST_START
    # E820: walk the map; usable RAM must be sorted, disjoint, and add up to 29..32 MiB.
    xor ebx, ebx
    xor esi, esi                # usable KiB
    xor ebp, ebp                # end of the last usable range (bytes, below 4 GiB)
    mov word ptr [e820_count], 0
    mov byte ptr [e820_bad], 0
1:  mov eax, 0xE820
    mov ecx, 20
    mov edx, 0x534D4150
    mov di, E
    int 0x15
    jc 3f
    cmp eax, 0x534D4150
    jne 4f
    inc word ptr [e820_count]
    cmp dword ptr [E + 16], 1
    jne 2f
    mov eax, [E]
    cmp eax, ebp                # must start at or after the previous usable range
    jae 5f
    mov byte ptr [e820_bad], 1
5:  mov eax, [E + 8]
    add eax, [E]
    mov ebp, eax
    mov eax, [E + 8]
    shr eax, 10
    add esi, eax
2:  test ebx, ebx
    jnz 1b
3:  mov ax, [e820_count]
    cmp ax, 2
    setb al
    cmp al, 0
    CHECK "int15_e820_entries"
4:  mov al, [e820_bad]
    cmp al, 0
    CHECK "int15_e820_sorted"
    mov eax, esi
    shr eax, 10                 # MiB
    cmp ax, 29
    jb 6f
    cmp ax, 32
    ja 6f
    xor bx, bx
6:  CHECK "int15_e820_usable_ram"
    # E801: 15 MiB between 1 and 16 MiB; the blocks above 16 MiB agree with E820 within
    # a MiB.
    mov ax, 0xE801
    int 0x15
    jc 7f
    cmp ax, 0x3C00
7:  CHECK "int15_e801_low"
    mov ax, bx
    shr ax, 4                   # 64 KiB blocks to MiB
    add ax, 16
    cmp ax, 30
    jb 8f
    cmp ax, 32
    ja 8f
    xor bx, bx
8:  CHECK "int15_e801_high"
    # 88h: at least 15 MiB above 1 MiB.
    mov ah, 0x88
    int 0x15
    jc 9f
    cmp ax, 0x3C00
    setb bl
    cmp bl, 0
9:  CHECK "int15_88"
    # INT 12h: conventional memory ends at or below the EBDA.
    int 0x12
    push ds
    push 0x40
    pop ds
    mov bx, [0x0E]
    mov cx, [0x10]
    pop ds
    shr bx, 6                   # EBDA segment to KiB
    cmp ax, bx
    ja 10f
    cmp ax, 512
    jb 10f
    xor dx, dx
10: CHECK "int12_below_ebda"
    # INT 11h: the equipment word from the BDA.
    int 0x11
    cmp ax, cx
    CHECK "int11_equipment"
    # A20: 2400h closes it (0000:0500 and FFFF:0510 alias) and 2402h says so; or, on a
    # machine without a gate, 2400h fails with AH = 86h and A20 stays open.
    mov ax, 0x2400
    int 0x15
    jnc 15f
    mov al, ah
    cmp ah, 0x86
    jne 16f
    call a20_alias
    cmp al, 0
    jmp 16f
15: call a20_alias
    cmp al, 1
16: CHECK "int15_2400_a20_off_or_no_gate"
    mov ax, 0x2402
    int 0x15
    mov bl, al
    call a20_alias
    xor al, 1                   # AL = 1 when A20 is open
    cmp al, bl
    CHECK "int15_2402_reports_state"
    mov ax, 0x2401
    int 0x15
    call a20_alias
    cmp al, 0
    CHECK "int15_2401_a20_on"
    # C0h: the configuration table says AT-class (model FCh).
    mov ah, 0xC0
    int 0x15
    jc 11f
    mov al, es:[bx + 2]
    cmp al, 0xFC
11: push ds
    pop es
    CHECK "int15_c0_model"
    # 86h: wait 50 ms.
    mov ah, 0x86
    xor cx, cx
    mov dx, 50000
    int 0x15
    setc al
    cmp al, 0
    CHECK "int15_86_wait"
    # An unknown function fails with CF set.
    mov ax, 0xEE00
    int 0x15
    setc al
    cmp al, 1
    CHECK "int15_unknown_fails"
    # INT 1Ah 00h: the tick count moves while interrupts are on.
    xor ah, ah
    int 0x1A
    mov si, dx
    sti
    hlt
    hlt
    hlt
    cli
    xor ah, ah
    int 0x1A
    mov ax, dx
    cmp dx, si
    seta bl
    cmp bl, 1
    CHECK "int1a_00_ticks_advance"
    # 02h/04h: the RTC in BCD; the century is 20.
    mov ah, 0x02
    int 0x1A
    mov ax, cx
    jc 12f
    cmp ch, 0x23
    ja 12f
    cmp cl, 0x59
    ja 12f
    cmp dh, 0x59
    ja 12f
    xor bx, bx
12: CHECK "int1a_02_time"
    mov ah, 0x04
    int 0x1A
    mov ax, cx
    jc 13f
    cmp ch, 0x20
    jne 13f
    cmp dh, 0x12
    ja 13f
    cmp dl, 0x31
13: setbe al
    cmp al, 1
    CHECK "int1a_04_date"
    jmp 14f

# AL = 1 if 0000:0500 and FFFF:0510 are the same byte (A20 masked), else 0.
a20_alias:
    push es
    mov ax, 0xFFFF
    mov es, ax
    mov byte ptr [0x500], 0x11
    mov byte ptr es:[0x510], 0x22
    cmp byte ptr [0x500], 0x22
    sete al
    pop es
    ret
e820_count: .word 0
e820_bad:   .byte 0
14:
BIOS_TEST_END

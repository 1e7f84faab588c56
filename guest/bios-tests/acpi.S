# ondol-link: 0x7c00
# ACPI as an OS finds and uses it, then a power-off through ACPI S5. Booted from a disk by the
# BIOS under test; the first stage opens A20 and enters flat 32-bit protected mode (the tables
# may lie above 1 MiB, as SeaBIOS puts them). Then, as ACPI 6.5 describes for OSPM:
#   - the RSDP: searched in the EBDA's first KiB (segment at 40:0Eh), then E0000h-FFFFFh, on
#     16-byte boundaries, with its checksum (5.2.5.1, 5.2.5.3);
#   - the RSDT and, through it, the FADT ("FACP"), each with its length and checksum (5.2.7,
#     5.2.9); the FACS (5.2.10) and the DSDT (5.2.11.1) the FADT points to;
#   - \_S5_ in the DSDT's AML (7.4.2; the encoding of 20.2): the SLP_TYP value for soft off;
#   - the PM timer: it runs, fits in 24 bits (unless TMR_VAL_EXT), and counts at 3.579545 MHz
#     against PIT counter 2 (50 ms, watched on port 61h bit 5);
#   - ACPI mode: SCI_EN in PM1a control, after writing ACPI_ENABLE to SMI_CMD if the FADT has
#     an SMI command port (SeaBIOS's tables do; ondol's machine is always in ACPI mode).
# With every check passed it writes SLP_TYP then SLP_TYP | SLP_EN to PM1a control (and PM1b if
# present), as ACPICA's acpi_hw_legacy_sleep does: the machine must power off. Otherwise it
# ends with "done: failed N" and exit status N, or 7Eh when the power-off did not happen.
.include "check.inc"

# FADT fields (ACPI 6.5, table 5.9).
.equ FADT_FIRMWARE_CTRL, 36
.equ FADT_DSDT, 40
.equ FADT_SCI_INT, 46
.equ FADT_SMI_CMD, 48
.equ FADT_ACPI_ENABLE, 52
.equ FADT_PM1A_CNT, 64
.equ FADT_PM1B_CNT, 68
.equ FADT_PM_TMR, 76
.equ FADT_PM1_CNT_LEN, 89
.equ FADT_PM_TMR_LEN, 91
.equ FADT_FLAGS, 112
.equ TMR_VAL_EXT, 1 << 8
.equ SCI_EN, 1
.equ SLP_EN, 1 << 13
# PM timer ticks in 50 ms (3579545 Hz) and the PIT count for 50 ms (1193182 Hz).
.equ TICKS_50MS, 178977
.equ PIT_50MS, 59659

.macro CHECK32 name
    push esi
    call 92f
    .asciz "\name"
92: pop esi
    call report32
    pop esi
.endm

BIOS_TEST_START
    mov ax, 0x2401              # A20 on: SeaBIOS puts the tables at the top of RAM
    int 0x15
    cli
    lgdt [gdt_desc]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    ljmp 0x08, offset pm32

.code32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov esp, 0x7C00

    # --- RSDP: the EBDA's first KiB, then the BIOS area.
    movzx esi, word ptr [0x40E]
    shl esi, 4
    mov ecx, 1024 / 16
    call scan_rsdp
    test eax, eax
    jnz 1f
    mov esi, 0xE0000
    mov ecx, 0x20000 / 16
    call scan_rsdp
1:  mov [rsdp], eax
    mov esi, offset s_rsdp
    call puts32
    call hex32_32
    call newline32
    cmp eax, 1
    sbb ebx, ebx                # EBX = -1 when not found
    mov eax, ebx
    test eax, eax
    CHECK32 "acpi_rsdp_found"
    mov ebx, [rsdp]
    test ebx, ebx
    jz done
    # Revision 2 and later also have a 36-byte extended checksum.
    xor eax, eax
    cmp byte ptr [ebx + 15], 2
    jb 2f
    mov ecx, 36
    mov esi, ebx
    call sum_bytes
2:  test al, al
    CHECK32 "acpi_rsdp_extended_checksum"

    # --- RSDT and the FADT in it.
    mov ebx, [ebx + 16]
    mov [rsdt], ebx
    mov edi, offset sig_rsdt
    call check_sdt
    CHECK32 "acpi_rsdt_signature_length_checksum"
    jnz done
    mov ecx, [ebx + 4]
    sub ecx, 36
    shr ecx, 2
    lea esi, [ebx + 36]
    xor edx, edx
3:  jecxz 4f
    mov eax, [esi]
    cmp dword ptr [eax], 0x50434146 # "FACP"
    je 5f
    add esi, 4
    dec ecx
    jmp 3b
5:  mov edx, eax
4:  mov [fadt], edx
    mov eax, edx
    cmp edx, 1
    sbb ebx, ebx
    test ebx, ebx
    CHECK32 "acpi_fadt_in_rsdt"
    jnz done
    mov ebx, [fadt]
    mov edi, offset sig_facp
    call check_sdt
    CHECK32 "acpi_fadt_signature_length_checksum"
    jnz done
    # The PM1a control block and the PM timer are there, with sane lengths.
    mov ebx, [fadt]
    mov eax, [ebx + FADT_PM1A_CNT]
    mov [pm1a_cnt], eax
    mov eax, [ebx + FADT_PM1B_CNT]
    mov [pm1b_cnt], eax
    mov eax, [ebx + FADT_PM_TMR]
    mov [pm_tmr], eax
    mov esi, offset s_ports
    call puts32
    mov eax, [pm1a_cnt]
    call hex32_32
    mov esi, offset s_timer
    call puts32
    mov eax, [pm_tmr]
    call hex32_32
    mov esi, offset s_sci
    call puts32
    movzx eax, word ptr [ebx + FADT_SCI_INT]
    call hex32_32
    call newline32
    xor eax, eax
    cmp dword ptr [pm1a_cnt], 0
    je 6f
    cmp dword ptr [pm_tmr], 0
    je 6f
    cmp byte ptr [ebx + FADT_PM1_CNT_LEN], 2
    jb 6f
    cmp byte ptr [ebx + FADT_PM_TMR_LEN], 4
    jne 6f
    inc eax
6:  cmp eax, 1
    CHECK32 "acpi_fadt_pm1a_control_and_timer_blocks"
    jnz done

    # --- FACS: signature, length, 64-byte alignment.
    mov eax, [ebx + FADT_FIRMWARE_CTRL]
    xor edx, edx
    test eax, eax
    jz 7f
    test al, 63
    jnz 7f
    cmp dword ptr [eax], 0x53434146 # "FACS"
    jne 7f
    cmp dword ptr [eax + 4], 64
    jb 7f
    inc edx
7:  cmp edx, 1
    CHECK32 "acpi_facs_signature_length_alignment"

    # --- DSDT and \_S5_ in it.
    mov ebx, [fadt]
    mov ebx, [ebx + FADT_DSDT]
    mov [dsdt], ebx
    mov edi, offset sig_dsdt
    call check_sdt
    CHECK32 "acpi_dsdt_signature_length_checksum"
    jnz done
    call find_s5
    CHECK32 "acpi_dsdt_has_s5_package"
    jnz 8f
    mov esi, offset s_slp_typ
    call puts32
    movzx eax, byte ptr [slp_typa]
    call hex32_32
    call newline32

    # --- The PM timer runs and is 24 bits wide.
8:  mov edx, [pm_tmr]
    in eax, dx
    mov ebx, eax
    mov ecx, 1000000
9:  in eax, dx
    cmp eax, ebx
    loope 9b
    mov edi, 1                  # failed unless shown otherwise
    je 11f                      # it never changed
    mov ecx, [fadt]
    test dword ptr [ecx + FADT_FLAGS], TMR_VAL_EXT
    jnz 10f
    test eax, 0xFF000000
    jnz 11f
10: xor edi, edi
11: test edi, edi
    CHECK32 "acpi_pm_timer_runs_24_bit"

    # --- Its rate against PIT counter 2: 50 ms is 178977 ticks. The interval measured
    # includes reading the two timers, so it is never shorter; allow 5% below, 50% above.
    mov edx, [pm_tmr]
    in eax, dx
    mov [t0], eax
    in al, 0x61
    and al, 0xFC
    or al, 1                    # gate 2 on, speaker off
    out 0x61, al
    mov al, 0xB0                # counter 2, low then high byte, mode 0, binary
    out 0x43, al
    mov al, PIT_50MS & 0xFF
    out 0x42, al
    mov al, PIT_50MS >> 8
    out 0x42, al
    mov ecx, 0x4000000
12: in al, 0x61
    test al, 0x20               # OUT2 rises at the terminal count
    loopz 12b
    mov edx, [pm_tmr]
    in eax, dx
    sub eax, [t0]
    and eax, 0xFFFFFF
    mov esi, offset s_rate
    call puts32
    call hex32_32
    call newline32
    xor ebx, ebx
    cmp eax, TICKS_50MS * 95 / 100
    jb 13f
    cmp eax, TICKS_50MS * 150 / 100
    ja 13f
    inc ebx
13: cmp ebx, 1
    CHECK32 "acpi_pm_timer_counts_at_3_579545_mhz"

    # --- ACPI mode: SCI_EN, enabling it through SMI_CMD if the platform has the port.
    mov edx, [pm1a_cnt]
    in ax, dx
    test al, SCI_EN
    jnz 16f
    mov ebx, [fadt]
    mov edx, [ebx + FADT_SMI_CMD]
    test edx, edx
    jz 16f
    mov al, [ebx + FADT_ACPI_ENABLE]
    out dx, al
    mov edx, [pm1a_cnt]
    mov ecx, 0x1000000
15: in ax, dx
    test al, SCI_EN
    loopz 15b
16: mov edx, [pm1a_cnt]
    in ax, dx
    and eax, SCI_EN
    cmp eax, SCI_EN
    CHECK32 "acpi_mode_sci_en"

done:
    cmp word ptr [failures], 0
    jne fail_exit
    # --- S5: SLP_TYP first, then SLP_TYP | SLP_EN, other PM1 control bits kept.
    mov esi, offset s_off
    call puts32
    mov edx, [pm1a_cnt]
    mov bl, [slp_typa]
    call sleep_write
    mov edx, [pm1b_cnt]
    test edx, edx
    jz 17f
    mov bl, [slp_typb]
    call sleep_write
17: mov ecx, 0x1000000          # a few seconds at most: the machine should be off by now
18: in al, 0x61
    loop 18b
    mov esi, offset s_still_on
    call puts32
    mov al, 0x7E
    out EXIT_PORT, al
    cli
    hlt

fail_exit:
    mov esi, offset done_msg
    call puts32
    mov ax, [failures]
    call hex16_32
    call newline32
    mov al, [failures]
    out EXIT_PORT, al
    cli
    hlt

# sleep_write: DX = a PM1 control port, BL = SLP_TYP. Writes SLP_TYP, then with SLP_EN.
sleep_write:
    in ax, dx
    and ax, 0xC3FF              # clear SLP_TYP (bits 10-12) and SLP_EN (bit 13)
    movzx cx, bl
    and cx, 7
    shl cx, 10
    or ax, cx
    out dx, ax
    or ax, SLP_EN
    out dx, ax
    ret

# scan_rsdp: ESI = start, ECX = 16-byte steps. EAX = the first "RSD PTR " whose first 20
# bytes sum to 0, or 0.
scan_rsdp:
1:  cmp dword ptr [esi], 0x20445352     # "RSD "
    jne 2f
    cmp dword ptr [esi + 4], 0x20525450 # "PTR "
    jne 2f
    push ecx
    push esi
    mov ecx, 20
    call sum_bytes
    pop esi
    pop ecx
    test al, al
    jnz 2f
    mov eax, esi
    ret
2:  add esi, 16
    loop 1b
    xor eax, eax
    ret

# sum_bytes: AL = the sum of ECX bytes at ESI (ECX > 0). Clobbers ECX, ESI.
sum_bytes:
    xor eax, eax
1:  add al, [esi]
    inc esi
    loop 1b
    ret

# check_sdt: EBX = a table, EDI = its expected signature. ZF set when the signature matches,
# the length is 36..64 KiB and the bytes over the length sum to 0. EAX shows what failed.
check_sdt:
    push ecx
    push esi
    mov eax, [ebx]
    cmp eax, [edi]
    jne 1f
    mov ecx, [ebx + 4]
    mov eax, ecx
    cmp ecx, 36
    jb 1f
    cmp ecx, 0x10000
    ja 1f
    mov esi, ebx
    call sum_bytes
    test al, al
    jmp 2f
1:  or eax, 1                   # ZF clear
2:  pop esi
    pop ecx
    ret

# find_s5: look for NameOp "_S5_" PackageOp in the DSDT's AML and read the first two
# elements (BytePrefix n, ZeroOp, OneOp or WordPrefix n) into slp_typa and slp_typb. ZF set
# when found and parsed; EAX shows what failed.
find_s5:
    mov ebx, [dsdt]
    mov ecx, [ebx + 4]
    sub ecx, 36 + 8
    jbe 9f
    lea esi, [ebx + 36]
1:  cmp dword ptr [esi + 1], 0x5F35535F # "_S5_"
    jne 2f
    cmp byte ptr [esi + 5], 0x12        # PackageOp
    jne 2f
    cmp byte ptr [esi], 0x08            # NameOp
    je 3f
    cmp byte ptr [esi], 0x5C            # "\": NameOp "\" "_S5_"
    jne 2f
    cmp byte ptr [esi - 1], 0x08
    je 3f
2:  inc esi
    loop 1b
9:  mov eax, 0x5350                     # "PS": not found
    or eax, eax
    ret
3:  add esi, 6                          # PkgLength: bits 7-6 of its lead byte count the
    movzx eax, byte ptr [esi]           # bytes that follow it
    shr eax, 6
    lea esi, [esi + eax + 1]
    cmp byte ptr [esi], 2               # NumElements
    jb 9b
    inc esi
    call aml_small_int
    jnz 8f
    mov [slp_typa], al
    call aml_small_int
    jnz 8f
    mov [slp_typb], al
    cmp eax, eax                        # ZF set
8:  ret

# aml_small_int: ESI at a data object; AL = its value and ESI past it; ZF set when it was a
# ZeroOp, OneOp, BytePrefix or WordPrefix.
aml_small_int:
    movzx eax, byte ptr [esi]
    inc esi
    cmp al, 0x00
    je 1f
    cmp al, 0x01
    je 1f
    cmp al, 0x0A
    je 2f
    cmp al, 0x0B
    je 3f
    or eax, 0x100                       # ZF clear
    ret
2:  movzx eax, byte ptr [esi]
    inc esi
    jmp 1f
3:  movzx eax, word ptr [esi]
    add esi, 2
1:  cmp eax, eax
    ret

# report32: ZF = pass; ESI = the check's name; EAX printed on failure. Keeps registers and
# flags (so a caller can branch on the outcome after CHECK32).
report32:
    pushfd
    push eax
    call puts32
    pop eax
    popfd
    pushfd
    jnz 1f
    push esi
    mov esi, offset ok_msg
    call puts32
    pop esi
    popfd
    ret
1:  push esi
    mov esi, offset fail_msg
    call puts32
    call hex32_32
    call newline32
    inc word ptr [failures]
    pop esi
    popfd
    ret

# putc32: AL to COM1. Keeps registers.
putc32:
    push edx
    push eax
    mov dx, COM1 + 5
1:  in al, dx
    test al, 0x20
    jz 1b
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    ret

# puts32: the zero-terminated string at ESI. Keeps registers but ESI.
puts32:
    push eax
1:  lodsb
    test al, al
    jz 2f
    call putc32
    jmp 1b
2:  pop eax
    ret

# hex32_32 / hex16_32 / hex8_32: EAX, AX, AL in hex. Keep registers.
hex32_32:
    push eax
    shr eax, 16
    call hex16_32
    pop eax
hex16_32:
    push eax
    mov al, ah
    call hex8_32
    pop eax
hex8_32:
    push eax
    push eax
    shr al, 4
    call 1f
    pop eax
    and al, 0x0F
    call 1f
    pop eax
    ret
1:  add al, '0'
    cmp al, '9'
    jbe 2f
    add al, 'a' - '9' - 1
2:  jmp putc32

newline32:
    push eax
    mov al, 13
    call putc32
    mov al, 10
    call putc32
    pop eax
    ret

.p2align 3
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF    # 08h: flat 32-bit code
    .quad 0x00CF92000000FFFF    # 10h: flat data
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

.p2align 2
rsdp:      .long 0
rsdt:      .long 0
fadt:      .long 0
dsdt:      .long 0
pm1a_cnt:  .long 0
pm1b_cnt:  .long 0
pm_tmr:    .long 0
t0:        .long 0
slp_typa:  .byte 0
slp_typb:  .byte 0
sig_rsdt:  .ascii "RSDT"
sig_facp:  .ascii "FACP"
sig_dsdt:  .ascii "DSDT"
s_rsdp:    .asciz "RSDP at "
s_ports:   .asciz "PM1a control at "
s_timer:   .asciz ", PM timer at "
s_sci:     .asciz ", SCI "
s_slp_typ: .asciz "S5 SLP_TYP "
s_rate:    .asciz "PM timer ticks in 50 ms of PIT counter 2: "
s_off:     .asciz "all checks passed: powering off through ACPI S5\r\n"
s_still_on: .asciz "FAIL: the machine is still on after SLP_EN\r\n"

.code16
BIOS_TEST_END

# ondol-link: 0x7c00
# Protected mode: segment limits and rights (#GP, #SS, #NP with their error codes), expand-down
# segments, LAR/LSL/VERR/VERW, privilege levels (IRET to ring 3, a DPL-3 trap gate with a stack
# switch from the TSS, a call gate with parameters and RET to the outer level, the I/O
# permission bitmap, privileged instructions, alignment checks), a 16-bit stack under 32-bit
# code (POP SS, ENTER), debug-register breakpoints, and exceptions (fault and trap addresses,
# #DF).
.include "pmlib.inc"
.equ TSS, 0x70000
.equ IOMAP_BYTES, 128               # ports 0-3FFh
BIOS_TEST_START
    ENTER_PM
.code32
pm_main:
    # ---- segment limits: a 4 KiB data segment at 20000h in GDT slot 48h ----
    mov dword ptr [gdt + 0x48], 0x00000FFF
    mov dword ptr [gdt + 0x4C], 0x00409202      # base 020000h, byte granular, 32-bit, present RW
    mov ax, 0x48
    mov es, ax
    mov dword ptr [last_vector], 0xFFFFFFFF
    mov ax, es:[0xFFE]
    mov eax, [last_vector]
    cmp eax, 0xFFFFFFFF
    CHECK32 "seg_limit_last_word_readable"
    RESUME_AT 1f
    mov ax, es:[0xFFF]
1:  EXPECT_FAULT 13, 0, "seg_limit_overrun_gp0"
    # ---- expand-down, 32-bit: valid offsets are 1000h..FFFFFFFFh ----
    mov dword ptr [gdt + 0x50], 0x00000FFF
    mov dword ptr [gdt + 0x54], 0x00409602
    mov ax, 0x50
    mov es, ax
    RESUME_AT 2f
    mov eax, es:[0x500]
2:  EXPECT_FAULT 13, 0, "expand_down_below_limit_gp0"
    mov dword ptr [last_vector], 0xFFFFFFFF
    mov eax, es:[0x2000]
    mov eax, [last_vector]
    cmp eax, 0xFFFFFFFF
    CHECK32 "expand_down_above_limit_ok"
    # ---- an SS-relative access past the stack segment's limit is #SS(0) (the stack itself
    # stays valid, so the exception can be delivered on it) ----
    mov ax, 0x48
    mov ss, ax
    mov esp, 0x800
    mov ebp, 0x2000
    RESUME_AT 3f
    mov eax, [ebp]
3:  mov ax, SEL_DATA
    mov ss, ax
    mov esp, STACK0
    EXPECT_FAULT 12, 0, "stack_overrun_ss0"
    # ---- a descriptor that is not present: #NP(selector) ----
    mov dword ptr [gdt + 0x58], 0x0000FFFF
    mov dword ptr [gdt + 0x5C], 0x00CF1200      # P = 0
    RESUME_AT 4f
    mov ax, 0x58
    mov ds, ax
4:  mov ax, SEL_DATA
    mov ds, ax
    EXPECT_FAULT 11, 0x58, "not_present_np_selector"
    # ---- SS with RPL != CPL: #GP(selector) ----
    RESUME_AT 5f
    mov ax, SEL_DATA | 3
    mov ss, ax
5:  EXPECT_FAULT 13, SEL_DATA, "ss_rpl_mismatch_gp_selector"
    # ---- writing through a code segment: #GP(0) ----
    RESUME_AT 6f
    mov cs:[scratch], eax
6:  EXPECT_FAULT 13, 0, "write_to_code_segment_gp0"
    # ---- LAR, LSL, VERR, VERW ----
    mov ecx, SEL_CODE
    lar eax, ecx
    jnz 7f
    and eax, 0x00F0FE00                         # the accessed bit was set when CS was loaded
    cmp eax, 0x00C09A00
7:  CHECK32 "lar_code_segment"
    mov ecx, 0x48
    lsl eax, ecx
    jnz 8f
    cmp eax, 0xFFF
8:  CHECK32 "lsl_byte_granular_limit"
    mov ecx, SEL_DATA
    lsl eax, ecx
    jnz 9f
    cmp eax, 0xFFFFFFFF
9:  CHECK32 "lsl_page_granular_limit"
    xor ecx, ecx
    lar eax, ecx
    setz al
    cmp al, 0
    CHECK32 "lar_null_selector_clears_zf"
    mov cx, SEL_CODE
    verw cx
    setz al
    cmp al, 0
    CHECK32 "verw_code_not_writable"
    mov cx, SEL_DATA
    verw cx
    setz al
    cmp al, 1
    CHECK32 "verw_data_writable"
    mov cx, SEL_CODE
    verr cx
    setz al
    cmp al, 1
    CHECK32 "verr_readable_code"
    # ---- a 16-bit stack (SS.B = 0) under 32-bit code: SP wraps and ESP's upper half stays,
    # also for POP SS (the pop uses the old stack's size) and for the frame ENTER gives EBP ----
    mov ebx, esp
    mov ax, SEL_DATA16
    mov ss, ax
    mov esp, 0x20000                # SP = 0
    push ss                         # SP = FFFCh, ESP = 2FFFCh
    mov edx, esp
    pop ss                          # SP wraps to 0: ESP = 20000h
    mov esi, esp
    mov esp, 0x10000                # SP = 0
    mov ebp, 0x1FFEC
    enter 8, 0                      # push EBP: ESP = 1FFFCh; EBP = ESP; ESP -= 8
    mov edi, ebp
    mov ecx, esp
    mov ax, SEL_DATA
    mov ss, ax
    mov esp, ebx
    mov eax, edx
    cmp eax, 0x2FFFC
    CHECK32 "push_on_16bit_stack_keeps_esp_high"
    mov eax, esi
    cmp eax, 0x20000
    CHECK32 "pop_ss_wraps_sp_of_the_old_stack"
    mov eax, edi
    cmp eax, 0x1FFFC
    CHECK32 "enter32_on_16bit_stack_copies_all_of_esp"
    mov eax, ecx
    cmp eax, 0x1FFF4
    CHECK32 "enter32_on_16bit_stack_allocates_in_sp"
    # ---- debug registers: an execution breakpoint is a #DB fault at the instruction (DR6.B0),
    # a data write breakpoint a #DB trap after the writing instruction (DR6.B1), a read does
    # not hit it, and with DR7.GD set a MOV DR is a #DB fault with DR6.BD and GD cleared ----
    mov eax, offset bp_exec_site
    mov dr0, eax
    mov eax, offset bp_data
    mov dr1, eax
    xor eax, eax
    mov dr6, eax
    mov eax, 0x00D00005             # L0 (execute, 1 byte), L1 (write, 4 bytes)
    mov dr7, eax
    RESUME_AT 20f
bp_exec_site:
    nop
20: EXPECT_FAULT 1, 0, "exec_breakpoint_db"
    mov eax, [last_eip]
    cmp eax, offset bp_exec_site
    CHECK32 "exec_breakpoint_is_a_fault_at_the_instruction"
    mov eax, dr6
    and eax, 0xF
    cmp eax, 1
    CHECK32 "exec_breakpoint_sets_dr6_b0"
    xor eax, eax
    mov dr6, eax
    mov dword ptr [last_vector], 0xFFFFFFFF
    mov dword ptr [bp_data], 1
bp_after_write:
    mov eax, [last_vector]
    cmp eax, 1
    CHECK32 "data_write_breakpoint_db"
    mov eax, [last_eip]
    cmp eax, offset bp_after_write
    CHECK32 "data_breakpoint_is_a_trap_after_the_write"
    mov eax, dr6
    and eax, 0xF
    cmp eax, 2
    CHECK32 "data_breakpoint_sets_dr6_b1"
    mov dword ptr [last_vector], 0xFFFFFFFF
    mov eax, [bp_data]
    mov eax, [last_vector]
    cmp eax, 0xFFFFFFFF
    CHECK32 "read_does_not_hit_a_write_breakpoint"
    mov eax, 0x2000                 # GD only
    mov dr7, eax
    RESUME_AT 21f
gd_site:
    mov eax, dr0
21: EXPECT_FAULT 1, 0, "general_detect_db"
    mov eax, [last_eip]
    cmp eax, offset gd_site
    CHECK32 "general_detect_is_a_fault_at_the_mov"
    mov eax, dr6
    and eax, 0x2000
    cmp eax, 0x2000
    CHECK32 "general_detect_sets_dr6_bd"
    mov eax, dr7
    and eax, 0x2000
    CHECK32 "general_detect_clears_gd"
    xor eax, eax
    mov dr7, eax
    mov dr6, eax
    # ---- exceptions: fault and trap addresses ----
    RESUME_AT 10f
    xor ecx, ecx
de_site:
    div ecx
10: mov eax, [last_eip]
    cmp eax, offset de_site
    CHECK32 "de_saves_faulting_eip"
    EXPECT_FAULT 0, 0, "de_vector"
    RESUME_AT 11f
ud_site:
    ud2
11: mov eax, [last_eip]
    cmp eax, offset ud_site
    CHECK32 "ud_saves_faulting_eip"
    EXPECT_FAULT 6, 0, "ud_vector"
    mov al, 0x7F
    add al, 1
into_site:
    into
    mov eax, [last_eip]
    cmp eax, offset into_site + 1
    CHECK32 "into_saves_next_eip"
    EXPECT_FAULT 4, 0, "into_vector"
    int3
    EXPECT_FAULT 3, 0, "int3_vector"
    # ---- #DF: #GP while its own gate is not present ----
    and byte ptr [idt + 13 * 8 + 5], 0x7F
    RESUME_AT 12f
    mov cs:[scratch], eax
12: or byte ptr [idt + 13 * 8 + 5], 0x80
    EXPECT_FAULT 8, 0, "double_fault_from_np_gate"
    # ---- rings: a TSS for the stack switch, an I/O bitmap allowing port 80h only ----
    mov edi, TSS
    mov ecx, (104 + IOMAP_BYTES + 1 + 3) / 4
    xor eax, eax
    rep stosd
    mov dword ptr [TSS + 4], STACK0 - 0x1000
    mov dword ptr [TSS + 8], SEL_DATA
    mov word ptr [TSS + 102], 104
    mov edi, TSS + 104
    mov ecx, IOMAP_BYTES
    mov al, 0xFF
    rep stosb
    mov byte ptr [TSS + 104 + 0x80 / 8], 0xFE  # port 80h allowed
    mov byte ptr [TSS + 104 + 0x3F8 / 8], 0     # COM1 allowed (the tests print from ring 3)
    mov byte ptr [TSS + 104 + IOMAP_BYTES], 0xFF
    mov word ptr [tss_desc], 104 + IOMAP_BYTES
    mov word ptr [tss_desc + 2], TSS & 0xFFFF
    mov byte ptr [tss_desc + 4], (TSS >> 16) & 0xFF
    mov byte ptr [tss_desc + 5], 0x89
    mov byte ptr [tss_desc + 6], 0
    mov byte ptr [tss_desc + 7], TSS >> 24
    mov ax, SEL_TSS
    ltr ax
    str ax
    cmp ax, SEL_TSS
    CHECK32 "ltr_str"
    test byte ptr [tss_desc + 5], 2
    setnz al
    cmp al, 1
    CHECK32 "ltr_marks_tss_busy"
    # Gates: INT 80h a DPL-3 trap gate, INT 82h a DPL-3 interrupt gate back to ring 0, and a
    # DPL-3 call gate (GDT 60h) to ring 0 with two dword parameters.
    mov ecx, 0x80
    mov eax, offset syscall_handler
    mov dx, 0xEF00
    call set_gate
    mov ecx, 0x82
    mov eax, offset back_to_ring0
    mov dx, 0xEE00
    call set_gate
    mov eax, offset callgate_target
    mov [gdt + 0x60], ax
    mov word ptr [gdt + 0x62], SEL_CODE
    mov word ptr [gdt + 0x64], 0xEC02
    shr eax, 16
    mov [gdt + 0x66], ax
    # Alignment checking on (CR0.AM); it applies at CPL 3 while EFLAGS.AC is set.
    mov eax, cr0
    or eax, 0x40000
    mov cr0, eax
    # IRET to ring 3.
    push SEL_DATA3
    push STACK3
    push 0x00000002
    push SEL_CODE3
    push offset ring3
    iret
ring3:
    mov bx, ds
    mov ax, SEL_DATA3
    mov ds, ax
    mov es, ax
    mov ax, bx
    cmp ax, 0
    CHECK32 "iret_to_ring3_nulls_ring0_data_segments"
    mov ax, cs
    cmp ax, SEL_CODE3
    CHECK32 "ring3_cs_rpl3"
    # A system call through the trap gate (stack switch to the TSS's ring-0 stack).
    mov eax, 0x1234
    int 0x80
    cmp eax, 0x5678
    CHECK32 "int80_trap_gate_round_trip"
    mov eax, [syscall_frame_ok]
    cmp eax, 1
    CHECK32 "int80_frame_has_ring3_ss_esp"
    # The call gate with two parameters and RET 8 back to ring 3.
    push 0x1111
    push 0x2222
    mov ebx, esp
    lcall 0x63, 0
    lea ecx, [ebx + 8]              # RET 8 released the two parameters on this stack too
    mov eax, esp
    cmp eax, ecx
    CHECK32 "call_gate_ret_releases_parameters"
    mov eax, [callgate_params]
    cmp eax, 0x22221111
    CHECK32 "call_gate_copies_parameters"
    # Alignment check: with EFLAGS.AC set, a misaligned dword read is #AC(0) at its own
    # address; an aligned one and a byte read at an odd address are not.
    pushfd
    or dword ptr [esp], 0x40000
    popfd
    mov dword ptr [last_vector], 0xFFFFFFFF
    mov eax, [ac_data]
    mov al, [ac_data + 1]
    mov ebx, [last_vector]
    RESUME_AT 12f
ac_site:
    mov eax, [ac_data + 1]
12: pushfd
    and dword ptr [esp], ~0x40000
    popfd
    mov eax, ebx
    cmp eax, 0xFFFFFFFF
    CHECK32 "aligned_and_byte_reads_pass_the_alignment_check"
    EXPECT_FAULT 17, 0, "ac_misaligned_dword_at_cpl3"
    mov eax, [last_eip]
    cmp eax, offset ac_site
    CHECK32 "ac_saves_faulting_eip"
    # The same misaligned read with EFLAGS.AC clear: no fault.
    mov dword ptr [last_vector], 0xFFFFFFFF
    mov eax, [ac_data + 1]
    mov eax, [last_vector]
    cmp eax, 0xFFFFFFFF
    CHECK32 "misaligned_read_without_ac_is_fine"
    # The I/O bitmap: port 80h allowed, 81h not.
    mov dword ptr [last_vector], 0xFFFFFFFF
    in al, 0x80
    mov eax, [last_vector]
    cmp eax, 0xFFFFFFFF
    CHECK32 "iomap_allows_port_80"
    RESUME_AT 13f
    in al, 0x81
13: EXPECT_FAULT 13, 0, "iomap_denies_port_81"
    # Privileged instructions at CPL 3.
    RESUME_AT 14f
    hlt
14: EXPECT_FAULT 13, 0, "hlt_at_cpl3_gp0"
    RESUME_AT 15f
    cli
15: EXPECT_FAULT 13, 0, "cli_at_cpl3_iopl0_gp0"
    RESUME_AT 16f
    mov eax, cr0
16: EXPECT_FAULT 13, 0, "mov_cr0_at_cpl3_gp0"
    # A software interrupt through a DPL-0 gate from CPL 3: #GP(vector * 8 + 2).
    RESUME_AT 17f
    int 0x81
17: EXPECT_FAULT 13, (0x81*8+2), "int_dpl0_gate_from_cpl3_gp"
    int 0x82

syscall_handler:
    cmp dword ptr [esp + 4], SEL_CODE3
    jne 18f
    cmp dword ptr [esp + 16], SEL_DATA3
    jne 18f
    cmp dword ptr [esp + 12], STACK3
    jne 18f
    mov dword ptr [syscall_frame_ok], 1
18: mov eax, 0x5678
    iret

callgate_target:
    mov eax, [esp + 8]
    shl eax, 16
    or ax, [esp + 12]
    mov [callgate_params], eax
    lret 8

back_to_ring0:
    mov esp, STACK0
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov ax, cs
    cmp ax, SEL_CODE
    CHECK32 "interrupt_gate_returns_to_ring0"
    jmp pm_done

.p2align 2
scratch:          .long 0
syscall_frame_ok: .long 0
callgate_params:  .long 0
.p2align 2
ac_data:          .long 0x11223344, 0x55667788
bp_data:          .long 0
    PM_LIBRARY
BIOS_TEST_END

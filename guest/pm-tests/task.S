# ondol-link: 0x7c00
# Tasks and virtual-8086 mode: task switches by JMP and CALL to a TSS, through a task gate and
# through the IDT (an exception with its error code pushed on the new task's stack), the busy
# bits, the back link and NT, CR0.TS, the state saved in the old TSS, IRET back from a nested
# task, a 16-bit TSS; then V86 mode entered by IRET: real-mode segment arithmetic, INT n to a DPL-3 gate with
# IOPL 3 (the frame with the V86 segments, null data segments in the handler), and the #GP(0)
# that CLI, PUSHF and INT n raise with IOPL 0, the I/O bitmap, and INT n to a DPL-0 gate.
.include "pmlib.inc"
.equ TSS_A, TSS_BASE                # the main task (pmlib's TSS, selector 28h)
.equ TSS_B, 0x72000
.equ TSS_C, 0x73000
.equ TSS_D, 0x74000
.equ SEL_TSS_B, 0x40
.equ SEL_TSS_C, 0x48
.equ SEL_GATE_B, 0x50               # task gate to TSS B
.equ SEL_TSS_D, 0x58
.equ SEL_ABSENT, 0x60               # a data descriptor that is not present
.equ TSS_E, 0x75000                 # a 16-bit TSS
.equ SEL_TSS_E, 0x68
.equ EFLAGS_NT, 0x4000
.equ EFLAGS_VM, 0x20000
.equ EFLAGS_IOPL3, 0x3000
.equ EFLAGS_AC, 0x40000
# TSS fields (32-bit TSS)
.equ T_LINK, 0x00
.equ T_EIP, 0x20
.equ T_EFLAGS, 0x24
.equ T_ECX, 0x2C

# Descriptor type nibble of GDT entry `sel` into EAX.
.macro DESC_TYPE sel
    mov eax, [gdt + \sel + 4]
    shr eax, 8
    and eax, 0xF
.endm

# Run the V86 code at `entry` with EFLAGS `flags`; back here when it faults or calls INT 83h.
.macro V86_RUN entry, flags
    mov dword ptr [ring0_continue], offset 99f
    mov eax, offset \entry
    mov edx, \flags
    jmp to_v86
99: mov ax, SEL_DATA
    mov fs, ax
    mov gs, ax
.endm

BIOS_TEST_START
    ENTER_PM
.code32
pm_main:
    call setup_tss
    # TSS descriptors (limit 67h, available 32-bit TSS), a task gate, an absent data segment.
    mov dword ptr [gdt + SEL_TSS_B], ((TSS_B & 0xFFFF) << 16) | 0x67
    mov dword ptr [gdt + SEL_TSS_B + 4], 0x8900 | (TSS_B >> 16)
    mov dword ptr [gdt + SEL_TSS_C], ((TSS_C & 0xFFFF) << 16) | 0x67
    mov dword ptr [gdt + SEL_TSS_C + 4], 0x8900 | (TSS_C >> 16)
    mov dword ptr [gdt + SEL_GATE_B], SEL_TSS_B << 16
    mov dword ptr [gdt + SEL_GATE_B + 4], 0x8500
    mov dword ptr [gdt + SEL_TSS_D], ((TSS_D & 0xFFFF) << 16) | 0x67
    mov dword ptr [gdt + SEL_TSS_D + 4], 0x8900 | (TSS_D >> 16)
    mov dword ptr [gdt + SEL_TSS_E], ((TSS_E & 0xFFFF) << 16) | 0x2B
    mov dword ptr [gdt + SEL_TSS_E + 4], 0x8100 | (TSS_E >> 16)
    mov dword ptr [gdt + SEL_ABSENT], 0x0000FFFF
    mov dword ptr [gdt + SEL_ABSENT + 4], 0x00CF1200
    mov edi, TSS_B
    mov eax, offset task_b
    mov edx, 0x60000
    call init_tss
    mov edi, TSS_C
    mov eax, offset task_c
    mov edx, 0x5F000
    call init_tss
    mov edi, TSS_D
    mov eax, offset task_d
    mov edx, 0x5E000
    call init_tss
    # IDT 90h: task gate to C; IDT 11 (#NP): task gate to D.
    mov dword ptr [idt + 0x90 * 8], SEL_TSS_C << 16
    mov dword ptr [idt + 0x90 * 8 + 4], 0x8500
    mov dword ptr [idt + 11 * 8], SEL_TSS_D << 16
    mov dword ptr [idt + 11 * 8 + 4], 0x8500

    # ---- JMP to a TSS: B runs, records what it sees, and JMPs back ----
    mov ebx, 0x1234ABCD
    ljmp SEL_TSS_B, 0
    cmp ebx, 0x1234ABCD
    mov eax, ebx
    CHECK32 "jmp_back_restores_registers"
    xor eax, eax
    str ax
    cmp eax, SEL_TSS
    CHECK32 "tr_back_to_first_task"
    mov eax, [b_tr]
    cmp eax, SEL_TSS_B
    CHECK32 "tr_is_new_tss"
    mov eax, [b_type_self]
    cmp eax, 0xB
    CHECK32 "new_tss_marked_busy"
    mov eax, [b_type_a]
    cmp eax, 0x9
    CHECK32 "jmp_clears_old_busy"
    mov eax, [b_flags1]
    and eax, EFLAGS_NT
    CHECK32 "jmp_leaves_nt_clear"
    mov eax, [b_cr0]
    and eax, 8
    cmp eax, 8
    CHECK32 "task_switch_sets_cr0_ts"
    mov eax, [TSS_B + T_ECX]
    cmp eax, 0xB0B0
    CHECK32 "old_state_saved_in_tss"
    mov eax, [TSS_B + T_EIP]
    cmp eax, offset b_after_jmp
    CHECK32 "saved_eip_after_jmp"
    mov eax, [TSS_B + T_LINK]
    test eax, eax
    CHECK32 "jmp_writes_no_back_link"
    clts

    # ---- CALL through a task gate: nested; IRET returns ----
    lcall SEL_GATE_B, 0
    mov eax, [b_flags2]
    and eax, EFLAGS_NT
    cmp eax, EFLAGS_NT
    CHECK32 "call_sets_nt"
    mov eax, [b_link]
    cmp eax, SEL_TSS
    CHECK32 "call_writes_back_link"
    mov eax, [b_type_a2]
    cmp eax, 0xB
    CHECK32 "caller_stays_busy"
    DESC_TYPE SEL_TSS_B
    cmp eax, 0x9
    CHECK32 "iret_clears_nested_busy"
    mov eax, [TSS_B + T_EFLAGS]
    and eax, EFLAGS_NT
    CHECK32 "iret_saves_nt_clear"
    pushfd
    pop eax
    and eax, EFLAGS_NT
    CHECK32 "caller_nt_clear_after_iret"
    clts

    # ---- a busy TSS cannot be entered ----
    RESUME_AT 1f
    ljmp SEL_TSS, 0
1:  EXPECT_FAULT 13, SEL_TSS, "jmp_to_busy_tss_gp"

    # ---- INT n through a task gate; C's TSS has the T flag: a #DB trap before C's first
    # instruction, with DR6.BT ----
    or word ptr [TSS_C + 0x64], 1
    xor eax, eax
    mov dr6, eax
    mov dword ptr [last_vector], 0xFFFFFFFF
    int 0x90
    and word ptr [TSS_C + 0x64], 0xFFFE
    mov eax, [last_vector]
    cmp eax, 1
    CHECK32 "tss_t_flag_debug_trap"
    mov eax, [last_eip]
    cmp eax, offset task_c
    CHECK32 "tss_t_flag_trap_before_first_instruction"
    mov eax, dr6
    and eax, 0x8000
    cmp eax, 0x8000
    CHECK32 "tss_t_flag_sets_dr6_bt"
    mov eax, [c_link]
    cmp eax, SEL_TSS
    CHECK32 "int_task_gate_back_link"
    mov eax, [c_flags]
    and eax, EFLAGS_NT
    cmp eax, EFLAGS_NT
    CHECK32 "int_task_gate_sets_nt"
    clts

    # ---- JMP, with NT and AC set, to a 16-bit TSS: the old task's saved EFLAGS keep NT (only
    # IRET clears it); the 16-bit task starts with the upper half of EFLAGS clear and the upper
    # halves of its registers FFFFh (as the 386 and Bochs do; the SDM leaves them undefined) ----
    mov edi, TSS_E
    call init_tss16
    pushfd
    or dword ptr [esp], EFLAGS_NT | EFLAGS_AC
    popfd
    ljmp SEL_TSS_E, 0
    pushfd                              # back by E's JMP, with the EFLAGS saved at ours
    pop eax
    mov [a_flags_back], eax
    and eax, ~(EFLAGS_NT | EFLAGS_AC)
    push eax
    popfd
    mov eax, [a_flags_back]
    and eax, EFLAGS_NT
    cmp eax, EFLAGS_NT
    CHECK32 "jmp_saves_nt_as_it_was"
    mov eax, [e_flags]
    and eax, 0xFFFF0000
    CHECK32 "tss16_clears_upper_eflags"
    mov eax, [e_eax]
    cmp eax, 0xFFFF1111
    CHECK32 "tss16_upper_register_halves"
    clts

    # ---- an exception through a task gate: #NP's error code on D's stack ----
    mov ax, SEL_ABSENT
    mov ds, ax
    ud2                                 # not reached: D resumes A at np_resume
np_resume:
    mov eax, [d_error]
    cmp eax, SEL_ABSENT
    CHECK32 "exception_task_gets_error_code"
    mov eax, [d_esp]
    cmp eax, 0x5E000 - 4
    CHECK32 "error_code_on_new_task_stack"
    clts

    # ---- virtual-8086 mode ----
    mov ecx, 0x83
    mov eax, offset v86_int83
    mov dx, 0xEE00                      # DPL 3 interrupt gate
    call set_gate
    mov ecx, 0x84
    mov eax, offset v86_int83
    mov dx, 0x8E00                      # DPL 0
    call set_gate
    mov ecx, 13
    mov eax, offset v86_gp
    call set_gate
    V86_RUN v86_p1, (EFLAGS_VM|EFLAGS_IOPL3|2)
    mov eax, [v86_via]
    cmp eax, 0x83
    CHECK32 "v86_int_reaches_dpl3_gate"
    movzx eax, word ptr [0x10000]
    cmp eax, 0xABCD
    CHECK32 "v86_segment_arithmetic"
    movzx eax, word ptr [0x10002]
    cmp eax, 0x3000
    CHECK32 "v86_iret_loads_es"
    mov eax, [v86_frame_flags]
    and eax, EFLAGS_VM
    cmp eax, EFLAGS_VM
    CHECK32 "v86_frame_has_vm"
    mov eax, [v86_frame_es]
    cmp eax, 0x2000
    CHECK32 "v86_frame_es"
    mov eax, [v86_frame_ds]
    cmp eax, 0x1000
    CHECK32 "v86_frame_ds"
    mov eax, [v86_handler_segs]
    test eax, eax
    CHECK32 "v86_handler_data_segments_null"
    mov eax, [v86_frame_eip]
    cmp eax, offset v86_p1_end
    CHECK32 "v86_frame_eip_after_int"

    V86_RUN v86_cli, (EFLAGS_VM|2)
    mov eax, [last_eip]
    cmp eax, offset v86_cli
    CHECK32 "v86_cli_iopl0_faults_at_cli"
    EXPECT_FAULT 13, 0, "v86_cli_iopl0_gp0"
    V86_RUN v86_pushf, (EFLAGS_VM|2)
    EXPECT_FAULT 13, 0, "v86_pushf_iopl0_gp0"
    V86_RUN v86_int, (EFLAGS_VM|2)
    EXPECT_FAULT 13, 0, "v86_int_iopl0_gp0"
    V86_RUN v86_io, (EFLAGS_VM|2)
    mov eax, [last_eip]
    cmp eax, offset v86_io_denied
    CHECK32 "v86_io_bitmap_allows_80_denies_61"
    EXPECT_FAULT 13, 0, "v86_io_denied_gp0"
    V86_RUN v86_int_dpl0, (EFLAGS_VM|EFLAGS_IOPL3|2)
    EXPECT_FAULT 13, (0x84*8+2), "v86_int_dpl0_gate_gp"
    jmp pm_done

# Fill the TSS at EDI: start at EAX with ESP = EDX, flat ring-0 segments, CR3 as now.
init_tss:
    push eax
    push ecx
    push edi
    xor eax, eax
    mov ecx, 104 / 4
    rep stosd
    pop edi
    pop ecx
    pop eax
    mov [edi + T_EIP], eax
    mov dword ptr [edi + T_EFLAGS], 2
    mov [edi + 0x38], edx               # ESP
    mov eax, cr3
    mov [edi + 0x1C], eax
    mov dword ptr [edi + 0x48], SEL_DATA   # ES
    mov dword ptr [edi + 0x4C], SEL_CODE   # CS
    mov dword ptr [edi + 0x50], SEL_DATA   # SS
    mov dword ptr [edi + 0x54], SEL_DATA   # DS
    mov dword ptr [edi + 0x58], SEL_DATA   # FS
    mov dword ptr [edi + 0x5C], SEL_DATA   # GS
    mov word ptr [edi + 0x66], 104      # no I/O bitmap
    ret

# Fill the 16-bit TSS at EDI: start at task_e with AX = 1111h, flat segments.
init_tss16:
    push edi
    xor eax, eax
    mov ecx, 0x2C / 4
    rep stosd
    pop edi
    mov word ptr [edi + 0x0E], offset task_e    # IP
    mov word ptr [edi + 0x10], 2                # FLAGS
    mov word ptr [edi + 0x12], 0x1111           # AX
    mov word ptr [edi + 0x1A], 0x2222           # SP
    mov word ptr [edi + 0x22], SEL_DATA         # ES
    mov word ptr [edi + 0x24], SEL_CODE         # CS
    mov word ptr [edi + 0x26], SEL_DATA         # SS
    mov word ptr [edi + 0x28], SEL_DATA         # DS
    ret

task_e:                                 # a 16-bit TSS (32-bit code), entered by JMP
    mov [e_eax], eax
    mov esp, 0x5D000                    # ESP's upper half is not SP's
    pushfd
    pop eax
    mov [e_flags], eax
    ljmp SEL_TSS, 0
    jmp task_e

task_b:                                 # entered by JMP
    xor eax, eax
    str ax
    mov [b_tr], eax
    DESC_TYPE SEL_TSS_B
    mov [b_type_self], eax
    DESC_TYPE SEL_TSS
    mov [b_type_a], eax
    pushfd
    pop eax
    mov [b_flags1], eax
    smsw ax
    movzx eax, ax
    mov [b_cr0], eax
    mov ecx, 0xB0B0
    ljmp SEL_TSS, 0
b_after_jmp:                            # entered again by CALL through the task gate
    pushfd
    pop eax
    mov [b_flags2], eax
    mov eax, [TSS_B + T_LINK]
    mov [b_link], eax
    DESC_TYPE SEL_TSS
    mov [b_type_a2], eax
    iret
    jmp task_b

task_c:                                 # entered by INT 90h
    mov eax, [TSS_C + T_LINK]
    mov [c_link], eax
    pushfd
    pop eax
    mov [c_flags], eax
    iret
    jmp task_c

task_d:                                 # entered by #NP
    mov [d_esp], esp
    pop eax
    mov [d_error], eax
    mov dword ptr [TSS_A + T_EIP], offset np_resume
    iret
    jmp task_d

# Enter V86 mode at EAX with EFLAGS EDX: DS 1000h, ES 3000h, stack 0000:6000.
to_v86:
    push 0                              # GS
    push 0                              # FS
    push 0x1000                         # DS
    push 0x3000                         # ES
    push 0                              # SS
    push 0x6000                         # ESP
    push edx
    push 0                              # CS
    push eax
    iret

# INT 83h from V86 (DPL 3 gate): record the frame and the data segments, back to ring 0 code.
v86_int83:
    xor eax, eax
    mov ax, ds
    mov cx, es
    or ax, cx
    mov cx, fs
    or ax, cx
    mov cx, gs
    or ax, cx
    mov ss:[v86_handler_segs], eax
    mov dword ptr ss:[v86_via], 0x83
    mov eax, [esp]
    mov ss:[v86_frame_eip], eax
    mov eax, [esp + 8]
    mov ss:[v86_frame_flags], eax
    mov eax, [esp + 20]
    mov ss:[v86_frame_es], eax
    mov eax, [esp + 24]
    mov ss:[v86_frame_ds], eax
    jmp ring0_return

# #GP while the V86 tests run: record it and go back to ring 0 code.
v86_gp:
    mov eax, [esp]
    mov ss:[last_error], eax
    mov eax, [esp + 4]
    mov ss:[last_eip], eax
    mov eax, [esp + 12]
    mov ss:[v86_frame_flags], eax
    mov dword ptr ss:[last_vector], 13
    jmp ring0_return

.code16
v86_p1:
    mov word ptr [0], 0xABCD            # DS = 1000h: linear 10000h
    mov ax, es
    mov [2], ax
    mov ax, 0x2000
    mov es, ax
    int 0x83
v86_p1_end:
    hlt
v86_cli:
    cli
v86_pushf:
    pushf
v86_int:
    int 0x83
v86_io:
    out 0x80, al                        # allowed by the I/O bitmap
v86_io_denied:
    in al, 0x61
v86_int_dpl0:
    int 0x84
.code32

.p2align 2
b_tr:             .long 0
b_type_self:      .long 0
b_type_a:         .long 0
b_flags1:         .long 0
b_cr0:            .long 0
b_flags2:         .long 0
b_link:           .long 0
b_type_a2:        .long 0
c_link:           .long 0
c_flags:          .long 0
d_error:          .long 0
e_eax:            .long 0
e_flags:          .long 0
a_flags_back:     .long 0
d_esp:            .long 0
v86_via:          .long 0
v86_frame_eip:    .long 0
v86_frame_flags:  .long 0
v86_frame_es:     .long 0
v86_frame_ds:     .long 0
v86_handler_segs: .long 0xFFFF
    PM_LIBRARY
BIOS_TEST_END

# ondol-link: 0x7c00
# Paging (SDM Vol. 3, ch. 4): 32-bit paging with 4 KiB and 4 MiB (PSE) pages, the accessed and
# dirty bits, #PF error codes and CR2 for not-present, write-protect (CR0.WP) and user/supervisor
# violations, INVLPG and CR3 reloads; then PAE paging with the NX bit and reserved-bit faults.
.include "pmlib.inc"
.equ PD, 0x100000
.equ PT0, 0x101000                  # maps 0-4 MiB with 4 KiB pages
.equ PAGE_A, 0x200000               # inside the first 4 MiB... see below
.equ FRAME_X, 0x300000
.equ FRAME_Y, 0x301000
.equ PDPT, 0x110000
.equ PAE_PD, 0x111000
.equ PAE_PT, 0x112000
BIOS_TEST_START
    ENTER_PM
.code32
pm_main:
    call setup_tss
    # Page directory: PDE 0 -> PT0 (user, RW), PDE 1 -> 4 MiB page at 400000h (PS, user, RW).
    mov edi, PD
    mov ecx, 1024 + 1024
    xor eax, eax
    rep stosd
    mov dword ptr [PD + 0], PT0 | 7
    mov dword ptr [PD + 4], 0x400000 | 0x87
    # PT0: identity, user RW, except: 3F0000h not present, 3F1000h read-only, 3F2000h
    # supervisor only, 3F3000h -> FRAME_X (for INVLPG).
    mov edi, PT0
    mov eax, 7
    mov ecx, 1024
1:  stosd
    add eax, 0x1000
    loop 1b
    mov dword ptr [PT0 + 0x3F0 * 4], 0
    and dword ptr [PT0 + 0x3F1 * 4], ~2
    and dword ptr [PT0 + 0x3F2 * 4], ~4
    mov dword ptr [PT0 + 0x3F3 * 4], FRAME_X | 7
    mov dword ptr [FRAME_X], 0x11111111
    mov dword ptr [FRAME_Y], 0x22222222
    mov eax, cr4
    or eax, 0x10                    # PSE
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp 2f
2:  mov eax, cr0
    test eax, eax
    setns al
    cmp al, 0
    CHECK32 "paging_enabled"
    # Accessed and dirty bits.
    mov eax, [0x3F4000]
    mov eax, [PT0 + 0x3F4 * 4]
    and eax, 0x60
    cmp eax, 0x20
    CHECK32 "read_sets_accessed_not_dirty"
    mov dword ptr [0x3F4000], 1
    mov eax, [PT0 + 0x3F4 * 4]
    and eax, 0x60
    cmp eax, 0x60
    CHECK32 "write_sets_dirty"
    mov eax, [PD]
    and eax, 0x20
    cmp eax, 0x20
    CHECK32 "pde_accessed"
    # A 4 MiB page.
    mov dword ptr [0x500000], 0x12345678
    mov eax, [PD + 4]
    and eax, 0xE0
    cmp eax, 0xE0
    CHECK32 "pse_page_accessed_dirty"
    mov eax, [0x500000]
    cmp eax, 0x12345678
    CHECK32 "pse_page_reads_back"
    # Not present: #PF, error 0 (read) / 2 (write), CR2 = the address.
    RESUME_AT 3f
    mov eax, [0x3F0010]
3:  EXPECT_FAULT 14, 0, "pf_not_present_read"
    mov eax, cr2
    cmp eax, 0x3F0010
    CHECK32 "pf_cr2"
    RESUME_AT 4f
    mov dword ptr [0x3F0020], 0
4:  EXPECT_FAULT 14, 2, "pf_not_present_write"
    # Read-only page: the supervisor may write with CR0.WP = 0, not with WP = 1.
    mov dword ptr [last_vector], 0xFFFFFFFF
    mov dword ptr [0x3F1000], 5
    mov eax, [last_vector]
    cmp eax, 0xFFFFFFFF
    CHECK32 "wp0_supervisor_writes_read_only"
    mov eax, cr0
    or eax, 0x10000
    mov cr0, eax
    RESUME_AT 5f
    mov dword ptr [0x3F1000], 6
5:  EXPECT_FAULT 14, 3, "wp1_supervisor_write_faults"
    mov eax, cr0
    and eax, ~0x10000
    mov cr0, eax
    # INVLPG: remap 3F3000h from FRAME_X to FRAME_Y.
    mov eax, [0x3F3000]
    cmp eax, 0x11111111
    CHECK32 "mapped_to_frame_x"
    mov dword ptr [PT0 + 0x3F3 * 4], FRAME_Y | 7
    invlpg [0x3F3000]
    mov eax, [0x3F3000]
    cmp eax, 0x22222222
    CHECK32 "invlpg_sees_new_mapping"
    mov dword ptr [PT0 + 0x3F3 * 4], FRAME_X | 7
    mov eax, cr3
    mov cr3, eax
    mov eax, [0x3F3000]
    cmp eax, 0x11111111
    CHECK32 "cr3_reload_flushes"
    # User mode: a supervisor page faults with U set (5 read, 7 write); a read-only page on
    # write with error 7.
    mov dword ptr [ring0_continue], offset after_user
    mov eax, offset user_code
    jmp to_ring3
user_code:
    mov ax, SEL_DATA3
    mov ds, ax
    mov es, ax
    RESUME_AT 6f
    mov eax, [0x3F2000]
6:  EXPECT_FAULT 14, 5, "user_read_supervisor_page"
    RESUME_AT 7f
    mov dword ptr [0x3F1000], 1
7:  EXPECT_FAULT 14, 7, "user_write_read_only_page"
    mov eax, [0x3F1000]
    cmp eax, 5
    CHECK32 "user_reads_read_only_page"
    int 0x82
after_user:
    # ---- PAE: PDPT -> PD -> PT, identity for the first 2 MiB and 400000h-5FFFFFh as one
    # 2 MiB page; a page with NX, a page with a reserved bit. ----
    mov eax, cr0
    and eax, 0x7FFFFFFF
    mov cr0, eax
    mov edi, PDPT
    mov ecx, (0x3000) / 4
    xor eax, eax
    rep stosd
    mov dword ptr [PDPT], PAE_PD | 1
    mov dword ptr [PAE_PD], PAE_PT | 7
    mov dword ptr [PAE_PD + 16], 0x400000 | 0x87      # PDE 2: 2 MiB page
    mov edi, PAE_PT
    mov eax, 7
    mov ecx, 512
8:  mov [edi], eax
    mov dword ptr [edi + 4], 0
    add edi, 8
    add eax, 0x1000
    loop 8b
    # 1F0000h: NX (bit 63); 1F1000h: bit 51 set (reserved with 36-bit physical addresses).
    or dword ptr [PAE_PT + 0x1F0 * 8 + 4], 0x80000000
    or dword ptr [PAE_PT + 0x1F1 * 8 + 4], 0x00080000
    mov byte ptr [0x1F0000], 0xC3                      # ret
    mov ecx, 0xC0000080                                # EFER.NXE
    rdmsr
    or eax, 0x800
    wrmsr
    mov eax, cr4
    or eax, 0x20                                       # PAE
    mov cr4, eax
    mov eax, PDPT
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp 9f
9:  mov dword ptr [0x500000], 0xCAFE
    mov eax, [0x500000]
    cmp eax, 0xCAFE
    CHECK32 "pae_2mib_page"
    mov eax, [0x1F0000]
    cmp al, 0xC3
    CHECK32 "pae_nx_page_readable"
    RESUME_AT 10f
    call 0x1F0000
10: EXPECT_FAULT 14, 0x11, "pae_nx_fetch_faults_with_id"
    RESUME_AT 11f
    mov eax, [0x1F1000]
11: EXPECT_FAULT 14, 9, "pae_reserved_bit_fault"
    mov eax, cr0
    and eax, 0x7FFFFFFF
    mov cr0, eax
    jmp pm_done
    PM_LIBRARY
BIOS_TEST_END

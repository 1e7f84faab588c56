# ondol-link: 0x7c00
# Resets: the machine boots three times. A counter in a sector of the boot disk says which
# boot this is (the disk keeps what the guest wrote across a reset, as a real disk does):
# the first boot resets through the reset control register (port CF9h), the second through a
# triple fault (INT 3 with an empty real-mode IDT), the third checks the count and exits.
# Run with reboots allowed (ondol's default; QEMU without -no-reboot).
.include "check.inc"
.equ BUF, 0xA000
.equ COUNT_LBA, 2000
BIOS_TEST_START
    mov ah, 0x42
    call disk_io
    mov ax, [BUF + 4]
    cmp ax, 0
    je first_boot
    cmp ax, 1
    je second_boot
    cmp ax, 2
    CHECK "third_boot_after_cf9_reset_and_triple_fault"
    # Leave the disk as it was found, for the next run of a persistent image.
    mov word ptr [BUF + 4], 0
    mov ah, 0x43
    call disk_io
    jmp 9f
first_boot:
    mov word ptr [BUF + 4], 1
    mov ah, 0x43
    call disk_io
    mov si, offset msg_cf9
    call puts
    mov dx, 0xCF9
    mov al, 0x06
    out dx, al
    jmp .
second_boot:
    mov word ptr [BUF + 4], 2
    mov ah, 0x43
    call disk_io
    mov si, offset msg_triple
    call puts
    lidt [empty_idt]
    int 3
    jmp .

# INT 13h function AH (42h read, 43h write) on sector COUNT_LBA to BUF.
disk_io:
    mov al, 0
    mov si, offset dap
    mov dl, [boot_drive]
    int 0x13
    ret
msg_cf9:    .asciz "boot 1: reset through port CF9h\r\n"
msg_triple: .asciz "boot 2: triple fault\r\n"
empty_idt:  .word 0
            .long 0
dap:        .byte 0x10, 0
            .word 1
            .word BUF, 0
            .quad COUNT_LBA
9:
BIOS_TEST_END

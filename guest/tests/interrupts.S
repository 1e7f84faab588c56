# ondol-link: 0x7c00
# Software interrupts and CPU exceptions through the real-mode IVT: INT n, INT3, INTO, the
# divide error (#DE), BOUND (#BR), an invalid opcode (#UD), and IRET back with modified flags.
# Each handler prints its vector and the return address the CPU pushed, then returns past the
# faulting instruction, so fault (address of the instruction) and trap (address after it)
# semantics both show in the output. Needs a CPU that takes INT in real mode (emu, QEMU, Bochs).
.include "lib.inc"
start:
    PROLOGUE
    mov word ptr [0x60 * 4], offset int60
    mov word ptr [0x60 * 4 + 2], 0
    mov word ptr [0 * 4], offset de_handler
    mov word ptr [0 * 4 + 2], 0
    mov word ptr [3 * 4], offset trap_handler
    mov word ptr [3 * 4 + 2], 0
    mov word ptr [4 * 4], offset trap_handler
    mov word ptr [4 * 4 + 2], 0
    mov word ptr [5 * 4], offset br_handler
    mov word ptr [5 * 4 + 2], 0
    mov word ptr [6 * 4], offset ud_handler
    mov word ptr [6 * 4 + 2], 0
    # INT n: the handler sets CF in the flags image it returns.
    clc
    mov ax, 0x0102
    int 0x60
    sbb bx, bx
    mov ax, bx
    call hex16
    call newline
    # INT3 and INTO are traps: the pushed IP is the next instruction.
    mov si, 3
    int3
    mov si, 4
    mov al, 0x7F
    add al, 1
    into
    call newline
    # Divide error: a fault, the pushed IP is the DIV itself.
    mov si, 0
    xor dx, dx
    mov ax, 100
    xor cx, cx
de_site:
    div cx
    call newline
    # BOUND out of range: a fault.
    mov si, 5
    mov ax, 50
br_site:
    bound ax, [bounds]
    call newline
    # An undefined opcode: a fault.
    mov si, 6
ud_site:
    ud2
    call newline
    EXIT 0

int60:
    push bp
    mov bp, sp
    or word ptr [bp + 6], 1     # set CF in the saved FLAGS
    pop bp
    call hex16                  # AX as the caller left it
    iret

# Traps: print the vector (SI) and the saved IP, then return to it.
trap_handler:
    push bp
    mov bp, sp
    mov ax, si
    call hex8
    mov al, ':'
    call putc
    mov ax, [bp + 2]
    call hex16
    mov al, ' '
    call putc
    pop bp
    iret

# Faults: print the saved IP, then skip the faulting instruction (length in BX).
de_handler:
    mov bx, 2
    jmp fault_common
br_handler:
    mov bx, 4
    jmp fault_common
ud_handler:
    mov bx, 2
fault_common:
    push bp
    mov bp, sp
    mov ax, si
    call hex8
    mov al, ':'
    call putc
    mov ax, [bp + 2]
    call hex16
    add [bp + 2], bx
    pop bp
    iret

bounds: .word 0, 10
    LIBRARY
    BOOT_SIGNATURE

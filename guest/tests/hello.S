# ondol-link: 0x7c00
# Prints a greeting on COM1 and exits with status 0: the smallest check that a program runs,
# talks to the UART and ends through the exit port.
.include "lib.inc"
start:
    PROLOGUE
    mov si, offset msg
    call puts
    EXIT 0
msg: .asciz "hello from the guest\r\n"
    LIBRARY
    BOOT_SIGNATURE

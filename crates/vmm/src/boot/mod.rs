//! Getting a kernel into memory without a boot loader: the Linux boot protocol.
pub mod linux;

//! Exit port 0xF4 (isa-debug-exit style): a 1- to 4-byte write of V ends the VM with exit
//! status V. Under QEMU (`-device isa-debug-exit,iobase=0xf4`) the same write exits with
//! V*2+1, so test programs run on both.

use std::sync::Arc;

use super::{Control, StopReason};
use crate::bus::BusDevice;

/// Bus adapter for [`crate::layout::PORT_EXIT`]; map it with a length of 1 (a wider write at
/// the port is one write of the whole value, as QEMU's device takes it).
pub struct ExitPort {
    control: Arc<Control>,
}

impl ExitPort {
    pub fn new(control: Arc<Control>) -> Self {
        ExitPort { control }
    }
}

impl BusDevice for ExitPort {
    /// Reads return all ones (nothing drives the bus).
    fn read(&mut self, _offset: u64, data: &mut [u8]) {
        data.fill(0xFF);
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if offset != 0 || data.is_empty() || data.len() > 4 {
            super::dev_debug!("exit: ignored {}-byte write at offset {offset}", data.len());
            return;
        }
        let mut v = [0u8; 4];
        v[..data.len()].copy_from_slice(data);
        self.control.request_stop(StopReason::Exit(u32::from_le_bytes(v)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_word_and_dword_writes_request_exit_with_the_value() {
        for (data, code) in [(&[0x00][..], 0), (&[0x2A], 42), (&[0x34, 0x12], 0x1234), (&[1, 2, 3, 4], 0x0403_0201)] {
            let control = Arc::new(Control::new(true));
            let mut port = ExitPort::new(control.clone());
            assert_eq!(control.stop_requested(), None);
            port.write(0, data);
            assert_eq!(control.stop_requested(), Some(StopReason::Exit(code)));
        }
    }

    #[test]
    fn oversized_writes_are_ignored() {
        let control = Arc::new(Control::new(true));
        let mut port = ExitPort::new(control.clone());
        port.write(0, &[1; 8]);
        port.write(0, &[]);
        assert_eq!(control.stop_requested(), None);
    }
}

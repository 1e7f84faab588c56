//! Bochs/QEMU debug console at port 0xE9: bytes written go to a host sink; reads return 0xE9
//! so a guest can tell the port is there.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::{dev_debug, read_bytes, write_bytes};
use crate::bus::{BusDevice, lock};

/// The value a read returns (Bochs's "port E9 hack" detection).
pub const DEBUGCON_READBACK: u8 = 0xE9;

/// The debug console: a byte sink.
pub struct DebugCon {
    out: Box<dyn Write + Send>,
}

impl DebugCon {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        DebugCon { out }
    }

    /// A byte written by the guest. A failing sink (closed pipe) loses the byte, as a
    /// console with nothing attached would.
    pub fn write(&mut self, b: u8) {
        if let Err(e) = self.out.write_all(&[b]).and_then(|_| self.out.flush()) {
            dev_debug!("debugcon: output lost: {e}");
        }
    }
}

/// Bus adapter for [`crate::layout::PORT_DEBUGCON`] (1 port).
pub struct DebugConPort(pub Arc<Mutex<DebugCon>>);

impl BusDevice for DebugConPort {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        read_bytes("debugcon", 1, offset, data, |_| DEBUGCON_READBACK);
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut d = lock(&self.0);
        write_bytes("debugcon", 1, offset, data, |_, v| d.write(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Write that appends to a shared buffer.
    #[derive(Clone, Default)]
    pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_reach_the_sink_and_reads_return_e9() {
        let buf = SharedBuf::default();
        let mut port = DebugConPort(Arc::new(Mutex::new(DebugCon::new(Box::new(buf.clone())))));
        for &b in b"hi\n" {
            port.write(0, &[b]);
        }
        assert_eq!(&*lock(&buf.0), b"hi\n");
        let mut d = [0u8; 2];
        port.read(0, &mut d);
        assert_eq!(d, [0xE9, 0xFF], "a 16-bit read reaches one byte of the port");
    }

    #[test]
    fn a_failing_sink_does_not_panic() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut d = DebugCon::new(Box::new(Broken));
        d.write(b'x');
    }
}

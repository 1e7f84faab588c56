//! The PC's devices, each a bus-agnostic core plus a thin [`crate::bus::BusDevice`] adapter.

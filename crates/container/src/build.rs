//! build (in progress).

//! Guest-side programs from guest/, assembled at build time (see guest/README.md).
include!(concat!(env!("OUT_DIR"), "/guest_images.rs"));

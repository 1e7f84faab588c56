//! oci (in progress).

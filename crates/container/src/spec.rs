//! spec (in progress).

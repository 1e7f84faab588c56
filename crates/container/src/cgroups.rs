//! cgroups (in progress).

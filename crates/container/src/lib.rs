//! OCI images and containers for ondol: content-addressed store, registry client and runtime.

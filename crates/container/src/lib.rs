//! OCI images and containers for ondol: content-addressed store, registry client and runtime.
//!
//! Modules, bottom up:
//! - [`digest`]: sha256 digests and a hashing reader that verifies content as it streams.
//! - [`store`]: the state root: blobs by digest (atomic, verified), image names, unpacked layers.
//! - [`layer`]: applying a layer tar safely (whiteouts, opaque dirs, no path escapes) and
//!   turning an overlayfs upper directory back into a layer.
//! - [`image`]: references, manifests and configs; import, save, tag, remove.
//! - [`registry`]: the OCI distribution API client (pull and push).
//! - [`dockerfile`] and [`build`]: the Dockerfile subset and the image builder.
//! - [`cgroups`]: cgroup v1/v2 detection, limits and cleanup, independent of the host.
//! - [`spec`]: the OCI runtime config generated for a container (caps, seccomp, limits).
//! - [`runtime`]: containers (run, ps, logs, stop, kill, rm, exec) on youki's libcontainer.
//! - [`oci`]: the OCI runtime command line (create, start, state, kill, delete) on a bundle.

pub mod build;
pub mod cgroups;
pub mod digest;
pub mod dockerfile;
pub mod image;
pub mod layer;
pub mod oci;
pub mod registry;
pub mod runtime;
pub mod spec;
pub mod store;

pub use digest::Digest;
pub use store::Store;

/// The default state root.
pub const DEFAULT_ROOT: &str = "/var/lib/ondol";

//! The image builder (stub while the Dockerfile subset lands).

use crate::image::{Image, ImageError};
use crate::store::Store;
use std::path::Path;

/// Builds an image from a Dockerfile.
pub fn build(
    _store: &Store,
    _file: &Path,
    _dir: &Path,
    _tag: Option<&str>,
) -> Result<Image, ImageError> {
    Err(ImageError::Unsupported(
        "image build is not ready yet".into(),
    ))
}

//! Images: references, manifests and configs (OCI image spec, read through `oci-spec`), and the
//! store operations on them: import (OCI layout dir or tar, `docker save`), save (OCI layout tar),
//! tag, list, remove with garbage collection, and unpacking layers for overlayfs.

use crate::digest::{Digest, HashingReader};
use crate::layer::{self, LayerError, Mode};
use crate::store::{Store, StoreError, io_err};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType, Os};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// What can go wrong with images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("layer {digest}: {err}")]
    Layer { digest: Digest, err: LayerError },
    #[error(
        "layer {digest} unpacks to content {got}, but the image config says {expected}; the image is corrupt: fetch or export it again"
    )]
    DiffId { digest: Digest, got: Digest, expected: Digest },
    #[error("image '{0}' is not in the store; see `ondol image ls`, or import or pull it first")]
    NotFound(String),
    #[error("'{0}' is not an image reference; use NAME[:TAG] or HOST[:PORT]/NAME[:TAG] (lowercase name)")]
    BadRef(String),
    #[error("{what} is not valid: {detail}; the image or archive is corrupt or not an OCI image")]
    BadJson { what: String, detail: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{path}: {detail}")]
    Input { path: PathBuf, detail: String },
}

fn bad_json(what: impl Into<String>) -> impl FnOnce(oci_spec::OciSpecError) -> ImageError {
    let what = what.into();
    move |e| ImageError::BadJson { what, detail: e.to_string() }
}

/// Converts an oci-spec digest into ours (sha256 only).
pub fn dig(d: &oci_spec::image::Digest) -> Result<Digest, ImageError> {
    Digest::parse(d.as_ref()).map_err(|e| ImageError::Unsupported(e.to_string()))
}

/// Converts our digest into an oci-spec one.
pub fn odig(d: &Digest) -> oci_spec::image::Digest {
    // Our digests are always valid sha256 digests, which oci-spec accepts.
    d.to_string().parse().unwrap_or_else(|_| unreachable!("a valid sha256 digest is rejected by oci-spec"))
}

/// An image reference: `[HOST[:PORT]/]NAME[:TAG]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The registry host, when the first path component names one (has '.' or ':', or is localhost).
    pub registry: Option<String>,
    /// The repository path inside the registry.
    pub repository: String,
    pub tag: String,
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference, ImageError> {
        // Docker Hub's implicit prefixes (as `docker save` and skopeo write them).
        let s = s.strip_prefix("docker.io/").map(|r| r.strip_prefix("library/").unwrap_or(r)).unwrap_or(s);
        let bad = || ImageError::BadRef(s.to_string());
        if s.is_empty() || s.contains("://") || s.contains('@') {
            return Err(bad());
        }
        let (registry, rest) = match s.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                (Some(first.to_string()), rest)
            }
            _ => (None, s),
        };
        let (repository, tag) = match rest.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (rest, "latest"),
        };
        let repo_ok = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            });
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !repo_ok || !tag_ok {
            return Err(bad());
        }
        Ok(Reference { registry, repository: repository.to_string(), tag: tag.to_string() })
    }

    /// The name the local store uses: `[HOST/]NAME:TAG`.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}:{}", self.repository, self.tag),
            None => format!("{}:{}", self.repository, self.tag),
        }
    }
}

/// A resolved local image.
#[derive(Clone, Debug)]
pub struct Image {
    pub name: String,
    pub manifest_digest: Digest,
    pub manifest: ImageManifest,
    pub config_digest: Digest,
    pub config: ImageConfiguration,
}

impl Image {
    /// (compressed blob digest, diff id) per layer, bottom first.
    pub fn layers(&self) -> Result<Vec<(Digest, Digest)>, ImageError> {
        let diff_ids = self.config.rootfs().diff_ids();
        let layers = self.manifest.layers();
        if diff_ids.len() != layers.len() {
            return Err(ImageError::BadJson {
                what: format!("image {}", self.name),
                detail: format!(
                    "the manifest lists {} layers but the config {} diff ids",
                    layers.len(),
                    diff_ids.len()
                ),
            });
        }
        let mut out = Vec::new();
        for (l, d) in layers.iter().zip(diff_ids) {
            let diff = Digest::parse(d).map_err(|e| ImageError::Unsupported(e.to_string()))?;
            out.push((dig(l.digest())?, diff));
        }
        Ok(out)
    }
}

/// Loads a manifest and its config from the store (both verified).
pub fn load(store: &Store, name: &str, manifest_digest: &Digest) -> Result<Image, ImageError> {
    let mbytes = store.read_blob(manifest_digest)?;
    let manifest = ImageManifest::from_reader(&mbytes[..]).map_err(bad_json(format!("manifest {manifest_digest}")))?;
    let config_digest = dig(manifest.config().digest())?;
    let cbytes = store.read_blob(&config_digest)?;
    let config =
        ImageConfiguration::from_reader(&cbytes[..]).map_err(bad_json(format!("image config {config_digest}")))?;
    Ok(Image { name: name.to_string(), manifest_digest: manifest_digest.clone(), manifest, config_digest, config })
}

/// Finds a local image by NAME[:TAG] or by (a prefix of at least 12 digits of) its id.
pub fn resolve(store: &Store, r: &str) -> Result<Image, ImageError> {
    let images = store.images()?;
    if let Ok(reference) = Reference::parse(r) {
        if let Some(d) = images.get(&reference.name()) {
            return load(store, &reference.name(), d);
        }
    }
    let id = r.strip_prefix("sha256:").unwrap_or(r);
    if id.len() >= 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        for (name, d) in &images {
            let img = load(store, name, d)?;
            if img.config_digest.hex().starts_with(id) {
                return Ok(img);
            }
        }
    }
    Err(ImageError::NotFound(r.to_string()))
}

/// Store changes that are undone unless committed, so a failed import, pull or build leaves
/// the store as it was.
pub struct Txn<'a> {
    store: &'a Store,
    blobs: Vec<Digest>,
    layers: Vec<PathBuf>,
    done: bool,
}

impl<'a> Txn<'a> {
    pub fn new(store: &'a Store) -> Txn<'a> {
        Txn { store, blobs: Vec::new(), layers: Vec::new(), done: false }
    }

    pub fn put_blob(&mut self, src: impl Read, expected: Option<&Digest>) -> Result<(Digest, u64), ImageError> {
        let (d, n, new) = self.store.put_blob(src, expected)?;
        if new {
            self.blobs.push(d.clone());
        }
        Ok((d, n))
    }

    pub fn put_bytes(&mut self, data: &[u8]) -> Result<Digest, ImageError> {
        Ok(self.put_blob(data, None)?.0)
    }

    /// Unpacks a stored layer for overlayfs (once); checks its diff id.
    pub fn unpack_layer(&mut self, blob: &Digest, diff_id: &Digest) -> Result<PathBuf, ImageError> {
        let (p, new) = unpack_layer(self.store, blob, diff_id)?;
        if new {
            self.layers.push(p.clone());
        }
        Ok(p)
    }

    pub fn commit(mut self) {
        self.done = true;
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for d in &self.blobs {
            let _ = self.store.remove_blob(d);
        }
        for l in &self.layers {
            let _ = layer::remove_tree(l);
        }
    }
}

/// Makes sure the layer with `diff_id` is unpacked under layers/; returns its directory and
/// whether this call created it. The blob is verified, decompressed, checked entry by entry and
/// hashed; only a complete, matching layer is renamed into place.
pub fn unpack_layer(store: &Store, blob: &Digest, diff_id: &Digest) -> Result<(PathBuf, bool), ImageError> {
    let dest = store.layer_dir(diff_id);
    if dest.is_dir() {
        return Ok((dest, false));
    }
    let tmp = store.tmp_path("layer");
    fs::create_dir(&tmp).map_err(io_err("cannot create a layer directory", &tmp))?;
    let r = (|| {
        let src = store.open_blob(blob)?;
        let plain = layer::decompress(src).map_err(|err| ImageError::Layer { digest: blob.clone(), err })?;
        let mut h = HashingReader::new(plain);
        layer::unpack(&mut h, &tmp, Mode::Overlay).map_err(|err| ImageError::Layer { digest: blob.clone(), err })?;
        let (got, _) = h.drain().map_err(|e| ImageError::Layer { digest: blob.clone(), err: LayerError::Tar(e) })?;
        if got != *diff_id {
            return Err(ImageError::DiffId { digest: blob.clone(), got, expected: diff_id.clone() });
        }
        fs::rename(&tmp, &dest).map_err(io_err("cannot move a layer into place", &dest))?;
        crate::store::sync_dir(&store.root().join("layers"));
        Ok(dest.clone())
    })();
    match r {
        Ok(p) => Ok((p, true)),
        Err(e) => {
            let _ = layer::remove_tree(&tmp);
            Err(e)
        }
    }
}

/// Unpacks every layer of an image; returns the layer directories bottom first.
pub fn unpack_all(store: &Store, img: &Image) -> Result<Vec<PathBuf>, ImageError> {
    let mut out = Vec::new();
    for (blob, diff) in img.layers()? {
        out.push(unpack_layer(store, &blob, &diff)?.0);
    }
    Ok(out)
}

/// Checks a manifest's blobs are all in the store, unpacks (and so validates) its layers, and
/// names it. Everything happens inside `txn`.
pub fn adopt(store: &Store, txn: &mut Txn<'_>, name: &str, manifest_digest: &Digest) -> Result<Image, ImageError> {
    let img = load(store, name, manifest_digest)?;
    for (blob, diff) in img.layers()? {
        txn.unpack_layer(&blob, &diff)?;
    }
    Ok(img)
}

/// Points NAME:TAG at a manifest. Hold the lock.
pub fn set_tag(store: &Store, name: &str, manifest: &Digest) -> Result<(), ImageError> {
    let mut m = store.images()?;
    m.insert(name.to_string(), manifest.clone());
    store.set_images(&m)?;
    Ok(())
}

fn input_err(path: &Path, detail: impl Into<String>) -> ImageError {
    ImageError::Input { path: path.to_path_buf(), detail: detail.into() }
}

/// Picks the linux/amd64 (or only) manifest from an index document.
fn pick_manifest(idx: &ImageIndex, what: &Path) -> Result<Descriptor, ImageError> {
    let arch = std::env::consts::ARCH;
    let want = if arch == "x86_64" { "amd64" } else { arch };
    let ms = idx.manifests();
    if ms.len() == 1 {
        return Ok(ms[0].clone());
    }
    ms.iter()
        .find(|d| d.platform().as_ref().is_some_and(|p| *p.os() == Os::Linux && p.architecture().to_string() == want))
        .cloned()
        .ok_or_else(|| input_err(what, format!("the index has no linux/{want} image; export one for this platform")))
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Imports an OCI image layout (directory or tar) or a `docker save` archive.
/// Returns the names given. `tag` names the image (required when the archive names none).
pub fn import(store: &Store, path: &Path, tag: Option<&str>) -> Result<Vec<(String, Image)>, ImageError> {
    let meta = fs::metadata(path).map_err(|e| {
        input_err(path, format!("{e}; give an OCI layout directory, an OCI layout tar or a docker save tar"))
    })?;
    if let Some(t) = tag {
        Reference::parse(t)?;
    }
    let _lock = store.lock()?;
    if meta.is_dir() {
        return import_dir(store, path, path, tag);
    }
    // A tar: unpack it safely into tmp/ (the same checks as a layer), then read the directory.
    let tmp = store.tmp_path("import");
    fs::create_dir(&tmp).map_err(io_err("cannot create a temporary directory", &tmp))?;
    let r = (|| {
        let f = File::open(path).map_err(|e| input_err(path, e.to_string()))?;
        let rd = layer::decompress(f).map_err(|e| input_err(path, e.to_string()))?;
        layer::unpack(rd, &tmp, Mode::Apply).map_err(|e| match e {
            LayerError::Tar(e) => input_err(
                path,
                format!("not a readable tar ({e}); the archive is truncated or corrupt: export it again"),
            ),
            other => input_err(path, other.to_string()),
        })?;
        import_dir(store, &tmp, path, tag)
    })();
    let _ = layer::remove_tree(&tmp);
    r
}

fn read_json_file(p: &Path, shown: &Path) -> Result<Vec<u8>, ImageError> {
    fs::read(p).map_err(|e| {
        input_err(
            shown,
            format!(
                "cannot read {}: {e}; the archive is incomplete",
                p.file_name().map(|s| s.to_string_lossy()).unwrap_or_default()
            ),
        )
    })
}

fn layout_blob(dir: &Path, d: &Digest) -> PathBuf {
    dir.join("blobs/sha256").join(d.hex())
}

fn import_dir(store: &Store, dir: &Path, shown: &Path, tag: Option<&str>) -> Result<Vec<(String, Image)>, ImageError> {
    let mut txn = Txn::new(store);
    let named: Vec<(String, Digest)> = if dir.join("index.json").is_file() {
        import_layout(&mut txn, dir, shown, tag)?
    } else if dir.join("manifest.json").is_file() {
        import_docker(&mut txn, dir, shown, tag)?
    } else {
        return Err(input_err(
            shown,
            "neither an OCI image layout (no index.json) nor a docker save archive (no manifest.json)",
        ));
    };
    let mut out = Vec::new();
    for (name, md) in &named {
        let img = adopt(store, &mut txn, name, md)?;
        out.push((name.clone(), img));
    }
    let mut m = store.images()?;
    for (name, md) in &named {
        m.insert(name.clone(), md.clone());
    }
    store.set_images(&m)?;
    txn.commit();
    Ok(out)
}

fn copy_in(txn: &mut Txn<'_>, dir: &Path, shown: &Path, d: &Digest) -> Result<(), ImageError> {
    let p = layout_blob(dir, d);
    let f = File::open(&p).map_err(|e| {
        input_err(shown, format!("blob {d} is missing ({e}); the archive is incomplete: export it again"))
    })?;
    txn.put_blob(f, Some(d)).map_err(|e| match e {
        ImageError::Store(StoreError::Mismatch { got, .. }) => {
            input_err(shown, format!("blob {d} is corrupt (its content hashes to {got}); export the image again"))
        }
        other => other,
    })?;
    Ok(())
}

fn import_layout(
    txn: &mut Txn<'_>,
    dir: &Path,
    shown: &Path,
    tag: Option<&str>,
) -> Result<Vec<(String, Digest)>, ImageError> {
    let idx = ImageIndex::from_reader(&read_json_file(&dir.join("index.json"), shown)?[..])
        .map_err(bad_json(format!("{}: index.json", shown.display())))?;
    let mut out = Vec::new();
    let mut descs: Vec<Descriptor> = idx.manifests().clone();
    if tag.is_some() && descs.len() > 1 {
        // One name for many images: keep the one for this platform.
        descs = vec![pick_manifest(&idx, shown)?];
    }
    for desc in descs {
        let mut d = dig(desc.digest())?;
        let mut desc = desc;
        if matches!(desc.media_type(), MediaType::ImageIndex) || desc.media_type().to_string().contains("manifest.list")
        {
            copy_in(txn, dir, shown, &d)?;
            let inner =
                ImageIndex::from_reader(&txn.store.read_blob(&d)?[..]).map_err(bad_json(format!("index {d}")))?;
            let pick = pick_manifest(&inner, shown)?;
            d = dig(pick.digest())?;
            let ann = desc.annotations().clone();
            desc = pick;
            if desc.annotations().is_none() {
                desc.set_annotations(ann);
            }
        }
        copy_in(txn, dir, shown, &d)?;
        let m = ImageManifest::from_reader(&txn.store.read_blob(&d)?[..]).map_err(bad_json(format!("manifest {d}")))?;
        copy_in(txn, dir, shown, &dig(m.config().digest())?)?;
        for l in m.layers() {
            copy_in(txn, dir, shown, &dig(l.digest())?)?;
        }
        let name = match tag {
            Some(t) => Reference::parse(t)?.name(),
            None => {
                let ann = desc.annotations().as_ref().and_then(|a| a.get(REF_NAME).cloned());
                match ann {
                    Some(n) if n.contains(':') || n.contains('/') => Reference::parse(&n)?.name(),
                    // A bare ref name (what umoci and skopeo write) names the image, tag latest.
                    Some(t) => Reference::parse(&t)
                        .map_err(|_| {
                            input_err(shown, format!("cannot make an image name from '{t}'; give --tag NAME:TAG"))
                        })?
                        .name(),
                    None => {
                        return Err(input_err(shown, "the layout names no image; give --tag NAME:TAG"));
                    }
                }
            }
        };
        out.push((name, d));
    }
    if out.is_empty() {
        return Err(input_err(shown, "index.json lists no image"));
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn safe_join(dir: &Path, rel: &str, shown: &Path) -> Result<PathBuf, ImageError> {
    let clean = layer::clean_path(rel.as_bytes()).map_err(|e| input_err(shown, e.to_string()))?;
    Ok(dir.join(clean))
}

fn import_docker(
    txn: &mut Txn<'_>,
    dir: &Path,
    shown: &Path,
    tag: Option<&str>,
) -> Result<Vec<(String, Digest)>, ImageError> {
    let entries: Vec<DockerEntry> =
        serde_json::from_slice(&read_json_file(&dir.join("manifest.json"), shown)?).map_err(|e| {
            ImageError::BadJson { what: format!("{}: manifest.json", shown.display()), detail: e.to_string() }
        })?;
    let mut out = Vec::new();
    for e in entries.iter().take(if tag.is_some() { 1 } else { usize::MAX }) {
        let cpath = safe_join(dir, &e.config, shown)?;
        let cbytes = fs::read(&cpath).map_err(|err| {
            input_err(shown, format!("config {} is missing ({err}); the archive is incomplete", e.config))
        })?;
        let cfg = ImageConfiguration::from_reader(&cbytes[..]).map_err(bad_json(format!(
            "{}: {}",
            shown.display(),
            e.config
        )))?;
        let cdig = txn.put_bytes(&cbytes)?;
        let diff_ids = cfg.rootfs().diff_ids();
        if diff_ids.len() != e.layers.len() {
            return Err(input_err(
                shown,
                format!(
                    "manifest.json lists {} layers but the config {}; the archive is corrupt",
                    e.layers.len(),
                    diff_ids.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for (l, diff) in e.layers.iter().zip(diff_ids) {
            let lp = safe_join(dir, l, shown)?;
            let f = File::open(&lp)
                .map_err(|err| input_err(shown, format!("layer {l} is missing ({err}); the archive is incomplete")))?;
            let (d, size) = txn.put_blob(f, None)?;
            // docker save layers are plain tars: their digest is their diff id.
            let mt = if &d.to_string() == diff { MediaType::ImageLayer } else { sniff_layer_type(txn.store, &d)? };
            layers.push(Descriptor::new(mt, size, odig(&d)));
        }
        let manifest = oci_spec::image::ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(Descriptor::new(MediaType::ImageConfig, cbytes.len() as u64, odig(&cdig)))
            .layers(layers)
            .build()
            .map_err(bad_json("generated manifest"))?;
        let mbytes = manifest.to_string().map_err(bad_json("generated manifest"))?;
        let md = txn.put_bytes(mbytes.as_bytes())?;
        let names: Vec<String> = match tag {
            Some(t) => vec![Reference::parse(t)?.name()],
            None => {
                let tags = e.repo_tags.clone().unwrap_or_default();
                if tags.is_empty() {
                    return Err(input_err(shown, "the archive names no image; give --tag NAME:TAG"));
                }
                tags.iter().map(|t| Reference::parse(t).map(|r| r.name())).collect::<Result<_, _>>()?
            }
        };
        for n in names {
            out.push((n, md.clone()));
        }
    }
    Ok(out)
}

/// The OCI media type for a stored layer blob, by its magic number.
pub fn sniff_layer_type(store: &Store, d: &Digest) -> Result<MediaType, ImageError> {
    let mut head = [0u8; 4];
    let p = store.blob_path(d);
    let mut f = File::open(&p).map_err(io_err("cannot open a blob", &p))?;
    let n = f.read(&mut head).map_err(io_err("cannot read a blob", &p))?;
    Ok(if n >= 2 && head[..2] == [0x1f, 0x8b] {
        MediaType::ImageLayerGzip
    } else if n == 4 && head == [0x28, 0xb5, 0x2f, 0xfd] {
        MediaType::ImageLayerZstd
    } else {
        MediaType::ImageLayer
    })
}

fn append_bytes<W: Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    b.append_data(&mut h, name, data)
}

/// Writes an image as an OCI image layout tar (atomically: OUT appears only when complete).
pub fn save(store: &Store, r: &str, out: &Path) -> Result<Image, ImageError> {
    let img = resolve(store, r)?;
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.partial",
        out.file_name().map(|s| s.to_string_lossy()).unwrap_or_default(),
        std::process::id()
    ));
    let res = (|| -> Result<(), ImageError> {
        let f = File::create(&tmp).map_err(|e| input_err(out, format!("cannot create: {e}")))?;
        let mut b = tar::Builder::new(io::BufWriter::new(f));
        let w = |e: io::Error| input_err(out, format!("cannot write: {e}"));
        append_bytes(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(w)?;
        let mdesc = {
            let mbytes = store.read_blob(&img.manifest_digest)?;
            let mut d = Descriptor::new(MediaType::ImageManifest, mbytes.len() as u64, odig(&img.manifest_digest));
            let mut ann = std::collections::HashMap::new();
            ann.insert(REF_NAME.to_string(), img.name.clone());
            d.set_annotations(Some(ann));
            d
        };
        let index = oci_spec::image::ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(vec![mdesc])
            .build()
            .map_err(bad_json("generated index"))?;
        append_bytes(&mut b, "index.json", index.to_string().map_err(bad_json("generated index"))?.as_bytes())
            .map_err(w)?;
        let mut blobs = vec![img.manifest_digest.clone(), img.config_digest.clone()];
        for l in img.manifest.layers() {
            blobs.push(dig(l.digest())?);
        }
        let mut seen = BTreeSet::new();
        for d in blobs {
            if !seen.insert(d.clone()) {
                continue;
            }
            let p = store.blob_path(&d);
            let size = fs::metadata(&p).map_err(|_| StoreError::MissingBlob(d.clone()))?.len();
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(size);
            h.set_mode(0o644);
            h.set_mtime(0);
            let rd = store.open_blob(&d)?;
            b.append_data(&mut h, format!("blobs/sha256/{}", d.hex()), rd).map_err(|e| {
                if e.kind() == io::ErrorKind::InvalidData {
                    ImageError::Store(StoreError::Corrupt { digest: d.clone(), detail: e.to_string() })
                } else {
                    w(e)
                }
            })?;
        }
        let mut bw = b.into_inner().map_err(w)?;
        bw.flush().map_err(w)?;
        bw.get_ref().sync_all().map_err(w)?;
        fs::rename(&tmp, out).map_err(w)?;
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map(|_| img)
}

/// Gives an existing image another name.
pub fn tag(store: &Store, src: &str, dst: &str) -> Result<Image, ImageError> {
    let dst = Reference::parse(dst)?.name();
    let _lock = store.lock()?;
    let img = resolve(store, src)?;
    set_tag(store, &dst, &img.manifest_digest)?;
    Ok(img)
}

/// One line of `image ls`.
#[derive(Debug)]
pub struct Summary {
    pub name: String,
    pub id: Digest,
    pub size: u64,
    pub created: String,
}

/// Every named image.
pub fn list(store: &Store) -> Result<Vec<Summary>, ImageError> {
    let mut out = Vec::new();
    for (name, md) in store.images()? {
        let img = load(store, &name, &md)?;
        let size = img.manifest.layers().iter().map(|l| l.size()).sum();
        out.push(Summary {
            name,
            id: img.config_digest.clone(),
            size,
            created: img.config.created().clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Removes a name; blobs and unpacked layers nothing else uses are deleted.
/// `in_use` lists diff ids that containers still need.
pub fn remove(store: &Store, r: &str, in_use: &BTreeSet<Digest>) -> Result<Image, ImageError> {
    let _lock = store.lock()?;
    let img = resolve(store, r)?;
    let mut m = store.images()?;
    // A name removes that name; an id removes every name of that image.
    let by_name =
        m.get(&img.name) == Some(&img.manifest_digest) && Reference::parse(r).is_ok_and(|x| x.name() == img.name);
    if by_name {
        m.remove(&img.name);
    } else {
        m.retain(|_, d| *d != img.manifest_digest);
    }
    store.set_images(&m)?;
    gc(store, &m, in_use)?;
    Ok(img)
}

/// Deletes blobs and layer directories that no named image and no container uses.
pub fn gc(store: &Store, names: &BTreeMap<String, Digest>, in_use: &BTreeSet<Digest>) -> Result<(), ImageError> {
    let mut keep_blobs = BTreeSet::new();
    let mut keep_layers: BTreeSet<String> = in_use.iter().map(|d| d.hex().to_string()).collect();
    for (name, md) in names {
        let img = load(store, name, md)?;
        keep_blobs.insert(md.clone());
        keep_blobs.insert(img.config_digest.clone());
        for (b, diff) in img.layers()? {
            keep_blobs.insert(b);
            keep_layers.insert(diff.hex().to_string());
        }
    }
    for b in store.blobs()? {
        if !keep_blobs.contains(&b) {
            store.remove_blob(&b)?;
        }
    }
    let ldir = store.root().join("layers");
    for e in fs::read_dir(&ldir).map_err(io_err("cannot list layers", &ldir))?.flatten() {
        if !keep_layers.contains(&*e.file_name().to_string_lossy()) {
            let _ = layer::remove_tree(&e.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_like_docker_names() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!((r.registry.as_deref(), r.repository.as_str(), r.tag.as_str()), (None, "busybox", "latest"));
        let r = Reference::parse("127.0.0.1:5000/lib/bb:v1").unwrap();
        assert_eq!(r.registry.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(r.repository, "lib/bb");
        assert_eq!(r.tag, "v1");
        assert_eq!(r.name(), "127.0.0.1:5000/lib/bb:v1");
        let r = Reference::parse("localhost/x").unwrap();
        assert_eq!(r.registry.as_deref(), Some("localhost"));
        for bad in ["", "UPPER:tag", "a//b", "x:", "http://h/x", "a@sha256:00", "Bad/x"] {
            assert!(Reference::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}

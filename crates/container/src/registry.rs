//! The OCI distribution API client: pull an image (manifest or index, config, layers) into the
//! store, verifying every digest, and push a stored image (blob uploads, then the manifest).
//! Plain HTTP only (registries on this machine or a trusted network); no TLS, no token auth.

use crate::digest::Digest;
use crate::image::{self, Image, ImageError, Reference, Txn, dig};
use crate::store::{Store, StoreError};
use oci_spec::image::{ImageIndex, ImageManifest};
use std::io::Read;
use std::time::Duration;

/// What can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("'{0}' names no registry; use HOST:PORT/NAME:TAG (e.g. 127.0.0.1:5000/busybox:latest)")]
    NoRegistry(String),
    #[error("cannot reach the registry at {url}: {detail}; check that it is running and the address is right")]
    Unreachable { url: String, detail: String },
    #[error("the registry answered {status} to {method} {url}{hint}")]
    Status { method: &'static str, url: String, status: u16, hint: &'static str },
    #[error(
        "the registry sent a blob that does not match its digest {0}; the registry's copy is corrupt: push it again"
    )]
    Corrupt(Digest),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

struct Client {
    agent: ureq::Agent,
    base: String,
    repo: String,
}

fn hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (the registry wants credentials; ondol supports only registries without authentication)",
        404 => " (no such image or blob in the registry: check the name and tag)",
        _ => "",
    }
}

impl Client {
    fn new(r: &Reference, shown: &str) -> Result<Client, RegistryError> {
        let host = r.registry.clone().ok_or_else(|| RegistryError::NoRegistry(shown.to_string()))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Ok(Client { agent, base: format!("http://{host}"), repo: r.repository.clone() })
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, self.repo)
    }

    fn unreachable(&self, url: &str, e: ureq::Error) -> RegistryError {
        RegistryError::Unreachable { url: url.to_string(), detail: e.to_string() }
    }

    fn status(method: &'static str, url: &str, status: u16) -> RegistryError {
        RegistryError::Status { method, url: url.to_string(), status, hint: hint(status) }
    }

    /// GET a manifest; returns (bytes, content type).
    fn manifest(&self, reference: &str) -> Result<(Vec<u8>, String), RegistryError> {
        let url = self.url(&format!("manifests/{reference}"));
        let mut resp = self.agent.get(&url).header("Accept", ACCEPT).call().map_err(|e| self.unreachable(&url, e))?;
        if resp.status() != 200 {
            return Err(Self::status("GET", &url, resp.status().as_u16()));
        }
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body =
            resp.body_mut().with_config().limit(32 << 20).read_to_vec().map_err(|e| self.unreachable(&url, e))?;
        Ok((body, ct))
    }

    fn get_blob(&self, txn: &mut Txn<'_>, d: &Digest) -> Result<(), RegistryError> {
        let url = self.url(&format!("blobs/{d}"));
        let mut resp = self.agent.get(&url).call().map_err(|e| self.unreachable(&url, e))?;
        if resp.status() != 200 {
            return Err(Self::status("GET", &url, resp.status().as_u16()));
        }
        let rd = resp.body_mut().as_reader();
        match txn.put_blob(rd, Some(d)) {
            Ok(_) => Ok(()),
            Err(ImageError::Store(StoreError::Mismatch { .. })) => Err(RegistryError::Corrupt(d.clone())),
            Err(e) => Err(e.into()),
        }
    }

    fn has_blob(&self, d: &Digest) -> Result<bool, RegistryError> {
        let url = self.url(&format!("blobs/{d}"));
        let resp = self.agent.head(&url).call().map_err(|e| self.unreachable(&url, e))?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            s => Err(Self::status("HEAD", &url, s)),
        }
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}{location}", self.base)
        }
    }

    /// Monolithic upload: POST to open a session, PUT the bytes with the digest.
    fn put_blob(&self, store: &Store, d: &Digest) -> Result<(), RegistryError> {
        let url = self.url("blobs/uploads/");
        let resp = self.agent.post(&url).send_empty().map_err(|e| self.unreachable(&url, e))?;
        if resp.status() != 202 {
            return Err(Self::status("POST", &url, resp.status().as_u16()));
        }
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Self::status("POST", &url, resp.status().as_u16()))?;
        let mut put = self.absolute(loc);
        put.push(if put.contains('?') { '&' } else { '?' });
        put.push_str(&format!("digest={d}"));
        let size = std::fs::metadata(store.blob_path(d)).map_err(|_| StoreError::MissingBlob(d.clone()))?.len();
        let mut rd = store.open_blob(d)?;
        let body = ureq::SendBody::from_reader(&mut rd as &mut dyn Read);
        let resp = self
            .agent
            .put(&put)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", &size.to_string())
            .send(body)
            .map_err(|e| self.unreachable(&put, e))?;
        if resp.status() != 201 {
            return Err(Self::status("PUT", &put, resp.status().as_u16()));
        }
        Ok(())
    }

    fn put_manifest(&self, tag: &str, bytes: &[u8], media_type: &str) -> Result<(), RegistryError> {
        let url = self.url(&format!("manifests/{tag}"));
        let resp = self
            .agent
            .put(&url)
            .header("Content-Type", media_type)
            .send(bytes)
            .map_err(|e| self.unreachable(&url, e))?;
        if resp.status() != 201 {
            return Err(Self::status("PUT", &url, resp.status().as_u16()));
        }
        Ok(())
    }
}

fn is_index(ct: &str, bytes: &[u8]) -> bool {
    if ct.contains("image.index") || ct.contains("manifest.list") {
        return true;
    }
    // Some registries send a generic type: look at the document itself.
    serde_json::from_slice::<serde_json::Value>(bytes).ok().is_some_and(|v| v.get("manifests").is_some())
}

/// Pulls REF (HOST[:PORT]/NAME[:TAG]) into the store under the same name.
pub fn pull(store: &Store, r: &str) -> Result<Image, RegistryError> {
    let reference = Reference::parse(r)?;
    let c = Client::new(&reference, r)?;
    let _lock = store.lock()?;
    let mut txn = Txn::new(store);
    let (mut bytes, ct) = c.manifest(&reference.tag)?;
    if is_index(&ct, &bytes) {
        let idx = ImageIndex::from_reader(&bytes[..])
            .map_err(|e| ImageError::BadJson { what: format!("index of {r}"), detail: e.to_string() })?;
        let want = if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH };
        let pick = idx
            .manifests()
            .iter()
            .find(|d| d.platform().as_ref().is_some_and(|p| p.architecture().to_string() == want))
            .or(idx.manifests().first())
            .ok_or_else(|| ImageError::Unsupported(format!("{r}: the registry's index lists no image")))?;
        let d = dig(pick.digest())?;
        let (b, _) = c.manifest(&d.to_string())?;
        if Digest::of(&b) != d {
            return Err(RegistryError::Corrupt(d));
        }
        bytes = b;
    }
    let md = txn.put_bytes(&bytes)?;
    let m = ImageManifest::from_reader(&bytes[..])
        .map_err(|e| ImageError::BadJson { what: format!("manifest of {r}"), detail: e.to_string() })?;
    let mut blobs = vec![dig(m.config().digest())?];
    for l in m.layers() {
        blobs.push(dig(l.digest())?);
    }
    for d in &blobs {
        if !store.has_blob(d) {
            c.get_blob(&mut txn, d)?;
        }
    }
    let name = reference.name();
    let img = image::adopt(store, &mut txn, &name, &md)?;
    image::set_tag(store, &name, &md)?;
    txn.commit();
    Ok(img)
}

/// Pushes the local image named REF to the registry REF names.
pub fn push(store: &Store, r: &str) -> Result<Image, RegistryError> {
    let reference = Reference::parse(r)?;
    let c = Client::new(&reference, r)?;
    let img = image::resolve(store, r)?;
    let mut blobs = Vec::new();
    for l in img.manifest.layers() {
        blobs.push(dig(l.digest())?);
    }
    blobs.push(img.config_digest.clone());
    for d in &blobs {
        if !c.has_blob(d)? {
            c.put_blob(store, d)?;
        }
    }
    let bytes = store.read_blob(&img.manifest_digest)?;
    let mt = img
        .manifest
        .media_type()
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".to_string());
    c.put_manifest(&reference.tag, &bytes, &mt)?;
    Ok(img)
}

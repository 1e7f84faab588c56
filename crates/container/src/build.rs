//! The image builder: runs a parsed Dockerfile. COPY and RUN each add a layer (RUN executes in
//! a container over the image so far; its overlayfs upper directory becomes the layer); ENV,
//! WORKDIR, USER, CMD and ENTRYPOINT change the config and are recorded as empty-layer history.

use crate::digest::{Digest, HashingReader};
use crate::dockerfile::{self, Step};
use crate::image::{self, Image, ImageError, Reference, Txn, odig};
use crate::layer;
use crate::runtime::{Runtime, chain};
use crate::store::Store;
use oci_spec::image::{Descriptor, HistoryBuilder, ImageManifestBuilder, MediaType};
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

fn bad(msg: impl Into<String>) -> ImageError {
    ImageError::Unsupported(msg.into())
}

/// Builds an image from `file` with `dir` as the context; names it `tag` (default DIR:latest).
pub fn build(store: &Store, file: &Path, dir: &Path, tag: Option<&str>) -> Result<Image, ImageError> {
    let text = fs::read_to_string(file)
        .map_err(|e| bad(format!("cannot read {}: {e}; give the Dockerfile with -f", file.display())))?;
    let steps = dockerfile::parse(&text).map_err(|e| bad(format!("{}: {e}", file.display())))?;
    let name = match tag {
        Some(t) => Reference::parse(t)?.name(),
        None => {
            let base = fs::canonicalize(dir)
                .ok()
                .and_then(|p| p.file_name().map(|s| s.to_string_lossy().to_lowercase()))
                .unwrap_or_else(|| "image".into());
            Reference::parse(&base)
                .map_err(|_| bad(format!("cannot name the image after '{base}'; give -t NAME:TAG")))?
                .name()
        }
    };
    let Step::From(from) = &steps[0] else {
        return Err(bad("the first instruction must be FROM"));
    };
    let base = image::resolve(store, from)?;
    let rt = Runtime::new(store.clone());
    let mut config = base.config.clone();
    let mut layers: Vec<Descriptor> = base.manifest.layers().clone();
    let mut diff_ids: Vec<String> = config.rootfs().diff_ids().clone();
    let mut history = config.history().clone().unwrap_or_default();
    let mut txn_blobs: Vec<Digest> = Vec::new();
    let mut cur = base.clone();
    let result = (|| -> Result<Image, ImageError> {
        for (n, step) in steps.iter().enumerate().skip(1) {
            let shown = format!("{step:?}");
            let mut cfg = config.config().clone().unwrap_or_default();
            let mut layer_tar: Option<PathBuf> = None;
            match step {
                Step::From(_) => {
                    return Err(bad(format!("step {}: only one FROM is supported", n + 1)));
                }
                Step::Env(kv) => {
                    let extra: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    cfg.set_env(Some(crate::runtime::merge_env(&cfg.env().clone().unwrap_or_default(), &extra)));
                }
                Step::Workdir(w) => {
                    let base = cfg.working_dir().clone().unwrap_or_else(|| "/".into());
                    cfg.set_working_dir(Some(Path::new(&base).join(w).display().to_string()));
                }
                Step::User(u) => {
                    cfg.set_user(Some(u.clone()));
                }
                Step::Cmd(c) => {
                    cfg.set_cmd(Some(c.clone()));
                }
                Step::Entrypoint(c) => {
                    cfg.set_entrypoint(Some(c.clone()));
                }
                Step::Copy { srcs, dest } => {
                    let wd = cfg.working_dir().clone().unwrap_or_else(|| "/".into());
                    let dest_abs = Path::new(&wd).join(dest);
                    let tmp = store.tmp_path("copy.tar");
                    let f = fs::File::create(&tmp).map_err(|e| bad(format!("cannot write {}: {e}", tmp.display())))?;
                    let mut b = tar::Builder::new(f);
                    let as_dir = dest.ends_with('/') || srcs.len() > 1;
                    for s in srcs {
                        let src = context_path(dir, s)?;
                        let m = fs::symlink_metadata(&src).map_err(|e| {
                            bad(format!("COPY {s}: {e}; the path must exist in the build context {}", dir.display()))
                        })?;
                        let target = if m.is_dir() || !as_dir {
                            dest_abs.clone()
                        } else {
                            dest_abs.join(src.file_name().unwrap_or_default())
                        };
                        layer::tar_copy(&mut b, &src, &target).map_err(|e| bad(format!("COPY {s}: {e}")))?;
                    }
                    b.into_inner()
                        .and_then(|mut f| f.flush())
                        .map_err(|e| bad(format!("cannot write the COPY layer: {e}")))?;
                    layer_tar = Some(tmp);
                }
                Step::Run(args) => {
                    let (code, upper) = rt
                        .run_step(
                            &cur,
                            args.clone(),
                            cfg.user().clone(),
                            cfg.env().clone().unwrap_or_default(),
                            cfg.working_dir().clone(),
                        )
                        .map_err(|e| bad(chain(&e)))?;
                    let cid = upper
                        .parent()
                        .and_then(|p| p.file_name())
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if code != 0 {
                        rt.discard(&cid);
                        return Err(bad(format!(
                            "step {} ({}) exited with status {code}; fix the command and build again",
                            n + 1,
                            args.join(" ")
                        )));
                    }
                    let tmp = store.tmp_path("run.tar");
                    let f = fs::File::create(&tmp).map_err(|e| bad(format!("cannot write {}: {e}", tmp.display())))?;
                    let r = layer::diff_upper(&upper, f);
                    rt.discard(&cid);
                    r.map_err(|e| bad(format!("cannot turn step {} into a layer: {e}", n + 1)))?;
                    layer_tar = Some(tmp);
                }
            }
            config.set_config(Some(cfg));
            let mut h = HistoryBuilder::default().created_by(format!("ondol build: {shown}"));
            if let Some(t) = layer_tar {
                // Store the layer gzip-compressed; its diff id is the plain tar's digest.
                let plain = fs::File::open(&t).map_err(|e| bad(e.to_string()))?;
                let mut hr = HashingReader::new(plain);
                let gzp = store.tmp_path("layer.gz");
                let mut enc = flate2::write::GzEncoder::new(
                    fs::File::create(&gzp).map_err(|e| bad(e.to_string()))?,
                    flate2::Compression::fast(),
                );
                std::io::copy(&mut hr, &mut enc).map_err(|e| bad(e.to_string()))?;
                enc.finish().map_err(|e| bad(e.to_string()))?;
                let (diff, _) = hr.finish();
                let _ = fs::remove_file(&t);
                let gzf = fs::File::open(&gzp).map_err(|e| bad(e.to_string()))?;
                let (d, size, new) = store.put_blob(gzf, None)?;
                let _ = fs::remove_file(&gzp);
                if new {
                    txn_blobs.push(d.clone());
                }
                layers.push(Descriptor::new(MediaType::ImageLayerGzip, size, odig(&d)));
                diff_ids.push(diff.to_string());
            } else {
                h = h.empty_layer(true);
            }
            history.push(h.build().map_err(|e| bad(e.to_string()))?);
            config.rootfs_mut().set_diff_ids(diff_ids.clone());
            config.set_history(Some(history.clone()));
            cur = commit(store, &mut txn_blobs, &config, &layers, &cur.name)?;
        }
        Ok(cur.clone())
    })();
    let img = match result {
        Ok(i) => i,
        Err(e) => {
            // Drop what this build stored unless a named image uses it.
            let _l = store.lock()?;
            let names = store.images()?;
            let _ = image::gc(store, &names, &rt.layers_in_use());
            return Err(e);
        }
    };
    let _l = store.lock()?;
    let mut txn = Txn::new(store);
    let img = image::adopt(store, &mut txn, &name, &img.manifest_digest)?;
    image::set_tag(store, &name, &img.manifest_digest)?;
    txn.commit();
    Ok(img)
}

/// Writes config + manifest for the image so far (unnamed) and loads it back.
fn commit(
    store: &Store,
    blobs: &mut Vec<Digest>,
    config: &oci_spec::image::ImageConfiguration,
    layers: &[Descriptor],
    name: &str,
) -> Result<Image, ImageError> {
    let cbytes = config.to_string().map_err(|e| bad(e.to_string()))?;
    let (cd, new) = store.put_bytes(cbytes.as_bytes())?;
    if new {
        blobs.push(cd.clone());
    }
    let m = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(Descriptor::new(MediaType::ImageConfig, cbytes.len() as u64, odig(&cd)))
        .layers(layers.to_vec())
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mbytes = m.to_string().map_err(|e| bad(e.to_string()))?;
    let (md, new) = store.put_bytes(mbytes.as_bytes())?;
    if new {
        blobs.push(md.clone());
    }
    image::load(store, name, &md)
}

/// A COPY source inside the context, refusing '..' and absolute escapes.
fn context_path(dir: &Path, s: &str) -> Result<PathBuf, ImageError> {
    let mut p = dir.to_path_buf();
    for c in Path::new(s).components() {
        match c {
            Component::Normal(n) => p.push(n),
            Component::CurDir | Component::RootDir => {}
            _ => {
                return Err(bad(format!("COPY {s}: the source must stay inside the build context")));
            }
        }
    }
    Ok(p)
}

//! Unpacking image layers into a root filesystem without trusting their contents.
//!
//! * No entry may land outside the rootfs: absolute paths are made relative, `..` is refused, and
//!   every parent directory is checked with `lstat` so that no write goes through a symlink
//!   (a layer's symlinks are created, but only ever resolved later, inside the sandbox).
//! * Hard links must point at a regular file already inside the rootfs.
//! * Device nodes and FIFOs are skipped; setuid/setgid bits are dropped; ownership is not applied.
//! * Whiteouts (`.wh.NAME`, `.wh..wh..opq`) remove what lower layers put there.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use tar::EntryType;

use crate::OciError;
use crate::blobs::{BlobStore, parse_digest};
use crate::manifest::{DOCKER_LAYER_GZIP, Descriptor, OCI_LAYER_GZIP, OCI_LAYER_TAR};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
/// Directories the sandbox mounts over; they must exist because the rootfs is bound read-only.
const MOUNT_POINTS: &[&str] = &["dev", "proc", "tmp", "var/task", "var/runtime"];

/// Unpacks `layers` in order into `target`, which must be an empty, existing directory.
pub fn unpack_layers(blobs: &BlobStore, layers: &[Descriptor], target: &Path, max_bytes: u64) -> Result<(), OciError> {
    let mut budget = Budget {
        remaining: max_bytes,
        limit: max_bytes,
    };
    for layer in layers {
        let digest = parse_digest(&layer.digest)?;
        let path = blobs.path(&digest);
        let file = fs::File::open(&path).map_err(OciError::io("open layer", &path))?;
        let reader: Box<dyn Read> = match layer.media_type.as_str() {
            OCI_LAYER_GZIP | DOCKER_LAYER_GZIP => Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file))),
            OCI_LAYER_TAR => Box::new(std::io::BufReader::new(file)),
            other => return Err(OciError::UnsupportedLayer(other.to_string())),
        };
        unpack_layer(&layer.digest, reader, target, &mut budget)?;
    }
    for dir in MOUNT_POINTS {
        let path = target.join(dir);
        if fs::symlink_metadata(&path).is_err() {
            fs::create_dir_all(&path).map_err(OciError::io("create", &path))?;
        }
    }
    Ok(())
}

/// How many bytes of regular files may still be written: a bound on decompression bombs.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub remaining: u64,
    pub limit: u64,
}

/// Unpacks one uncompressed tar stream into `root`.
pub fn unpack_layer(layer: &str, reader: impl Read, root: &Path, budget: &mut Budget) -> Result<(), OciError> {
    let layer_err = |source: std::io::Error| OciError::Layer {
        layer: layer.to_string(),
        source,
    };
    let mut archive = tar::Archive::new(reader);
    // Paths written by this layer, so an opaque whiteout only hides what lower layers wrote.
    let mut written: HashSet<PathBuf> = HashSet::new();
    for entry in archive.entries().map_err(layer_err)? {
        let mut entry = entry.map_err(layer_err)?;
        let raw = entry.path().map_err(layer_err)?.into_owned();
        let refuse = |reason: &'static str| OciError::UnsafeEntry {
            layer: layer.to_string(),
            entry: raw.display().to_string(),
            reason,
        };
        let Some(rel) = normalize(&raw).map_err(refuse)? else {
            continue;
        };
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let parent_rel = rel.parent().map(Path::to_path_buf).unwrap_or_default();
        ensure_parents(root, &parent_rel).map_err(refuse)?;
        let dest = root.join(&rel);

        if name == OPAQUE_WHITEOUT {
            clear_dir(&root.join(&parent_rel), &parent_rel, &written).map_err(layer_err)?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Err(refuse("malformed whiteout"));
            }
            remove_any(&root.join(&parent_rel).join(hidden)).map_err(layer_err)?;
            continue;
        }

        let mode = entry.header().mode().unwrap_or(0o644) & 0o1777;
        match entry.header().entry_type() {
            EntryType::Directory => {
                match fs::symlink_metadata(&dest) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => {
                        remove_any(&dest).map_err(layer_err)?;
                        fs::create_dir(&dest).map_err(layer_err)?;
                    }
                    Err(_) => fs::create_dir(&dest).map_err(layer_err)?,
                }
                fs::set_permissions(&dest, fs::Permissions::from_mode(mode | 0o700)).map_err(layer_err)?;
            }
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.header().size().map_err(layer_err)?;
                budget.remaining = budget
                    .remaining
                    .checked_sub(size)
                    .ok_or(OciError::TooLarge { limit: budget.limit })?;
                remove_any(&dest).map_err(layer_err)?;
                let mut out = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&dest)
                    .map_err(layer_err)?;
                std::io::copy(&mut entry, &mut out).map_err(layer_err)?;
                fs::set_permissions(&dest, fs::Permissions::from_mode(mode & 0o777)).map_err(layer_err)?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(layer_err)?
                    .ok_or_else(|| refuse("symlink without a target"))?;
                remove_any(&dest).map_err(layer_err)?;
                std::os::unix::fs::symlink(&target, &dest).map_err(layer_err)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(layer_err)?
                    .ok_or_else(|| refuse("hard link without a target"))?;
                let target_rel = normalize(&target)
                    .map_err(refuse)?
                    .ok_or_else(|| refuse("hard link to the root"))?;
                if let Some(parent) = target_rel.parent() {
                    check_no_symlinks(root, parent).map_err(refuse)?;
                }
                let source = root.join(&target_rel);
                if !fs::symlink_metadata(&source).is_ok_and(|m| m.is_file()) {
                    return Err(refuse("hard link target is not a regular file in the image"));
                }
                remove_any(&dest).map_err(layer_err)?;
                fs::hard_link(&source, &dest).map_err(layer_err)?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                tracing::debug!(target: "quartz::oci", entry = %raw.display(), "skipping device node or fifo");
                continue;
            }
            _ => continue,
        }
        written.insert(rel);
    }
    Ok(())
}

/// Makes an entry path relative to the rootfs. `None` for the root itself.
fn normalize(path: &Path) -> Result<Option<PathBuf>, &'static str> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir => return Err("path contains '..'"),
            Component::Prefix(_) => return Err("path has a prefix"),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Creates missing parent directories, refusing to go through a symlink or a non-directory.
fn ensure_parents(root: &Path, parent: &Path) -> Result<(), &'static str> {
    let mut current = root.to_path_buf();
    for part in parent.components() {
        current.push(part);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => return Err("a parent directory is a symlink"),
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err("a parent directory is not a directory"),
            Err(_) => fs::create_dir(&current).map_err(|_| "cannot create a parent directory")?,
        }
    }
    Ok(())
}

fn check_no_symlinks(root: &Path, parent: &Path) -> Result<(), &'static str> {
    let mut current = root.to_path_buf();
    for part in parent.components() {
        current.push(part);
        if fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err("hard link target goes through a symlink");
        }
    }
    Ok(())
}

/// Removes a file, symlink or directory tree at `path` if there is one; never follows symlinks.
fn remove_any(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn clear_dir(dir: &Path, rel: &Path, keep: &HashSet<PathBuf>) -> std::io::Result<()> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    for entry in entries {
        let entry = entry?;
        if !keep.contains(&rel.join(entry.file_name())) {
            remove_any(&entry.path())?;
        }
    }
    Ok(())
}

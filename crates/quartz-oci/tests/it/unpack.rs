use std::fs;
use std::os::unix::fs::PermissionsExt;

use quartz_oci::LayerBuilder;
use quartz_oci::unpack::{Budget, unpack_layer};

fn unpack(tar: Vec<u8>, root: &std::path::Path) -> Result<(), quartz_oci::OciError> {
    let mut budget = Budget {
        remaining: 1 << 20,
        limit: 1 << 20,
    };
    unpack_layer("test-layer", tar.as_slice(), root, &mut budget)
}

#[test]
fn parent_dir_entries_are_refused_and_nothing_escapes() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("rootfs");
    fs::create_dir(&root).unwrap();
    let mut layer = LayerBuilder::new();
    layer.raw_file("../escaped", b"owned").unwrap();
    let err = unpack(layer.finish().unwrap(), &root).unwrap_err().to_string();
    assert!(err.contains("..") && err.contains("refused"), "{err}");
    assert!(!outer.path().join("escaped").exists());
}

#[test]
fn absolute_paths_land_inside_the_rootfs() {
    let root = tempfile::tempdir().unwrap();
    let mut layer = LayerBuilder::new();
    layer.raw_file("/etc/hostname", b"inside").unwrap();
    unpack(layer.finish().unwrap(), root.path()).unwrap();
    assert_eq!(fs::read(root.path().join("etc/hostname")).unwrap(), b"inside");
}

#[test]
fn writes_through_a_symlinked_directory_are_refused() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("rootfs");
    let victim = outer.path().join("victim");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&victim).unwrap();
    let mut layer = LayerBuilder::new();
    layer.symlink("link", victim.to_str().unwrap()).unwrap();
    layer.file("link/planted", 0o644, b"owned").unwrap();
    let err = unpack(layer.finish().unwrap(), &root).unwrap_err().to_string();
    assert!(err.contains("symlink"), "{err}");
    assert!(!victim.join("planted").exists());
    // The symlink itself is kept: it only resolves inside the sandbox.
    assert!(
        fs::symlink_metadata(root.join("link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_file_replacing_a_symlink_does_not_write_through_it() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("rootfs");
    let victim = outer.path().join("victim.txt");
    fs::create_dir_all(&root).unwrap();
    fs::write(&victim, b"original").unwrap();
    let mut lower = LayerBuilder::new();
    lower.symlink("file", victim.to_str().unwrap()).unwrap();
    unpack(lower.finish().unwrap(), &root).unwrap();
    let mut upper = LayerBuilder::new();
    upper.file("file", 0o644, b"new").unwrap();
    unpack(upper.finish().unwrap(), &root).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"original");
    assert_eq!(fs::read(root.join("file")).unwrap(), b"new");
}

#[test]
fn whiteouts_remove_lower_layer_content() {
    let root = tempfile::tempdir().unwrap();
    let mut lower = LayerBuilder::new();
    lower
        .file("a/keep", 0o644, b"1")
        .unwrap()
        .file("a/gone", 0o644, b"2")
        .unwrap();
    lower.file("opaque/old", 0o644, b"3").unwrap();
    unpack(lower.finish().unwrap(), root.path()).unwrap();
    let mut upper = LayerBuilder::new();
    upper.file("a/.wh.gone", 0o644, b"").unwrap();
    upper
        .dir("opaque", 0o755)
        .unwrap()
        .file("opaque/.wh..wh..opq", 0o644, b"")
        .unwrap();
    upper.file("opaque/new", 0o644, b"4").unwrap();
    unpack(upper.finish().unwrap(), root.path()).unwrap();
    assert!(root.path().join("a/keep").exists());
    assert!(!root.path().join("a/gone").exists());
    assert!(!root.path().join("a/.wh.gone").exists());
    assert!(!root.path().join("opaque/old").exists());
    assert!(root.path().join("opaque/new").exists());
}

#[test]
fn setuid_bits_are_dropped() {
    let root = tempfile::tempdir().unwrap();
    let mut layer = LayerBuilder::new();
    layer.file("bin/su", 0o4755, b"#!").unwrap();
    unpack(layer.finish().unwrap(), root.path()).unwrap();
    let mode = fs::metadata(root.path().join("bin/su")).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755);
}

#[test]
fn the_size_budget_stops_decompression_bombs() {
    let root = tempfile::tempdir().unwrap();
    let mut layer = LayerBuilder::new();
    layer.file("big", 0o644, &vec![0u8; 4096]).unwrap();
    let mut budget = Budget {
        remaining: 1000,
        limit: 1000,
    };
    let err = unpack_layer("l", layer.finish().unwrap().as_slice(), root.path(), &mut budget).unwrap_err();
    assert!(matches!(err, quartz_oci::OciError::TooLarge { limit: 1000 }), "{err}");
}

//! A zip archive of one executable, `bootstrap`, as Lambda's `provided` runtimes expect it:
//! deflated, with Unix mode 0755 so that Lambda can execute it.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

const NAME: &[u8] = b"bootstrap";
/// Version made by: Unix (3) in the high byte, zip spec 2.0; needed to extract: 2.0.
const MADE_BY_UNIX: u16 = (3 << 8) | 20;
const VERSION_NEEDED: u16 = 20;
const DEFLATE: u16 = 8;
/// A regular file, rwxr-xr-x, in the high half of the external attributes.
const UNIX_MODE: u32 = 0o100_755 << 16;

/// The archive; fails only if the binary exceeds the 4 GiB a zip without ZIP64 can hold.
pub fn bootstrap_zip(binary: &[u8]) -> std::io::Result<Vec<u8>> {
    let too_big = || std::io::Error::other("the handlers binary is over 4 GiB");
    let mut crc = flate2::Crc::new();
    crc.update(binary);
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(binary)?;
    let compressed = encoder.finish()?;
    let size = u32::try_from(binary.len()).map_err(|_| too_big())?;
    let csize = u32::try_from(compressed.len()).map_err(|_| too_big())?;
    // DOS date 2020-01-01 00:00: a fixed time keeps the archive (and its S3 key) reproducible.
    let (time, date): (u16, u16) = (0, ((2020 - 1980) << 9) | (1 << 5) | 1);

    let mut out = Vec::with_capacity(compressed.len() + 128);
    let common = |out: &mut Vec<u8>| {
        put16(out, 0); // flags
        put16(out, DEFLATE);
        put16(out, time);
        put16(out, date);
        put32(out, crc.sum());
        put32(out, csize);
        put32(out, size);
        put16(out, NAME.len() as u16);
        put16(out, 0); // extra field length
    };
    put32(&mut out, 0x0403_4b50);
    put16(&mut out, VERSION_NEEDED);
    common(&mut out);
    out.extend_from_slice(NAME);
    out.extend_from_slice(&compressed);

    let central_at = u32::try_from(out.len()).map_err(|_| too_big())?;
    put32(&mut out, 0x0201_4b50);
    put16(&mut out, MADE_BY_UNIX);
    put16(&mut out, VERSION_NEEDED);
    common(&mut out);
    put16(&mut out, 0); // comment length
    put16(&mut out, 0); // disk number
    put16(&mut out, 0); // internal attributes
    put32(&mut out, UNIX_MODE);
    put32(&mut out, 0); // local header offset
    out.extend_from_slice(NAME);
    let central_size = u32::try_from(out.len()).map_err(|_| too_big())? - central_at;

    put32(&mut out, 0x0605_4b50);
    put16(&mut out, 0);
    put16(&mut out, 0);
    put16(&mut out, 1);
    put16(&mut out, 1);
    put32(&mut out, central_size);
    put32(&mut out, central_at);
    put16(&mut out, 0);
    Ok(out)
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python's zipfile (an independent reader) extracts the same bytes with mode 0755.
    #[test]
    fn python_reads_it_back_executable() {
        let binary: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.zip");
        std::fs::write(&path, bootstrap_zip(&binary).unwrap()).unwrap();
        let script = "import sys,zipfile,hashlib\nz=zipfile.ZipFile(sys.argv[1])\nz.testzip()\ni=z.getinfo('bootstrap')\n\
                      print(oct(i.external_attr>>16), hashlib.sha256(z.read('bootstrap')).hexdigest())";
        let out = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        use sha2::Digest;
        let want = format!("0o100755 {:x}\n", sha2::Sha256::digest(&binary));
        assert_eq!(text, want);
    }
}

//! A file's BLAKE3 hash from the reads its decoding makes anyway: bytes
//! read in order from the start of the file are hashed as they pass, and
//! only what those reads skipped is read again at the end. Decoding reads
//! a TIFF's strips front to back, so hashing costs no second pass over the
//! file (that pass was ~4 % of a batch).
//!
//! Strips are not quite contiguous: each page's IFD sits between its
//! strips and the previous page's, and the decoder reads it (through its
//! buffered reader) before the strips, out of order. A read that starts
//! a short way past the hashed prefix therefore first reads and hashes
//! the gap (`MAX_GAP`); without that, the prefix stopped at the first
//! page's end and two thirds of a 3-channel file were read again.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Gaps up to this many bytes between the hashed prefix and a read are
/// read and hashed at once (IFDs and tag data between strips); larger
/// ones are left for [`HashingFile::digest`].
const MAX_GAP: u64 = 256 << 10;

/// Size and hash of a file's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    /// Length in bytes.
    pub bytes: u64,
    /// BLAKE3 hash, hex.
    pub blake3: String,
}

impl Digest {
    /// Size and hash of a file, or of a folder (an OME-Zarr image), read
    /// for them alone (none when unreadable).
    pub fn of_path(path: &std::path::Path) -> Option<Digest> {
        if path.is_dir() {
            Digest::of_folder(path)
        } else {
            Digest::of_file(path)
        }
    }

    /// Size and hash of a folder: its files' total size, and the BLAKE3
    /// of each file's path (relative, `/`-separated), length and content,
    /// in the order of their paths, every file included (Zarr v2's
    /// metadata files are dot-files); none when a file is unreadable.
    pub fn of_folder(path: &std::path::Path) -> Option<Digest> {
        let mut h = blake3::Hasher::new();
        let mut bytes = 0u64;
        for e in walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
        {
            let e = e.ok()?;
            if !e.file_type().is_file() {
                continue;
            }
            let rel = e.path().strip_prefix(path).ok()?;
            let name: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let file = Digest::of_file(e.path())?;
            h.update(name.join("/").as_bytes());
            h.update(&[0]);
            h.update(&file.bytes.to_le_bytes());
            h.update(file.blake3.as_bytes());
            bytes += file.bytes;
        }
        Some(Digest {
            bytes,
            blake3: h.finalize().to_hex().to_string(),
        })
    }

    /// Size and hash of a file read for them alone (none when unreadable).
    /// A large file (a mosaic) is read in big pieces, each hashed on every
    /// thread (BLAKE3's tree splits) while the next is read.
    pub fn of_file(path: &std::path::Path) -> Option<Digest> {
        use std::io::Seek;
        let mut f = std::fs::File::open(path).ok()?;
        let mut h = blake3::Hasher::new();
        if f.metadata().ok()?.len() < 2 * PIECE as u64 {
            // BLAKE3's own reader loop reads 64 KiB at a time, enough for
            // its SIMD to hash many 1 KiB chunks at once (std::io::copy's
            // 8 KiB reads made a 200 MB z-stack take 72 ms instead of 50).
            // The position after it is the byte count.
            let bytes = h
                .update_reader(&mut f)
                .and_then(|_| f.stream_position())
                .ok()?;
            return Some(Digest {
                bytes,
                blake3: h.finalize().to_hex().to_string(),
            });
        }
        let (mut this, mut next) = (vec![0u8; PIECE], vec![0u8; PIECE]);
        let mut n = fill(&mut f, &mut this).ok()?;
        let mut bytes = 0u64;
        while n > 0 {
            let (_, read) = rayon::join(|| h.update_rayon(&this[..n]), || fill(&mut f, &mut next));
            bytes += n as u64;
            n = read.ok()?;
            std::mem::swap(&mut this, &mut next);
        }
        Some(Digest {
            bytes,
            blake3: h.finalize().to_hex().to_string(),
        })
    }
}

/// The piece of a large file hashed while the next is read, bytes.
const PIECE: usize = 16 << 20;

/// Reads from `f` until `buf` is full or the file ends: the bytes read.
fn fill(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A file whose reads also feed a hasher, when there is one.
pub(crate) struct HashingFile {
    file: File,
    /// The file position.
    pos: u64,
    /// Every byte before this one has been hashed, in order.
    hashed: u64,
    hasher: Option<Box<blake3::Hasher>>,
}

impl HashingFile {
    /// Reads `file` through; hashes what passes when `hash`.
    pub(crate) fn new(file: File, hash: bool) -> HashingFile {
        HashingFile {
            file,
            pos: 0,
            hashed: 0,
            hasher: hash.then(|| Box::new(blake3::Hasher::new())),
        }
    }

    /// When the file position is at most [`MAX_GAP`] past the end of the
    /// hashed prefix, reads and hashes the bytes between, and puts the
    /// position back. A short read (the position is past the end of the
    /// file) hashes nothing.
    fn hash_gap(&mut self) -> std::io::Result<()> {
        let Some(h) = self.hasher.as_mut() else {
            return Ok(());
        };
        if self.pos <= self.hashed || self.pos - self.hashed > MAX_GAP {
            return Ok(());
        }
        let mut gap = vec![0u8; (self.pos - self.hashed) as usize];
        self.file.seek(SeekFrom::Start(self.hashed))?;
        let filled = self.file.read_exact(&mut gap);
        self.file.seek(SeekFrom::Start(self.pos))?;
        if filled.is_ok() {
            h.update(&gap);
            self.hashed = self.pos;
        }
        Ok(())
    }

    /// The digest of the whole file: the bytes not yet hashed are read
    /// (from the first byte no read has passed over) and hashed, and the
    /// file position is put back. `None` without a hasher.
    pub(crate) fn digest(&mut self) -> Option<std::io::Result<Digest>> {
        let mut h = *self.hasher.clone()?;
        let mut rest = || -> std::io::Result<Digest> {
            self.file.seek(SeekFrom::Start(self.hashed))?;
            // BLAKE3's own reader loop: 64 KiB reads, enough for its SIMD.
            h.update_reader(&mut self.file)?;
            let bytes = self.file.stream_position()?;
            self.file.seek(SeekFrom::Start(self.pos))?;
            Ok(Digest {
                bytes,
                blake3: h.finalize().to_hex().to_string(),
            })
        };
        Some(rest())
    }
}

impl Read for HashingFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.hash_gap()?;
        let n = self.file.read(buf)?;
        let end = self.pos + n as u64;
        if let Some(h) = self.hasher.as_mut() {
            // A read that reaches past the hashed prefix from within it
            // extends it.
            if self.pos <= self.hashed && end > self.hashed {
                h.update(&buf[(self.hashed - self.pos) as usize..n]);
                self.hashed = end;
            }
        }
        self.pos = end;
        Ok(n)
    }
}

impl Seek for HashingFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.file.seek(pos)?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn whole(data: &[u8]) -> Digest {
        Digest {
            bytes: data.len() as u64,
            blake3: blake3::hash(data).to_hex().to_string(),
        }
    }

    /// A file read for its digest alone, small or in pieces hashed while
    /// the next is read (a partial last piece included), is hashed whole.
    #[test]
    fn digest_of_a_file_read_alone() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1000, 2 * PIECE + 12_345, 3 * PIECE] {
            let path = dir.path().join(format!("{len}.bin"));
            let data: Vec<u8> = (0..len as u32).map(|i| (i ^ (i >> 11)) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            assert_eq!(Digest::of_file(&path).unwrap(), whole(&data), "{len} bytes");
        }
        assert!(Digest::of_file(&dir.path().join("none")).is_none());
    }

    /// Whatever the order of reads and seeks — in order, skipping ahead,
    /// going back, re-reading, stopping early — the digest is the whole
    /// file's, and the position after it is where reading left off.
    #[test]
    fn digest_is_the_whole_files_whatever_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&data)
            .unwrap();
        let plans: [&[(u64, usize)]; 6] = [
            &[],
            &[(0, 300_000)],
            &[(0, 8), (200_000, 50_000), (8, 100_000)],
            &[(0, 8), (250_000, 50_000), (100, 10), (8, 299_992)],
            &[(0, 1000), (500, 2000), (2500, 70_000), (10, 5)],
            &[(299_990, 10), (0, 100_000)],
        ];
        // Strip-sized reads front to back, as decoding makes them.
        let strips: Vec<(u64, usize)> = (0..100).map(|i| (i * 3000, 3000)).collect();
        let plans: Vec<&[(u64, usize)]> = plans.into_iter().chain([&strips[..]]).collect();
        for plan in plans {
            let mut f = HashingFile::new(File::open(&path).unwrap(), true);
            let mut at = 0;
            for &(offset, len) in plan {
                f.seek(SeekFrom::Start(offset)).unwrap();
                let mut buf = vec![0u8; len];
                f.read_exact(&mut buf).unwrap();
                assert_eq!(buf, data[offset as usize..offset as usize + len]);
                at = offset + len as u64;
            }
            assert_eq!(f.digest().unwrap().unwrap(), whole(&data), "{plan:?}");
            assert_eq!(f.stream_position().unwrap(), at);
            let mut next = [0u8; 1];
            if f.read(&mut next).unwrap() == 1 {
                assert_eq!(next[0], data[at as usize]);
            }
        }
        // Pages as a TIFF lays them out: each page's IFD (100 bytes) before
        // its strips and 900 bytes of other data after them; all IFDs read
        // first, then the strips front to back.
        // The gaps the IFDs leave are filled as the strips pass them, so
        // the whole file is hashed by the time the last strip is read.
        let page = 100_000u64;
        let mut tiff: Vec<(u64, usize)> = (0..3).map(|p| (p * page, 100)).collect();
        for p in 0..3 {
            tiff.extend((0..33).map(|i| (p * page + 100 + i * 3000, 3000)));
        }
        let mut f = HashingFile::new(File::open(&path).unwrap(), true);
        for &(offset, len) in &tiff {
            f.seek(SeekFrom::Start(offset)).unwrap();
            let mut buf = vec![0u8; len];
            f.read_exact(&mut buf).unwrap();
            assert_eq!(buf, data[offset as usize..offset as usize + len]);
        }
        assert_eq!(
            f.hashed,
            2 * page + 100 + 33 * 3000,
            "hashed as read, gaps included"
        );
        assert_eq!(f.digest().unwrap().unwrap(), whole(&data));
        // A read far past the prefix (an IFD at the end) is not a gap.
        let mut f = HashingFile::new(File::open(&path).unwrap(), true);
        f.seek(SeekFrom::Start(MAX_GAP + 10)).unwrap();
        f.read_exact(&mut [0u8; 10]).unwrap();
        assert_eq!(f.hashed, 0);
        assert_eq!(f.digest().unwrap().unwrap(), whole(&data));
        let mut plain = HashingFile::new(File::open(&path).unwrap(), false);
        assert!(plain.digest().is_none());
        let empty = dir.path().join("empty");
        std::fs::File::create(&empty).unwrap();
        let mut f = HashingFile::new(File::open(&empty).unwrap(), true);
        assert_eq!(f.digest().unwrap().unwrap(), whole(&[]));
    }
}

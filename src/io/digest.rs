//! A file's BLAKE3 hash from the reads its decoding makes anyway: bytes
//! read in order from the start of the file are hashed as they pass, and
//! only what those reads skipped is read again at the end. Decoding reads
//! a TIFF's strips front to back, so hashing costs no second pass over the
//! file (that pass was ~4 % of a batch).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Size and hash of a file's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    /// Length in bytes.
    pub bytes: u64,
    /// BLAKE3 hash, hex.
    pub blake3: String,
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
        let mut plain = HashingFile::new(File::open(&path).unwrap(), false);
        assert!(plain.digest().is_none());
        let empty = dir.path().join("empty");
        std::fs::File::create(&empty).unwrap();
        let mut f = HashingFile::new(File::open(&empty).unwrap(), true);
        assert_eq!(f.digest().unwrap().unwrap(), whole(&[]));
    }
}

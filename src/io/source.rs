//! One input, whatever its format: a TIFF file or an OME-Zarr folder,
//! read through the same calls.

use std::path::Path;

use super::digest::Digest;
use super::layout::FieldInfo;
use super::zarr::ZarrSource;
use super::{Field, Limits, LoadOptions, Stack, TiffSource};
use crate::error::LoadError;

/// An open input: a TIFF file ([`TiffSource`]) or an OME-Zarr image
/// folder ([`ZarrSource`]). (The TIFF decoder's buffers make its variant
/// larger; a source is opened once per file, so the size does not matter.)
#[allow(clippy::large_enum_variant)]
pub enum Source {
    /// A TIFF file of any layout the design lists.
    Tiff(TiffSource),
    /// An OME-Zarr (NGFF 0.4/0.5) image folder.
    Zarr(ZarrSource),
}

impl Source {
    /// Opens `path`: a folder as OME-Zarr, a file as TIFF.
    pub fn open(path: &Path, limits: Limits) -> Result<Source, LoadError> {
        if path.is_dir() {
            ZarrSource::open(path, limits).map(Source::Zarr)
        } else {
            TiffSource::open_with_limits(path, limits).map(Source::Tiff)
        }
    }

    /// As [`open`](Self::open), a TIFF hashed as it is read
    /// ([`TiffSource::open_hashed`]); a folder is hashed by
    /// [`digest`](Self::digest).
    pub fn open_hashed(path: &Path, limits: Limits) -> Result<Source, LoadError> {
        if path.is_dir() {
            Source::open(path, limits)
        } else {
            TiffSource::open_hashed(path, limits).map(Source::Tiff)
        }
    }

    /// Number of fields.
    pub fn field_count(&self) -> usize {
        match self {
            Source::Tiff(s) => s.field_count(),
            Source::Zarr(s) => s.field_count(),
        }
    }

    /// What field `i` is, before decoding.
    pub fn info(&self, i: usize) -> Option<&FieldInfo> {
        match self {
            Source::Tiff(s) => s.info(i),
            Source::Zarr(s) => s.info(i),
        }
    }

    /// Field `i`, each channel max-projected over z.
    pub fn load_field(&mut self, i: usize, opts: &LoadOptions) -> Result<Field, LoadError> {
        match self {
            Source::Tiff(s) => s.load_field(i, opts),
            Source::Zarr(s) => s.load_field(i, opts),
        }
    }

    /// The window `(x0, y0, w, h)` of field `i` (clipped to the plane),
    /// decoding only what it touches.
    pub fn load_window(
        &mut self,
        i: usize,
        opts: &LoadOptions,
        rect: (usize, usize, usize, usize),
    ) -> Result<Field, LoadError> {
        match self {
            Source::Tiff(s) => s.load_window(i, opts, rect),
            Source::Zarr(s) => s.load_window(i, opts, rect),
        }
    }

    /// Field `i`'s z-stack, whole, for the 3D analysis.
    pub fn load_stack(&mut self, i: usize, opts: &LoadOptions) -> Result<Stack, LoadError> {
        match self {
            Source::Tiff(s) => s.load_stack(i, opts),
            Source::Zarr(s) => s.load_stack(i, opts),
        }
    }

    /// A hashed TIFF's size and hash, from its reads and what they
    /// skipped ([`TiffSource::digest`]); none for an unhashed TIFF or a
    /// folder (hash it with [`Digest::of_path`]).
    pub fn digest(&mut self) -> Option<std::io::Result<Digest>> {
        match self {
            Source::Tiff(s) => s.digest(),
            Source::Zarr(_) => None,
        }
    }
}

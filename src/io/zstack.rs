//! A field's three channels kept whole, slice by slice, as the pages are
//! decoded (for the 3D analysis): 8- and 16-bit unsigned samples as 16-bit
//! volumes (exact, half the memory of floats), anything else as floats.

use tiff::decoder::{DecodingResult, DecodingSampleType};

use super::zmax::{take_samples, Sink, Target};
use super::Voxels;
use crate::error::LoadError;
use crate::volume::Volume;

/// The slices of a field's three channels (index: role).
pub(super) struct Slices {
    /// Samples per slice.
    n_px: usize,
    data: Data,
}

enum Data {
    U16([Vec<u16>; 3]),
    F32([Vec<f32>; 3]),
}

impl Slices {
    /// Three stacks of `depth` slices of `n_px` samples, zeroed (a slice no
    /// page reaches stays 0): 16-bit for 8/16-bit unsigned pages
    /// (`small_uint`), else floats.
    pub(super) fn new(small_uint: bool, n_px: usize, depth: usize) -> Slices {
        let n = n_px * depth;
        let data = if small_uint {
            Data::U16(std::array::from_fn(|_| vec![0; n]))
        } else {
            Data::F32(std::array::from_fn(|_| vec![0.0; n]))
        };
        Slices { n_px, data }
    }

    /// The three channels as `w` × `h` × `d` volumes (non-finite float
    /// samples are 0).
    pub(super) fn into_volumes(
        self,
        w: usize,
        h: usize,
        d: usize,
    ) -> Result<[Voxels; 3], LoadError> {
        fn volume<T: Copy>(
            w: usize,
            h: usize,
            d: usize,
            v: Vec<T>,
        ) -> Result<Volume<T>, LoadError> {
            Volume::from_vec(w, h, d, v)
                .ok_or_else(|| LoadError::Corrupt("stack size mismatch".into()))
        }
        let [a, b, c] = match self.data {
            Data::U16(v) => v.map(|c| volume(w, h, d, c).map(Voxels::U16)),
            Data::F32(v) => v.map(|mut c| {
                c.iter_mut()
                    .filter(|x| !x.is_finite())
                    .for_each(|x| *x = 0.0);
                volume(w, h, d, c).map(Voxels::F32)
            }),
        };
        Ok([a?, b?, c?])
    }
}

impl Sink for Slices {
    fn is_integer(&self) -> bool {
        matches!(self.data, Data::U16(_))
    }

    fn add(
        &mut self,
        role: usize,
        z: usize,
        buf: &DecodingResult,
        raw: &[u16],
        small: Option<(Option<DecodingSampleType>, usize)>,
        offset: usize,
        stride: usize,
    ) -> Result<(), String> {
        let range = z * self.n_px..(z + 1) * self.n_px;
        let dst = match &mut self.data {
            Data::U16(a) => Target::U16(&mut a[role][range]),
            Data::F32(a) => Target::F32(&mut a[role][range]),
        };
        take_samples(dst, buf, raw, small, offset, stride, true)
    }
}

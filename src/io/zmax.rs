//! The z max-projection of a field's three channels, page by page as the
//! pages are decoded: 8- and 16-bit unsigned samples into 16-bit planes
//! (exact, half the memory of floats), anything else into float planes.

use image::ImageBuffer;
use tiff::decoder::{DecodingResult, DecodingSampleType};

use super::Plane;
use crate::error::LoadError;
use crate::U16Image;

/// The running z maximum of a field's three channels (index: role).
pub(super) struct ZMax {
    planes: Planes,
    /// Which channels a slice has reached: a channel's first slice is
    /// copied in (integer planes are not zeroed first), the others
    /// max-projected onto it.
    seen: [bool; 3],
}

enum Planes {
    U16([Vec<u16>; 3]),
    F32([Vec<f32>; 3]),
}

/// Where the decoded samples of a field's pages go: the running z
/// max-projection ([`ZMax`]) or every slice ([`super::zstack::Slices`]).
pub(super) trait Sink {
    /// Whether samples are kept as 16-bit integers (pages are then
    /// decoded into the raw buffer).
    fn is_integer(&self) -> bool;

    /// Takes samples `offset, offset + stride, …` of a decoded page as
    /// slice `z` of channel `role`: from `raw` (`small`: its sample type
    /// and length in bytes) for integer sinks, else from `buf`.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        role: usize,
        z: usize,
        buf: &DecodingResult,
        raw: &[u16],
        small: Option<(Option<DecodingSampleType>, usize)>,
        offset: usize,
        stride: usize,
    ) -> Result<(), String>;
}

impl Sink for ZMax {
    fn is_integer(&self) -> bool {
        matches!(self.planes, Planes::U16(_))
    }

    /// Max-projects the samples into channel `role` (`z` does not matter:
    /// every slice lands on the same plane).
    fn add(
        &mut self,
        role: usize,
        _z: usize,
        buf: &DecodingResult,
        raw: &[u16],
        small: Option<(Option<DecodingSampleType>, usize)>,
        offset: usize,
        stride: usize,
    ) -> Result<(), String> {
        // A 16-bit plane is not zeroed first: its first slice is copied in.
        // Float planes start at −∞ and are always max-projected.
        let (dst, first) = match &mut self.planes {
            Planes::U16(a) => (Target::U16(&mut a[role]), !self.seen[role]),
            Planes::F32(a) => (Target::F32(&mut a[role]), false),
        };
        take_samples(dst, buf, raw, small, offset, stride, first)?;
        self.seen[role] = true;
        Ok(())
    }
}

/// Where one plane's samples go: 16-bit or float.
pub(super) enum Target<'a> {
    U16(&'a mut [u16]),
    F32(&'a mut [f32]),
}

/// Takes samples `offset, offset + stride, …` of a decoded page into
/// `dst`: from `raw` (`small`: its sample type and length in bytes) for a
/// 16-bit target, else from `buf`; with `first` copied in, else
/// max-projected onto what `dst` holds.
pub(super) fn take_samples(
    dst: Target,
    buf: &DecodingResult,
    raw: &[u16],
    small: Option<(Option<DecodingSampleType>, usize)>,
    offset: usize,
    stride: usize,
    first: bool,
) -> Result<(), String> {
    match (dst, small) {
        (Target::F32(a), _) => max_into(a, buf, offset, stride, first),
        (Target::U16(a), Some((Some(DecodingSampleType::U8), len))) => {
            let v: &[u8] = bytemuck::cast_slice(raw);
            max_samples(a, &v[..len], offset, stride, first, u16::from)
        }
        (Target::U16(a), Some((Some(DecodingSampleType::U16), len))) => {
            max_samples(a, &raw[..len / 2], offset, stride, first, |x| x)
        }
        (Target::U16(_), other) => Err(format!(
            "samples are {:?}, not the 8- or 16-bit unsigned integers the header declares",
            other.and_then(|(t, _)| t)
        )),
    }
}

impl ZMax {
    /// Three planes of `n_px` samples: 16-bit ones for 8/16-bit unsigned
    /// pages (`small_uint`), else float ones.
    pub(super) fn new(small_uint: bool, n_px: usize) -> ZMax {
        let planes = if small_uint {
            Planes::U16(std::array::from_fn(|_| crate::pool::take::<u16>(n_px)))
        } else {
            Planes::F32(std::array::from_fn(|_| vec![f32::NEG_INFINITY; n_px]))
        };
        ZMax {
            planes,
            seen: [false; 3],
        }
    }

    /// The projected channels as `w` × `h` planes: a channel no page
    /// reached is zeros, non-finite float samples are 0.
    pub(super) fn into_planes(self, w: usize, h: usize) -> Result<[Plane; 3], LoadError> {
        let mismatch = || LoadError::Corrupt("plane size mismatch".into());
        let planes: Vec<Plane> = match self.planes {
            Planes::U16(mut planes) => {
                for (plane, _) in planes.iter_mut().zip(self.seen).filter(|(_, s)| !s) {
                    plane.fill(0);
                }
                let mut out = Vec::with_capacity(3);
                for v in planes {
                    out.push(Plane::U16(
                        U16Image::from_raw(w as u32, h as u32, v).ok_or_else(mismatch)?,
                    ));
                }
                out
            }
            Planes::F32(planes) => {
                let mut out = Vec::with_capacity(3);
                for v in planes {
                    let v: Vec<f32> = v
                        .into_iter()
                        .map(|x| if x.is_finite() { x } else { 0.0 })
                        .collect();
                    out.push(Plane::F32(
                        ImageBuffer::from_raw(w as u32, h as u32, v).ok_or_else(mismatch)?,
                    ));
                }
                out
            }
        };
        planes
            .try_into()
            .map_err(|_| LoadError::Corrupt("three planes".into()))
    }
}

/// Max-projects samples `offset, offset + stride, …` of `v`, converted by
/// `f`, into `acc`; with `first`, copies them into it instead (whatever
/// `acc` held).
fn max_samples<A: Copy + PartialOrd, T: Copy>(
    acc: &mut [A],
    v: &[T],
    offset: usize,
    stride: usize,
    first: bool,
    f: impl Fn(T) -> A,
) -> Result<(), String> {
    let need = offset + (acc.len().saturating_sub(1)) * stride + 1;
    if v.len() < need {
        return Err(format!(
            "decoded {} samples, expected at least {need}",
            v.len()
        ));
    }
    // Stored whether or not it changed: a conditional store keeps the
    // loop scalar and, on noisy slices, mispredicted (it was a quarter of
    // a z-stack batch); this one vectorises. A NaN never replaces the
    // accumulator, as before.
    let v = &v[offset..];
    if first {
        each_sample(acc, v, stride, |a, x| *a = f(x));
    } else {
        each_sample(acc, v, stride, |a, x| {
            let x = f(x);
            *a = if x > *a { x } else { *a };
        });
    }
    Ok(())
}

/// `g(a, x)` for each element of `acc` with samples `0, stride, …` of `v`;
/// contiguous samples as a plain zip, which vectorises.
fn each_sample<A, T: Copy>(acc: &mut [A], v: &[T], stride: usize, mut g: impl FnMut(&mut A, T)) {
    if stride == 1 {
        for (a, &x) in acc.iter_mut().zip(v) {
            g(a, x);
        }
    } else {
        for (a, &x) in acc.iter_mut().zip(v.iter().step_by(stride)) {
            g(a, x);
        }
    }
}

/// Max-projects samples `offset, offset+stride, …` of `buf`, whatever its
/// sample type, into the float accumulator `acc`; with `first`, copies
/// them into it instead.
fn max_into(
    acc: &mut [f32],
    buf: &DecodingResult,
    offset: usize,
    stride: usize,
    first: bool,
) -> Result<(), String> {
    macro_rules! go {
        ($v:expr, $conv:expr) => {
            max_samples(acc, $v, offset, stride, first, $conv)?
        };
    }
    match buf {
        DecodingResult::U8(v) => go!(v, f32::from),
        DecodingResult::U16(v) => go!(v, f32::from),
        DecodingResult::U32(v) => go!(v, |x: u32| x as f32),
        DecodingResult::U64(v) => go!(v, |x: u64| x as f32),
        DecodingResult::I8(v) => go!(v, f32::from),
        DecodingResult::I16(v) => go!(v, f32::from),
        DecodingResult::I32(v) => go!(v, |x: i32| x as f32),
        DecodingResult::I64(v) => go!(v, |x: i64| x as f32),
        DecodingResult::F16(v) => go!(v, |x: half::f16| x.to_f32()),
        DecodingResult::F32(v) => go!(v, |x: f32| if x.is_nan() { 0.0 } else { x }),
        DecodingResult::F64(v) => go!(v, |x: f64| if x.is_nan() { 0.0 } else { x as f32 }),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_samples_keeps_the_larger_and_skips_nan() {
        // Contiguous samples.
        let mut acc = vec![3u16, 0, 7, 65535];
        max_samples(&mut acc, &[5u16, 0, 2, 1], 0, 1, false, |x| x).unwrap();
        assert_eq!(acc, [5, 0, 7, 65535]);
        // Every third sample from the second: 1, 4, 7, 10.
        let v: Vec<u8> = (0..11).map(|i| (i * 10) as u8).collect();
        let mut acc = vec![15u16, 15, 100, 0];
        max_samples(&mut acc, &v, 1, 3, false, u16::from).unwrap();
        assert_eq!(acc, [15, 40, 100, 100]);
        // The first slice replaces what the plane held (every third from
        // the first: 0, 3, 6, 9), the next is max-projected onto it.
        max_samples(&mut acc, &v, 0, 3, true, u16::from).unwrap();
        assert_eq!(acc, [0, 30, 60, 90]);
        max_samples(&mut acc, &v, 1, 3, false, u16::from).unwrap();
        assert_eq!(acc, [10, 40, 70, 100]);
        // A NaN sample leaves the accumulator as it was.
        let mut acc = vec![1f32, f32::NEG_INFINITY, 2.0];
        max_samples(&mut acc, &[f32::NAN, f32::NAN, 3.0], 0, 1, false, |x| x).unwrap();
        assert_eq!(acc[0], 1.0);
        assert_eq!(acc[1], f32::NEG_INFINITY);
        assert_eq!(acc[2], 3.0);
        // Too few samples for the plane: an error, the plane untouched.
        let mut acc = vec![9u16; 4];
        assert!(max_samples(&mut acc, &[1u16, 2, 3, 4, 5, 6], 0, 2, true, |x| x).is_err());
        assert_eq!(acc, [9; 4]);
    }
}

//! Gaussian smoothing of a plane, with σ in pixels (the kernel and its
//! row-streamed convolution are in [`super::gaussian`]).

use super::gaussian;
use crate::{FloatImage, Sample};

/// Gaussian smoothing with σ in pixels; σ below 0.3 px leaves the image as
/// it is (the kernel would be a single tap).
pub fn smooth(img: &FloatImage, sigma_px: f64) -> FloatImage {
    smooth_samples(img.as_raw(), img.width(), img.height(), sigma_px)
}

/// [`smooth`] of a `w`×`h` plane of any [`Sample`] type (a raw 16-bit
/// channel is read as floats, exactly).
pub(crate) fn smooth_samples<T: Sample>(src: &[T], w: u32, h: u32, sigma_px: f64) -> FloatImage {
    smooth_samples_then(src, w, h, sigma_px, |_, _| {})
}

/// [`smooth_samples`], calling `post(y, made)` as each smoothed row is
/// made, in order (a step fused into the pass): `made` is the output's
/// rows `0..=y`, row y just made and last, the rows before it as earlier
/// calls left them.
pub(crate) fn smooth_samples_then<T: Sample>(
    src: &[T],
    w: u32,
    h: u32,
    sigma_px: f64,
    mut post: impl FnMut(usize, &mut [f32]),
) -> FloatImage {
    let n = w as usize * h as usize;
    // Written whole either way: a pooled buffer, whatever it held.
    let mut v = crate::pool::take::<f32>(n);
    if sigma_px < 0.3 || src.len() < n {
        v.fill(0.0);
        for (o, &x) in v.iter_mut().zip(src) {
            *o = x.to_f32();
        }
        if w > 0 {
            for y in 0..h as usize {
                post(y, &mut v[..(y + 1) * w as usize]);
            }
        }
    } else {
        gaussian::blur_rows(src, &mut v, w as usize, h as usize, sigma_px as f32, post);
    }
    FloatImage::from_raw(w, h, v).unwrap_or_else(|| FloatImage::new(w, h))
}

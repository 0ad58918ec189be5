//! Segmentation kernels: smoothing, automatic thresholds, binary
//! morphology and connected-component labelling.

pub mod background;
pub mod distance;
pub mod gaussian;
pub mod label;
pub mod morph;
pub mod threshold;
pub mod watershed;

pub use label::label;
pub use morph::{fill_holes, open};
pub use threshold::{mask_at_least, otsu_threshold};

use crate::{FloatImage, Sample};

/// Gaussian smoothing with σ in pixels; σ below 0.3 px leaves the image as
/// it is (the kernel would be a single tap).
pub fn smooth(img: &FloatImage, sigma_px: f64) -> FloatImage {
    smooth_samples(img.as_raw(), img.width(), img.height(), sigma_px)
}

/// [`smooth`] of a `w`×`h` plane of any [`Sample`] type (a raw 16-bit
/// channel is read as floats, exactly).
pub fn smooth_samples<T: Sample>(src: &[T], w: u32, h: u32, sigma_px: f64) -> FloatImage {
    let n = w as usize * h as usize;
    if sigma_px < 0.3 {
        let v = src[..n.min(src.len())]
            .iter()
            .map(|&x| x.to_f32())
            .collect();
        FloatImage::from_raw(w, h, v).unwrap_or_else(|| FloatImage::new(w, h))
    } else {
        let mut out = FloatImage::new(w, h);
        gaussian::blur(src, &mut out, w as usize, h as usize, sigma_px as f32);
        out
    }
}

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

use crate::FloatImage;

/// Gaussian smoothing with σ in pixels; σ below 0.3 px leaves the image as
/// it is (the kernel would be a single tap).
pub fn smooth(img: &FloatImage, sigma_px: f64) -> FloatImage {
    if sigma_px < 0.3 {
        img.clone()
    } else {
        let (w, h) = (img.width(), img.height());
        let mut out = FloatImage::new(w, h);
        gaussian::blur(
            img.as_raw(),
            &mut out,
            w as usize,
            h as usize,
            sigma_px as f32,
        );
        out
    }
}

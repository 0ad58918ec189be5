//! Background correction of a channel before its threshold: the white
//! top-hat ([`super::top_hat`]), subtraction of a large Gaussian blur, or
//! none.

use serde::{Deserialize, Serialize};

use super::top_hat::top_hat_in_place;
use crate::FloatImage;

/// Which background correction to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// No correction.
    None,
    /// Subtract the grey-level opening by a square of half-side `radius`:
    /// removes every bright structure narrower than the square and keeps
    /// the rest, whatever the shape of the background.
    #[serde(alias = "top-hat", alias = "tophat")]
    TopHat,
    /// Subtract a Gaussian blur of σ = `radius`.
    Gaussian,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "none" | "off" => Ok(Method::None),
            "top_hat" | "tophat" | "rolling_ball" => Ok(Method::TopHat),
            "gaussian" => Ok(Method::Gaussian),
            _ => Err(format!(
                "unknown background method `{s}` (none, top-hat or gaussian)"
            )),
        }
    }
}

/// Applies `method`, with `radius_px` its top-hat half-side or Gaussian
/// σ in pixels.
pub fn correct(img: &FloatImage, method: Method, radius_px: f64) -> FloatImage {
    let mut out = img.clone();
    correct_in_place(&mut out, method, radius_px);
    out
}

/// [`correct`] in place.
pub(crate) fn correct_in_place(img: &mut FloatImage, method: Method, radius_px: f64) {
    match method {
        Method::None => {}
        Method::TopHat => top_hat_in_place(img, radius_px),
        Method::Gaussian => subtract_gaussian_in_place(img, radius_px),
    }
}

/// The image minus a Gaussian blur of σ = `sigma_px`, clamped at 0, in
/// place.
fn subtract_gaussian_in_place(img: &mut FloatImage, sigma_px: f64) {
    if sigma_px < 0.3 {
        return;
    }
    let bg = crate::segment::smooth::smooth(img, sigma_px);
    subtract(img, &bg);
}

fn subtract(img: &mut FloatImage, bg: &FloatImage) {
    for (a, b) in img.iter_mut().zip(bg.as_raw()) {
        *a = (*a - b).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// A large Gaussian subtracted (σ 15 px) takes away a ramp and keeps
    /// a small bright spot; `None` leaves the image as it is.
    #[test]
    fn gaussian_subtraction_removes_a_ramp_and_keeps_a_spot() {
        // A ramp of 2 per column and 1 per row, and a 5×5 spot of +500
        // whose top-left corner is (40, 30).
        let spot = |x: u32, y: u32| x.abs_diff(42) <= 2 && y.abs_diff(32) <= 2;
        let img = FloatImage::from_fn(80, 60, |x, y| {
            Luma([100.0 + (2 * x + y) as f32 + if spot(x, y) { 500.0 } else { 0.0 }])
        });
        let g = correct(&img, Method::Gaussian, 15.0);
        assert!(g.get_pixel(42, 32)[0] > 400.0);
        assert!(g.get_pixel(20, 40)[0] < 20.0);
        let mut again = img.clone();
        subtract_gaussian_in_place(&mut again, 15.0);
        assert_eq!(again, g);
        assert_eq!(correct(&img, Method::None, 15.0), img);
    }
}

//! Background correction: white top-hat (subtracting a grey-level opening,
//! the flat-structuring-element cousin of ImageJ's rolling ball) and
//! large-Gaussian subtraction.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

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
    TopHat,
    /// Subtract a Gaussian blur of σ = `radius`.
    Gaussian,
}

/// Running minimum (or maximum) over `[i - r, i + r]` of a strided line,
/// in O(n) with a monotonic deque.
fn running_extreme(src: &[f32], dst: &mut [f32], r: usize, max: bool, q: &mut VecDeque<usize>) {
    let n = src.len();
    q.clear();
    let better = |a: f32, b: f32| if max { a >= b } else { a <= b };
    let mut next = 0;
    for i in 0..n {
        let hi = (i + r).min(n - 1);
        while next <= hi {
            while q.back().is_some_and(|&b| better(src[next], src[b])) {
                q.pop_back();
            }
            q.push_back(next);
            next += 1;
        }
        while q.front().is_some_and(|&f| f + r < i) {
            q.pop_front();
        }
        dst[i] = q.front().map_or(src[i], |&f| src[f]);
    }
}

/// Grey-level erosion (`max = false`) or dilation by a (2r+1)² square.
pub fn square_filter(img: &FloatImage, r: usize, max: bool) -> FloatImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut tmp = vec![0f32; w * h];
    let mut q = VecDeque::new();
    for y in 0..h {
        running_extreme(
            &img.as_raw()[y * w..(y + 1) * w],
            &mut tmp[y * w..(y + 1) * w],
            r,
            max,
            &mut q,
        );
    }
    let mut out = vec![0f32; w * h];
    let (mut col, mut res) = (vec![0f32; h], vec![0f32; h]);
    for x in 0..w {
        for y in 0..h {
            col[y] = tmp[y * w + x];
        }
        running_extreme(&col, &mut res, r, max, &mut q);
        for y in 0..h {
            out[y * w + x] = res[y];
        }
    }
    FloatImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| img.clone())
}

/// White top-hat: the image minus its opening by a (2r+1)² square.
pub fn top_hat(img: &FloatImage, radius_px: f64) -> FloatImage {
    let r = radius_px.round().max(1.0) as usize;
    let opened = square_filter(&square_filter(img, r, false), r, true);
    subtract(img, &opened)
}

/// The image minus a Gaussian blur of σ = `sigma_px`, clamped at 0.
pub fn subtract_gaussian(img: &FloatImage, sigma_px: f64) -> FloatImage {
    if sigma_px < 0.3 {
        return img.clone();
    }
    let bg = imageproc::filter::gaussian_blur_f32(img, sigma_px as f32);
    subtract(img, &bg)
}

fn subtract(img: &FloatImage, bg: &FloatImage) -> FloatImage {
    let data = img
        .as_raw()
        .iter()
        .zip(bg.as_raw())
        .map(|(a, b)| (a - b).max(0.0))
        .collect();
    FloatImage::from_raw(img.width(), img.height(), data).unwrap_or_else(|| img.clone())
}

/// Applies `method` with its radius/σ in pixels.
pub fn correct(img: &FloatImage, method: Method, radius_px: f64) -> FloatImage {
    match method {
        Method::None => img.clone(),
        Method::TopHat => top_hat(img, radius_px),
        Method::Gaussian => subtract_gaussian(img, radius_px),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn running_min_max_by_hand() {
        let src = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0];
        let mut d = [0.0; 7];
        let mut q = VecDeque::new();
        running_extreme(&src, &mut d, 1, false, &mut q);
        assert_eq!(d, [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0]);
        running_extreme(&src, &mut d, 1, true, &mut q);
        assert_eq!(d, [3.0, 4.0, 4.0, 5.0, 9.0, 9.0, 9.0]);
        running_extreme(&src, &mut d, 10, true, &mut q);
        assert_eq!(d, [9.0; 7]);
    }

    #[test]
    fn top_hat_removes_a_ramp_and_keeps_a_spot() {
        // Ramp 100..~300 plus a 5×5 spot of +500.
        let img = FloatImage::from_fn(80, 60, |x, y| {
            let spot = if (40..45).contains(&x) && (30..35).contains(&y) {
                500.0
            } else {
                0.0
            };
            Luma([100.0 + 2.0 * x as f32 + 1.0 * y as f32 + spot])
        });
        let t = top_hat(&img, 6.0);
        // Away from the spot the ramp is gone (a linear ramp opens to
        // itself, give or take one step at the window ends).
        for (x, y) in [(5, 5), (70, 50), (20, 40), (60, 10)] {
            assert!(
                t.get_pixel(x, y)[0] <= 1e-3,
                "({x},{y}) = {}",
                t.get_pixel(x, y)[0]
            );
        }
        let v = t.get_pixel(42, 32)[0];
        assert!((v - 500.0).abs() < 30.0, "spot kept: {v}");
        let g = subtract_gaussian(&img, 15.0);
        assert!(g.get_pixel(42, 32)[0] > 400.0);
        assert!(g.get_pixel(20, 40)[0] < 20.0);
    }
}

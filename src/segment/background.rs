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

/// Running min/max over windows `[y - r, y + r]` (clamped) down every
/// column of a `w`-wide strip of rows, van Herk / Gil-Werman style: block
/// prefix and suffix extremes computed row by row, so the inner loops run
/// along memory and vectorise.
fn vertical_extreme(src: &[f32], w: usize, r: usize, max: bool) -> Vec<f32> {
    let h = src.len() / w.max(1);
    if h == 0 || w == 0 {
        return src.to_vec();
    }
    let id = if max {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    };
    let pick = |a: f32, b: f32| if max { a.max(b) } else { a.min(b) };
    let k = 2 * r + 1;
    let n = h + 2 * r; // padded rows
    let row = |y: usize| -> Option<&[f32]> {
        (y >= r && y - r < h).then(|| &src[(y - r) * w..(y - r + 1) * w])
    };
    let mut g = vec![id; n * w];
    let mut hh = vec![id; n * w];
    for y in 0..n {
        let (prev, cur) = g.split_at_mut(y * w);
        let cur = &mut cur[..w];
        match (row(y), y % k != 0) {
            (Some(f), true) => {
                for ((c, p), v) in cur.iter_mut().zip(&prev[(y - 1) * w..]).zip(f) {
                    *c = pick(*p, *v);
                }
            }
            (Some(f), false) => cur.copy_from_slice(f),
            (None, true) => cur.copy_from_slice(&prev[(y - 1) * w..y * w]),
            (None, false) => {}
        }
    }
    for y in (0..n).rev() {
        let (cur, next) = hh.split_at_mut((y + 1) * w);
        let cur = &mut cur[y * w..];
        match (row(y), (y + 1) % k != 0 && y + 1 < n) {
            (Some(f), true) => {
                for ((c, p), v) in cur.iter_mut().zip(&next[..w]).zip(f) {
                    *c = pick(*p, *v);
                }
            }
            (Some(f), false) => cur.copy_from_slice(f),
            (None, true) => cur.copy_from_slice(&next[..w]),
            (None, false) => {}
        }
    }
    let mut out = vec![0f32; h * w];
    for y in 0..h {
        // Window [y, y + 2r] in padded rows.
        let (a, b) = (&hh[y * w..(y + 1) * w], &g[(y + k - 1) * w..(y + k) * w]);
        for ((o, x), z) in out[y * w..(y + 1) * w].iter_mut().zip(a).zip(b) {
            *o = pick(*x, *z);
        }
    }
    out
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
    let out = vertical_extreme(&tmp, w, r, max);
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

/// Local mean at a large scale: a Gaussian of σ = `sigma_px`, computed on a
/// block-averaged copy and interpolated back (bilinear), so the cost does
/// not grow with σ.
pub fn large_scale_mean(img: &FloatImage, sigma_px: f64) -> FloatImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let k = ((sigma_px / 4.0).floor() as usize).clamp(1, w.min(h).max(1));
    let (sw, sh) = (w.div_ceil(k), h.div_ceil(k));
    let mut small = vec![0f32; sw * sh];
    let mut count = vec![0u32; sw * sh];
    for (i, &v) in img.as_raw().iter().enumerate() {
        let j = (i / w / k) * sw + (i % w) / k;
        small[j] += v;
        count[j] += 1;
    }
    for (s, c) in small.iter_mut().zip(&count) {
        *s /= (*c).max(1) as f32;
    }
    let small = FloatImage::from_raw(sw as u32, sh as u32, small).unwrap_or_else(|| img.clone());
    let sigma_small = sigma_px / k as f64;
    let blurred = if sigma_small >= 0.3 {
        imageproc::filter::gaussian_blur_f32(&small, sigma_small as f32)
    } else {
        small
    };
    // Bilinear interpolation back to full size (block centres at (k-1)/2).
    let at = |x: usize, y: usize| blurred.get_pixel(x as u32, y as u32)[0];
    FloatImage::from_fn(w as u32, h as u32, |x, y| {
        let fx = ((x as f64 - (k as f64 - 1.0) / 2.0) / k as f64).clamp(0.0, (sw - 1) as f64);
        let fy = ((y as f64 - (k as f64 - 1.0) / 2.0) / k as f64).clamp(0.0, (sh - 1) as f64);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(sw - 1), (y0 + 1).min(sh - 1));
        let (tx, ty) = ((fx - x0 as f64) as f32, (fy - y0 as f64) as f32);
        let top = at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx;
        let bottom = at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx;
        image::Luma([top * (1.0 - ty) + bottom * ty])
    })
}

/// Flat-field correction: divides each image, in place, by `profile`
/// (normalised to its maximum, floored at `floor`). With the
/// [`large_scale_mean`] of a stain present everywhere (DAPI) as profile,
/// that is the illumination.
pub fn flat_field(images: &mut [FloatImage], profile: &FloatImage, floor: f32) {
    let max = profile.as_raw().iter().cloned().fold(0f32, f32::max);
    if max.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return;
    }
    for img in images.iter_mut() {
        for (v, p) in img.iter_mut().zip(profile.as_raw()) {
            *v /= (p / max).max(floor);
        }
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
    fn vertical_pass_equals_the_deque_on_columns() {
        let mut rng = crate::synth::Rng::new(9);
        for (w, h, r) in [(5, 17, 2), (3, 4, 6), (7, 30, 1), (1, 1, 3)] {
            let src: Vec<f32> = (0..w * h).map(|_| rng.unit() as f32).collect();
            for max in [false, true] {
                let fast = vertical_extreme(&src, w, r, max);
                let mut q = VecDeque::new();
                for x in 0..w {
                    let col: Vec<f32> = (0..h).map(|y| src[y * w + x]).collect();
                    let mut d = vec![0.0; h];
                    running_extreme(&col, &mut d, r, max, &mut q);
                    for y in 0..h {
                        assert_eq!(fast[y * w + x], d[y], "w{w} h{h} r{r} max{max} ({x},{y})");
                    }
                }
            }
        }
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

    #[test]
    fn flat_field_evens_out_a_vignette() {
        // A uniform "DAPI" field under illumination falling to 40 % at the
        // corners; a P-cad spot in a corner and one at the centre.
        let illum = |x: u32, y: u32| {
            let r2 =
                ((x as f32 - 60.0).powi(2) + (y as f32 - 60.0).powi(2)) / (2.0 * 60.0f32.powi(2));
            1.0 - 0.6 * r2
        };
        let dapi = FloatImage::from_fn(120, 120, |x, y| Luma([100.0 * illum(x, y)]));
        let spot = |x: u32, y: u32| {
            if (x.abs_diff(60) < 3 && y.abs_diff(60) < 3) || (x < 6 && y < 6) {
                50.0
            } else {
                0.0
            }
        };
        let pcad = FloatImage::from_fn(120, 120, |x, y| Luma([(10.0 + spot(x, y)) * illum(x, y)]));
        let mut imgs = [pcad, dapi.clone()];
        flat_field(&mut imgs, &large_scale_mean(&dapi, 8.0), 0.2);
        let (corner, centre) = (imgs[0].get_pixel(3, 3)[0], imgs[0].get_pixel(60, 60)[0]);
        assert!(
            (corner / centre - 1.0).abs() < 0.15,
            "corner {corner} centre {centre}"
        );
        let flat = &imgs[1];
        assert!((flat.get_pixel(10, 10)[0] / flat.get_pixel(60, 60)[0] - 1.0).abs() < 0.1);
        // The large-scale mean of a constant is that constant.
        let c = large_scale_mean(&FloatImage::from_pixel(50, 30, Luma([7.0])), 20.0);
        assert!(c.as_raw().iter().all(|v| (v - 7.0).abs() < 1e-4));
    }
}

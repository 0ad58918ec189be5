//! Automatic global thresholds.

use image::{GrayImage, Luma};

use crate::FloatImage;

/// Histogram resolution for float data: fine enough for 12/16-bit images.
pub const BINS: usize = 1024;

/// Otsu's method on a histogram: the bin `k` maximising the between-class
/// variance of `[0..=k]` (background) and `[k+1..]` (foreground). The first
/// maximum wins; `None` when all counts sit in one bin.
pub fn otsu_bin(hist: &[u64]) -> Option<usize> {
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &h)| i as f64 * h as f64)
        .sum();
    let (mut w0, mut sum0) = (0u64, 0f64);
    let mut best: Option<(usize, f64)> = None;
    for (k, &h) in hist.iter().enumerate() {
        w0 += h;
        sum0 += k as f64 * h as f64;
        let w1 = total - w0;
        if w0 == 0 || w1 == 0 {
            continue;
        }
        let m0 = sum0 / w0 as f64;
        let m1 = (sum_all - sum0) / w1 as f64;
        let between = w0 as f64 * w1 as f64 * (m0 - m1) * (m0 - m1);
        if best.is_none_or(|(_, b)| between > b) {
            best = Some((k, between));
        }
    }
    best.map(|(k, _)| k)
}

/// Histogram of `data` over `[min, max]` in `bins` bins, with min and max.
pub fn histogram(data: &[f32], bins: usize) -> (Vec<u64>, f32, f32) {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for &v in data {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let mut hist = vec![0u64; bins];
    // Empty or flat data (NaN-free by construction of the loader).
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        if let Some(first) = hist.first_mut() {
            *first = data.len() as u64;
        }
        return (hist, lo, hi);
    }
    let scale = bins as f32 / (hi - lo);
    for &v in data {
        let b = (((v - lo) * scale) as usize).min(bins - 1);
        hist[b] += 1;
    }
    (hist, lo, hi)
}

/// Otsu threshold of a float image: the lower edge of the first foreground
/// bin. Pixels `>=` the returned value are foreground. A flat image gets
/// `+∞` (nothing is foreground).
pub fn otsu_threshold(img: &FloatImage) -> f32 {
    let (hist, lo, hi) = histogram(img.as_raw(), BINS);
    match otsu_bin(&hist) {
        Some(k) if hi > lo => lo + (k + 1) as f32 * (hi - lo) / BINS as f32,
        _ => f32::INFINITY,
    }
}

/// Binary mask (255 = foreground) of pixels `>= t`.
pub fn mask_at_least(img: &FloatImage, t: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    GrayImage::from_fn(w, h, |x, y| {
        Luma([if img.get_pixel(x, y)[0] >= t { 255 } else { 0 }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otsu_on_hand_made_histogram() {
        // Two clean modes: 0..=2 and 7..=9. Any k in 2..=6 separates them
        // perfectly; Otsu's first maximum is k = 2.
        let hist = [10, 20, 10, 0, 0, 0, 0, 5, 10, 5];
        assert_eq!(otsu_bin(&hist), Some(2));
        // Unequal, overlapping modes: worked by hand, the between-class
        // variance w0·w1·(m0−m1)² peaks at k = 3
        // (w0=60, m0=1.1667, w1=25, m1=6 → 35 041.7; k=2: 32 781.1; k=4: 31 040.4).
        let hist = [10, 20, 20, 10, 5, 5, 5, 5, 5, 0];
        assert_eq!(otsu_bin(&hist), Some(3));
        assert_eq!(otsu_bin(&[0, 7, 0]), None);
        assert_eq!(otsu_bin(&[]), None);
    }

    #[test]
    fn otsu_threshold_splits_two_levels() {
        let img = FloatImage::from_fn(10, 10, |x, _| Luma([if x < 7 { 100.0 } else { 1000.0 }]));
        let t = otsu_threshold(&img);
        assert!(t > 100.0 && t <= 1000.0, "{t}");
        let m = mask_at_least(&img, t);
        assert_eq!(m.pixels().filter(|p| p[0] == 255).count(), 30);
        let flat = FloatImage::from_pixel(4, 4, Luma([5.0]));
        assert_eq!(otsu_threshold(&flat), f32::INFINITY);
    }

    #[test]
    fn histogram_bounds() {
        let (h, lo, hi) = histogram(&[0.0, 1.0, 2.0, 3.0], 4);
        assert_eq!((lo, hi), (0.0, 3.0));
        assert_eq!(h, vec![1, 1, 1, 1]);
    }
}

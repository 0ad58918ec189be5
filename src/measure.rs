//! Per-object measurements over a label image.

use std::collections::HashMap;

use image::GrayImage;

use crate::{FloatImage, Labels};

/// Sums over one labelled object, from which its measurements follow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Region {
    /// The object's label.
    pub label: u32,
    /// Number of pixels.
    pub area_px: u64,
    sum_x: f64,
    sum_y: f64,
    sums: [f64; 3],
}

impl Region {
    /// Centroid (x = column, y = row), in pixels.
    pub fn centroid(&self) -> (f64, f64) {
        let a = self.area_px.max(1) as f64;
        (self.sum_x / a, self.sum_y / a)
    }

    /// Mean intensity of channel `c` (0 = P-cadherin, 1 = Sox9, 2 = DAPI).
    pub fn mean(&self, c: usize) -> f64 {
        self.sums[c] / self.area_px.max(1) as f64
    }
}

/// Measures every object `1..=n` of `labels` (index `label - 1`): area,
/// centroid and the mean of each channel.
pub fn regions(labels: &Labels, n: u32, channels: &[FloatImage; 3]) -> Vec<Region> {
    let mut out: Vec<Region> = (1..=n)
        .map(|label| Region {
            label,
            ..Region::default()
        })
        .collect();
    let w = labels.width() as usize;
    for (i, &l) in labels.as_raw().iter().enumerate() {
        if l == 0 {
            continue;
        }
        let Some(r) = out.get_mut(l as usize - 1) else {
            continue;
        };
        r.area_px += 1;
        r.sum_x += (i % w) as f64;
        r.sum_y += (i / w) as f64;
        for (s, ch) in r.sums.iter_mut().zip(channels) {
            *s += f64::from(ch.as_raw()[i]);
        }
    }
    out
}

/// Area of each object `1..=n` (index `label - 1`) and how many of its
/// pixels are foreground in `mask`.
pub fn area_and_overlap(labels: &Labels, n: u32, mask: &GrayImage) -> Vec<(u64, u64)> {
    let mut out = vec![(0u64, 0u64); n as usize];
    for (&l, &m) in labels.as_raw().iter().zip(mask.as_raw()) {
        if l == 0 {
            continue;
        }
        if let Some(e) = out.get_mut(l as usize - 1) {
            e.0 += 1;
            e.1 += u64::from(m != 0);
        }
    }
    out
}

/// For each object `1..=n_small` of `small`, the object of `big` holding
/// most of its pixels and how many (`(0, 0)` when it lies outside every
/// object of `big`). Ties go to the lower label.
pub fn majority_host(small: &Labels, n_small: u32, big: &Labels) -> Vec<(u32, u64)> {
    let mut counts: HashMap<(u32, u32), u64> = HashMap::new();
    for (&s, &b) in small.as_raw().iter().zip(big.as_raw()) {
        if s != 0 && b != 0 {
            *counts.entry((s, b)).or_default() += 1;
        }
    }
    let mut out = vec![(0u32, 0u64); n_small as usize];
    for ((s, b), c) in counts {
        if let Some(e) = out.get_mut(s as usize - 1) {
            if c > e.1 || (c == e.1 && b < e.0) {
                *e = (b, c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn region_sums() {
        #[rustfmt::skip]
        let l = Labels::from_raw(4, 2, vec![
            1, 1, 0, 2,
            1, 0, 0, 2,
        ]).unwrap();
        let ch = [
            FloatImage::from_fn(4, 2, |x, _| Luma([x as f32])),
            FloatImage::from_pixel(4, 2, Luma([2.0])),
            FloatImage::from_fn(4, 2, |_, y| Luma([y as f32 * 10.0])),
        ];
        let r = regions(&l, 2, &ch);
        assert_eq!(r[0].area_px, 3);
        let (cx, cy) = r[0].centroid();
        assert!((cx - 1.0 / 3.0).abs() < 1e-12 && (cy - 1.0 / 3.0).abs() < 1e-12);
        assert!((r[0].mean(0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(r[0].mean(1), 2.0);
        assert_eq!(r[1].centroid(), (3.0, 0.5));
        assert_eq!(r[1].mean(2), 5.0);
    }

    #[test]
    fn hosts_and_overlaps() {
        let small = Labels::from_raw(4, 1, vec![1, 1, 1, 2]).unwrap();
        let big = Labels::from_raw(4, 1, vec![0, 3, 3, 0]).unwrap();
        assert_eq!(majority_host(&small, 2, &big), vec![(3, 2), (0, 0)]);
        let mask = GrayImage::from_raw(4, 1, vec![255, 0, 255, 255]).unwrap();
        assert_eq!(area_and_overlap(&small, 2, &mask), vec![(3, 2), (1, 1)]);
    }
}

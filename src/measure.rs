//! Per-object measurements over a label image.

use crate::{Labels, Sample};

/// Sums over one labelled object, from which its measurements follow;
/// `N` channels are measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Region<const N: usize = 3> {
    /// The object's label.
    pub label: u32,
    /// Number of pixels.
    pub area_px: u64,
    sum_x: f64,
    sum_y: f64,
    sums: [f64; N],
}

impl<const N: usize> Region<N> {
    /// Centroid (x = column, y = row), in pixels.
    pub fn centroid(&self) -> (f64, f64) {
        let a = self.area_px.max(1) as f64;
        (self.sum_x / a, self.sum_y / a)
    }

    /// Mean intensity of channel `c`, in the order the channels were given.
    pub fn mean(&self, c: usize) -> f64 {
        self.sums[c] / self.area_px.max(1) as f64
    }
}

/// Measures every object `1..=n` of `labels` (index `label - 1`): area,
/// centroid and the mean of each of the given channels.
pub fn regions<const N: usize, T: Sample>(
    labels: &Labels,
    n: u32,
    channels: [&[T]; N],
) -> Vec<Region<N>> {
    let mut out: Vec<Region<N>> = (1..=n)
        .map(|label| Region {
            label,
            area_px: 0,
            sum_x: 0.0,
            sum_y: 0.0,
            sums: [0.0; N],
        })
        .collect();
    let w = labels.width() as usize;
    if w == 0 {
        return out;
    }
    for (y, row) in labels.as_raw().chunks_exact(w).enumerate() {
        let o = y * w;
        for (x, &l) in row.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let Some(r) = out.get_mut(l as usize - 1) else {
                continue;
            };
            r.area_px += 1;
            r.sum_x += x as f64;
            r.sum_y += y as f64;
            for (s, ch) in r.sums.iter_mut().zip(channels) {
                *s += f64::from(ch[o + x].to_f32());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FloatImage;
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
        let r = regions(
            &l,
            2,
            [&ch[0], &ch[1], &ch[2]].map(|c| c.as_raw().as_slice()),
        );
        // One channel alone gives the same sums for it.
        let single = regions(&l, 2, [ch[2].as_raw().as_slice()]);
        assert_eq!(single[1].mean(0), r[1].mean(2));
        assert_eq!(single[0].centroid(), r[0].centroid());
        assert_eq!(r[0].area_px, 3);
        let (cx, cy) = r[0].centroid();
        assert!((cx - 1.0 / 3.0).abs() < 1e-12 && (cy - 1.0 / 3.0).abs() < 1e-12);
        assert!((r[0].mean(0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(r[0].mean(1), 2.0);
        assert_eq!(r[1].centroid(), (3.0, 0.5));
        assert_eq!(r[1].mean(2), 5.0);
    }
}

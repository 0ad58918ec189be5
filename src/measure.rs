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
    if T::INTEGER {
        integer_sums(labels.as_raw(), w, channels, &mut out);
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

/// [`regions`]' sums for integer samples, a run of equal labels at a
/// time, in integers. Every partial sum of the per-pixel f64 additions is
/// then an integer below 2⁵³ (at most 2³² pixels, coordinates and values
/// below 2¹⁶ each), so each was exact: the integer totals, converted once,
/// are the same f64 values, whatever the order.
fn integer_sums<const N: usize, T: Sample>(
    labels: &[u32],
    w: usize,
    channels: [&[T]; N],
    out: &mut [Region<N>],
) {
    // Per object: pixels, sum of x, sum of y, sum of each channel.
    let mut acc = vec![(0u64, 0u64, 0u64, [0u64; N]); out.len()];
    for (y, row) in labels.chunks_exact(w).enumerate() {
        let o = y * w;
        let mut x = 0;
        while x < w {
            let l = row[x];
            if l == 0 {
                // Over the background, 16 labels at a time where possible.
                x += 1;
                while x + 16 <= w && row[x..x + 16].iter().all(|&v| v == 0) {
                    x += 16;
                }
                continue;
            }
            let end = row[x..].iter().position(|&v| v != l).map_or(w, |i| x + i);
            if let Some(a) = acc.get_mut(l as usize - 1) {
                let n = (end - x) as u64;
                a.0 += n;
                // x + (x + 1) + … + (end − 1).
                a.1 += (x as u64 + end as u64 - 1) * n / 2;
                a.2 += n * y as u64;
                for (s, ch) in a.3.iter_mut().zip(channels) {
                    *s += ch[o + x..o + end]
                        .iter()
                        .map(|v| u64::from(v.to_u32()))
                        .sum::<u64>();
                }
            }
            x = end;
        }
    }
    for (r, (n, sx, sy, sums)) in out.iter_mut().zip(acc) {
        r.area_px = n;
        r.sum_x = sx as f64;
        r.sum_y = sy as f64;
        for (d, s) in r.sums.iter_mut().zip(sums) {
            *d = s as f64;
        }
    }
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

    /// Integer samples, summed a run at a time in integers, give the same
    /// regions bit for bit as the same values summed pixel by pixel in
    /// f64 (the float path), with runs at row ends, single pixels, labels
    /// out of range and values up to 65 535.
    #[test]
    fn integer_runs_equal_pixel_by_pixel_sums() {
        let mut rng = crate::synth::Rng::new(33);
        let (w, h) = (53u32, 37u32);
        let mut lab = Vec::new();
        while lab.len() < (w * h) as usize {
            let l = if rng.unit() < 0.4 {
                0
            } else {
                1 + (rng.unit() * 7.0) as u32
            };
            let run = 1 + (rng.unit() * 40.0) as usize;
            lab.extend(std::iter::repeat_n(l, run));
        }
        lab.truncate((w * h) as usize);
        let labels = Labels::from_raw(w, h, lab).unwrap();
        let chans: Vec<Vec<u16>> = (0..3)
            .map(|c| {
                (0..w * h)
                    .map(|_| {
                        if c == 2 {
                            65535
                        } else {
                            (rng.unit() * 65535.0) as u16
                        }
                    })
                    .collect()
            })
            .collect();
        let floats: Vec<Vec<f32>> = chans
            .iter()
            .map(|c| c.iter().map(|&v| f32::from(v)).collect())
            .collect();
        for n in [7, 5, 0] {
            let ints = regions(&labels, n, [&chans[0][..], &chans[1][..], &chans[2][..]]);
            let flts = regions(&labels, n, [&floats[0][..], &floats[1][..], &floats[2][..]]);
            assert_eq!(ints, flts, "n {n}");
            assert_eq!(ints.len(), n as usize);
        }
        let all = regions(&labels, 7, [&chans[0][..]]);
        assert!(all.iter().all(|r| r.area_px > 0));
    }
}

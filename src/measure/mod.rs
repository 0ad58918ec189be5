//! Per-object measurements over a label image.

pub mod stack;

use crate::cache::prefetch_range;
use crate::{Crop, Labels, Sample};

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

    /// This object and `other` (disjoint) measured as one, under this
    /// one's label.
    pub fn merged(&self, other: &Region<N>) -> Region<N> {
        Region {
            label: self.label,
            area_px: self.area_px + other.area_px,
            sum_x: self.sum_x + other.sum_x,
            sum_y: self.sum_y + other.sum_y,
            sums: std::array::from_fn(|c| self.sums[c] + other.sums[c]),
        }
    }
}

/// Measures every object `1..=n` of `labels` (index `label - 1`): area,
/// centroid and the mean of each of the given channels.
pub fn regions<const N: usize, T: Sample>(
    labels: &Labels,
    n: u32,
    channels: [&[T]; N],
) -> Vec<Region<N>> {
    let w = labels.width() as usize;
    let whole = Crop {
        x0: 0,
        y0: 0,
        w,
        h: labels.height() as usize,
    };
    regions_of_crop(1, n, labels.as_raw(), whole, channels, w)
}

/// [`Region`] `label` of the object made of `runs` (row, first column,
/// one past the last; any order) in images w wide: the sums [`regions`]
/// takes, without a label image.
///
/// Compiled also for AVX2 and AVX-512, chosen at run time (the same
/// operations in the same order in every version: the same result).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
pub(crate) fn region_of_runs<const N: usize, T: Sample>(
    label: u32,
    runs: &mut [(u32, u32, u32)],
    channels: [&[T]; N],
    w: usize,
) -> Region<N> {
    // Raster order, as `regions` adds the pixels (it matters to float
    // sums only).
    if !T::INTEGER {
        runs.sort_unstable();
    }
    let mut acc = Sums::default();
    for (i, &(y, l, r)) in runs.iter().enumerate() {
        // The samples of the run four on are asked for (the channels
        // come from memory; 44 % off this loop's time in a field).
        if let Some(&(py, pl, pr)) = runs.get(i + 4) {
            let o = py as usize * w;
            for ch in channels {
                prefetch_range(ch, o + pl as usize, o + pr as usize);
            }
        }
        acc.add_run(y as usize, l as usize, r as usize, channels, w);
    }
    acc.region::<T>(label)
}

/// [`Region`]s `first_label..first_label + k` of the objects labelled
/// `1..=k` in `lab`, a crop `cw` wide whose top-left pixel is (x0, y0) in
/// images w wide: the sums [`regions`] takes, from the crop alone (the
/// whole image is the crop [`regions`] measures). Labels above k are
/// passed over.
///
/// Compiled also for AVX2 and AVX-512, chosen at run time (the same
/// operations in the same order in every version: the same result).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
pub(crate) fn regions_of_crop<const N: usize, T: Sample>(
    first_label: u32,
    k: u32,
    lab: &[u32],
    crop: Crop,
    channels: [&[T]; N],
    w: usize,
) -> Vec<Region<N>> {
    let Crop { x0, y0, w: cw, .. } = crop;
    let mut acc: Vec<Sums<N>> = (0..k).map(|_| Sums::default()).collect();
    if cw > 0 {
        for (cy, row) in lab.chunks_exact(cw).enumerate() {
            // The channels' samples two rows on are asked for (at the
            // crop's end, two rows below it for nothing; past the image,
            // none).
            let o = (y0 + cy + 2) * w + x0;
            for ch in channels {
                prefetch_range(ch, o, o + cw);
            }
            let mut x = 0;
            while x < cw {
                let l = row[x];
                if l == 0 {
                    // Over the background, 16 labels at a time where possible.
                    x += 1;
                    while x + 16 <= cw && row[x..x + 16].iter().all(|&v| v == 0) {
                        x += 16;
                    }
                    continue;
                }
                let end = row[x..].iter().position(|&v| v != l).map_or(cw, |i| x + i);
                if let Some(a) = acc.get_mut(l as usize - 1) {
                    a.add_run(y0 + cy, x0 + x, x0 + end, channels, w);
                }
                x = end;
            }
        }
    }
    acc.iter()
        .zip(first_label..)
        .map(|(a, label)| a.region::<T>(label))
        .collect()
}

/// One object's sums as its runs come, in raster order: in integers for
/// coordinates and integer samples (every partial sum of the per-pixel
/// f64 path is then an integer below 2⁵³ — at most 2³² pixels,
/// coordinates and values below 2¹⁶ each — so each was exact: the
/// integer totals, converted once, are the same f64 values, whatever the
/// order), float samples pixel by pixel in f64.
struct Sums<const N: usize> {
    n: u64,
    /// Sums of x and of y.
    xy: (u64, u64),
    int: [u64; N],
    float: [f64; N],
}

impl<const N: usize> Default for Sums<N> {
    fn default() -> Self {
        Sums {
            n: 0,
            xy: (0, 0),
            int: [0; N],
            float: [0.0; N],
        }
    }
}

impl<const N: usize> Sums<N> {
    /// Adds pixels `x0..x1` of row y of images w wide.
    #[inline]
    fn add_run<T: Sample>(
        &mut self,
        y: usize,
        x0: usize,
        x1: usize,
        channels: [&[T]; N],
        w: usize,
    ) {
        let o = y * w;
        let n = (x1 - x0) as u64;
        self.n += n;
        // x0 + (x0 + 1) + … + (x1 − 1), and y n times: coordinates sum
        // exactly in integers for either kind of sample.
        self.xy.0 += (x0 as u64 + x1 as u64 - 1) * n / 2;
        self.xy.1 += n * y as u64;
        if T::INTEGER {
            for (s, ch) in self.int.iter_mut().zip(channels) {
                *s += ch[o + x0..o + x1]
                    .iter()
                    .map(|v| u64::from(v.to_u32()))
                    .sum::<u64>();
            }
        } else {
            for x in x0..x1 {
                for (s, ch) in self.float.iter_mut().zip(channels) {
                    *s += f64::from(ch[o + x].to_f32());
                }
            }
        }
    }

    /// The region, for sums of samples of type `T`.
    fn region<T: Sample>(&self, label: u32) -> Region<N> {
        let sums = if T::INTEGER {
            self.int.map(|s| s as f64)
        } else {
            self.float
        };
        let (sum_x, sum_y) = (self.xy.0 as f64, self.xy.1 as f64);
        Region {
            label,
            area_px: self.n,
            sum_x,
            sum_y,
            sums,
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

    /// An object measured from its runs (in any order) or from a crop of
    /// its labels gives the region `regions` gives from the label image,
    /// bit for bit, for 16-bit and float samples (float sums are taken in
    /// raster order either way).
    #[test]
    fn runs_and_crops_measure_as_the_label_image() {
        let mut rng = crate::synth::Rng::new(8);
        let (w, h) = (47usize, 31usize);
        let lab: Vec<u32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if rng.unit() < 0.3 || x < 5 {
                    0
                } else {
                    1 + (x / 12 + 4 * (y / 8)) as u32
                }
            })
            .collect();
        let n = *lab.iter().max().unwrap();
        let labels = Labels::from_raw(w as u32, h as u32, lab.clone()).unwrap();
        let ints: Vec<Vec<u16>> = (0..3)
            .map(|_| (0..w * h).map(|_| (rng.unit() * 65535.0) as u16).collect())
            .collect();
        let floats: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..w * h).map(|_| rng.unit() as f32 * 1000.0).collect())
            .collect();
        fn check<T: Sample>(lab: &[u32], labels: &Labels, n: u32, ch: [&[T]; 3], w: usize) {
            let want = regions(labels, n, ch);
            for l in 1..=n {
                // Its runs, last row first.
                let mut runs = Vec::new();
                for (y, row) in lab.chunks_exact(w).enumerate().rev() {
                    let mut x = 0;
                    while x < w {
                        let end = row[x..]
                            .iter()
                            .position(|&v| v != row[x])
                            .map_or(w, |i| x + i);
                        if row[x] == l {
                            runs.push((y as u32, x as u32, end as u32));
                        }
                        x = end;
                    }
                }
                let got = region_of_runs(l, &mut runs, ch, w);
                assert_eq!(got, want[l as usize - 1], "label {l}");
            }
            // A crop holding labels 5..=8 renumbered 1..=4 (others 0).
            let (x0, y0, cw, chh) = (2usize, 7usize, w - 2, 10usize);
            let crop: Vec<u32> = (0..cw * chh)
                .map(|i| {
                    let v = lab[(y0 + i / cw) * w + x0 + i % cw];
                    if (5..=8).contains(&v) {
                        v - 4
                    } else {
                        0
                    }
                })
                .collect();
            let at = Crop {
                x0,
                y0,
                w: cw,
                h: chh,
            };
            let got = regions_of_crop(5, 4, &crop, at, ch, w);
            // Labels 5..=8 lie wholly inside the crop.
            assert_eq!(got[..], want[4..8]);
        }
        check(
            &lab,
            &labels,
            n,
            [&ints[0][..], &ints[1][..], &ints[2][..]],
            w,
        );
        check(
            &lab,
            &labels,
            n,
            [&floats[0][..], &floats[1][..], &floats[2][..]],
            w,
        );
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

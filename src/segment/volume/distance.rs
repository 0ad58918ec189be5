//! Exact anisotropic Euclidean distance transform of a 3D mask in linear
//! time: the 1-D lower envelope of parabolas along x, then y, then z,
//! each axis with its own voxel spacing (Felzenszwalb & Huttenlocher,
//! "Distance Transforms of Sampled Functions", 2012; the separable
//! approach of Saito & Toriwaki 1994).

use crate::segment::distance::dt1d;
use crate::volume::Volume;

/// Stands for "no background along this line" (as in the 2D transform).
const INF: f64 = 1e20;

/// Squared Euclidean distance, in the unit of `spacing` squared, from
/// every foreground (non-zero) voxel to the nearest background voxel; 0
/// on the background. `spacing` is the distance between neighbouring
/// voxels along (x, y, z), e.g. µm. Outside the volume is not background:
/// with no background voxel at all, every value is huge (1e20).
pub fn squared_edt(mask: &Volume<u8>, spacing: [f64; 3]) -> Volume<f32> {
    let (w, h, d) = (mask.width, mask.height, mask.depth);
    // Along x, two scans per row: the distance to the nearest background
    // voxel in the row (exact for a binary line, no envelope needed).
    let mut g: Vec<f64> = vec![0.0; w * h * d];
    let s2 = spacing[0] * spacing[0];
    for (src, dst) in mask.data.chunks(w).zip(g.chunks_mut(w)) {
        row_distances(src, dst, s2);
    }
    let mut lines = Lines::new(w.max(h).max(d));
    // Along y: the columns of each slice, BLOCK neighbouring x at once.
    for z in 0..d {
        let slice = &mut g[z * w * h..(z + 1) * w * h];
        lines.pass(slice, w, h, w, spacing[1]);
    }
    // Along z: every (x, y), BLOCK neighbouring ones at once.
    lines.pass(&mut g, w * h, d, w * h, spacing[2]);
    mask.same_shape(g.into_iter().map(|v| v as f32).collect())
}

/// How many neighbouring lines [`Lines::pass`] gathers at once: their
/// values at one position are contiguous in memory, so a block of them is
/// read and written a cache line at a time (a line at a time would touch
/// a new cache line for every value).
const BLOCK: usize = 16;

/// Scratch for the envelope passes along y and z.
struct Lines {
    /// BLOCK lines, each contiguous.
    block: Vec<f64>,
    out: Vec<f64>,
    v: Vec<usize>,
    z: Vec<f64>,
}

impl Lines {
    fn new(longest: usize) -> Lines {
        Lines {
            block: vec![0.0; BLOCK * longest],
            out: vec![0.0; longest],
            v: vec![0; longest],
            z: vec![0.0; longest + 1],
        }
    }

    /// The lower envelope along an axis of `g`: `count` lines (line `i`
    /// starts at `i`) of `n` values `stride` apart, spacing `s`.
    fn pass(&mut self, g: &mut [f64], count: usize, n: usize, stride: usize, s: f64) {
        for first in (0..count).step_by(BLOCK) {
            let b = BLOCK.min(count - first);
            for k in 0..n {
                let row = &g[k * stride + first..k * stride + first + b];
                for (i, &x) in row.iter().enumerate() {
                    self.block[i * n + k] = x;
                }
            }
            for i in 0..b {
                let line = &mut self.block[i * n..(i + 1) * n];
                // All background: stays 0.
                if line.iter().all(|&x| x == 0.0) {
                    continue;
                }
                dt1d(line, &mut self.out[..n], &mut self.v, &mut self.z, s * s);
                for (x, &o) in line.iter_mut().zip(&self.out[..n]) {
                    *x = o.min(INF);
                }
            }
            for k in 0..n {
                let row = &mut g[k * stride + first..k * stride + first + b];
                for (i, x) in row.iter_mut().enumerate() {
                    *x = self.block[i * n + k];
                }
            }
        }
    }
}

/// Squared distances (`s2` = spacing²) along one binary row from each
/// voxel to the nearest background voxel in it; [`INF`] where the row has
/// none.
fn row_distances(src: &[u8], dst: &mut [f64], s2: f64) {
    let n = src.len();
    // Steps to the nearest background to the left (n + 1 for none), then
    // the nearer of that and the steps to the right.
    let far = (n + 1) as f64;
    let mut last: Option<usize> = None;
    for (k, (&m, o)) in src.iter().zip(dst.iter_mut()).enumerate() {
        if m == 0 {
            last = Some(k);
        }
        *o = last.map_or(far, |l| (k - l) as f64);
    }
    last = None;
    for k in (0..n).rev() {
        if src[k] == 0 {
            last = Some(k);
        }
        if let Some(l) = last {
            dst[k] = dst[k].min((l - k) as f64);
        }
    }
    for o in dst.iter_mut() {
        *o = if *o >= far { INF } else { s2 * *o * *o };
    }
}

/// Euclidean distance (not squared), in the unit of `spacing`.
pub fn edt(mask: &Volume<u8>, spacing: [f64; 3]) -> Volume<f32> {
    let mut d = squared_edt(mask, spacing);
    d.data.iter_mut().for_each(|v| *v = v.sqrt());
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::volume::random_mask;
    use proptest::prelude::*;

    /// Brute force: the nearest background voxel by trying them all.
    fn squared_edt_reference(mask: &Volume<u8>, s: [f64; 3]) -> Vec<f64> {
        let (w, h, d) = (mask.width, mask.height, mask.depth);
        let bg: Vec<(usize, usize, usize)> = (0..d)
            .flat_map(|z| (0..h).flat_map(move |y| (0..w).map(move |x| (x, y, z))))
            .filter(|&(x, y, z)| mask.get(x, y, z) == 0)
            .collect();
        let mut out = vec![0.0; w * h * d];
        for z in 0..d {
            for y in 0..h {
                for x in 0..w {
                    if mask.get(x, y, z) == 0 {
                        continue;
                    }
                    let dist = |a: usize, b: usize, sp: f64| (a as f64 - b as f64) * sp;
                    out[mask.index(x, y, z)] = bg
                        .iter()
                        .map(|&(a, b, c)| {
                            dist(x, a, s[0]).powi(2)
                                + dist(y, b, s[1]).powi(2)
                                + dist(z, c, s[2]).powi(2)
                        })
                        .fold(INF, f64::min);
                }
            }
        }
        out
    }

    #[test]
    fn a_slab_one_voxel_thick_in_z_is_one_z_step_from_the_background() {
        // 5×5×3, the middle slice foreground, spacing 0.5 µm in x–y and
        // 2 µm in z: the nearest background is the slice above or below.
        let mut m = Volume::filled(5, 5, 3, 0u8);
        m.slice_mut(1).fill(1);
        let d = edt(&m, [0.5, 0.5, 2.0]);
        assert!(d.slice(1).iter().all(|&v| v == 2.0));
        assert!(d.slice(0).iter().all(|&v| v == 0.0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn equals_the_nearest_background_voxel(
            (w, h, d) in (1usize..8, 1usize..8, 1usize..6),
            seed in any::<u64>(),
            sz in 0.3f64..4.0,
            sxy in 0.2f64..1.5,
        ) {
            let m = random_mask((w, h, d), seed, |s| s % 5 != 0);
            let fast = squared_edt(&m, [sxy, sxy, sz]);
            let slow = squared_edt_reference(&m, [sxy, sxy, sz]);
            for (a, b) in fast.data.iter().zip(&slow) {
                if *b >= INF {
                    prop_assert!(*a as f64 >= INF * 0.99);
                } else {
                    prop_assert!((*a as f64 - b).abs() <= 1e-4 * b.max(1.0), "{a} vs {b}");
                }
            }
        }
    }
}

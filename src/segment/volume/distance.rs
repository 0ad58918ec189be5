//! Exact anisotropic Euclidean distance transform of a 3D mask in linear
//! time: the 1-D lower envelope of parabolas along x, then y, then z,
//! each axis with its own voxel spacing (Felzenszwalb & Huttenlocher,
//! "Distance Transforms of Sampled Functions", 2012; the separable
//! approach of Saito & Toriwaki 1994).

use crate::segment::distance::dt1d;
use crate::volume::Volume;

/// Stands for "no background along this line" (as in the 2D transform).
const INF: f32 = 1e20;

/// Squared Euclidean distance, in the unit of `spacing` squared, from
/// every foreground (non-zero) voxel to the nearest background voxel; 0
/// on the background. `spacing` is the distance between neighbouring
/// voxels along (x, y, z), e.g. µm. Outside the volume is not background:
/// with no background voxel at all, every value is huge (1e20).
pub fn squared_edt(mask: &Volume<u8>, spacing: [f64; 3]) -> Volume<f32> {
    let (w, h, d) = (mask.width, mask.height, mask.depth);
    // Along x, two scans per row: the distance to the nearest background
    // voxel in the row (exact for a binary line, no envelope needed).
    let mut g: Vec<f32> = vec![0.0; w * h * d];
    let s2 = (spacing[0] * spacing[0]) as f32;
    for (src, dst) in mask.data.chunks(w).zip(g.chunks_mut(w)) {
        row_distances(src, dst, s2);
    }
    let mut lines = Lines::new(w.max(h).max(d));
    // Along y: the columns of each slice, neighbouring x a block at a time.
    for z in 0..d {
        let slice = &mut g[z * w * h..(z + 1) * w * h];
        lines.pass(slice, w, h, w, spacing[1] as f32);
    }
    // Along z: every (x, y), neighbouring ones a block at a time.
    lines.pass(&mut g, w * h, d, w * h, spacing[2] as f32);
    mask.same_shape(g)
}

/// [`squared_edt`] where it is at most `reach`² (`reach` in the unit of
/// `spacing`), and some value above `reach`² elsewhere: for questions
/// such as "within `reach` of the background?" (a dilation by a ball),
/// which look no farther. Each pass along y and z takes the least of
/// `g + s²·Δ·Δ` over the offsets Δ that can stay within `reach` (and one
/// more), the f32 sums the envelope of [`squared_edt`] forms, so its
/// values are those of the envelope, or one rounding step lower where
/// the envelope's breakpoints pick a parabola that ties (tested against
/// brute force). Rows of neighbours, not lines one voxel at a time: every
/// step is a contiguous, vectorisable min–add, faster than the envelope
/// when the reach spans few voxels.
pub fn squared_edt_within(mask: &Volume<u8>, spacing: [f64; 3], reach: f64) -> Volume<f32> {
    let (w, h, d) = (mask.width, mask.height, mask.depth);
    let mut g: Vec<f32> = vec![0.0; w * h * d];
    let s2 = (spacing[0] * spacing[0]) as f32;
    for (src, dst) in mask.data.chunks(w).zip(g.chunks_mut(w)) {
        row_distances(src, dst, s2);
    }
    // The offsets that can stay within reach along an axis (one more, so
    // that rounding in (Δ·s)² cannot hide a value at reach²), and their
    // costs as the envelope computes them: s² · Δ · Δ.
    let costs = |s: f64, n: usize| -> Vec<f32> {
        let steps = ((reach / s).floor() as usize + 1).min(n.saturating_sub(1));
        let s = s as f32;
        let s2 = s * s;
        (0..=steps).map(|k| s2 * k as f32 * k as f32).collect()
    };
    let mut out = vec![0f32; w * h * d];
    // Along y, within each slice: rows of w values.
    let cy = costs(spacing[1], h);
    for (src, dst) in g.chunks(w * h).zip(out.chunks_mut(w * h)) {
        nearest_rows(src, dst, w, &cy);
    }
    // Along z: slices of w · h values.
    let cz = costs(spacing[2], d);
    nearest_rows(&out, &mut g, w * h, &cz);
    mask.same_shape(g)
}

/// `dst` row i = the least over |k| < costs.len() (rows i ± k inside) of
/// `costs[|k|]` + `src` row i + k, each row `len` values.
fn nearest_rows(src: &[f32], dst: &mut [f32], len: usize, costs: &[f32]) {
    let rows = src.len() / len.max(1);
    for (i, out) in dst.chunks_mut(len).enumerate() {
        out.copy_from_slice(&src[i * len..(i + 1) * len]);
        for (k, &c) in costs.iter().enumerate().skip(1) {
            for j in [i.checked_sub(k), Some(i + k).filter(|&j| j < rows)]
                .into_iter()
                .flatten()
            {
                let other = &src[j * len..(j + 1) * len];
                out.iter_mut()
                    .zip(other)
                    .for_each(|(o, &x)| *o = o.min(c + x));
            }
        }
    }
}

/// How many values [`Lines::pass`] gathers at once (256 KiB): as many
/// neighbouring lines as fit. Their values at one position are contiguous
/// in memory, so each visit to a position reads a long contiguous stretch
/// (a line at a time would touch a new cache line, and along z a new
/// page, for every value).
const BLOCK_VALUES: usize = 32 * 1024;

/// Scratch for the envelope passes along y and z.
struct Lines {
    /// A block of lines, each contiguous.
    block: Vec<f32>,
    out: Vec<f32>,
    v: Vec<usize>,
    z: Vec<f32>,
}

impl Lines {
    fn new(longest: usize) -> Lines {
        Lines {
            block: Vec::new(),
            out: vec![0.0; longest],
            v: vec![0; longest],
            z: vec![0.0; longest + 1],
        }
    }

    /// The lower envelope along an axis of `g`: `count` lines (line `i`
    /// starts at `i`) of `n` values `stride` apart, spacing `s`.
    fn pass(&mut self, g: &mut [f32], count: usize, n: usize, stride: usize, s: f32) {
        let lines = (BLOCK_VALUES / n.max(1)).clamp(8, count.max(8));
        self.block.resize(lines * n, 0.0);
        for first in (0..count).step_by(lines) {
            let b = lines.min(count - first);
            for k in 0..n {
                let row = &g[k * stride + first..k * stride + first + b];
                for (i, &x) in row.iter().enumerate() {
                    self.block[i * n + k] = x;
                }
            }
            for i in 0..b {
                let line = &mut self.block[i * n..(i + 1) * n];
                // Each run of foreground on its own, with the background
                // voxel at either end: no parabola beyond a background
                // voxel (value 0) can be lower inside the run than that
                // voxel's, so the envelope over the run and its two ends
                // is the envelope over the line. Background stays 0.
                let mut x = 0;
                while x < n {
                    if line[x] == 0.0 {
                        x += 1;
                        continue;
                    }
                    let a = x;
                    while x < n && line[x] != 0.0 {
                        x += 1;
                    }
                    let (lo, hi) = (a.saturating_sub(1), (x + 1).min(n));
                    let out = &mut self.out[..hi - lo];
                    dt1d(&line[lo..hi], out, &mut self.v, &mut self.z, s * s);
                    for (y, &o) in line[a..x].iter_mut().zip(&out[a - lo..x - lo]) {
                        *y = o.min(INF);
                    }
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
fn row_distances(src: &[u8], dst: &mut [f32], s2: f32) {
    let n = src.len();
    // Steps to the nearest background to the left (n + 1 for none), then
    // the nearer of that and the steps to the right.
    let far = (n + 1) as f32;
    let mut last: Option<usize> = None;
    for (k, (&m, o)) in src.iter().zip(dst.iter_mut()).enumerate() {
        if m == 0 {
            last = Some(k);
        }
        *o = last.map_or(far, |l| (k - l) as f32);
    }
    last = None;
    for k in (0..n).rev() {
        if src[k] == 0 {
            last = Some(k);
        }
        if let Some(l) = last {
            dst[k] = dst[k].min((l - k) as f32);
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
                        .fold(f64::from(INF), f64::min);
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
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn within_reach_it_equals_the_nearest_background_voxel(
            (w, h, d) in (1usize..14, 1usize..14, 1usize..9),
            seed in any::<u64>(),
            sz in 0.3f64..4.0,
            sxy in 0.2f64..1.5,
            reach in 0.0f64..6.0,
            sparse in any::<bool>(),
        ) {
            // Mostly foreground (the distance to a few background voxels),
            // or mostly background.
            let m = random_mask((w, h, d), seed, |s| (s % 7 != 0) == sparse);
            let slow = squared_edt_reference(&m, [sxy, sxy, sz]);
            let exact = squared_edt(&m, [sxy, sxy, sz]);
            let near = squared_edt_within(&m, [sxy, sxy, sz], reach);
            let r2 = reach * reach;
            for ((a, b), e) in near.data.iter().zip(&slow).zip(&exact.data) {
                if *b <= r2 {
                    // The least of the same f32 sums the envelope forms:
                    // never above its value (which can pick a parabola
                    // one rounding step too high), as close to the truth.
                    prop_assert!(a <= e, "{} above the envelope's {}", a, e);
                    prop_assert!((*a as f64 - b).abs() <= 1e-6 * b.max(1e-3), "{} vs {}", a, b);
                } else {
                    prop_assert!(*a as f64 > r2 * (1.0 - 1e-6), "{} within reach, exact {}", a, b);
                }
            }
        }
        #[test]
        fn equals_the_nearest_background_voxel(
            (w, h, d) in (1usize..12, 1usize..12, 1usize..8),
            seed in any::<u64>(),
            sz in 0.3f64..4.0,
            sxy in 0.2f64..1.5,
        ) {
            let m = random_mask((w, h, d), seed, |s| s % 5 != 0);
            let fast = squared_edt(&m, [sxy, sxy, sz]);
            let slow = squared_edt_reference(&m, [sxy, sxy, sz]);
            for (a, b) in fast.data.iter().zip(&slow) {
                if *b >= f64::from(INF) {
                    prop_assert!(*a >= INF * 0.99);
                } else {
                    prop_assert!((*a as f64 - b).abs() <= 1e-4 * b.max(1.0), "{a} vs {b}");
                }
            }
        }
    }
}

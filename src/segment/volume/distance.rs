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
    let longest = w.max(h).max(d);
    let mut line = vec![0.0; longest];
    let mut out = vec![0.0; longest];
    let (mut v, mut z) = (vec![0usize; longest], vec![0.0; longest + 1]);
    let mut pass = |g: &mut [f64],
                    n: usize,
                    stride: usize,
                    starts: &mut dyn Iterator<Item = usize>,
                    s: f64| {
        for start in starts {
            let mut any = false;
            for k in 0..n {
                line[k] = g[start + k * stride];
                any |= line[k] != 0.0;
            }
            // All background: stays 0.
            if !any {
                continue;
            }
            dt1d(&line[..n], &mut out[..n], &mut v, &mut z, s * s);
            for k in 0..n {
                g[start + k * stride] = out[k].min(INF);
            }
        }
    };
    // Along y: every column of every slice.
    pass(
        &mut g,
        h,
        w,
        &mut (0..d).flat_map(|z| (0..w).map(move |x| z * w * h + x)),
        spacing[1],
    );
    // Along z: every (x, y).
    pass(&mut g, d, w * h, &mut (0..w * h), spacing[2]);
    mask.same_shape(g.into_iter().map(|v| v as f32).collect())
}

/// Squared distances (`s2` = spacing²) along one binary row from each
/// voxel to the nearest background voxel in it; [`INF`] where the row has
/// none.
fn row_distances(src: &[u8], dst: &mut [f64], s2: f64) {
    let n = src.len();
    let far = n + 1;
    // Steps to the nearest background to the left, then to the right.
    let mut steps = vec![far; n];
    let mut last: Option<usize> = None;
    for (k, &m) in src.iter().enumerate() {
        if m == 0 {
            last = Some(k);
        }
        steps[k] = last.map_or(far, |l| k - l);
    }
    last = None;
    for k in (0..n).rev() {
        if src[k] == 0 {
            last = Some(k);
        }
        if let Some(l) = last {
            steps[k] = steps[k].min(l - k);
        }
    }
    for (o, &st) in dst.iter_mut().zip(&steps) {
        *o = if st >= far {
            INF
        } else {
            s2 * (st * st) as f64
        };
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

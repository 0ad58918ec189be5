//! Watershed markers: the peaks of the distance transform, deepest first,
//! one per object at least, others only when deep and far enough from
//! the ones kept (the h-maxima idea with a separation rule, as
//! scikit-image's `peak_local_max` with `min_distance`).

use std::collections::HashMap;

use super::SplitParams;

/// Peaks of the distance map `dist` (w wide) used as markers, into
/// `accepted`: local maxima (8-neighbour) of the objects `comp` (labels,
/// 0 background), strongest first; each object's maximum always, others
/// only when at least `min_radius_px` deep and `min_separation_px` away
/// from the ones accepted. `cand` is scratch.
pub(super) fn markers_into(
    dist: &[f32],
    comp: &[u32],
    w: usize,
    p: &SplitParams,
    cand: &mut Vec<usize>,
    accepted: &mut Vec<usize>,
) {
    local_maxima(dist, comp, w, cand);
    // Deepest first, then raster order: distances are never negative, so
    // their bit patterns order as their values do (as `total_cmp` would).
    cand.sort_unstable_by_key(|&i| (std::cmp::Reverse(dist[i].to_bits()), i));
    accepted.clear();
    let sep2 = p.min_separation_px * p.min_separation_px;
    // A candidate joins its object's accepted markers when it is the first,
    // or deep enough and far enough from all of them.
    let joins = |i: usize, mine: &[usize]| {
        mine.is_empty()
            || f64::from(dist[i]) >= p.min_radius_px
                && mine.iter().all(|&j| {
                    let (dx, dy) = (
                        (i % w) as f64 - (j % w) as f64,
                        (i / w) as f64 - (j / w) as f64,
                    );
                    dx * dx + dy * dy >= sep2
                })
    };
    let first = cand.first().map(|&i| comp[i]);
    if cand.iter().all(|&i| Some(comp[i]) == first) {
        // One object (a crop): its accepted markers are all of them.
        for &i in cand.iter() {
            if joins(i, accepted) {
                accepted.push(i);
            }
        }
        return;
    }
    let mut by_comp: HashMap<u32, Vec<usize>> = HashMap::new();
    for &i in cand.iter() {
        let mine = by_comp.entry(comp[i]).or_default();
        if joins(i, mine) {
            mine.push(i);
            accepted.push(i);
        }
    }
}

/// The local maxima (no 8-neighbour greater) of `dist` among the object
/// pixels (non-zero `comp`, w wide), in raster order, into `out`.
///
/// Compiled also for AVX2 and AVX-512, chosen at run time (the same
/// operations in the same order in every version: the same result).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn local_maxima(dist: &[f32], comp: &[u32], w: usize, out: &mut Vec<usize>) {
    out.clear();
    if w == 0 {
        return;
    }
    let h = dist.len() / w;
    let row = |y: usize| &dist[y * w..(y + 1) * w];
    // Distances are never NaN, so a plain comparison is the maximum (one
    // instruction a lane; `f32::max` spends three on NaN).
    let max = |a: f32, b: f32| if a > b { a } else { b };
    // The greatest of each column's three rows, then of three such columns
    // (the 3 × 3 neighbourhood, clamped at the crop's edges): no neighbour
    // is greater than d exactly when that maximum is not.
    let (mut up_down, mut around) = (vec![0f32; w], vec![0f32; w]);
    let mut flags = vec![0u8; w];
    for y in 0..h {
        let (above, here, below) = (row(y.saturating_sub(1)), row(y), row((y + 1).min(h - 1)));
        for (((m, &a), &b), &c) in up_down.iter_mut().zip(above).zip(here).zip(below) {
            *m = max(max(a, b), c);
        }
        around[0] = max(up_down[0], up_down[1.min(w - 1)]);
        for (o, t) in around[1..].iter_mut().zip(up_down.windows(3)) {
            *o = max(max(t[0], t[1]), t[2]);
        }
        if w > 1 {
            around[w - 1] = max(up_down[w - 2], up_down[w - 1]);
        }
        // Which are maxima, a vectorised pass into bytes; then their
        // positions, eight bytes at a time (few pixels are).
        for ((f, &c), (&m, &d)) in flags
            .iter_mut()
            .zip(&comp[y * w..(y + 1) * w])
            .zip(around.iter().zip(here))
        {
            *f = u8::from(c != 0 && m <= d);
        }
        for (k, eight) in flags.chunks(8).enumerate() {
            let mut bytes = [0u8; 8];
            bytes[..eight.len()].copy_from_slice(eight);
            let mut bits = u64::from_le_bytes(bytes);
            while bits != 0 {
                let at = bits.trailing_zeros() as usize / 8;
                out.push(y * w + k * 8 + at);
                bits &= !(0xff << (at * 8));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Local maxima against brute force: plateaus, maxima at the crop's
    /// edges, one-row and one-column crops, background pixels skipped.
    #[test]
    fn local_maxima_equal_brute_force() {
        let mut rng = crate::synth::Rng::new(61);
        for (w, h) in [(1usize, 1usize), (1, 9), (9, 1), (2, 5), (17, 13), (40, 3)] {
            for _ in 0..20 {
                // Few levels, so equal neighbours (plateaus) are common.
                let dist: Vec<f32> = (0..w * h)
                    .map(|_| (rng.unit() * 4.0).floor() as f32 / 2.0)
                    .collect();
                let comp: Vec<u32> = (0..w * h).map(|_| u32::from(rng.unit() < 0.8)).collect();
                let mut got = Vec::new();
                local_maxima(&dist, &comp, w, &mut got);
                let want: Vec<usize> = (0..w * h)
                    .filter(|&i| {
                        let (x, y) = ((i % w) as i64, (i / w) as i64);
                        comp[i] != 0
                            && (-1..=1).all(|dy| {
                                (-1..=1).all(|dx| {
                                    let (nx, ny) = (x + dx, y + dy);
                                    !(0..w as i64).contains(&nx)
                                        || !(0..h as i64).contains(&ny)
                                        || dist[ny as usize * w + nx as usize] <= dist[i]
                                })
                            })
                    })
                    .collect();
                assert_eq!(got, want, "{w}×{h}");
            }
        }
    }
}

//! Marker-controlled flooding of one object's distance map: Meyer's
//! ordered flooding (F. Meyer, "Un algorithme optimal de ligne de
//! partage des eaux", 1991; Beucher & Meyer 1993) from the markers,
//! deepest level first.

/// One object to flood, in its crop: the distance map (px) and the mask
/// (non-zero: the object), both `w` × `h`.
#[derive(Clone, Copy)]
pub(super) struct Basin<'a> {
    /// Distance of each pixel to the background, px.
    pub dist: &'a [f32],
    /// The object's pixels (non-zero).
    pub mask: &'a [u8],
    /// Width, px.
    pub w: usize,
    /// Height, px.
    pub h: usize,
}

/// Marker-controlled flooding of the set pixels of one object of `mask`
/// from its `seeds`, whose labels are already in `lab` (0 elsewhere in
/// the object), deepest first, 4-connected. `buckets` is scratch (left
/// empty).
///
/// A bucket queue keyed by distance in 1/8 px: O(1) per pixel, deepest
/// first, first in first out within a bucket (deterministic). A pixel
/// reached from a lower level than its own waits at that lower level
/// (Meyer's ordered flooding), so the level only ever goes down: the
/// buckets above it are done with, and each bucket is a plain `Vec` read
/// from a moving head. The same order of pushes and pops as the
/// reference (`flood_reference`, in `reference.rs`).
pub(super) fn flood(
    basin: Basin<'_>,
    seeds: &[usize],
    lab: &mut [u32],
    buckets: &mut Vec<Vec<(u32, u32)>>,
) {
    let Basin { mask, w, h, .. } = basin;
    if w == 0 || h == 0 {
        return;
    }
    // An object whose crop has a background border (every crop but those
    // the image's edges clip) has all four neighbours of every pixel in
    // the crop: no bounds to check.
    let rows = || mask.chunks_exact(w);
    let bordered = h >= 2
        && w >= 2
        && mask[..w].iter().all(|&v| v == 0)
        && mask[(h - 1) * w..].iter().all(|&v| v == 0)
        && rows().all(|r| r[0] == 0 && r[w - 1] == 0);
    if bordered {
        flood_in::<true>(basin, seeds, lab, buckets);
    } else {
        flood_in::<false>(basin, seeds, lab, buckets);
    }
}

/// [`flood`], with neighbours unchecked when `BORDERED` (no set pixel on
/// the crop's edge).
#[inline(always)]
fn flood_in<const BORDERED: bool>(
    basin: Basin<'_>,
    seeds: &[usize],
    lab: &mut [u32],
    buckets: &mut Vec<Vec<(u32, u32)>>,
) {
    let Basin { dist, mask, w, h } = basin;
    let key = |i: usize| (dist[i].max(0.0) * 8.0 + 0.5) as usize;
    let neighbours = |i: usize| {
        if BORDERED {
            [Some(i - 1), Some(i + 1), Some(i - w), Some(i + w)]
        } else {
            crate::segment::label::four_neighbours(i, w, h)
        }
    };
    // The seeds' neighbours are queued at their own levels; every later
    // push is at or below the level then current.
    let top = seeds
        .iter()
        .flat_map(|&i| neighbours(i))
        .flatten()
        .filter(|&j| mask[j] != 0 && lab[j] == 0)
        .map(key)
        .max();
    let Some(top) = top else {
        return;
    };
    if buckets.len() < top + 1 {
        buckets.resize_with(top + 1, Vec::new);
    }
    // A pixel is queued once: the first push is also the first pop, since
    // the level never rises. QUEUED marks it meanwhile.
    const QUEUED: u32 = u32::MAX;
    let (mut cur, mut queued) = (0usize, 0usize);
    for &i in seeds {
        for j in neighbours(i).into_iter().flatten() {
            if mask[j] != 0 && lab[j] == 0 {
                let k = key(j);
                buckets[k].push((j as u32, lab[i]));
                lab[j] = QUEUED;
                cur = cur.max(k);
                queued += 1;
            }
        }
    }
    let mut head = 0;
    while queued > 0 {
        let Some(&(idx, label)) = buckets[cur].get(head) else {
            // This level is done: nothing is pushed above the current one.
            buckets[cur].clear();
            cur = cur.saturating_sub(1);
            head = 0;
            continue;
        };
        head += 1;
        queued -= 1;
        let idx = idx as usize;
        lab[idx] = label;
        for j in neighbours(idx).into_iter().flatten() {
            if mask[j] != 0 && lab[j] == 0 {
                let k = key(j).min(cur);
                buckets[k].push((j as u32, label));
                lab[j] = QUEUED;
                queued += 1;
            }
        }
    }
    buckets[cur].clear();
}

#[cfg(test)]
mod tests {
    use super::super::reference::{blobs, flood_reference, markers, params};
    use super::*;
    use crate::segment::label::label;
    use image::{GrayImage, Luma};

    /// The bucket-vector flood (both its bordered and its bounds-checked
    /// form) labels every pixel as the reference's `VecDeque` flood does,
    /// on masks cut by the image border and on the same masks framed by
    /// background.
    #[test]
    fn flood_equals_the_reference() {
        for seed in 0..10 {
            let m = blobs(seed, 71, 59);
            let framed = GrayImage::from_fn(73, 61, |x, y| {
                let inside = (1..72).contains(&x) && (1..60).contains(&y);
                Luma([if inside {
                    m.get_pixel(x - 1, y - 1)[0]
                } else {
                    0
                }])
            });
            for mask in [m, framed] {
                let (w, h) = (mask.width() as usize, mask.height() as usize);
                let dist = crate::segment::distance::edt(&mask);
                let seeds = markers(&dist, &label(&mask).0, w, &params());
                assert!(seeds.len() >= 3, "seed {seed}");
                let mut start = vec![0u32; w * h];
                for (k, &i) in seeds.iter().enumerate() {
                    start[i] = k as u32 + 1;
                }
                let (mut a, mut again, mut b) = (start.clone(), start.clone(), start);
                let mut buckets = Vec::new();
                let basin = Basin {
                    dist: &dist,
                    mask: mask.as_raw(),
                    w,
                    h,
                };
                flood(basin, &seeds, &mut a, &mut buckets);
                assert!(buckets.iter().all(Vec::is_empty));
                // Reused scratch gives the same again.
                flood(basin, &seeds, &mut again, &mut buckets);
                flood_reference(basin, &seeds, &mut b, &mut Vec::new());
                assert_eq!(a, b, "seed {seed}, {w} wide");
                assert_eq!(again, b, "seed {seed}, {w} wide, reused");
            }
        }
    }
}

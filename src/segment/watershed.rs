//! Splitting touching objects: distance-transform peaks as markers, a
//! marker-controlled watershed on the distance map, and a neck test that
//! undoes splits through wide necks (so elongated single objects stay
//! whole).

use std::collections::{HashMap, VecDeque};

use image::GrayImage;

use super::distance::edt;
use super::label::{find, finish, label};
use crate::Labels;

/// How to split touching objects, in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitParams {
    /// Markers closer than this (px) to a stronger marker are dropped.
    pub min_separation_px: f64,
    /// Markers need an inscribed radius of at least this (px) — each
    /// object's strongest marker is always kept.
    pub min_radius_px: f64,
    /// A watershed line is kept only where the neck's half-width is below
    /// `neck_ratio` × the inscribed radius of the smaller body.
    pub neck_ratio: f64,
}

/// Peaks of the distance map used as markers: local maxima (8-neighbour),
/// strongest first, each object's maximum always, others only when at least
/// `min_radius_px` deep and `min_separation_px` away from accepted ones.
pub fn markers(dist: &[f32], comps: &Labels, w: usize, p: &SplitParams) -> Vec<usize> {
    let h = dist.len() / w.max(1);
    let comp = comps.as_raw();
    let mut cand: Vec<usize> = (0..dist.len())
        .filter(|&i| {
            if comp[i] == 0 {
                return false;
            }
            let (x, y) = (i % w, i / w);
            let d = dist[i];
            let (x0, x1) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let (y0, y1) = (y.saturating_sub(1), (y + 1).min(h - 1));
            for ny in y0..=y1 {
                let row = &dist[ny * w + x0..=ny * w + x1];
                if row.iter().any(|&v| v > d) {
                    return false;
                }
            }
            true
        })
        .collect();
    cand.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
    let mut accepted: Vec<usize> = Vec::new();
    let mut by_comp: HashMap<u32, Vec<usize>> = HashMap::new();
    let sep2 = p.min_separation_px * p.min_separation_px;
    for i in cand {
        let c = comp[i];
        let mine = by_comp.entry(c).or_default();
        let ok = if mine.is_empty() {
            true
        } else {
            f64::from(dist[i]) >= p.min_radius_px
                && mine.iter().all(|&j| {
                    let (dx, dy) = (
                        (i % w) as f64 - (j % w) as f64,
                        (i / w) as f64 - (j / w) as f64,
                    );
                    dx * dx + dy * dy >= sep2
                })
        };
        if ok {
            mine.push(i);
            accepted.push(i);
        }
    }
    accepted
}

/// Splits the 8-connected objects of `mask` where they touch through a
/// narrow neck. Returns labels 1..=n in raster order of first pixel, and n.
pub fn split(mask: &GrayImage, p: &SplitParams) -> (Labels, u32) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let (comps, _) = label(mask);
    let dist = edt(mask);
    let seeds = markers(&dist, &comps, w, p);
    // Marker-controlled flooding from the deepest points outwards (4-conn).
    let mut lab = vec![0u32; w * h];
    // A bucket queue keyed by distance in 1/8 px: O(1) per pixel, deepest
    // first, first in first out within a bucket (deterministic). A pixel
    // reached from a lower level than its own waits at that lower level
    // (Meyer's ordered flooding), so the level only ever goes down.
    let key = |i: usize| (dist[i].max(0.0) * 8.0 + 0.5) as usize;
    let top = (0..dist.len()).map(key).max().unwrap_or(0);
    let mut buckets: Vec<VecDeque<(u32, u32)>> = vec![VecDeque::new(); top + 1];
    for (k, &i) in seeds.iter().enumerate() {
        lab[i] = k as u32 + 1;
    }
    let neighbours = |i: usize| {
        let (x, y) = (i % w, i / w);
        [
            (x > 0).then(|| i - 1),
            (x + 1 < w).then(|| i + 1),
            (y > 0).then(|| i - w),
            (y + 1 < h).then(|| i + w),
        ]
    };
    let raw = mask.as_raw();
    // A pixel is queued once: the first push is also the first pop, since
    // the level never rises. QUEUED marks it meanwhile.
    const QUEUED: u32 = u32::MAX;
    // Objects never touch, so each is flooded on its own: the same result
    // as one flood of the whole image, with a working set that stays in
    // cache. Seeds are grouped by object, keeping their order.
    let comp = comps.as_raw();
    let mut by_comp: Vec<(u32, usize)> = seeds.iter().map(|&i| (comp[i], i)).collect();
    by_comp.sort_by_key(|&(c, _)| c);
    for group in by_comp.chunk_by(|a, b| a.0 == b.0) {
        let (mut cur, mut queued) = (0usize, 0usize);
        for &(_, i) in group {
            for j in neighbours(i).into_iter().flatten() {
                if raw[j] != 0 && lab[j] == 0 {
                    let k = key(j);
                    buckets[k].push_back((j as u32, lab[i]));
                    lab[j] = QUEUED;
                    cur = cur.max(k);
                    queued += 1;
                }
            }
        }
        while queued > 0 {
            let Some((idx, label)) = buckets[cur].pop_front() else {
                cur = cur.saturating_sub(1);
                continue;
            };
            queued -= 1;
            let idx = idx as usize;
            lab[idx] = label;
            for j in neighbours(idx).into_iter().flatten() {
                if raw[j] != 0 && lab[j] == 0 {
                    let k = key(j).min(cur);
                    buckets[k].push_back((j as u32, label));
                    lab[j] = QUEUED;
                    queued += 1;
                }
            }
        }
    }
    // Mask pixels reachable only diagonally from their object's markers.
    let n_comps = comp.iter().copied().max().unwrap_or(0) as usize;
    let mut comp_label = vec![0u32; n_comps + 1];
    for i in 0..w * h {
        if lab[i] != 0 && comp_label[comp[i] as usize] == 0 {
            comp_label[comp[i] as usize] = lab[i];
        }
    }
    for i in 0..w * h {
        if comp[i] != 0 && lab[i] == 0 {
            lab[i] = comp_label[comp[i] as usize];
        }
    }
    let n = seeds.len();
    let mut parent: Vec<u32> = (0..=n as u32).collect();
    if p.neck_ratio >= 1.0 {
        // No neck can be wider than its bodies: every split stands.
        return finish(w, h, lab, &mut parent);
    }
    // Neck test: merge neighbours whose shared boundary is not clearly
    // narrower than the smaller body.
    let mut body = vec![0f32; n + 1];
    for i in 0..w * h {
        let l = lab[i] as usize;
        if l > 0 {
            body[l] = body[l].max(dist[i]);
        }
    }
    let mut neck: HashMap<(u32, u32), f32> = HashMap::new();
    for i in 0..w * h {
        let a = lab[i];
        if a == 0 {
            continue;
        }
        for j in [
            (i % w + 1 < w).then(|| i + 1),
            (i / w + 1 < h).then(|| i + w),
        ]
        .into_iter()
        .flatten()
        {
            let b = lab[j];
            if b != 0 && b != a {
                let key = (a.min(b), a.max(b));
                let v = dist[i].min(dist[j]);
                let e = neck.entry(key).or_insert(0.0);
                *e = e.max(v);
            }
        }
    }
    // Highest necks first, with merged groups keeping their deepest body:
    // a small region sitting in a neck joins one side, and its other,
    // narrow side still separates the two real bodies.
    let mut pairs: Vec<((u32, u32), f32)> = neck.into_iter().collect();
    pairs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for ((a, b), nk) in pairs {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra == rb {
            continue;
        }
        let smaller = body[ra as usize].min(body[rb as usize]);
        if f64::from(nk) >= p.neck_ratio * f64::from(smaller) {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            parent[hi as usize] = lo;
            body[lo as usize] = body[lo as usize].max(body[hi as usize]);
        }
    }
    finish(w, h, lab, &mut parent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn params() -> SplitParams {
        SplitParams {
            min_separation_px: 6.0,
            min_radius_px: 4.0,
            neck_ratio: 0.75,
        }
    }

    fn shape(w: u32, h: u32, inside: impl Fn(f64, f64) -> bool) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            Luma([if inside(x as f64, y as f64) { 255 } else { 0 }])
        })
    }

    #[test]
    fn two_touching_discs_become_two() {
        let m = shape(60, 40, |x, y| {
            (x - 20.0).hypot(y - 20.0) <= 10.0 || (x - 37.0).hypot(y - 20.0) <= 10.0
        });
        assert_eq!(label(&m).1, 1);
        let (l, n) = split(&m, &params());
        assert_eq!(n, 2);
        assert_ne!(l.get_pixel(20, 20)[0], l.get_pixel(37, 20)[0]);
        // Every mask pixel keeps a label.
        for (a, b) in m.as_raw().iter().zip(l.as_raw()) {
            assert_eq!(*a != 0, *b != 0);
        }
    }

    #[test]
    fn one_ellipse_stays_whole() {
        for theta in [0.0f64, 0.5, 1.2] {
            let (s, c) = theta.sin_cos();
            let m = shape(100, 100, |x, y| {
                let (dx, dy) = (x - 50.0, y - 50.0);
                let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
                (u / 40.0).powi(2) + (v / 12.0).powi(2) <= 1.0
            });
            let (_, n) = split(&m, &params());
            assert_eq!(n, 1, "theta {theta}");
        }
    }

    #[test]
    fn three_in_a_chain_and_separate_objects_keep_their_own_labels() {
        let m = shape(120, 40, |x, y| {
            [15.0, 38.0, 61.0]
                .iter()
                .any(|&cx| (x - cx).hypot(y - 20.0) <= 12.0)
                || (x - 100.0).hypot(y - 20.0) <= 8.0
        });
        let (l, n) = split(&m, &params());
        assert_eq!(n, 4);
        assert_eq!(l.get_pixel(15, 20)[0], 1);
        assert_eq!(l.get_pixel(100, 20)[0], 4);
    }
}

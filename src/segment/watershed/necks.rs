//! The neck test: pieces of one object that meet through a boundary not
//! clearly narrower than the smaller piece merge again, so an elongated
//! or bent single object is not cut where it merely narrows — unless,
//! given intensities, the two pieces differ clearly in brightness (two
//! follicles touching broadly, one brighter than the other: a single
//! follicle's level changes slowly across it).

use super::notches::notch_depths;
use super::SplitParams;
use crate::segment::label::find;

/// The neck test's two passes, `pass(n, pinch)` being one pass of
/// [`merge_wide_necks`] over n labels: first every narrow neck cuts;
/// then — when `p` tests bends, where pieces are left to weigh — the
/// bodies so merged are tested again (`pinch` true), and a cut that
/// stands on a bend-like neck alone stands only if both its ends dip
/// into their joint outline (a bend's outer side does not). Returns how
/// many labels are left.
pub(super) fn in_two_passes(
    n: usize,
    p: &SplitParams,
    mut pass: impl FnMut(usize, bool) -> u32,
) -> u32 {
    let m = pass(n, false);
    if m >= 2 && p.bend_ratio < p.neck_ratio && p.pinch_px > 0.0 {
        pass(m as usize, true)
    } else {
        m
    }
}

/// One pass of the neck test on flooded labels `lab` (1..=n, w × h):
/// neighbours whose shared boundary is not clearly narrower than the
/// smaller body merge — nor, with `pinch`, narrower but bend-like and
/// unpinched (an end of the cut less than `p.pinch_px` deep in their
/// hull) —
/// unless their cores' mean `intensity` differ by `p.step_ratio` or more
/// (see [`Cores`]) or their cut runs between notches (`p.notch_px`).
/// `lab` is relabelled 1..=m in raster order of first pixel; returns m.
/// The same merges and numbers as the reference
/// (`merge_wide_necks_reference`, in `reference.rs`), from one scan of the
/// labels for each region's depth, first pixel and touching neighbours,
/// and one table lookup per pixel to renumber.
#[allow(clippy::too_many_arguments)]
pub(super) fn merge_wide_necks(
    dist: &[f32],
    intensity: Option<&[f32]>,
    w: usize,
    h: usize,
    lab: &mut [u32],
    n: usize,
    p: &SplitParams,
    pinch: bool,
) -> u32 {
    let mut parent: Vec<u32> = (0..=n as u32).collect();
    let mut first = vec![usize::MAX; n + 1];
    // (No neck can be wider than its bodies when the ratio is 1 or more:
    // every split stands.)
    let necks = p.neck_ratio < 1.0;
    let mut body = vec![0f32; n + 1];
    // Each pair of touching regions (right and lower neighbours) with the
    // depth of the boundary there; the neck is the deepest. A table for
    // the few regions of one object, else a list sorted afterwards.
    const DENSE: usize = 64;
    let dense = n <= DENSE;
    let mut table = vec![-1f32; if necks && dense { (n + 1) * (n + 1) } else { 0 }];
    let mut touching: Vec<((u32, u32), f32)> = Vec::new();
    let mut meet = |a: u32, b: u32, d: f32| {
        if b != 0 && b != a {
            let key = (a.min(b), a.max(b));
            if dense {
                let t = &mut table[key.0 as usize * (n + 1) + key.1 as usize];
                *t = t.max(d);
            } else {
                touching.push((key, d));
            }
        }
    };
    for y in 0..h {
        let o = y * w;
        for x in 0..w {
            let i = o + x;
            let a = lab[i];
            if a == 0 {
                continue;
            }
            let ai = a as usize;
            if first[ai] == usize::MAX {
                first[ai] = i;
            }
            if !necks {
                continue;
            }
            body[ai] = body[ai].max(dist[i]);
            if x + 1 < w {
                meet(a, lab[i + 1], dist[i].min(dist[i + 1]));
            }
            if y + 1 < h {
                meet(a, lab[i + w], dist[i].min(dist[i + w]));
            }
        }
    }
    if necks {
        // Pairs in order of their labels, each with its deepest boundary.
        let mut pairs: Vec<((u32, u32), f32)> = Vec::new();
        if dense {
            for a in 1..=n {
                for b in a + 1..=n {
                    let d = table[a * (n + 1) + b];
                    if d >= 0.0 {
                        pairs.push(((a as u32, b as u32), d));
                    }
                }
            }
        } else {
            touching.sort_unstable_by_key(|&(k, _)| k);
            for group in touching.chunk_by(|a, b| a.0 == b.0) {
                let deepest = group.iter().fold(0f32, |m, &(_, v)| m.max(v));
                pairs.push((group[0].0, deepest));
            }
        }
        let mut cores = Cores::of(intensity, dist, lab, &body);
        let notches = notch_depths_if(lab, w, h, &pairs, p, pinch);
        merge_pairs(
            pairs,
            &notches,
            &mut body,
            &mut parent,
            &mut cores,
            p,
            pinch,
        );
    }
    // Each merged region's first pixel is its members' first; regions are
    // numbered in that order (regions with no pixel get none).
    let mut root_first = vec![usize::MAX; n + 1];
    for l in 1..=n as u32 {
        let r = find(&mut parent, l) as usize;
        root_first[r] = root_first[r].min(first[l as usize]);
    }
    let mut roots: Vec<usize> = (1..=n).filter(|&r| root_first[r] != usize::MAX).collect();
    roots.sort_unstable_by_key(|&r| root_first[r]);
    let mut number = vec![0u32; n + 1];
    for (k, &r) in roots.iter().enumerate() {
        number[r] = k as u32 + 1;
    }
    let mut renumber = vec![0u32; n + 1];
    for l in 1..=n as u32 {
        renumber[l as usize] = number[find(&mut parent, l) as usize];
    }
    for v in lab.iter_mut() {
        *v = renumber.get(*v as usize).copied().unwrap_or(0);
    }
    roots.len() as u32
}

/// [`notch_depths`] of `pairs` when `p` tests notches or the pass tests
/// `pinch`, else none.
pub(super) fn notch_depths_if(
    lab: &[u32],
    w: usize,
    h: usize,
    pairs: &[((u32, u32), f32)],
    p: &SplitParams,
    pinch: bool,
) -> Vec<Option<f32>> {
    if p.notch_px.is_finite() || pinch {
        let keys: Vec<(u32, u32)> = pairs.iter().map(|&(k, _)| k).collect();
        notch_depths(lab, w, h, &keys)
    } else {
        Vec::new()
    }
}

/// The brightness of each region's core — its pixels at least half as
/// deep as its deepest, away from a boundary the flood may have drawn a
/// little off the true one — as sums and counts; empty without
/// intensities.
#[derive(Default)]
pub(super) struct Cores {
    /// Sum of the core's intensities (index: label).
    sum: Vec<f64>,
    /// Number of core pixels.
    n: Vec<u64>,
}

impl Cores {
    /// The cores of regions `lab` (1..=n) whose deepest pixels are
    /// `body`, over `dist`; none without `intensity`.
    pub(super) fn of(intensity: Option<&[f32]>, dist: &[f32], lab: &[u32], body: &[f32]) -> Cores {
        let Some(intensity) = intensity else {
            return Cores::default();
        };
        let mut c = Cores {
            sum: vec![0.0; body.len()],
            n: vec![0; body.len()],
        };
        for ((&l, &d), &v) in lab.iter().zip(dist).zip(intensity) {
            if l != 0 && d >= 0.5 * body[l as usize] {
                c.sum[l as usize] += f64::from(v);
                c.n[l as usize] += 1;
            }
        }
        c
    }

    /// Whether roots `a` and `b` differ in brightness by `step` or more
    /// (the brighter core's mean ÷ the dimmer's; a core with no signal
    /// above background is distinct from one with).
    fn distinct(&self, a: u32, b: u32, step: f64) -> bool {
        if self.n.is_empty() {
            return false;
        }
        let mean = |r: u32| self.sum[r as usize] / self.n[r as usize].max(1) as f64;
        let (ma, mb) = (mean(a), mean(b));
        let (lo, hi) = (ma.min(mb), ma.max(mb));
        hi > 0.0 && hi >= step * lo.max(0.0)
    }

    /// Root `from` merged into root `into`.
    fn merge(&mut self, into: u32, from: u32) {
        if !self.n.is_empty() {
            self.sum[into as usize] += self.sum[from as usize];
            self.n[into as usize] += self.n[from as usize];
        }
    }
}

/// The neck test's merges: touching regions `pairs` (labels, deepest
/// boundary), highest necks first, merge (union-find `parent`, smaller
/// root kept) where the neck is at least `p.neck_ratio` × the smaller body
/// (`body`: each root's deepest pixel) — or, with `pinch`, narrower but
/// bend-like (at least `p.bend_ratio` × the smaller body) and not
/// pinched: a cut end (`notches`, the shallower end's depth in the pair's
/// hull) shallower than `p.pinch_px` — and the two `cores` are
/// not distinct in brightness (`p.step_ratio`) and the cut does not run
/// between notches (`p.notch_px`), merged groups keeping their
/// deepest body and pooling their cores: a small region sitting in a neck
/// joins one side, and its other, narrow side still separates the two
/// real bodies.
pub(super) fn merge_pairs(
    pairs: Vec<((u32, u32), f32)>,
    notches: &[Option<f32>],
    body: &mut [f32],
    parent: &mut [u32],
    cores: &mut Cores,
    p: &SplitParams,
    pinch: bool,
) {
    /// A touching pair: labels, neck depth, notch depth.
    struct Pair {
        key: (u32, u32),
        neck: f32,
        notch: Option<f32>,
    }
    let mut pairs: Vec<Pair> = pairs
        .into_iter()
        .zip(notches.iter().copied().chain(std::iter::repeat(None)))
        .map(|((key, neck), notch)| Pair { key, neck, notch })
        .collect();
    pairs.sort_by(|a, b| b.neck.total_cmp(&a.neck).then(a.key.cmp(&b.key)));
    for Pair {
        key: (a, b),
        neck: nk,
        notch,
    } in pairs
    {
        let (ra, rb) = (find(parent, a), find(parent, b));
        if ra == rb {
            continue;
        }
        let (neck, smaller) = (
            f64::from(nk),
            f64::from(body[ra as usize].min(body[rb as usize])),
        );
        // A bend-like neck cuts where both ends of the cut dip into the
        // outline (a cut with one end or none: no outline to judge by).
        let bend_like = pinch && neck >= p.bend_ratio * smaller;
        let pinched = !bend_like || notch.is_none_or(|d| f64::from(d) >= p.pinch_px);
        let narrow = neck < p.neck_ratio * smaller && pinched;
        if !narrow
            && !cores.distinct(ra, rb, p.step_ratio)
            && f64::from(notch.unwrap_or(0.0)) < p.notch_px
        {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            parent[hi as usize] = lo;
            body[lo as usize] = body[lo as usize].max(body[hi as usize]);
            cores.merge(lo, hi);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::{merge_wide_necks_reference, params};
    use super::*;

    /// The bend rule on one pair of bodies of inscribed radius 10: a
    /// neck of half-width 6 (clearly narrow) cuts unpinched; one of 8
    /// (narrow, but bend-like: ≥ 0.75 × 10) cuts in the pinch pass only
    /// where both ends dip ≥ 2 px into the outline — or where the cut has
    /// fewer than two ends to judge by; one of 9 (≥ 0.85 × 10) never cuts.
    #[test]
    fn a_bend_like_neck_cuts_only_where_pinched() {
        let p = SplitParams {
            neck_ratio: 0.85,
            bend_ratio: 0.75,
            pinch_px: 2.0,
            ..params()
        };
        let cut = |neck: f32, notch: Option<f32>, pinch: bool| {
            let mut body = vec![0.0, 10.0, 10.0];
            let mut parent = vec![0, 1, 2];
            let pairs = vec![((1, 2), neck)];
            merge_pairs(
                pairs,
                &[notch],
                &mut body,
                &mut parent,
                &mut Cores::default(),
                &p,
                pinch,
            );
            find(&mut parent, 2) == 2
        };
        for pinch in [false, true] {
            assert!(cut(6.0, Some(0.0), pinch), "a clear neck cuts");
            assert!(!cut(9.0, Some(5.0), pinch), "a wide neck never cuts");
        }
        assert!(
            cut(8.0, Some(0.5), false),
            "first pass: every narrow neck cuts"
        );
        assert!(!cut(8.0, Some(1.9), true), "a bend's rough outer side");
        assert!(cut(8.0, Some(2.0), true), "pinched at both ends");
        assert!(cut(8.0, None, true), "no two ends to judge by");
    }

    /// The neck test from one scan (a table of necks for a few regions, a
    /// sorted list for many) merges and numbers regions as the reference
    /// does: Voronoi regions with background gaps, random depths, a
    /// region with no pixel, neck ratios that merge none, some and all.
    #[test]
    fn neck_merging_equals_the_reference() {
        let mut rng = crate::synth::Rng::new(41);
        let (w, h) = (90usize, 70usize);
        for n in [2usize, 9, 40, 64, 65, 150] {
            let sites: Vec<(f64, f64)> = (0..n)
                .map(|_| (rng.unit() * w as f64, rng.unit() * h as f64))
                .collect();
            let mut lab = vec![0u32; w * h];
            for (i, l) in lab.iter_mut().enumerate() {
                let (x, y) = ((i % w) as f64, (i / w) as f64);
                let near = (0..n)
                    .min_by(|&a, &b| {
                        let da = (x - sites[a].0).hypot(y - sites[a].1);
                        let db = (x - sites[b].0).hypot(y - sites[b].1);
                        da.total_cmp(&db)
                    })
                    .unwrap();
                // Label n has no pixel; a few pixels are background.
                if near + 1 != n && rng.unit() > 0.05 {
                    *l = near as u32 + 1;
                }
            }
            let dist: Vec<f32> = (0..w * h)
                .map(|_| (rng.unit() * 64.0).floor() as f32 / 8.0)
                .collect();
            // Each site's brightness, a little noise on it.
            let level: Vec<f32> = (0..n).map(|_| (rng.unit() * 4.0) as f32).collect();
            let intensity: Vec<f32> = (0..w * h)
                .map(|i| match lab[i] {
                    0 => 0.0,
                    l => level[l as usize - 1] + 0.1 * rng.unit() as f32,
                })
                .collect();
            for ratio in [0.0, 0.3, 0.75, 0.95, 1.0] {
                // (step, intensities, notch, bend ratio, pinch)
                let cases = [
                    (f64::INFINITY, None, f64::INFINITY, 1.0, 0.0),
                    (1.5, Some(&intensity[..]), f64::INFINITY, 1.0, 0.0),
                    (f64::INFINITY, None, 2.0, 1.0, 0.0),
                    (f64::INFINITY, None, f64::INFINITY, 0.5, 2.0),
                    (f64::INFINITY, None, f64::INFINITY, 0.0, 1.0),
                    (1.5, Some(&intensity[..]), 2.0, 0.6, 1.5),
                ];
                for (step, weigh, notch, bend, pinch) in cases {
                    let p = SplitParams {
                        neck_ratio: ratio,
                        step_ratio: step,
                        notch_px: notch,
                        bend_ratio: bend,
                        pinch_px: pinch,
                        ..params()
                    };
                    let (mut a, mut b) = (lab.clone(), lab.clone());
                    let na = in_two_passes(n, &p, |n, pinch| {
                        merge_wide_necks(&dist, weigh, w, h, &mut a, n, &p, pinch)
                    });
                    let nb = in_two_passes(n, &p, |n, pinch| {
                        merge_wide_necks_reference(&dist, weigh, w, h, &mut b, n, &p, pinch)
                    });
                    assert_eq!(
                        (na, &a),
                        (nb, &b),
                        "{n} regions, ratio {ratio}, step {step}, notch {notch}, bend {bend}, pinch {pinch}"
                    );
                }
            }
        }
    }
}

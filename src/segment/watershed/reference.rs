//! Test oracles for the watershed: the plain versions the fast kernels
//! must equal (a `VecDeque` flood, a neck test over every pair, the
//! whole image split at once), and the shapes the tests split.

use std::collections::VecDeque;

use image::{GrayImage, Luma};

use super::flood::Basin;
use super::markers::markers_into;
use super::necks::{in_two_passes, merge_pairs, notch_depths_if, Cores};
use super::{split, Objects, SplitParams};
use crate::Labels;

/// [`split`] of a mask: its labels and their number.
pub(super) fn split_mask(mask: &GrayImage, p: &SplitParams) -> (Labels, u32) {
    let s = split(Objects::Mask(mask), p, None, |_| {});
    (s.labels, s.count)
}

/// Peaks of the distance map used as markers: local maxima (8-neighbour),
/// strongest first, each object's maximum always, others only when at least
/// `min_radius_px` deep and `min_separation_px` away from accepted ones.
pub(super) fn markers(dist: &[f32], comps: &Labels, w: usize, p: &SplitParams) -> Vec<usize> {
    let (mut cand, mut accepted) = (Vec::new(), Vec::new());
    markers_into(dist, comps.as_raw(), w, p, &mut cand, &mut accepted);
    accepted
}

/// The reference for `flood`: marker-controlled flooding of the set pixels of one object of `mask`
/// from its `seeds`, whose labels are already in `lab` (0 elsewhere in
/// the object), deepest first, 4-connected. `buckets` is scratch.
pub(super) fn flood_reference(
    basin: Basin<'_>,
    seeds: &[usize],
    lab: &mut [u32],
    buckets: &mut Vec<VecDeque<(u32, u32)>>,
) {
    let Basin { dist, mask, w, h } = basin;
    // A bucket queue keyed by distance in 1/8 px: O(1) per pixel, deepest
    // first, first in first out within a bucket (deterministic). A pixel
    // reached from a lower level than its own waits at that lower level
    // (Meyer's ordered flooding), so the level only ever goes down.
    let key = |i: usize| (dist[i].max(0.0) * 8.0 + 0.5) as usize;
    // The key grows with the distance: the top key is the deepest pixel's.
    let deepest = dist.iter().fold(0f32, |a, &d| if d > a { d } else { a });
    let top = (deepest * 8.0 + 0.5) as usize;
    if buckets.len() < top + 1 {
        buckets.resize_with(top + 1, VecDeque::new);
    }
    let neighbours = |i: usize| crate::segment::label::four_neighbours(i, w, h);
    // A pixel is queued once: the first push is also the first pop, since
    // the level never rises. QUEUED marks it meanwhile.
    const QUEUED: u32 = u32::MAX;
    let (mut cur, mut queued) = (0usize, 0usize);
    for &i in seeds {
        for j in neighbours(i).into_iter().flatten() {
            if mask[j] != 0 && lab[j] == 0 {
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
            if mask[j] != 0 && lab[j] == 0 {
                let k = key(j).min(cur);
                buckets[k].push_back((j as u32, label));
                lab[j] = QUEUED;
                queued += 1;
            }
        }
    }
}

/// The reference for `merge_wide_necks`: one pass of the neck test
/// over every pair, with `pinch` bend-like narrow necks cutting only
/// where pinched (see `merge_pairs`); `lab` is relabelled 1..=m in raster order of
/// first pixel; returns m.
#[allow(clippy::too_many_arguments)]
pub(super) fn merge_wide_necks_reference(
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
    if p.neck_ratio < 1.0 && w > 0 {
        // (No neck can be wider than its bodies when the ratio is 1 or
        // more: every split stands.)
        let mut body = vec![0f32; n + 1];
        for (&l, &d) in lab.iter().zip(dist) {
            if l > 0 {
                body[l as usize] = body[l as usize].max(d);
            }
        }
        // Each pair of touching regions (right and lower neighbours) with
        // the depth of the boundary there; the neck is the deepest.
        let mut touching: Vec<((u32, u32), f32)> = Vec::new();
        let mut meet = |i: usize, j: usize| {
            let (a, b) = (lab[i], lab[j]);
            if a != 0 && b != 0 && b != a {
                touching.push(((a.min(b), a.max(b)), dist[i].min(dist[j])));
            }
        };
        for y in 0..h {
            let o = y * w;
            for x in 0..w {
                if x + 1 < w {
                    meet(o + x, o + x + 1);
                }
                if y + 1 < h {
                    meet(o + x, o + x + w);
                }
            }
        }
        touching.sort_unstable_by_key(|&(k, _)| k);
        let mut pairs: Vec<((u32, u32), f32)> = Vec::new();
        for group in touching.chunk_by(|a, b| a.0 == b.0) {
            let deepest = group.iter().fold(0f32, |m, &(_, v)| m.max(v));
            pairs.push((group[0].0, deepest));
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
    crate::segment::label::relabel(lab, &mut parent)
}

/// [`split`] of a mask, all at once: the reference the component-wise
/// driver must equal. Given an intensity plane, each object is first
/// carved into bodies of distinct brightness (`layers.rs`), drawn alone
/// on the whole image, each body split at its necks on its own, and
/// pieces meeting beside another body joined again.
pub(super) fn split_dense(
    mask: &GrayImage,
    intensity: Option<&[f32]>,
    p: &SplitParams,
) -> (Labels, u32) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let (comps, n_comps) = crate::segment::label::label(mask);
    let (mut lab, n) = match intensity {
        None => split_at_necks(mask, comps, None, p),
        Some(plane) => {
            let mut all = vec![0u32; w * h];
            let mut n = 0;
            for c in 1..=n_comps {
                let object = drawn_alone(comps.as_raw(), c);
                let whole = crate::Crop { x0: 0, y0: 0, w, h };
                let layers = super::layers::carve(&object, &whole, (plane, w), p);
                let bodies = match &layers {
                    Some(layers) => (1..=layers.count)
                        .map(|body| drawn_alone(&layers.lab, body))
                        .collect(),
                    None => vec![object],
                };
                // The object's pieces, body by body.
                let mut own = vec![0u32; w * h];
                let mut k = 0;
                for body in bodies {
                    let drawn = GrayImage::from_raw(w as u32, h as u32, body).unwrap_or_default();
                    let comps = crate::segment::label::label(&drawn).0;
                    let (pieces, m) = split_at_necks(&drawn, comps, Some(plane), p);
                    for (a, &l) in own.iter_mut().zip(&pieces) {
                        if l != 0 {
                            *a = k + l;
                        }
                    }
                    k += m;
                }
                if let Some(layers) = &layers {
                    k = super::layers::join_at_bites(&mut own, k, layers, w, p);
                }
                for (a, &l) in all.iter_mut().zip(&own) {
                    if l != 0 {
                        *a = n + l;
                    }
                }
                n += k;
            }
            let n = super::cuts::renumber(&mut all, n);
            (all, n)
        }
    };
    let n = super::cuts::cut_at_notch_pairs(&mut lab, w, h, n, p, &mut Default::default());
    (
        Labels::from_raw(w as u32, h as u32, lab).unwrap_or_default(),
        n,
    )
}

/// Markers, flooding and the neck test given the mask's 8-connected
/// components, all at once.
fn split_at_necks(
    mask: &GrayImage,
    comps: Labels,
    intensity: Option<&[f32]>,
    p: &SplitParams,
) -> (Vec<u32>, u32) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let raw = mask.as_raw();
    if raw.iter().all(|&v| v != 0) {
        // One object filling the image: nothing to split.
        let n = u32::from(w * h > 0);
        return (comps.into_raw(), n);
    }
    let dist = crate::segment::distance::edt(mask);
    let seeds = markers(&dist, &comps, w, p);
    let mut lab = vec![0u32; w * h];
    for (k, &i) in seeds.iter().enumerate() {
        lab[i] = k as u32 + 1;
    }
    // Each object flooded on its own, from its own markers in order.
    let comp = comps.as_raw();
    let mut by_comp: Vec<(u32, usize)> = seeds.iter().map(|&i| (comp[i], i)).collect();
    by_comp.sort_by_key(|&(c, _)| c);
    let mut buckets = Vec::new();
    for group in by_comp.chunk_by(|a, b| a.0 == b.0) {
        let group: Vec<usize> = group.iter().map(|&(_, i)| i).collect();
        let basin = Basin {
            dist: &dist,
            mask: raw,
            w,
            h,
        };
        flood_reference(basin, &group, &mut lab, &mut buckets);
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
    let n = in_two_passes(seeds.len(), p, |n, pinch| {
        merge_wide_necks_reference(&dist, intensity, w, h, &mut lab, n, p, pinch)
    });
    (lab, n)
}

/// The pixels labelled `l` of `labels`, drawn alone (255) on a mask of
/// the same size.
pub(super) fn drawn_alone(labels: &[u32], l: u32) -> Vec<u8> {
    labels
        .iter()
        .map(|&v| if v == l { 255 } else { 0 })
        .collect()
}

pub(super) fn params() -> SplitParams {
    SplitParams {
        min_separation_px: 6.0,
        min_radius_px: 4.0,
        neck_ratio: 0.75,
        step_ratio: f64::INFINITY,
        notch_px: f64::INFINITY,
        bend_ratio: 1.0,
        pinch_px: 0.0,
        cut_ratio: 0.0,
        min_area_px: 0.0,
    }
}

pub(super) fn shape(w: u32, h: u32, inside: impl Fn(f64, f64) -> bool) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        Luma([if inside(x as f64, y as f64) { 255 } else { 0 }])
    })
}

/// [`blobs`] with a stain: each disc at a level of 1, 2 or 4 (drawn in
/// order, a later disc over an earlier one); the mask and the levels.
pub(super) fn stained_blobs(seed: u64, w: u32, h: u32) -> (GrayImage, Vec<f32>) {
    let mut rng = crate::synth::Rng::new(seed);
    let discs: Vec<(f64, f64, f64, f32)> = (0..25)
        .map(|_| {
            let (x, y) = (rng.unit() * w as f64, rng.unit() * h as f64);
            let r = 3.0 + rng.unit() * 12.0;
            (x, y, r, [1.0, 2.0, 4.0][(rng.unit() * 3.0) as usize % 3])
        })
        .collect();
    let level = |x: f64, y: f64| {
        discs
            .iter()
            .rev()
            .find(|&&(cx, cy, r, _)| (x - cx).hypot(y - cy) <= r)
            .map_or(0.0, |d| d.3)
    };
    let levels: Vec<f32> = (0..w * h)
        .map(|i| level((i % w) as f64, (i / w) as f64))
        .collect();
    let mask = GrayImage::from_fn(w, h, |x, y| {
        Luma([if levels[(y * w + x) as usize] > 0.0 {
            255
        } else {
            0
        }])
    });
    (mask, levels)
}

/// Random blobs: discs of assorted sizes, many touching, some cut by
/// the image border.
pub(super) fn blobs(seed: u64, w: u32, h: u32) -> GrayImage {
    let mut rng = crate::synth::Rng::new(seed);
    let discs: Vec<(f64, f64, f64)> = (0..25)
        .map(|_| {
            (
                rng.unit() * w as f64,
                rng.unit() * h as f64,
                3.0 + rng.unit() * 12.0,
            )
        })
        .collect();
    shape(w, h, |x, y| {
        discs.iter().any(|&(cx, cy, r)| (x - cx).hypot(y - cy) <= r)
    })
}

//! Splitting touching objects: distance-transform peaks as markers, a
//! marker-controlled watershed on the distance map, and a neck test that
//! undoes splits through wide necks (so elongated single objects stay
//! whole).

use std::collections::HashMap;
#[cfg(test)]
use std::collections::VecDeque;

use image::GrayImage;

use super::distance::{edt_into, EdtScratch};
pub use super::label::Run;
use super::label::{component_runs, components_of_runs, find};
use crate::{Crop, Labels};

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
    let (mut cand, mut accepted) = (Vec::new(), Vec::new());
    markers_into(dist, comps.as_raw(), w, p, &mut cand, &mut accepted);
    accepted
}

/// [`markers`] of the objects `comp` (labels, 0 background) into
/// `accepted`, `cand` being scratch.
fn markers_into(
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

/// Splits each 8-connected component of `mask` that holds one of the
/// `seeds` (image indices, any order) and hands the result to
/// `visit(crop, labels, n)`: the component's crop, labels `1..=n` over the
/// crop in raster order of first pixel, 0 outside the component. Reached
/// components are cleared from `mask` as they are found; components no
/// seed reaches cost nothing, and no image-sized label plane is made.
///
/// Components never touch and every step works within one (distance to
/// the background, markers, flooding, necks), so splitting each inside its
/// crop gives exactly what splitting the whole image at once gives, with a
/// working set the size of one object.
pub fn split_reached(
    mask: &mut GrayImage,
    seeds: impl IntoIterator<Item = usize>,
    p: &SplitParams,
    mut visit: impl FnMut(&Crop, &[u32], u32),
) {
    let mut seeds = seeds.into_iter();
    split_runs(
        mask,
        p,
        |_| seeds.next(),
        |crop, lab, k, _| visit(crop, lab, k),
    );
}

/// [`split_reached`] with the seeds from `next_seed(mask)` (`None` ends),
/// which sees the mask as components are cleared from it; also hands
/// `visit` the component's runs of pixels (row, first column, one past the
/// last, in image coordinates; in no particular order): with a single
/// piece (`n` = 1), those are its pixels.
fn split_runs(
    mask: &mut GrayImage,
    p: &SplitParams,
    mut next_seed: impl FnMut(&[u8]) -> Option<usize>,
    mut visit: impl FnMut(&Crop, &[u32], u32, &mut [Run]),
) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let m = mask.as_mut();
    let mut s = Scratch::default();
    while let Some(seed) = next_seed(m) {
        if m.get(seed).is_none_or(|&v| v == 0) {
            continue;
        }
        fill_runs(m, w, seed, &mut s.runs, &mut s.stack);
        let crop = crop_of_runs(&s.runs, w, h, &mut s.mask);
        let k = s.split_crop(crop.w, crop.h, p);
        visit(&crop, &s.lab, k, &mut s.runs);
    }
}

/// Finds the 8-connected component of `m` holding `seed` (set), clearing
/// it, as the runs of set pixels it is made of.
fn fill_runs(
    m: &mut [u8],
    w: usize,
    seed: usize,
    runs: &mut Vec<Run>,
    stack: &mut Vec<(usize, usize)>,
) {
    runs.clear();
    stack.clear();
    stack.push((seed / w, seed % w));
    super::label::scan_fill(m, w, stack, |y, l, r| {
        runs.push((y as u32, l as u32, r as u32))
    });
}

/// Buffers for splitting one component after another, kept so that a
/// field's thousands of components allocate nothing once warm.
#[derive(Default)]
struct Scratch {
    runs: Vec<Run>,
    stack: Vec<(usize, usize)>,
    /// The crop's mask (0/255), then its distance map, markers, labels.
    mask: Vec<u8>,
    edt: EdtScratch,
    dist: Vec<f32>,
    cand: Vec<usize>,
    seeds: Vec<usize>,
    lab: Vec<u32>,
    buckets: Vec<Vec<(u32, u32)>>,
}

/// The crop of the component in `runs` (its bounding box grown by one
/// pixel, clipped to the w × h image), with its mask drawn in `mask`.
fn crop_of_runs(runs: &[Run], w: usize, h: usize, mask: &mut Vec<u8>) -> Crop {
    let (mut x0, mut x1, mut y0, mut y1) = (usize::MAX, 0, usize::MAX, 0);
    for &(y, l, r) in runs {
        x0 = x0.min(l as usize);
        x1 = x1.max(r as usize - 1);
        y0 = y0.min(y as usize);
        y1 = y1.max(y as usize);
    }
    let (x0, y0) = (x0.saturating_sub(1), y0.saturating_sub(1));
    let (x1, y1) = ((x1 + 1).min(w - 1), (y1 + 1).min(h - 1));
    let crop = Crop {
        x0,
        y0,
        w: x1 - x0 + 1,
        h: y1 - y0 + 1,
    };
    mask.clear();
    mask.resize(crop.w * crop.h, 0);
    for &(y, l, r) in runs {
        let o = (y as usize - y0) * crop.w;
        mask[o + l as usize - x0..o + r as usize - x0].fill(255);
    }
    crop
}

impl Scratch {
    /// Splits the one 8-connected component drawn in `mask` (w × h) into
    /// `lab`, labels 1..=n in raster order of first pixel; returns n.
    /// The same steps as the whole-image reference (`split_labelled`, in
    /// the tests) with a single component.
    fn split_crop(&mut self, w: usize, h: usize, p: &SplitParams) -> u32 {
        let mask = &self.mask;
        self.lab.clear();
        self.lab.extend(mask.iter().map(|&v| u32::from(v != 0)));
        if mask.iter().all(|&v| v != 0) {
            // One object filling the image: no background to measure
            // depth from, nothing to split.
            return u32::from(w * h > 0);
        }
        edt_into(mask, w, h, &mut self.dist, &mut self.edt);
        let dist = &self.dist;
        let seeds = &mut self.seeds;
        markers_into(dist, &self.lab, w, p, &mut self.cand, seeds);
        if seeds.len() <= 1 {
            // One marker: its flood reaches the whole object.
            return 1;
        }
        let lab = &mut self.lab;
        lab.fill(0);
        for (k, &i) in seeds.iter().enumerate() {
            lab[i] = k as u32 + 1;
        }
        flood(dist, mask, w, h, seeds, lab, &mut self.buckets);
        // Mask pixels reachable only diagonally from the markers.
        let first = lab.iter().copied().find(|&l| l != 0).unwrap_or(0);
        for (l, &m) in lab.iter_mut().zip(mask.iter()) {
            if m != 0 && *l == 0 {
                *l = first;
            }
        }
        merge_wide_necks(dist, w, h, lab, seeds.len(), p)
    }
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
/// reference (`flood_reference`, in the tests).
fn flood(
    dist: &[f32],
    mask: &[u8],
    w: usize,
    h: usize,
    seeds: &[usize],
    lab: &mut [u32],
    buckets: &mut Vec<Vec<(u32, u32)>>,
) {
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
        flood_in::<true>(dist, mask, w, h, seeds, lab, buckets);
    } else {
        flood_in::<false>(dist, mask, w, h, seeds, lab, buckets);
    }
}

/// [`flood`], with neighbours unchecked when `BORDERED` (no set pixel on
/// the crop's edge).
#[inline(always)]
fn flood_in<const BORDERED: bool>(
    dist: &[f32],
    mask: &[u8],
    w: usize,
    h: usize,
    seeds: &[usize],
    lab: &mut [u32],
    buckets: &mut Vec<Vec<(u32, u32)>>,
) {
    let key = |i: usize| (dist[i].max(0.0) * 8.0 + 0.5) as usize;
    let neighbours = |i: usize| {
        if BORDERED {
            [Some(i - 1), Some(i + 1), Some(i - w), Some(i + w)]
        } else {
            let (x, y) = (i % w, i / w);
            [
                (x > 0).then(|| i - 1),
                (x + 1 < w).then(|| i + 1),
                (y > 0).then(|| i - w),
                (y + 1 < h).then(|| i + w),
            ]
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

/// The neck test on flooded labels `lab` (1..=n, w × h): neighbours whose
/// shared boundary is not clearly narrower than the smaller body merge;
/// `lab` is relabelled 1..=m in raster order of first pixel; returns m.
/// The same merges and numbers as the reference
/// (`merge_wide_necks_reference`, in the tests), from one scan of the
/// labels for each region's depth, first pixel and touching neighbours,
/// and one table lookup per pixel to renumber.
fn merge_wide_necks(
    dist: &[f32],
    w: usize,
    h: usize,
    lab: &mut [u32],
    n: usize,
    p: &SplitParams,
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
        merge_pairs(pairs, &mut body, &mut parent, p.neck_ratio);
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

/// The neck test's merges: touching regions `pairs` (labels, deepest
/// boundary), highest necks first, merge (union-find `parent`, smaller
/// root kept) where the neck is at least `ratio` × the smaller body
/// (`body`: each root's deepest pixel), merged groups keeping their
/// deepest body: a small region sitting in a neck joins one side, and its
/// other, narrow side still separates the two real bodies.
fn merge_pairs(
    mut pairs: Vec<((u32, u32), f32)>,
    body: &mut [f32],
    parent: &mut [u32],
    ratio: f64,
) {
    pairs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for ((a, b), nk) in pairs {
        let (ra, rb) = (find(parent, a), find(parent, b));
        if ra == rb {
            continue;
        }
        let smaller = body[ra as usize].min(body[rb as usize]);
        if f64::from(nk) >= ratio * f64::from(smaller) {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            parent[hi as usize] = lo;
            body[lo as usize] = body[lo as usize].max(body[hi as usize]);
        }
    }
}

/// Splits the 8-connected objects of `mask` where they touch through a
/// narrow neck. Returns labels 1..=n in raster order of first pixel, and n.
///
/// Objects are found as runs of pixels in one pass over the mask
/// (`component_runs`: no label plane) and split one at a time in their
/// crops; the
/// pieces get provisional labels, renumbered in raster order of their
/// first pixels at the end — within the crops of the objects whose pieces
/// change number, not over the whole image.
pub fn split(mask: &GrayImage, p: &SplitParams) -> (Labels, u32) {
    let (labels, n, _) = split_visit(mask, p, |_| {});
    (labels, n)
}

/// One component of a mask as [`split_visit`] splits it.
pub struct Pieces<'a> {
    /// The component's crop.
    pub crop: Crop,
    /// Its pieces' labels over the crop, `1..=k` (0 outside it).
    pub lab: &'a [u32],
    /// The number of pieces.
    pub k: u32,
    /// The component's runs of pixels (row, first column, one past the
    /// last; image coordinates, any order): with one piece, its pixels.
    pub runs: &'a mut [Run],
    /// The pieces' provisional labels are `base + 1..=base + k`.
    pub base: u32,
}

/// [`split`], handing `visit` each component as it is split, and also
/// returning each provisional label's final number (index: provisional
/// label, 1-based; entry 0 unused).
pub fn split_visit(
    mask: &GrayImage,
    p: &SplitParams,
    visit: impl FnMut(Pieces),
) -> (Labels, u32, Vec<u32>) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    // Every component's runs, found in one pass, components in raster
    // order of first pixel.
    let (mut all, mut starts) = (Vec::new(), Vec::new());
    component_runs(mask.as_raw(), w, &mut all, &mut starts);
    split_components(w, h, all, &starts, p, visit)
}

/// [`split_visit`] of the w × h mask whose set pixels are `found`: every
/// maximal run of every row, in raster order (as
/// [`filled_runs`](super::morph::filled_runs) gives them, without a mask
/// drawn and read again).
pub fn split_visit_runs(
    w: usize,
    h: usize,
    found: &[Run],
    p: &SplitParams,
    visit: impl FnMut(Pieces),
) -> (Labels, u32, Vec<u32>) {
    let (mut all, mut starts) = (Vec::new(), Vec::new());
    components_of_runs(found, &mut all, &mut starts);
    split_components(w, h, all, &starts, p, visit)
}

/// [`split_visit`] of components given as runs (`all[starts[c]..
/// starts[c + 1]]`, components in raster order of first pixel).
fn split_components(
    w: usize,
    h: usize,
    mut all: Vec<Run>,
    starts: &[usize],
    p: &SplitParams,
    mut visit: impl FnMut(Pieces),
) -> (Labels, u32, Vec<u32>) {
    let mut out = crate::pool::take_zeroed::<u32>(w * h);
    // Each object's crop and provisional labels (base, base + k]; each
    // piece's first pixel (image index), in provisional order.
    let mut objects: Vec<(Crop, u32, u32)> = Vec::new();
    let mut first: Vec<usize> = Vec::new();
    let mut s = Scratch::default();
    for c in starts.windows(2) {
        let runs = &mut all[c[0]..c[1]];
        let crop = crop_of_runs(runs, w, h, &mut s.mask);
        let k = s.split_crop(crop.w, crop.h, p);
        let lab = &s.lab;
        let base = first.len() as u32;
        if k == 1 {
            // One piece: its pixels are the component's runs.
            let mut at = usize::MAX;
            for &(y, l, r) in runs.iter() {
                let o = y as usize * w;
                out[o + l as usize..o + r as usize].fill(base + 1);
                at = at.min(o + l as usize);
            }
            first.push(at);
        } else {
            // Several pieces: each pixel's label from the crop, and
            // each piece's first pixel the least index it is met at.
            first.resize(first.len() + k as usize, usize::MAX);
            for (cy, row) in lab.chunks(crop.w).enumerate() {
                let o = (crop.y0 + cy) * w + crop.x0;
                for (cx, &l) in row.iter().enumerate() {
                    if l != 0 {
                        out[o + cx] = base + l;
                        let f = &mut first[(base + l - 1) as usize];
                        *f = (*f).min(o + cx);
                    }
                }
            }
        }
        objects.push((crop, base, k));
        visit(Pieces {
            crop,
            lab,
            k,
            runs,
            base,
        });
    }
    let n = first.len() as u32;
    // Final number of each provisional label (1-based, 0 unused).
    let mut order: Vec<u32> = (1..=n).collect();
    order.sort_unstable_by_key(|&l| first[l as usize - 1]);
    let mut number = vec![0u32; n as usize + 1];
    for (rank, &l) in order.iter().enumerate() {
        number[l as usize] = rank as u32 + 1;
    }
    // Renumbered pixels are marked by the top bit until all are done, so
    // a pixel of one object in another's crop is never renumbered twice
    // (provisional ranges are disjoint and below the mark).
    const MARK: u32 = 1 << 31;
    let moved: Vec<&(Crop, u32, u32)> = objects
        .iter()
        .filter(|&&(_, base, k)| (base + 1..=base + k).any(|l| number[l as usize] != l))
        .collect();
    for &&(c, base, k) in &moved {
        for y in c.y0..c.y0 + c.h {
            for v in &mut out[y * w + c.x0..y * w + c.x0 + c.w] {
                if *v > base && *v <= base + k {
                    *v = number[*v as usize] | MARK;
                }
            }
        }
    }
    for &&(c, _, _) in &moved {
        for y in c.y0..c.y0 + c.h {
            for v in &mut out[y * w + c.x0..y * w + c.x0 + c.w] {
                *v &= !MARK;
            }
        }
    }
    let labels = Labels::from_raw(w as u32, h as u32, out)
        .unwrap_or_else(|| Labels::new(w as u32, h as u32));
    (labels, n, number)
}

/// The reference for [`flood`]: marker-controlled flooding of the set pixels of one object of `mask`
/// from its `seeds`, whose labels are already in `lab` (0 elsewhere in
/// the object), deepest first, 4-connected. `buckets` is scratch.
#[cfg(test)]
fn flood_reference(
    dist: &[f32],
    mask: &[u8],
    w: usize,
    h: usize,
    seeds: &[usize],
    lab: &mut [u32],
    buckets: &mut Vec<VecDeque<(u32, u32)>>,
) {
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
    let neighbours = |i: usize| {
        let (x, y) = (i % w, i / w);
        [
            (x > 0).then(|| i - 1),
            (x + 1 < w).then(|| i + 1),
            (y > 0).then(|| i - w),
            (y + 1 < h).then(|| i + w),
        ]
    };
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

/// The reference for [`merge_wide_necks`]: the neck test on flooded labels `lab` (1..=n, w × h): neighbours whose
/// shared boundary is not clearly narrower than the smaller body merge;
/// `lab` is relabelled 1..=m in raster order of first pixel; returns m.
#[cfg(test)]
fn merge_wide_necks_reference(
    dist: &[f32],
    w: usize,
    h: usize,
    lab: &mut [u32],
    n: usize,
    p: &SplitParams,
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
        merge_pairs(pairs, &mut body, &mut parent, p.neck_ratio);
    }
    super::label::relabel(lab, &mut parent)
}

/// [`split`] of a mask, all at once: the reference the component-wise
/// driver must equal.
#[cfg(test)]
fn split_dense(mask: &GrayImage, p: &SplitParams) -> (Labels, u32) {
    split_labelled(mask, super::label::label(mask).0, p)
}

/// Splitting given the mask's 8-connected components, all at once.
#[cfg(test)]
fn split_labelled(mask: &GrayImage, comps: Labels, p: &SplitParams) -> (Labels, u32) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let raw = mask.as_raw();
    if raw.iter().all(|&v| v != 0) {
        // One object filling the image: nothing to split.
        let n = u32::from(w * h > 0);
        return (comps, n);
    }
    let dist = super::distance::edt(mask);
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
        flood_reference(&dist, raw, w, h, &group, &mut lab, &mut buckets);
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
    let n = merge_wide_necks_reference(&dist, w, h, &mut lab, seeds.len(), p);
    (
        Labels::from_raw(w as u32, h as u32, lab).unwrap_or_default(),
        n,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::label::label;
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

    /// Random blobs: discs of assorted sizes, many touching, some cut by
    /// the image border.
    fn blobs(seed: u64, w: u32, h: u32) -> GrayImage {
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

    /// A mask with no background (a fixed threshold below every pixel)
    /// is one object, found without measuring depth (there is no
    /// background to measure it from).
    #[test]
    fn all_foreground_is_one_object() {
        let m = GrayImage::from_pixel(300, 200, Luma([255]));
        for (lab, n) in [split(&m, &params()), split_dense(&m, &params())] {
            assert_eq!(n, 1);
            assert!(lab.as_raw().iter().all(|&l| l == 1));
        }
        let mut m2 = m.clone();
        let mut seen = Vec::new();
        split_reached(&mut m2, [0], &params(), |crop, lab, k| {
            seen.push((*crop, k, lab.iter().all(|&l| l == 1)))
        });
        let whole = Crop {
            x0: 0,
            y0: 0,
            w: 300,
            h: 200,
        };
        assert_eq!(seen, vec![(whole, 1, true)]);
    }

    /// The scan-line fill finds exactly the seed's 8-connected component
    /// (diagonal steps, U-turns, runs at the image edges), clearing it and
    /// nothing else, as disjoint runs.
    #[test]
    fn run_fill_finds_the_component() {
        for seed in 0..8 {
            let mut m = blobs(seed, 61, 47);
            // Diagonal staircase from the top-left corner, and a U.
            for i in 0..20 {
                m.put_pixel(i, i, Luma([255]));
            }
            for y in 30..46 {
                m.put_pixel(50, y, Luma([255]));
                m.put_pixel(60, y, Luma([255]));
            }
            for x in 50..61 {
                m.put_pixel(x, 46, Luma([255]));
            }
            let (comps, _) = label(&m);
            let w = 61;
            for start in [0usize, 45 * w + 60, 30 * w + 50] {
                let c = comps.as_raw()[start];
                let mut work = m.as_raw().clone();
                let (mut runs, mut stack) = (Vec::new(), Vec::new());
                fill_runs(&mut work, w, start, &mut runs, &mut stack);
                let mut hit = vec![0u8; w * 47];
                for &(y, l, r) in &runs {
                    for x in l..r {
                        hit[y as usize * w + x as usize] += 1;
                    }
                }
                for i in 0..w * 47 {
                    let mine = comps.as_raw()[i] == c;
                    assert_eq!(hit[i], u8::from(mine), "seed {seed} pixel {i}");
                    assert_eq!(work[i] != 0, m.as_raw()[i] != 0 && !mine);
                }
            }
        }
    }

    #[test]
    fn component_wise_split_equals_splitting_the_whole_image() {
        for seed in 0..12 {
            let m = blobs(seed, 97, 83);
            for p in [
                params(),
                SplitParams {
                    neck_ratio: 1.0,
                    ..params()
                },
            ] {
                let (a, na) = split(&m, &p);
                let (b, nb) = split_dense(&m, &p);
                assert_eq!(na, nb, "seed {seed}");
                assert_eq!(a.as_raw(), b.as_raw(), "seed {seed}");
            }
        }
    }

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
                flood(&dist, mask.as_raw(), w, h, &seeds, &mut a, &mut buckets);
                assert!(buckets.iter().all(Vec::is_empty));
                // Reused scratch gives the same again.
                flood(&dist, mask.as_raw(), w, h, &seeds, &mut again, &mut buckets);
                flood_reference(&dist, mask.as_raw(), w, h, &seeds, &mut b, &mut Vec::new());
                assert_eq!(a, b, "seed {seed}, {w} wide");
                assert_eq!(again, b, "seed {seed}, {w} wide, reused");
            }
        }
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
            for ratio in [0.0, 0.3, 0.75, 0.95, 1.0] {
                let p = SplitParams {
                    neck_ratio: ratio,
                    ..params()
                };
                let (mut a, mut b) = (lab.clone(), lab.clone());
                let na = merge_wide_necks(&dist, w, h, &mut a, n, &p);
                let nb = merge_wide_necks_reference(&dist, w, h, &mut b, n, &p);
                assert_eq!((na, &a), (nb, &b), "{n} regions, ratio {ratio}");
            }
        }
    }

    /// Splitting the runs of a filled mask gives what splitting the mask
    /// drawn from them does.
    #[test]
    fn splitting_runs_equals_splitting_their_mask() {
        for seed in 0..6 {
            let m = blobs(seed, 83, 61);
            let runs = crate::segment::morph::filled_runs(&m);
            let filled = crate::segment::morph::fill_holes(&m);
            let (a, n, number) = split_visit_runs(83, 61, &runs, &params(), |_| {});
            let (b, nb, number_b) = split_visit(&filled, &params(), |_| {});
            assert_eq!((a, n, number), (b, nb, number_b), "seed {seed}");
        }
    }

    #[test]
    fn split_reached_visits_seeded_components_only_with_their_crops() {
        let m = blobs(3, 97, 83);
        let (whole, _) = split(&m, &params());
        let (comps, n) = label(&m);
        // Seed every other component, at its last pixel, twice over.
        let last = |c: u32| comps.as_raw().iter().rposition(|&l| l == c).unwrap();
        let seeded: Vec<u32> = (1..=n).filter(|c| c % 2 == 0).collect();
        let seeds: Vec<usize> = seeded
            .iter()
            .rev()
            .chain(&seeded)
            .map(|&c| last(c))
            .collect();
        let mut seen = Vec::new();
        let mut mask = m.clone();
        split_reached(&mut mask, seeds, &params(), |crop, lab, k| {
            assert_eq!(lab.len(), crop.w * crop.h);
            assert!(k >= 1);
            // The crop's objects are the whole image's, relabelled.
            let mut map = HashMap::new();
            for (j, &l) in lab.iter().enumerate() {
                let i = (crop.y0 + j / crop.w) * 97 + crop.x0 + j % crop.w;
                if l != 0 {
                    let g = whole.as_raw()[i];
                    assert_eq!(*map.entry(l).or_insert(g), g);
                    seen.push(comps.as_raw()[i]);
                }
            }
            assert_eq!(map.len(), k as usize);
        });
        let mut visited = seen.clone();
        visited.sort();
        visited.dedup();
        assert_eq!(visited, seeded);
        // Each seeded component was visited once, with all its pixels.
        for &c in &seeded {
            let size = comps.as_raw().iter().filter(|&&l| l == c).count();
            assert_eq!(seen.iter().filter(|&&l| l == c).count(), size);
        }
        // Reached components are cleared from the mask, the others stay.
        for (i, (&a, &b)) in m.as_raw().iter().zip(mask.as_raw()).enumerate() {
            let c = comps.as_raw()[i];
            assert_eq!(b != 0, a != 0 && c % 2 == 1, "pixel {i}");
        }
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

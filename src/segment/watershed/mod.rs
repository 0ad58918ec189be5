//! Splitting touching objects (follicles, crowded nuclei). Given an
//! intensity plane, an object is first carved into bodies of distinct
//! brightness (`layers.rs`), each split on its own. Then: markers at the
//! peaks of the distance transform (`markers.rs`), a marker-controlled
//! watershed of the distance map (`flood.rs`; Beucher & Lantuéjoul 1979,
//! with Meyer's ordered flooding, Meyer 1991 / Beucher & Meyer 1993), and
//! a neck test that merges pieces meeting through a wide neck, so that an
//! elongated single object stays whole (`necks.rs`) — unless the pieces
//! differ in brightness, or their cut runs between two notches of the
//! outline (`notches.rs`), and which keeps a cut through a bend-like
//! neck (narrow, not clearly so) only where both its ends dip into the
//! outline (a bend's outer side does not);
//! last, cuts between two facing notches for bodies side by side, with
//! no neck at all (`cuts.rs`). This file drives them one object at a
//! time, inside the object's crop.
//!
//! Two entry points: [`split`] labels every piece of every object;
//! [`split_reached`] splits only the objects some seeds reach, with no
//! image-sized label plane (most DAPI objects hold no Sox9+ pixel and
//! are never split).

mod cuts;
mod flood;
mod layers;
mod markers;
mod necks;
mod notches;
#[cfg(test)]
mod reference;

use image::GrayImage;

use super::distance::{edt_into, EdtScratch};
pub use super::label::Run;
use super::label::{component_runs, components_of_runs};
use crate::{Crop, Labels};
use cuts::{cut_at_notch_pairs, Cuts};
use flood::{flood, Basin};
use markers::markers_into;
use necks::{in_two_passes, merge_wide_necks};

/// How to split touching objects; lengths in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitParams {
    /// Markers closer than this (px) to a stronger marker are dropped.
    pub min_separation_px: f64,
    /// Markers need an inscribed radius of at least this (px) — each
    /// object's strongest marker is always kept.
    pub min_radius_px: f64,
    /// A watershed line is kept only where the neck's half-width is below
    /// `neck_ratio` × the inscribed radius of the smaller body — or, when
    /// [`split`] is given an intensity plane, where one piece's core is at
    /// least `step_ratio` × as bright as the other's.
    pub neck_ratio: f64,
    /// The intensity step that keeps a wide-necked split (brighter core
    /// mean ÷ dimmer core mean; `f64::INFINITY`: never).
    pub step_ratio: f64,
    /// A wide-necked split is also kept where both ends of the cut lie
    /// at least this deep (px) inside the two pieces' convex hull: two
    /// bodies meeting between notches (`f64::INFINITY`: never).
    pub notch_px: f64,
    /// A narrow neck at least `bend_ratio` × the smaller body's inscribed
    /// radius (and below `neck_ratio`) may be the thickened corner of one
    /// bent body: such a cut stands on its neck only if, once the wide
    /// necks are merged, both its ends lie at least `pinch_px` inside the
    /// two bodies' convex hull (a bend's outer side lies on it). Narrower
    /// necks cut on their own; `bend_ratio` ≥ `neck_ratio`: never tested.
    pub bend_ratio: f64,
    /// How deep both ends of a bend-like cut must dip into the outline,
    /// px: deeper than the outline's own roughness.
    pub pinch_px: f64,
    /// A piece is also cut along the line between two notches of its
    /// outline, each at least `notch_px` deep inside its convex hull,
    /// whose depths sum to at least `cut_ratio` × the line's length,
    /// where both parts keep `min_area_px` pixels and `min_radius_px`
    /// inscribed radius (bodies side by side; 0: never).
    pub cut_ratio: f64,
    /// The least area of a part such a cut leaves, px.
    pub min_area_px: f64,
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
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let m = mask.as_mut();
    let mut s = Scratch::default();
    for seed in seeds {
        if m.get(seed).is_none_or(|&v| v == 0) {
            continue;
        }
        fill_runs(m, w, seed, &mut s.runs, &mut s.stack);
        let crop = crop_of_runs(&s.runs, w, h, &mut s.mask);
        let k = s.split_crop(&crop, p, None);
        visit(&crop, &s.lab, k);
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
    /// The crop's intensities, when splits weigh them.
    intensity: Vec<f32>,
    /// The cuts between notch pairs' buffers.
    cuts: Cuts,
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
    /// `lab`, labels 1..=n in raster order of first pixel: given an
    /// intensity plane, carved first into bodies of distinct brightness
    /// (`layers.rs`), each body split at its necks, then the pieces cut
    /// between notch pairs (`cuts.rs`); returns n.
    fn split_crop(
        &mut self,
        crop: &Crop,
        p: &SplitParams,
        intensity: Option<(&[f32], usize)>,
    ) -> u32 {
        let layers = intensity.and_then(|stain| layers::carve(&self.mask, crop, stain, p));
        let n = match layers {
            Some(layers) => self.split_bodies_at_necks(crop, p, intensity, &layers),
            None => self.split_at_necks(crop, p, intensity),
        };
        cut_at_notch_pairs(&mut self.lab, crop.w, crop.h, n, p, &mut self.cuts)
    }

    /// [`Scratch::split_at_necks`] of each body of `layers` on its own
    /// (the other bodies background), pieces that meet beside another
    /// body joined again (`layers::join_at_bites`), into `lab`, labels
    /// 1..=n in raster order of first pixel; returns n.
    fn split_bodies_at_necks(
        &mut self,
        crop: &Crop,
        p: &SplitParams,
        intensity: Option<(&[f32], usize)>,
        layers: &layers::Layers,
    ) -> u32 {
        let whole = std::mem::take(&mut self.mask);
        let mut all = vec![0u32; whole.len()];
        let mut n = 0;
        for body in 1..=layers.count {
            self.mask.clear();
            self.mask
                .extend(layers.lab.iter().map(|&l| if l == body { 255 } else { 0 }));
            let k = self.split_at_necks(crop, p, intensity);
            for (a, &l) in all.iter_mut().zip(&self.lab) {
                if l != 0 {
                    *a = n + l;
                }
            }
            n += k;
        }
        self.mask = whole;
        self.lab = all;
        layers::join_at_bites(&mut self.lab, n, layers, crop.w, p)
    }

    /// Splits the one 8-connected component drawn in `mask` (w × h) into
    /// `lab` at its necks (markers, flooding, neck test), labels 1..=n in
    /// raster order of first pixel; returns n.
    /// Given the image-sized `intensity` plane (`width` wide), the crop's
    /// intensities — copied into `self.intensity` only when there are
    /// pieces to weigh — keep splits between pieces of distinct
    /// brightness. The same steps as the whole-image reference
    /// (`split_labelled`, in `reference.rs`) with a single component.
    fn split_at_necks(
        &mut self,
        crop: &Crop,
        p: &SplitParams,
        intensity: Option<(&[f32], usize)>,
    ) -> u32 {
        let (w, h) = (crop.w, crop.h);
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
        flood(Basin { dist, mask, w, h }, seeds, lab, &mut self.buckets);
        // Mask pixels reachable only diagonally from the markers.
        let first = lab.iter().copied().find(|&l| l != 0).unwrap_or(0);
        for (l, &m) in lab.iter_mut().zip(mask.iter()) {
            if m != 0 && *l == 0 {
                *l = first;
            }
        }
        let intensity = intensity.map(|(plane, width)| {
            self.intensity.clear();
            for y in crop.y0..crop.y0 + h {
                let o = y * width + crop.x0;
                self.intensity.extend_from_slice(&plane[o..o + w]);
            }
            self.intensity.as_slice()
        });
        in_two_passes(seeds.len(), p, |n, pinch| {
            merge_wide_necks(dist, intensity, w, h, lab, n, p, pinch)
        })
    }
}

/// The objects to split: a mask, or the runs of one.
#[derive(Clone, Copy)]
pub enum Objects<'a> {
    /// The set (non-zero) pixels of a mask, 8-connected.
    Mask(&'a GrayImage),
    /// The set pixels of a `width` × `height` mask given as every maximal
    /// run of every row, in raster order (as hole filling finds them,
    /// without a mask drawn and read again).
    Runs {
        /// The mask's width, px.
        width: usize,
        /// The mask's height, px.
        height: usize,
        /// The runs (row, first column, one past the last).
        runs: &'a [Run],
    },
}

/// Touching objects split: [`split`]'s result.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The pieces, labelled 1..=`count` in raster order of first pixel.
    pub labels: Labels,
    /// The number of pieces.
    pub count: u32,
    /// Each provisional label's final number (index: the provisional
    /// label, `base + 1..=base + k` of a [`Pieces`]; entry 0 unused).
    pub final_label: Vec<u32>,
}

/// One object as [`split`] splits it, handed to its `visit`.
pub struct Pieces<'a> {
    /// The object's crop.
    pub crop: Crop,
    /// Its pieces' labels over the crop, `1..=k` (0 outside it).
    pub lab: &'a [u32],
    /// The number of pieces.
    pub k: u32,
    /// The object's runs of pixels (row, first column, one past the
    /// last; image coordinates, any order): with one piece, its pixels.
    pub runs: &'a mut [Run],
    /// The pieces' provisional labels are `base + 1..=base + k`.
    pub base: u32,
}

/// Splits the 8-connected `objects` where they touch through a narrow
/// neck (or, given an `intensity` plane of the same size, where pieces of
/// distinct brightness meet), handing `visit` each object as it is split
/// (so that its pieces can be measured while they are in cache).
///
/// Objects are found as runs of pixels in one pass (no label plane) and
/// split one at a time in their crops; the pieces get provisional labels,
/// renumbered in raster order of their first pixels at the end — within
/// the crops of the objects whose pieces change number, not over the
/// whole image.
pub fn split(
    objects: Objects<'_>,
    p: &SplitParams,
    intensity: Option<&[f32]>,
    visit: impl FnMut(Pieces),
) -> Split {
    // Every object's runs, objects in raster order of first pixel.
    let (mut all, mut starts) = (Vec::new(), Vec::new());
    let (w, h) = match objects {
        Objects::Mask(mask) => {
            let w = mask.width() as usize;
            component_runs(mask.as_raw(), w, &mut all, &mut starts);
            (w, mask.height() as usize)
        }
        Objects::Runs {
            width,
            height,
            runs,
        } => {
            components_of_runs(runs, &mut all, &mut starts);
            (width, height)
        }
    };
    split_components(w, h, all, &starts, p, intensity, visit)
}

/// [`split`] of objects given as runs (`all[starts[c]..
/// starts[c + 1]]`, components in raster order of first pixel).
fn split_components(
    w: usize,
    h: usize,
    mut all: Vec<Run>,
    starts: &[usize],
    p: &SplitParams,
    intensity: Option<&[f32]>,
    mut visit: impl FnMut(Pieces),
) -> Split {
    let mut out = crate::pool::take_zeroed::<u32>(w * h);
    // Each object's crop and provisional labels (base, base + k]; each
    // piece's first pixel (image index), in provisional order.
    let mut objects: Vec<(Crop, u32, u32)> = Vec::new();
    let mut first: Vec<usize> = Vec::new();
    let mut s = Scratch::default();
    for c in starts.windows(2) {
        let runs = &mut all[c[0]..c[1]];
        let crop = crop_of_runs(runs, w, h, &mut s.mask);
        let k = s.split_crop(&crop, p, intensity.map(|plane| (plane, w)));
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
    Split {
        labels,
        count: n,
        final_label: number,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::reference::{
        blobs, drawn_alone, params, shape, split_dense, split_mask, stained_blobs,
    };
    use super::*;
    use crate::segment::label::label;
    use image::Luma;

    /// A mask with no background (a fixed threshold below every pixel)
    /// is one object, found without measuring depth (there is no
    /// background to measure it from).
    #[test]
    fn all_foreground_is_one_object() {
        let m = GrayImage::from_pixel(300, 200, Luma([255]));
        for (lab, n) in [split_mask(&m, &params()), split_dense(&m, None, &params())] {
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
        // Pieces with and without cuts between notch pairs, over all seeds.
        let (mut plain, mut cut) = (0, 0);
        for seed in 0..12 {
            let m = blobs(seed, 97, 83);
            for (k, p) in [
                params(),
                SplitParams {
                    neck_ratio: 1.0,
                    ..params()
                },
                SplitParams {
                    neck_ratio: 0.9,
                    bend_ratio: 0.7,
                    pinch_px: 2.0,
                    ..params()
                },
                SplitParams {
                    notch_px: 2.0,
                    cut_ratio: 0.5,
                    min_area_px: 40.0,
                    ..params()
                },
            ]
            .into_iter()
            .enumerate()
            {
                let (a, na) = split_mask(&m, &p);
                let (b, nb) = split_dense(&m, None, &p);
                assert_eq!(na, nb, "seed {seed}");
                assert_eq!(a.as_raw(), b.as_raw(), "seed {seed}");
                match k {
                    0 => plain += na,
                    3 => cut += na,
                    _ => {}
                }
            }
        }
        assert!(
            cut > plain,
            "the cuts were tested: {cut} pieces, {plain} without"
        );
    }

    /// With a stain, objects carved into bodies of distinct brightness
    /// (`layers.rs`) in their crops, then split, give what carving and
    /// splitting each drawn alone on the whole image gives.
    #[test]
    fn carving_in_crops_equals_carving_on_the_whole_image() {
        let (mut carved, mut objects) = (0, 0);
        for seed in 0..16 {
            let (m, stain) = stained_blobs(seed, 97, 83);
            let p = SplitParams {
                step_ratio: 1.5,
                min_area_px: 60.0,
                min_radius_px: 3.0,
                ..params()
            };
            let a = split(Objects::Mask(&m), &p, Some(&stain), |_| {});
            let (b, nb) = split_dense(&m, Some(&stain), &p);
            assert_eq!(a.count, nb, "seed {seed}");
            assert_eq!(a.labels.as_raw(), b.as_raw(), "seed {seed}");
            let (comps, n) = label(&m);
            for c in 1..=n {
                let object = drawn_alone(comps.as_raw(), c);
                objects += 1;
                let whole = Crop {
                    x0: 0,
                    y0: 0,
                    w: 97,
                    h: 83,
                };
                carved +=
                    u32::from(super::layers::carve(&object, &whole, (&stain, 97), &p).is_some());
            }
        }
        assert!(carved >= 5, "{carved} of {objects} objects carved");
    }

    /// Splitting the runs of a filled mask gives what splitting the mask
    /// drawn from them does.
    #[test]
    fn splitting_runs_equals_splitting_their_mask() {
        for seed in 0..6 {
            let m = blobs(seed, 83, 61);
            let runs = crate::segment::morph::filled_runs(&m);
            let filled = crate::segment::morph::fill_holes(&m);
            let from_runs = Objects::Runs {
                width: 83,
                height: 61,
                runs: &runs,
            };
            let a = split(from_runs, &params(), None, |_| {});
            let b = split(Objects::Mask(&filled), &params(), None, |_| {});
            assert_eq!(a, b, "seed {seed}");
        }
    }

    #[test]
    fn split_reached_visits_seeded_components_only_with_their_crops() {
        let m = blobs(3, 97, 83);
        let (whole, _) = split_mask(&m, &params());
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
        let (l, n) = split_mask(&m, &params());
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
            let (_, n) = split_mask(&m, &params());
            assert_eq!(n, 1, "theta {theta}");
        }
    }

    /// A bent body thick at its ends and its bend: the neck test alone
    /// cuts it at a narrowing, the pinch test sees the cut's outer end on
    /// the hull and keeps it whole; two discs meeting stay two.
    #[test]
    fn a_bent_body_stays_whole_where_two_discs_stay_two() {
        // A quarter ring about (16, 16), centre line radius 50, half-width
        // 12, thickened on its inner side at its ends and its bend (discs
        // of radius 14 touching the outer edge from inside).
        let (c, r) = (16.0, 50.0);
        let d = r - 2.0;
        let bend = c + d * std::f64::consts::FRAC_1_SQRT_2;
        let m = shape(90, 90, |x, y| {
            let ring = (x >= c && y >= c) && ((x - c).hypot(y - c) - r).abs() <= 12.0;
            ring || (x - c - d).hypot(y - c) <= 14.0
                || (x - c).hypot(y - c - d) <= 14.0
                || (x - bend).hypot(y - bend) <= 14.0
        });
        assert_eq!(label(&m).1, 1);
        let unpinched = SplitParams {
            neck_ratio: 0.9,
            ..params()
        };
        let pinched = SplitParams {
            bend_ratio: 0.75,
            pinch_px: 2.0,
            ..unpinched
        };
        assert!(
            split_mask(&m, &unpinched).1 >= 2,
            "the neck test alone cuts it"
        );
        assert_eq!(split_mask(&m, &pinched).1, 1);
        let discs = shape(60, 40, |x, y| {
            (x - 20.0).hypot(y - 20.0) <= 10.0 || (x - 37.0).hypot(y - 20.0) <= 10.0
        });
        assert_eq!(split_mask(&discs, &pinched).1, 2);
    }

    #[test]
    fn three_in_a_chain_and_separate_objects_keep_their_own_labels() {
        let m = shape(120, 40, |x, y| {
            [15.0, 38.0, 61.0]
                .iter()
                .any(|&cx| (x - cx).hypot(y - 20.0) <= 12.0)
                || (x - 100.0).hypot(y - 20.0) <= 8.0
        });
        let (l, n) = split_mask(&m, &params());
        assert_eq!(n, 4);
        assert_eq!(l.get_pixel(15, 20)[0], 1);
        assert_eq!(l.get_pixel(100, 20)[0], 4);
    }
}

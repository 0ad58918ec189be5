//! Follicle candidates: the P-cadherin mask opened and its holes filled,
//! touching follicles split, each piece measured.

use image::GrayImage;

use super::Scale;
use crate::io::Plane;
use crate::measure::{region_of_runs, regions, regions_of_crop, Region};
use crate::params::Params;
use crate::segment::label::{label, Run};
use crate::segment::local::local_max;
use crate::segment::morph::{fill_holes, filled_runs, open};
use crate::segment::watershed::{split, Objects, Pieces, SplitParams};
use crate::{FloatImage, Labels};

/// The follicle candidates with their holes filled: as their runs of
/// pixels when they are to be split (no mask drawn to be read again),
/// else as a mask to label.
pub(super) enum Candidates {
    /// Their runs of pixels, every row's in order (to split).
    Runs {
        /// The field's width, px.
        width: usize,
        /// The field's height, px.
        height: usize,
        /// The runs.
        runs: Vec<Run>,
    },
    /// Their mask (to label).
    Mask(GrayImage),
}

/// The candidates and their measurements.
pub(super) struct Measured {
    /// The candidates' labels, `1..=n` in raster order of first pixel.
    pub labels: Labels,
    /// Each candidate's measurements in the raw P-cadherin, Sox9 and
    /// DAPI channels (index: label − 1).
    pub regions: Vec<Region<3>>,
}

/// Opens the P-cadherin mask (radius `open_radius_um`: detaches thin
/// bridges, removes specks) and fills its holes (a follicle's hollow
/// centre is part of it); the mask goes back to the buffer pool.
pub(super) fn follicle_candidates(pcad_mask: GrayImage, p: &Params, scale: Scale) -> Candidates {
    let opened = open(&pcad_mask, scale.px(p.open_radius_um));
    crate::pool::give_image(pcad_mask);
    let filled = if p.split {
        Candidates::Runs {
            width: opened.width() as usize,
            height: opened.height() as usize,
            runs: filled_runs(&opened),
        }
    } else {
        Candidates::Mask(fill_holes(&opened))
    };
    crate::pool::give_image(opened);
    filled
}

/// Splits touching candidates where they meet through a narrow neck or
/// where pieces of distinct brightness in `pcad` (the corrected
/// P-cadherin) meet (with `p.split`; see [`crate::segment::watershed`])
/// and measures
/// every piece in `channels`, as the split finds it (from its runs, or
/// its crop), with no pass over the label plane.
pub(super) fn split_and_measure(
    candidates: Candidates,
    pcad: &FloatImage,
    channels: &[Plane; 3],
    p: &Params,
    scale: Scale,
) -> Measured {
    let mut copies = None;
    let stored = Stored::of(channels, &mut copies);
    match candidates {
        Candidates::Runs {
            width,
            height,
            runs,
        } => {
            let mut pieces: Vec<Region<3>> = Vec::new();
            let params = SplitParams {
                min_separation_px: scale.px(p.split_min_separation_um),
                min_radius_px: scale.px(p.split_min_radius_um),
                neck_ratio: p.split_neck_ratio,
                step_ratio: p.split_step_ratio,
                notch_px: scale.px(p.split_notch_um),
                bend_ratio: p.split_bend_ratio,
                pinch_px: p.split_pinch_px,
                cut_ratio: p.split_cut_ratio,
                min_area_px: scale.px2(p.min_area_um2),
            };
            let objects = Objects::Runs {
                width,
                height,
                runs: &runs,
            };
            let split = split(objects, &params, Some(pcad.as_raw()), |object| {
                stored.measure(object, width, &mut pieces)
            });
            // Provisional labels to final ones, in final order.
            for (r, &f) in pieces.iter_mut().zip(&split.final_label[1..]) {
                r.label = f;
            }
            pieces.sort_unstable_by_key(|r| r.label);
            Measured {
                labels: split.labels,
                regions: pieces,
            }
        }
        Candidates::Mask(mask) => {
            let (labels, n) = label(&mask);
            crate::pool::give_image(mask);
            let regions = stored.regions(&labels, n);
            Measured { labels, regions }
        }
    }
}

/// A field's three channels as they are stored, for measuring: all
/// 16-bit, all float, or (a field mixing them, built by hand) float
/// copies made by [`Stored::of`].
enum Stored<'a> {
    U16([&'a [u16]; 3]),
    F32([&'a [f32]; 3]),
}

impl<'a> Stored<'a> {
    /// The channels of `planes`, the float copies made in `copies` when
    /// the planes mix storage types.
    fn of(planes: &'a [Plane; 3], copies: &'a mut Option<[FloatImage; 3]>) -> Stored<'a> {
        match planes {
            [Plane::U16(a), Plane::U16(b), Plane::U16(c)] => {
                Stored::U16([a, b, c].map(|p| p.as_raw().as_slice()))
            }
            [Plane::F32(a), Plane::F32(b), Plane::F32(c)] => {
                Stored::F32([a, b, c].map(|p| p.as_raw().as_slice()))
            }
            _ => {
                let f: &'a [FloatImage; 3] = copies.insert(planes.each_ref().map(Plane::to_f32));
                Stored::F32(f.each_ref().map(|p| p.as_raw().as_slice()))
            }
        }
    }

    /// [`regions`] of a label image.
    fn regions(&self, labels: &Labels, n: u32) -> Vec<Region<3>> {
        match *self {
            Stored::U16(c) => regions(labels, n, c),
            Stored::F32(c) => regions(labels, n, c),
        }
    }

    /// The regions of one split component's pieces, appended to `out`:
    /// a single piece from its runs, several from its crop.
    fn measure(&self, object: Pieces, w: usize, out: &mut Vec<Region<3>>) {
        fn of<T: crate::Sample>(object: Pieces, c: [&[T]; 3], w: usize, out: &mut Vec<Region<3>>) {
            if object.k == 1 {
                out.push(region_of_runs(object.base + 1, object.runs, c, w));
            } else {
                out.extend(regions_of_crop(
                    object.base + 1,
                    object.k,
                    object.lab,
                    object.crop,
                    c,
                    w,
                ));
            }
        }
        match *self {
            Stored::U16(c) => of(object, c, w, out),
            Stored::F32(c) => of(object, c, w, out),
        }
    }
}

/// Each `wanted` candidate's contrast against its surroundings: the mean of
/// `pcad` (the corrected P-cadherin) over the candidate ÷ its median over
/// the pixels within `ring_px` of it (a square) that belong to no
/// candidate (index: label − 1; `None` for a candidate not wanted, with
/// no such pixel, or with its surroundings' median at the background's
/// level, 0: nothing to compare with, so nothing it could be fainter
/// than). A follicle stands out from the dermis around it; a patch of
/// haze barely does. (The median: a neighbour's blurred edge in the ring
/// does not raise it.)
///
/// Each candidate's ring is found in its own crop (its box grown by the
/// ring), its mask dilated there: no image-sized plane.
pub(super) fn contrast_with_surroundings(
    candidates: &Measured,
    pcad: &FloatImage,
    ring_px: f64,
    wanted: impl Fn(&Region<3>) -> bool,
) -> Vec<Option<f64>> {
    let labels = &candidates.labels;
    let (w, h) = (labels.width() as usize, labels.height() as usize);
    let n = candidates.regions.len();
    let r = ring_px.round().max(0.0) as usize;
    // (Only the candidates the rule will weigh: the others' rings would
    // cost as much and decide nothing.) Their boxes and sums, one scan.
    let want: Vec<bool> = std::iter::once(false)
        .chain(candidates.regions.iter().map(&wanted))
        .collect();
    let mut boxes = vec![(usize::MAX, usize::MAX, 0usize, 0usize); n + 1];
    let mut inside = vec![(0f64, 0u64); n + 1];
    let (lab, values) = (labels.as_raw(), pcad.as_raw());
    for (y, (lrow, vrow)) in lab.chunks(w).zip(values.chunks(w)).enumerate() {
        for (x, (&l, &v)) in lrow.iter().zip(vrow).enumerate() {
            if want.get(l as usize) == Some(&true) {
                let b = &mut boxes[l as usize];
                *b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
                inside[l as usize].0 += f64::from(v);
                inside[l as usize].1 += 1;
            }
        }
    }
    let mut ring: Vec<f32> = Vec::new();
    (1..=n)
        .map(|l| {
            let (x0, y0, x1, y1) = boxes[l];
            if !want[l] || x0 == usize::MAX {
                return None;
            }
            let (cx0, cy0) = (x0.saturating_sub(r), y0.saturating_sub(r));
            let (cx1, cy1) = ((x1 + r).min(w - 1), (y1 + r).min(h - 1));
            let (cw, ch) = (cx1 - cx0 + 1, cy1 - cy0 + 1);
            let mut mine = crate::pool::take::<f32>(cw * ch);
            for (dst, src) in mine.chunks_mut(cw).zip(lab[cy0 * w..].chunks(w)) {
                for (d, &s) in dst.iter_mut().zip(&src[cx0..cx0 + cw]) {
                    *d = if s == l as u32 { 1.0 } else { 0.0 };
                }
            }
            let mine = FloatImage::from_raw(cw as u32, ch as u32, mine)
                .unwrap_or_else(|| FloatImage::new(0, 0));
            let near = local_max(&mine, r as f64);
            ring.clear();
            for (cy, near_row) in near.as_raw().chunks(cw).enumerate() {
                let o = (cy0 + cy) * w + cx0;
                let (lrow, vrow) = (&lab[o..o + cw], &values[o..o + cw]);
                for ((&d, &l), &v) in near_row.iter().zip(lrow).zip(vrow) {
                    if d > 0.0 && l == 0 {
                        ring.push(v);
                    }
                }
            }
            crate::pool::give_image(near);
            crate::pool::give_image(mine);
            if ring.is_empty() {
                return None;
            }
            let mid = ring.len() / 2;
            let (_, &mut median, _) = ring.select_nth_unstable_by(mid, f32::total_cmp);
            let (sum, count) = inside[l];
            (median > 0.0).then(|| sum / count.max(1) as f64 / f64::from(median))
        })
        .collect()
}

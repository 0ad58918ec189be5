//! Sox9+ nuclei: DAPI objects, split where they crowd, whose mean Sox9
//! signal reaches the Sox9 threshold; and which follicle candidate holds
//! each of them.

use std::ops::RangeInclusive;

use image::GrayImage;

use super::candidates::Measured;
use super::channels::Prepared;
use super::Scale;
use crate::measure::{regions, regions_of_crop};
use crate::params::Params;
use crate::segment::label::label;
use crate::segment::search::positions_at_least;
use crate::segment::watershed::{split_reached, SplitParams};
use crate::segment::window::Window;
use crate::{Crop, Labels};

/// The Sox9+ nuclei of a field.
pub(super) struct Nuclei {
    /// Their centroids (x, y in px).
    pub centroids: Vec<(f64, f64)>,
    /// Their pixels labelled 1..=n in the order of `centroids`, when
    /// asked for (to be saved for inspection).
    pub labels: Option<Labels>,
}

impl Nuclei {
    /// How many lie in the core of `at` (all of them, for a whole field).
    pub fn in_core(&self, at: Window) -> usize {
        self.centroids
            .iter()
            .filter(|&&(x, y)| at.owns(x, y))
            .count()
    }
}

/// The Sox9+ nuclei: objects of the DAPI mask within the Sox9 mask
/// (corrected Sox9 at or above `t_sox9`), at least
/// `min_nucleus_area_um2` large (split with `p.split`); with `paint`,
/// also their label image. The mask and the Sox9 plane go back to the
/// buffer pool.
pub(super) fn sox9_positive_nuclei(
    mut dapi_mask: GrayImage,
    sox9: Prepared,
    t_sox9: f32,
    p: &Params,
    scale: Scale,
    paint: bool,
) -> Nuclei {
    let (w, h) = dapi_mask.dimensions();
    let mut labels = paint.then(|| Labels::new(w, h));
    let mut centroids: Vec<(f64, f64)> = Vec::new();
    // One nucleus (all its pixels Sox9-bright) counts when large enough;
    // its number, if it does.
    let mut tally = |area_px: u64, (cx, cy): (f64, f64)| {
        let counts = scale.um2(area_px) >= p.min_nucleus_area_um2;
        counts.then(|| {
            centroids.push((cx, cy));
            centroids.len() as u32
        })
    };
    let sox9_px = sox9.plane.as_raw().as_slice();
    // Only the Sox9-bright part of a DAPI object can be a Sox9+ nucleus:
    // where nuclei crowd (a follicle's packed DAPI) the DAPI mask joins a
    // Sox9+ nucleus to its Sox9− neighbours, whose dark pixels would
    // dilute its mean below the threshold.
    keep_at_least(&mut dapi_mask, sox9_px, t_sox9);
    if p.split {
        // The objects are found from their Sox9-bright pixels, and split
        // one at a time in their crops, with no label plane.
        let params = SplitParams {
            min_separation_px: scale.px(p.nucleus_min_separation_um),
            min_radius_px: 1.0,
            neck_ratio: p.nucleus_neck_ratio,
            step_ratio: f64::INFINITY,
            notch_px: f64::INFINITY,
            bend_ratio: 1.0,
            pinch_px: 0.0,
            cut_ratio: 0.0,
            min_area_px: 0.0,
        };
        let seeds = positions_at_least(sox9_px, t_sox9);
        let mut numbers = Vec::new();
        split_reached(&mut dapi_mask, seeds, &params, |crop, lab, k| {
            // The sums `regions` would take, from the crop alone.
            numbers.clear();
            numbers.push(0);
            for n in regions_of_crop(1, k, lab, *crop, [sox9_px], w as usize) {
                numbers.push(tally(n.area_px, n.centroid()).unwrap_or(0));
            }
            if let Some(out) = labels.as_mut() {
                paint_crop(out, crop, lab, &numbers);
            }
        });
    } else {
        let (found, n) = label(&dapi_mask);
        let mut numbers = vec![0u32];
        for r in regions(&found, n, [sox9_px]) {
            numbers.push(tally(r.area_px, r.centroid()).unwrap_or(0));
        }
        if let Some(out) = labels.as_mut() {
            for (o, &l) in out.iter_mut().zip(found.as_raw()) {
                *o = numbers[l as usize];
            }
        }
        crate::pool::give_image(found);
    }
    crate::pool::give_image(dapi_mask);
    crate::pool::give_image(sox9.plane);
    Nuclei { centroids, labels }
}

/// Writes the pieces `lab` (1..) of one crop into `out` as `numbers[l]`.
fn paint_crop(out: &mut Labels, crop: &Crop, lab: &[u32], numbers: &[u32]) {
    let w = out.width() as usize;
    let out = &mut **out;
    for (cy, row) in lab.chunks(crop.w).enumerate() {
        let o = (crop.y0 + cy) * w + crop.x0;
        for (cx, &l) in row.iter().enumerate() {
            if l != 0 {
                out[o + cx] = numbers[l as usize];
            }
        }
    }
}

/// Clears the pixels of `mask` whose `values` are below `t`.
fn keep_at_least(mask: &mut GrayImage, values: &[f32], t: f32) {
    for (m, &v) in mask.iter_mut().zip(values) {
        if v < t {
            *m = 0;
        }
    }
}

/// How many of `nuclei` (centroids, px) each candidate holds: the
/// candidate under the centroid, else the nearest within `rim_px`
/// (index: label − 1).
pub(super) fn nuclei_per_candidate(
    candidates: &Measured,
    nuclei: &[(f64, f64)],
    rim_px: f64,
) -> Vec<u32> {
    let labels = &candidates.labels;
    let mut counts = vec![0u32; candidates.regions.len()];
    for (i, &(cx, cy)) in nuclei.iter().enumerate() {
        // The lookups read random places of a plane from memory: the
        // label rows around the nucleus four on are asked for meanwhile.
        if let Some(&(nx, ny)) = nuclei.get(i + 4) {
            prefetch_around(labels, nx, ny, rim_px);
        }
        if let Some(host) = host_near(labels, cx, cy, rim_px) {
            counts[host as usize - 1] += 1;
        }
    }
    counts
}

/// The pixel nearest (x, y) and the rows and columns within `rim_px` of
/// it (clamped to the image; empty for a negative rim), as [`host_near`]
/// searches them.
fn rim_window(labels: &Labels, x: f64, y: f64, rim_px: f64) -> RimWindow {
    let (w, h) = (labels.width() as i64, labels.height() as i64);
    let (xi, yi) = (x.round() as i64, y.round() as i64);
    let r = rim_px.ceil() as i64;
    RimWindow {
        centre: (xi, yi),
        rows: (yi - r).max(0)..=(yi + r).min(h - 1),
        cols: (xi - r).max(0)..=(xi + r).min(w - 1),
    }
}

/// The pixels [`host_near`] searches around a point.
struct RimWindow {
    /// The pixel nearest the point (column, row; may lie outside).
    centre: (i64, i64),
    /// The rows searched.
    rows: RangeInclusive<i64>,
    /// The columns searched.
    cols: RangeInclusive<i64>,
}

/// Asks for the rows of `labels` [`host_near`] reads for (x, y).
fn prefetch_around(labels: &Labels, x: f64, y: f64, rim_px: f64) {
    let RimWindow { rows, cols, .. } = rim_window(labels, x, y, rim_px);
    let w = labels.width() as i64;
    for py in rows {
        let o = py * w;
        let (from, to) = (o + cols.start(), o + cols.end() + 1);
        crate::cache::prefetch_range(labels.as_raw(), from as usize, to.max(from) as usize);
    }
}

/// The object of `labels` at (x, y), or else the nearest one within
/// `rim_px` pixels (ties to the lower label); `None` when there is none.
fn host_near(labels: &Labels, x: f64, y: f64, rim_px: f64) -> Option<u32> {
    let (w, h) = (labels.width() as i64, labels.height() as i64);
    let RimWindow {
        centre: (xi, yi),
        rows,
        cols,
    } = rim_window(labels, x, y, rim_px);
    // An object under the point itself is at distance 0: none is nearer.
    if (0..w).contains(&xi) && (0..h).contains(&yi) && rim_px >= 0.0 {
        let l = labels.get_pixel(xi as u32, yi as u32)[0];
        if l != 0 {
            return Some(l);
        }
    }
    let mut best: Option<(f64, u32)> = None;
    for py in rows {
        for px in cols.clone() {
            let l = labels.get_pixel(px as u32, py as u32)[0];
            if l == 0 {
                continue;
            }
            let d = ((px - xi) as f64).hypot((py - yi) as f64);
            if d <= rim_px && best.is_none_or(|(bd, bl)| d < bd || (d == bd && l < bl)) {
                best = Some((d, l));
            }
        }
    }
    best.map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nearest object within the rim, as a scan of every pixel within
    /// it would find it (ties to the lower label), for points on, near and
    /// off objects, at and past the image's edges.
    #[test]
    fn host_near_equals_scanning_the_rim() {
        let mut rng = crate::synth::Rng::new(17);
        let (w, h) = (40u32, 30u32);
        let labels = Labels::from_fn(w, h, |x, y| {
            image::Luma([if (x / 6 + y / 5) % 3 == 0 {
                1 + (x / 6) % 4
            } else {
                0
            }])
        });
        let scan = |x: f64, y: f64, rim: f64| {
            let (xi, yi) = (x.round() as i64, y.round() as i64);
            let mut best: Option<(f64, u32)> = None;
            for py in 0..h as i64 {
                for px in 0..w as i64 {
                    let l = labels.get_pixel(px as u32, py as u32)[0];
                    let d = ((px - xi) as f64).hypot((py - yi) as f64);
                    if l != 0
                        && d <= rim
                        && best.is_none_or(|(bd, bl)| d < bd || (d == bd && l < bl))
                    {
                        best = Some((d, l));
                    }
                }
            }
            best.map(|(_, l)| l)
        };
        let mut found = [0usize; 2];
        for _ in 0..2000 {
            let x = rng.unit() * 50.0 - 5.0;
            let y = rng.unit() * 40.0 - 5.0;
            let rim = rng.unit() * 4.0;
            let want = scan(x, y, rim);
            assert_eq!(host_near(&labels, x, y, rim), want, "({x}, {y}) rim {rim}");
            found[usize::from(want.is_some())] += 1;
        }
        assert!(found[0] > 100 && found[1] > 100, "{found:?}");
    }
}

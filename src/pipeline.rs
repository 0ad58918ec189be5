//! One field, end to end: smooth → threshold → morphology → label →
//! Sox9+ nuclei → measurements → follicle rule.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::follicle::{classify, Verdict};
use crate::io::{Field, Plane};
use crate::measure::{region_of_runs, regions, regions_of_crop, Region};
use crate::params::Params;
use crate::segment::background::{correct_in_place, LargeScaleRows, Method, TopHatRows};
use crate::segment::label::Run;
use crate::segment::morph::filled_runs;
use crate::segment::threshold::{range, threshold_in};
use crate::segment::watershed::{split_reached, split_visit_runs, Pieces, SplitParams};
use crate::segment::{
    fill_holes, label, mask_at_least, open, positions_at_least, smooth_samples_then,
};
use crate::{FloatImage, Labels};

/// One P-cadherin object with its measurements and the rule's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// Follicle id (1..) for counted follicles, 0 for rejected objects.
    pub id: u32,
    /// Label in the P-cadherin label image.
    pub label: u32,
    /// Centroid column, pixels.
    pub x: f64,
    /// Centroid row, pixels.
    pub y: f64,
    /// Area in pixels.
    pub area_px: u64,
    /// Area in µm², when the pixel size is known.
    pub area_um2: Option<f64>,
    /// Mean P-cadherin intensity (file units, z max-projection).
    pub mean_pcad: f64,
    /// Mean Sox9 intensity.
    pub mean_sox9: f64,
    /// Mean DAPI intensity.
    pub mean_dapi: f64,
    /// Sox9+ nuclei inside the object.
    pub sox9_nuclei: u32,
    /// The counting rule's verdict.
    pub verdict: Verdict,
}

/// The analysis of one field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldAnalysis {
    /// Counted follicles, ids 1..=n in raster order of their first pixel.
    pub follicles: Vec<Object>,
    /// P-cadherin objects the rule rejected.
    pub rejected: Vec<Object>,
    /// Thresholds used for P-cadherin, Sox9, DAPI (smoothed intensities).
    pub thresholds: [f32; 3],
    /// Sox9+ nuclei found in the whole field.
    pub sox9_nuclei: u32,
    /// Follicles per mm² of field, when the pixel size is known.
    pub follicles_per_mm2: Option<f64>,
}

/// Analyses one field. Length parameters in µm are converted with the
/// field's pixel size, or read as pixels when it is unknown.
pub fn analyze(field: &Field, p: &Params) -> FieldAnalysis {
    let (analysis, labels) = analyze_with_labels(field, p);
    // Not needed: the plane goes back to the thread's pool.
    give(labels);
    analysis
}

/// [`analyze`], also returning the P-cadherin object labels (object
/// `label` of each [`Object`]), for overlays.
pub fn analyze_with_labels(field: &Field, p: &Params) -> (FieldAnalysis, Labels) {
    let um = field.pixel_size_um.unwrap_or(1.0);
    let px_area = um * um;
    let [pcad, sox9, dapi] = &field.channels;

    // Channel by channel, each handed back to the thread's buffer pool as
    // soon as its mask is made, so a worker holds the field and about two
    // planes at a time (and reuses them for the next field): smooth, even
    // out the illumination (the large-scale DAPI profile), remove the
    // background of P-cadherin and Sox9, threshold.
    let bg_radius = p.effective_background_radius_um() / um;
    let (w, h) = (field.width, field.height);
    // The DAPI profile's block sums are taken from each row as smoothing
    // makes it.
    let mut profile = p
        .flat_field
        .then(|| LargeScaleRows::new(w, h, p.flat_field_sigma_um / um));
    let mut sm_dapi = smooth_plane_then(dapi, p.nucleus_sigma_um / um, |y, made| {
        if let Some(sums) = profile.as_mut() {
            sums.row(y, &made[y * w..]);
        }
    });
    let illumination = profile.map(LargeScaleRows::finish);
    // The P-cadherin and Sox9 channels are flattened row by row as they
    // are smoothed, and with a top-hat, each row eroded along x as soon as
    // it is made. Each step that writes a whole channel also finds its
    // range, which the histogram of its threshold then need not. DAPI is
    // flattened alongside P-cadherin (`also`): each row of the profile is
    // made once for both.
    let smooth_corrected = |plane: &Plane, sigma_px: f64, mut also: Option<&mut FloatImage>| {
        let mut flat = illumination.as_ref().and_then(|ill| ill.flat_rows(0.2));
        let mut top_hat =
            (p.background == Method::TopHat).then(|| TopHatRows::new(w, h, bg_radius));
        let mut also_range = (f32::INFINITY, f32::NEG_INFINITY);
        let mut img = smooth_plane_then(plane, sigma_px, |y, made| {
            if let Some(f) = flat.as_mut() {
                let row = &mut made[y * w..];
                match also.as_deref_mut() {
                    Some(other) => {
                        let other: &mut [f32] = other;
                        // The other plane was made a channel ago: its next
                        // row is asked for now.
                        crate::cache::prefetch_range(other, (y + 1) * w, (y + 2) * w);
                        let other = &mut other[y * w..(y + 1) * w];
                        f.divide(y, [row, &mut *other]);
                        let (l, h) = range(other);
                        also_range = (also_range.0.min(l), also_range.1.max(h));
                    }
                    None => f.divide(y, [row]),
                }
            }
            if let Some(t) = top_hat.as_mut() {
                t.row(y, made);
            }
        });
        let found = match top_hat {
            Some(t) => t.finish(&mut img),
            None => {
                correct_in_place(&mut img, p.background, bg_radius);
                range(img.as_raw())
            }
        };
        (img, found, flat.is_some().then_some(also_range))
    };
    let (sm_pcad, pcad_range, dapi_flattened) =
        smooth_corrected(pcad, p.pcad_sigma_um / um, Some(&mut sm_dapi));
    // Without a profile, DAPI is as smoothed.
    let dapi_range = dapi_flattened.unwrap_or_else(|| range(sm_dapi.as_raw()));
    let t_dapi = threshold_in(&sm_dapi, p.threshold_dapi, dapi_range);
    let mut dmask = mask_at_least(&sm_dapi, t_dapi);
    give(sm_dapi);

    let t_pcad = threshold_in(&sm_pcad, p.threshold_pcad, pcad_range);
    let pmask = mask_at_least(&sm_pcad, t_pcad);
    give(sm_pcad);
    // Follicle candidates: P-cadherin objects, split where they touch.
    let opened = open(&pmask, p.open_radius_um / um);
    give(pmask);
    // With splitting, the filled candidates as their runs of pixels (no
    // mask drawn to be read again); without, as a mask to label.
    let filled = if p.split {
        Filled::Runs(filled_runs(&opened))
    } else {
        Filled::Mask(fill_holes(&opened))
    };
    give(opened);

    let (sm_sox9, sox9_range, _) = smooth_corrected(sox9, p.nucleus_sigma_um / um, None);
    let t_sox9 = threshold_in(&sm_sox9, p.threshold_sox9, sox9_range);
    let thresholds = [t_pcad, t_sox9, t_dapi];

    // The candidates' measurements: with splitting, each piece's as the
    // split finds it (from its runs, or its crop), with no pass over the
    // label plane.
    let mut copies = None;
    let chans = Chans::of(&field.channels, &mut copies);
    let (plabels, np, measured) = match filled {
        Filled::Runs(runs) => {
            let mut pieces: Vec<Region<3>> = Vec::new();
            let (labels, n, number) = split_visit_runs(
                w,
                field.height,
                &runs,
                &SplitParams {
                    min_separation_px: p.split_min_separation_um / um,
                    min_radius_px: p.split_min_radius_um / um,
                    neck_ratio: p.split_neck_ratio,
                },
                |pc| chans.measure(pc, w, &mut pieces),
            );
            // Provisional labels to final ones, in final order.
            for (r, &f) in pieces.iter_mut().zip(&number[1..]) {
                r.label = f;
            }
            pieces.sort_unstable_by_key(|r| r.label);
            (labels, n, pieces)
        }
        Filled::Mask(pmask) => {
            let (labels, n) = label(&pmask);
            give(pmask);
            let measured = chans.regions(&labels, n);
            (labels, n, measured)
        }
    };

    // Nuclei: DAPI objects, split where they crowd; Sox9+ when their mean
    // Sox9 signal reaches the Sox9 threshold.
    let rim_px = p.rim_um / um;
    // One nucleus: area (px), centroid and mean Sox9 decide whether it is
    // a Sox9+ nucleus; the centroids of those are kept.
    let mut sox9_nuclei: Vec<(f64, f64)> = Vec::new();
    let mut tally = |area_px: u64, cx: f64, cy: f64, mean_sox9: f64| {
        let sox9_pos = (mean_sox9 as f32) >= thresholds[1];
        if (area_px as f64) * px_area >= p.min_nucleus_area_um2 && sox9_pos {
            sox9_nuclei.push((cx, cy));
        }
    };
    if p.split {
        // Only DAPI objects holding a pixel at or above the Sox9 threshold
        // can hold a nucleus whose mean reaches it: the others (most
        // nuclei of the dermis and epidermis) are never split.
        let sox9_px = sm_sox9.as_raw();
        let w = field.width;
        split_reached(
            &mut dmask,
            positions_at_least(sox9_px, thresholds[1]),
            &SplitParams {
                min_separation_px: p.nucleus_min_separation_um / um,
                min_radius_px: 1.0,
                neck_ratio: p.nucleus_neck_ratio,
            },
            |crop, lab, k| {
                // The sums `regions` would take, from the crop alone.
                let crop = (crop.x0, crop.y0, crop.w);
                for n in regions_of_crop(1, k, lab, crop, [sox9_px.as_slice()], w) {
                    let (cx, cy) = n.centroid();
                    tally(n.area_px, cx, cy, n.mean(0));
                }
            },
        );
    } else {
        let (nlabels, nn) = label(&dmask);
        for n in regions(&nlabels, nn, [sm_sox9.as_raw().as_slice()]) {
            let (cx, cy) = n.centroid();
            tally(n.area_px, cx, cy, n.mean(0));
        }
        give(nlabels);
    }
    give(dmask);
    give(sm_sox9);
    // Which follicle candidate, if any, holds each: the label plane's
    // rows around the nucleus four on are asked for meanwhile (random
    // places in a plane from memory).
    let mut nuclei_in = vec![0u32; np as usize];
    for (i, &(cx, cy)) in sox9_nuclei.iter().enumerate() {
        if let Some(&(nx, ny)) = sox9_nuclei.get(i + 4) {
            prefetch_around(&plabels, nx, ny, rim_px);
        }
        if let Some(host) = host_near(&plabels, cx, cy, rim_px) {
            nuclei_in[host as usize - 1] += 1;
        }
    }
    let sox9_total = sox9_nuclei.len() as u32;
    let mut follicles = Vec::new();
    let mut rejected = Vec::new();
    for (r, &n) in measured.iter().zip(&nuclei_in) {
        let area = r.area_px as f64 * px_area;
        let verdict = classify(area, n, p);
        let (x, y) = r.centroid();
        let mut o = Object {
            id: 0,
            label: r.label,
            x,
            y,
            area_px: r.area_px,
            area_um2: field.pixel_size_um.map(|_| area),
            mean_pcad: r.mean(0),
            mean_sox9: r.mean(1),
            mean_dapi: r.mean(2),
            sox9_nuclei: n,
            verdict,
        };
        if verdict == Verdict::Follicle {
            o.id = follicles.len() as u32 + 1;
            follicles.push(o);
        } else {
            rejected.push(o);
        }
    }
    let follicles_per_mm2 = field.pixel_size_um.map(|um| {
        let mm2 = field.width as f64 * field.height as f64 * um * um / 1e6;
        follicles.len() as f64 / mm2
    });
    let analysis = FieldAnalysis {
        follicles,
        rejected,
        thresholds,
        sox9_nuclei: sox9_total,
        follicles_per_mm2,
    };
    (analysis, plabels)
}

/// The follicle candidates with their holes filled.
enum Filled {
    /// Their runs of pixels, every row's in order (to split).
    Runs(Vec<Run>),
    /// Their mask (to label).
    Mask(image::GrayImage),
}

/// Hands a plane the analysis is done with to the thread's buffer pool.
fn give<P: image::Pixel>(img: image::ImageBuffer<P, Vec<P::Subpixel>>)
where
    P::Subpixel: bytemuck::Pod,
{
    crate::pool::give(img.into_raw());
}

/// Gaussian smoothing of a channel, whichever way it is stored, with
/// `post(y, made)` run as each smoothed row is made (as
/// [`smooth_samples_then`]).
fn smooth_plane_then(
    plane: &Plane,
    sigma_px: f64,
    post: impl FnMut(usize, &mut [f32]),
) -> FloatImage {
    match plane {
        Plane::U16(i) => smooth_samples_then(i.as_raw(), i.width(), i.height(), sigma_px, post),
        Plane::F32(i) => smooth_samples_then(i.as_raw(), i.width(), i.height(), sigma_px, post),
    }
}

/// A field's three channels as they are stored, for measuring: all
/// 16-bit, all float, or (a field mixing them, built by hand) float
/// copies made by [`Chans::of`].
enum Chans<'a> {
    U16([&'a [u16]; 3]),
    F32([&'a [f32]; 3]),
}

impl<'a> Chans<'a> {
    /// The channels of `planes`, the float copies made in `copies` when
    /// the planes mix storage types.
    fn of(planes: &'a [Plane; 3], copies: &'a mut Option<[FloatImage; 3]>) -> Chans<'a> {
        match planes {
            [Plane::U16(a), Plane::U16(b), Plane::U16(c)] => {
                Chans::U16([a, b, c].map(|p| p.as_raw().as_slice()))
            }
            [Plane::F32(a), Plane::F32(b), Plane::F32(c)] => {
                Chans::F32([a, b, c].map(|p| p.as_raw().as_slice()))
            }
            _ => {
                let f: &'a [FloatImage; 3] = copies.insert(planes.each_ref().map(Plane::to_f32));
                Chans::F32(f.each_ref().map(|p| p.as_raw().as_slice()))
            }
        }
    }

    /// [`regions`] of a label image.
    fn regions(&self, labels: &Labels, n: u32) -> Vec<Region<3>> {
        match *self {
            Chans::U16(c) => regions(labels, n, c),
            Chans::F32(c) => regions(labels, n, c),
        }
    }

    /// The regions of one split component's pieces, appended to `out`:
    /// a single piece from its runs, several from its crop.
    fn measure(&self, pc: Pieces, w: usize, out: &mut Vec<Region<3>>) {
        fn of<T: crate::Sample>(pc: Pieces, c: [&[T]; 3], w: usize, out: &mut Vec<Region<3>>) {
            if pc.k == 1 {
                out.push(region_of_runs(pc.base + 1, pc.runs, c, w));
            } else {
                let crop = (pc.crop.x0, pc.crop.y0, pc.crop.w);
                out.extend(regions_of_crop(pc.base + 1, pc.k, pc.lab, crop, c, w));
            }
        }
        match *self {
            Chans::U16(c) => of(pc, c, w, out),
            Chans::F32(c) => of(pc, c, w, out),
        }
    }
}

/// The pixel nearest (x, y) and the rows and columns within `rim_px` of
/// it (clamped to the image; empty for a negative rim), as [`host_near`]
/// searches them.
fn rim_window(
    labels: &Labels,
    x: f64,
    y: f64,
    rim_px: f64,
) -> ((i64, i64), RangeInclusive<i64>, RangeInclusive<i64>) {
    let (w, h) = (labels.width() as i64, labels.height() as i64);
    let (xi, yi) = (x.round() as i64, y.round() as i64);
    let r = rim_px.ceil() as i64;
    let rows = (yi - r).max(0)..=(yi + r).min(h - 1);
    let cols = (xi - r).max(0)..=(xi + r).min(w - 1);
    ((xi, yi), rows, cols)
}

/// Asks for the rows of `labels` [`host_near`] reads for (x, y).
fn prefetch_around(labels: &Labels, x: f64, y: f64, rim_px: f64) {
    let (_, rows, cols) = rim_window(labels, x, y, rim_px);
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
    let ((xi, yi), rows, cols) = rim_window(labels, x, y, rim_px);
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
    use crate::segment::background::LargeScale;
    use crate::segment::watershed::split;
    use image::Luma;

    fn smooth_plane(plane: &Plane, sigma_px: f64) -> FloatImage {
        smooth_plane_then(plane, sigma_px, |_, _| {})
    }

    fn disc(img: &mut FloatImage, cx: f32, cy: f32, r: f32, v: f32) {
        for (x, y, p) in img.enumerate_pixels_mut() {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            if dx * dx + dy * dy <= r * r {
                p[0] = p[0].max(v);
            }
        }
    }

    /// A 100×60 field: a P-cadherin disc holding three Sox9+ DAPI+ nuclei
    /// (a follicle), a second disc whose nuclei are DAPI-only (no), and a
    /// Sox9+ cluster outside any P-cadherin (no).
    fn tiny_field() -> Field {
        let mut pcad = FloatImage::from_pixel(100, 60, Luma([10.0]));
        let mut sox9 = FloatImage::from_pixel(100, 60, Luma([10.0]));
        let mut dapi = FloatImage::from_pixel(100, 60, Luma([10.0]));
        disc(&mut pcad, 20.0, 30.0, 14.0, 200.0);
        disc(&mut pcad, 55.0, 30.0, 14.0, 200.0);
        for (x, y) in [(14.0, 26.0), (26.0, 26.0), (20.0, 36.0)] {
            disc(&mut sox9, x, y, 3.0, 300.0);
            disc(&mut dapi, x, y, 3.0, 300.0);
        }
        for (x, y) in [(49.0, 26.0), (61.0, 26.0), (55.0, 36.0)] {
            disc(&mut dapi, x, y, 3.0, 300.0);
        }
        for (x, y) in [(85.0, 20.0), (92.0, 28.0), (85.0, 40.0)] {
            disc(&mut sox9, x, y, 3.0, 300.0);
            disc(&mut dapi, x, y, 3.0, 300.0);
        }
        Field::from_planes([pcad, sox9, dapi], None).unwrap()
    }

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

    #[test]
    fn rule_on_tiny_synthetic_field() {
        let p = Params {
            min_area_um2: 200.0,
            ..Params::default()
        };
        let a = analyze(&tiny_field(), &p);
        assert_eq!(a.follicles.len(), 1, "{a:#?}");
        let f = &a.follicles[0];
        assert_eq!((f.id, f.sox9_nuclei), (1, 3));
        assert!((f.x - 20.0).abs() < 1.0 && (f.y - 30.0).abs() < 1.0);
        assert_eq!(f.area_um2, None);
        assert_eq!(a.rejected.len(), 1);
        assert_eq!(a.rejected[0].verdict, Verdict::TooFewSox9);
        assert_eq!(a.sox9_nuclei, 6);
        assert_eq!(a.follicles_per_mm2, None);
    }

    /// The fused passes (smoothing, flattening DAPI alongside P-cadherin,
    /// streamed top-hats, ranges found as rows are written) give the three
    /// thresholds of the steps run one after another on whole images,
    /// with the flat field on and off.
    #[test]
    fn thresholds_equal_the_steps_one_by_one() {
        use crate::segment::background::{top_hat, LargeScale};
        use crate::segment::threshold::threshold;
        use crate::synth::{render, to_image, Scene};
        let n = 320;
        let r = render(&Scene::hard(n, n, 1.0, 4));
        let ch = std::array::from_fn(|c| to_image(&r.slices[0][c], n, n));
        let field = Field::from_planes(ch, Some(1.0)).unwrap();
        for flat_field in [true, false] {
            let p = Params {
                flat_field,
                ..Params::default()
            };
            let a = analyze(&field, &p);
            let [pcad, sox9, dapi] = &field.channels;
            let mut d = smooth_plane(dapi, p.nucleus_sigma_um);
            let mut pc = smooth_plane(pcad, p.pcad_sigma_um);
            let mut s9 = smooth_plane(sox9, p.nucleus_sigma_um);
            if flat_field {
                let ill = LargeScale::of(&d, p.flat_field_sigma_um);
                for img in [&mut d, &mut pc, &mut s9] {
                    ill.flatten(img, 0.2);
                }
            }
            let radius = p.effective_background_radius_um();
            let want = [
                threshold(&top_hat(&pc, radius), p.threshold_pcad),
                threshold(&top_hat(&s9, radius), p.threshold_sox9),
                threshold(&d, p.threshold_dapi),
            ];
            let bits = |t: [f32; 3]| t.map(f32::to_bits);
            assert_eq!(bits(a.thresholds), bits(want), "flat field {flat_field}");
        }
    }

    /// Splitting only the nuclei a Sox9-bright pixel reaches finds exactly
    /// the Sox9+ nuclei that splitting every nucleus finds.
    #[test]
    fn pruned_nuclei_equal_splitting_every_nucleus() {
        use crate::segment::background::correct;
        use crate::synth::{render, to_image, Scene};
        for seed in [1, 2] {
            let n = 300;
            let r = render(&Scene::hard(n, n, 1.0, seed));
            let ch = std::array::from_fn(|c| to_image(&r.slices[0][c], n, n));
            let field = Field::from_planes(ch, Some(1.0)).unwrap();
            let p = Params::default();
            let a = analyze(&field, &p);
            // Reference: the same planes, every nucleus split and measured.
            let [_, sox9, dapi] = &field.channels;
            let ill = LargeScale::of(&smooth_plane(dapi, 0.5), p.flat_field_sigma_um);
            let mut d = smooth_plane(dapi, 0.5);
            ill.flatten(&mut d, 0.2);
            let dmask = mask_at_least(&d, a.thresholds[2]);
            let mut s9 = smooth_plane(sox9, 0.5);
            ill.flatten(&mut s9, 0.2);
            let s9 = correct(&s9, p.background, p.effective_background_radius_um());
            let sp = SplitParams {
                min_separation_px: p.nucleus_min_separation_um,
                min_radius_px: 1.0,
                neck_ratio: p.nucleus_neck_ratio,
            };
            let (nl, nn) = split(&dmask, &sp);
            let want = regions(&nl, nn, [s9.as_raw().as_slice()])
                .iter()
                .filter(|r| {
                    r.area_px as f64 >= p.min_nucleus_area_um2
                        && r.mean(0) as f32 >= a.thresholds[1]
                })
                .count() as u32;
            assert!(want > 10, "seed {seed}: {want}");
            assert_eq!(a.sox9_nuclei, want, "seed {seed}");
        }
    }

    /// Fixed thresholds at or below every pixel make each mask the whole
    /// field: one object, no crash (this used to ask for terabytes).
    #[test]
    fn thresholds_below_every_pixel_give_one_object() {
        use crate::segment::threshold::Method;
        let p = Params {
            threshold_pcad: Method::Fixed(0.0),
            threshold_sox9: Method::Fixed(0.0),
            threshold_dapi: Method::Fixed(0.0),
            ..Params::default()
        };
        let a = analyze(&tiny_field(), &p);
        assert_eq!(a.follicles.len() + a.rejected.len(), 1, "{a:#?}");
        assert_eq!(a.sox9_nuclei, 1);
    }

    /// A field of 16-bit planes and the same values as float planes give
    /// the same analysis and labels, bit for bit (and a field mixing the
    /// two is measured the same too).
    #[test]
    fn u16_planes_analyse_exactly_as_floats() {
        use crate::synth::{render, Scene};
        use crate::U16Image;
        let n = 256;
        let r = render(&Scene::hard(n, n, 1.0, 3));
        let ints: [U16Image; 3] = std::array::from_fn(|c| {
            let v = r.slices[0][c]
                .iter()
                .map(|&x| x.round().clamp(0.0, 65535.0) as u16)
                .collect();
            U16Image::from_raw(n as u32, n as u32, v).unwrap()
        });
        let floats: [FloatImage; 3] = std::array::from_fn(|c| Plane::U16(ints[c].clone()).to_f32());
        let p = Params::default();
        let a = analyze_with_labels(&Field::from_planes(ints.clone(), Some(1.0)).unwrap(), &p);
        let b = analyze_with_labels(&Field::from_planes(floats.clone(), Some(1.0)).unwrap(), &p);
        assert!(!a.0.follicles.is_empty());
        assert_eq!(a, b);
        let mut mixed = Field::from_planes(ints, Some(1.0)).unwrap();
        mixed.channels[1] = Plane::F32(floats[1].clone());
        assert_eq!(analyze_with_labels(&mixed, &p), a);
    }

    #[test]
    fn size_window_applies_in_um2_with_pixel_size() {
        let mut field = tiny_field();
        field.pixel_size_um = Some(0.5);
        // Disc area ≈ 616 px = 154 µm² at 0.5 µm/px: below a 200 µm² minimum.
        let p = Params {
            min_area_um2: 200.0,
            pcad_sigma_um: 1.0,
            nucleus_sigma_um: 0.5,
            min_nucleus_area_um2: 2.0,
            open_radius_um: 0.5,
            ..Params::default()
        };
        let a = analyze(&field, &p);
        assert_eq!(a.follicles.len(), 0);
        assert!(a.rejected.iter().all(|o| o.verdict == Verdict::TooSmall));
        let area = a.rejected[0].area_um2.unwrap();
        assert!((area - a.rejected[0].area_px as f64 * 0.25).abs() < 1e-9);
        assert_eq!(a.follicles_per_mm2, Some(0.0));
    }
}

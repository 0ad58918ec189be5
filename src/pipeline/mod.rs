//! One field, end to end: the recipe ([`analyze_with_labels`]), one
//! function per stage, each in the file named for it:
//!
//! | stage | file |
//! |---|---|
//! | smoothing, flat field, background, thresholds and masks | `pipeline/channels.rs` |
//! | follicle candidates: opening, hole filling, splitting, measuring | `pipeline/candidates.rs` |
//! | Sox9+ nuclei and the candidate holding each | `pipeline/nuclei.rs` |
//! | split-off pieces short of Sox9+ nuclei joined back | `pipeline/rejoin.rs` |
//! | the follicle rule over every candidate | `pipeline/rule.rs` |
//!
//! The kernels they call (and their fast paths) live in [`crate::segment`]
//! and [`crate::measure`].

mod blocks;
mod candidates;
mod channels;
mod nuclei;
mod rejoin;
mod rule;
mod stack;
mod statistics;

pub use blocks::{analyze_in_blocks, Blocks, OnBlock};
pub use stack::{analyze_stack, StackAnalysis};
pub use statistics::PlaneStatistics;

use serde::{Deserialize, Serialize};

use crate::follicle::Verdict;
use crate::io::Field;
use crate::params::Params;
use crate::segment::label::label;
use crate::segment::tissue::Occupancy;
use crate::segment::window::Window;
use crate::Labels;
use blocks::Part;
use candidates::{contrast_with_surroundings, follicle_candidates, split_and_measure};
use channels::{
    local_threshold_mask, smooth_dapi, threshold_cells, threshold_here, threshold_mask,
    without_hot_pixels, Correction, Local,
};
use nuclei::{nuclei_per_candidate, sox9_positive_nuclei};
use rejoin::{rejoin_pieces_short_of_sox9, Pieces};
use rule::{apply_rule, Candidates, Found};

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
    /// Centroid depth, µm below the first slice (3D analysis only).
    #[serde(default)]
    pub z_um: Option<f64>,
    /// Area in pixels (in 3D: of the footprint, the object's projection).
    pub area_px: u64,
    /// Area in µm² (in 3D: of the footprint).
    pub area_um2: f64,
    /// Volume, µm³ (3D analysis only).
    #[serde(default)]
    pub volume_um3: Option<f64>,
    /// Mean P-cadherin intensity (file units, z max-projection).
    pub mean_pcad: f64,
    /// Mean Sox9 intensity.
    pub mean_sox9: f64,
    /// Mean DAPI intensity.
    pub mean_dapi: f64,
    /// Sox9+ nuclei inside the object.
    pub sox9_nuclei: u32,
    /// Mean corrected P-cadherin over the object ÷ the median around it
    /// (`None`: nothing around it to compare with).
    pub contrast: Option<f64>,
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
    /// Follicles per mm² of field.
    pub follicles_per_mm2: f64,
    /// The imaged tissue's area, mm²: the field less empty margins (a
    /// mosaic's padding; see [`crate::segment::tissue`]).
    #[serde(default)]
    pub tissue_area_mm2: f64,
}

impl FieldAnalysis {
    /// Follicles per mm² of tissue (`None` with no tissue).
    pub fn follicles_per_tissue_mm2(&self) -> Option<f64> {
        (self.tissue_area_mm2 > 0.0).then(|| self.follicles.len() as f64 / self.tissue_area_mm2)
    }
}

/// Analyses one field. Length parameters in µm are converted with the
/// field's pixel size.
pub fn analyze(field: &Field, p: &Params) -> FieldAnalysis {
    let (analysis, labels) = analyze_with_labels(field, p);
    // Not needed: the plane goes back to the thread's pool.
    crate::pool::give_image(labels);
    analysis
}

/// [`analyze`], also returning the P-cadherin object labels (object
/// `label` of each [`Object`]), for overlays.
pub fn analyze_with_labels(field: &Field, p: &Params) -> (FieldAnalysis, Labels) {
    let seen = recipe(field, p, false, None);
    (seen.analysis, seen.masks.candidates)
}

/// What the pipeline saw in a field, as label images the size of the
/// field, for a person to check a surprising count.
pub struct Masks {
    /// The P-cadherin candidates after splitting, labelled 1..=n (each
    /// [`Object`]'s `label`); counted or not.
    pub candidates: Labels,
    /// The field's DAPI objects (nuclei, touching ones together),
    /// labelled 1..=n; with [`analyze_with_masks`].
    pub nuclei: Option<Labels>,
    /// The Sox9+ nuclei, labelled 1..=n; with [`analyze_with_masks`].
    pub sox9_nuclei: Option<Labels>,
}

impl Masks {
    /// The counted follicles alone, each pixel its follicle's id (1..=n,
    /// as in follicles.csv), 0 elsewhere.
    pub fn follicles(&self, analysis: &FieldAnalysis) -> Labels {
        let n = analysis
            .follicles
            .iter()
            .chain(&analysis.rejected)
            .map(|o| o.label)
            .max();
        let mut id = vec![0u32; n.unwrap_or(0) as usize + 1];
        for f in &analysis.follicles {
            id[f.label as usize] = f.id;
        }
        let mut out = self.candidates.clone();
        for v in out.iter_mut() {
            *v = id.get(*v as usize).copied().unwrap_or(0);
        }
        out
    }
}

/// [`analyze`], also returning every label image the pipeline made:
/// candidates, nuclei and Sox9+ nuclei (slower: the nuclei are labelled
/// over the whole field).
pub fn analyze_with_masks(field: &Field, p: &Params) -> (FieldAnalysis, Masks) {
    let seen = recipe(field, p, true, None);
    (seen.analysis, seen.masks)
}

/// What the recipe saw in a field (or in a block of a plane).
struct Seen {
    /// The analysis.
    analysis: FieldAnalysis,
    /// Its label images.
    masks: Masks,
    /// The blocks of tissue (nuclei) among the pixels it speaks for.
    tissue: Occupancy,
}

/// The recipe, one stage a line, in the order the science runs; with
/// `inspect`, the nuclei's label images too. A `part` of a plane
/// analysed in blocks ([`blocks`]) takes from the whole plane what a
/// block cannot see (the hot-pixel scale, the illumination profile; its
/// thresholds come fixed in `p`), and speaks for its core alone.
///
/// Each stage hands the planes it is done with back to the thread's
/// buffer pool, so a worker holds the field and about two planes at a
/// time.
fn recipe(field: &Field, p: &Params, inspect: bool, part: Option<&Part>) -> Seen {
    let scale = Scale::of(field);
    let at = part.map_or(Window::whole(field.width, field.height), |b| b.at);
    // Hot pixels (single camera pixels far above their neighbours) out.
    let clean = without_hot_pixels(field, part.map(|b| b.stats.ranges));
    let field = &*clean;
    let [pcad, sox9, dapi] = &field.channels;

    // Smooth DAPI; its large-scale mean is the illumination profile
    // (nuclei are everywhere), the flat field of every channel.
    let (mut dapi, illumination) = smooth_dapi(dapi, p, scale, part.map(Part::illumination));
    // P-cadherin: smoothed, flat-fielded (DAPI in the same pass), its
    // background removed.
    let correction = Correction {
        illumination: illumination.as_ref(),
        params: p,
        scale,
    };
    let mut pcad = correction.apply(pcad, p.pcad_sigma_um, Some(&mut dapi));
    // Automatic thresholds (Otsu, Li, Triangle or fixed) and masks; on a
    // stitched plane, local thresholds between which each channel is
    // normalised first (its tiles differ).
    let local = local_thresholds_of(field, p, scale, part);
    let t_dapi = threshold_here(&mut dapi, p.threshold_dapi, &local, 2);
    let dapi_mask = threshold_mask(&dapi, t_dapi);
    crate::pool::give_image(dapi.plane);
    // The tissue: where nuclei are, holes filled (a mosaic's empty
    // padding is not skin).
    let tissue = tissue_blocks(dapi_mask.mask.as_raw(), at, field.pixel_size_um);
    // P-cadherin locally too: each follicle at its own level.
    let t_pcad = threshold_here(&mut pcad, p.threshold_pcad, &local, 0);
    let pcad_mask = local_threshold_mask(
        &pcad,
        t_pcad,
        p.pcad_local_fraction,
        scale.px(p.pcad_local_radius_um),
    );
    // Follicle candidates: the P-cadherin mask opened, holes filled.
    let candidates = follicle_candidates(pcad_mask.mask, p, scale);
    // Touching follicles split (distance transform + watershed, and where
    // bodies of distinct P-cadherin brightness meet), each piece measured
    // in the three raw channels.
    let measured = split_and_measure(candidates, &pcad.plane, &field.channels, p, scale);
    // Each candidate's contrast against the dermis around it.
    let sized = |r: &crate::measure::Region<3>| {
        (p.min_area_um2..=p.max_area_um2).contains(&scale.um2(r.area_px))
    };
    let ring = scale.px(p.contrast_ring_um);
    let contrast = contrast_with_surroundings(&measured, &pcad.plane, ring, sized);
    crate::pool::give_image(pcad.plane);
    // Sox9: smoothed, flat-fielded, background removed, thresholded.
    let mut sox9 = correction.apply(sox9, p.nucleus_sigma_um, None);
    let t_sox9 = threshold_here(&mut sox9, p.threshold_sox9, &local, 1);
    // (For inspection: every DAPI object.)
    let all_nuclei = inspect.then(|| label(&dapi_mask.mask).0);
    // Nuclei: DAPI objects within the Sox9 mask, split where they crowd.
    let nuclei = sox9_positive_nuclei(dapi_mask.mask, sox9, t_sox9, p, scale, inspect);
    // Each Sox9+ nucleus counts for the candidate it lies in (or near).
    let counts = nuclei_per_candidate(&measured, &nuclei.centroids, scale.px(p.rim_um));
    // A piece the split cut off a follicle, with Sox9+ nuclei but too
    // few to count alone, joined back.
    let Pieces {
        measured,
        sox9_nuclei: counts,
        contrast,
    } = rejoin_pieces_short_of_sox9(
        Pieces {
            measured,
            sox9_nuclei: counts,
            contrast,
        },
        p,
        scale,
    );
    // The follicle rule: area window, contrast and enough Sox9+ nuclei.
    let thresholds = [pcad_mask.threshold, t_sox9, dapi_mask.threshold];
    let found = Found {
        thresholds,
        sox9_nuclei: nuclei.in_core(at),
        // (A block's part of the plane's tissue is measured with the
        // others', once all are marked: `blocks`.)
        tissue_mm2: match part {
            None => mm2_of(tissue.area_px(), field.pixel_size_um),
            Some(_) => 0.0,
        },
    };
    let evidence = Candidates {
        regions: &measured.regions,
        sox9_nuclei: &counts,
        contrast: &contrast,
    };
    let analysis = apply_rule(field, scale, evidence, found, p);
    let masks = Masks {
        candidates: measured.labels,
        nuclei: all_nuclei,
        sox9_nuclei: nuclei.labels,
    };
    if let std::borrow::Cow::Owned(copy) = clean {
        copy.recycle();
    }
    Seen {
        analysis,
        masks,
        tissue,
    }
}

/// Where the recipe's local thresholds come from: a block's plane, or
/// the field itself when it is a stitched plane
/// ([`channels::threshold_cells`]), or none.
fn local_thresholds_of<'a>(
    field: &Field,
    p: &Params,
    scale: Scale,
    part: Option<&'a Part>,
) -> Local<'a> {
    match part {
        Some(b) => Local::Plane {
            maps: &b.stats.local,
            origin: b.at.origin,
        },
        None => threshold_cells(field.width, field.height, p, scale).map_or(Local::Off, Local::Own),
    }
}

/// Side of the blocks the tissue is found in, µm: a few nuclei apart
/// (dermal nuclei lie 5–10 µm apart), so every block of skin holds one.
const TISSUE_BLOCK_UM: f64 = 25.0;

/// The blocks of tissue in a nuclei mask (the part of a plane of
/// `um_per_px` µm pixels that `at` describes; 2D, and 3D from the mask
/// seen from above).
fn tissue_blocks(nuclei: &[u8], at: Window, um_per_px: f64) -> Occupancy {
    let block = (TISSUE_BLOCK_UM / um_per_px).round().max(1.0) as usize;
    let mut grid = Occupancy::covering(block, &at);
    grid.mark(nuclei, at);
    grid
}

/// The tissue's area, mm², from a `w` × `h` nuclei mask of `um_per_px`
/// µm pixels (3D, from the mask seen from above).
fn tissue_area_mm2(nuclei: &[u8], w: usize, h: usize, um_per_px: f64) -> f64 {
    let grid = tissue_blocks(nuclei, Window::whole(w, h), um_per_px);
    mm2_of(grid.area_px(), um_per_px)
}

/// `px` pixels of `um_per_px` µm, in mm² (one rounding order for a field
/// and for the blocks of a plane).
fn mm2_of(px: u64, um_per_px: f64) -> f64 {
    px as f64 * um_per_px * um_per_px / 1e6
}

/// The field's scale: parameters are in µm, kernels work in pixels.
#[derive(Clone, Copy, Debug)]
struct Scale {
    /// µm per pixel.
    um_per_px: f64,
}

impl Scale {
    fn of(field: &Field) -> Scale {
        Scale {
            um_per_px: field.pixel_size_um,
        }
    }

    /// A length in µm, in pixels.
    fn px(self, um: f64) -> f64 {
        um / self.um_per_px
    }

    /// An area in µm², in pixels.
    fn px2(self, um2: f64) -> f64 {
        um2 / (self.um_per_px * self.um_per_px)
    }

    /// An area of `px` pixels, in µm².
    fn um2(self, px: u64) -> f64 {
        px as f64 * (self.um_per_px * self.um_per_px)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Plane;
    use crate::measure::regions;
    use crate::segment::flat_field::LargeScale;
    use crate::segment::threshold::mask_at_least;
    use crate::segment::watershed::{split, Objects, SplitParams};
    use crate::FloatImage;
    use image::Luma;

    fn smooth_plane(plane: &Plane, sigma_px: f64) -> FloatImage {
        channels::smooth_plane_then(plane, sigma_px, |_, _| {})
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
        Field::from_planes([pcad, sox9, dapi], 1.0).unwrap()
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
        assert_eq!(f.area_um2, f.area_px as f64);
        assert_eq!(a.rejected.len(), 1);
        assert_eq!(a.rejected[0].verdict, Verdict::TooFewSox9);
        assert_eq!(a.sox9_nuclei, 6);
        assert!((a.follicles_per_mm2 - 1e6 / 6000.0).abs() < 1e-9);
    }

    /// The fused passes (smoothing, flattening DAPI alongside P-cadherin,
    /// streamed top-hats, ranges found as rows are written) give the three
    /// thresholds of the steps run one after another on whole images,
    /// with the flat field on and off.
    #[test]
    fn thresholds_equal_the_steps_one_by_one() {
        use crate::segment::threshold::threshold;
        use crate::segment::top_hat::top_hat;
        use crate::synth::{render, to_image, Scene};
        let n = 320;
        let r = render(&Scene::hard(n, n, 1.0, 4));
        let ch = std::array::from_fn(|c| to_image(&r.slices[0][c], n, n));
        let field = Field::from_planes(ch, 1.0).unwrap();
        use crate::params::Stitched;
        for (flat_field, dark) in [
            (true, Stitched::Auto),
            (true, Stitched::On),
            (false, Stitched::On),
        ] {
            let p = Params {
                flat_field,
                flat_field_dark: dark,
                ..Params::default()
            };
            let a = analyze(&field, &p);
            // (The recipe's first step, its own kernel, tested there.)
            let clean = without_hot_pixels(&field, None);
            let [pcad, sox9, dapi] = &clean.channels;
            let mut d = smooth_plane(dapi, p.nucleus_sigma_um);
            let mut pc = smooth_plane(pcad, p.pcad_sigma_um);
            let mut s9 = smooth_plane(sox9, p.nucleus_sigma_um);
            if flat_field {
                // A 300² field: `auto` keeps the plain profile; `on` takes
                // it above the dark level, DAPI lifted.
                let ill = match dark {
                    Stitched::On => LargeScale::illumination(
                        &d,
                        p.flat_field_sigma_um,
                        p.flat_field_coarse_sigma_um,
                    ),
                    _ => LargeScale::of(&d, p.flat_field_sigma_um),
                };
                ill.flatten_stain(&mut d, 0.2);
                for img in [&mut pc, &mut s9] {
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
            assert_eq!(
                bits(a.thresholds),
                bits(want),
                "flat field {flat_field}, {dark:?}"
            );
        }
    }

    /// Splitting the Sox9-bright DAPI objects as their seeds reach them
    /// finds exactly the Sox9+ nuclei that splitting the whole mask of
    /// DAPI ∧ Sox9 at once finds.
    #[test]
    fn pruned_nuclei_equal_splitting_every_nucleus() {
        use crate::segment::background::correct;
        use crate::synth::{render, to_image, Scene};
        for seed in [1, 2] {
            let n = 300;
            let r = render(&Scene::hard(n, n, 1.0, seed));
            let ch = std::array::from_fn(|c| to_image(&r.slices[0][c], n, n));
            let field = Field::from_planes(ch, 1.0).unwrap();
            let p = Params::default();
            let a = analyze(&field, &p);
            // Reference: the same planes, every nucleus split and measured.
            let [_, sox9, dapi] = &field.channels;
            let ill = LargeScale::of(&smooth_plane(dapi, 0.5), p.flat_field_sigma_um);
            let mut d = smooth_plane(dapi, 0.5);
            ill.flatten(&mut d, 0.2);
            let mut s9 = smooth_plane(sox9, 0.5);
            ill.flatten(&mut s9, 0.2);
            let s9 = correct(&s9, p.background, p.effective_background_radius_um());
            let mut dapi_mask = mask_at_least(&d, a.thresholds[2]);
            for (m, &v) in dapi_mask.iter_mut().zip(s9.as_raw()) {
                if v < a.thresholds[1] {
                    *m = 0;
                }
            }
            let sp = SplitParams {
                min_separation_px: p.nucleus_min_separation_um,
                min_radius_px: 1.0,
                neck_ratio: p.nucleus_neck_ratio,
                step_ratio: f64::INFINITY,
                notch_px: f64::INFINITY,
                bend_ratio: 1.0,
                pinch_px: 0.0,
                cut_ratio: 0.0,
                min_area_px: 0.0,
            };
            let split = split(Objects::Mask(&dapi_mask), &sp, None, |_| {});
            let want = regions(&split.labels, split.count, [s9.as_raw().as_slice()])
                .iter()
                .filter(|r| r.area_px as f64 >= p.min_nucleus_area_um2)
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
            // (The threshold alone: no pixel also measured against its
            // neighbours.)
            pcad_local_fraction: 0.0,
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
        let a = analyze_with_labels(&Field::from_planes(ints.clone(), 1.0).unwrap(), &p);
        let b = analyze_with_labels(&Field::from_planes(floats.clone(), 1.0).unwrap(), &p);
        assert!(!a.0.follicles.is_empty());
        assert_eq!(a, b);
        let mut mixed = Field::from_planes(ints, 1.0).unwrap();
        mixed.channels[1] = Plane::F32(floats[1].clone());
        assert_eq!(analyze_with_labels(&mixed, &p), a);
    }

    #[test]
    fn size_window_applies_in_um2_with_pixel_size() {
        let mut field = tiny_field();
        field.pixel_size_um = 0.5;
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
        let area = a.rejected[0].area_um2;
        assert!((area - a.rejected[0].area_px as f64 * 0.25).abs() < 1e-9);
        assert_eq!(a.follicles_per_mm2, 0.0);
    }
}

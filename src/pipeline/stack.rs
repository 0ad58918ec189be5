//! One z-stack, end to end, in 3D: the recipe of the 2D analysis with
//! every stage a 3D operation (issue 19). Follicles that overlap in the
//! projection but lie at different depths stay apart, and a nucleus
//! counts for the follicle that holds it in 3D, not for whatever lies
//! above or below it.
//!
//! | stage | 3D operation |
//! |---|---|
//! | hot pixels | per slice (a camera defect is per frame) |
//! | smoothing | anisotropic Gaussian, σ in µm on every axis |
//! | light lost with depth | each slice scaled by DAPI's level in it |
//! | background | per slice (haze and the epidermis are smooth in x–y) |
//! | thresholds | over the whole volume; P-cadherin also locally in a µm box |
//! | candidates | opening by a µm ball; holes filled per slice |
//! | touching follicles | distance transform + watershed + neck test in 3D |
//! | nuclei | DAPI objects, 26-connected, split in 3D; Sox9+ by their mean Sox9 |
//! | the rule | area = the object's footprint (its projection), so the 2D window applies |

use super::rule::{tally, Found};
use super::{FieldAnalysis, Object};
use crate::follicle::{classify, Evidence};
use crate::io::{Stack, Voxels};
use crate::measure::stack::{regions, Region3};
use crate::params::Params;
use crate::segment::background::correct_in_place;
use crate::segment::hot_pixels;
use crate::segment::threshold::{range, threshold_in};
use crate::segment::volume::distance::squared_edt_within;
use crate::segment::volume::label::{components, Components};
use crate::segment::volume::local::mask_local_3d;
use crate::segment::volume::morph::{fill_holes_per_slice, open};
use crate::segment::volume::smooth::smooth_prepared;
use crate::segment::volume::watershed::{split_components, split_crop, Crop, SplitRule};
use crate::segment::volume::Connectivity;
use crate::volume::{Volume, VoxelSize};
use crate::{FloatImage, Sample};

/// The 3D analysis of one stack.
#[derive(Clone, Debug)]
pub struct StackAnalysis {
    /// Follicles and rejected objects, as in 2D, with `z_um` and
    /// `volume_um3`.
    pub analysis: FieldAnalysis,
    /// The candidates after splitting, labelled as each object's `label`.
    pub labels: Volume<u32>,
}

impl StackAnalysis {
    /// The labels as seen from above: in each (x, y) column, the label of
    /// its first labelled voxel from the top slice down (for outlines on
    /// the projection).
    pub fn top_labels(&self) -> crate::Labels {
        let v = &self.labels;
        let n = v.slice_len();
        let mut out = vec![0u32; n];
        for z in (0..v.depth).rev() {
            for (o, &l) in out.iter_mut().zip(v.slice(z)) {
                if l != 0 {
                    *o = l;
                }
            }
        }
        crate::Labels::from_raw(v.width as u32, v.height as u32, out)
            .expect("a slice is width × height")
    }
}

/// Analyses a stack in 3D. Lengths in µm become voxels with the stack's
/// voxel size, along each axis.
pub fn analyze_stack(stack: &Stack, p: &Params) -> StackAnalysis {
    let voxel = stack.voxel;
    let [pcad, sox9, dapi] = &stack.channels;
    // DAPI smoothed (hot pixels out, slice by slice); its level in each
    // slice is how much light that depth lost (nuclei are everywhere in
    // the dermis).
    let mut dapi_s = smoothed(dapi, p.nucleus_sigma_um, voxel);
    let depth = depth_profile(&dapi_s);
    depth.correct(&mut dapi_s, true);
    // The DAPI mask (nuclei) now: the smoothed DAPI is not needed again.
    let t_dapi = threshold_of(&mut dapi_s, p.threshold_dapi);
    let dapi_mask = dapi_s.map(|d| u8::from(d >= t_dapi));
    drop(dapi_s);
    // Sox9+ nuclei: DAPI objects split in 3D, whose mean Sox9 is high
    // (found before the follicles, which they do not depend on, so that
    // the Sox9 and P-cadherin volumes are never held together).
    let sox9_c = corrected(sox9, p.nucleus_sigma_um, &depth, p, voxel);
    let t_sox9 = threshold_within(&sox9_c, &dapi_mask, p.threshold_sox9);
    // The tissue: where nuclei are in any slice, holes filled.
    let tissue_mm2 = tissue_of(&dapi_mask, voxel.xy_um);
    let nuclei = sox9_positive_nuclei(dapi_mask, &sox9_c, t_sox9, p, voxel);
    drop(sox9_c);
    // P-cadherin: smoothed, background removed in each slice, depth
    // corrected; thresholded over the volume and against the brightest
    // nearby (each follicle at its own level).
    let mut pcad_c = corrected(pcad, p.pcad_sigma_um, &depth, p, voxel);
    let (pcad_mask, t_pcad) = pcad_mask(&mut pcad_c, p, voxel);
    // Candidates: opened by a ball, holes filled in each cross-section.
    let candidates = follicle_candidates(pcad_mask, p, voxel);
    // Touching follicles split in 3D, each piece measured in the raw
    // channels.
    let pieces = split_follicles(&candidates, p, voxel);
    let measured = measure(&pieces, [pcad, sox9, dapi]);
    // Each candidate's contrast against the dermis around it (those the
    // size window admits: the others' would decide nothing).
    let sized = |r: &Region3| (p.min_area_um2..=p.max_area_um2).contains(&r.footprint_um2(voxel));
    let ring = p.contrast_ring_um;
    let contrast =
        contrast_with_surroundings(&pieces, &candidates, &pcad_c, &measured, ring, voxel, sized);
    // The label volume only now, with the corrected channel and the mask
    // gone (their memory is its).
    drop((pcad_c, candidates));
    let labels = pieces.paint();
    let n = pieces.count();
    // Each nucleus counts for the candidate holding it, or the nearest
    // within the rim.
    let counts = nuclei_per_candidate(&labels, &nuclei, p.rim_um, voxel, n);
    let analysis = apply_rule(
        stack,
        &measured,
        &counts,
        &contrast,
        Found {
            thresholds: [t_pcad, t_sox9, t_dapi],
            sox9_nuclei: nuclei.len(),
            tissue_mm2,
        },
        p,
    );
    StackAnalysis { analysis, labels }
}

/// A channel smoothed (anisotropic Gaussian, σ in µm), each slice's hot
/// pixels (see [`hot_pixels`]: a camera defect is per frame) replaced
/// first.
fn smoothed(v: &Voxels, sigma_um: f64, voxel: VoxelSize) -> Volume<f32> {
    fn go<T: Sample>(v: &Volume<T>, sigma_um: f64, voxel: VoxelSize) -> Volume<f32> {
        let (w, h) = (v.width, v.height);
        let mut lo_hi = (f32::INFINITY, f32::NEG_INFINITY);
        for &x in &v.data {
            let x = x.to_f32();
            lo_hi = (lo_hi.0.min(x), lo_hi.1.max(x));
        }
        let (sxy, sz) = (sigma_um / voxel.xy_um, sigma_um / voxel.z_um);
        smooth_prepared(v, sxy, sz, |slice| {
            for (i, x) in hot_pixels::find(slice, w, h, lo_hi) {
                slice[i] = x;
            }
        })
    }
    match v {
        Voxels::U16(v) => go(v, sigma_um, voxel),
        Voxels::F32(v) => go(v, sigma_um, voxel),
    }
}

/// The candidates measured, with their mean in each raw channel.
fn measure(pieces: &Components, channels: [&Voxels; 3]) -> Vec<Region3> {
    match channels {
        [Voxels::U16(a), Voxels::U16(b), Voxels::U16(c)] => {
            regions(pieces, [&a.data, &b.data, &c.data].map(Vec::as_slice))
        }
        [Voxels::F32(a), Voxels::F32(b), Voxels::F32(c)] => {
            regions(pieces, [&a.data, &b.data, &c.data].map(Vec::as_slice))
        }
        // Channels of different sample types (a stack built by hand):
        // each channel's means from a pass of its own.
        mixed => {
            let mut measured = regions::<u16, 0>(pieces, []);
            for (c, channel) in mixed.iter().enumerate() {
                let found = match channel {
                    Voxels::U16(v) => regions(pieces, [v.data.as_slice()]),
                    Voxels::F32(v) => regions(pieces, [v.data.as_slice()]),
                };
                for (r, f) in measured.iter_mut().zip(found) {
                    r.means[c] = f.means[0];
                }
            }
            measured
        }
    }
}

/// How much light each slice lost: its offset (a low percentile) and the
/// gain that brings its DAPI level up to the brightest slice's.
struct DepthProfile {
    offset: Vec<f32>,
    gain: Vec<f32>,
}

/// Most a slice is brightened: deeper than that, the signal is noise.
const MAX_DEPTH_GAIN: f32 = 4.0;

/// The depth profile from smoothed DAPI: in each slice, its 5th
/// percentile (offset and background) and its 95th (nuclei: DAPI stains
/// every nucleus, and the dermis is full of them, so this level falls
/// only as light is lost with depth); the level is (p95 − p5), smoothed
/// over 3 slices by their median, and the gain is the brightest level ÷
/// the slice's, at most [`MAX_DEPTH_GAIN`]. Percentiles, not means, so a
/// follicle's bright body does not count as more light.
fn depth_profile(dapi: &Volume<f32>) -> DepthProfile {
    let mut offset = Vec::with_capacity(dapi.depth);
    let mut level = Vec::with_capacity(dapi.depth);
    let mut sample: Vec<f32> = Vec::new();
    for z in 0..dapi.depth {
        sample.clear();
        sample.extend(dapi.slice(z).iter().step_by(7).copied());
        let at = |s: &mut Vec<f32>, q: f64| {
            let k = ((s.len() - 1) as f64 * q) as usize;
            *s.select_nth_unstable_by(k, f32::total_cmp).1
        };
        let lo = at(&mut sample, 0.05);
        let hi = at(&mut sample, 0.95);
        offset.push(lo);
        level.push((hi - lo).max(0.0));
    }
    let smoothed: Vec<f32> = (0..level.len())
        .map(|z| {
            let mut w: Vec<f32> = level[z.saturating_sub(1)..(z + 2).min(level.len())].to_vec();
            w.sort_by(f32::total_cmp);
            w[w.len() / 2]
        })
        .collect();
    let top = smoothed.iter().copied().fold(0.0, f32::max);
    let gain = smoothed
        .iter()
        .map(|&l| {
            if l > 0.0 {
                (top / l).clamp(1.0, MAX_DEPTH_GAIN)
            } else {
                MAX_DEPTH_GAIN
            }
        })
        .collect();
    DepthProfile { offset, gain }
}

impl DepthProfile {
    /// Scales every slice of `v` by its gain (after taking its offset off,
    /// with `offset`; a background-corrected channel has none left).
    fn correct(&self, v: &mut Volume<f32>, offset: bool) {
        for z in 0..v.depth {
            let (o, g) = (if offset { self.offset[z] } else { 0.0 }, self.gain[z]);
            v.slice_mut(z).iter_mut().for_each(|x| *x = (*x - o) * g);
        }
    }
}

/// A channel smoothed (σ `sigma_um`), its background removed in each
/// slice (`p.background`, radius `p.effective_background_radius_um()`),
/// and corrected for depth.
fn corrected(
    v: &Voxels,
    sigma_um: f64,
    depth: &DepthProfile,
    p: &Params,
    voxel: VoxelSize,
) -> Volume<f32> {
    let mut s = smoothed(v, sigma_um, voxel);
    let (w, h) = (s.width as u32, s.height as u32);
    let radius_px = p.effective_background_radius_um() / voxel.xy_um;
    for z in 0..s.depth {
        let slice = s.slice_mut(z);
        let mut img = FloatImage::from_raw(w, h, slice.to_vec()).expect("a slice is w × h");
        correct_in_place(&mut img, p.background, radius_px);
        slice.copy_from_slice(img.as_raw());
    }
    depth.correct(&mut s, false);
    s
}

/// A threshold over the whole volume (the histogram does not care that
/// the voxels are in 3D).
fn threshold_of(v: &mut Volume<f32>, method: crate::segment::threshold::Method) -> f32 {
    // The voxels lent to an image of w × (h·d) and given back: no copy.
    let data = std::mem::take(&mut v.data);
    let found = range(&data);
    let img = FloatImage::from_raw(v.width as u32, (v.height * v.depth) as u32, data)
        .expect("a volume is w × h·d");
    let t = threshold_in(&img, method, found);
    v.data = img.into_raw();
    t
}

/// The threshold of `v` over the voxels of `mask` alone:
/// Sox9 among the nuclei (DAPI), where it is bimodal (Sox9+ and Sox9−
/// nuclei). Over the whole volume, where Sox9+ nuclei are a sliver of it,
/// Otsu's threshold can land inside the noise of a deep stack (4 000
/// "Sox9+ nuclei" in a 60-slice one); the whole volume when no voxel
/// qualifies.
fn threshold_within(
    v: &Volume<f32>,
    mask: &Volume<u8>,
    method: crate::segment::threshold::Method,
) -> f32 {
    let inside: Vec<f32> = v
        .data
        .iter()
        .zip(&mask.data)
        .filter(|(_, &m)| m != 0)
        .map(|(&x, _)| x)
        .collect();
    if inside.is_empty() {
        let mut all = v.clone();
        return threshold_of(&mut all, method);
    }
    let found = range(&inside);
    let n = inside.len() as u32;
    let img = FloatImage::from_raw(n, 1, inside).expect("one row of n values");
    threshold_in(&img, method, found)
}

/// The P-cadherin mask: voxels at or above the volume's threshold and at
/// or above `pcad_local_fraction` × the brightest within
/// `pcad_local_radius_um` (a box, that many µm along every axis).
fn pcad_mask(pcad: &mut Volume<f32>, p: &Params, voxel: VoxelSize) -> (Volume<u8>, f32) {
    let t = threshold_of(pcad, p.threshold_pcad);
    let r = p.pcad_local_radius_um;
    let mask = mask_local_3d(
        pcad,
        t,
        p.pcad_local_fraction as f32,
        r / voxel.xy_um,
        r / voxel.z_um,
    );
    (mask, t)
}

/// The mask opened by a ball of `open_radius_um` (detaches thin bridges,
/// removes specks), its holes filled in each slice (a membrane-stained
/// follicle's interior).
fn follicle_candidates(mask: Volume<u8>, p: &Params, voxel: VoxelSize) -> Volume<u8> {
    let opened = if p.open_radius_um > 0.0 {
        open(mask, p.open_radius_um, voxel.spacing())
    } else {
        mask
    };
    fill_holes_per_slice(opened)
}

/// Candidates labelled, touching ones split (with `p.split`) where they
/// meet through a neck thinner than `split_neck_ratio` × the thinner
/// body, centres at least `split_min_separation_um` apart.
fn split_follicles(candidates: &Volume<u8>, p: &Params, voxel: VoxelSize) -> Components {
    let found = components(candidates, Connectivity::Full);
    if p.split {
        let rule = SplitRule {
            neck_ratio: p.split_neck_ratio,
            min_separation: p.split_min_separation_um,
        };
        split_components(&found, voxel.spacing(), rule)
    } else {
        found
    }
}

/// Each wanted piece's mean corrected P-cadherin ÷ the median over the
/// voxels within `ring_um` of it that no candidate holds (`None`: not
/// wanted, nothing there, or a median ≤ 0). Each ring is found in the
/// piece's own crop (its box grown by the ring), by the distance to it
/// (looked for only as far as the ring reaches) — as the 2D analysis
/// does, per candidate.
fn contrast_with_surroundings(
    pieces: &Components,
    candidates: &Volume<u8>,
    pcad: &Volume<f32>,
    measured: &[Region3],
    ring_um: f64,
    voxel: VoxelSize,
    wanted: impl Fn(&Region3) -> bool,
) -> Vec<Option<f64>> {
    let dims = [candidates.width, candidates.height, candidates.depth];
    let reach = [
        ring_um / voxel.xy_um,
        ring_um / voxel.xy_um,
        ring_um / voxel.z_um,
    ]
    .map(|r| r.ceil() as usize);
    let mut ring: Vec<f32> = Vec::new();
    measured
        .iter()
        .map(|r| {
            if !wanted(r) {
                return None;
            }
            let lo: [usize; 3] = [0, 1, 2].map(|k| r.bounds[k][0].saturating_sub(reach[k]));
            let hi: [usize; 3] = [0, 1, 2].map(|k| (r.bounds[k][1] + reach[k]).min(dims[k] - 1));
            let size: [usize; 3] = [0, 1, 2].map(|k| hi[k] - lo[k] + 1);
            // Not this piece: 1; the distance transform of that is the
            // distance to it. Its voxels' P-cadherin summed in raster
            // order.
            let mut others = Volume::filled(size[0], size[1], size[2], 1u8);
            let (mut sum, mut count) = (0f64, 0u64);
            let (w, h) = (dims[0], dims[1]);
            for run in pieces.runs(r.label) {
                let (y, z) = (run.row as usize % h, run.row as usize / h);
                let (x0, x1) = (run.start as usize, run.end as usize);
                let i = others.index(x0 - lo[0], y - lo[1], z - lo[2]);
                others.data[i..i + x1 - x0].fill(0);
                let v = run.row as usize * w;
                for &x in &pcad.data[v + x0..v + x1] {
                    sum += f64::from(x);
                }
                count += (x1 - x0) as u64;
            }
            let distance = squared_edt_within(&others, voxel.spacing(), ring_um);
            let r2 = (ring_um * ring_um) as f32;
            ring.clear();
            for z in 0..size[2] {
                for y in 0..size[1] {
                    let i = candidates.index(lo[0], lo[1] + y, lo[2] + z);
                    let j = distance.index(0, y, z);
                    let near = &distance.data[j..j + size[0]];
                    let held = &candidates.data[i..i + size[0]];
                    let values = &pcad.data[i..i + size[0]];
                    for ((&dd, &c), &v) in near.iter().zip(held).zip(values) {
                        if c == 0 && dd <= r2 {
                            ring.push(v);
                        }
                    }
                }
            }
            if ring.is_empty() {
                return None;
            }
            let mid = ring.len() / 2;
            let median = *ring.select_nth_unstable_by(mid, f32::total_cmp).1;
            (median > 0.0).then(|| sum / count.max(1) as f64 / f64::from(median))
        })
        .collect()
}

/// How many of `nuclei` (centroids in voxels) each candidate holds: the
/// candidate under the centroid, else the nearest within `rim_um` (index:
/// label − 1).
fn nuclei_per_candidate(
    labels: &Volume<u32>,
    nuclei: &[[f64; 3]],
    rim_um: f64,
    voxel: VoxelSize,
    n: u32,
) -> Vec<u32> {
    let dims = [labels.width, labels.height, labels.depth];
    let spacing = voxel.spacing();
    let reach = [0, 1, 2].map(|k| (rim_um / spacing[k]).ceil() as i64);
    let mut counts = vec![0u32; n as usize];
    for c in nuclei {
        let at = [0, 1, 2].map(|k| (c[k].round() as i64).clamp(0, dims[k] as i64 - 1));
        let mut best: Option<(f64, u32)> = None;
        for z in (at[2] - reach[2]).max(0)..=(at[2] + reach[2]).min(dims[2] as i64 - 1) {
            for y in (at[1] - reach[1]).max(0)..=(at[1] + reach[1]).min(dims[1] as i64 - 1) {
                for x in (at[0] - reach[0]).max(0)..=(at[0] + reach[0]).min(dims[0] as i64 - 1) {
                    let l = labels.get(x as usize, y as usize, z as usize);
                    if l == 0 {
                        continue;
                    }
                    let d2: f64 = [x, y, z]
                        .iter()
                        .enumerate()
                        .map(|(k, &v)| ((v - at[k]) as f64 * spacing[k]).powi(2))
                        .sum();
                    if d2 <= rim_um * rim_um && best.is_none_or(|(b, _)| d2 < b) {
                        best = Some((d2, l));
                    }
                }
            }
        }
        if let Some((_, host)) = best {
            counts[host as usize - 1] += 1;
        }
    }
    counts
}

/// The Sox9+ nuclei's centroids (voxels): objects of the DAPI mask, split
/// where they crowd (with `p.split`), at least as large as a ball whose
/// cross-section is `min_nucleus_area_um2`, whose mean Sox9 reaches
/// `t_sox9`. In 3D the nuclei of a packed follicle come apart (they are
/// not fused by a projection), so a nucleus is judged by its mean, which
/// averages out the noise of deep slices (a voxel-wise DAPI ∩ Sox9 mask,
/// as in 2D, let noise fragments through; `docs/3d.md`).
fn sox9_positive_nuclei(
    dapi_mask: Volume<u8>,
    sox9: &Volume<f32>,
    t_sox9: f32,
    p: &Params,
    voxel: VoxelSize,
) -> Vec<[f64; 3]> {
    // Object by object, in its crop: no label volume. Only DAPI objects
    // with a voxel at or above the Sox9 threshold can hold a nucleus
    // whose mean reaches it: the others (most of the dermis) are not
    // split or measured.
    let found = components(&dapi_mask, Connectivity::Full);
    drop(dapi_mask);
    let rule = SplitRule {
        neck_ratio: p.nucleus_neck_ratio,
        min_separation: p.nucleus_min_separation_um,
    };
    let radius = (p.min_nucleus_area_um2 / std::f64::consts::PI).sqrt();
    let min_um3 = 4.0 / 3.0 * std::f64::consts::PI * radius * radius * radius;
    let (w, _, _) = found.dims;
    let mut nuclei = Vec::new();
    for k in 1..=found.count() {
        let runs = found.runs(k);
        let brightest = runs
            .iter()
            .flat_map(|r| {
                let i = r.row as usize * w;
                &sox9.data[i + r.start as usize..i + r.end as usize]
            })
            .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        if brightest < t_sox9 {
            continue;
        }
        // Its pieces (itself, unsplit), each measured from its runs, as
        // the follicles are.
        let pieces = if p.split {
            let crop = Crop::of(runs, found.dims);
            crop.runs_of(&split_crop(&crop, voxel.spacing(), rule))
        } else {
            vec![runs.to_vec()]
        };
        let measured = regions(
            &Components::from_objects(found.dims, pieces),
            [sox9.data.as_slice()],
        );
        nuclei.extend(
            measured
                .into_iter()
                .filter(|r| r.volume_um3(voxel) >= min_um3 && r.means[0] >= f64::from(t_sox9))
                .map(|r| r.centroid),
        );
    }
    nuclei
}

/// The tissue's area, mm², from the nuclei mask seen from above.
fn tissue_of(nuclei: &Volume<u8>, um_per_px: f64) -> f64 {
    let mut top = vec![0u8; nuclei.slice_len()];
    for z in 0..nuclei.depth {
        for (t, &v) in top.iter_mut().zip(nuclei.slice(z)) {
            *t |= v;
        }
    }
    super::tissue_area_mm2(&top, nuclei.width, nuclei.height, um_per_px)
}

/// Judges each measured candidate by its footprint's area (µm²), its
/// contrast and its nuclei.
fn apply_rule(
    stack: &Stack,
    measured: &[Region3],
    counts: &[u32],
    contrast: &[Option<f64>],
    found: Found,
    p: &Params,
) -> FieldAnalysis {
    let voxel = stack.voxel;
    let objects = measured.iter().zip(contrast).map(|(r, &contrast)| {
        let n = counts[r.label as usize - 1];
        let area = r.footprint_um2(voxel);
        let evidence = Evidence {
            area,
            sox9_nuclei: n,
            contrast,
        };
        Object {
            id: 0,
            label: r.label,
            x: r.centroid[0],
            y: r.centroid[1],
            z_um: Some(r.centroid[2] * voxel.z_um),
            area_px: r.footprint_px,
            area_um2: area,
            volume_um3: Some(r.volume_um3(voxel)),
            mean_pcad: r.means[0],
            mean_sox9: r.means[1],
            mean_dapi: r.means[2],
            sox9_nuclei: n,
            contrast,
            verdict: classify(evidence, p),
        }
    });
    let (w, h, _) = stack.dimensions();
    let mm2 = w as f64 * h as f64 * voxel.xy_um * voxel.xy_um / 1e6;
    tally(objects, found, mm2)
}

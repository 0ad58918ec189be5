//! Preparing the channels for their thresholds: Gaussian smoothing,
//! flat-field correction by the illumination profile, background
//! removal; then the threshold and the mask.
//!
//! The steps that write a whole plane run fused, a row at a time, while
//! the row is still in cache: each smoothed row is flat-fielded, and
//! handed to the streamed top-hat, as it is made; ranges are found as
//! rows are written, so a threshold's histogram need not look for them.
//! The plain, one-step-at-a-time version is the reference in the tests.

use std::borrow::Cow;

use image::GrayImage;

use super::Scale;
use crate::io::{Field, Plane};
use crate::params::Params;
use crate::segment::background::{correct_in_place, Method};
use crate::segment::flat_field::{LargeScale, LargeScaleRows};
use crate::segment::hot_pixels;
use crate::segment::local::mask_local;
use crate::segment::smooth::smooth_samples_then;
use crate::segment::threshold::{mask_at_least, range, threshold_in, Method as Threshold};
use crate::segment::threshold_map::{CellHistograms, Cells, ThresholdMap};
use crate::segment::top_hat::TopHatRows;
use crate::FloatImage;

/// A channel ready for its threshold: smoothed (and corrected), with the
/// range of its values when the pass that made it found them.
pub(super) struct Prepared {
    /// The channel's plane.
    pub plane: FloatImage,
    /// Its least and greatest value, if known.
    pub range: Option<(f32, f32)>,
}

/// A channel's mask and the threshold that made it.
pub(super) struct Mask {
    /// Pixels at or above the threshold (255), others 0.
    pub mask: GrayImage,
    /// The threshold, in smoothed, corrected intensities.
    pub threshold: f32,
}

/// The field with every channel's hot pixels (single pixels over twice
/// their brightest neighbour) replaced by that neighbour (see
/// [`crate::segment::hot_pixels`]); the field itself when it has none.
/// The test's scale is each channel's range: `ranges` when given (a
/// block's, from its whole plane), else the field's own.
pub(super) fn without_hot_pixels(field: &Field, ranges: Option<[(f32, f32); 3]>) -> Cow<'_, Field> {
    let ranges = ranges.unwrap_or_else(|| channel_ranges(field));
    let mut each = ranges.into_iter();
    let clean = field
        .channels
        .each_ref()
        .map(|c| channel_without_hot_pixels(c, each.next().unwrap_or_default()));
    if clean.iter().all(|c| matches!(c, Cow::Borrowed(_))) {
        return Cow::Borrowed(field);
    }
    Cow::Owned(Field {
        channels: clean.map(Cow::into_owned),
        channel_roles: field.channel_roles.clone(),
        ..*field
    })
}

/// One channel of a field without its hot pixels, as
/// [`without_hot_pixels`] makes it (`span`: the channel's range); the
/// channel itself when it has none.
pub(super) fn channel_without_hot_pixels(plane: &Plane, span: (f32, f32)) -> Cow<'_, Plane> {
    /// The image with its hot pixels replaced, if it has any.
    fn cleaned<T: crate::Sample + image::Primitive + bytemuck::Pod>(
        img: &image::ImageBuffer<image::Luma<T>, Vec<T>>,
        span: (f32, f32),
    ) -> Option<image::ImageBuffer<image::Luma<T>, Vec<T>>> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let list = hot_pixels::find(img.as_raw(), w, h, span);
        (!list.is_empty()).then(|| {
            // (A pooled buffer: a fresh one is faulted in and zeroed by
            // the kernel, for every field and every block.)
            let mut raw = crate::pool::take(img.as_raw().len());
            raw.copy_from_slice(img.as_raw());
            replace(&mut raw, &list);
            image::ImageBuffer::from_raw(img.width(), img.height(), raw)
                .unwrap_or_else(|| img.clone())
        })
    }
    let clean = match plane {
        Plane::U16(i) => cleaned(i, span).map(Plane::U16),
        Plane::F32(i) => cleaned(i, span).map(Plane::F32),
    };
    clean.map_or(Cow::Borrowed(plane), Cow::Owned)
}

/// Each channel's least and greatest sample (the scale of the hot-pixel
/// test).
pub(super) fn channel_ranges(field: &Field) -> [(f32, f32); 3] {
    field.channels.each_ref().map(|c| match c {
        Plane::U16(i) => hot_pixels::range_u16(i.as_raw()),
        Plane::F32(i) => range(i.as_raw()),
    })
}

/// Writes each (index, value) into the image.
fn replace<T: Copy>(img: &mut [T], list: &[(usize, T)]) {
    for &(i, v) in list {
        img[i] = v;
    }
}

/// The sums of the illumination profile of a `w` × `h` plane: its
/// smoothed DAPI's large-scale mean (σ `flat_field_sigma_um`); with
/// `flat_field_dark` (for a plane this size), above the dark level with
/// the pedestal of σ `flat_field_coarse_sigma_um`
/// ([`crate::segment::flat_field`]).
pub(super) fn illumination_rows(w: usize, h: usize, p: &Params, scale: Scale) -> LargeScaleRows {
    let sigma_px = scale.px(p.flat_field_sigma_um);
    if p.flat_field_dark.applies(w, h) {
        LargeScaleRows::illumination(w, h, sigma_px, scale.px(p.flat_field_coarse_sigma_um))
    } else {
        LargeScaleRows::new(w, h, sigma_px)
    }
}

/// Smooths DAPI (σ `nucleus_sigma_um`) and, with `flat_field`, takes its
/// illumination profile ([`illumination_rows`]), from each row as it is
/// smoothed; or takes the profile `known` (a block's window of its whole
/// plane's).
pub(super) fn smooth_dapi(
    dapi: &Plane,
    p: &Params,
    scale: Scale,
    known: Option<Option<LargeScale>>,
) -> (Prepared, Option<LargeScale>) {
    let (w, h) = plane_size(dapi);
    let mut profile = (p.flat_field && known.is_none()).then(|| illumination_rows(w, h, p, scale));
    let plane = smooth_plane_then(dapi, scale.px(p.nucleus_sigma_um), |y, made| {
        if let Some(sums) = profile.as_mut() {
            sums.row(y, &made[y * w..]);
        }
    });
    let illumination = match known {
        Some(known) => known,
        None => profile.map(LargeScaleRows::finish),
    };
    (Prepared { plane, range: None }, illumination)
}

/// How every channel but DAPI is corrected: divided by the
/// `illumination` profile (normalised, floored at 0.2; none without a
/// flat field; DAPI alongside, its dark level exchanged for the
/// profile's pedestal first), its background removed (`params.background`, radius
/// `params.effective_background_radius_um()`).
#[derive(Clone, Copy)]
pub(super) struct Correction<'a> {
    /// The illumination profile, with a flat field.
    pub illumination: Option<&'a LargeScale>,
    /// The analysis parameters.
    pub params: &'a Params,
    /// µm to pixels.
    pub scale: Scale,
}

impl Correction<'_> {
    /// Smooths a channel (σ `sigma_um`), flat-fields it and removes its
    /// background. `alongside`, a channel smoothed earlier (DAPI), is
    /// flat-fielded in the same pass: each row of the profile is made once
    /// for both.
    pub(super) fn apply(
        &self,
        plane: &Plane,
        sigma_um: f64,
        mut alongside: Option<&mut Prepared>,
    ) -> Prepared {
        let Correction {
            illumination,
            params: p,
            scale,
        } = *self;
        let (w, h) = plane_size(plane);
        let radius_px = scale.px(p.effective_background_radius_um());
        let mut flat = illumination.and_then(|ill| ill.flat_rows(0.2));
        let mut top_hat =
            (p.background == Method::TopHat).then(|| TopHatRows::new(w, h, radius_px));
        let mut alongside_range = (f32::INFINITY, f32::NEG_INFINITY);
        let mut img = smooth_plane_then(plane, scale.px(sigma_um), |y, made| {
            if let Some(f) = flat.as_mut() {
                let row = &mut made[y * w..];
                match alongside.as_deref_mut() {
                    Some(other) => {
                        let other: &mut [f32] = &mut other.plane;
                        // The other plane was made a channel ago: its next
                        // row is asked for now.
                        crate::cache::prefetch_range(other, (y + 1) * w, (y + 2) * w);
                        let other = &mut other[y * w..(y + 1) * w];
                        f.lift(y, other);
                        f.divide(y, [row, &mut *other]);
                        let (l, h) = range(other);
                        alongside_range = (alongside_range.0.min(l), alongside_range.1.max(h));
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
                correct_in_place(&mut img, p.background, radius_px);
                range(img.as_raw())
            }
        };
        if let (Some(other), Some(_)) = (alongside, flat) {
            other.range = Some(alongside_range);
        }
        Prepared {
            plane: img,
            range: Some(found),
        }
    }
}

/// The threshold of a prepared channel by `method`.
pub(super) fn threshold_of(channel: &Prepared, method: Threshold) -> f32 {
    let found = channel
        .range
        .unwrap_or_else(|| range(channel.plane.as_raw()));
    threshold_in(&channel.plane, method, found)
}

/// Where a channel's local thresholds come from
/// ([`crate::segment::threshold_map`]).
pub(super) enum Local<'a> {
    /// None: a single camera frame (or `local_thresholds = off`).
    Off,
    /// The channel's own, in these cells: a stitched plane analysed
    /// whole.
    Own(Cells),
    /// The plane's: a block of a plane whose top-left pixel is plane
    /// pixel `origin`.
    Plane {
        /// P-cadherin's, Sox9's and DAPI's.
        maps: &'a [Option<ThresholdMap>; 3],
        /// The block's top-left pixel in the plane.
        origin: (usize, usize),
    },
}

/// The cells of a `w` × `h` plane's local thresholds, `None` when it
/// has none (`local_thresholds`): `local_threshold_cell_um` a side,
/// rounded to whole blocks of the illumination profile, so that a plane
/// read by parts on the profile's block boundaries holds whole cells.
pub(super) fn threshold_cells(w: usize, h: usize, p: &Params, scale: Scale) -> Option<Cells> {
    if !p.local_thresholds.applies(w, h) {
        return None;
    }
    let k = if p.flat_field {
        LargeScaleRows::block_side(w, h, scale.px(p.flat_field_sigma_um))
    } else {
        1
    };
    let blocks = (scale.px(p.local_threshold_cell_um) / k as f64)
        .round()
        .max(1.0) as usize;
    Some(Cells::of(w, h, blocks * k))
}

/// A prepared channel's threshold by `method` (the channel `c`:
/// P-cadherin 0, Sox9 1, DAPI 2); with local thresholds, the channel is
/// normalised to them ([`ThresholdMap::normalise`]), so the threshold
/// returned (the plane's) cuts it everywhere at its local level.
pub(super) fn threshold_here(
    channel: &mut Prepared,
    method: Threshold,
    local: &Local,
    c: usize,
) -> f32 {
    let (t, map, origin) = match local {
        Local::Off => (threshold_of(channel, method), None, (0, 0)),
        Local::Own(cells) => {
            let (t, map) = threshold_and_map(channel, method, *cells);
            (t, map, (0, 0))
        }
        Local::Plane { maps, origin } => (threshold_of(channel, method), maps[c].clone(), *origin),
    };
    if let Some(map) = map {
        map.normalise(&mut channel.plane, origin);
        channel.range = None;
    }
    t
}

/// A whole stitched plane's prepared channel: its threshold by `method`
/// and its local thresholds in `cells` around it. For a histogram
/// method the pixels are binned once, into the cells' dyadic histograms
/// (which need no range, so a plane read by parts needs no pass to find
/// it): the plane's histogram is their sum (the same integers).
pub(super) fn threshold_and_map(
    channel: &Prepared,
    method: Threshold,
    cells: Cells,
) -> (f32, Option<ThresholdMap>) {
    if matches!(method, Threshold::Fixed(_) | Threshold::Noise(_)) {
        return (threshold_of(channel, method), None);
    }
    let w = (channel.plane.width() as usize).max(1);
    let rows: Vec<&[f32]> = channel.plane.as_raw().chunks_exact(w).collect();
    let mut hists = CellHistograms::new(cells);
    hists.add_rows(0, 0, &rows);
    let t = hists.total().threshold(method).unwrap_or(f32::INFINITY);
    (t, hists.thresholds(method, t))
}

/// Thresholds a prepared channel locally: its pixels at or above
/// `threshold` and at or above `fraction` × the brightest within
/// `radius_px` (see [`mask_local`]; `fraction` 0: the threshold alone).
pub(super) fn local_threshold_mask(
    channel: &Prepared,
    threshold: f32,
    fraction: f64,
    radius_px: f64,
) -> Mask {
    let mask = if fraction > 0.0 {
        mask_local(&channel.plane, threshold, fraction as f32, radius_px)
    } else {
        mask_at_least(&channel.plane, threshold)
    };
    Mask { mask, threshold }
}

/// A prepared channel's mask at `threshold` alone
/// ([`local_threshold_mask`] with no local part).
pub(super) fn threshold_mask(channel: &Prepared, threshold: f32) -> Mask {
    local_threshold_mask(channel, threshold, 0.0, 0.0)
}

/// A plane's width and height, as lengths.
fn plane_size(plane: &Plane) -> (usize, usize) {
    let (w, h) = plane.dimensions();
    (w as usize, h as usize)
}

/// Gaussian smoothing of a channel, whichever way it is stored, with
/// `post(y, made)` run as each smoothed row is made (as
/// [`smooth_samples_then`]).
pub(super) fn smooth_plane_then(
    plane: &Plane,
    sigma_px: f64,
    post: impl FnMut(usize, &mut [f32]),
) -> FloatImage {
    match plane {
        Plane::U16(i) => smooth_samples_then(i.as_raw(), i.width(), i.height(), sigma_px, post),
        Plane::F32(i) => smooth_samples_then(i.as_raw(), i.width(), i.height(), sigma_px, post),
    }
}

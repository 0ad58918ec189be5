//! Analysis parameters: every threshold the pipeline uses, with defaults.
//!
//! Lengths are in µm and areas in µm²; a field is analysed only with a
//! known pixel size (from its metadata or `--pixel-size`).

use serde::{Deserialize, Serialize};

use crate::error::ParamError;
use crate::io::{ChannelSpec, Limits};
use crate::segment::background::Method as Background;
use crate::segment::threshold::Method as Threshold;

/// A count with an optional binary suffix: `512`, `64K`, `512M`, `6G`,
/// `1T` — as the limits are given on the command line and in a config.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{s}` is not a positive count (digits, optionally K, M, G or T)"))
}

/// A limit in a config: a number, or a string with a size suffix.
mod size {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Number(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Size::deserialize(d)? {
            Size::Number(n) => Ok(n),
            Size::Text(t) => super::parse_size(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// Whether a step that a stitched plane needs is taken: the flat field
/// above the camera's dark level ([`crate::segment::flat_field`]) and
/// local thresholds ([`crate::segment::threshold_map`]), needed where
/// tiles of one plane were acquired at different brightness. On a
/// single camera frame neither does better than the plane's own
/// (dark level: broad set F1 0.951 → 0.954, dev-sample 0.966 → 0.943;
/// local thresholds: 0.953 and 0.949; `docs/mosaic.md`), so `auto`
/// keeps a frame as it was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stitched {
    /// For a plane wider or taller than [`STITCHED_PX`] (no camera
    /// takes it in one frame), else not.
    #[default]
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

impl Stitched {
    /// Whether the step is taken for a `w` × `h` plane.
    pub fn applies(self, w: usize, h: usize) -> bool {
        match self {
            Stitched::On => true,
            Stitched::Off => false,
            Stitched::Auto => w.max(h) > STITCHED_PX,
        }
    }
}

/// A plane wider or taller than this many pixels was stitched from
/// several camera frames: the largest scientific CMOS sensors are 3200
/// px on a side.
pub const STITCHED_PX: usize = 4096;

/// How a z-stack is analysed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// 3D for a stack of at least [`MIN_SLICES_3D`] slices, at least
    /// `min_stack_depth_um` deep, with a known z step; else the projection.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// Always the z max-projection.
    #[serde(rename = "2d")]
    TwoD,
    /// Always 3D (a stack without a z step is an error row).
    #[serde(rename = "3d")]
    ThreeD,
}

/// Fewest slices `auto` analyses in 3D.
pub const MIN_SLICES_3D: usize = 5;

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Mode::Auto),
            "2d" => Ok(Mode::TwoD),
            "3d" => Ok(Mode::ThreeD),
            _ => Err(format!("`{s}` is not a mode: auto, 2d or 3d")),
        }
    }
}

/// Which analysis a field gets, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisChoice {
    /// True: the 3D analysis of the stack; false: the z max-projection.
    pub three_d: bool,
    /// Why, in words (for run.json).
    pub reason: String,
}

impl Params {
    /// The analysis a field of `depth` slices with z step `z_step_um` (µm,
    /// from the file or `--z-step`) gets under [`Params::mode`].
    pub fn choose_analysis(&self, depth: usize, z_step_um: Option<f64>) -> AnalysisChoice {
        let choice = |three_d: bool, reason: String| AnalysisChoice { three_d, reason };
        match (self.mode, z_step_um) {
            (Mode::TwoD, _) => choice(false, "--mode 2d".into()),
            (Mode::ThreeD, _) => choice(true, "--mode 3d".into()),
            (Mode::Auto, _) if depth < MIN_SLICES_3D => choice(
                false,
                format!("{depth} slice(s), fewer than {MIN_SLICES_3D}"),
            ),
            (Mode::Auto, None) => choice(
                false,
                format!("{depth} slices but no z step in the file (give --z-step UM for 3D)"),
            ),
            (Mode::Auto, Some(dz)) if depth as f64 * dz < self.min_stack_depth_um => choice(
                false,
                format!(
                    "{depth} slices × {dz:.3} µm is shallower than min_stack_depth_um = {} µm",
                    self.min_stack_depth_um
                ),
            ),
            (Mode::Auto, Some(dz)) => choice(true, format!("{depth} slices × {dz:.3} µm")),
        }
    }
}

/// Every parameter of the single-field analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Channel roles in file order (`pcad,sox9,dapi`, `skip` for unused
    /// channels); absent: from metadata names, else the default order.
    pub channels: Option<ChannelSpec>,
    /// Pixel size in µm overriding the files' metadata; absent: metadata.
    pub pixel_size_um: Option<f64>,
    /// z step (µm between slices) overriding the files' metadata; absent:
    /// metadata.
    pub z_step_um: Option<f64>,
    /// How z-stacks are analysed: `auto` (3D for a deep stack with a
    /// known z step, see [`Mode`]), `2d` (the z max-projection) or `3d`.
    pub mode: Mode,
    /// `auto` analyses a stack in 3D when it is at least this deep
    /// (slices × z step), µm: shallower stacks cannot hold one follicle
    /// over another (each is 20–60 µm thick), so the projection loses
    /// nothing there.
    pub min_stack_depth_um: f64,
    /// Gaussian smoothing σ for the P-cadherin channel, µm.
    pub pcad_sigma_um: f64,
    /// Gaussian smoothing σ for the Sox9 and DAPI channels, µm.
    pub nucleus_sigma_um: f64,
    /// Radius of the morphological opening of the P-cadherin mask, µm
    /// (0 turns it off). Detaches thin bridges and removes specks.
    pub open_radius_um: f64,
    /// Flat-field correction: divide every channel by the large-scale DAPI
    /// profile (nuclei are everywhere, so it tracks the illumination).
    pub flat_field: bool,
    /// σ of the large-scale DAPI profile, µm.
    pub flat_field_sigma_um: f64,
    /// Whether the profile is taken above the camera's dark level, with
    /// a pedestal that scales with the coarse brightness (so a dim tile
    /// of a mosaic is corrected as a bright one; [`Stitched`]).
    pub flat_field_dark: Stitched,
    /// σ of the coarse DAPI brightness that scales that pedestal, µm.
    pub flat_field_coarse_sigma_um: f64,
    /// Whether each channel is thresholded locally, in cells of
    /// `local_threshold_cell_um` ([`Stitched`];
    /// [`crate::segment::threshold_map`]).
    pub local_thresholds: Stitched,
    /// The side of those cells, µm.
    pub local_threshold_cell_um: f64,
    /// Background correction of P-cadherin and Sox9 before thresholding.
    pub background: Background,
    /// Background radius (top-hat half-side, or Gaussian σ), µm. Absent:
    /// half the radius of a disc of `max_area_um2` (34.5 µm for the default
    /// 15 000 µm²): wider than any follicle body, narrow enough to follow
    /// the haze.
    pub background_radius_um: Option<f64>,
    /// Threshold method for P-cadherin (otsu, li, triangle or a value).
    pub threshold_pcad: Threshold,
    /// A P-cadherin pixel must also reach this fraction of the brightest
    /// corrected P-cadherin within `pcad_local_radius_um` of it (a local
    /// contrast threshold: each follicle cut at its own level; 0: off).
    pub pcad_local_fraction: f64,
    /// The window of that local threshold (half-side of a square), µm.
    pub pcad_local_radius_um: f64,
    /// Threshold method for Sox9.
    pub threshold_sox9: Threshold,
    /// Threshold method for DAPI.
    pub threshold_dapi: Threshold,
    /// Smallest follicle area, µm².
    pub min_area_um2: f64,
    /// Largest follicle area, µm².
    pub max_area_um2: f64,
    /// A follicle must hold at least this many Sox9-positive nuclei.
    pub min_sox9_nuclei: u32,
    /// A follicle's mean corrected P-cadherin is at least this many times
    /// that of its surroundings (the pixels within `contrast_ring_um` of
    /// it outside every candidate); fainter objects are haze.
    pub min_contrast: f64,
    /// The width of those surroundings, µm.
    pub contrast_ring_um: f64,
    /// DAPI objects smaller than this (µm²) are noise, not nuclei.
    pub min_nucleus_area_um2: f64,
    /// A Sox9+ nucleus belongs to a follicle when its centre lies inside
    /// the follicle or within this distance of its rim, µm.
    pub rim_um: f64,
    /// Split touching follicles and touching nuclei (distance transform +
    /// watershed).
    pub split: bool,
    /// Two follicle centres closer than this are one follicle, µm.
    pub split_min_separation_um: f64,
    /// A follicle body must be at least this thick (inscribed radius, µm)
    /// to seed its own region.
    pub split_min_radius_um: f64,
    /// A split is kept only where the neck's half-width is below this
    /// fraction of the smaller body's inscribed radius.
    pub split_neck_ratio: f64,
    /// A neck narrower than `split_neck_ratio` but at least this fraction
    /// of the smaller body's inscribed radius may be the thickened corner
    /// of one bent follicle: such a split stands on its neck only if both
    /// ends of the cut are pinched (`split_pinch_px`); narrower necks
    /// split on their own (≥ `split_neck_ratio`: off).
    pub split_bend_ratio: f64,
    /// How deep both ends of a bend-like split must lie inside the two
    /// bodies' convex hull, px: deeper than the roughness a noisy edge
    /// gives a thresholded outline on the pixel grid (a bent follicle's
    /// outer side does not dip).
    pub split_pinch_px: f64,
    /// A split is also kept where one body's core is at least this many
    /// times as bright (corrected P-cadherin) as the other's: follicles
    /// touching broadly whose stains differ; and a dim body is carved off
    /// a bright one this much brighter before splitting (∞: both off).
    pub split_step_ratio: f64,
    /// A split is also kept where both ends of the cut lie at least this
    /// deep inside the two bodies' convex hull — two follicles meeting
    /// between notches of their outline — µm (∞: off).
    pub split_notch_um: f64,
    /// A piece is also cut along the line between two notches of its
    /// outline (each `split_notch_um` deep or more) whose depths sum to at
    /// least this fraction of the line's length, where both parts are
    /// follicle-sized (`min_area_um2`, `split_min_radius_um`): bodies side
    /// by side (0: off).
    pub split_cut_ratio: f64,
    /// Two nucleus centres closer than this are one nucleus, µm.
    pub nucleus_min_separation_um: f64,
    /// Neck test for nuclei (see `split_neck_ratio`).
    pub nucleus_neck_ratio: f64,
    /// Sanity limit: most pixels in one plane (width × height).
    #[serde(deserialize_with = "size::deserialize")]
    pub max_plane_pixels: u64,
    /// Sanity limit: most samples one field may decode (width × height ×
    /// channels × slices).
    #[serde(deserialize_with = "size::deserialize")]
    pub max_field_samples: u64,
    /// Sanity limit: most bytes one field may decode.
    #[serde(deserialize_with = "size::deserialize")]
    pub max_field_bytes: u64,
    /// Sanity limit: most pages (IFDs) in one file.
    #[serde(deserialize_with = "size::deserialize")]
    pub max_pages: u64,
    /// Sanity limit: most pixels in one plane analysed in blocks (a
    /// stitched mosaic over `max_plane_pixels`).
    #[serde(deserialize_with = "size::deserialize")]
    pub max_mosaic_pixels: u64,
    /// A plane over `max_plane_pixels` is analysed in blocks: cores of
    /// this side, px, each read with an overlap around it (memory per
    /// worker grows with the square).
    #[serde(deserialize_with = "size::deserialize")]
    pub block_px: u64,
}

/// One line of documentation per parameter, in file order.
const PARAM_DOCS: &[(&str, &str)] = &[
    ("channels", "Channel roles in file order, e.g. \"dapi,skip,pcad,sox9\"; absent: metadata names, else pcad,sox9,dapi."),
    ("pixel_size_um", "Pixel size (µm) overriding the files' metadata; absent: from metadata."),
    ("z_step_um", "z step (µm between slices) overriding the files' metadata; absent: from metadata."),
    ("mode", "z-stacks: \"auto\" (3D when at least 5 slices, min_stack_depth_um deep, with a z step), \"2d\" (projection) or \"3d\"."),
    ("min_stack_depth_um", "auto picks 3D only for stacks at least this deep (slices × z step), µm."),
    ("pcad_sigma_um", "Gaussian smoothing σ for P-cadherin, µm."),
    ("nucleus_sigma_um", "Gaussian smoothing σ for Sox9 and DAPI, µm."),
    ("open_radius_um", "Opening radius of the P-cadherin mask, µm (0 = off)."),
    ("flat_field", "Divide every channel by the large-scale DAPI profile (uneven illumination)."),
    ("flat_field_sigma_um", "σ of that DAPI profile, µm."),
    ("flat_field_dark", "Profile above the camera's dark level: \"auto\" (for planes over 4096 px: stitched mosaics), \"on\" or \"off\"."),
    ("flat_field_coarse_sigma_um", "σ of the coarse brightness that scales the profile's pedestal (its dark level replaced), µm."),
    ("local_thresholds", "Each channel thresholded in cells of local_threshold_cell_um, interpolated between them: \"auto\" (for planes over 4096 px: stitched mosaics), \"on\" or \"off\"."),
    ("local_threshold_cell_um", "Side of those cells, µm."),
    ("background", "Background correction of P-cadherin and Sox9: \"none\", \"top_hat\" or \"gaussian\"."),
    ("background_radius_um", "Top-hat half-side or Gaussian σ, µm; absent: √(max_area_um2/π)/2."),
    ("threshold_pcad", "P-cadherin threshold: \"otsu\", \"li\", \"triangle\", \"noise:K\" or a number."),
    ("pcad_local_fraction", "A P-cadherin pixel must also reach this fraction of the brightest within pcad_local_radius_um (0 = off)."),
    ("pcad_local_radius_um", "Half-side of that local window, µm."),
    ("threshold_sox9", "Sox9 threshold (same choices)."),
    ("threshold_dapi", "DAPI threshold (same choices)."),
    ("min_area_um2", "Smallest follicle area, µm²."),
    ("max_area_um2", "Largest follicle area, µm²."),
    ("min_sox9_nuclei", "Fewest Sox9+ nuclei in a follicle."),
    ("min_contrast", "Least P-cadherin contrast of a follicle against its surroundings (mean inside ÷ median around)."),
    ("contrast_ring_um", "Width of those surroundings, µm."),
    ("min_nucleus_area_um2", "Smaller DAPI objects are not nuclei, µm²."),
    ("rim_um", "A Sox9+ nucleus within this distance of a follicle's rim belongs to it, µm."),
    ("split", "Split touching follicles and crowded nuclei (distance transform + watershed)."),
    ("split_min_separation_um", "Follicle centres closer than this are one follicle, µm."),
    ("split_min_radius_um", "Bodies thinner than this (inscribed radius, µm) seed no region of their own."),
    ("split_neck_ratio", "Keep a split only where the neck half-width < ratio × the smaller body's inscribed radius."),
    ("split_step_ratio", "Also keep a split where one body's P-cadherin is at least this many times the other's, and carve such a dim body off a bright one before splitting (touching follicles of unequal brightness; inf: off)."),
    ("split_bend_ratio", "A neck at least this fraction of the smaller body's inscribed radius (but below split_neck_ratio) may be a bent follicle's corner: it splits only if pinched (≥ split_neck_ratio: off)."),
    ("split_pinch_px", "Both ends of a bend-like split must lie this deep inside the two bodies' convex hull, px: deeper than a noisy outline's roughness (a bend's outer side does not dip)."),
    ("split_notch_um", "Also keep a split whose cut runs between two notches of the outline at least this deep, µm."),
    ("split_cut_ratio", "Also cut a piece between two notches (each split_notch_um deep) whose depths sum to this fraction of the cut's length, if both parts are follicle-sized (0: off)."),
    ("nucleus_min_separation_um", "Nucleus centres closer than this are one nucleus, µm."),
    ("nucleus_neck_ratio", "Neck test for nuclei (1.0 keeps every split)."),
    ("max_plane_pixels", "Most pixels in one plane analysed whole (width × height); larger 2D planes are analysed in blocks, larger 3D stacks are error rows."),
    ("max_field_samples", "Limit: most samples one field may decode (width × height × channels × slices)."),
    ("max_field_bytes", "Limit: most bytes one field may decode (default: a 4096² × 3 × 64-slice 16-bit stack)."),
    ("max_pages", "Limit: most pages (IFDs) in one file."),
    ("max_mosaic_pixels", "Limit: most pixels in one plane analysed in blocks (mosaics over max_plane_pixels)."),
    ("block_px", "Planes over max_plane_pixels are analysed in blocks: core side, px (plus an overlap)."),
];

impl Default for Params {
    fn default() -> Self {
        Params {
            channels: None,
            pixel_size_um: None,
            z_step_um: None,
            mode: Mode::Auto,
            min_stack_depth_um: 40.0,
            pcad_sigma_um: 2.0,
            nucleus_sigma_um: 0.5,
            open_radius_um: 1.0,
            flat_field: true,
            flat_field_sigma_um: 50.0,
            flat_field_dark: Stitched::Auto,
            flat_field_coarse_sigma_um: 200.0,
            local_thresholds: Stitched::Auto,
            local_threshold_cell_um: 200.0,
            background: Background::TopHat,
            background_radius_um: None,
            threshold_pcad: Threshold::Triangle,
            pcad_local_fraction: 0.3,
            pcad_local_radius_um: 8.0,
            threshold_sox9: Threshold::Otsu,
            threshold_dapi: Threshold::Otsu,
            min_area_um2: 400.0,
            max_area_um2: 15_000.0,
            min_sox9_nuclei: 3,
            min_contrast: 3.0,
            contrast_ring_um: 6.0,
            min_nucleus_area_um2: 8.0,
            rim_um: 3.0,
            split: true,
            split_min_separation_um: 12.0,
            split_min_radius_um: 6.0,
            split_neck_ratio: 0.85,
            split_step_ratio: 1.5,
            split_bend_ratio: 0.75,
            split_pinch_px: 2.5,
            split_notch_um: 4.0,
            split_cut_ratio: 0.5,
            nucleus_min_separation_um: 4.0,
            nucleus_neck_ratio: 1.0,
            max_plane_pixels: Limits::default().max_plane_pixels,
            max_field_samples: Limits::default().max_field_samples,
            max_field_bytes: Limits::default().max_field_bytes,
            max_pages: Limits::default().max_pages as u64,
            max_mosaic_pixels: Limits::default().max_mosaic_pixels,
            block_px: 2048,
        }
    }
}

fn check(name: &str, ok: bool, reason: &str) -> Result<(), ParamError> {
    if ok {
        Ok(())
    } else {
        Err(ParamError {
            name: name.into(),
            reason: reason.into(),
        })
    }
}

impl Params {
    /// Rejects values that make no sense (negative sizes, an empty window,
    /// fractions outside 0..=1, NaN).
    pub fn validate(&self) -> Result<(), ParamError> {
        let nonneg = [
            ("pcad_sigma_um", self.pcad_sigma_um),
            ("nucleus_sigma_um", self.nucleus_sigma_um),
            ("open_radius_um", self.open_radius_um),
            ("min_area_um2", self.min_area_um2),
            ("min_nucleus_area_um2", self.min_nucleus_area_um2),
            ("rim_um", self.rim_um),
            ("min_contrast", self.min_contrast),
            ("contrast_ring_um", self.contrast_ring_um),
            ("pcad_local_radius_um", self.pcad_local_radius_um),
            ("flat_field_sigma_um", self.flat_field_sigma_um),
            ("split_min_separation_um", self.split_min_separation_um),
            ("split_min_radius_um", self.split_min_radius_um),
            ("nucleus_min_separation_um", self.nucleus_min_separation_um),
        ];
        for (name, v) in nonneg {
            check(
                name,
                v.is_finite() && v >= 0.0,
                "must be a finite number ≥ 0",
            )?;
        }
        check(
            "max_area_um2",
            self.max_area_um2.is_finite() && self.max_area_um2 >= self.min_area_um2,
            "must be a finite number ≥ min_area_um2",
        )?;
        check(
            "nucleus_neck_ratio",
            self.nucleus_neck_ratio.is_finite() && (0.0..=1.0).contains(&self.nucleus_neck_ratio),
            "must be between 0 and 1",
        )?;
        check(
            "pcad_local_fraction",
            (0.0..=1.0).contains(&self.pcad_local_fraction),
            "must be between 0 and 1",
        )?;
        check(
            "flat_field_coarse_sigma_um",
            self.flat_field_coarse_sigma_um.is_finite() && self.flat_field_coarse_sigma_um >= 0.0,
            "must be a finite number ≥ 0",
        )?;
        check(
            "local_threshold_cell_um",
            self.local_threshold_cell_um.is_finite() && self.local_threshold_cell_um > 0.0,
            "must be a positive number of µm",
        )?;
        check(
            "split_bend_ratio",
            self.split_bend_ratio.is_finite() && (0.0..=1.0).contains(&self.split_bend_ratio),
            "must be between 0 and 1",
        )?;
        check(
            "split_pinch_px",
            self.split_pinch_px.is_finite() && self.split_pinch_px >= 0.0,
            "must be a number of pixels ≥ 0",
        )?;
        check(
            "split_cut_ratio",
            self.split_cut_ratio >= 0.0,
            "must be a number ≥ 0 (0: off)",
        )?;
        check(
            "split_notch_um",
            self.split_notch_um >= 0.0,
            "must be a number ≥ 0 (inf: off)",
        )?;
        check(
            "split_step_ratio",
            self.split_step_ratio >= 1.0,
            "must be a number ≥ 1 (inf: off)",
        )?;
        check(
            "split_neck_ratio",
            self.split_neck_ratio.is_finite() && (0.0..=1.0).contains(&self.split_neck_ratio),
            "must be between 0 and 1",
        )?;
        for (name, v) in [
            ("max_plane_pixels", self.max_plane_pixels),
            ("max_field_samples", self.max_field_samples),
            ("max_field_bytes", self.max_field_bytes),
            ("max_pages", self.max_pages),
            ("max_mosaic_pixels", self.max_mosaic_pixels),
            ("block_px", self.block_px),
        ] {
            check(name, v > 0, "must be a positive whole number")?;
        }
        check(
            "pixel_size_um",
            self.pixel_size_um.is_none_or(|r| r.is_finite() && r > 0.0),
            "must be a positive number of µm",
        )?;
        check(
            "z_step_um",
            self.z_step_um.is_none_or(|r| r.is_finite() && r > 0.0),
            "must be a positive number of µm",
        )?;
        check(
            "min_stack_depth_um",
            self.min_stack_depth_um.is_finite() && self.min_stack_depth_um >= 0.0,
            "must be a finite number ≥ 0",
        )?;
        check(
            "background_radius_um",
            self.background_radius_um
                .is_none_or(|r| r.is_finite() && r > 0.0),
            "must be a positive number",
        )?;
        Ok(())
    }

    /// The reader's sanity limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_plane_pixels: self.max_plane_pixels,
            max_field_samples: self.max_field_samples,
            max_field_bytes: self.max_field_bytes,
            max_pages: usize::try_from(self.max_pages).unwrap_or(usize::MAX),
            max_mosaic_pixels: self.max_mosaic_pixels,
            ..Limits::default()
        }
    }

    /// The background radius in µm actually used.
    pub fn effective_background_radius_um(&self) -> f64 {
        self.background_radius_um
            .unwrap_or_else(|| ((self.max_area_um2 / std::f64::consts::PI).sqrt() / 2.0).max(1.0))
    }

    /// The defaults as a commented TOML file (`follicount config
    /// --print-defaults`); loading it gives back `Params::default()`.
    pub fn defaults_toml() -> String {
        let d = Params::default();
        let body = toml::to_string(&d).unwrap_or_default();
        let mut out = String::from(
            "# follicount analysis parameters (all optional; absent keys keep these defaults).\n\
             # Lengths in µm, areas in µm²; a file with no pixel size needs pixel_size_um.\n\n",
        );
        for (key, doc) in PARAM_DOCS {
            out.push_str(&format!("# {doc}\n"));
            match body
                .lines()
                .find(|l| l.split('=').next().map(str::trim) == Some(*key))
            {
                Some(line) => out.push_str(&format!("{line}\n\n")),
                None => out.push_str(&format!("# {key} = …   (absent by default)\n\n")),
            }
        }
        out
    }

    /// Reads the `parameters` of a previous run's run.json, to reproduce it.
    fn from_run_json(text: &str) -> Result<Params, ParamError> {
        let err = |reason: String| ParamError {
            name: "parameters".into(),
            reason,
        };
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        let params = v
            .get("parameters")
            .ok_or_else(|| err("run.json has no `parameters` object".into()))?;
        let p: Params = serde_json::from_value(params.clone()).map_err(|e| err(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// Reads a config file: a previous run's `run.json` (by a `.json` name
    /// or a leading `{`) or TOML.
    pub fn from_config_text(name: &str, text: &str) -> Result<Params, ParamError> {
        if name.ends_with(".json") || text.trim_start().starts_with('{') {
            Params::from_run_json(text)
        } else {
            Params::from_toml(text)
        }
    }

    /// Reads parameters from a TOML file's text; missing keys keep their
    /// defaults, unknown keys are an error naming the key.
    pub fn from_toml(text: &str) -> Result<Params, ParamError> {
        let p: Params = toml::from_str(text).map_err(|e| {
            // Name the key on the offending line and the line, so the
            // message is one line a person can act on.
            let start = e.span().map_or(0, |sp| sp.start.min(text.len()));
            let line_no = text[..start].matches('\n').count() + 1;
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let name = text[line_start..]
                .lines()
                .next()
                .and_then(|line| line.split_once('='))
                .map(|(k, _)| k.trim().trim_matches('"').to_string())
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| "config".into());
            let message = e.message().trim().to_string();
            let reason = if message.starts_with("unknown field") {
                match nearest_key(&name) {
                    Some(near) => format!("unknown key (line {line_no}); did you mean `{near}`?"),
                    None => {
                        format!("unknown key (line {line_no}); `follicount config` lists every key")
                    }
                }
            } else {
                format!("line {line_no}: {message}")
            };
            ParamError { name, reason }
        })?;
        p.validate()?;
        Ok(p)
    }
}

/// The config key closest to a misspelt `key`, if one is close (at most
/// a third of its letters differ, or it is a prefix of it).
fn nearest_key(key: &str) -> Option<&'static str> {
    PARAM_DOCS
        .iter()
        .map(|&(k, _)| k)
        .map(|k| (strsim::levenshtein(key, k), k))
        .filter(|&(d, k)| d * 3 <= k.len().max(key.len()) || k.starts_with(key))
        .min_by_key(|&(d, k)| (d, k.len()))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Config mistakes a person makes, each a one-line error that says
    /// where and what to type; what the CLI accepts, the config accepts.
    #[test]
    fn config_errors_name_the_line_and_the_near_key() {
        let e = Params::from_toml("# mine\nmin_sox9 = 4\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("did you mean `min_sox9_nuclei`"),
            "{e}"
        );
        let e = Params::from_toml("splt_neck_ratio = 0.8")
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `split_neck_ratio`"), "{e}");
        let e = Params::from_toml("zzz = 1").unwrap_err().to_string();
        assert!(e.contains("`follicount config` lists every key"), "{e}");
        let e = Params::from_toml("\n\nmin_area_um2 = \n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && !e.contains('\n'), "{e}");
        let p = Params::from_toml("max_field_bytes = \"6G\"\nmax_pages = \"64K\"").unwrap();
        assert_eq!((p.max_field_bytes, p.max_pages), (6 << 30, 64 << 10));
        assert!(Params::from_toml("max_field_bytes = \"6Q\"").is_err());
        let p = Params::from_toml("background = \"top-hat\"").unwrap();
        assert_eq!(p.background, Background::TopHat);
    }

    #[test]
    fn defaults_are_valid() {
        Params::default().validate().unwrap();
    }

    #[test]
    fn toml_overrides_and_rejects_unknown_keys() {
        let p = Params::from_toml("min_sox9_nuclei = 5\nmax_area_um2 = 9000.0\n").unwrap();
        assert_eq!(p.min_sox9_nuclei, 5);
        assert_eq!(p.max_area_um2, 9000.0);
        assert_eq!(p.min_area_um2, Params::default().min_area_um2);
        let e = Params::from_toml("min_sox9 = 5\n").unwrap_err();
        assert!(e.to_string().contains("min_sox9"), "{e}");
    }

    #[test]
    fn printed_defaults_load_back_identical_and_document_every_key() {
        let text = Params::defaults_toml();
        assert_eq!(Params::from_toml(&text).unwrap(), Params::default());
        let fields = serde_json::to_value(Params::default()).unwrap();
        for key in fields.as_object().unwrap().keys() {
            assert!(
                PARAM_DOCS.iter().any(|(k, _)| k == key),
                "{key} undocumented"
            );
            assert!(
                text.contains(key.as_str()),
                "{key} missing from the template"
            );
        }
        assert_eq!(PARAM_DOCS.len(), fields.as_object().unwrap().len());
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = Params::from_toml("min_area_um2 = \"big\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("min_area_um2"), "{e}");
        let e = Params::from_toml("threshold_pcad = \"median\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("threshold_pcad"), "{e}");
        let e = Params::from_toml("channels = \"pcad,pcad\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("channels"), "{e}");
        let e = Params::from_toml("split_neck_ratio = 2.0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("split_neck_ratio"), "{e}");
    }

    #[test]
    fn window_must_not_be_empty() {
        let p = Params {
            min_area_um2: 500.0,
            max_area_um2: 100.0,
            ..Params::default()
        };
        assert_eq!(p.validate().unwrap_err().name, "max_area_um2");
    }

    #[test]
    fn auto_picks_3d_only_for_deep_stacks_with_a_z_step() {
        let p = Params::default();
        assert!(!p.choose_analysis(1, Some(2.0)).three_d);
        assert!(!p.choose_analysis(4, Some(20.0)).three_d);
        // The dev-sample's stacks: 6 × 3.4 µm and 9 × 2.8 µm, too shallow.
        assert!(!p.choose_analysis(6, Some(3.416)).three_d);
        assert!(!p.choose_analysis(9, Some(2.783)).three_d);
        let no_step = p.choose_analysis(40, None);
        assert!(!no_step.three_d && no_step.reason.contains("--z-step"));
        let deep = p.choose_analysis(40, Some(2.5));
        assert!(deep.three_d);
        assert_eq!(deep.reason, "40 slices × 2.500 µm");
        let forced = Params {
            mode: Mode::ThreeD,
            ..Params::default()
        };
        assert!(forced.choose_analysis(2, None).three_d);
        let flat = Params {
            mode: Mode::TwoD,
            ..Params::default()
        };
        assert!(!flat.choose_analysis(40, Some(2.5)).three_d);
        assert_eq!("3D".parse::<Mode>(), Ok(Mode::ThreeD));
        assert!("4d".parse::<Mode>().is_err());
    }
}

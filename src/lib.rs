//! follicount: counts regenerated hair follicles in multichannel confocal
//! images of mouse skin (P-cadherin, Sox9, DAPI).
//!
//! # Where each stage lives
//!
//! The recipe for one field is `recipe` in `src/pipeline/mod.rs` (behind
//! [`pipeline::analyze`], [`pipeline::analyze_with_labels`] and
//! [`pipeline::analyze_with_masks`]), one line per stage, in this order:
//!
//! ```text
//! TIFF
//!  │  io/            load, channel roles, z max-projection
//!  │                 (tiff_source.rs, layout.rs, zmax.rs, channels.rs)
//!  ▼
//! pipeline/channels.rs    smooth → flat field → background → threshold → mask
//!  │                 (segment/smooth.rs, gaussian.rs, flat_field.rs,
//!  │                  background.rs, top_hat.rs, threshold.rs, local.rs)
//!  ▼
//! pipeline/candidates.rs  open → fill holes → split touching follicles → measure
//!  │                 → contrast against the surroundings
//!  │                 (segment/morph.rs, label.rs, distance.rs, watershed/;
//!  │                  measure.rs)
//!  ▼
//! pipeline/nuclei.rs      DAPI ∧ Sox9 nuclei, split → the candidate holding each
//!  ▼
//! pipeline/rule.rs        the follicle rule (follicle.rs): counted or rejected
//!  ▼
//! report/                 fields.csv, follicles.csv, run.json, report.html,
//!                         overlays, masks
//! ```
//!
//! - Where is the threshold chosen? The methods (Otsu, Li, Triangle,
//!   noise, fixed) in `segment/threshold.rs`, P-cadherin's local one in
//!   `segment/local.rs`; applied per channel in `pipeline/channels.rs`.
//! - Where are touching follicles split? `segment/watershed/` (markers,
//!   flooding, the neck, brightness, notch and pinch tests, cuts between
//!   notch pairs), called from `pipeline/candidates.rs`.
//! - Where is a nucleus called Sox9+? `pipeline/nuclei.rs`: the part of a
//!   DAPI object where corrected Sox9 reaches the Sox9 threshold.
//! - What is a follicle? `follicle.rs`, the rule alone.
//! - Deep z-stacks: [`pipeline::analyze_stack`] (`pipeline/stack.rs`) is the
//!   same recipe with every stage a 3D operation on a [`volume::Volume`]
//!   (kernels in `segment/volume/`, measurements in `measure/stack.rs`),
//!   for stacks loaded whole by [`io::TiffSource::load_stack`]; which
//!   analysis a field gets is [`params::Params::choose_analysis`].
//!
//! Around the recipe: [`batch`] runs many files in parallel (inputs found
//! by [`batch::inputs`]), [`run`] holds the records of a run, [`report`]
//! writes them, [`check`] compares counts with expected ones, [`score`]
//! with annotations, [`params`] holds every parameter with its unit. Each
//! worker reuses its plane buffers from one field to the next through
//! [`pool`]. The scene simulator (`synth`) and the fuzz entry (`fuzzing`)
//! are compiled only with the `dev` feature (see CONTRIBUTING.md).
//!
//! ```no_run
//! use follicount::{io::{LoadOptions, TiffSource}, params::Params, pipeline::analyze};
//! let mut src = TiffSource::open("field.tif".as_ref())?;
//! let field = src.load_field(0, &LoadOptions::default())?;
//! let result = analyze(&field, &Params::default());
//! println!("{} follicles", result.follicles.len());
//! # Ok::<(), follicount::error::LoadError>(())
//! ```

#![warn(missing_docs)]

pub mod batch;
pub(crate) mod cache;
pub mod check;
pub mod error;
pub mod follicle;
#[cfg(feature = "dev")]
pub mod fuzzing;
pub mod io;
pub mod measure;
pub mod params;
pub mod pipeline;
pub mod pool;
pub mod report;
pub mod run;
pub mod score;
pub mod segment;
#[cfg(any(test, feature = "dev"))]
pub mod synth;
pub mod table;
pub mod volume;

/// A single-channel float image (one plane of a field).
pub type FloatImage = image::ImageBuffer<image::Luma<f32>, Vec<f32>>;
/// A 16-bit integer plane: how 8- and 16-bit channels are kept once
/// decoded (every value exact, half the memory of floats).
pub type U16Image = image::ImageBuffer<image::Luma<u16>, Vec<u16>>;
/// A label image: 0 is background, objects are 1..=n.
pub type Labels = image::ImageBuffer<image::Luma<u32>, Vec<u32>>;

/// One connected component's crop: its bounding box grown by one pixel on
/// every side (clipped to the image), in image coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crop {
    /// Left column.
    pub x0: usize,
    /// Top row.
    pub y0: usize,
    /// Width.
    pub w: usize,
    /// Height.
    pub h: usize,
}

/// A sample type the kernels read, converting to f32 exactly: raw 16-bit
/// planes and float planes go through the same code.
pub trait Sample: Copy + Send + Sync + 'static {
    /// Whether every value is an integer (below 2¹⁶), so that sums of
    /// them are exact in any order.
    const INTEGER: bool;
    /// The value as f32 (exact for both types).
    fn to_f32(self) -> f32;
    /// The value as an integer (meaningful when [`Sample::INTEGER`]).
    fn to_u32(self) -> u32;
}

impl Sample for u16 {
    const INTEGER: bool = true;
    #[inline]
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    #[inline]
    fn to_u32(self) -> u32 {
        u32::from(self)
    }
}

impl Sample for f32 {
    const INTEGER: bool = false;
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline]
    fn to_u32(self) -> u32 {
        self as u32
    }
}

/// The tool's version, as written to run.json.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

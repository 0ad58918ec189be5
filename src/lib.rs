//! follicount: counts regenerated hair follicles in multichannel confocal
//! images of mouse skin (P-cadherin, Sox9, DAPI).
//!
//! The pipeline runs one way: [`io`] loads and max-projects a field,
//! [`segment`] thresholds and labels it, [`measure`] measures the objects,
//! [`follicle`] applies the counting rule, [`report`] writes the tables;
//! [`pipeline`] strings the single-field steps together and [`batch`] runs
//! many files in parallel, each worker reusing its plane buffers from one
//! field to the next through [`pool`]. [`synth`] draws synthetic fields with known
//! answers, for fixtures, tests and benchmarks.
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

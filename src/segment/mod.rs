//! Segmentation kernels: smoothing, background correction, automatic
//! thresholds, binary morphology, connected components, the watershed
//! split of touching objects, the tissue's extent and the windows of a
//! plane analysed in blocks.

pub mod background;
pub mod distance;
pub mod dyadic_histogram;
pub mod flat_field;
pub mod gaussian;
pub mod hot_pixels;
pub mod label;
pub mod local;
pub mod morph;
pub(crate) mod search;
pub mod smooth;
pub mod threshold;
pub mod threshold_map;
pub mod tissue;
pub mod top_hat;
pub mod volume;
pub mod watershed;
pub mod window;

//! A plane read a window at a time: what an analysis in blocks reads
//! from, so that a plane too large to hold is never held whole.

use super::Field;
use crate::error::LoadError;

/// A plane (its three channels) that can be read a window at a time,
/// from any thread.
pub trait WindowSource: Sync {
    /// The plane's width and height, px.
    fn size(&self) -> (usize, usize);

    /// µm per pixel.
    fn pixel_size_um(&self) -> f64;

    /// The `w` × `h` window whose top-left pixel is (`x0`, `y0`), as a
    /// field of its own (clipped to the plane).
    fn window(&self, x0: usize, y0: usize, w: usize, h: usize) -> Result<Field, LoadError>;
}

/// A field in memory, read by copying windows of it.
impl WindowSource for Field {
    fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn pixel_size_um(&self) -> f64 {
        self.pixel_size_um
    }

    fn window(&self, x0: usize, y0: usize, w: usize, h: usize) -> Result<Field, LoadError> {
        Ok(self.crop(x0, y0, w, h))
    }
}

//! The part of a plane one block of an analysis in blocks sees, and the
//! pixels it speaks for (its core): the cores of a plane's blocks tile
//! it, each pixel in one core, so whatever is counted per pixel or per
//! object (by its centroid) is counted once.

/// Where a block's pixels lie in their plane, and its core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The whole plane's width and height, px.
    pub plane: (usize, usize),
    /// The block's top-left pixel, in plane pixels.
    pub origin: (usize, usize),
    /// The block's width and height, px.
    pub size: (usize, usize),
    /// The pixels it speaks for, in plane pixels: columns `core.0 ..
    /// core.1`, rows `core.2 .. core.3` (inside the block).
    pub core: (usize, usize, usize, usize),
}

impl Window {
    /// The whole of a `w` × `h` plane, as one block.
    pub fn whole(w: usize, h: usize) -> Window {
        Window {
            plane: (w, h),
            origin: (0, 0),
            size: (w, h),
            core: (0, w, 0, h),
        }
    }

    /// The blocks of a `w` × `h` plane, in raster order: cores of
    /// `core` × `core` px tiling it (the last row and column cut short by
    /// the plane's edge), each grown by `overlap` px on every side
    /// (clipped to the plane).
    pub fn tiling(w: usize, h: usize, core: usize, overlap: usize) -> Vec<Window> {
        let core = core.max(1);
        let spans = |n: usize| {
            let count = n.div_ceil(core).max(1);
            (0..count).map(move |i| (i * core, if i + 1 == count { n } else { (i + 1) * core }))
        };
        let mut out = Vec::new();
        for (y0, y1) in spans(h) {
            for (x0, x1) in spans(w) {
                let (ox, oy) = (x0.saturating_sub(overlap), y0.saturating_sub(overlap));
                let (ex, ey) = ((x1 + overlap).min(w), (y1 + overlap).min(h));
                out.push(Window {
                    plane: (w, h),
                    origin: (ox, oy),
                    size: (ex - ox, ey - oy),
                    core: (x0, x1, y0, y1),
                });
            }
        }
        out
    }

    /// Whether the block speaks for the point (`x`, `y`), in the block's
    /// own pixels (a centroid: the pixel it falls in).
    pub fn owns(&self, x: f64, y: f64) -> bool {
        let (gx, gy) = (x + self.origin.0 as f64, y + self.origin.1 as f64);
        let (x0, x1, y0, y1) = self.core;
        (x0 as f64..x1 as f64).contains(&gx.floor()) && (y0 as f64..y1 as f64).contains(&gy.floor())
    }
}

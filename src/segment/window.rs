//! The part of a plane one block of an analysis in blocks sees, and the
//! pixels it speaks for (its core): the cores of a plane's blocks tile
//! it, each pixel in one core, so whatever is counted per pixel or per
//! object (by its centroid) is counted once. A part's sums over a
//! coarse grid of the plane hold only the grid's cells it touches
//! ([`GridRect`]).

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

/// A rectangle of a grid's cells (the coarse blocks a plane is summed
/// in): columns `x0..x0 + w`, rows `y0..y0 + h`, held row by row — all
/// of the grid, or the cells one part of the plane touches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GridRect {
    /// The first column.
    pub x0: usize,
    /// The first row.
    pub y0: usize,
    /// Columns.
    pub w: usize,
    /// Rows.
    pub h: usize,
}

impl GridRect {
    /// The whole of a `w` × `h` grid.
    pub fn all(w: usize, h: usize) -> GridRect {
        GridRect { x0: 0, y0: 0, w, h }
    }

    /// How many cells.
    pub fn len(&self) -> usize {
        self.w * self.h
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it is the whole of a `w` × `h` grid.
    pub fn is_all(&self, w: usize, h: usize) -> bool {
        *self == GridRect::all(w, h)
    }

    /// The index of cell (`x`, `y`), the first of a run of `n` along its
    /// row, if the whole run is held.
    pub fn run(&self, x: usize, y: usize, n: usize) -> Option<usize> {
        let (dx, dy) = (x.checked_sub(self.x0)?, y.checked_sub(self.y0)?);
        (dy < self.h && dx + n <= self.w).then_some(dy * self.w + dx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs of cells held or not, by hand: cells 2..5 × 1..3 of a grid.
    #[test]
    fn runs_of_a_grid_rect() {
        let r = GridRect {
            x0: 2,
            y0: 1,
            w: 3,
            h: 2,
        };
        assert_eq!(r.len(), 6);
        assert_eq!(r.run(2, 1, 3), Some(0));
        assert_eq!(r.run(3, 2, 2), Some(4));
        assert_eq!(r.run(4, 2, 1), Some(5));
        assert_eq!(r.run(3, 2, 3), None, "past the last column");
        assert_eq!(r.run(1, 1, 1), None, "before the first column");
        assert_eq!(r.run(2, 0, 1), None, "above");
        assert_eq!(r.run(2, 3, 1), None, "below");
        assert!(GridRect::all(4, 5).is_all(4, 5) && !r.is_all(4, 5));
        assert!(GridRect::default().is_empty());
    }
}

//! Local thresholds for a stitched plane. A mosaic's tiles come from
//! different acquisitions: even after the flat field their stain and
//! noise differ, and one histogram threshold, set by the tiles that
//! dominate the plane, cuts the others at the wrong level. The plane is
//! cut into square cells; each cell gets its own threshold by the
//! channel's histogram method, from its own pixels (binned in a
//! [`DyadicHistogram`], which needs no range beforehand), kept within
//! [`CLAMP`]× of the plane's threshold (a cell
//! of bare dermis has no follicle to find a level for); a cell with
//! nothing to threshold (flat data: a mosaic's padding) takes the
//! plane's. Between cell centres the threshold is interpolated
//! bilinearly, as CLAHE interpolates its tiles' mappings (Pizer et al.
//! 1987, Comput. Vis. Graph. Image Process. 39:355; Zuiderveld 1994,
//! Graphics Gems IV), so it has no seam at a cell border.
//!
//! The channel is then **normalised** to it: each pixel multiplied by
//! the plane's threshold ÷ the local one ([`ThresholdMap::normalise`]),
//! so that the plane's one threshold cuts every cell at its own level
//! and every later stage (masks, splitting by brightness, contrast)
//! sees one scale.
//!
//! Cells are laid from the plane's top-left pixel, so a block of the
//! plane reads the whole plane's map at its own pixels; a cell's
//! histogram holds integer counts, so summed whole or by parts it is the
//! same, and the plane's histogram is the sum of its cells'.

use std::sync::Arc;

use super::dyadic_histogram::DyadicHistogram;
use super::threshold::Method;
use crate::FloatImage;

/// How far a cell's threshold may stray from the plane's: within
/// [t / CLAMP, t × CLAMP].
pub const CLAMP: f32 = 4.0;

/// The square cells of a plane, `cell_px` a side, from its top-left
/// pixel (those at the right and bottom edges may be cut short).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cells {
    /// The side of a cell, px.
    pub cell_px: usize,
    /// Cells across.
    pub cols: usize,
    /// Cells down.
    pub rows: usize,
}

impl Cells {
    /// The cells of a `w` × `h` plane, `cell_px` (at least 1) a side.
    pub fn of(w: usize, h: usize, cell_px: usize) -> Cells {
        let cell_px = cell_px.max(1);
        Cells {
            cell_px,
            cols: w.div_ceil(cell_px).max(1),
            rows: h.div_ceil(cell_px).max(1),
        }
    }

    /// How many cells.
    pub fn len(&self) -> usize {
        self.cols * self.rows
    }

    /// Whether there are none (never: a plane has at least one cell).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where pixel `p` (a column or a row) falls between cell centres:
    /// the cells before and after it and the weight of the one after.
    fn between(&self, p: usize, cells: usize) -> (usize, usize, f32) {
        let f = ((p as f64 + 0.5) / self.cell_px as f64 - 0.5).clamp(0.0, (cells - 1) as f64);
        let i = f.floor() as usize;
        (i, (i + 1).min(cells - 1), (f - i as f64) as f32)
    }
}

/// The histograms of a channel's cells: filled from the whole plane or a
/// part at a time (each part adding the cells its pixels fall in).
#[derive(Clone, Debug)]
pub struct CellHistograms {
    cells: Cells,
    /// One per cell (empty until a pixel falls in it).
    hists: Vec<DyadicHistogram>,
}

impl CellHistograms {
    /// None counted yet.
    pub fn new(cells: Cells) -> CellHistograms {
        CellHistograms {
            cells,
            hists: vec![DyadicHistogram::new(); cells.len()],
        }
    }

    /// Counts `rows`, the plane's rows from `y0` on, each from column
    /// `x0` on (a block's core, or the whole plane): each cell's pixels in
    /// one go.
    pub fn add_rows(&mut self, y0: usize, x0: usize, rows: &[&[f32]]) {
        let c = self.cells.cell_px;
        let x1 = x0 + rows.first().map_or(0, |r| r.len());
        let mut y = y0;
        while y < y0 + rows.len() {
            let band = (c - y % c).min(y0 + rows.len() - y);
            let cy = (y / c).min(self.cells.rows - 1);
            let mut x = x0;
            while x < x1 {
                let span = (c - x % c).min(x1 - x);
                let cx = (x / c).min(self.cells.cols - 1);
                let parts: Vec<&[f32]> = rows[y - y0..y - y0 + band]
                    .iter()
                    .filter_map(|r| r.get(x - x0..x - x0 + span))
                    .collect();
                self.hists[cy * self.cells.cols + cx].add_rows(&parts);
                x += span;
            }
            y += band;
        }
    }

    /// Adds another part's counts (the same cells).
    pub fn merge(&mut self, other: CellHistograms) {
        for (a, b) in self.hists.iter_mut().zip(other.hists) {
            a.merge(&b);
        }
    }

    /// The counts of every cell together: the histogram of all the
    /// pixels counted (the same integers as counting them at once).
    pub fn total(&self) -> DyadicHistogram {
        let mut all = DyadicHistogram::new();
        for h in &self.hists {
            all.merge(h);
        }
        all
    }

    /// Each cell's own threshold by the histogram `method`, as is
    /// (`None` for a cell with no pixel counted or no threshold).
    pub fn cell_thresholds(&self, method: Method) -> Vec<Option<f32>> {
        self.hists.iter().map(|h| h.threshold(method)).collect()
    }

    /// The map of each cell's threshold by `method` around the plane's
    /// `plane` ([`ThresholdMap::new`]).
    pub fn thresholds(&self, method: Method, plane: f32) -> Option<ThresholdMap> {
        ThresholdMap::new(self.cells, &self.cell_thresholds(method), method, plane)
    }
}

/// A channel's local thresholds: one per cell, interpolated between cell
/// centres (see the module's notes).
#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdMap {
    cells: Cells,
    values: Arc<[f32]>,
    /// The plane's threshold.
    plane: f32,
}

impl ThresholdMap {
    /// The map of the cells' own thresholds (`own`, by `method`; from
    /// [`CellHistograms::cell_thresholds`], whole or gathered by parts)
    /// around the plane's threshold `plane`: each within [`CLAMP`]× of
    /// it, `plane` where a cell has none. `None` for a method that reads
    /// no histogram (fixed, noise) or no plane threshold: no local
    /// thresholds.
    pub fn new(
        cells: Cells,
        own: &[Option<f32>],
        method: Method,
        plane: f32,
    ) -> Option<ThresholdMap> {
        if matches!(method, Method::Fixed(_) | Method::Noise(_))
            || !plane.is_finite()
            || plane <= 0.0
            || own.len() != cells.len()
        {
            return None;
        }
        let values = own
            .iter()
            .map(|t| match t {
                Some(t) if t.is_finite() => t.clamp(plane / CLAMP, plane * CLAMP),
                _ => plane,
            })
            .collect();
        Some(ThresholdMap {
            cells,
            values,
            plane,
        })
    }

    /// The plane's threshold (what the map normalises to).
    pub fn plane(&self) -> f32 {
        self.plane
    }

    /// The threshold at plane pixel (`x`, `y`).
    pub fn at(&self, x: usize, y: usize) -> f32 {
        let c = &self.cells;
        let (y0, y1, ty) = c.between(y, c.rows);
        let (x0, x1, tx) = c.between(x, c.cols);
        let v = |y: usize, x: usize| self.values[y * c.cols + x];
        let top = v(y0, x0) * (1.0 - tx) + v(y0, x1) * tx;
        let bottom = v(y1, x0) * (1.0 - tx) + v(y1, x1) * tx;
        top * (1.0 - ty) + bottom * ty
    }

    /// Multiplies each pixel of `img` (a block whose top-left pixel is
    /// plane pixel `origin`) by the plane's threshold ÷ the local one
    /// there. The same arithmetic as [`at`](Self::at) a pixel at a time,
    /// with each row's blend along y made once.
    pub fn normalise(&self, img: &mut FloatImage, origin: (usize, usize)) {
        let w = img.width() as usize;
        if w == 0 {
            return;
        }
        let c = &self.cells;
        let xs: Vec<(usize, usize, f32)> =
            (0..w).map(|x| c.between(origin.0 + x, c.cols)).collect();
        let tx: Vec<f32> = xs.iter().map(|&(_, _, t)| t).collect();
        // The row's runs between the same two cell centres (start,
        // end, the cells): within one, a straight loop (vectorised).
        let mut runs: Vec<(usize, usize, usize, usize)> = Vec::new();
        for (x, &(x0, x1, _)) in xs.iter().enumerate() {
            match runs.last_mut() {
                Some(r) if (r.2, r.3) == (x0, x1) => r.1 = x + 1,
                _ => runs.push((x, x + 1, x0, x1)),
            }
        }
        let mut column = vec![0f32; c.cols];
        for (y, row) in img.chunks_exact_mut(w).enumerate() {
            let (y0, y1, ty) = c.between(origin.1 + y, c.rows);
            for (cx, v) in column.iter_mut().enumerate() {
                *v =
                    self.values[y0 * c.cols + cx] * (1.0 - ty) + self.values[y1 * c.cols + cx] * ty;
            }
            for &(start, end, x0, x1) in &runs {
                let (a, b) = (column[x0], column[x1]);
                for (p, &tx) in row[start..end].iter_mut().zip(&tx[start..end]) {
                    let t = a * (1.0 - tx) + b * tx;
                    *p *= self.plane / t;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// Rows added whole and by ragged parts give the same histograms,
    /// hence the same thresholds.
    #[test]
    fn cells_counted_by_parts_equal_cells_counted_whole() {
        let mut rng = crate::synth::Rng::new(3);
        let (w, h) = (97usize, 61usize);
        let img: Vec<f32> = (0..w * h).map(|_| (rng.unit() * 100.0) as f32).collect();
        let cells = Cells::of(w, h, 20);
        let rows: Vec<&[f32]> = img.chunks(w).collect();
        let mut whole = CellHistograms::new(cells);
        whole.add_rows(0, 0, &rows);
        let mut merged = CellHistograms::new(cells);
        for (x0, x1) in [(0, 13), (13, 60), (60, 97)] {
            for (y0, y1) in [(0, 7), (7, 41), (41, 61)] {
                let mut part = CellHistograms::new(cells);
                let crop: Vec<&[f32]> = rows[y0..y1].iter().map(|r| &r[x0..x1]).collect();
                part.add_rows(y0, x0, &crop);
                merged.merge(part);
            }
        }
        let a = whole.thresholds(Method::Otsu, 50.0).unwrap();
        let b = merged.thresholds(Method::Otsu, 50.0).unwrap();
        assert_eq!(a, b);
        // All cells together are the plane's histogram.
        let mut plane = DyadicHistogram::new();
        plane.add_rows(&[&img]);
        assert_eq!(whole.total(), plane);
        assert_eq!(merged.total(), plane);
    }

    /// Two halves at a fifth of each other's brightness: each cell's
    /// threshold follows its half; once normalised, one threshold cuts
    /// both halves' spots and neither half's background.
    #[test]
    fn a_dim_half_is_cut_at_its_own_level() {
        let (w, h) = (200u32, 100u32);
        let img = FloatImage::from_fn(w, h, |x, y| {
            let gain = if x < 100 { 1.0 } else { 0.2 };
            let spot = x % 20 < 6 && y % 20 < 6;
            let v = if spot {
                100.0 + ((x + y) % 20) as f32
            } else {
                5.0 + ((7 * x + 3 * y) % 10) as f32
            };
            Luma([gain * v])
        });
        let cells = Cells::of(200, 100, 50);
        let mut hists = CellHistograms::new(cells);
        let rows: Vec<&[f32]> = img.as_raw().chunks(200).collect();
        hists.add_rows(0, 0, &rows);
        let t = hists.total().threshold(Method::Otsu).unwrap();
        let map = hists.thresholds(Method::Otsu, t).unwrap();
        assert!(
            map.at(25, 25) > 1.5 * map.at(175, 25),
            "{} {}",
            map.at(25, 25),
            map.at(175, 25)
        );
        let mut norm = img.clone();
        map.normalise(&mut norm, (0, 0));
        // Away from the halves' border (a cell's width).
        for (x, y) in [(2u32, 2u32), (12, 12), (162, 2), (172, 12)] {
            let spot = x % 20 < 6 && y % 20 < 6;
            let v = norm.get_pixel(x, y)[0];
            assert_eq!(v >= t, spot, "({x}, {y}): {v} against {t}");
        }
        // Plain, the dim half's spots fall under the plane's threshold.
        assert!(img.get_pixel(162, 2)[0] < t);
    }

    /// Normalising a block equals normalising the plane and cropping,
    /// and equals `at` pixel by pixel; the interpolation is continuous
    /// across a cell border.
    #[test]
    fn normalise_equals_at_and_crops() {
        let cells = Cells::of(90, 70, 16);
        let values: Vec<f32> = (0..cells.len()).map(|i| 5.0 + (i % 7) as f32).collect();
        let map = ThresholdMap {
            cells,
            values: values.into(),
            plane: 8.0,
        };
        let mut whole = FloatImage::from_pixel(90, 70, Luma([1.0]));
        map.normalise(&mut whole, (0, 0));
        for y in 0..70 {
            for x in 0..90 {
                let want = 8.0 / map.at(x, y);
                assert!((whole.get_pixel(x as u32, y as u32)[0] - want).abs() < 1e-6);
            }
        }
        let mut block = FloatImage::from_pixel(30, 25, Luma([1.0]));
        map.normalise(&mut block, (41, 33));
        for y in 0..25u32 {
            for x in 0..30u32 {
                assert_eq!(block.get_pixel(x, y), whole.get_pixel(41 + x, 33 + y));
            }
        }
        for y in 0..70 {
            for x in 1..90 {
                assert!(
                    (map.at(x, y) - map.at(x - 1, y)).abs() < 1.0,
                    "jump at ({x}, {y})"
                );
            }
        }
    }

    /// A fixed threshold has no local version; a cell of flat data
    /// (padding) takes the plane's; a wild cell is clamped.
    #[test]
    fn fixed_flat_and_wild_cells() {
        let cells = Cells::of(40, 20, 20);
        let mut hists = CellHistograms::new(cells);
        let img: Vec<Vec<f32>> = (0..20)
            .map(|y| {
                (0..40)
                    .map(|x| match x {
                        0..20 => 0.0,
                        _ if (x + y) % 2 == 0 => 1000.0,
                        _ => 900.0,
                    })
                    .collect()
            })
            .collect();
        let rows: Vec<&[f32]> = img.iter().map(Vec::as_slice).collect();
        hists.add_rows(0, 0, &rows);
        assert!(hists.thresholds(Method::Fixed(5.0), 5.0).is_none());
        let map = hists.thresholds(Method::Otsu, 10.0).unwrap();
        assert_eq!(map.values[0], 10.0);
        assert_eq!(map.values[1], 10.0 * CLAMP);
    }
}

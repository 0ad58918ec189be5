//! Where the follicles are over a large field (a stitched mosaic of a
//! wound bed or a piece of back skin): follicles per mm² in square bins,
//! drawn as a picture with a colour bar.

use image::{Rgb, RgbImage};

use super::overlay::draw_text;
use crate::pipeline::FieldAnalysis;

/// Side of a density bin, µm.
pub const BIN_UM: f64 = 250.0;

/// Follicles per mm² in square bins over a field, row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct DensityGrid {
    /// Bins across.
    pub nx: usize,
    /// Bins down.
    pub ny: usize,
    /// Side of a bin, µm (the last column and row take the rest of the
    /// field: one to two bins).
    pub bin_um: f64,
    /// The field's width and height, µm.
    pub size_um: (f64, f64),
    /// Follicles per mm² of each bin's area inside the field.
    pub per_mm2: Vec<f64>,
}

/// The density of `analysis`'s follicles (by centroid) in bins of
/// `bin_um` µm over a `width` × `height` field of `um_per_px` µm pixels;
/// `None` for a field less than two bins wide or high (one number, the
/// field's density, says it all).
pub fn density_grid(
    analysis: &FieldAnalysis,
    width: usize,
    height: usize,
    um_per_px: f64,
    bin_um: f64,
) -> Option<DensityGrid> {
    let (w_um, h_um) = (width as f64 * um_per_px, height as f64 * um_per_px);
    let enough = bin_um > 0.0 && w_um >= 2.0 * bin_um && h_um >= 2.0 * bin_um;
    if !enough {
        return None;
    }
    // The last column and row take the remainder (one to two bins wide):
    // a sliver of a bin would hold one follicle in a tiny area.
    let (nx, ny) = (
        (w_um / bin_um).floor() as usize,
        (h_um / bin_um).floor() as usize,
    );
    let mut counts = vec![0u32; nx * ny];
    for f in &analysis.follicles {
        let bx = ((f.x * um_per_px / bin_um) as usize).min(nx - 1);
        let by = ((f.y * um_per_px / bin_um) as usize).min(ny - 1);
        counts[by * nx + bx] += 1;
    }
    let side = |i: usize, n: usize, total_um: f64| {
        if i + 1 == n {
            total_um - i as f64 * bin_um
        } else {
            bin_um
        }
    };
    let per_mm2 = counts
        .iter()
        .enumerate()
        .map(|(b, &c)| {
            let area_mm2 = side(b % nx, nx, w_um) * side(b / nx, ny, h_um) / 1e6;
            f64::from(c) / area_mm2
        })
        .collect();
    Some(DensityGrid {
        nx,
        ny,
        bin_um,
        size_um: (w_um, h_um),
        per_mm2,
    })
}

/// A perceptually ordered colour for `t` in 0..=1 (five stops of
/// matplotlib's viridis, linearly blended: van der Walt & Smith 2015).
pub fn viridis(t: f64) -> Rgb<u8> {
    const STOPS: [[f64; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let f = t * (STOPS.len() - 1) as f64;
    let i = (f.floor() as usize).min(STOPS.len() - 2);
    let u = f - i as f64;
    let c = |k: usize| (STOPS[i][k] * (1.0 - u) + STOPS[i + 1][k] * u).round() as u8;
    Rgb([c(0), c(1), c(2)])
}

/// The grid as a picture: each bin a square coloured by its density
/// ([`viridis`], from 0 to the densest bin; the last column and row as
/// wide as they are), a colour bar on the right with its range, and the
/// bin size under the map.
pub fn render_density(grid: &DensityGrid) -> RgbImage {
    let cell = (960 / grid.nx.max(grid.ny)).clamp(4, 40) as u32;
    let px = |um: f64| ((um / grid.bin_um * f64::from(cell)).round() as u32).max(1);
    let (mw, mh) = (px(grid.size_um.0), px(grid.size_um.1));
    let (bar_x, bar_w, right) = (mw + 16, 18, 120);
    let (top, bottom) = (14, 26);
    let (w, h) = (mw + right, mh + top + bottom);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let max = grid.per_mm2.iter().cloned().fold(0.0, f64::max);
    let scale = |d: f64| if max > 0.0 { d / max } else { 0.0 };
    for (b, &d) in grid.per_mm2.iter().enumerate() {
        let colour = viridis(scale(d));
        let (bx, by) = (b % grid.nx, b / grid.nx);
        let span = |i: usize, n: usize, end: u32| {
            let start = i as u32 * cell;
            start..if i + 1 == n { end } else { start + cell }
        };
        for y in span(by, grid.ny, mh) {
            for x in span(bx, grid.nx, mw) {
                img.put_pixel(x, y + top, colour);
            }
        }
    }
    for y in 0..mh {
        let colour = viridis(1.0 - f64::from(y) / f64::from(mh.max(2) - 1));
        for x in bar_x..bar_x + bar_w {
            img.put_pixel(x, y + top, colour);
        }
    }
    let text_x = f64::from(bar_x + bar_w + 6);
    let label = |img: &mut RgbImage, text: &str, y: f64| {
        let half = text.chars().count() as f64 * 4.0;
        draw_text(img, text, text_x + half, y, 1, Rgb([20, 20, 20]));
    };
    label(&mut img, &format!("{max:.0}"), f64::from(top) + 4.0);
    label(&mut img, "0", f64::from(top + mh) - 4.0);
    label(&mut img, "per mm2", f64::from(top) + f64::from(mh) / 2.0);
    let caption = format!("follicles per mm2, bins of {:.0} um", grid.bin_um);
    let half = caption.chars().count() as f64 * 4.0;
    draw_text(
        &mut img,
        &caption,
        half + 4.0,
        f64::from(top + mh) + 14.0,
        1,
        Rgb([20, 20, 20]),
    );
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::follicle::Verdict;
    use crate::pipeline::Object;

    fn at(x: f64, y: f64) -> Object {
        Object {
            id: 1,
            label: 1,
            x,
            y,
            z_um: None,
            area_px: 1,
            area_um2: 1.0,
            volume_um3: None,
            mean_pcad: 0.0,
            mean_sox9: 0.0,
            mean_dapi: 0.0,
            sox9_nuclei: 3,
            contrast: None,
            verdict: Verdict::Follicle,
        }
    }

    fn analysis(follicles: Vec<Object>) -> FieldAnalysis {
        FieldAnalysis {
            follicles,
            rejected: Vec::new(),
            thresholds: [0.0; 3],
            sox9_nuclei: 0,
            follicles_per_mm2: 0.0,
            tissue_area_mm2: 0.0,
        }
    }

    #[test]
    fn bins_count_by_centroid_over_their_area_inside_the_field() {
        // 600 × 600 µm at 2 µm/px: bins of 250 and 350 µm (the last
        // takes the rest).
        let a = analysis(vec![at(5.0, 5.0), at(10.0, 10.0), at(290.0, 295.0)]);
        let g = density_grid(&a, 300, 300, 2.0, 250.0).unwrap();
        assert_eq!((g.nx, g.ny), (2, 2));
        let mut want = vec![0.0; 4];
        want[0] = 2.0 / 0.0625; // two in 0.0625 mm²
        want[3] = 1.0 / 0.1225; // one in the 350 × 350 µm corner
        assert_eq!(g.per_mm2, want);
        // Under two bins either way: no map.
        assert!(density_grid(&a, 300, 240, 2.0, 250.0).is_none());
        assert!(density_grid(&a, 300, 300, 2.0, 0.0).is_none());
    }

    #[test]
    fn the_picture_colours_each_bin_by_its_density() {
        let g = DensityGrid {
            nx: 2,
            ny: 2,
            bin_um: 250.0,
            size_um: (500.0, 625.0),
            per_mm2: vec![0.0, 10.0, 5.0, 0.0],
        };
        let img = render_density(&g);
        // 40 px a bin; the second row 1.5 bins (375 µm) high.
        assert_eq!(img.dimensions(), (80 + 120, 100 + 14 + 26));
        let c = 40; // clamp(960 / 2, 4, 40)
        let centre = |bx: u32, by: u32| *img.get_pixel(bx * c + c / 4, by * c + c / 4 + 14);
        assert_eq!(centre(0, 0), viridis(0.0));
        assert_eq!(centre(1, 0), viridis(1.0));
        assert_eq!(centre(0, 1), viridis(0.5));
        assert_eq!(viridis(0.0), Rgb([68, 1, 84]));
        assert_eq!(viridis(1.0), Rgb([253, 231, 37]));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        // The tall second row reaches the map's foot; under it, white.
        assert_eq!(*img.get_pixel(10, 14 + 99), viridis(0.5));
        assert_eq!(*img.get_pixel(10, 14 + 100), Rgb([255, 255, 255]));
    }
}

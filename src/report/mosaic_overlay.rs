//! The overlay of a plane analysed in blocks (a stitched mosaic): the
//! composite downscaled to at most 2048 px on the long side, made a
//! window at a time — each window's pixels averaged into the overlay
//! pixels they fall in, each channel's 0.5th and 99.5th percentiles read
//! off a histogram of every 16-bit sample — with each counted follicle
//! drawn as a circle of its area at its centroid and numbered where it is
//! large enough to read, each rejected candidate as a magenta circle.
//! (No label image of the whole mosaic exists to outline them from.)

use image::{Rgb, RgbImage};

use super::overlay::{draw_text, overlay_size, COUNTED};
use crate::io::{Field, Plane};
use crate::pipeline::FieldAnalysis;

/// Outline colour of rejected candidates (as in [`super::overlay`]).
const REJECTED: Rgb<u8> = Rgb([255, 0, 255]);

/// The downscaled composite, filled a window at a time.
pub struct MosaicOverlay {
    /// The plane's width and height, px.
    plane: (usize, usize),
    /// The overlay's width and height, px.
    size: (usize, usize),
    /// Per overlay pixel and channel: the sum of the samples in it.
    sums: Vec<[f64; 3]>,
    /// Per overlay pixel: how many plane pixels fell in it.
    counts: Vec<u32>,
    /// Per channel: how many samples of each 16-bit value (`None` once
    /// a float window was added: the percentiles are then the overlay
    /// pixels' own).
    hist: Option<Vec<[u64; 3]>>,
}

impl MosaicOverlay {
    /// For a `w` × `h` plane.
    pub fn new(w: usize, h: usize) -> MosaicOverlay {
        let (ow, oh) = overlay_size(w as u32, h as u32);
        let size = (ow as usize, oh as usize);
        MosaicOverlay {
            plane: (w, h),
            size,
            sums: vec![[0.0; 3]; size.0 * size.1],
            counts: vec![0; size.0 * size.1],
            hist: Some(vec![[0; 3]; 1 << 16]),
        }
    }

    /// Adds `window`, whose top-left pixel is (`x0`, `y0`) of the plane
    /// (windows that tile the plane, each pixel added once).
    pub fn add(&mut self, window: &Field, x0: usize, y0: usize) {
        let (w, h) = self.plane;
        let (ow, oh) = self.size;
        let (cw, ch) = (window.width, window.height);
        let cols: Vec<usize> = (x0..x0 + cw).map(|x| (x * ow / w).min(ow - 1)).collect();
        for (c, plane) in window.channels.iter().enumerate() {
            for y in 0..ch {
                let oy = ((y0 + y) * oh / h).min(oh - 1);
                let row = oy * ow;
                match plane {
                    Plane::U16(i) => {
                        let data = &i.as_raw()[y * cw..(y + 1) * cw];
                        for (&v, &ox) in data.iter().zip(&cols) {
                            self.sums[row + ox][c] += f64::from(v);
                            if let Some(hist) = self.hist.as_mut() {
                                hist[v as usize][c] += 1;
                            }
                        }
                    }
                    Plane::F32(i) => {
                        self.hist = None;
                        let data = &i.as_raw()[y * cw..(y + 1) * cw];
                        for (&v, &ox) in data.iter().zip(&cols) {
                            if v.is_finite() {
                                self.sums[row + ox][c] += f64::from(v);
                            }
                        }
                    }
                }
            }
        }
        for y in 0..ch {
            let oy = ((y0 + y) * oh / h).min(oh - 1);
            for &ox in &cols {
                self.counts[oy * ow + ox] += 1;
            }
        }
    }

    /// The picture: each channel stretched between its 0.5th and 99.5th
    /// percentiles, the analysis's objects drawn on it.
    pub fn render(&self, analysis: &FieldAnalysis) -> RgbImage {
        let (ow, oh) = self.size;
        let means: Vec<[f32; 3]> = self
            .sums
            .iter()
            .zip(&self.counts)
            .map(|(s, &n)| s.map(|v| (v / f64::from(n.max(1))) as f32))
            .collect();
        let spans: [(f32, f32); 3] = std::array::from_fn(|c| match &self.hist {
            Some(hist) => percentiles_of_histogram(hist, c),
            None => {
                let mut v: Vec<f32> = means.iter().map(|m| m[c]).collect();
                v.sort_by(f32::total_cmp);
                let n = v.len();
                (v[n / 200], v[(n * 199 / 200).min(n - 1)])
            }
        });
        let mut img = RgbImage::from_fn(ow as u32, oh as u32, |x, y| {
            let m = means[y as usize * ow + x as usize];
            Rgb(std::array::from_fn(|c| {
                let (lo, hi) = spans[c];
                let span = if hi > lo { hi - lo } else { 1.0 };
                (((m[c] - lo) / span).clamp(0.0, 1.0) * 250.0).round() as u8
            }))
        });
        let s = ow as f64 / self.plane.0 as f64;
        for o in &analysis.rejected {
            circle(&mut img, o.x * s, o.y * s, radius(o.area_px, s), REJECTED);
        }
        // Numbers where a follicle is large enough to hold one, then the
        // circles over them.
        for o in &analysis.follicles {
            if radius(o.area_px, s) >= 6.0 {
                draw_text(
                    &mut img,
                    &o.id.to_string(),
                    o.x * s,
                    o.y * s,
                    1,
                    Rgb([255, 255, 255]),
                );
            }
        }
        for o in &analysis.follicles {
            circle(&mut img, o.x * s, o.y * s, radius(o.area_px, s), COUNTED);
        }
        img
    }
}

/// The radius, overlay px, of a disc of `area_px` plane pixels at scale
/// `s` (at least 1.5 px, so every object shows).
fn radius(area_px: u64, s: f64) -> f64 {
    ((area_px as f64 / std::f64::consts::PI).sqrt() * s).max(1.5)
}

/// Channel `c`'s 0.5th and 99.5th percentiles from a histogram of its
/// 16-bit samples (the ranks of [`super::overlay`]'s stretch).
fn percentiles_of_histogram(hist: &[[u64; 3]], c: usize) -> (f32, f32) {
    let n: u64 = hist.iter().map(|h| h[c]).sum();
    let (lo_rank, hi_rank) = (n / 200, (n * 199 / 200).min(n.saturating_sub(1)));
    let nth = |rank: u64| {
        let mut seen = 0;
        for (v, h) in hist.iter().enumerate() {
            seen += h[c];
            if seen > rank {
                return v as f32;
            }
        }
        0.0
    };
    (nth(lo_rank), nth(hi_rank))
}

/// Draws a one-pixel circle of radius `r` centred on (`cx`, `cy`).
fn circle(img: &mut RgbImage, cx: f64, cy: f64, r: f64, colour: Rgb<u8>) {
    let steps = ((2.0 * std::f64::consts::PI * r).ceil() as usize).max(8) * 2;
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    for k in 0..steps {
        let t = k as f64 / steps as f64 * std::f64::consts::TAU;
        let (x, y) = (
            (cx + r * t.cos()).round() as i64,
            (cy + r * t.sin()).round() as i64,
        );
        if (0..w).contains(&x) && (0..h).contains(&y) {
            img.put_pixel(x as u32, y as u32, colour);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{render, Scene};
    use crate::U16Image;

    /// Filled window by window (any tiling), the picture is the same as
    /// filled with the whole field at once, and every counted follicle's
    /// circle is drawn.
    #[test]
    fn windows_give_the_whole_fields_picture() {
        let (w, h) = (2500usize, 900usize);
        let r = render(&Scene::new(w, h, 1.0, 8));
        let planes: [U16Image; 3] = std::array::from_fn(|c| {
            let v = crate::synth::quantize_u16(&r.slices[0][c], 4095);
            U16Image::from_raw(w as u32, h as u32, v).unwrap()
        });
        let field = Field::from_planes(planes, 1.0).unwrap();
        let analysis = crate::pipeline::analyze(&field, &crate::params::Params::default());
        assert!(analysis.follicles.len() > 3);
        let mut whole = MosaicOverlay::new(w, h);
        whole.add(&field, 0, 0);
        let mut parts = MosaicOverlay::new(w, h);
        for y0 in (0..h).step_by(333) {
            for x0 in (0..w).step_by(700) {
                parts.add(&field.crop(x0, y0, 700, 333), x0, y0);
            }
        }
        let (a, b) = (whole.render(&analysis), parts.render(&analysis));
        assert_eq!(a.dimensions(), (2048, 737));
        assert_eq!(a, b);
        let s = 2048.0 / w as f64;
        for f in &analysis.follicles {
            let r = radius(f.area_px, s);
            let (x, y) = ((f.x * s + r).round() as u32, (f.y * s).round() as u32);
            assert_eq!(
                *a.get_pixel(x.min(2047), y.min(736)),
                COUNTED,
                "follicle {}",
                f.id
            );
        }
    }
}

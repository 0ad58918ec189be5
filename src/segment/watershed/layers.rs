//! Bodies of distinct stain carved apart before the distance-transform
//! split: a dim follicle wrapped round or lying against a bright one
//! meets it through no neck the distance map can see, but a person sees
//! the step in brightness. The object's own two brightness classes
//! (Otsu 1979, over the object's pixels) are taken as layers: the bright
//! class, opened and with its holes filled (a membrane honeycomb's
//! interiors are its own), gives the bright bodies; what is left gives
//! the dim ones. The carve stands only where both kinds hold a
//! follicle-sized body (area, inscribed radius) and every bright body's
//! core is at least `step_ratio` × as bright as every dim one's — the
//! same brightness step that keeps a wide-necked split (`necks.rs`).
//! Pixels of neither (a dim rim round a bright body, slivers) join the
//! nearest body.

use std::collections::VecDeque;

use image::GrayImage;

use super::SplitParams;
use crate::segment::distance::{edt_into, EdtScratch};
use crate::segment::label::label;
use crate::segment::morph::{fill_holes, open};
use crate::segment::threshold::{Histogram, Method};

/// The layers of one object: [`carve`]'s result.
pub(super) struct Layers {
    /// Each pixel's body, `1..=count` in raster order of first pixel (0
    /// outside the object).
    pub lab: Vec<u32>,
    /// The number of bodies (1: not carved).
    pub count: u32,
}

/// Carves the one object drawn in `mask` (w × h, 0/255) into bodies of
/// distinct brightness in `intensity` (the crop's corrected stain); see
/// the module's doc. `p.min_area_px` and `p.min_radius_px` make a body
/// follicle-sized; `p.step_ratio` is the least brightness step.
pub(super) fn carve(mask: &[u8], intensity: &[f32], w: usize, h: usize, p: &SplitParams) -> Layers {
    let whole = || Layers {
        lab: mask.iter().map(|&m| u32::from(m != 0)).collect(),
        count: 1,
    };
    let area = mask.iter().filter(|&&m| m != 0).count();
    if !p.step_ratio.is_finite() || (area as f64) < 2.0 * p.min_area_px.max(1.0) {
        return whole();
    }
    let values: Vec<f32> = mask
        .iter()
        .zip(intensity)
        .filter(|&(&m, _)| m != 0)
        .map(|(_, &v)| v)
        .collect();
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !(hi > lo) {
        return whole();
    }
    let mut histogram = Histogram::new((lo, hi));
    histogram.add(&values);
    let Some(t) = histogram.threshold(Method::Otsu) else {
        return whole();
    };
    let bright: Vec<u8> = mask
        .iter()
        .zip(intensity)
        .map(|(&m, &v)| if m != 0 && v >= t { 255 } else { 0 })
        .collect();
    let Some(bright) = GrayImage::from_raw(w as u32, h as u32, bright) else {
        return whole();
    };
    let bright = open(&fill_holes(&bright), 0.25 * p.min_radius_px);
    let mut scratch = Scratch::default();
    let mut bodies_b = scratch.bodies(bright.as_raw(), w, h, p);
    bodies_b.retain(|b| solidity(&b.pixels, w) >= SOLID);
    if bodies_b.is_empty() {
        return whole();
    }
    let mut kept_b = vec![0u8; w * h];
    for b in &bodies_b {
        for &i in &b.pixels {
            kept_b[i] = 255;
        }
    }
    let dim: Vec<u8> = mask
        .iter()
        .zip(&kept_b)
        .map(|(&m, &k)| if m != 0 && k == 0 { 255 } else { 0 })
        .collect();
    let Some(dim) = GrayImage::from_raw(w as u32, h as u32, dim) else {
        return whole();
    };
    // (Opened: the blurred rim round a bright body is not a body.)
    let dim = open(&dim, 0.5 * p.min_radius_px);
    let bodies_d = scratch.bodies(dim.as_raw(), w, h, p);
    if bodies_d.is_empty() {
        return whole();
    }
    let core = |b: &Body| {
        let (s, n) = b
            .pixels
            .iter()
            .zip(&b.depth)
            .filter(|&(_, &d)| d >= 0.5 * b.deepest)
            .fold((0f64, 0usize), |(s, n), (&i, _)| {
                (s + f64::from(intensity[i]), n + 1)
            });
        s / n.max(1) as f64
    };
    let dimmest_bright = bodies_b.iter().map(core).fold(f64::INFINITY, f64::min);
    let brightest_dim = bodies_d.iter().map(core).fold(f64::NEG_INFINITY, f64::max);
    if !(dimmest_bright > 0.0 && dimmest_bright >= p.step_ratio * brightest_dim.max(0.0)) {
        return whole();
    }
    // Bodies labelled, the object's other pixels given to the nearest
    // (breadth first over the object, 8-connected).
    let mut lab = vec![0u32; w * h];
    let mut queue = VecDeque::new();
    for (k, b) in bodies_b.iter().chain(&bodies_d).enumerate() {
        for &i in &b.pixels {
            lab[i] = k as u32 + 1;
            queue.push_back(i);
        }
    }
    while let Some(i) = queue.pop_front() {
        let (x, y) = ((i % w) as i64, (i / w) as i64);
        for (dx, dy) in NEIGHBOURS {
            let (nx, ny) = (x + dx, y + dy);
            if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                continue;
            }
            let j = ny as usize * w + nx as usize;
            if mask[j] != 0 && lab[j] == 0 {
                lab[j] = lab[i];
                queue.push_back(j);
            }
        }
    }
    let count = renumber_in_raster_order(&mut lab);
    Layers { lab, count }
}

/// The least solidity of a bright body: a follicle is convex, a bright
/// patch of a mottled stain is not.
const SOLID: f64 = 0.85;

/// Area ÷ convex-hull area of the pixels `pixels` (crop indices, `w`
/// wide); the hull of the pixel centres grown by half a pixel all round
/// (Pick: area + perimeter ÷ 2 + 1), so that a convex digital shape
/// scores about 1.
fn solidity(pixels: &[usize], w: usize) -> f64 {
    let mut points: Vec<(i64, i64)> = pixels
        .iter()
        .map(|&i| ((i % w) as i64, (i / w) as i64))
        .collect();
    let hull = super::notches::convex_hull(&mut points);
    let (mut twice, mut perimeter) = (0i64, 0f64);
    for k in 0..hull.len() {
        let (a, b) = (hull[k], hull[(k + 1) % hull.len()]);
        twice += a.0 * b.1 - b.0 * a.1;
        perimeter += (((b.0 - a.0).pow(2) + (b.1 - a.1).pow(2)) as f64).sqrt();
    }
    let hull_area = twice.abs() as f64 / 2.0 + perimeter / 2.0 + 1.0;
    pixels.len() as f64 / hull_area
}

/// The 8 neighbours' offsets.
const NEIGHBOURS: [(i64, i64); 8] = [
    (-1, -1),
    (0, -1),
    (1, -1),
    (-1, 0),
    (1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

/// One follicle-sized 8-connected body of a layer.
struct Body {
    /// Its pixels (crop indices).
    pixels: Vec<usize>,
    /// Each pixel's distance to the layer's background, px.
    depth: Vec<f32>,
    /// The greatest of them: its inscribed radius, px.
    deepest: f32,
}

#[derive(Default)]
struct Scratch {
    edt: EdtScratch,
    dist: Vec<f32>,
}

impl Scratch {
    /// The follicle-sized 8-connected bodies of `layer` (0/255): at least
    /// `p.min_area_px` pixels and `p.min_radius_px` inscribed radius.
    fn bodies(&mut self, layer: &[u8], w: usize, h: usize, p: &SplitParams) -> Vec<Body> {
        let Some(image) = GrayImage::from_raw(w as u32, h as u32, layer.to_vec()) else {
            return Vec::new();
        };
        let (labels, n) = label(&image);
        edt_into(layer, w, h, &mut self.dist, &mut self.edt);
        let mut bodies: Vec<Body> = (0..n)
            .map(|_| Body {
                pixels: Vec::new(),
                depth: Vec::new(),
                deepest: 0.0,
            })
            .collect();
        for (i, &l) in labels.as_raw().iter().enumerate() {
            if l != 0 {
                let b = &mut bodies[l as usize - 1];
                let d = self.dist.get(i).copied().unwrap_or(0.0);
                b.pixels.push(i);
                b.depth.push(d);
                b.deepest = b.deepest.max(d);
            }
        }
        bodies.retain(|b| {
            b.pixels.len() as f64 >= p.min_area_px && f64::from(b.deepest) >= p.min_radius_px
        });
        bodies
    }
}

/// Renumbers the non-zero labels of `lab` 1..=k in raster order of their
/// first pixel; returns k.
pub(super) fn renumber_in_raster_order(lab: &mut [u32]) -> u32 {
    let mut number: Vec<u32> = Vec::new();
    let mut k = 0;
    for v in lab.iter_mut() {
        if *v == 0 {
            continue;
        }
        let l = *v as usize;
        if number.len() <= l {
            number.resize(l + 1, 0);
        }
        if number[l] == 0 {
            k += 1;
            number[l] = k;
        }
        *v = number[l];
    }
    k
}

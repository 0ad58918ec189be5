//! Bodies of distinct stain carved apart before the distance-transform
//! split: a dim follicle wrapped round or lying against a bright one
//! meets it through no neck the distance map can see, but a person sees
//! the step in brightness. The object's own two brightness classes
//! (Otsu 1979, over a 256-bin histogram of the object's pixels) are
//! taken as layers: the bright class, with its holes filled (a membrane
//! honeycomb's interiors are its own) and opened, gives the bright
//! bodies; what is left, opened, gives the dim ones.
//!
//! A bright body is a follicle of its own if it is convex enough, or if
//! most of its edge is the object's outline: a follicle merged with
//! another meets it along one side and is the object's edge elsewhere
//! (a curved or bent follicle is not convex, but lies on the outline),
//! whereas a bright patch of one follicle's mottled or membrane stain is
//! ringed by that follicle's own dimmer stain.
//!
//! The carve stands only where both kinds hold a body — a dim one
//! follicle-sized (area, inscribed radius), a bright one at least a
//! quarter of that (a bright bud in a skirt of haze) — and every bright
//! body's core is at least `step_ratio` × as bright as every dim one's:
//! the same brightness step that keeps a wide-necked split (`necks.rs`).
//! Pixels of neither (a dim rim round a bright body, slivers) join the
//! nearest body. Classes too small for a body, or whose means are less
//! than a step apart, end it early: most objects are one body.

use std::collections::VecDeque;

use image::GrayImage;

use super::cuts::renumber;
use super::notches::solidity;
use super::SplitParams;
use crate::segment::distance::{edt_into, EdtScratch};
use crate::segment::label::{find, four_neighbours, label, relabel, union};
use crate::segment::morph::{fill_holes, open};
use crate::segment::threshold::{threshold_of_counts, Method};
use crate::Crop;

/// The bodies an object is carved into: [`carve`]'s result.
pub(super) struct Layers {
    /// Each pixel's body, `1..=count` in raster order of first pixel (0
    /// outside the object).
    pub lab: Vec<u32>,
    /// The number of bodies (at least 2).
    pub count: u32,
}

/// Carves the one object drawn in `mask` (the `crop`'s pixels, 0/255)
/// into bodies of distinct brightness in `stain` (the image-sized
/// corrected stain, `width` wide, read in place); see the module's
/// doc. `p.min_area_px` and `p.min_radius_px` make a dim
/// body follicle-sized (a bright one needs [`BRIGHT_SIZE`] of that);
/// `p.step_ratio` is the least brightness step. `None`: one body, the
/// object whole (nothing allocated for it).
pub(super) fn carve(
    mask: &[u8],
    crop: &Crop,
    (stain, width): (&[f32], usize),
    p: &SplitParams,
) -> Option<Layers> {
    if !may_carve(mask, p) {
        return None;
    }
    let (w, h) = (crop.w, crop.h);
    // The stain at the crop's pixel i.
    let intensity = |i: usize| stain[(crop.y0 + i / w) * width + crop.x0 + i % w];
    let values: Vec<f32> = (0..w * h)
        .filter(|&i| mask[i] != 0)
        .map(intensity)
        .collect();
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    // (A coarse histogram: a carve needs no finer level.)
    let mut counts = [0u64; CARVE_BINS];
    let scale = CARVE_BINS as f32 / (hi - lo);
    for &v in &values {
        counts[(((v - lo) * scale) as usize).min(CARVE_BINS - 1)] += 1;
    }
    let t = threshold_of_counts(&counts, lo, hi, Method::Otsu)?;
    // The classes' own means must step at least as far as the bodies'
    // cores will have to (cheap: most objects are single bodies).
    let (mut upper, mut lower) = ((0f64, 0usize), (0f64, 0usize));
    for &v in &values {
        let class = if v >= t { &mut upper } else { &mut lower };
        class.0 += f64::from(v);
        class.1 += 1;
    }
    let mean = |(s, n): (f64, usize)| s / n.max(1) as f64;
    let too_few = |(_, n): (f64, usize), size: f64| (n as f64) < size * p.min_area_px;
    if too_few(upper, BRIGHT_SIZE)
        || too_few(lower, 1.0)
        || mean(upper) < p.step_ratio * mean(lower).max(0.0)
    {
        return None;
    }
    let Carved { bright, dim } = bodies_at(mask, &intensity, w, h, t, p)?;
    // Bodies labelled, the object's other pixels given to the nearest
    // (breadth first over the object, 8-connected).
    let mut lab = vec![0u32; w * h];
    let mut queue = VecDeque::new();
    for (k, b) in bright.iter().chain(&dim).enumerate() {
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
    let count = renumber(&mut lab, (bright.len() + dim.len()) as u32);
    Some(Layers { lab, count })
}

/// Joins again the pieces of one body of `layers` (each body since split
/// at its own necks: `pieces`, labels 1..=n over the crop, w wide) that
/// meet within [`BITE_REACH`] × `p.min_radius_px` of another body; the
/// pieces are renumbered 1..=m in raster order of first pixel; returns m.
///
/// Where a brighter body overlaps a dimmer one, the carve gives it the
/// overlap, and the dimmer body narrows beside the bite: a neck the
/// distance map sees, made by the neighbour, not by two follicles
/// meeting. A neck between two follicles of one brightness lies away
/// from other bodies (a person sees it as a waist of the body's own
/// outline).
pub(super) fn join_at_bites(
    pieces: &mut [u32],
    n: u32,
    layers: &Layers,
    w: usize,
    p: &SplitParams,
) -> u32 {
    let h = pieces.len().checked_div(w).unwrap_or(0);
    let reach = BITE_REACH * p.min_radius_px;
    let r = reach.floor() as i64;
    // Whether pixel i (of body `body`) lies within `reach` of another body.
    let bitten = |i: usize, body: u32| {
        let (x, y) = ((i % w) as i64, (i / w) as i64);
        (-r..=r).any(|dy| {
            (-r..=r).any(|dx| {
                let (u, v) = (x + dx, y + dy);
                if (dx * dx + dy * dy) as f64 > reach * reach
                    || u < 0
                    || v < 0
                    || u >= w as i64
                    || v >= h as i64
                {
                    return false;
                }
                let other = layers.lab[v as usize * w + u as usize];
                other != 0 && other != body
            })
        })
    };
    let mut parent: Vec<u32> = (0..=n).collect();
    for i in 0..w * h {
        let a = pieces[i];
        if a == 0 {
            continue;
        }
        // Its right and lower neighbours: a boundary between two pieces
        // of one body.
        let right = (i % w + 1 < w).then(|| i + 1);
        let below = (i / w + 1 < h).then(|| i + w);
        for j in [right, below].into_iter().flatten() {
            let b = pieces[j];
            let body = layers.lab[i];
            if b == 0 || b == a || layers.lab[j] != body {
                continue;
            }
            if find(&mut parent, a) != find(&mut parent, b) && (bitten(i, body) || bitten(j, body))
            {
                union(&mut parent, a, b);
            }
        }
    }
    relabel(pieces, &mut parent)
}

/// Pieces of one body meeting this × the least inscribed radius of a
/// follicle (9 µm at the default 6 µm) or nearer another body are one
/// ([`join_at_bites`]).
const BITE_REACH: f64 = 1.5;

/// Whether the object drawn in `mask` may be carved at all: the step is
/// on, it has room for two follicle-sized bodies, and it does not fill
/// the image (no outline: nothing to carve, as nothing to split).
fn may_carve(mask: &[u8], p: &SplitParams) -> bool {
    let area = mask.iter().filter(|&&m| m != 0).count();
    p.step_ratio.is_finite() && area as f64 >= 2.0 * p.min_area_px.max(1.0) && area < mask.len()
}

/// A bright body may be this × a follicle's least area (and its square
/// root × the least inscribed radius): a bright bud smaller than any
/// follicle inside a skirt of dim haze is carved out of it, so that the
/// skirt is judged on its own contrast and the bud on its own size.
const BRIGHT_SIZE: f64 = 0.25;

/// Bins of the object's histogram for its two classes.
const CARVE_BINS: usize = 256;

/// The bright class is opened by this × the least inscribed radius of a
/// body (1.5 µm at the default 6 µm): specks and thin bridges go.
const BRIGHT_OPENING: f64 = 0.25;

/// The rest is opened by this × that radius (3 µm at the default): the
/// blurred rim round a bright body, thinner than twice that, is not a
/// body of its own.
const DIM_OPENING: f64 = 0.5;

/// The least solidity of a bright body that stands as convex: an
/// ellipse-like follicle is, a bright patch of a mottled stain is not.
const SOLID: f64 = 0.85;

/// Or the least share of a bright body's edge on the object's outline
/// ([`outline_share`]): a curved follicle merged with another lies on
/// the outline but where they meet (in the broad simulated set's merged
/// ones, 0.61–1.0, most over 0.8); a bright patch inside one follicle
/// does not (the dev-sample's non-convex bright bodies: most under
/// 0.55). 0.7–0.8 score the same on the broad set; 0.6 admits patches
/// of the dev-sample's membrane follicles as bodies of their own.
const ON_OUTLINE: f64 = 0.75;

/// The object's outline is its edge and the pixels within this × the
/// least inscribed radius of it (3 µm at the default 6 µm), plus a
/// pixel: the blurred rim a bright body's class leaves outside it, as
/// thin as [`DIM_OPENING`] takes off.
const RIM: f64 = DIM_OPENING;

/// The share of the edge of a body (`pixels`, crop indices, one
/// 8-connected component of `layer`, `w` × `h`) that lies on the
/// object's outline: of its edge pixels (a 4-neighbour off the layer),
/// those with such a neighbour in `rim` (outside the object or in its
/// rim) or off the crop. 0 for a body with no edge.
fn outline_share(pixels: &[usize], layer: &[u8], rim: &[bool], w: usize, h: usize) -> f64 {
    let (mut edge, mut on) = (0usize, 0usize);
    for &i in pixels {
        let (mut off_layer, mut on_outline) = (false, false);
        for j in four_neighbours(i, w, h) {
            match j {
                None => (off_layer, on_outline) = (true, true),
                Some(j) if layer[j] == 0 => {
                    off_layer = true;
                    on_outline |= rim[j];
                }
                Some(_) => {}
            }
        }
        edge += usize::from(off_layer);
        on += usize::from(on_outline);
    }
    on as f64 / edge.max(1) as f64
}

/// The bodies on either side of level `t`.
struct Carved {
    /// Those of the bright class, filled and opened, convex enough or
    /// lying on the object's outline.
    bright: Vec<Body>,
    /// Those of the rest, opened.
    dim: Vec<Body>,
}

/// The bodies of the object drawn in `mask` on either side of level `t`
/// of `intensity` (at each pixel of the crop), if both kinds exist and every bright body's core is
/// at least `p.step_ratio` × as bright as every dim one's.
fn bodies_at(
    mask: &[u8],
    intensity: &impl Fn(usize) -> f32,
    w: usize,
    h: usize,
    t: f32,
    p: &SplitParams,
) -> Option<Carved> {
    let mut scratch = Scratch::default();
    let bright: Vec<u8> = mask
        .iter()
        .enumerate()
        .map(|(i, &m)| if m != 0 && intensity(i) >= t { 255 } else { 0 })
        .collect();
    let bright = GrayImage::from_raw(w as u32, h as u32, bright)?;
    // (Filled first: a membrane honeycomb's interiors are its own.)
    let bright = open(&fill_holes(&bright), BRIGHT_OPENING * p.min_radius_px);
    let mut bodies_b = scratch.bodies(bright.as_raw(), w, h, p, BRIGHT_SIZE);
    // (The object's rim only where some body is not convex.)
    let mut rim: Option<Vec<bool>> = None;
    bodies_b.retain(|b| {
        solidity(&b.pixels, w) >= SOLID || {
            let rim = rim.get_or_insert_with(|| scratch.rim(mask, w, h, RIM * p.min_radius_px));
            outline_share(&b.pixels, bright.as_raw(), rim, w, h) >= ON_OUTLINE
        }
    });
    if bodies_b.is_empty() {
        return None;
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
    let dim = GrayImage::from_raw(w as u32, h as u32, dim)?;
    let dim = open(&dim, DIM_OPENING * p.min_radius_px);
    let bodies_d = scratch.bodies(dim.as_raw(), w, h, p, 1.0);
    if bodies_d.is_empty() {
        return None;
    }
    let core = |b: &Body| {
        let (s, n) = b
            .pixels
            .iter()
            .zip(&b.depth)
            .filter(|&(_, &d)| d >= 0.5 * b.deepest)
            .fold((0f64, 0usize), |(s, n), (&i, _)| {
                (s + f64::from(intensity(i)), n + 1)
            });
        s / n.max(1) as f64
    };
    let dimmest_bright = bodies_b.iter().map(core).fold(f64::INFINITY, f64::min);
    let brightest_dim = bodies_d.iter().map(core).fold(f64::NEG_INFINITY, f64::max);
    if !(dimmest_bright > 0.0 && dimmest_bright >= p.step_ratio * brightest_dim.max(0.0)) {
        return None;
    }
    Some(Carved {
        bright: bodies_b,
        dim: bodies_d,
    })
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

/// One 8-connected body of a layer, big enough to stand alone.
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
    /// The pixels of the `w` × `h` crop outside the object drawn in `mask`
    /// or within `width_px` + 1 of its outside: its rim.
    fn rim(&mut self, mask: &[u8], w: usize, h: usize, width_px: f64) -> Vec<bool> {
        edt_into(mask, w, h, &mut self.dist, &mut self.edt);
        let reach = width_px as f32 + 1.0;
        self.dist.iter().map(|&d| d <= reach).collect()
    }

    /// The 8-connected bodies of `layer` (0/255) of at least `size` × a
    /// follicle's size: `size` × `p.min_area_px` pixels and √`size` ×
    /// `p.min_radius_px` inscribed radius.
    fn bodies(
        &mut self,
        layer: &[u8],
        w: usize,
        h: usize,
        p: &SplitParams,
        size: f64,
    ) -> Vec<Body> {
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
            b.pixels.len() as f64 >= size * p.min_area_px
                && f64::from(b.deepest) >= size.sqrt() * p.min_radius_px
        });
        bodies
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SplitParams {
        SplitParams {
            min_area_px: 100.0,
            min_radius_px: 4.0,
            step_ratio: 1.5,
            ..super::super::reference::params()
        }
    }

    /// Two pieces of body 1 (columns 0..30 of 40 × 10) meeting at column
    /// `cut`, beside body 2 (columns 30..36 of the top rows), which is
    /// piece 3: joined when the cut is within reach of body 2 (1.5 ×
    /// the least inscribed radius, 6 px), kept apart when further.
    fn bitten_at(cut: usize) -> (Vec<u32>, u32) {
        let (w, h) = (40, 10);
        let lab: Vec<u32> = (0..w * h)
            .map(|i| match (i % w, i / w) {
                (x, _) if x < 30 => 1,
                (x, y) if x < 36 && y < 4 => 2,
                _ => 0,
            })
            .collect();
        let mut pieces: Vec<u32> = (0..w * h)
            .map(|i| match (lab[i], i % w) {
                (1, x) if x < cut => 1,
                (1, _) => 2,
                (2, _) => 3,
                _ => 0,
            })
            .collect();
        let layers = Layers { lab, count: 2 };
        let n = join_at_bites(&mut pieces, 3, &layers, w, &params());
        (pieces, n)
    }

    #[test]
    fn pieces_meeting_beside_another_body_are_joined() {
        // Column 26|27 is 3 px from body 2 at the top rows: one piece.
        let (pieces, n) = bitten_at(27);
        assert_eq!(n, 2);
        assert!(pieces[..30].iter().all(|&l| l == 1));
        assert_eq!(pieces[31], 2);
        assert_eq!(pieces[9 * 40 + 29], 1);
        // Column 14|15 is 15 px from it: two pieces, numbered as before.
        let (pieces, n) = bitten_at(15);
        assert_eq!(n, 3);
        assert_eq!((pieces[14], pieces[15], pieces[31]), (1, 2, 3));
        // Just past the reach (6 px): column 23|24 is 6 px from column
        // 30, in reach; 22|23 is 7 px, not.
        assert_eq!(bitten_at(24).1, 2);
        assert_eq!(bitten_at(23).1, 3);
    }

    /// How many bodies a carve gives (1: the object whole).
    fn bodies(layers: Option<Layers>) -> u32 {
        layers.map_or(1, |l| l.count)
    }

    /// The crop of all of a `w` × `h` image.
    fn whole(w: usize, h: usize) -> Crop {
        Crop { x0: 0, y0: 0, w, h }
    }

    /// A `w` × `h` object from `stain(x, y)` (0 outside): its mask and
    /// its intensities.
    fn object(w: usize, h: usize, stain: impl Fn(f64, f64) -> f32) -> (Vec<u8>, Vec<f32>) {
        let values: Vec<f32> = (0..w * h)
            .map(|i| stain((i % w) as f64, (i / w) as f64))
            .collect();
        let mask = values
            .iter()
            .map(|&v| if v > 0.0 { 255 } else { 0 })
            .collect();
        (mask, values)
    }

    /// Two discs of radius 14 meeting over a wide contact (centres 24 px
    /// apart), the left one at `left`, the right one (drawn under it) at
    /// `right`.
    fn two_discs(left: f32, right: f32) -> (Vec<u8>, Vec<f32>) {
        object(80, 60, |x, y| {
            if (x - 25.0).hypot(y - 30.0) <= 14.0 {
                left
            } else if (x - 49.0).hypot(y - 30.0) <= 14.0 {
                right
            } else {
                0.0
            }
        })
    }

    #[test]
    fn a_dim_body_against_a_bright_one_is_carved_off() {
        let (mask, values) = two_discs(3.0, 1.0);
        let layers = carve(&mask, &whole(80, 60), (&values, 80), &params()).expect("carved");
        assert_eq!(layers.count, 2);
        let at = |x: usize, y: usize| layers.lab[y * 80 + x];
        // Raster order of first pixel: the left disc's top comes first.
        assert_eq!((at(25, 30), at(49, 30)), (1, 2));
        // Every pixel of the object has a body, and only those: each
        // disc's pixels (but for the contact) are their own disc's.
        for (i, (&m, &l)) in mask.iter().zip(&layers.lab).enumerate() {
            assert_eq!(m != 0, l != 0, "pixel {i}");
            let (x, y) = ((i % 80) as f64, (i / 80) as f64);
            if (x - 25.0).hypot(y - 30.0) <= 12.0 {
                assert_eq!(l, 1, "pixel {i}");
            }
            if (x - 49.0).hypot(y - 30.0) <= 12.0 && (x - 25.0).hypot(y - 30.0) > 16.0 {
                assert_eq!(l, 2, "pixel {i}");
            }
        }
        // The same the other way round.
        let (mask, values) = two_discs(1.0, 3.0);
        assert_eq!(
            bodies(carve(&mask, &whole(80, 60), (&values, 80), &params())),
            2
        );
    }

    #[test]
    fn stains_less_than_a_step_apart_are_not_carved() {
        let (mask, values) = two_discs(1.4, 1.0);
        assert_eq!(
            bodies(carve(&mask, &whole(80, 60), (&values, 80), &params())),
            1
        );
        // Nor with the step off.
        let (mask, values) = two_discs(3.0, 1.0);
        let off = SplitParams {
            step_ratio: f64::INFINITY,
            ..params()
        };
        assert!(carve(&mask, &whole(80, 60), (&values, 80), &off).is_none());
    }

    const RAMP: f32 = 1.5;

    #[test]
    fn one_body_stays_whole_whatever_its_stain() {
        let ellipse =
            |x: f64, y: f64| ((x - 40.0) / 30.0).powi(2) + ((y - 25.0) / 16.0).powi(2) <= 1.0;
        // Uniform; a ramp from 1 to 2.5 along it (a steeper one, 3×, is
        // carved: the step test cannot tell it from two bodies); a bright membrane
        // honeycomb (lines every 8 px) over a dim interior; a bright body
        // in a dim rim 3 px wide (a blurred edge).
        let stains: [Box<dyn Fn(f64, f64) -> f32>; 4] = [
            Box::new(|x, y| if ellipse(x, y) { 2.0 } else { 0.0 }),
            Box::new(|x, y| {
                if ellipse(x, y) {
                    1.0 + RAMP * ((x - 10.0) / 60.0) as f32
                } else {
                    0.0
                }
            }),
            Box::new(|x, y| {
                let line = (x as i64 % 8 == 0) || (y as i64 % 8 == 0);
                match (ellipse(x, y), line) {
                    (false, _) => 0.0,
                    (true, true) => 4.0,
                    (true, false) => 1.0,
                }
            }),
            Box::new(|x, y| {
                let (dx, dy) = ((x - 40.0) / 30.0, (y - 25.0) / 16.0);
                let r = dx.hypot(dy);
                if r <= 0.85 {
                    3.0
                } else if r <= 1.0 {
                    1.0
                } else {
                    0.0
                }
            }),
        ];
        for (k, stain) in stains.iter().enumerate() {
            let (mask, values) = object(80, 50, stain);
            assert_eq!(
                bodies(carve(&mask, &whole(80, 50), (&values, 80), &params())),
                1,
                "stain {k}"
            );
        }
    }

    #[test]
    fn a_bright_honeycomb_against_a_dim_body_is_one_bright_body() {
        // The honeycomb's interiors are filled into its body, so the
        // bright membrane disc is carved whole from the dim solid one.
        let (mask, values) = object(80, 60, |x, y| {
            let r = (x - 25.0).hypot(y - 30.0);
            let line = (x as i64 % 7 == 0) || (y as i64 % 7 == 0) || r > 13.0;
            if r <= 14.0 {
                if line {
                    6.0
                } else {
                    2.0
                }
            } else if (x - 49.0).hypot(y - 30.0) <= 14.0 {
                1.0
            } else {
                0.0
            }
        });
        let layers = carve(&mask, &whole(80, 60), (&values, 80), &params()).expect("carved");
        assert_eq!(layers.count, 2);
        for (x, y) in [(25, 30), (20, 25), (31, 36), (18, 33)] {
            assert_eq!(layers.lab[y * 80 + x], 1, "({x}, {y})");
        }
    }

    #[test]
    fn a_bright_bud_is_carved_out_of_its_skirt_of_haze() {
        // A bud of radius `r` at the centre of an 80 × 60 skirt.
        let bud_in_skirt = |r: f64| {
            object(80, 60, |x, y| {
                if (x - 40.0).hypot(y - 30.0) <= r {
                    4.0
                } else if ((x - 40.0) / 30.0).powi(2) + ((y - 30.0) / 20.0).powi(2) <= 1.0 {
                    1.0
                } else {
                    0.0
                }
            })
        };
        // Radius 6 (113 px: over a quarter of a follicle's least area,
        // 25 px; 6 px deep, over half its 4-px radius): carved out.
        let (mask, values) = bud_in_skirt(6.0);
        let layers = carve(&mask, &whole(80, 60), (&values, 80), &params()).expect("carved");
        assert_eq!(layers.count, 2);
        assert_ne!(layers.lab[30 * 80 + 40], layers.lab[30 * 80 + 20]);
        // A speck under a quarter of a follicle (radius 2: 13 px) is not.
        let (mask, values) = bud_in_skirt(2.0);
        assert_eq!(
            bodies(carve(&mask, &whole(80, 60), (&values, 80), &params())),
            1
        );
    }

    /// A half annulus (radii 16–28 round (40, 45), its upper half: a
    /// curved band 12 px wide, solidity about 0.67) at `band`, and a disc
    /// of radius 13 under its right end at `disc`.
    fn band_and_disc(band: f32, disc: f32) -> (Vec<u8>, Vec<f32>) {
        object(90, 80, |x, y| {
            let r = (x - 40.0).hypot(y - 45.0);
            if y <= 45.0 && (16.0..=28.0).contains(&r) {
                band
            } else if (x - 62.0).hypot(y - 58.0) <= 13.0 {
                disc
            } else {
                0.0
            }
        })
    }

    #[test]
    fn a_curved_body_beside_a_dim_one_is_carved_off() {
        // Not convex, but the band's edge is the object's outline but
        // where it meets the disc.
        let (mask, values) = band_and_disc(3.0, 1.0);
        let pixels: Vec<usize> = (0..mask.len()).filter(|&i| values[i] == 3.0).collect();
        assert!(solidity(&pixels, 90) < 0.7);
        let layers = carve(&mask, &whole(90, 80), (&values, 90), &params()).expect("carved");
        assert_eq!(layers.count, 2);
        let at = |x: usize, y: usize| layers.lab[y * 90 + x];
        // The band's top and both ends are one body, the disc the other.
        assert_eq!((at(40, 22), at(18, 44), at(62, 44)), (1, 1, 1));
        assert_eq!((at(62, 60), at(70, 62)), (2, 2));
    }

    #[test]
    fn a_curved_bright_patch_inside_a_body_is_not_carved() {
        // A like band inside a dim ellipse that rings it (14 px and more):
        // a patch of one follicle's stain, not a body of its own.
        let (mask, values) = object(100, 90, |x, y| {
            let r = (x - 45.0).hypot(y - 45.0);
            if y <= 45.0 && (14.0..=24.0).contains(&r) {
                3.0
            } else if ((x - 47.0) / 44.0).powi(2) + ((y - 45.0) / 38.0).powi(2) <= 1.0 {
                1.0
            } else {
                0.0
            }
        });
        assert_eq!(
            bodies(carve(&mask, &whole(100, 90), (&values, 100), &params())),
            1
        );
    }

    #[test]
    fn outline_share_by_hand() {
        // A 10 × 10 body (columns 1–10, rows 1–10) at the left end of a
        // 30 × 10 object (columns 1–30) in a 34 × 12 crop. Its edge is
        // 36 pixels; all lie on the outline but the right column's, whose
        // neighbours (column 11) lie in the rim only within 3 + 1 px of
        // the object's top or bottom: rows 1–4 and 7–10. Rows 5 and 6
        // are not: 34 of 36.
        // (A `w` × `h` crop with columns x0..=x1 and rows y0..=y1 set.)
        let rect = |w: usize, h: usize, (x0, x1, y0, y1): (usize, usize, usize, usize)| {
            (0..w * h)
                .map(|i| {
                    let inside = (x0..=x1).contains(&(i % w)) && (y0..=y1).contains(&(i / w));
                    255 * u8::from(inside)
                })
                .collect::<Vec<u8>>()
        };
        let set = |layer: &[u8]| {
            (0..layer.len())
                .filter(|&i| layer[i] != 0)
                .collect::<Vec<_>>()
        };
        let (w, h) = (34, 12);
        let mask = rect(w, h, (1, 30, 1, 10));
        let layer = rect(w, h, (1, 10, 1, 10));
        let rim = Scratch::default().rim(&mask, w, h, 3.0);
        assert!(rim[4 * w + 11] && rim[7 * w + 11]);
        assert!(!rim[5 * w + 11] && !rim[6 * w + 11]);
        let share = outline_share(&set(&layer), &layer, &rim, w, h);
        assert!((share - 34.0 / 36.0).abs() < 1e-12, "{share}");
        // Ringed by the object 6 px and more all round: none of it.
        let (w, h) = (40, 30);
        let mask = rect(w, h, (1, 38, 1, 28));
        let layer = rect(w, h, (12, 21, 10, 19));
        let pixels = set(&layer);
        let rim = Scratch::default().rim(&mask, w, h, 3.0);
        assert_eq!(outline_share(&pixels, &layer, &rim, w, h), 0.0);
    }

    #[test]
    fn solidity_by_hand() {
        // A 10 × 6 rectangle: Pick's correction makes the hull's area its
        // pixel count.
        let rect: Vec<usize> = (0..6)
            .flat_map(|y| (0..10).map(move |x| y * 20 + x))
            .collect();
        assert!((solidity(&rect, 20) - 1.0).abs() < 1e-9);
        // An L of two 10 × 3 arms: 51 pixels; the hull of the centres is
        // the pentagon (0,0), (9,0), (9,2), (2,9), (0,9): area 56.5
        // (shoelace: 113 / 2), perimeter 9 + 2 + √98 + 2 + 9.
        let l: Vec<usize> = (0..10)
            .flat_map(|y| (0..10).map(move |x| (x, y)))
            .filter(|&(x, y)| x < 3 || y < 3)
            .map(|(x, y)| y * 20 + x)
            .collect();
        let hull = 56.5 + (22.0 + 98f64.sqrt()) / 2.0 + 1.0;
        assert_eq!(l.len(), 51);
        assert!((solidity(&l, 20) - 51.0 / hull).abs() < 1e-9);
        assert!(solidity(&l, 20) < SOLID);
    }
}

//! Cuts between notch pairs: two bodies lying side by side, or meeting
//! end to end at an angle, make one blob with no narrow neck for the
//! watershed to find, but their joint outline dips in at the two ends of
//! their contact. A region is cut along the straight line between two
//! deep notches of its outline when they face each other across it (of
//! several such pairs, the most squarely facing), are deep for the cut's
//! length — or, shallower, leave parts that are each at most half as
//! concave as the whole (Bai et al. 2009) — and both parts are bodies in
//! their own right: the concave point pairing of clump-splitting methods
//! (Kumar et al. 2006, "A
//! rule-based approach for robust clump splitting", Pattern Recognition
//! 39; Farhan et al. 2013, "A novel method for splitting clumps of
//! convex objects incorporating image intensity and using rectangular
//! window-based concavity point-pair search", Pattern Recognition 46).
//!
//! A single body bent into an arc or a kidney has one notch (its inner
//! side), an ellipse none: neither is cut.

use super::notches::{convex_hull, depth_in, solidity};
use super::SplitParams;
use crate::segment::distance::{edt_into, EdtScratch};

/// Outline pixels this deep inside their region's convex hull or deeper
/// are in a notch, px: a digitised convex outline lies within about a
/// pixel of its hull.
const NOTCH_FLOOR_PX: f32 = 1.5;

/// Two notches face each other across a cut when each opens (towards
/// the bottom of its pocket) within about 45° of the cut's line, on
/// average: the cosines' mean is at least this.
const FACING: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// A cut between facing notches too shallow for its length (depths
/// summing below `cut_ratio` × the length: two ellipses overlapping side
/// by side) is made only where each part's concavity (1 − solidity) is at
/// most this × the whole region's: the cut explains the outline's dents,
/// as the concave-point and ellipse-fitting clump splitters ask (Bai et
/// al. 2009, "Splitting touching cells based on concave points and
/// ellipse fitting", Pattern Recognition 42). A bent body has no facing
/// pair; a single convex body no notch.
const CONVEX_PARTS: f64 = 0.5;

/// Cuts the regions of `lab` (w × h, labels 1..=n, 0 the background)
/// between notch pairs where `p` says (`p.cut_ratio`, `p.notch_px`,
/// `p.min_area_px`, `p.min_radius_px`), each part tried again; labels
/// are renumbered 1..=m in raster order of first pixel; returns m.
/// Pixels outside the crop count as background; `s` is scratch.
pub(super) fn cut_at_notch_pairs(
    lab: &mut [u32],
    w: usize,
    h: usize,
    n: u32,
    p: &SplitParams,
    s: &mut Cuts,
) -> u32 {
    if p.cut_ratio <= 0.0 || !p.notch_px.is_finite() || n == 0 {
        return n;
    }
    let mut next = n;
    // Each cut leaves two smaller, non-empty parts: this ends.
    let mut todo: Vec<u32> = (1..=n).collect();
    while let Some(r) = todo.pop() {
        if let Some(part) = s.cut_once(lab, w, h, r, p) {
            next += 1;
            for &i in &part {
                lab[i] = next;
            }
            todo.push(r);
            todo.push(next);
        }
    }
    if next == n {
        return n;
    }
    renumber(lab, next)
}

/// Relabels `lab` (labels 1..=n) 1..=m in raster order of first pixel;
/// returns m.
pub(super) fn renumber(lab: &mut [u32], n: u32) -> u32 {
    let mut number = vec![0u32; n as usize + 1];
    let mut m = 0;
    for v in lab.iter_mut() {
        if *v != 0 {
            let k = &mut number[*v as usize];
            if *k == 0 {
                m += 1;
                *k = m;
            }
            *v = *k;
        }
    }
    m
}

/// A notch: the deepest pixel of a run of outline pixels inside the hull.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Notch {
    x: i64,
    y: i64,
    /// Depth inside the region's convex hull, px.
    depth: f32,
    /// The unit direction the notch opens in: towards the mean of the
    /// pixels outside the region within `depth` of it that are reached
    /// without crossing the region (the bottom of its pocket).
    opens: (f64, f64),
}

impl Notch {
    /// How squarely notches `a` and `b` face each other across the line
    /// between them: the mean cosine of the angles between each one's
    /// opening and the line leaving the body through it (1: head on).
    fn facing(a: &Notch, b: &Notch) -> f64 {
        let (dx, dy) = ((b.x - a.x) as f64, (b.y - a.y) as f64);
        let len = dx.hypot(dy).max(1e-9);
        let (ux, uy) = (dx / len, dy / len);
        let at_a = -(a.opens.0 * ux + a.opens.1 * uy);
        let at_b = b.opens.0 * ux + b.opens.1 * uy;
        (at_a + at_b) / 2.0
    }
}

/// Buffers for cutting one region after another, kept from object to
/// object so that a field's objects allocate nothing once warm.
#[derive(Default)]
pub(super) struct Cuts {
    outline: Vec<(i64, i64)>,
    /// A pocket's pixels still to visit, and those seen (a notch's box).
    pocket: Vec<(i64, i64)>,
    seen: Vec<bool>,
    depth: Vec<f32>,
    group: Vec<u32>,
    stack: Vec<usize>,
    part: Vec<u32>,
    mask: Vec<u8>,
    dist: Vec<f32>,
    edt: EdtScratch,
}

impl Cuts {
    /// Tries the best cut of region `r` of `lab`: returns the pixels
    /// (indices) of the part to relabel, or `None` when no notch pair
    /// qualifies.
    fn cut_once(
        &mut self,
        lab: &[u32],
        w: usize,
        h: usize,
        r: u32,
        p: &SplitParams,
    ) -> Option<Vec<usize>> {
        let area = lab.iter().filter(|&&l| l == r).count();
        if (area as f64) < 2.0 * p.min_area_px {
            return None;
        }
        let notches = self.notches(lab, w, h, r);
        // Pairs of deep notches facing each other, marked whether they
        // are deep for the cut's length; the most squarely facing first
        // (a bent body's inner notch, deep but opening sideways to the
        // cut, comes last), ties in the notches' order.
        let mut pairs: Vec<(f64, Notch, Notch, bool)> = Vec::new();
        for (i, a) in notches.iter().enumerate() {
            for b in &notches[i + 1..] {
                let len = ((a.x - b.x) as f64).hypot((a.y - b.y) as f64);
                let deep = f64::from(a.depth) + f64::from(b.depth);
                let facing = Notch::facing(a, b);
                if f64::from(a.depth.min(b.depth)) >= p.notch_px && facing >= FACING {
                    pairs.push((facing, *a, *b, deep >= p.cut_ratio * len));
                }
            }
        }
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0));
        for (_, a, b, deep) in pairs {
            if let Some(part) = self.try_cut(lab, w, h, r, a, b, p, !deep) {
                return Some(part);
            }
        }
        None
    }

    /// The notches of region `r`: runs (8-connected) of outline pixels
    /// at least [`NOTCH_FLOOR_PX`] inside the region's convex hull, each
    /// as its deepest pixel, in raster order of that pixel.
    fn notches(&mut self, lab: &[u32], w: usize, h: usize, r: u32) -> Vec<Notch> {
        let at = |x: i64, y: i64| {
            if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
                0
            } else {
                lab[y as usize * w + x as usize]
            }
        };
        self.outline.clear();
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                if at(x, y) == r
                    && [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
                        .iter()
                        .any(|&(u, v)| at(u, v) != r)
                {
                    self.outline.push((x, y));
                }
            }
        }
        let mut pts = self.outline.clone();
        let hull = convex_hull(&mut pts);
        self.depth.clear();
        self.depth
            .extend(self.outline.iter().map(|&q| depth_in(&hull, q)));
        // Group the deep outline pixels (8-connected): group ids + 1 in a
        // crop-sized plane, 0 for none.
        self.group.clear();
        self.group.resize(w * h, 0);
        const DEEP: u32 = u32::MAX;
        for (&(x, y), &d) in self.outline.iter().zip(&self.depth) {
            if d >= NOTCH_FLOOR_PX {
                self.group[y as usize * w + x as usize] = DEEP;
            }
        }
        let mut notches: Vec<Notch> = Vec::new();
        for (&(x, y), &depth) in self.outline.iter().zip(&self.depth) {
            let i = y as usize * w + x as usize;
            let here = Notch {
                x,
                y,
                depth,
                opens: (0.0, 0.0),
            };
            if self.group[i] != DEEP {
                if let Some(g) = self.group[i].checked_sub(1) {
                    let best = &mut notches[g as usize];
                    // Equally deep: the one first along x + y, then
                    // nearer the diagonal — not first in scan order, so
                    // that a transposed region picks the same pixel.
                    let key = |n: &Notch| (n.x + n.y, (n.x - n.y).abs());
                    if depth > best.depth || (depth == best.depth && key(&here) < key(best)) {
                        *best = here;
                    }
                }
                continue;
            }
            // A new run: mark it all, its deepest pixel found as the scan
            // reaches its pixels (raster order).
            let g = notches.len() as u32 + 1;
            notches.push(here);
            self.group[i] = g;
            self.stack.clear();
            self.stack.push(i);
            while let Some(j) = self.stack.pop() {
                let (jx, jy) = ((j % w) as i64, (j / w) as i64);
                for v in jy - 1..=jy + 1 {
                    for u in jx - 1..=jx + 1 {
                        if u >= 0 && v >= 0 && u < w as i64 && v < h as i64 {
                            let k = v as usize * w + u as usize;
                            if self.group[k] == DEEP {
                                self.group[k] = g;
                                self.stack.push(k);
                            }
                        }
                    }
                }
            }
        }
        for n in &mut notches {
            n.opens = opening(lab, w, h, r, n, &mut self.pocket, &mut self.seen);
        }
        notches
    }

    /// Cuts region `r` along the line from `a` to `b` if the line lies in
    /// it and leaves two parts of at least `p.min_area_px` pixels and
    /// `p.min_radius_px` inscribed radius — and, for a `shallow` pair,
    /// parts that explain the outline's concavity ([`CONVEX_PARTS`]):
    /// returns the smaller part's pixels, the line and any crumbs staying
    /// with the larger.
    #[allow(clippy::too_many_arguments)]
    fn try_cut(
        &mut self,
        lab: &[u32],
        w: usize,
        h: usize,
        r: u32,
        a: Notch,
        b: Notch,
        p: &SplitParams,
        shallow: bool,
    ) -> Option<Vec<usize>> {
        let line = line_pixels((a.x, a.y), (b.x, b.y));
        let index = |(x, y): (i64, i64)| y as usize * w + x as usize;
        if line.iter().any(|&q| lab[index(q)] != r) {
            return None;
        }
        // The region without the line, in 4-connected parts (an
        // 8-connected line separates them): part ids in `self.part`.
        self.part.clear();
        self.part.extend(lab.iter().map(|&l| u32::from(l == r)));
        for &q in &line {
            self.part[index(q)] = 0;
        }
        let mut sizes: Vec<(usize, u32)> = Vec::new();
        for i in 0..w * h {
            if self.part[i] != 1 {
                continue;
            }
            let id = sizes.len() as u32 + 2;
            let mut n = 0;
            self.stack.clear();
            self.stack.push(i);
            self.part[i] = id;
            while let Some(j) = self.stack.pop() {
                n += 1;
                let (x, y) = (j % w, j / w);
                let mut visit = |k: usize| {
                    if self.part[k] == 1 {
                        self.part[k] = id;
                        self.stack.push(k);
                    }
                };
                if x > 0 {
                    visit(j - 1);
                }
                if x + 1 < w {
                    visit(j + 1);
                }
                if y > 0 {
                    visit(j - w);
                }
                if y + 1 < h {
                    visit(j + w);
                }
            }
            sizes.push((n, id));
        }
        if sizes.len() < 2 {
            return None;
        }
        sizes.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
        let (big, small) = (sizes[0], sizes[1]);
        for &(n, id) in &[big, small] {
            if (n as f64) < p.min_area_px || self.inscribed_radius(w, h, id) < p.min_radius_px {
                return None;
            }
        }
        if shallow {
            // Notches too shallow for the cut's length: cut only where the
            // parts explain the outline's concavity (each part's own
            // concavity at most CONVEX_PARTS × the whole's).
            let pixels =
                |id: u32| -> Vec<usize> { (0..w * h).filter(|&i| self.part[i] == id).collect() };
            let whole: Vec<usize> = (0..w * h).filter(|&i| lab[i] == r).collect();
            let parts = solidity(&pixels(big.1), w).min(solidity(&pixels(small.1), w));
            if 1.0 - parts > CONVEX_PARTS * (1.0 - solidity(&whole, w)) {
                return None;
            }
        }
        Some((0..w * h).filter(|&i| self.part[i] == small.1).collect())
    }

    /// The inscribed radius of part `id` of `self.part`, px.
    fn inscribed_radius(&mut self, w: usize, h: usize, id: u32) -> f64 {
        self.mask.clear();
        self.mask
            .extend(self.part.iter().map(|&v| if v == id { 255 } else { 0 }));
        edt_into(&self.mask, w, h, &mut self.dist, &mut self.edt);
        f64::from(self.dist.iter().fold(0f32, |m, &d| m.max(d)))
    }
}

/// The unit direction notch `n` of region `r` opens in: towards the
/// mean of the pixels not in `r` (background, or another piece) that are
/// closer to it than its depth and reached from it without crossing `r`
/// — the bottom of its pocket, all inside the hull; (0, 0) when there
/// are none.
fn opening(
    lab: &[u32],
    w: usize,
    h: usize,
    r: u32,
    n: &Notch,
    stack: &mut Vec<(i64, i64)>,
    seen: &mut Vec<bool>,
) -> (f64, f64) {
    let d = f64::from(n.depth);
    let d2 = (d * d).ceil() as i64;
    let k = d.ceil() as i64;
    let side = 2 * k as usize + 1;
    seen.clear();
    seen.resize(side * side, false);
    let slot = |x: i64, y: i64| (y - n.y + k) as usize * side + (x - n.x + k) as usize;
    let open = |x: i64, y: i64| {
        x >= 0
            && y >= 0
            && x < w as i64
            && y < h as i64
            && (x - n.x).pow(2) + (y - n.y).pow(2) < d2
            && lab[y as usize * w + x as usize] != r
    };
    stack.clear();
    for (x, y) in [
        (n.x - 1, n.y),
        (n.x + 1, n.y),
        (n.x, n.y - 1),
        (n.x, n.y + 1),
    ] {
        if open(x, y) && !seen[slot(x, y)] {
            seen[slot(x, y)] = true;
            stack.push((x, y));
        }
    }
    let (mut sx, mut sy) = (0.0, 0.0);
    while let Some((x, y)) = stack.pop() {
        sx += (x - n.x) as f64;
        sy += (y - n.y) as f64;
        for (u, v) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] {
            if open(u, v) && !seen[slot(u, v)] {
                seen[slot(u, v)] = true;
                stack.push((u, v));
            }
        }
    }
    let len = sx.hypot(sy);
    if len > 0.0 {
        (sx / len, sy / len)
    } else {
        (0.0, 0.0)
    }
}

/// The pixels of the 8-connected digital line between `a` and `b`, both
/// included, in order from the end with the smaller x + y: one pixel per
/// step along the longer axis, the other coordinate rounded (a DDA, as
/// Bresenham 1965 draws it). The same line whichever end is given first,
/// and its transpose for the transposed ends — a cut does not depend on
/// the order pixels are scanned in.
fn line_pixels(a: (i64, i64), b: (i64, i64)) -> Vec<(i64, i64)> {
    // (Ends with equal x + y lie on an antidiagonal: a diagonal line,
    // nothing to round, the same from either end.)
    let (a, b) = if (b.0 + b.1, b.0) < (a.0 + a.1, a.0) {
        (b, a)
    } else {
        (a, b)
    };
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let n = dx.abs().max(dy.abs());
    // p / n rounded half up, exactly.
    let step = |p: i64| (2 * p + n).div_euclid(2 * n);
    (0..=n)
        .map(|t| {
            if n == 0 {
                a
            } else {
                (a.0 + step(dx * t), a.1 + step(dy * t))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SplitParams {
        SplitParams {
            min_separation_px: 6.0,
            min_radius_px: 6.0,
            neck_ratio: 1.0,
            step_ratio: f64::INFINITY,
            notch_px: 4.0,
            bend_ratio: 1.0,
            pinch_px: 0.0,
            cut_ratio: 0.67,
            min_area_px: 300.0,
        }
    }

    /// One region drawn where `inside` holds, w × h.
    fn draw(w: usize, h: usize, inside: impl Fn(f64, f64) -> bool) -> Vec<u32> {
        (0..w * h)
            .map(|i| u32::from(inside((i % w) as f64, (i / w) as f64)))
            .collect()
    }

    fn ellipse(x: f64, y: f64, (cx, cy): (f64, f64), (a, b): (f64, f64), theta: f64) -> bool {
        let (s, c) = theta.sin_cos();
        let (dx, dy) = (x - cx, y - cy);
        let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
        (u / a).powi(2) + (v / b).powi(2) <= 1.0
    }

    /// Two ellipses (40 × 14 px semi-axes) side by side, centres 26 px
    /// apart, in 120 × 80.
    fn side_by_side() -> Vec<u32> {
        draw(120, 80, |x, y| {
            ellipse(x, y, (60.0, 27.0), (40.0, 14.0), 0.0)
                || ellipse(x, y, (60.0, 53.0), (40.0, 14.0), 0.0)
        })
    }

    fn cut(mut lab: Vec<u32>, w: usize, h: usize) -> (Vec<u32>, u32) {
        let n = cut_at_notch_pairs(&mut lab, w, h, 1, &params(), &mut Cuts::default());
        (lab, n)
    }

    /// Two ellipses lying side by side, overlapping along their length:
    /// no neck, two notches facing each other: cut in two, each centre
    /// in its own part.
    #[test]
    fn bodies_side_by_side_are_cut_apart() {
        let (w, h) = (120, 80);
        let lab = side_by_side();
        let (lab, n) = cut(lab, w, h);
        assert_eq!(n, 2);
        assert_ne!(lab[27 * w + 60], lab[53 * w + 60]);
        assert!(lab[27 * w + 60] != 0 && lab[53 * w + 60] != 0);
    }

    /// Two ellipses overlapping deeply side by side (centres 20 px
    /// apart): their notches are too shallow for the contact's length,
    /// but each part is convex where the whole is not — cut.
    #[test]
    fn shallow_notches_cut_where_the_parts_are_convex() {
        let (w, h) = (120, 80);
        let lab = draw(w, h, |x, y| {
            ellipse(x, y, (60.0, 27.0), (40.0, 14.0), 0.0)
                || ellipse(x, y, (60.0, 47.0), (40.0, 14.0), 0.0)
        });
        // The pair is shallow for its length: only the convexity of the
        // parts can cut it.
        let mut s = Cuts::default();
        let notches = s.notches(&lab, w, h, 1);
        assert_eq!(notches.len(), 2, "{notches:?}");
        let (a, b) = (notches[0], notches[1]);
        let len = ((a.x - b.x) as f64).hypot((a.y - b.y) as f64);
        assert!(f64::from(a.depth + b.depth) < params().cut_ratio * len);
        let (lab, n) = cut(lab, w, h);
        assert_eq!(n, 2);
        assert_ne!(lab[27 * w + 60], lab[47 * w + 60]);
        assert!(lab[27 * w + 60] != 0 && lab[47 * w + 60] != 0);
    }

    /// The same two ellipses, each with a bite out of its outer side: the
    /// pair at the contact is as shallow as before, but cutting there
    /// leaves each part as concave as the whole (its bite): no cut.
    #[test]
    fn shallow_notches_are_not_cut_where_the_parts_stay_concave() {
        let (w, h) = (120, 80);
        let lab = draw(w, h, |x, y| {
            (ellipse(x, y, (60.0, 27.0), (40.0, 14.0), 0.0)
                || ellipse(x, y, (60.0, 47.0), (40.0, 14.0), 0.0))
                && (x - 60.0).hypot(y - 12.0) > 8.0
                && (x - 60.0).hypot(y - 62.0) > 8.0
        });
        let mut s = Cuts::default();
        let notches = s.notches(&lab, w, h, 1);
        // The contact's pair (its two ends, on the middle row) is shallow.
        let ends: Vec<Notch> = notches
            .iter()
            .copied()
            .filter(|n| (n.y - 37).abs() <= 2)
            .collect();
        assert_eq!(ends.len(), 2, "{notches:?}");
        let (a, b) = (ends[0], ends[1]);
        let len = ((a.x - b.x) as f64).hypot((a.y - b.y) as f64);
        assert!(f64::from(a.depth + b.depth) < params().cut_ratio * len);
        // The premise: the halves above and below the contact are each
        // more than CONVEX_PARTS × as concave as the whole.
        let whole: Vec<usize> = (0..w * h).filter(|&i| lab[i] != 0).collect();
        let half = |top: bool| -> Vec<usize> {
            whole
                .iter()
                .copied()
                .filter(|&i| (i / w < 37) == top)
                .collect()
        };
        let concavity = |px: &[usize]| 1.0 - solidity(px, w);
        let least = concavity(&half(true)).min(concavity(&half(false)));
        assert!(least > CONVEX_PARTS * concavity(&whole), "{least}");
        let (cut_lab, n) = cut(lab.clone(), w, h);
        assert_eq!(n, 1);
        assert_eq!(cut_lab, lab);
    }

    /// A disc, an ellipse, a kidney (one notch) and a shallow-dented body
    /// stay whole.
    #[test]
    fn single_bodies_stay_whole() {
        let (w, h) = (120, 100);
        let shapes: Vec<Box<dyn Fn(f64, f64) -> bool>> = vec![
            Box::new(|x, y| (x - 60.0).hypot(y - 50.0) <= 30.0),
            Box::new(|x, y| ellipse(x, y, (60.0, 50.0), (45.0, 16.0), 0.7)),
            // A kidney: a disc with a bite out of one side.
            Box::new(|x, y| {
                (x - 60.0).hypot(y - 50.0) <= 35.0 && (x - 60.0).hypot(y - 95.0) > 25.0
            }),
            // An ellipse with two shallow dents (3 px, under notch_px 4).
            Box::new(|x, y| {
                ellipse(x, y, (60.0, 50.0), (45.0, 20.0), 0.0)
                    && (x - 60.0).hypot(y - 27.0) > 6.0
                    && (x - 60.0).hypot(y - 73.0) > 6.0
            }),
        ];
        for (k, inside) in shapes.iter().enumerate() {
            let (_, n) = cut(draw(w, h, inside), w, h);
            assert_eq!(n, 1, "shape {k}");
        }
    }

    /// A bent body (a shallow smile, its inner side one deep notch)
    /// lying on an ellipse: the notches where the two meet face each
    /// other across the contact, the smile's own notch opens sideways to
    /// any cut from it; the cut runs along the contact, and the smile
    /// stays whole.
    #[test]
    fn the_cut_runs_between_facing_notches_not_through_a_bend() {
        let (w, h) = (200, 90);
        let smile =
            |x: f64, y: f64| y >= 20.0 && (100.0..=115.0).contains(&(x - 100.0).hypot(y + 60.0));
        let lab = draw(w, h, |x, y| {
            smile(x, y) || ellipse(x, y, (100.0, 66.0), (55.0, 14.0), 0.0)
        });
        let (lab, n) = cut(lab, w, h);
        assert_eq!(n, 2);
        // The smile's two arms and its middle share a label; the
        // ellipse's centre has the other.
        let arm = lab[22 * w + 27];
        assert_ne!(arm, 0);
        assert_eq!(lab[22 * w + 173], arm);
        assert_eq!(lab[47 * w + 100], arm);
        assert_ne!(lab[68 * w + 100], arm);
    }

    /// Parts smaller than `min_area_px` or thinner than `min_radius_px`
    /// are not cut off.
    #[test]
    fn small_or_thin_parts_are_not_cut_off() {
        let (w, h) = (120, 80);
        let lab = side_by_side();
        let mut p = params();
        p.min_radius_px = 15.0;
        let mut a = lab.clone();
        assert_eq!(
            cut_at_notch_pairs(&mut a, w, h, 1, &p, &mut Cuts::default()),
            1
        );
        assert_eq!(a, lab);
        p = params();
        p.min_area_px = 2000.0;
        let mut b = lab.clone();
        assert_eq!(
            cut_at_notch_pairs(&mut b, w, h, 1, &p, &mut Cuts::default()),
            1
        );
    }

    #[test]
    fn digital_lines_are_8_connected_and_end_where_asked() {
        for &(a, b) in &[
            ((0, 0), (7, 3)),
            ((5, 9), (1, 0)),
            ((3, 3), (3, 3)),
            ((0, 4), (9, 4)),
            ((0, 0), (2, 1)),
            ((4, 0), (0, 4)),
            ((1, 6), (4, 1)),
        ] {
            let l = line_pixels(a, b);
            let ends = (l[0], *l.last().unwrap());
            assert!(ends == (a, b) || ends == (b, a), "{ends:?}");
            // The same pixels from the other end, and transposed.
            let mut back = line_pixels(b, a);
            back.sort_unstable();
            let mut sorted = l.clone();
            sorted.sort_unstable();
            assert_eq!(back, sorted);
            let mut t: Vec<(i64, i64)> = line_pixels((a.1, a.0), (b.1, b.0))
                .into_iter()
                .map(|(x, y)| (y, x))
                .collect();
            t.sort_unstable();
            assert_eq!(t, sorted, "{a:?}-{b:?} transposed");
            for s in l.windows(2) {
                let (dx, dy) = ((s[1].0 - s[0].0).abs(), (s[1].1 - s[0].1).abs());
                assert!(dx <= 1 && dy <= 1 && dx + dy >= 1, "{s:?}");
            }
            let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()) as usize;
            assert_eq!(l.len(), steps + 1);
        }
    }

    #[test]
    fn renumbering_follows_the_first_pixels() {
        let mut lab = vec![0, 3, 3, 1, 0, 2, 1, 3];
        assert_eq!(renumber(&mut lab, 3), 3);
        assert_eq!(lab, vec![0, 1, 1, 2, 0, 3, 2, 1]);
        // Labels with gaps (the carve's and the bodies' numbers).
        let mut lab = vec![0, 5, 5, 2, 0, 9, 2, 5];
        assert_eq!(renumber(&mut lab, 9), 3);
        assert_eq!(lab, vec![0, 1, 1, 2, 0, 3, 2, 1]);
    }
}

//! The notch test: two bodies that merely touch meet between two notches
//! of their joint outline — the cut between them runs from a concave
//! corner to a concave corner — where a single bent or elongated body,
//! cut by the flooding, has at most one (a bend's inner side). The depth
//! of a cut's shallower end below the convex hull of the two pieces
//! measures it (the concave points of clump-splitting methods, e.g.
//! Kumar et al. 2006, Wang et al. 2012, tested at the two ends of the
//! cut the watershed proposes).

/// For each pair (a, b) of touching regions of `lab` (w × h, 0 the
/// background, the crop's border all background), how deep the
/// shallower end of their shared boundary lies inside the convex hull
/// of a ∪ b, px (`None` when the boundary has fewer than two ends: it
/// runs into a third region, or is closed).
///
/// One scan of the labels finds every region's outline (hulled once per
/// region: the hull of a ∪ b is the hull of the two hulls) and every
/// pair's bare boundary points.
pub(super) fn notch_depths(
    lab: &[u32],
    w: usize,
    h: usize,
    pairs: &[(u32, u32)],
) -> Vec<Option<f32>> {
    if pairs.is_empty() {
        return Vec::new();
    }
    let n = pairs.iter().map(|&(a, b)| a.max(b)).max().unwrap_or(0) as usize;
    let mut outline: Vec<Vec<(i64, i64)>> = vec![Vec::new(); n + 1];
    let mut ends: std::collections::HashMap<(u32, u32), Vec<(i64, i64)>> =
        pairs.iter().map(|&k| (k, Vec::new())).collect();
    let at = |x: usize, y: usize| lab[y * w + x];
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let l = at(x, y);
            if l == 0 || l as usize > n {
                continue;
            }
            let four = [at(x - 1, y), at(x + 1, y), at(x, y - 1), at(x, y + 1)];
            if four.iter().all(|&m| m == l) {
                continue;
            }
            outline[l as usize].push((x as i64, y as i64));
            let bare = (y - 1..=y + 1).any(|ny| (x - 1..=x + 1).any(|nx| at(nx, ny) == 0));
            if !bare {
                continue;
            }
            for &m in &four {
                if m != 0 && m != l {
                    if let Some(list) = ends.get_mut(&(l.min(m), l.max(m))) {
                        // The end as seen from the smaller label's side.
                        if l < m && list.last() != Some(&(x as i64, y as i64)) {
                            list.push((x as i64, y as i64));
                        }
                    }
                }
            }
        }
    }
    let hulls: Vec<Vec<(i64, i64)>> = outline.iter_mut().map(|o| convex_hull(o)).collect();
    pairs
        .iter()
        .map(|&(a, b)| {
            let mut both: Vec<(i64, i64)> = hulls[a as usize]
                .iter()
                .chain(&hulls[b as usize])
                .copied()
                .collect();
            let hull = convex_hull(&mut both);
            deepest_pair_of_ends(&ends[&(a, b)], &hull)
        })
        .collect()
}

/// The shallower depth (in `hull`) of a cut's two ends: its two bare
/// points farthest apart (`None` with fewer than two, or two a pixel or
/// two apart: one end).
fn deepest_pair_of_ends(ends: &[(i64, i64)], hull: &[(i64, i64)]) -> Option<f32> {
    let mut best = (0i64, None);
    for (i, &p) in ends.iter().enumerate() {
        for &q in &ends[i + 1..] {
            let d = (p.0 - q.0).pow(2) + (p.1 - q.1).pow(2);
            if d > best.0 {
                best = (d, Some((p, q)));
            }
        }
    }
    match best {
        (d, Some((p, q))) if d > 8 => Some(depth_in(hull, p).min(depth_in(hull, q))),
        _ => None,
    }
}

/// The convex hull of `points` (Andrew's monotone chain), counter-
/// clockwise, no repeated first point.
pub(super) fn convex_hull(points: &mut [(i64, i64)]) -> Vec<(i64, i64)> {
    points.sort_unstable();
    let cross = |o: (i64, i64), a: (i64, i64), b: (i64, i64)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let mut hull: Vec<(i64, i64)> = Vec::with_capacity(points.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &(i64, i64)>> = if pass == 0 {
            Box::new(points.iter())
        } else {
            Box::new(points.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

/// Area ÷ convex-hull area of the pixels `pixels` (crop indices, `w`
/// wide); the hull of the pixel centres grown by half a pixel all round
/// (Pick: area + perimeter ÷ 2 + 1), so that a convex digital shape
/// scores about 1.
pub(super) fn solidity(pixels: &[usize], w: usize) -> f64 {
    // The hull of the pixels is the hull of each row's two ends.
    let Some(top) = pixels.iter().map(|&i| i / w).min() else {
        return 0.0;
    };
    let bottom = pixels.iter().map(|&i| i / w).max().unwrap_or(top);
    let mut ends = vec![(usize::MAX, 0usize); bottom - top + 1];
    for &i in pixels {
        let e = &mut ends[i / w - top];
        e.0 = e.0.min(i % w);
        e.1 = e.1.max(i % w);
    }
    let mut points: Vec<(i64, i64)> = Vec::with_capacity(2 * ends.len());
    for (dy, &(l, r)) in ends.iter().enumerate() {
        if l <= r {
            let y = (top + dy) as i64;
            points.push((l as i64, y));
            points.push((r as i64, y));
        }
    }
    pixels.len() as f64 / pixel_hull_area(&mut points)
}

/// The area of the convex hull of the pixel centres `points`, grown by
/// half a pixel all round (Pick: shoelace area + perimeter ÷ 2 + 1).
fn pixel_hull_area(points: &mut [(i64, i64)]) -> f64 {
    let hull = convex_hull(points);
    let (mut twice, mut perimeter) = (0i64, 0f64);
    for k in 0..hull.len() {
        let (a, b) = (hull[k], hull[(k + 1) % hull.len()]);
        twice += a.0 * b.1 - b.0 * a.1;
        perimeter += (((b.0 - a.0).pow(2) + (b.1 - a.1).pow(2)) as f64).sqrt();
    }
    twice.abs() as f64 / 2.0 + perimeter / 2.0 + 1.0
}

/// Distance from `p` to the outline of the convex polygon `hull`, px.
pub(super) fn depth_in(hull: &[(i64, i64)], p: (i64, i64)) -> f32 {
    if hull.len() < 2 {
        return 0.0;
    }
    let (px, py) = (p.0 as f64, p.1 as f64);
    let mut best = f64::INFINITY;
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let (ax, ay, bx, by) = (a.0 as f64, a.1 as f64, b.0 as f64, b.1 as f64);
        let (dx, dy) = (bx - ax, by - ay);
        let len2 = dx * dx + dy * dy;
        let t = if len2 == 0.0 {
            0.0
        } else {
            (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0)
        };
        let (ex, ey) = (px - ax - t * dx, py - ay - t * dy);
        best = best.min(ex * ex + ey * ey);
    }
    best.sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`solidity`] from the hull of every pixel, not each row's ends.
    fn solidity_of_every_pixel(pixels: &[usize], w: usize) -> f64 {
        let mut points: Vec<(i64, i64)> = pixels
            .iter()
            .map(|&i| ((i % w) as i64, (i / w) as i64))
            .collect();
        pixels.len() as f64 / pixel_hull_area(&mut points)
    }

    #[test]
    fn solidity_from_row_ends_equals_the_hull_of_every_pixel() {
        let mut rng = crate::synth::Rng::new(7);
        for case in 0..200 {
            let (w, h) = (40, 30);
            // Random pixels, sparse to dense, in any order; one pixel; a row.
            let p = 0.02 + rng.unit() * 0.9;
            let mut pixels: Vec<usize> = (0..w * h).filter(|_| rng.unit() < p).collect();
            if case % 3 == 0 {
                pixels.reverse();
            }
            if pixels.is_empty() {
                continue;
            }
            let (a, b) = (solidity(&pixels, w), solidity_of_every_pixel(&pixels, w));
            assert!((a - b).abs() < 1e-9, "case {case}: {a} vs {b}");
        }
        assert!((solidity(&[5], 10) - 1.0).abs() < 1e-9);
        assert!((solidity(&[3, 4, 5, 6], 10) - 1.0).abs() < 1e-9);
        assert_eq!(solidity(&[], 10), 0.0);
    }

    fn draw(w: usize, h: usize, f: impl Fn(f64, f64) -> u32) -> Vec<u32> {
        (0..w * h)
            .map(|i| f((i % w) as f64, (i / w) as f64))
            .collect()
    }

    /// Two discs meeting: the cut ends in two notches, as deep as a
    /// hand computation says; a bent band cut across: its outer end lies
    /// on the hull, no notch; a bar cut across: none.
    #[test]
    fn two_bodies_meet_between_notches_one_bent_body_does_not() {
        let (w, h) = (80, 60);
        // Discs of radius 15 at x = 25 and 52 (overlap 3 px), split at x = 38.5.
        let discs = draw(w, h, |x, y| {
            let (d1, d2) = ((x - 25.0).hypot(y - 30.0), (x - 52.0).hypot(y - 30.0));
            match (d1 <= 15.0, d2 <= 15.0) {
                (false, false) => 0,
                _ if x <= 38.0 => 1,
                _ => 2,
            }
        });
        let d = notch_depths(&discs, w, h, &[(1, 2)])[0].unwrap();
        // The cut's ends, at x = 38, y = 30 ± ~6.6; the hull's edge is the
        // tangent line y = 30 ± 15: about 8 px deep.
        assert!((6.0..=10.0).contains(&d), "{d}");
        // A quarter ring of radii 20..34 about (5, 5), cut at 45°.
        let band = draw(w, h, |x, y| {
            let r = (x - 5.0).hypot(y - 5.0);
            if !(20.0..=34.0).contains(&r) {
                0
            } else if y - 5.0 < x - 5.0 {
                1
            } else {
                2
            }
        });
        let d = notch_depths(&band, w, h, &[(1, 2)])[0].unwrap();
        assert!(d <= 1.5, "{d}");
        let bar = draw(w, h, |x, y| match (x, y) {
            (x, y) if (10.0..70.0).contains(&x) && (20.0..35.0).contains(&y) => {
                1 + u32::from(x >= 40.0)
            }
            _ => 0,
        });
        assert!(notch_depths(&bar, w, h, &[(1, 2)])[0].unwrap() <= 1.0);
    }

    #[test]
    fn hull_of_a_square_and_depths() {
        let mut pts = vec![(0, 0), (4, 0), (4, 4), (0, 4), (2, 2), (1, 3)];
        let hull = convex_hull(&mut pts);
        assert_eq!(hull.len(), 4);
        assert_eq!(depth_in(&hull, (2, 2)), 2.0);
        assert_eq!(depth_in(&hull, (4, 1)), 0.0);
    }
}

//! Exact Euclidean distance transform in linear time
//! (Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled
//! Functions", 2012).

use image::GrayImage;

const INF: f64 = 1e20;

/// The float types [`dt1d`] runs in: f64 for the 2D transform's rows,
/// f32 for the 3D transform (`segment::volume::distance`).
pub(crate) trait EnvelopeFloat:
    Copy
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
{
    /// Stands for "no background along this line".
    const INF: Self;
    const TWO: Self;
    /// A count as this type (rounded once).
    fn of(n: usize) -> Self;
}

impl EnvelopeFloat for f64 {
    const INF: f64 = INF;
    const TWO: f64 = 2.0;
    fn of(n: usize) -> f64 {
        n as f64
    }
}

impl EnvelopeFloat for f32 {
    const INF: f32 = INF as f32;
    const TWO: f32 = 2.0;
    fn of(n: usize) -> f32 {
        n as f32
    }
}

/// 1-D squared distance transform of `f` into `d` (lower envelope of
/// parabolas), samples `spacing` apart (`s2` = spacing², 1.0 for pixels;
/// distances come out in the spacing's unit, squared). `v`, `z` are
/// scratch buffers of length n and n + 1.
pub(crate) fn dt1d<T: EnvelopeFloat>(f: &[T], d: &mut [T], v: &mut [usize], z: &mut [T], s2: T) {
    let n = f.len();
    if n == 0 {
        return;
    }
    let mut k = 0usize;
    v[0] = 0;
    z[0] = -T::INF;
    z[1] = T::INF;
    let inter = |q: usize, p: usize| {
        ((f[q] + s2 * T::of(q * q)) - (f[p] + s2 * T::of(p * p)))
            / (T::TWO * s2 * (T::of(q) - T::of(p)))
    };
    for q in 1..n {
        let mut s = inter(q, v[k]);
        // z[0] = -INF: the guard only matters for non-finite input.
        while k > 0 && s <= z[k] {
            k -= 1;
            s = inter(q, v[k]);
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = T::INF;
    }
    k = 0;
    for (q, dq) in d.iter_mut().enumerate() {
        while z[k + 1] < T::of(q) {
            k += 1;
        }
        let p = v[k];
        let diff = T::of(q) - T::of(p);
        *dq = s2 * diff * diff + f[p];
    }
}

/// [`dt1d`] in integers, for finite input (every column had background):
/// the same envelope, since a breakpoint is a ratio of integers and
/// comparing two of them by cross-multiplication decides exactly what
/// comparing their correctly rounded quotients does (distinct ratios with
/// denominators below 2¹⁵ differ by far more than an f64 rounding error),
/// with no division. Breakpoint k is `zn[k] / zd[k]`, `zd[k] > 0`. Each
/// squared distance is written as `out(d²)`.
fn dt1d_int<T>(
    f: &[i64],
    d: &mut [T],
    out: impl Fn(i64) -> T,
    v: &mut [usize],
    zn: &mut [i64],
    zd: &mut [i64],
) {
    let n = f.len();
    if n == 0 {
        return;
    }
    let mut k = 0usize;
    v[0] = 0;
    // Numerator and denominator of the intersection of parabolas q and p.
    let inter = |q: usize, p: usize| {
        let (qi, pi) = (q as i64, p as i64);
        ((f[q] + qi * qi) - (f[p] + pi * pi), 2 * (qi - pi))
    };
    for q in 1..n {
        let (mut a, mut b) = inter(q, v[k]);
        // s <= z[k], z[0] being -∞.
        while k > 0 && a * zd[k] <= zn[k] * b {
            k -= 1;
            (a, b) = inter(q, v[k]);
        }
        k += 1;
        v[k] = q;
        zn[k] = a;
        zd[k] = b;
    }
    let last = k;
    k = 0;
    for (q, dq) in d.iter_mut().enumerate() {
        // z[k + 1] < q, z[last + 1] being +∞.
        while k < last && zn[k + 1] < q as i64 * zd[k + 1] {
            k += 1;
        }
        let p = v[k];
        let diff = q as i64 - p as i64;
        *dq = out(diff * diff + f[p]);
    }
}

/// Squared Euclidean distance from every foreground (non-zero) pixel to the
/// nearest background pixel; 0 on the background. With no background pixel
/// at all, foreground pixels get a huge value (1e20).
pub fn squared_edt(mask: &GrayImage) -> Vec<f64> {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let src = mask.as_raw();
    if let Some(d) = squared_edt_int(src, w, h) {
        return d;
    }
    squared_edt_float(src, w, h)
}

/// Buffers for [`edt_into`], kept from one call to the next.
#[derive(Debug, Default)]
pub(crate) struct EdtScratch {
    g: Vec<u32>,
    f: Vec<i64>,
    v: Vec<usize>,
    zn: Vec<i64>,
    zd: Vec<i64>,
    /// A run's padded squared heights, and its squared distances, for
    /// [`min_plus`].
    fu: Vec<u32>,
    best: Vec<u32>,
}

/// [`squared_edt`] in integers, when every column holds a background
/// pixel (always, for a crop with a margin; else `None`).
fn squared_edt_int(src: &[u8], w: usize, h: usize) -> Option<Vec<f64>> {
    let mut out = Vec::new();
    edt_int_into(
        src,
        w,
        h,
        &mut out,
        |d2| d2 as f64,
        &mut EdtScratch::default(),
    )
    .then_some(out)
}

/// The integer transform of `src` into `out` (resized to w × h), each
/// squared distance written as `conv(d²)`; false, with `out` unspecified,
/// when some column has no background.
///
/// Compiled also for AVX2 and AVX-512, chosen at run time (the same
/// operations in the same order in every version: the same result).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn edt_int_into<T: Copy + Default>(
    src: &[u8],
    w: usize,
    h: usize,
    out: &mut Vec<T>,
    conv: impl Fn(i64) -> T + Copy,
    s: &mut EdtScratch,
) -> bool {
    if w == 0 || h == 0 || w.max(h) >= 1 << 15 {
        return false;
    }
    // Phase 1: distance to the background down each column, two scans a
    // whole row at a time.
    let far = (w + h + 1) as u32;
    let g = &mut s.g;
    g.clear();
    g.extend(src[..w].iter().map(|&m| if m == 0 { 0 } else { far }));
    g.resize(w * h, 0);
    for y in 1..h {
        let (prev, cur) = g.split_at_mut(y * w);
        let prev = &prev[(y - 1) * w..];
        for ((c, &p), &m) in cur[..w].iter_mut().zip(prev).zip(&src[y * w..(y + 1) * w]) {
            *c = if m == 0 { 0 } else { p + 1 };
        }
    }
    for y in (0..h - 1).rev() {
        let (cur, next) = g.split_at_mut((y + 1) * w);
        for (c, &b) in cur[y * w..].iter_mut().zip(&next[..w]) {
            *c = (*c).min(b + 1);
        }
    }
    // Only the top row can still be `far` when a column has no background
    // (the upward scan carries the column's value to it).
    if g[..w].iter().any(|&v| v >= far) {
        return false;
    }
    // Phase 2, along the rows, one run of object pixels at a time: the
    // nearest parabola to a pixel of a run is never beyond the background
    // pixel ending the run on either side (that one is nearer, at height
    // 0), so each run is transformed with those two only, and background
    // pixels are simply 0.
    out.clear();
    out.resize(w * h, conv(0));
    s.f.resize(w, 0);
    s.v.resize(w, 0);
    s.zn.resize(w + 1, 0);
    s.zd.resize(w + 1, 0);
    s.best.resize(w, 0);
    for (row, o) in g.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
        let mut x = 0;
        while x < w {
            let Some(l) = row[x..].iter().position(|&c| c != 0).map(|i| x + i) else {
                break;
            };
            let r = row[l..].iter().position(|&c| c == 0).map_or(w, |i| l + i);
            // The run [l, r) and the background pixel each side of it.
            let (lo, hi) = (l.saturating_sub(1), (r + 1).min(w));
            x = r;
            // No pixel of the run is farther than `reach` from the
            // background: not beyond its column's height nor beyond the
            // nearest end of the run that is background. Short reaches
            // (thin objects, small nuclei: nearly all runs) take the
            // minimum over every parabola within reach, a few vectorised
            // passes; long ones the lower envelope.
            let to_end = match (l > 0, r < w) {
                (true, true) => (r - l).div_ceil(2),
                (true, false) | (false, true) => r - l,
                (false, false) => usize::MAX,
            };
            let tallest = row[l..r].iter().copied().max().unwrap_or(0) as usize;
            let reach = tallest.min(to_end);
            if reach <= BRUTE_REACH {
                let n = hi - lo;
                min_plus(&row[lo..hi], reach, &mut s.fu, &mut s.best[..n]);
                for (d, &b) in o[lo..hi].iter_mut().zip(&s.best[..n]) {
                    *d = conv(i64::from(b));
                }
                continue;
            }
            for (fv, &c) in s.f[lo..hi].iter_mut().zip(&row[lo..hi]) {
                *fv = i64::from(c) * i64::from(c);
            }
            dt1d_int(
                &s.f[lo..hi],
                &mut o[lo..hi],
                conv,
                &mut s.v,
                &mut s.zn,
                &mut s.zd,
            );
        }
    }
    true
}

/// Runs whose pixels are all within this many pixels of the background
/// are transformed by [`min_plus`] (its passes grow with the reach; the
/// lower envelope's cost does not).
const BRUTE_REACH: usize = 32;

/// The squared distance along a row segment `heights` (column distances)
/// when every pixel's nearest background is within `reach` pixels: the
/// least of (q − p)² + height(p)² over p within `reach` of q, into `best`
/// (as long as `heights`; `f` is scratch). Heights are capped at reach + 1
/// first, which changes no minimum (the true one is at most reach², and
/// so is the height it comes from) and keeps the sums small.
///
/// Sixteen outputs at a time, each kept in a register over every offset:
/// the squared heights are padded with `reach` samples each side too
/// large ever to be the least, so every step is a whole vector (the runs
/// of a follicle's rows are a few tens of pixels: by offsets, each a pass
/// over the run, most of the work was in the passes' scalar tails).
/// Compiled also for AVX2 and AVX-512, chosen at run time (integer
/// minima: the same result in every version).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn min_plus(heights: &[u32], reach: usize, f: &mut Vec<u32>, best: &mut [u32]) {
    const L: usize = 16;
    // Above any capped height's square plus any offset's square.
    const FAR: u32 = u32::MAX / 2;
    let n = heights.len().min(best.len());
    let cap = reach.min(1 << 15) as u32 + 1;
    // No offset reaches past the run.
    let reach = reach.min(n.saturating_sub(1)).min(1 << 15);
    // f[reach + x] = min(height(x), cap)²; FAR beyond the run.
    f.clear();
    f.resize(reach, FAR);
    f.extend(heights[..n].iter().map(|&c| {
        let c = c.min(cap);
        c * c
    }));
    f.resize(f.len() + reach + L, FAR);
    for x0 in (0..n).step_by(L) {
        let at = reach + x0;
        let mut acc: [u32; L] = f[at..at + L].try_into().expect("lane block");
        for j in 1..=reach {
            let jj = (j * j) as u32;
            let (right, left) = (&f[at + j..at + j + L], &f[at - j..at - j + L]);
            for l in 0..L {
                acc[l] = acc[l].min(right[l] + jj).min(left[l] + jj);
            }
        }
        let m = L.min(n - x0);
        best[x0..x0 + m].copy_from_slice(&acc[..m]);
    }
}

/// [`edt`] of a `w`×`h` mask into `out`, with buffers kept in `s`.
pub(crate) fn edt_into(src: &[u8], w: usize, h: usize, out: &mut Vec<f32>, s: &mut EdtScratch) {
    // Roots of small squared distances (all of them, in practice) from a
    // table of the same values.
    static ROOTS: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    let exact = |d2: i64| (d2 as f64).sqrt() as f32;
    let table = ROOTS.get_or_init(|| (0..4096).map(exact).collect());
    let root = |d2: i64| match usize::try_from(d2).ok().and_then(|i| table.get(i)) {
        Some(&r) => r,
        None => exact(d2),
    };
    if !edt_int_into(src, w, h, out, root, s) {
        out.clear();
        out.extend(
            squared_edt_float(src, w, h)
                .into_iter()
                .map(|d| d.sqrt() as f32),
        );
    }
}

/// [`squared_edt`] in floating point, with 1e20 standing for "no
/// background in this column".
fn squared_edt_float(src: &[u8], w: usize, h: usize) -> Vec<f64> {
    // Phase 1, down the columns of a binary image: the distance to the
    // nearest background pixel in the same column is two linear scans, done
    // a whole row at a time (contiguous, vectorisable).
    let far = (w + h) as f64 + 1.0;
    let mut g: Vec<f64> = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            g[i] = if src[i] == 0 {
                0.0
            } else if y == 0 {
                far
            } else {
                g[i - w] + 1.0
            };
        }
    }
    for y in (0..h.saturating_sub(1)).rev() {
        for x in 0..w {
            let i = y * w + x;
            let below = g[i + w] + 1.0;
            if below < g[i] {
                g[i] = below;
            }
        }
    }
    for v in g.iter_mut() {
        *v = if *v >= far { INF } else { *v * *v };
    }
    // Phase 2, along the rows: lower envelope of parabolas.
    let mut d = vec![0.0; w];
    let (mut v, mut z) = (vec![0usize; w], vec![0.0; w + 1]);
    for y in 0..h {
        let row = &mut g[y * w..(y + 1) * w];
        dt1d(row, &mut d, &mut v, &mut z, 1.0);
        for (r, dv) in row.iter_mut().zip(&d) {
            *r = dv.min(INF);
        }
    }
    g
}

/// Euclidean distance (not squared), in pixels.
pub fn edt(mask: &GrayImage) -> Vec<f32> {
    squared_edt(mask)
        .into_iter()
        .map(|d| d.sqrt() as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn square_block() {
        let m = GrayImage::from_fn(7, 7, |x, y| {
            Luma([if (1..6).contains(&x) && (1..6).contains(&y) {
                255
            } else {
                0
            }])
        });
        let d = squared_edt(&m);
        assert_eq!(d[0], 0.0);
        assert_eq!(d[7 + 1], 1.0);
        assert_eq!(d[3 * 7 + 3], 9.0);
        assert_eq!(d[2 * 7 + 3], 4.0);
    }

    #[test]
    fn diagonal_distance_is_euclidean() {
        // Only the top-left pixel is background.
        let m = GrayImage::from_fn(4, 4, |x, y| Luma([if x == 0 && y == 0 { 0 } else { 255 }]));
        let d = squared_edt(&m);
        assert_eq!(d[3 * 4 + 3], 18.0);
        assert_eq!(d[4 + 2], 5.0);
    }

    /// The padded, register-blocked brute force against its definition:
    /// runs shorter and longer than a vector, any reach up to past the
    /// run, heights above and below the cap.
    #[test]
    fn min_plus_equals_its_definition() {
        let mut rng = crate::synth::Rng::new(19);
        let mut f = Vec::new();
        for n in [1usize, 2, 15, 16, 17, 31, 33, 64, 70] {
            for reach in [0usize, 1, 5, 16, 32, 40] {
                let heights: Vec<u32> = (0..n).map(|_| (rng.unit() * 45.0) as u32).collect();
                let mut best = vec![0u32; n];
                min_plus(&heights, reach, &mut f, &mut best);
                let cap = reach as u32 + 1;
                for (q, &b) in best.iter().enumerate() {
                    let want = (0..n)
                        .filter(|&p| p.abs_diff(q) <= reach)
                        .map(|p| {
                            let c = heights[p].min(cap);
                            (p.abs_diff(q) * p.abs_diff(q)) as u32 + c * c
                        })
                        .min();
                    assert_eq!(Some(b), want, "n {n} reach {reach} q {q}");
                }
            }
        }
    }

    /// The integer transform equals the floating-point one wherever it
    /// applies, and hands over to it when a column has no background; so
    /// does `edt_into`.
    #[test]
    fn integer_transform_equals_floating_point() {
        let mut rng = crate::synth::Rng::new(8);
        // edt_into's buffers, reused across sizes.
        let (mut scratch, mut roots) = (EdtScratch::default(), Vec::new());
        for (w, h, p) in [
            (1, 1, 0.5),
            (1, 9, 1.0),
            (1, 9, 0.7),
            (9, 1, 0.7),
            (40, 30, 0.9),
            (64, 50, 0.97),
            (33, 70, 0.6),
        ] {
            for _ in 0..20 {
                let src: Vec<u8> = (0..w * h)
                    .map(|_| if rng.unit() < p { 255 } else { 0 })
                    .collect();
                let float = squared_edt_float(&src, w, h);
                match squared_edt_int(&src, w, h) {
                    Some(int) => assert_eq!(int, float, "{w}×{h} p{p}"),
                    None => {
                        // Some column is all foreground.
                        assert!((0..w).any(|x| (0..h).all(|y| src[y * w + x] != 0)));
                    }
                }
                edt_into(&src, w, h, &mut roots, &mut scratch);
                let m = GrayImage::from_raw(w as u32, h as u32, src).unwrap();
                assert_eq!(squared_edt(&m), float);
                assert_eq!(roots, edt(&m), "edt_into {w}×{h} p{p}");
            }
        }
        // Distances past the table of roots: one background pixel in a
        // corner of 120×90 (every column has background only through the
        // float path; a background bottom row keeps the integer one).
        for bottom_row in [false, true] {
            let (w, h) = (120, 90);
            let mut src = vec![255u8; w * h];
            src[0] = 0;
            if bottom_row {
                src[(h - 1) * w..].fill(0);
            }
            edt_into(&src, w, h, &mut roots, &mut scratch);
            let m = GrayImage::from_raw(w as u32, h as u32, src).unwrap();
            assert_eq!(roots, edt(&m));
            assert!(roots.iter().any(|&r| r > 64.0));
        }
        // Discs and bars from 1 to 60 px thick, touching the edges or not:
        // runs on both sides of BRUTE_REACH, with background at both ends
        // of a run, one end or neither (the 60 px bar spans the width).
        let (w, h) = (200, 150);
        for (cx, cy, r) in [(40.0, 40.0, 3.0), (100.0, 75.0, 33.0), (10.0, 140.0, 61.0)] {
            for bar in [0usize, 1, 31, 32, 33, 60] {
                let src: Vec<u8> = (0..w * h)
                    .map(|i| {
                        let (x, y) = ((i % w) as f64, (i / w) as f64);
                        let disc = (x - cx).powi(2) + (y - cy).powi(2) <= r * r;
                        let in_bar =
                            (i / w) >= 100 && (i / w) < 100 + bar && (i % w < 150 || bar == 60);
                        // Tall, odd widths: the middle is nearest the ends.
                        let post = (10..90).contains(&(i / w))
                            && (160..(160 + bar) | 1).contains(&(i % w));
                        if disc || in_bar || post {
                            255
                        } else {
                            0
                        }
                    })
                    .collect();
                let float = squared_edt_float(&src, w, h);
                assert_eq!(
                    squared_edt_int(&src, w, h),
                    Some(float.clone()),
                    "r{r} bar{bar}"
                );
                edt_into(&src, w, h, &mut roots, &mut scratch);
                let want: Vec<f32> = float.iter().map(|&d| d.sqrt() as f32).collect();
                assert_eq!(roots, want, "r{r} bar{bar}");
            }
        }
        // Brute force on one mask.
        let (w, h) = (23, 17);
        let src: Vec<u8> = (0..w * h)
            .map(|_| if rng.unit() < 0.7 { 255 } else { 0 })
            .collect();
        let d = squared_edt_int(&src, w, h).expect("background in every column");
        for i in 0..w * h {
            let want = (0..w * h)
                .filter(|&j| src[j] == 0)
                .map(|j| {
                    let (dx, dy) = (
                        (i % w) as f64 - (j % w) as f64,
                        (i / w) as f64 - (j / w) as f64,
                    );
                    dx * dx + dy * dy
                })
                .fold(f64::INFINITY, f64::min);
            assert_eq!(d[i], if src[i] == 0 { 0.0 } else { want }, "pixel {i}");
        }
    }
}

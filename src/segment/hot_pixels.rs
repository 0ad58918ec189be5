//! Hot pixels: single camera pixels far brighter than every neighbour
//! (a stuck or saturated photosite, a cosmic ray). No structure in a
//! confocal image is one pixel wide — the optics spread even a point
//! over its neighbours — so a pixel more than twice the brightest of
//! its 8 neighbours, and above it by more than a quarter of the
//! channel's range (not a flicker of noise in the dark), is not signal.
//! Left in, one saturated pixel sets the top of a channel's histogram and
//! drags Otsu's threshold above every nucleus. Each is replaced by that brightest neighbour, as ImageJ's
//! "Remove Outliers" replaces outliers by a local value (here the
//! maximum, which never darkens a real edge).

use crate::Sample;

/// The hot pixels of a w × h plane and their replacements: (index, the
/// brightest of its 8 neighbours), in raster order. A pixel is hot when
/// it is above 2 × that neighbour (and the neighbour is not negative) and
/// above it by more than (max − min) / 4 of the plane (`range`: its
/// least and greatest value).
///
/// Most rows hold none: each row is first tested 64 pixels at a time,
/// branch-free, against its row neighbours alone (a hot pixel is over
/// twice both), and only blocks that pass are looked at pixel by pixel.
pub fn find<T: Sample>(data: &[T], w: usize, h: usize, range: (f32, f32)) -> Vec<(usize, T)> {
    let mut hot = Vec::new();
    if w == 0 || h == 0 || data.len() < w * h {
        return hot;
    }
    let step = (range.1 - range.0) / 4.0;
    let mut row_f = vec![0f32; w + 2];
    for y in 0..h {
        let row = &data[y * w..(y + 1) * w];
        // The row as floats between two neutral ends.
        row_f[0] = f32::NEG_INFINITY;
        row_f[w + 1] = f32::NEG_INFINITY;
        for (o, v) in row_f[1..=w].iter_mut().zip(row) {
            *o = v.to_f32();
        }
        for start in (0..w).step_by(64) {
            let end = (start + 64).min(w);
            if !block_may_hold_hot(&row_f[start..end + 2], step) {
                continue;
            }
            for x in start..end {
                let v = row_f[x + 1];
                let m = row_f[x].max(row_f[x + 2]).max(0.0);
                if v.is_nan() || v <= 2.0 * m || v - m <= step {
                    continue;
                }
                if let Some(n) = brightest_neighbour(data, w, h, x, y) {
                    let m = n.to_f32();
                    if m >= 0.0 && v > 2.0 * m && v - m > step {
                        hot.push((y * w + x, n));
                    }
                }
            }
        }
    }
    hot
}

/// Whether some sample of `padded[1..len − 1]` is over twice both its
/// row neighbours (and 0), and over them by more than `step`: one
/// vectorisable pass, no branch per sample.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn block_may_hold_hot(padded: &[f32], step: f32) -> bool {
    let n = padded.len().saturating_sub(2);
    let (l, c, r) = (&padded[..n], &padded[1..n + 1], &padded[2..n + 2]);
    l.iter().zip(c).zip(r).fold(false, |any, ((&a, &v), &b)| {
        let m = if a > b { a } else { b };
        let m = if m > 0.0 { m } else { 0.0 };
        any | ((v > 2.0 * m) & (v - m > step))
    })
}

/// The least and greatest of 16-bit samples, as floats ((0, 0) when
/// empty): per-lane minima and maxima over blocks, vectorised. Compiled
/// also for AVX2 and AVX-512, chosen at run time.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
pub fn range_u16(data: &[u16]) -> (f32, f32) {
    if data.is_empty() {
        return (0.0, 0.0);
    }
    let (mut lo, mut hi) = ([u16::MAX; 32], [0u16; 32]);
    let mut blocks = data.chunks_exact(32);
    for b in &mut blocks {
        for i in 0..32 {
            lo[i] = lo[i].min(b[i]);
            hi[i] = hi[i].max(b[i]);
        }
    }
    for &v in blocks.remainder() {
        lo[0] = lo[0].min(v);
        hi[0] = hi[0].max(v);
    }
    let l = lo.iter().copied().min().unwrap_or(0);
    let h = hi.iter().copied().max().unwrap_or(0);
    (f32::from(l), f32::from(h))
}

/// The brightest of the up to 8 neighbours of (x, y) (`None` in a 1 × 1
/// plane).
fn brightest_neighbour<T: Sample>(data: &[T], w: usize, h: usize, x: usize, y: usize) -> Option<T> {
    let mut best: Option<T> = None;
    for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
        for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
            if (nx, ny) == (x, y) {
                continue;
            }
            let v = data[ny * w + nx];
            if best.is_none_or(|b| v.to_f32() > b.to_f32()) {
                best = Some(v);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::threshold::range;

    /// The plain rule, pixel by pixel, over every neighbour.
    fn brute(data: &[f32], w: usize, h: usize) -> Vec<(usize, f32)> {
        let lo = data.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let step = (hi - lo) / 4.0;
        let mut out = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let mut m = f32::NEG_INFINITY;
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                        if (dx, dy) != (0, 0)
                            && nx >= 0
                            && ny >= 0
                            && nx < w as i64
                            && ny < h as i64
                        {
                            m = m.max(data[ny as usize * w + nx as usize]);
                        }
                    }
                }
                let v = data[y * w + x];
                if m >= 0.0 && v > 2.0 * m && v - m > step {
                    out.push((y * w + x, m));
                }
            }
        }
        out
    }

    #[test]
    fn finds_what_the_plain_rule_finds() {
        let mut rng = crate::synth::Rng::new(5);
        for (w, h) in [(1, 1), (1, 9), (9, 1), (17, 13), (40, 31)] {
            let mut data: Vec<f32> = (0..w * h)
                .map(|_| 100.0 + 20.0 * rng.unit() as f32)
                .collect();
            // Hot pixels, a hot pair (not single: kept), a bright 3×3 spot
            // (kept), edges and corners.
            for &i in &[0usize, w * h - 1, w * h / 2, w * h / 3] {
                data[i] = 4095.0;
            }
            let got = find(&data, w, h, range(&data));
            assert_eq!(got, brute(&data, w, h), "{w}x{h}");
        }
        // A 3 × 3 bright spot and a hot pair are not hot pixels.
        let (w, h) = (20, 20);
        let mut data = vec![100f32; w * h];
        for y in 5..8 {
            for x in 5..8 {
                data[y * w + x] = 3000.0;
            }
        }
        data[15 * w + 15] = 4095.0;
        data[15 * w + 16] = 4095.0;
        data[2 * w + 17] = 4095.0;
        assert_eq!(find(&data, w, h, range(&data)), vec![(2 * w + 17, 100.0)]);
        let ints: Vec<u16> = data.iter().map(|&v| v as u16).collect();
        assert_eq!(range_u16(&ints), range(&data));
        assert_eq!(
            find(&ints, w, h, range_u16(&ints)),
            vec![(2 * w + 17, 100u16)]
        );
        let odd: Vec<u16> = (0..77u16).map(|i| (i * 37) % 101 + 3).collect();
        assert_eq!(range_u16(&odd), (3.0, 103.0));
        assert_eq!(range_u16(&[]), (0.0, 0.0));
    }
}

//! Exact Euclidean distance transform in linear time
//! (Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled
//! Functions", 2012).

use image::GrayImage;

const INF: f64 = 1e20;

/// 1-D squared distance transform of `f` into `d` (lower envelope of
/// parabolas). `v`, `z` are scratch buffers of length n and n + 1.
fn dt1d(f: &[f64], d: &mut [f64], v: &mut [usize], z: &mut [f64]) {
    let n = f.len();
    if n == 0 {
        return;
    }
    let mut k = 0usize;
    v[0] = 0;
    z[0] = -INF;
    z[1] = INF;
    let inter = |q: usize, p: usize| {
        ((f[q] + (q * q) as f64) - (f[p] + (p * p) as f64)) / (2.0 * (q as f64 - p as f64))
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
        z[k + 1] = INF;
    }
    k = 0;
    for (q, dq) in d.iter_mut().enumerate() {
        while z[k + 1] < q as f64 {
            k += 1;
        }
        let p = v[k];
        let diff = q as f64 - p as f64;
        *dq = diff * diff + f[p];
    }
}

/// Squared Euclidean distance from every foreground (non-zero) pixel to the
/// nearest background pixel; 0 on the background. With no background pixel
/// at all, foreground pixels get a huge value (1e20).
pub fn squared_edt(mask: &GrayImage) -> Vec<f64> {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let src = mask.as_raw();
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
        dt1d(row, &mut d, &mut v, &mut z);
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
}

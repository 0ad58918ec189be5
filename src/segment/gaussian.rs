//! Separable Gaussian blur, σ in pixels, written for speed and memory: the same kernel
//! as `imageproc::filter::gaussian_blur_f32` (radius ⌈2σ⌉, normalised,
//! edges replicated), but the horizontal pass fills a ring of 2r + 1 rows
//! and the vertical pass reads that ring a whole row at a time, so both
//! inner loops run along memory and vectorise, and no intermediate image
//! is allocated.

/// The normalised kernel of radius ⌈2σ⌉ (imageproc's).
pub fn kernel(sigma: f32) -> Vec<f32> {
    let r = (2.0 * sigma).ceil().max(0.0) as usize;
    let mut k: Vec<f32> = (0..=2 * r)
        .map(|i| {
            let d = i as f32 - r as f32;
            (-(d * d) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// Blurs the `w`×`h` image `src` into `dst` with a Gaussian of σ `sigma`
/// pixels (`sigma` > 0; edges replicated).
pub fn blur<T: crate::Sample>(src: &[T], dst: &mut [f32], w: usize, h: usize, sigma: f32) {
    blur_rows(src, dst, w, h, sigma, |_, _| {});
}

/// [`blur`], calling `post(y, made)` as each output row is made (while
/// it is still in cache), rows in order: `made` is `dst`'s rows `0..=y`,
/// row y last.
///
/// Compiled also for AVX2 and AVX-512 and chosen at run time; every
/// version adds the same products in the same order, so all give the
/// same bits.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
pub fn blur_rows<T: crate::Sample>(
    src: &[T],
    dst: &mut [f32],
    w: usize,
    h: usize,
    sigma: f32,
    mut post: impl FnMut(usize, &mut [f32]),
) {
    assert!(
        src.len() >= w * h && dst.len() >= w * h,
        "blur: buffers smaller than {w}×{h}"
    );
    if w == 0 || h == 0 {
        return;
    }
    let k = kernel(sigma);
    let r = k.len() / 2;
    let taps = k.len();
    let mut pad = vec![0f32; w + 2 * r];
    let mut ring = vec![0f32; taps * w];
    // Row indices into the ring of the taps of the current output row.
    let mut rows = vec![0usize; taps];
    let mut have = 0usize; // rows [0, have) filtered into the ring so far
    for y in 0..h {
        while have <= (y + r).min(h - 1) {
            // The row after is asked for now, while this one is filtered
            // (the field comes from memory).
            crate::cache::prefetch_range(src, (have + 1) * w, (have + 2) * w);
            let row = &src[have * w..(have + 1) * w];
            pad[..r].fill(row[0].to_f32());
            for (p, &v) in pad[r..r + w].iter_mut().zip(row) {
                *p = v.to_f32();
            }
            pad[r + w..].fill(row[w - 1].to_f32());
            let slot = have % taps;
            convolve(&k, |j| &pad[j..j + w], &mut ring[slot * w..(slot + 1) * w]);
            have += 1;
        }
        for (j, o) in rows.iter_mut().enumerate() {
            *o = ((y + j).saturating_sub(r).min(h - 1) % taps) * w;
        }
        let out = &mut dst[y * w..(y + 1) * w];
        convolve(&k, |j| &ring[rows[j]..rows[j] + w], out);
        post(y, &mut dst[..(y + 1) * w]);
    }
}

/// `out[x] = Σ_j k[j] · line(j)[x]`, summed from 0.0 in tap order, lanes
/// of x at a time with the running sums in registers (the order of the
/// additions, and so the result, is that of one pass per tap).
#[inline(always)]
fn convolve<'a>(k: &[f32], line: impl Fn(usize) -> &'a [f32], out: &mut [f32]) {
    const L: usize = 16;
    let n = out.len();
    let mut x = 0;
    while x + L <= n {
        let mut acc = [0f32; L];
        for (j, &kj) in k.iter().enumerate() {
            let v: &[f32; L] = line(j)[x..x + L].try_into().expect("lane block");
            for l in 0..L {
                acc[l] += kj * v[l];
            }
        }
        out[x..x + L].copy_from_slice(&acc);
        x += L;
    }
    for (i, o) in out.iter_mut().enumerate().skip(x) {
        let mut acc = 0f32;
        for (j, &kj) in k.iter().enumerate() {
            acc += kj * line(j)[i];
        }
        *o = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FloatImage;

    #[test]
    fn kernel_is_normalised_symmetric_and_imageprocs_size() {
        for s in [0.3f32, 0.5, 1.0, 2.0, 3.7] {
            let k = kernel(s);
            assert_eq!(k.len(), 2 * (2.0 * s).ceil() as usize + 1);
            assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            for i in 0..k.len() {
                assert_eq!(k[i], k[k.len() - 1 - i]);
            }
        }
    }

    #[test]
    fn by_hand_on_a_tiny_image() {
        // A single bright pixel in a 5×1 row: the output is the kernel
        // itself around it; the column direction (h = 1) leaves it alone.
        let src = [0.0, 0.0, 1.0, 0.0, 0.0];
        let mut dst = [0.0; 5];
        blur(&src, &mut dst, 5, 1, 0.5);
        let k = kernel(0.5);
        assert_eq!(k.len(), 3);
        for (a, b) in dst[1..4].iter().zip(&k) {
            assert!((a - b).abs() < 1e-7);
        }
        assert_eq!((dst[0], dst[4]), (0.0, 0.0));
        // A constant image stays constant, edges included.
        let c = vec![7.0f32; 6 * 4];
        let mut d = vec![0.0; 6 * 4];
        blur(&c, &mut d, 6, 4, 1.3);
        assert!(d.iter().all(|v| (v - 7.0).abs() < 1e-5));
    }

    /// The definition, one output value at a time: products added from 0.0
    /// in tap order, rows then columns, edges replicated. The fast version
    /// (whichever the machine runs: plain, AVX2 or AVX-512) gives the same
    /// bits.
    #[test]
    fn same_bits_as_the_definition() {
        let mut rng = crate::synth::Rng::new(9);
        for (w, h, s) in [
            (53usize, 31usize, 0.5f32),
            (40, 17, 2.0),
            (16, 5, 1.2),
            (3, 40, 0.9),
        ] {
            let src: Vec<f32> = (0..w * h).map(|_| rng.unit() as f32 * 4000.0).collect();
            let k = kernel(s);
            let r = k.len() / 2;
            let at = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
            let mut rows = vec![0f32; w * h];
            for y in 0..h {
                for x in 0..w {
                    let mut acc = 0f32;
                    for (j, &kj) in k.iter().enumerate() {
                        acc += kj * src[y * w + at(x as isize + j as isize - r as isize, w)];
                    }
                    rows[y * w + x] = acc;
                }
            }
            let mut want = vec![0f32; w * h];
            for y in 0..h {
                for x in 0..w {
                    let mut acc = 0f32;
                    for (j, &kj) in k.iter().enumerate() {
                        acc += kj * rows[at(y as isize + j as isize - r as isize, h) * w + x];
                    }
                    want[y * w + x] = acc;
                }
            }
            let mut got = vec![0f32; w * h];
            blur(&src, &mut got, w, h, s);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{w}×{h} σ{s}");
        }
    }

    #[test]
    fn equals_imageproc() {
        let mut rng = crate::synth::Rng::new(4);
        for (w, h, s) in [
            (37, 23, 0.5f32),
            (64, 9, 2.0),
            (5, 40, 3.3),
            (1, 1, 1.0),
            (3, 2, 4.0),
        ] {
            let img = FloatImage::from_fn(w, h, |_, _| image::Luma([rng.unit() as f32 * 100.0]));
            let want = imageproc::filter::gaussian_blur_f32(&img, s);
            let mut got = vec![0.0; (w * h) as usize];
            blur(img.as_raw(), &mut got, w as usize, h as usize, s);
            for (a, b) in got.iter().zip(want.as_raw()) {
                assert!((a - b).abs() < 1e-3, "{w}×{h} σ{s}: {a} vs {b}");
            }
        }
    }
}

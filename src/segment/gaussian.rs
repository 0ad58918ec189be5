//! Separable Gaussian blur, written for speed and memory: the same kernel
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
    let mut have = 0usize; // rows [0, have) filtered into the ring so far
    let mut horizontal = |y: usize, ring: &mut [f32]| {
        let row = &src[y * w..(y + 1) * w];
        pad[..r].fill(row[0].to_f32());
        for (p, &v) in pad[r..r + w].iter_mut().zip(row) {
            *p = v.to_f32();
        }
        pad[r + w..].fill(row[w - 1].to_f32());
        let out = &mut ring[(y % taps) * w..(y % taps + 1) * w];
        out.fill(0.0);
        for (j, &kj) in k.iter().enumerate() {
            for (o, &v) in out.iter_mut().zip(&pad[j..j + w]) {
                *o += kj * v;
            }
        }
    };
    for y in 0..h {
        while have <= (y + r).min(h - 1) {
            horizontal(have, &mut ring);
            have += 1;
        }
        let out = &mut dst[y * w..(y + 1) * w];
        out.fill(0.0);
        for (j, &kj) in k.iter().enumerate() {
            let yy = (y + j).saturating_sub(r).min(h - 1);
            let row = &ring[(yy % taps) * w..(yy % taps + 1) * w];
            for (o, &v) in out.iter_mut().zip(row) {
                *o += kj * v;
            }
        }
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

//! A local contrast threshold: a pixel belongs to an object when it
//! reaches a fraction of the brightest value near it — the local
//! threshold of Bernsen (1986), (max + min) / 2 over a window, with the
//! minimum taken as 0 because the background has been removed, and the
//! half made a parameter. Each object is then cut at its own level,
//! a dim follicle at a fraction of its own brightness rather than of
//! the brightest in the field; a global floor keeps the noise out.
//!
//! The window's maximum is separable, a running maximum along rows and
//! then columns (van Herk 1992 / Gil & Werman 1993, the top-hat's kernels).

use image::GrayImage;

use super::top_hat::dilate_square;
use crate::FloatImage;

/// The greatest value within the (2r + 1)² square around each pixel
/// (clamped at the borders), r = `radius_px` rounded: a grey dilation,
/// streamed a row at a time (the top-hat's running maxima).
pub fn local_max(img: &FloatImage, radius_px: f64) -> FloatImage {
    dilate_square(img, radius_px.round().max(0.0) as usize)
}

/// The mask (255 / 0) of the pixels of `img` at or above `floor` and at
/// or above `fraction` × the greatest value within `radius_px` of them.
pub fn mask_local(img: &FloatImage, floor: f32, fraction: f32, radius_px: f64) -> GrayImage {
    let peak = local_max(img, radius_px);
    let (w, h) = img.dimensions();
    let mut data = crate::pool::take::<u8>(img.as_raw().len());
    for ((m, &v), &p) in data.iter_mut().zip(img.as_raw()).zip(peak.as_raw()) {
        *m = if v >= floor && v >= fraction * p {
            255
        } else {
            0
        };
    }
    crate::pool::give_image(peak);
    GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// The local maximum equals the brute-force maximum over the clamped
    /// square, for assorted radii and sizes.
    #[test]
    fn local_max_equals_brute_force() {
        let mut rng = crate::synth::Rng::new(7);
        for (w, h) in [(1u32, 1u32), (13, 7), (40, 33)] {
            let img = FloatImage::from_fn(w, h, |_, _| Luma([(rng.unit() * 100.0) as f32]));
            for r in [0.0, 1.0, 2.4, 6.0, 50.0] {
                let got = local_max(&img, r);
                let ri = f64::round(r) as i64;
                for y in 0..h as i64 {
                    for x in 0..w as i64 {
                        let mut m = f32::NEG_INFINITY;
                        for yy in (y - ri).max(0)..=(y + ri).min(h as i64 - 1) {
                            for xx in (x - ri).max(0)..=(x + ri).min(w as i64 - 1) {
                                m = m.max(img.get_pixel(xx as u32, yy as u32)[0]);
                            }
                        }
                        assert_eq!(got.get_pixel(x as u32, y as u32)[0], m, "{w}x{h} r {r}");
                    }
                }
            }
        }
    }

    /// A bright and a dim plateau: each is kept whole at half its own
    /// level, the dim one though it is below half the bright one; the
    /// floor drops the noise between them; the bright one's skirt, below
    /// half its level, is not kept.
    #[test]
    fn dim_and_bright_objects_are_each_cut_at_their_own_level() {
        let img = FloatImage::from_fn(60, 20, |x, _| {
            Luma([match x {
                5..=14 => 1000.0,
                15..=16 => 300.0, // the bright one's skirt
                40..=49 => 100.0,
                _ => 5.0,
            }])
        });
        let m = mask_local(&img, 20.0, 0.5, 4.0);
        let row: Vec<u8> = (0..60).map(|x| m.get_pixel(x, 10)[0]).collect();
        for (x, &v) in row.iter().enumerate() {
            let want = (5..=14).contains(&x) || (40..=49).contains(&x);
            assert_eq!(v == 255, want, "x {x}");
        }
    }
}

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
/// or above `fraction` × the greatest value within `radius_px` of them;
/// then each object of that mask regrown at its own level
/// ([`regrow_at_own_level`], up to half `radius_px`).
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
    let mut mask = GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h));
    regrow_at_own_level(img, &mut mask, floor, fraction, REGROW * radius_px);
    mask
}

/// How far an object is regrown at its own level, × the local window's
/// half-side (4 µm at the default 8 µm).
const REGROW: f64 = 0.5;

/// Gives back to each object (8-connected) of `mask` the pixels of `img`
/// next to it that the local test took because a brighter object lies
/// near: those at or above `floor` and `fraction` × the object's own
/// brightest, grown from it (4-connected, breadth first, the nearer
/// object first) at most `reach_px` steps.
///
/// The window's maximum cuts a dim follicle at the brighter neighbour's
/// level on the side facing it, for a window's width: a dim body lying
/// against a bright one loses its near side, and a small one all but
/// vanishes. Judged against its own level, that side comes back; the
/// bright body's skirt, below a fraction of its own level, does not.
pub fn regrow_at_own_level(
    img: &FloatImage,
    mask: &mut GrayImage,
    floor: f32,
    fraction: f32,
    reach_px: f64,
) {
    let steps = reach_px.max(0.0).floor() as u32;
    if steps == 0 {
        return;
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    let values = img.as_raw();
    let (mut runs, mut starts) = (Vec::new(), Vec::new());
    crate::segment::label::component_runs(mask.as_raw(), w, &mut runs, &mut starts);
    let data = &mut **mask;
    // A pixel the local test alone left out: above the floor, not set.
    let left_out = |data: &[u8], j: usize| data[j] == 0 && values[j] >= floor;
    let neighbours = |i: usize| crate::segment::label::four_neighbours(i, w, h);
    // The growth starts from each object's pixels next to one left out
    // (no other can reach one), with the object's own level (its
    // brightest pixel), in raster order of pixel; breadth first, so a
    // pixel goes to the nearer object.
    let mut seeds: Vec<(usize, f32)> = Vec::new();
    for c in starts.windows(2) {
        let object = &runs[c[0]..c[1]];
        let pixels = || {
            object.iter().flat_map(|&(y, l, r)| {
                let o = y as usize * w;
                (o + l as usize)..(o + r as usize)
            })
        };
        let level = pixels()
            .map(|i| values[i])
            .fold(f32::NEG_INFINITY, f32::max);
        let wanted = fraction * level;
        seeds.extend(
            pixels()
                .filter(|&i| {
                    neighbours(i)
                        .into_iter()
                        .flatten()
                        .any(|j| left_out(data, j) && values[j] >= wanted)
                })
                .map(|i| (i, level)),
        );
    }
    if seeds.is_empty() {
        return;
    }
    seeds.sort_unstable_by_key(|&(i, _)| i);
    let mut queue: std::collections::VecDeque<(usize, f32, u32)> =
        seeds.into_iter().map(|(i, level)| (i, level, 0)).collect();
    while let Some((i, level, step)) = queue.pop_front() {
        for j in neighbours(i).into_iter().flatten() {
            if left_out(data, j) && values[j] >= fraction * level {
                data[j] = 255;
                if step + 1 < steps {
                    queue.push_back((j, level, step + 1));
                }
            }
        }
    }
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

    /// A dim plateau lying against a bright one: the local window takes
    /// the dim one's near side; regrown at its own level it comes back,
    /// as far as the reach, and the bright one claims none of it.
    #[test]
    fn a_dim_object_against_a_bright_one_is_regrown_at_its_own_level() {
        let img = FloatImage::from_fn(60, 20, |x, _| {
            Luma([match x {
                5..=14 => 1000.0,
                15..=34 => 200.0, // a dim body lying against it
                _ => 5.0,
            }])
        });
        let row = |m: &GrayImage| -> Vec<usize> {
            (0..60usize)
                .filter(|&x| m.get_pixel(x as u32, 10)[0] == 255)
                .collect()
        };
        // The local test alone (half the brightest within 4 px) takes
        // the dim body's first 4 columns.
        let peak = local_max(&img, 4.0);
        let mut m = GrayImage::from_fn(60, 20, |x, y| {
            let (v, p) = (img.get_pixel(x, y)[0], peak.get_pixel(x, y)[0]);
            Luma([if v >= 20.0 && v >= 0.5 * p { 255 } else { 0 }])
        });
        let alone: Vec<usize> = (5..=14).chain(19..=34).collect();
        assert_eq!(row(&m), alone);
        // Regrown at its own level (200: 100 and up), 4 steps: all back;
        // the bright body (500 and up) takes none of them.
        regrow_at_own_level(&img, &mut m, 20.0, 0.5, 4.0);
        assert_eq!(row(&m), (5..=34).collect::<Vec<_>>());
        // 2 steps: two columns back.
        let mut m2 = GrayImage::from_fn(60, 20, |x, y| {
            Luma([if alone.contains(&(x as usize)) && y < 20 {
                255
            } else {
                0
            }])
        });
        regrow_at_own_level(&img, &mut m2, 20.0, 0.5, 2.0);
        assert_eq!(row(&m2), (5..=14).chain(17..=34).collect::<Vec<_>>());
        // mask_local regrows by REGROW × the radius: 2 px here.
        assert_eq!(row(&mask_local(&img, 20.0, 0.5, 4.0)), row(&m2));
    }

    /// A bright and a dim plateau: each is kept whole at half its own
    /// level, the dim one though it is below half the bright one; the
    /// floor drops the noise between them; the bright one's skirt, below
    /// half its level, is not kept (nor regrown: under half its own).
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

//! Binary morphology of a 3D mask with a ball in µm (an ellipsoid in
//! voxels when the z step differs from the pixel size), exact through the
//! distance transform: the erosion by a ball of radius r keeps the voxels
//! farther than r from the background, the dilation adds those within r
//! of the eroded set (Danielsson 1980; as in ITK's and scikit-image's
//! distance-based morphology). And hole filling, slice by slice.

use super::distance::squared_edt;
use crate::segment::morph::fill_holes;
use crate::volume::Volume;

/// `mask` opened by a ball of radius `radius` (in the unit of `spacing`,
/// the voxel spacing along x, y, z; x and y alike), rounded to whole
/// pixels as the 2D opening's disc is: objects thinner than the ball are
/// removed, the rest keeps its shape. Outside the volume counts as
/// foreground (an object cut by the volume's edge is not eroded from it).
/// A ball thinner than one z step is a disc in each slice: then each slice
/// is opened by the 2D kernel.
pub fn open(mask: Volume<u8>, radius: f64, spacing: [f64; 3]) -> Volume<u8> {
    let k = (radius / spacing[0]).round();
    let z_px = spacing[2] / spacing[0];
    if k == 0.0 {
        return mask;
    }
    if k < z_px {
        return open_slices(mask, k);
    }
    // In pixels along x–y: the squared distances there are integers.
    let px = [1.0, 1.0, z_px];
    let r2 = (k * k) as f32;
    let eroded = squared_edt(&mask, px).map(|d| u8::from(d > r2));
    drop(mask);
    // The distance from every voxel to the nearest eroded one: the
    // transform of the eroded set's complement.
    let outside = eroded.map(|e| u8::from(e == 0));
    let to_eroded = squared_edt(&outside, px);
    let mut out = to_eroded.map(|d| u8::from(d <= r2));
    // Nothing eroded survives: the transform saw no "background".
    if !eroded.data.contains(&1) {
        out.data.fill(0);
    }
    out
}

/// [`open`] by a ball thinner than one z step: the ball is a disc within
/// each slice, so every slice is opened on its own by the 2D kernel (disc
/// radius `radius_px` pixels), in place.
fn open_slices(mut mask: Volume<u8>, radius_px: f64) -> Volume<u8> {
    let (w, h) = (mask.width as u32, mask.height as u32);
    for z in 0..mask.depth {
        let slice = mask.slice_mut(z);
        let img: Vec<u8> = slice
            .iter()
            .map(|&v| if v != 0 { 255 } else { 0 })
            .collect();
        let img =
            image::GrayImage::from_raw(w, h, img).expect("a slice holds width × height voxels");
        let opened = crate::segment::morph::open(&img, radius_px);
        for (o, &v) in slice.iter_mut().zip(opened.as_raw()) {
            *o = u8::from(v != 0);
        }
    }
    mask
}

/// Holes filled in every x–y slice (the result is 0/1), in place:
/// background not connected to the slice's border becomes foreground.
/// Slice by slice on purpose: a membrane-stained follicle is a tube whose
/// lumen is closed in each cross-section but open along the follicle's
/// axis, which a 3D fill would leave empty.
pub fn fill_holes_per_slice(mut mask: Volume<u8>) -> Volume<u8> {
    let (w, h) = (mask.width as u32, mask.height as u32);
    for z in 0..mask.depth {
        let slice = mask.slice_mut(z);
        let img = image::GrayImage::from_raw(w, h, slice.to_vec())
            .expect("a slice holds width × height voxels");
        for (o, &v) in slice.iter_mut().zip(fill_holes(&img).as_raw()) {
            *o = u8::from(v != 0);
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::volume::neighbour;

    /// Brute force: the minimum over the ball (outside the volume counting
    /// as foreground), then the maximum over it.
    fn open_reference(mask: &Volume<u8>, r: f64, s: [f64; 3]) -> Volume<u8> {
        let dims = (mask.width, mask.height, mask.depth);
        // The radius in whole pixels, as `open` rounds it.
        let r = (r / s[0]).round() * s[0];
        let reach = |sp: f64| (r / sp).floor() as i32;
        let mut ball = Vec::new();
        for dz in -reach(s[2])..=reach(s[2]) {
            for dy in -reach(s[1])..=reach(s[1]) {
                for dx in -reach(s[0])..=reach(s[0]) {
                    let d2 = (dx as f64 * s[0]).powi(2)
                        + (dy as f64 * s[1]).powi(2)
                        + (dz as f64 * s[2]).powi(2);
                    if d2 <= r * r {
                        ball.push((dx, dy, dz));
                    }
                }
            }
        }
        let apply = |m: &Volume<u8>, erode: bool| {
            let mut out = m.clone();
            for z in 0..dims.2 {
                for y in 0..dims.1 {
                    for x in 0..dims.0 {
                        let vals = ball
                            .iter()
                            .filter_map(|&o| neighbour((x, y, z), o, dims))
                            .map(|(a, b, c)| m.get(a, b, c));
                        let i = m.index(x, y, z);
                        out.data[i] = if erode {
                            vals.min().unwrap_or(1)
                        } else {
                            vals.max().unwrap_or(0)
                        };
                    }
                }
            }
            out
        };
        apply(&apply(mask, true), false)
    }

    #[test]
    fn opening_equals_min_then_max_over_the_ball() {
        for (seed, r, s) in [
            (1u64, 1.37, [1.0, 1.0, 1.0]),
            (2, 1.9, [0.6, 0.6, 1.7]),
            (3, 2.3, [0.8, 0.8, 2.1]),
            (4, 0.9, [0.5, 0.5, 0.5]),
            (5, 1.3, [0.65, 0.65, 2.5]),
            (6, 2.6, [0.65, 0.65, 2.5]),
        ] {
            // Random blobs: a coarse random field, each voxel set where its
            // cell is.
            let (w, h, d) = (13, 11, 8);
            let mut st = seed;
            let cells: Vec<u8> = (0..64)
                .map(|_| {
                    st = st
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    u8::from((st >> 33) % 3 != 0)
                })
                .collect();
            let data = (0..w * h * d)
                .map(|i| {
                    let (x, y, z) = (i % w, (i / w) % h, i / (w * h));
                    cells[(x / 4) + 4 * ((y / 4) + 4 * (z / 3).min(3)) % 64]
                })
                .collect();
            let m = Volume::from_vec(w, h, d, data).unwrap();
            assert_eq!(
                open(m.clone(), r, s),
                open_reference(&m, r, s),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn a_tube_lumen_is_filled_in_each_slice() {
        let mut m = Volume::filled(7, 7, 3, 0u8);
        for z in 0..3 {
            for y in 1..6 {
                for x in 1..6 {
                    if x == 1 || x == 5 || y == 1 || y == 5 {
                        let i = m.index(x, y, z);
                        m.data[i] = 1;
                    }
                }
            }
        }
        let f = fill_holes_per_slice(m.clone());
        assert!((0..3).all(|z| f.get(3, 3, z) == 1));
        assert_eq!(f.get(0, 0, 1), 0);
    }
}

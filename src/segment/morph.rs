//! Binary morphology on 0/255 masks: hole filling (background not
//! connected to the image border becomes foreground, as
//! `scipy.ndimage.binary_fill_holes`; Soille, "Morphological Image
//! Analysis", 2003, §6.3) and opening by a disc (erosion then dilation,
//! each a threshold of the exact Euclidean distance transform, so the
//! cost does not grow with the radius; radius in pixels).

use super::distance::squared_edt;
use image::GrayImage;

/// Fills holes: background pixels not 4-connected to the image border
/// become foreground (the runs of the result are found without drawing
/// it by `filled_runs`).
pub fn fill_holes(mask: &GrayImage) -> GrayImage {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    if w == 0 || h == 0 {
        return mask.clone();
    }
    let mut out = crate::pool::take::<u8>(w * h);
    out.fill(0);
    for (y, l, r) in filled_runs(mask) {
        let o = y as usize * w;
        out[o + l as usize..o + r as usize].fill(255);
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| mask.clone())
}

/// The foreground of [`fill_holes`]`(mask)` as its maximal runs (row,
/// first column, one past the last), in raster order, without drawing
/// it. The background is read as runs along rows (found a block of bytes
/// at a time); runs of neighbouring rows that overlap are joined
/// (union-find over runs, a few tens of thousands on a 2048² field, not
/// millions of pixels); the foreground is what lies between the runs of
/// the components that reach the border.
pub(crate) fn filled_runs(mask: &GrayImage) -> Vec<super::label::Run> {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let src = mask.as_raw();
    // Background runs [l, r) of each row, rows in order; row y's are
    // runs[starts[y]..starts[y + 1]].
    let mut runs: Vec<(u32, u32)> = Vec::new();
    let mut starts: Vec<usize> = Vec::with_capacity(h + 1);
    for row in src.chunks_exact(w) {
        starts.push(runs.len());
        super::search::row_runs(row, false, |l, r| runs.push((l as u32, r as u32)));
    }
    starts.push(runs.len());
    let mut parent: Vec<u32> = (0..runs.len() as u32).collect();
    for y in 1..h {
        // Runs of the row above and of this one, in order: each pair that
        // shares a column is joined; the run that ends first is done.
        let (mut i, mut j) = (starts[y - 1], starts[y]);
        while i < starts[y] && j < starts[y + 1] {
            let ((al, ar), (bl, br)) = (runs[i], runs[j]);
            if al < br && bl < ar {
                super::label::union(&mut parent, i as u32, j as u32);
            }
            if ar < br {
                i += 1;
            } else {
                j += 1;
            }
        }
    }
    // Components with a run on the border.
    let mut border = vec![false; runs.len()];
    for (k, &(l, r)) in runs.iter().enumerate() {
        let on_edge_row = k < starts[1] || k >= starts[h - 1];
        if on_edge_row || l == 0 || r as usize == w {
            let root = super::label::find(&mut parent, k as u32);
            border[root as usize] = true;
        }
    }
    // Between the border components' runs of a row: foreground.
    let mut out = Vec::new();
    for y in 0..h {
        let mut x = 0;
        for k in starts[y]..starts[y + 1] {
            if border[super::label::find(&mut parent, k as u32) as usize] {
                let (l, r) = runs[k];
                if l as usize > x {
                    out.push((y as u32, x as u32, l));
                }
                x = r as usize;
            }
        }
        if x < w {
            out.push((y as u32, x as u32, w as u32));
        }
    }
    out
}

/// Opening (erosion then dilation) with a disc of `radius_px` pixels,
/// rounded; radius 0 returns the mask unchanged. Both steps threshold an
/// exact Euclidean distance transform: a pixel survives erosion when it is
/// farther than r from the background, and the dilation takes back every
/// pixel within r of a survivor (the same discs as `imageproc`'s L2
/// opening, in linear time whatever the radius).
pub fn open(mask: &GrayImage, radius_px: f64) -> GrayImage {
    let k = radius_px.round().clamp(0.0, 65535.0);
    if k == 0.0 {
        return mask.clone();
    }
    if k == 1.0 {
        return open_cross(mask);
    }
    if k <= SMALL_DISC as f64 {
        return open_chords(mask, k as usize);
    }
    let r2 = k * k;
    let (w, h) = mask.dimensions();
    let to_mask = |keep: Vec<bool>| {
        GrayImage::from_raw(
            w,
            h,
            keep.into_iter().map(|b| if b { 255 } else { 0 }).collect(),
        )
        .unwrap_or_else(|| mask.clone())
    };
    let eroded = to_mask(squared_edt(mask).into_iter().map(|d| d > r2).collect());
    // Distance to the nearest survivor: EDT of the complement.
    let complement = GrayImage::from_raw(w, h, eroded.as_raw().iter().map(|&v| 255 - v).collect())
        .unwrap_or_else(|| mask.clone());
    to_mask(
        squared_edt(&complement)
            .into_iter()
            .map(|d| d <= r2)
            .collect(),
    )
}

/// Opening by the radius-1 disc (the 3×3 cross), directly, a row at a
/// time: erosion ANDs each row with its neighbours (outside the image
/// counts as set, as in the EDT-based opening, where only background
/// pixels erode), dilation ORs them.
///
/// Compiled also for AVX2 and AVX-512, chosen at run time (the same
/// operations in the same order in every version: the same result).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn open_cross(mask: &GrayImage) -> GrayImage {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    if w == 0 || h == 0 {
        return mask.clone();
    }
    // out[x] = op(c[x], c[x-1], c[x+1], up[x], down[x]), `edge` standing
    // in for pixels outside the image; every output pixel is written.
    let cross = |src: &[u8], op: fn(u8, u8) -> u8, edge: u8| -> Vec<u8> {
        let mut out = crate::pool::take::<u8>(w * h);
        let none = vec![edge; w];
        for (y, o) in out.chunks_exact_mut(w).enumerate() {
            let c = &src[y * w..(y + 1) * w];
            let up = if y > 0 {
                &src[(y - 1) * w..y * w]
            } else {
                &none[..]
            };
            let down = if y + 1 < h {
                &src[(y + 1) * w..(y + 2) * w]
            } else {
                &none[..]
            };
            for (((o, &c), &u), &d) in o.iter_mut().zip(c).zip(up).zip(down) {
                *o = op(op(c, u), d);
            }
            if w > 1 {
                for ((o, &l), &r) in o[1..w - 1].iter_mut().zip(&c[..w - 2]).zip(&c[2..]) {
                    *o = op(op(*o, l), r);
                }
                o[0] = op(op(o[0], c[1]), edge);
                o[w - 1] = op(op(o[w - 1], c[w - 2]), edge);
            }
        }
        out
    };
    // The erosion reads the mask as it is (any non-zero value is set) and
    // writes 0 or 255, which the dilation ORs.
    let eroded = cross(
        mask.as_raw(),
        |a, b| if a != 0 && b != 0 { 255 } else { 0 },
        255,
    );
    let out = cross(&eroded, |a, b| a | b, 0);
    crate::pool::give(eroded);
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| mask.clone())
}

/// Discs up to this radius (pixels) are opened chord by chord
/// ([`open_chords`], O(radius) per pixel); larger ones through the
/// distance transform (O(1) per pixel, with a larger constant).
const SMALL_DISC: usize = 8;

/// Opening by a disc of `k` pixels, a row at a time. The disc is 2k + 1
/// horizontal chords, the one dy rows away reaching ⌊√(k² − dy²)⌋ pixels
/// either side. A pixel survives the erosion when, in each row of the
/// disc, the nearest background pixel along that row lies beyond the
/// chord; the dilation takes back each pixel with a survivor within a
/// chord. For integer offsets dx² ≤ k² − dy² ⇔ |dx| ≤ ⌊√(k² − dy²)⌋, so
/// these are the very sets the distance-transform opening thresholds
/// (rows outside the image hold no background, as there).
fn open_chords(mask: &GrayImage, k: usize) -> GrayImage {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    if w == 0 || h == 0 {
        return mask.clone();
    }
    let chord: Vec<u16> = (0..=k)
        .map(|dy| ((k * k - dy * dy) as f64).sqrt().floor() as u16)
        .collect();
    // For every pixel, the distance along its row to the nearest pixel
    // `target` says yes to (at least u16::MAX: none in the row).
    let along_rows = |src: &[u8], target: fn(u8) -> bool| -> Vec<u16> {
        let mut out = vec![0u16; w * h];
        let none = i64::from(u16::MAX) + w as i64;
        for (row, o) in src.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
            let mut last = -none;
            for (x, (&v, o)) in row.iter().zip(o.iter_mut()).enumerate() {
                if target(v) {
                    last = x as i64;
                }
                *o = (x as i64 - last).min(i64::from(u16::MAX)) as u16;
            }
            last = none + w as i64;
            for x in (0..w).rev() {
                if target(row[x]) {
                    last = x as i64;
                }
                o[x] = o[x].min((last - x as i64).min(i64::from(u16::MAX)) as u16);
            }
        }
        out
    };
    // Erosion: each pixel whose distance exceeds the chord in every row
    // of the disc; dilation: each pixel whose distance is within the
    // chord in some row of it. 0/255 per pixel, so that the rows combine
    // by AND or OR.
    let over_disc = |dist: &[u16], erode: bool| -> Vec<u8> {
        let mut out = vec![0u8; w * h];
        for (y, o) in out.chunks_exact_mut(w).enumerate() {
            o.fill(if erode { 255 } else { 0 });
            for yy in y.saturating_sub(k)..(y + k + 1).min(h) {
                let c = chord[yy.abs_diff(y)];
                let row = &dist[yy * w..(yy + 1) * w];
                if erode {
                    for (o, &d) in o.iter_mut().zip(row) {
                        *o &= if d > c { 255 } else { 0 };
                    }
                } else {
                    for (o, &d) in o.iter_mut().zip(row) {
                        *o |= if d <= c { 255 } else { 0 };
                    }
                }
            }
        }
        out
    };
    let to_background = along_rows(mask.as_raw(), |v| v == 0);
    let eroded = over_disc(&to_background, true);
    let to_survivor = along_rows(&eroded, |v| v != 0);
    let out = over_disc(&to_survivor, false);
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| mask.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, breadth first from every border background pixel.
    fn fill_holes_bfs(mask: &GrayImage) -> GrayImage {
        let (w, h) = (mask.width() as usize, mask.height() as usize);
        let src = mask.as_raw();
        let mut outside = vec![false; w * h];
        let mut queue = std::collections::VecDeque::new();
        for i in 0..w * h {
            let (x, y) = (i % w, i / w);
            if (x == 0 || y == 0 || x + 1 == w || y + 1 == h) && src[i] == 0 {
                outside[i] = true;
                queue.push_back(i);
            }
        }
        while let Some(i) = queue.pop_front() {
            let (x, y) = (i % w, i / w);
            let mut n = Vec::new();
            if x > 0 {
                n.push(i - 1);
            }
            if x + 1 < w {
                n.push(i + 1);
            }
            if y > 0 {
                n.push(i - w);
            }
            if y + 1 < h {
                n.push(i + w);
            }
            for j in n {
                if src[j] == 0 && !outside[j] {
                    outside[j] = true;
                    queue.push_back(j);
                }
            }
        }
        let data = outside.iter().map(|&o| if o { 0 } else { 255 }).collect();
        GrayImage::from_raw(w as u32, h as u32, data).unwrap()
    }

    /// The radius-1 opening by its definition, pixel by pixel.
    fn open_cross_by_pixel(mask: &GrayImage) -> GrayImage {
        let (w, h) = (mask.width() as usize, mask.height() as usize);
        let src = mask.as_raw();
        let on = |v: &[u8], x: usize, y: usize| v[y * w + x] != 0;
        let mut er = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let keep = on(src, x, y)
                    && (x == 0 || on(src, x - 1, y))
                    && (x + 1 == w || on(src, x + 1, y))
                    && (y == 0 || on(src, x, y - 1))
                    && (y + 1 == h || on(src, x, y + 1));
                er[y * w + x] = if keep { 255 } else { 0 };
            }
        }
        let mut out = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let set = on(&er, x, y)
                    || (x > 0 && on(&er, x - 1, y))
                    || (x + 1 < w && on(&er, x + 1, y))
                    || (y > 0 && on(&er, x, y - 1))
                    || (y + 1 < h && on(&er, x, y + 1));
                out[y * w + x] = if set { 255 } else { 0 };
            }
        }
        GrayImage::from_raw(w as u32, h as u32, out).unwrap()
    }

    #[test]
    fn cross_opening_by_rows_equals_pixel_by_pixel() {
        let mut rng = crate::synth::Rng::new(12);
        for (w, h, p) in [
            (1, 1, 0.9),
            (1, 7, 0.8),
            (7, 1, 0.8),
            (2, 2, 0.9),
            (30, 20, 0.7),
            (41, 33, 0.85),
        ] {
            for _ in 0..20 {
                // Any non-zero value is set.
                let data = (0..w * h)
                    .map(|_| {
                        if rng.unit() < p {
                            1 + (rng.unit() * 254.0) as u8
                        } else {
                            0
                        }
                    })
                    .collect();
                let m = GrayImage::from_raw(w as u32, h as u32, data).unwrap();
                assert_eq!(open_cross(&m), open_cross_by_pixel(&m), "{w}×{h} p{p}");
            }
        }
    }

    #[test]
    fn fill_holes_equals_breadth_first_fill() {
        let mut rng = crate::synth::Rng::new(11);
        // Rows wider than the 64-byte blocks too, with long runs of
        // background (sparse) or of foreground (dense, mostly holes).
        for (w, h, p) in [
            (1, 1, 0.5),
            (1, 9, 0.3),
            (9, 1, 0.3),
            (40, 30, 0.45),
            (64, 64, 0.55),
            (33, 70, 0.6),
            (200, 50, 0.02),
            (200, 50, 0.9),
            (130, 60, 0.6),
        ] {
            for _ in 0..20 {
                let data = (0..w * h)
                    .map(|_| if rng.unit() < p { 255 } else { 0 })
                    .collect();
                let m = GrayImage::from_raw(w as u32, h as u32, data).unwrap();
                let want = fill_holes_bfs(&m);
                assert_eq!(fill_holes(&m), want, "{w}×{h} p{p}");
                // The runs it is drawn from are maximal, in raster order.
                let runs = filled_runs(&m);
                assert!(runs.windows(2).all(|p| p[0] < p[1]), "raster order");
                for &(y, l, r) in &runs {
                    let row = &want.as_raw()[y as usize * w..(y as usize + 1) * w];
                    assert!(l < r);
                    assert!(l == 0 || row[l as usize - 1] == 0, "{w}×{h} p{p}");
                    assert!(r as usize == w || row[r as usize] == 0, "{w}×{h} p{p}");
                }
            }
        }
    }

    fn parse(rows: &[&str]) -> GrayImage {
        let h = rows.len() as u32;
        let w = rows[0].len() as u32;
        GrayImage::from_fn(w, h, |x, y| {
            image::Luma([if rows[y as usize].as_bytes()[x as usize] == b'#' {
                255
            } else {
                0
            }])
        })
    }

    #[test]
    fn fills_enclosed_holes_only() {
        let m = parse(&[
            ".......", //
            ".#####.", //
            ".#.....", // this hole leaks to the border through the gap
            ".#####.", //
            ".#.#.#.", //
            ".#####.", //
            ".......",
        ]);
        let f = fill_holes(&m);
        let expect = parse(&[
            ".......", //
            ".#####.", //
            ".#.....", //
            ".#####.", //
            ".#####.", //
            ".#####.", //
            ".......",
        ]);
        assert_eq!(f, expect);
    }

    #[test]
    fn hole_touching_only_diagonally_is_filled() {
        // The centre pixel touches the outside only through a corner: with
        // 4-connected background it is a hole.
        let m = parse(&["#.#", "###", "###"]);
        assert_eq!(fill_holes(&m), m);
        let m = parse(&[".###", "#.##", "####"]);
        assert_eq!(fill_holes(&m), parse(&[".###", "####", "####"]));
    }

    #[test]
    fn opening_matches_imageproc_l2() {
        use imageproc::distance_transform::Norm;
        let mut rng = crate::synth::Rng::new(5);
        for k in [1u8, 2, 3] {
            let m = GrayImage::from_fn(40, 30, |x, y| {
                let blob = ((x as i32 - 20).pow(2) + (y as i32 - 15).pow(2)) < 100;
                image::Luma([if blob || rng.unit() < 0.3 { 255 } else { 0 }])
            });
            assert_eq!(
                open(&m, f64::from(k)),
                imageproc::morphology::open(&m, Norm::L2, k),
                "k={k}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The chord opening against imageproc's L2 opening (a disc tested
        /// pixel by pixel) and the distance-transform path it stands in for.
        #[test]
        fn chord_opening_equals_the_disc_opening(
            (w, h) in (1u32..40, 1u32..40),
            k in 2usize..=SMALL_DISC,
            seed in proptest::prelude::any::<u64>(),
            density in 0.3f64..0.95,
        ) {
            use imageproc::distance_transform::Norm;
            let mut rng = crate::synth::Rng::new(seed);
            let m = GrayImage::from_fn(w, h, |_, _| {
                image::Luma([if rng.unit() < density { 255 } else { 0 }])
            });
            let chords = open_chords(&m, k);
            proptest::prop_assert_eq!(&chords, &imageproc::morphology::open(&m, Norm::L2, k as u8));
            let eroded = GrayImage::from_raw(w, h, squared_edt(&m).iter().map(|&d| if d > (k * k) as f64 { 255 } else { 0 }).collect()).unwrap();
            let complement = GrayImage::from_raw(w, h, eroded.as_raw().iter().map(|&v| 255 - v).collect()).unwrap();
            let by_edt: Vec<u8> = squared_edt(&complement).iter().map(|&d| if d <= (k * k) as f64 { 255 } else { 0 }).collect();
            proptest::prop_assert_eq!(chords.as_raw(), &by_edt);
        }
    }

    #[test]
    fn opening_removes_specks_and_keeps_blobs() {
        let mut m = GrayImage::new(30, 30);
        for y in 5..20 {
            for x in 5..20 {
                m.put_pixel(x, y, image::Luma([255]));
            }
        }
        m.put_pixel(25, 25, image::Luma([255]));
        let o = open(&m, 2.0);
        assert_eq!(o.get_pixel(25, 25)[0], 0);
        assert_eq!(o.get_pixel(12, 12)[0], 255);
        assert_eq!(open(&m, 0.0), m);
    }
}

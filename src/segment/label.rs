//! Connected-component labelling.
//!
//! Our own two-pass union-find labeller: `imageproc`'s
//! `connected_components` (0.27) indexes its union-find forest out of bounds
//! when a 1×1 image is foreground (found by the property tests), and a
//! file must never be able to panic the pipeline.

use image::GrayImage;

use crate::Labels;

/// Root of `x` in a union-find forest, halving the path on the way.
pub(crate) fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let grand = parent[parent[x as usize] as usize];
        parent[x as usize] = grand;
        x = grand;
    }
    x
}

/// Records that provisional labels `a` and `b` are the same object (the
/// smaller root stays the root).
pub(crate) fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi as usize] = lo;
    }
}

/// Labels the 8-connected foreground (non-zero) components of a mask with
/// 1..=n in raster order of their first pixel; 0 is background. Returns the
/// label image and n.
pub fn label(mask: &GrayImage) -> (Labels, u32) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let src = mask.as_raw();
    let mut lab = crate::pool::take_zeroed::<u32>(w * h);
    // parent[0] is the background; provisional labels start at 1.
    let mut parent: Vec<u32> = vec![0];
    for y in 0..h {
        let row = y * w;
        for x in 0..w {
            if src[row + x] == 0 {
                continue;
            }
            let mut l = 0u32;
            let mut neighbours = [0u32; 4];
            if x > 0 {
                neighbours[0] = lab[row + x - 1];
            }
            if y > 0 {
                let up = row - w;
                neighbours[1] = lab[up + x];
                if x > 0 {
                    neighbours[2] = lab[up + x - 1];
                }
                if x + 1 < w {
                    neighbours[3] = lab[up + x + 1];
                }
            }
            for n in neighbours {
                if n == 0 {
                    continue;
                }
                if l == 0 {
                    l = n;
                } else if n != l {
                    union(&mut parent, l, n);
                }
            }
            if l == 0 {
                l = parent.len() as u32;
                parent.push(l);
            }
            lab[row + x] = l;
        }
    }
    finish(w, h, lab, &mut parent)
}

/// Replaces provisional labels by their forest roots, renumbered 1..=n in
/// raster order of first pixel, and wraps them as an image.
pub(crate) fn finish(w: usize, h: usize, mut lab: Vec<u32>, parent: &mut [u32]) -> (Labels, u32) {
    let n = relabel(&mut lab, parent);
    let labels = Labels::from_raw(w as u32, h as u32, lab)
        .unwrap_or_else(|| Labels::new(w as u32, h as u32));
    (labels, n)
}

/// Replaces each provisional label of `lab` by its root's number in raster
/// order of first pixel (1..); returns how many there are.
pub(crate) fn relabel(lab: &mut [u32], parent: &mut [u32]) -> u32 {
    let mut final_label = vec![0u32; parent.len()];
    let mut n = 0u32;
    for v in lab.iter_mut().filter(|v| **v != 0) {
        let r = find(parent, *v) as usize;
        if final_label[r] == 0 {
            n += 1;
            final_label[r] = n;
        }
        *v = final_label[r];
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn parse(rows: &[&str]) -> GrayImage {
        GrayImage::from_fn(rows[0].len() as u32, rows.len() as u32, |x, y| {
            Luma([if rows[y as usize].as_bytes()[x as usize] == b'#' {
                255
            } else {
                0
            }])
        })
    }

    #[test]
    fn hand_drawn_mask() {
        let m = parse(&[
            "##..#", //
            "#...#", //
            "..#..", // joins the pixel below-left diagonally
            ".#...", //
            "....#",
        ]);
        let (l, n) = label(&m);
        #[rustfmt::skip]
        let expect = vec![
            1, 1, 0, 0, 2,
            1, 0, 0, 0, 2,
            0, 0, 3, 0, 0,
            0, 3, 0, 0, 0,
            0, 0, 0, 0, 4,
        ];
        assert_eq!(l.as_raw(), &expect);
        assert_eq!(n, 4);
    }

    #[test]
    fn u_shape_merges_late() {
        // The two arms get different provisional labels and meet at the
        // bottom; a third object's label must stay consecutive.
        let m = parse(&[
            "#.#.#", //
            "#.#.#", //
            "###.#",
        ]);
        let (l, n) = label(&m);
        assert_eq!(n, 2);
        #[rustfmt::skip]
        let expect = vec![
            1, 0, 1, 0, 2,
            1, 0, 1, 0, 2,
            1, 1, 1, 0, 2,
        ];
        assert_eq!(l.as_raw(), &expect);
    }

    #[test]
    fn single_pixel_and_empty() {
        let (l, n) = label(&parse(&["#"]));
        assert_eq!((l.as_raw().clone(), n), (vec![1], 1));
        let (l, n) = label(&GrayImage::new(3, 2));
        assert_eq!(n, 0);
        assert!(l.as_raw().iter().all(|&v| v == 0));
        let (_, n) = label(&GrayImage::new(0, 0));
        assert_eq!(n, 0);
    }
}

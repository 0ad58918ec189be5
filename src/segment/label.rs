//! Connected-component labelling, 8-connected: the two-pass algorithm
//! with a union-find forest of provisional labels (Rosenfeld & Pfaltz,
//! "Sequential operations in digital picture processing", J. ACM 13,
//! 1966), and its run-based form, which joins runs of set pixels of
//! neighbouring rows instead of pixels (He, Chao & Suzuki, IEEE Trans.
//! Image Process. 17, 2008).
//!
//! Our own labeller: `imageproc`'s
//! `connected_components` (0.27) indexes its union-find forest out of bounds
//! when a 1×1 image is foreground (found by the property tests), and a
//! file must never be able to panic the pipeline.

use image::GrayImage;

use crate::Labels;

/// The 4-neighbours of pixel `i` of a `w` × `h` image, as indices: left,
/// right, up, down (`None` past an edge).
#[inline(always)]
pub(crate) fn four_neighbours(i: usize, w: usize, h: usize) -> [Option<usize>; 4] {
    let (x, y) = (i % w, i / w);
    [
        (x > 0).then(|| i - 1),
        (x + 1 < w).then(|| i + 1),
        (y > 0).then(|| i - w),
        (y + 1 < h).then(|| i + w),
    ]
}

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

/// One run of set pixels: row, first column, one past the last column.
pub type Run = (u32, u32, u32);

/// The 8-connected foreground (non-zero) components of `mask` (`w` wide)
/// as runs of set pixels: component `c` (0-based, in raster order of its
/// first pixel, as [`label`] numbers them) is
/// `runs[starts[c]..starts[c + 1]]`, its runs in raster order.
///
/// One pass over the mask: each row's runs are found a block of bytes at
/// a time, joined (union-find) to the runs of the row above they touch,
/// then sorted by component. Without a label plane, and the mask is left
/// as it is.
pub(crate) fn component_runs(mask: &[u8], w: usize, runs: &mut Vec<Run>, starts: &mut Vec<usize>) {
    let mut found: Vec<Run> = Vec::new();
    if w > 0 {
        for (y, row) in mask.chunks_exact(w).enumerate() {
            super::search::row_runs(row, true, |l, r| found.push((y as u32, l as u32, r as u32)));
        }
    }
    components_of_runs(&found, runs, starts);
}

/// [`component_runs`] of the image whose set pixels are `found`: every
/// maximal run of every row, in raster order.
pub(crate) fn components_of_runs(found: &[Run], runs: &mut Vec<Run>, starts: &mut Vec<usize>) {
    runs.clear();
    starts.clear();
    starts.push(0);
    // Each run's union-find parent (run index).
    let mut parent: Vec<u32> = (0..found.len() as u32).collect();
    // The previous row's runs are found[j..row_start] once `j` is set for
    // a row (empty when the row above has none), this row's
    // found[row_start..]; `j` moves on to the first run above that may
    // touch the next run of this row.
    let (mut row_start, mut j) = (0usize, 0usize);
    for (i, &(y, l, r)) in found.iter().enumerate() {
        if i == 0 || found[i - 1].0 != y {
            j = if i > 0 && found[i - 1].0 + 1 == y {
                row_start
            } else {
                i
            };
            row_start = i;
        }
        let (l, r) = (l as usize, r as usize);
        // Runs above ending left of l - 1 touch neither this run nor any
        // later one of this row.
        while j < row_start && (found[j].2 as usize) < l {
            j += 1;
        }
        // Runs above starting at or before r touch this one (they reach
        // l - 1 or further right); the last of them may touch the next
        // run too, so j stays on it.
        let mut k = j;
        while k < row_start && (found[k].1 as usize) <= r {
            union(&mut parent, i as u32, k as u32);
            k += 1;
        }
    }
    // Components numbered by their root, the first run of each (union
    // keeps the smaller index), so in raster order of first pixel; runs
    // counted, then placed, by component.
    let mut number = vec![u32::MAX; found.len()];
    let mut count: Vec<usize> = Vec::new();
    for i in 0..found.len() {
        let root = find(&mut parent, i as u32) as usize;
        if number[root] == u32::MAX {
            number[root] = count.len() as u32;
            count.push(0);
        }
        number[i] = number[root];
        count[number[i] as usize] += 1;
    }
    for c in &count {
        starts.push(starts[starts.len() - 1] + c);
    }
    let mut next: Vec<usize> = starts[..count.len()].to_vec();
    runs.resize(found.len(), (0, 0, 0));
    for (run, &c) in found.iter().zip(&number) {
        runs[next[c as usize]] = *run;
        next[c as usize] += 1;
    }
}

/// Scan-line flood fill of the set (non-zero) bytes of a `w`-wide byte
/// image: from the (row, column) pixels on `stack`, every set pixel
/// 8-connected to them through set pixels is cleared, a whole run at a
/// time; `run(y, l, r)` is called with each run `[l, r)` of row y so
/// cleared. Only the rows above and below a run are searched (one pixel
/// further each side), one seed per run found there. `stack` is scratch
/// and left empty.
pub(crate) fn scan_fill(
    data: &mut [u8],
    w: usize,
    stack: &mut Vec<(usize, usize)>,
    mut run: impl FnMut(usize, usize, usize),
) {
    let h = data.len() / w.max(1);
    while let Some((y, x)) = stack.pop() {
        let row = &mut data[y * w..(y + 1) * w];
        if row[x] == 0 {
            continue;
        }
        let l = row[..x].iter().rposition(|&v| v == 0).map_or(0, |i| i + 1);
        let r = row[x..].iter().position(|&v| v == 0).map_or(w, |i| x + i);
        row[l..r].fill(0);
        run(y, l, r);
        let (a, b) = (l.saturating_sub(1), (r + 1).min(w));
        for ny in [y.wrapping_sub(1), y + 1] {
            if ny >= h {
                continue;
            }
            let near = &data[ny * w + a..ny * w + b];
            let mut i = 0;
            while let Some(j) = near[i..].iter().position(|&v| v != 0) {
                stack.push((ny, a + i + j));
                i += j;
                match near[i..].iter().position(|&v| v == 0) {
                    Some(k) => i += k,
                    None => break,
                }
            }
        }
    }
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

    /// The runs of each component are exactly the pixels `label` gives
    /// it (components numbered alike), in raster order; on random masks of
    /// every density, thin and wide, and the hand-drawn ones.
    #[test]
    fn component_runs_are_the_labelled_components() {
        let mut rng = crate::synth::Rng::new(71);
        let mut masks = vec![
            parse(&["#.#", ".#.", "#.#"]),
            parse(&["#..#", "#..#", "####"]),
            parse(&["....", "...."]),
            parse(&["#"]),
        ];
        for (w, h) in [(1u32, 9u32), (9, 1), (17, 13), (64, 40), (130, 3)] {
            for p in [0.05, 0.3, 0.5, 0.7, 0.95] {
                masks.push(GrayImage::from_fn(w, h, |_, _| {
                    Luma([u8::from(rng.unit() < p) * (1 + (rng.unit() * 254.0) as u8)])
                }));
            }
        }
        for m in &masks {
            let (w, h) = (m.width() as usize, m.height() as usize);
            let (labels, n) = label(m);
            let (mut runs, mut starts) = (Vec::new(), Vec::new());
            component_runs(m.as_raw(), w, &mut runs, &mut starts);
            assert_eq!(starts.len(), n as usize + 1, "{w}×{h}");
            assert_eq!(*starts.last().unwrap(), runs.len());
            let mut drawn = vec![0u32; w * h];
            for (c, s) in starts.windows(2).enumerate() {
                let mine = &runs[s[0]..s[1]];
                assert!(!mine.is_empty());
                assert!(mine.windows(2).all(|p| p[0] < p[1]), "raster order");
                for &(y, l, r) in mine {
                    assert!(l < r);
                    for x in l..r {
                        let i = y as usize * w + x as usize;
                        assert_eq!(drawn[i], 0, "a pixel in two runs");
                        drawn[i] = c as u32 + 1;
                    }
                    // Runs are maximal.
                    let row = &m.as_raw()[y as usize * w..(y as usize + 1) * w];
                    assert!(l == 0 || row[l as usize - 1] == 0);
                    assert!(r as usize == w || row[r as usize] == 0);
                }
            }
            assert_eq!(drawn, labels.into_raw(), "{w}×{h}");
        }
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

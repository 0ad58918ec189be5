//! The imaged tissue's extent: the part of a field that holds nuclei,
//! so that a density is per mm² of skin, not of the empty (zero) padding
//! a stitched mosaic has around an irregular piece.
//!
//! The field is cut into square blocks; a block holding any nucleus
//! (DAPI mask) pixel is tissue, and blocks without one that no path of
//! empty blocks joins to the field's edge are holes in the tissue (a
//! follicle's core, a gap between nuclei) and count too: the coarse-grid
//! form of "DAPI above background, filled" (as QuPath's and CellProfiler's
//! tissue detection: threshold, close, fill holes).

use std::collections::VecDeque;

use super::window::{GridRect, Window};

/// Pixels of tissue in a `w` × `h` mask (nonzero = a nucleus pixel), in
/// blocks of `block_px` × `block_px` pixels (at least 1 px); the last row
/// and column of blocks take the remainder (up to `2 · block_px − 1`
/// wide), so that no block at the field's edge is a sliver that holds no
/// nucleus by chance.
pub fn tissue_area_px(mask: &[u8], w: usize, h: usize, block_px: usize) -> u64 {
    let mut grid = Occupancy::new(w, h, block_px);
    grid.mark(mask, Window::whole(w, h));
    grid.area_px()
}

/// Which blocks of a plane hold a nucleus pixel: marked a part of the
/// plane at a time ([`mark`](Self::mark), each part holding only the
/// blocks its core touches: [`covering`](Self::covering)), gathered
/// into the whole plane's ([`merge`](Self::merge)), then measured
/// ([`area_px`](Self::area_px)).
#[derive(Clone, Debug, PartialEq)]
pub struct Occupancy {
    /// One per block held, row by row.
    occupied: Vec<bool>,
    /// The blocks held.
    held: GridRect,
    /// The plane's blocks across and down.
    gw: usize,
    gh: usize,
    k: usize,
    w: usize,
    h: usize,
}

impl Occupancy {
    /// No block marked, for a `w` × `h` plane in blocks of `block_px`
    /// (at least 1 px): all of them held.
    pub fn new(w: usize, h: usize, block_px: usize) -> Occupancy {
        let k = block_px.max(1);
        let (gw, gh) = ((w / k).max(1), (h / k).max(1));
        Occupancy {
            occupied: vec![false; gw * gh],
            held: GridRect::all(gw, gh),
            gw,
            gh,
            k,
            w,
            h,
        }
    }

    /// No block marked, holding the blocks of the plane `at` speaks for
    /// (its core): a block's part of the whole plane's.
    pub fn covering(block_px: usize, at: &Window) -> Occupancy {
        let (w, h) = at.plane;
        let k = block_px.max(1);
        let (gw, gh) = ((w / k).max(1), (h / k).max(1));
        let (x0, x1, y0, y1) = at.core;
        let span = |a: usize, b: usize, n: usize| {
            if b > a {
                let first = (a / k).min(n - 1);
                (first, ((b - 1) / k).min(n - 1) + 1 - first)
            } else {
                (0, 0)
            }
        };
        let ((gx0, cols), (gy0, rows)) = (span(x0, x1, gw), span(y0, y1, gh));
        let held = GridRect {
            x0: gx0,
            y0: gy0,
            w: cols,
            h: rows,
        };
        Occupancy {
            occupied: vec![false; held.len()],
            held,
            gw,
            gh,
            k,
            w,
            h,
        }
    }

    /// The whole plane's occupancy, nothing marked.
    pub fn empty_whole(&self) -> Occupancy {
        Occupancy::new(self.w, self.h, self.k)
    }

    /// Marks the blocks that hold a nonzero pixel of `mask` (the part
    /// of the plane's mask `at` describes) among the pixels it speaks for.
    pub fn mark(&mut self, mask: &[u8], at: Window) {
        debug_assert_eq!(at.plane, (self.w, self.h));
        let (mw, mh) = at.size;
        let (ox, oy) = at.origin;
        let (x0, x1, y0, y1) = at.core;
        let (k, gw, gh) = (self.k, self.gw, self.gh);
        // The core in the part's own pixels.
        let (cx0, cx1) = (x0.max(ox) - ox, x1.min(ox + mw).saturating_sub(ox));
        let (cy0, cy1) = (y0.max(oy) - oy, y1.min(oy + mh).saturating_sub(oy));
        for y in cy0..cy1.max(cy0) {
            let Some(row) = mask.get(y * mw + cx0..y * mw + cx1.max(cx0)) else {
                return;
            };
            let gy = ((oy + y) / k).min(gh - 1);
            // A block's run of the row at a time, looked at only while
            // the block is unmarked (the last block takes the rest).
            let (start, end) = (ox + cx0, ox + cx0 + row.len());
            let mut x = start;
            while x < end {
                let gx = (x / k).min(gw - 1);
                let next = if gx + 1 == gw {
                    end
                } else {
                    ((gx + 1) * k).min(end)
                };
                if let Some(b) = self.held.run(gx, gy, 1) {
                    if !self.occupied[b] && row[x - start..next - start].iter().any(|&v| v != 0) {
                        self.occupied[b] = true;
                    }
                }
                x = next;
            }
        }
    }

    /// Adds the blocks another part marked (the same plane and blocks;
    /// those this one holds).
    pub fn merge(&mut self, other: &Occupancy) {
        let w = other.held.w;
        for (y, row) in other.occupied.chunks_exact(w.max(1)).enumerate() {
            if let Some(o) = self.held.run(other.held.x0, other.held.y0 + y, w) {
                for (a, &b) in self.occupied[o..o + w].iter_mut().zip(row) {
                    *a |= b;
                }
            }
        }
    }

    /// Pixels of tissue (of the whole plane: [`new`](Self::new), parts
    /// merged): the marked blocks, and the unmarked ones that
    /// no path of unmarked blocks joins to the plane's edge (holes).
    pub fn area_px(&self) -> u64 {
        debug_assert!(self.held.is_all(self.gw, self.gh), "a part's area");
        let outside = self.outside();
        (0..self.gw * self.gh)
            .filter(|&b| !outside[b])
            .map(|b| self.pixels(b))
            .sum()
    }

    /// Pixels of the field inside block `b`.
    fn pixels(&self, b: usize) -> u64 {
        let side = |i: usize, n: usize, len: usize| {
            if i + 1 == n {
                len - i * self.k
            } else {
                self.k
            }
        };
        let (bx, by) = (b % self.gw, b / self.gw);
        (side(bx, self.gw, self.w) * side(by, self.gh, self.h)) as u64
    }

    /// Empty blocks joined to the edge through empty blocks (4-connected).
    fn outside(&self) -> Vec<bool> {
        let (gw, gh) = (self.gw, self.gh);
        let mut out = vec![false; gw * gh];
        let mut queue = VecDeque::new();
        for (b, (o, &occupied)) in out.iter_mut().zip(&self.occupied).enumerate() {
            let (x, y) = (b % gw, b / gw);
            let edge = x == 0 || y == 0 || x + 1 == gw || y + 1 == gh;
            if edge && !occupied {
                *o = true;
                queue.push_back(b);
            }
        }
        while let Some(b) = queue.pop_front() {
            let (x, y) = (b % gw, b / gw);
            let near = [
                (x > 0).then(|| b - 1),
                (x + 1 < gw).then(|| b + 1),
                (y > 0).then(|| b - gw),
                (y + 1 < gh).then(|| b + gw),
            ];
            for n in near.into_iter().flatten() {
                if !out[n] && !self.occupied[n] {
                    out[n] = true;
                    queue.push_back(n);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Brute force: a pixel is tissue when its block holds a nucleus
    /// pixel, or when every path of empty blocks from its block to the
    /// edge is blocked — tried block by block with a search of its own.
    fn reference(mask: &[u8], w: usize, h: usize, k: usize) -> u64 {
        let (gw, gh) = ((w / k).max(1), (h / k).max(1));
        // Block i spans [i·k, (i+1)·k), the last one to the edge.
        let span =
            |i: usize, n: usize, len: usize| i * k..if i + 1 == n { len } else { (i + 1) * k };
        let occupied = |bx: usize, by: usize| {
            span(by, gh, h).any(|y| span(bx, gw, w).any(|x| mask[y * w + x] != 0))
        };
        let reaches_edge = |sx: usize, sy: usize| {
            let mut seen = vec![false; gw * gh];
            let mut stack = vec![(sx, sy)];
            while let Some((x, y)) = stack.pop() {
                if seen[y * gw + x] || occupied(x, y) {
                    continue;
                }
                seen[y * gw + x] = true;
                if x == 0 || y == 0 || x + 1 == gw || y + 1 == gh {
                    return true;
                }
                stack.extend([(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]);
            }
            false
        };
        let mut area = 0;
        for y in 0..h {
            for x in 0..w {
                let (bx, by) = ((x / k).min(gw - 1), (y / k).min(gh - 1));
                if occupied(bx, by) || !reaches_edge(bx, by) {
                    area += 1;
                }
            }
        }
        area
    }

    #[test]
    fn empty_full_and_a_ring() {
        assert_eq!(tissue_area_px(&[0; 100], 10, 10, 2), 0);
        assert_eq!(tissue_area_px(&[9; 100], 10, 10, 3), 100);
        // One nucleus pixel in the corner block of 3 × 3 (a 10 × 10 field):
        // that block only.
        let mut one = vec![0u8; 100];
        one[0] = 1;
        assert_eq!(tissue_area_px(&one, 10, 10, 3), 9);
        // The last block of a row takes the remainder: 4 × 3 px.
        let mut last = vec![0u8; 100];
        last[9] = 1;
        assert_eq!(tissue_area_px(&last, 10, 10, 3), 12);
        // A ring of blocks around an empty block: the hole counts.
        let (w, k) = (9, 3);
        let mut ring = vec![0u8; w * w];
        for by in 0..3 {
            for bx in 0..3 {
                if (bx, by) != (1, 1) {
                    ring[(by * k) * w + bx * k] = 1;
                }
            }
        }
        assert_eq!(tissue_area_px(&ring, w, w, k), 81);
        // Open the ring on one side: the empty block reaches the edge.
        ring[(k) * w] = 0;
        assert_eq!(tissue_area_px(&ring, w, w, k), 81 - 18);
    }

    proptest! {
        /// Marked block by block (cores tiling the field, each block's
        /// mask its core grown by a margin), the blocks of tissue are
        /// those of the whole mask marked at once.
        #[test]
        fn marked_in_parts_equals_marked_whole(
            w in 1usize..30,
            h in 1usize..30,
            k in 1usize..6,
            core in 1usize..12,
            margin in 0usize..4,
            bits in proptest::collection::vec(0u8..12, 30 * 30),
        ) {
            let mask: Vec<u8> = bits[..w * h].iter().map(|&b| u8::from(b == 0)).collect();
            let mut whole = Occupancy::new(w, h, k);
            whole.mark(&mask, Window::whole(w, h));
            let mut parts = Occupancy::new(w, h, k);
            for at in Window::tiling(w, h, core, margin) {
                let ((ox, oy), (bw, bh)) = (at.origin, at.size);
                let part: Vec<u8> = (oy..oy + bh)
                    .flat_map(|y| mask[y * w + ox..y * w + ox + bw].to_vec())
                    .collect();
                let mut one = Occupancy::covering(k, &at);
                one.mark(&part, at);
                parts.merge(&one);
                // A part holds what its core touches, marked as the whole.
                let mut alone = Occupancy::new(w, h, k);
                alone.merge(&one);
                let mut core_only = Occupancy::new(w, h, k);
                core_only.mark(&part, at);
                prop_assert_eq!(&alone, &core_only);
            }
            prop_assert_eq!(&parts, &whole);
            prop_assert_eq!(parts.area_px(), tissue_area_px(&mask, w, h, k));
        }

        #[test]
        fn matches_brute_force(
            w in 1usize..24,
            h in 1usize..24,
            k in 1usize..6,
            bits in proptest::collection::vec(0u8..12, 24 * 24),
        ) {
            // Sparse nuclei: about one pixel in twelve.
            let mask: Vec<u8> = bits[..w * h].iter().map(|&b| u8::from(b == 0)).collect();
            prop_assert_eq!(tissue_area_px(&mask, w, h, k), reference(&mask, w, h, k));
        }
    }
}

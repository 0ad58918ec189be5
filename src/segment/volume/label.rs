//! Connected-component labelling of a 3D mask, 6- or 26-connected: one
//! raster pass over runs of set voxels with union–find between each run
//! and the touching runs of the rows before it, then one relabelling pass
//! (the two-pass algorithm of Rosenfeld & Pfaltz 1966 on runs, as in He,
//! Chao & Suzuki, "A run-based two-scan labeling algorithm", 2008;
//! union–find with path halving, Wu, Otoo & Suzuki 2009).

use super::Connectivity;
use crate::segment::label::{find, union};
use crate::segment::search::row_runs;
use crate::volume::Volume;

/// One run of set voxels in a row: first x, one past the last, and its
/// provisional label.
#[derive(Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    label: u32,
}

/// A run of set voxels in one row of a volume: the row (z · height + y)
/// and the x range `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowRun {
    /// z · height + y.
    pub row: u32,
    /// First x.
    pub start: u32,
    /// One past the last x.
    pub end: u32,
}

/// The connected components of a mask as runs of voxels: components
/// 1..=n in raster order of their first voxel (z, then y, then x), each
/// one's runs in raster order. A few bytes per run instead of a label per
/// voxel: the work that follows one component at a time (splitting,
/// measuring) needs no label volume.
#[derive(Clone, Debug)]
pub struct Components {
    /// The mask's width, height and depth.
    pub dims: (usize, usize, usize),
    runs: Vec<RowRun>,
    /// Component k's runs are `runs[first[k - 1]..first[k]]`.
    first: Vec<usize>,
}

impl Components {
    /// n.
    pub fn count(&self) -> u32 {
        (self.first.len() - 1) as u32
    }

    /// The runs of component `k` (1..=n).
    pub fn runs(&self, k: u32) -> &[RowRun] {
        &self.runs[self.first[k as usize - 1]..self.first[k as usize]]
    }

    /// Objects given as their runs (each in raster order, none empty, no
    /// two sharing a voxel) in a volume of `dims`, numbered 1..=n in
    /// raster order of their first voxel.
    pub fn from_objects(dims: (usize, usize, usize), mut objects: Vec<Vec<RowRun>>) -> Components {
        let (w, _, _) = dims;
        let first_voxel =
            |o: &Vec<RowRun>| o.first().map(|r| r.row as usize * w + r.start as usize);
        objects.sort_by_key(first_voxel);
        let mut first = Vec::with_capacity(objects.len() + 1);
        first.push(0);
        let mut runs = Vec::with_capacity(objects.iter().map(Vec::len).sum());
        for o in objects {
            runs.extend(o);
            first.push(runs.len());
        }
        Components { dims, runs, first }
    }

    /// The label volume: component k's voxels k, 0 elsewhere.
    pub fn paint(&self) -> Volume<u32> {
        let (w, h, d) = self.dims;
        let mut lab = vec![0u32; w * h * d];
        for k in 1..=self.count() {
            for r in self.runs(k) {
                let i = r.row as usize * w;
                lab[i + r.start as usize..i + r.end as usize].fill(k);
            }
        }
        Volume::from_vec(w, h, d, lab).expect("w × h × d labels")
    }
}

/// The labelled components of `mask` (non-zero voxels): labels 1..=n in
/// raster order of each component's first voxel (z, then y, then x),
/// 0 on the background; and n.
pub fn label(mask: &Volume<u8>, connectivity: Connectivity) -> (Volume<u32>, u32) {
    let found = components(mask, connectivity);
    (found.paint(), found.count())
}

/// The connected components of `mask` (non-zero voxels), 6- or
/// 26-connected, as runs (see [`Components`]).
pub fn components(mask: &Volume<u8>, connectivity: Connectivity) -> Components {
    let (w, h) = (mask.width, mask.height);
    let dims = (mask.width, mask.height, mask.depth);
    // Every run in raster order, with its provisional label.
    let mut all: Vec<(RowRun, u32)> = Vec::new();
    // parent[0] is the background; provisional labels start at 1.
    let mut parent: Vec<u32> = vec![0];
    // The runs of every row of the previous slice and of this one.
    let mut above: Vec<Vec<Run>> = vec![Vec::new(); h];
    let mut here: Vec<Vec<Run>> = vec![Vec::new(); h];
    // Which earlier rows a run can touch — (dy, dz): the row before in
    // this slice, and the rows of the slice before at dy −1, 0, +1 — and
    // how far past its ends along x (diagonal neighbours: 1).
    let (rows, reach): (&[(isize, bool)], usize) = match connectivity {
        Connectivity::Faces => (&[(-1, false), (0, true)], 0),
        Connectivity::Full => (&[(-1, false), (-1, true), (0, true), (1, true)], 1),
    };
    let mut found: Vec<(usize, usize)> = Vec::new();
    for (z, slice) in mask.data.chunks_exact((w * h).max(1)).enumerate() {
        std::mem::swap(&mut above, &mut here);
        for y in 0..h {
            let row = &slice[y * w..(y + 1) * w];
            found.clear();
            row_runs(row, true, |l, r| found.push((l, r)));
            let mut runs = std::mem::take(&mut here[y]);
            runs.clear();
            for &(start, end) in &found {
                let mut mine = 0u32;
                for &(dy, previous_slice) in rows {
                    let Some(ry) = y.checked_add_signed(dy).filter(|&ry| ry < h) else {
                        continue;
                    };
                    if previous_slice && z == 0 {
                        continue;
                    }
                    let earlier = if previous_slice {
                        &above[ry]
                    } else {
                        &here[ry]
                    };
                    // Runs overlapping [start − reach, end + reach).
                    let first = earlier.partition_point(|o| o.end + reach <= start);
                    for o in earlier[first..]
                        .iter()
                        .take_while(|o| o.start < end + reach)
                    {
                        if mine == 0 {
                            mine = o.label;
                        } else if o.label != mine {
                            union(&mut parent, mine, o.label);
                        }
                    }
                }
                if mine == 0 {
                    mine = parent.len() as u32;
                    parent.push(mine);
                }
                let run = RowRun {
                    row: (z * h + y) as u32,
                    start: start as u32,
                    end: end as u32,
                };
                all.push((run, mine));
                runs.push(Run {
                    start,
                    end,
                    label: mine,
                });
            }
            here[y] = runs;
        }
    }
    // A component's first run made its smallest provisional label, so
    // numbering roots in the order of provisional labels is numbering
    // components in raster order of their first voxel.
    let mut number = vec![0u32; parent.len()];
    let mut n = 0u32;
    for p in 1..parent.len() {
        let root = find(&mut parent, p as u32) as usize;
        if number[root] == 0 {
            n += 1;
            number[root] = n;
        }
        number[p] = number[root];
    }
    // The runs grouped by component (a counting sort: raster order kept
    // within each): first[k] ends up where component k's runs end.
    let mut first = vec![0usize; n as usize + 1];
    for &(_, p) in &all {
        first[number[p as usize] as usize] += 1;
    }
    for k in 1..first.len() {
        first[k] += first[k - 1];
    }
    // Where the next run of component k + 1 goes.
    let mut next = first.clone();
    let mut runs = vec![
        RowRun {
            row: 0,
            start: 0,
            end: 0
        };
        all.len()
    ];
    for (run, p) in all {
        let k = number[p as usize] as usize - 1;
        runs[next[k]] = run;
        next[k] += 1;
    }
    Components { dims, runs, first }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::segment::volume::{neighbour, random_mask};
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// Brute force: a breadth-first flood from each unlabelled voxel, in
    /// raster order.
    pub(crate) fn label_reference(mask: &Volume<u8>, c: Connectivity) -> (Volume<u32>, u32) {
        let (w, h, d) = (mask.width, mask.height, mask.depth);
        let mut lab = mask.map(|_| 0u32);
        let mut n = 0;
        let offsets = c.all();
        for z in 0..d {
            for y in 0..h {
                for x in 0..w {
                    let i = mask.index(x, y, z);
                    if mask.data[i] == 0 || lab.data[i] != 0 {
                        continue;
                    }
                    n += 1;
                    lab.data[i] = n;
                    let mut queue = VecDeque::from([(x, y, z)]);
                    while let Some(v) = queue.pop_front() {
                        for &o in &offsets {
                            if let Some((a, b, cz)) = neighbour(v, o, (w, h, d)) {
                                let j = mask.index(a, b, cz);
                                if mask.data[j] != 0 && lab.data[j] == 0 {
                                    lab.data[j] = n;
                                    queue.push_back((a, b, cz));
                                }
                            }
                        }
                    }
                }
            }
        }
        (lab, n)
    }

    #[test]
    fn diagonal_voxels_join_only_when_26_connected() {
        // (0,0,0) and (1,1,1) touch at a corner.
        let mut m = Volume::filled(2, 2, 2, 0u8);
        m.data[0] = 1;
        m.data[7] = 1;
        assert_eq!(label(&m, Connectivity::Full).1, 1);
        let (lab, n) = label(&m, Connectivity::Faces);
        assert_eq!(n, 2);
        assert_eq!((lab.data[0], lab.data[7]), (1, 2));
    }

    #[test]
    fn a_u_shape_joined_only_in_a_later_slice_is_one_label() {
        // Two columns in slice 0, a bridge in slice 1: provisional labels
        // merge, and the final labels are 1 and nothing else.
        let mut m = Volume::filled(5, 1, 2, 0u8);
        for x in [0, 4] {
            let i = m.index(x, 0, 0);
            m.data[i] = 1;
        }
        for x in 0..5 {
            let i = m.index(x, 0, 1);
            m.data[i] = 1;
        }
        let (lab, n) = label(&m, Connectivity::Faces);
        assert_eq!(n, 1);
        assert!(lab.data.iter().all(|&v| v <= 1));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn equals_the_flood_fill(
            (w, h, d) in (1usize..9, 1usize..9, 1usize..7),
            seed in any::<u64>(),
            density in 0.2f64..0.7,
        ) {
            let m = random_mask((w, h, d), seed, |s| {
                ((s >> 11) as f64 / (1u64 << 53) as f64) < density
            });
            for c in [Connectivity::Faces, Connectivity::Full] {
                prop_assert_eq!(label(&m, c), label_reference(&m, c));
            }
        }
    }
}

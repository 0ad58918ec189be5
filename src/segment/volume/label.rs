//! Connected-component labelling of a 3D mask, 6- or 26-connected: one
//! raster pass with union–find over the already visited neighbours, then
//! one relabelling pass (the classic two-pass algorithm, Rosenfeld &
//! Pfaltz 1966; union–find with path halving, Wu, Otoo & Suzuki 2009).

use super::{neighbour, Connectivity};
use crate::segment::label::{relabel, union};
use crate::volume::Volume;

/// The labelled components of `mask` (non-zero voxels): labels 1..=n in
/// raster order of each component's first voxel (z, then y, then x),
/// 0 on the background; and n.
pub fn label(mask: &Volume<u8>, connectivity: Connectivity) -> (Volume<u32>, u32) {
    let (w, h, d) = (mask.width, mask.height, mask.depth);
    let mut lab = vec![0u32; mask.data.len()];
    // parent[0] is the background; provisional labels start at 1.
    let mut parent: Vec<u32> = vec![0];
    let back = connectivity.backward();
    let interior = |x: usize, y: usize, z: usize| x > 0 && y > 0 && z > 0 && x + 1 < w && y + 1 < h;
    // Offsets of the backward neighbours in the flat index, for voxels
    // away from the borders.
    let flat: Vec<isize> = back
        .iter()
        .map(|&(dx, dy, dz)| (dz as isize * h as isize + dy as isize) * w as isize + dx as isize)
        .collect();
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let i = (z * h + y) * w + x;
                if mask.data[i] == 0 {
                    continue;
                }
                let mut mine = 0u32;
                let mut see = |other: u32, parent: &mut Vec<u32>| {
                    if other == 0 {
                        return;
                    }
                    if mine == 0 {
                        mine = other;
                    } else if other != mine {
                        union(parent, mine, other);
                    }
                };
                if interior(x, y, z) {
                    for &o in &flat {
                        see(lab[(i as isize + o) as usize], &mut parent);
                    }
                } else {
                    for &o in back {
                        if let Some((nx, ny, nz)) = neighbour((x, y, z), o, (w, h, d)) {
                            see(lab[(nz * h + ny) * w + nx], &mut parent);
                        }
                    }
                }
                if mine == 0 {
                    mine = parent.len() as u32;
                    parent.push(mine);
                }
                lab[i] = mine;
            }
        }
    }
    let n = relabel(&mut lab, &mut parent);
    (mask.same_shape(lab), n)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::segment::volume::random_mask;
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

//! Marker-controlled watershed of a 3D height map by priority flooding
//! (Meyer 1991; Beucher & Meyer 1993), and the split of touching objects
//! it serves: the distance transform's peaks as markers, and basins whose
//! neck is nearly as thick as the thinner body merged back (the 2D neck
//! test of [`crate::segment::watershed`], in 3D).

use super::distance::edt;
use super::label::{components, label, Components, RowRun};
use super::{Connectivity, Neighbours};
use crate::segment::label::{find, relabel, union};
use crate::volume::Volume;

/// A key that orders f32 values as numbers (finite values; −0 < +0).
fn order_key(v: f32) -> u32 {
    let b = v.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Floods `heights` from `markers` (labels > 0) over the voxels of `mask`:
/// every mask voxel reachable from a marker takes the label of the marker
/// whose water reaches it first as the level rises (lowest voxels first,
/// ties in the order they were reached); marker voxels keep their labels,
/// mask voxels no marker reaches stay 0.
pub fn watershed(
    heights: &Volume<f32>,
    markers: &Volume<u32>,
    mask: &Volume<u8>,
    connectivity: Connectivity,
) -> Volume<u32> {
    let dims = (heights.width, heights.height, heights.depth);
    let lab = flood(
        markers.data.clone(),
        dims,
        |i| order_key(heights.data[i]),
        |i| mask.data[i] != 0,
        connectivity,
        |_, _| {},
    );
    heights.same_shape(lab)
}

/// The flood of [`watershed`] on flat data: `lab` holds the markers and
/// comes back flooded; `key` orders the voxels (lowest first). Each time a
/// popped voxel finds a neighbour already holding another label,
/// `contact(i, j)` is told (i popped, j the neighbour, i < j) — with
/// markers that are regional maxima plateaus, every pair of touching
/// voxels with different labels is told once: each of the two is popped
/// (an unqueued marker voxel has only its own label and the background
/// around it) and finds the other labelled (free, it would have taken the
/// same label), and the one with the lower index tells.
fn flood(
    mut lab: Vec<u32>,
    dims: (usize, usize, usize),
    key: impl Fn(usize) -> u32,
    in_mask: impl Fn(usize) -> bool,
    connectivity: Connectivity,
    mut contact: impl FnMut(usize, usize),
) -> Vec<u32> {
    let queueable = |i: usize| lab[i] != 0 || in_mask(i);
    let near = Neighbours::within(dims, connectivity.all(), queueable);
    let mut queue = LevelQueue::new(lab.len(), &key, queueable);
    // Mask voxels no marker holds and no flood has reached yet are FREE:
    // one read of `lab` tells a neighbour's state and its label.
    const FREE: u32 = u32::MAX;
    for (i, l) in lab.iter_mut().enumerate() {
        debug_assert!(*l != FREE, "a marker's label is below 2³² − 1");
        if *l == 0 && in_mask(i) {
            *l = FREE;
        }
    }
    // Only marker voxels with a voxel to flood next to them start in the
    // queue (an inner one would find nothing left to label).
    for i in 0..lab.len() {
        let l = lab[i];
        if l != 0 && l != FREE && near.any(i, |j| lab[j] == FREE) {
            queue.push(i);
        }
    }
    while let Some(i) = queue.pop() {
        let l = lab[i];
        near.each(i, |j| {
            let here = lab[j];
            if here == FREE {
                lab[j] = l;
                queue.push(j);
            } else if here != l && here != 0 && i < j {
                contact(i, j);
            }
        });
    }
    // Mask voxels no marker reaches.
    lab.iter_mut().filter(|l| **l == FREE).for_each(|l| *l = 0);
    lab
}

/// The flood's queue: lowest key first, and among equal keys first come
/// first served (the order of a priority queue keyed by (key, arrival)),
/// as one first-in-first-out bucket per distinct key — a hierarchical
/// queue (Beucher & Meyer 1993) with exact levels: the distinct keys
/// sorted once, then no comparisons between entries — O(1) per push, and pops
/// walk the levels upward (back down only when a lower voxel arrives).
struct LevelQueue {
    /// Each voxel's level (the rank of its key among the distinct keys of
    /// the voxels that can be queued; others unused).
    level: Vec<u32>,
    buckets: Vec<Vec<u32>>,
    /// How far each bucket has been popped.
    read: Vec<usize>,
    /// No bucket below this holds an entry not yet popped.
    lowest: usize,
}

impl LevelQueue {
    /// The queue for the `len` voxels (indices below 2³²) that
    /// `queueable` says yes to, ordered by `key`.
    fn new(
        len: usize,
        key: impl Fn(usize) -> u32,
        queueable: impl Fn(usize) -> bool,
    ) -> LevelQueue {
        // The distinct keys, sorted (many voxels share one: a sort of
        // keys with many equal is fast), then each voxel's rank among
        // them.
        let mut keys: Vec<u32> = (0..len).filter(|&i| queueable(i)).map(&key).collect();
        keys.sort_unstable();
        keys.dedup();
        let level = (0..len)
            .map(|i| {
                if queueable(i) {
                    keys.binary_search(&key(i)).unwrap_or(0) as u32
                } else {
                    0
                }
            })
            .collect();
        let count = keys.len();
        LevelQueue {
            level,
            buckets: vec![Vec::new(); count],
            read: vec![0; count],
            lowest: 0,
        }
    }

    fn push(&mut self, i: usize) {
        let l = self.level[i] as usize;
        self.buckets[l].push(i as u32);
        self.lowest = self.lowest.min(l);
    }

    fn pop(&mut self) -> Option<usize> {
        while let Some(bucket) = self.buckets.get(self.lowest) {
            let r = self.read[self.lowest];
            if let Some(&i) = bucket.get(r) {
                self.read[self.lowest] = r + 1;
                return Some(i as usize);
            }
            self.lowest += 1;
        }
        None
    }
}

/// What [`split_touching`] made of a mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The pieces, labelled 1..=n in raster order of their first voxel.
    pub labels: Volume<u32>,
    /// n.
    pub count: u32,
}

/// When two touching bodies stay apart ([`split_touching`]).
#[derive(Clone, Copy, Debug)]
pub struct SplitRule {
    /// Apart only where the neck's half-width is under this fraction of
    /// the thinner body's half-width (1.0: every neck).
    pub neck_ratio: f64,
    /// Bodies whose centres (their thickest points) are closer than this
    /// are one body, in the unit of the spacing (µm).
    pub min_separation: f64,
}

/// Splits touching objects of `mask` where they meet through a neck: the
/// Euclidean distance to the background (in the unit of `spacing`, the
/// voxel spacing along x, y, z) is flooded from its regional maxima, and
/// neighbouring basins are merged back, thickest neck first, where the
/// neck (the thickest point of the surface between them) is at least
/// `rule.neck_ratio` × the thinner body's peak distance, or their peaks
/// lie closer than `rule.min_separation`. 26-connected.
///
/// Each connected component is split in its own crop (its bounding box
/// and one voxel of background around it, where the volume goes on), so
/// the work follows the objects, not the volume.
pub fn split_touching(mask: &Volume<u8>, spacing: [f64; 3], rule: SplitRule) -> Split {
    let pieces = split_components(&components(mask, Connectivity::Full), spacing, rule);
    Split {
        labels: pieces.paint(),
        count: pieces.count(),
    }
}

/// [`split_touching`] of the 26-connected components of a mask, split
/// where they lie: the pieces, as runs, numbered in raster order of their
/// first voxel.
pub fn split_components(found: &Components, spacing: [f64; 3], rule: SplitRule) -> Components {
    let mut pieces = Vec::new();
    for k in 1..=found.count() {
        let crop = Crop::of(found.runs(k), found.dims);
        let split = split_crop(&crop, spacing, rule);
        pieces.extend(crop.runs_of(&split));
    }
    Components::from_objects(found.dims, pieces)
}

/// One component in its crop: its bounding box and one voxel more on
/// every side. Voxels are 1 on the component, 0 on background inside the
/// volume (other components' voxels too), and 2 beyond the volume's edge
/// — not background for the distance transform (the volume's edge is
/// not) and not part of the component either.
#[derive(Clone, Debug)]
pub struct Crop {
    /// The volume's voxel at crop voxel (1, 1, 1): the box's least x, y, z.
    pub origin: [usize; 3],
    /// The crop.
    pub voxels: Volume<u8>,
    /// The volume's width, height and depth.
    dims: [usize; 3],
}

impl Crop {
    /// The crop of the component made of `runs` (those of
    /// [`Components::runs`]) in a volume of `dims`.
    pub fn of(runs: &[RowRun], dims: (usize, usize, usize)) -> Crop {
        let dims = [dims.0, dims.1, dims.2];
        let at = |r: &RowRun| (r.row as usize % dims[1], r.row as usize / dims[1]);
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        for r in runs {
            let (y, z) = at(r);
            let ends = [[r.start as usize, r.end as usize - 1], [y, y], [z, z]];
            for k in 0..3 {
                lo[k] = lo[k].min(ends[k][0]);
                hi[k] = hi[k].max(ends[k][1]);
            }
        }
        if runs.is_empty() {
            lo = [0; 3];
        }
        let size: [usize; 3] = [0, 1, 2].map(|k| hi[k].max(lo[k]) - lo[k] + 3);
        let mut voxels = Volume::filled(size[0], size[1], size[2], 0u8);
        // The margin beyond the volume's edge, face by face.
        for z in 0..size[2] {
            for y in 0..size[1] {
                let beyond_zy = (z == 0 && lo[2] == 0)
                    || (z + 1 == size[2] && hi[2] + 1 == dims[2])
                    || (y == 0 && lo[1] == 0)
                    || (y + 1 == size[1] && hi[1] + 1 == dims[1]);
                let i = voxels.index(0, y, z);
                let row = &mut voxels.data[i..i + size[0]];
                if beyond_zy {
                    row.fill(2);
                    continue;
                }
                if lo[0] == 0 {
                    row[0] = 2;
                }
                if hi[0] + 1 == dims[0] {
                    row[size[0] - 1] = 2;
                }
            }
        }
        for r in runs {
            let (y, z) = at(r);
            let i = voxels.index(r.start as usize - lo[0] + 1, y - lo[1] + 1, z - lo[2] + 1);
            voxels.data[i..i + (r.end - r.start) as usize].fill(1);
        }
        Crop {
            origin: lo,
            voxels,
            dims,
        }
    }

    /// Calls `f(y, z, range)` for each row of the crop inside its box
    /// (margin left out): crop row y, slice z, and the volume's flat
    /// indices of that row's voxels.
    pub fn for_each_row(&self, mut f: impl FnMut(usize, usize, std::ops::Range<usize>)) {
        let [w, h, _] = self.dims;
        let v = &self.voxels;
        let [x0, y0, z0] = self.origin;
        for z in 1..v.depth.saturating_sub(1) {
            for y in 1..v.height.saturating_sub(1) {
                let start = ((z0 + z - 1) * h + y0 + y - 1) * w + x0;
                f(y, z, start..start + v.width - 2);
            }
        }
    }

    /// Each of `pieces` (of this crop) as runs in the volume, in raster
    /// order.
    pub fn runs_of(&self, pieces: &Pieces) -> Vec<Vec<RowRun>> {
        let mut out = vec![Vec::new(); pieces.count as usize];
        let w = self.dims[0];
        self.for_each_row(|y, z, row| {
            let at = pieces.labels.index(1, y, z);
            let labels = &pieces.labels.data[at..at + row.len()];
            let volume_row = (row.start / w) as u32;
            let x0 = (row.start % w) as u32;
            let mut x = 0;
            while x < labels.len() {
                let l = labels[x];
                let start = x;
                while x < labels.len() && labels[x] == l {
                    x += 1;
                }
                if l != 0 {
                    out[l as usize - 1].push(RowRun {
                        row: volume_row,
                        start: x0 + start as u32,
                        end: x0 + x as u32,
                    });
                }
            }
        });
        out.retain(|o| !o.is_empty());
        out
    }
}

/// What [`split_crop`] made of a component: its pieces, labelled 1..=count
/// in the crop (0 elsewhere).
#[derive(Clone, Debug, PartialEq)]
pub struct Pieces {
    /// Each crop voxel's piece.
    pub labels: Volume<u32>,
    /// How many pieces.
    pub count: u32,
}

/// The split of [`split_touching`] of one component, in its crop.
pub fn split_crop(crop: &Crop, spacing: [f64; 3], rule: SplitRule) -> Pieces {
    split_component(crop.voxels.clone(), spacing, rule)
}

/// [`split_touching`] of one component in its crop: 1 the component,
/// 0 background, 2 beyond the volume's edge (neither). No voxel of the
/// component lies on the crop's border, so its neighbours are found by
/// flat offsets alone.
fn split_component(crop: Volume<u8>, spacing: [f64; 3], rule: SplitRule) -> Pieces {
    let dist = edt(&crop, spacing);
    let mut mask = crop;
    mask.data.iter_mut().for_each(|v| *v = u8::from(*v == 1));
    let Basins {
        labels: mut lab,
        count: n,
        necks,
    } = basins(&dist, &mask);
    // Each basin's peak (height and where).
    let mut peak = vec![(0f32, [0f64; 3]); n as usize + 1];
    let (w, h) = (mask.width, mask.height);
    for (i, (&l, &d)) in lab.iter().zip(&dist.data).enumerate() {
        if l != 0 && d > peak[l as usize].0 {
            let at = [i % w, (i / w) % h, i / (w * h)];
            peak[l as usize] = (d, [0, 1, 2].map(|k| at[k] as f64 * spacing[k]));
        }
    }
    let mut parent: Vec<u32> = (0..=n).collect();
    for ((a, b), neck) in necks {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra == rb {
            continue;
        }
        let (pa, pb) = (peak[ra as usize], peak[rb as usize]);
        let thinner = pa.0.min(pb.0);
        let apart = (0..3)
            .map(|k| (pa.1[k] - pb.1[k]).powi(2))
            .sum::<f64>()
            .sqrt();
        if neck as f64 >= rule.neck_ratio * thinner as f64 || apart < rule.min_separation {
            union(&mut parent, ra, rb);
            peak[find(&mut parent, ra) as usize] = if pa.0 >= pb.0 { pa } else { pb };
        }
    }
    let count = relabel(&mut lab, &mut parent);
    Pieces {
        labels: mask.same_shape(lab),
        count,
    }
}

/// The basins of a component and where they touch.
struct Basins {
    /// Each mask voxel's basin, 1..=count (0 outside the mask).
    labels: Vec<u32>,
    count: u32,
    /// For each pair of basins (a < b) that touch (26-connected), the
    /// neck between them: the largest min(distance) over touching voxel
    /// pairs; thickest first.
    necks: Vec<((u32, u32), f32)>,
}

/// The basins of `dist` (the distance to the background) over `mask`:
/// flooded down from its regional maxima (no mask voxel on the grid's
/// border), with the necks found as the flood meets itself.
fn basins(dist: &Volume<f32>, mask: &Volume<u8>) -> Basins {
    let (markers, n) = regional_maxima(dist, mask);
    if n == 1 {
        // One peak: the whole (connected) component is its basin.
        return Basins {
            labels: mask.data.iter().map(|&m| u32::from(m)).collect(),
            count: 1,
            necks: Vec::new(),
        };
    }
    // The flood goes down from the peaks (the distance, negated); it
    // records the voxel pairs where two basins touch, resolved to labels
    // once it is done.
    let mut touching: Vec<(u32, u32)> = Vec::new();
    let labels = flood(
        markers.data,
        (mask.width, mask.height, mask.depth),
        |i| order_key(-dist.data[i]),
        |i| mask.data[i] != 0,
        Connectivity::Full,
        |i, j| touching.push((i as u32, j as u32)),
    );
    // Each pair's thickest contact: the contacts sorted by pair, then the
    // greatest of each run.
    let mut pairs: Vec<((u32, u32), f32)> = touching
        .into_iter()
        .map(|(i, j)| {
            let (i, j) = (i as usize, j as usize);
            let (a, b) = (labels[i], labels[j]);
            ((a.min(b), a.max(b)), dist.data[i].min(dist.data[j]))
        })
        .collect();
    pairs.sort_unstable_by_key(|p| p.0);
    let mut necks: Vec<((u32, u32), f32)> = Vec::new();
    for (pair, neck) in pairs {
        match necks.last_mut() {
            Some(last) if last.0 == pair => last.1 = last.1.max(neck),
            _ => necks.push((pair, neck)),
        }
    }
    necks.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    Basins {
        labels,
        count: n,
        necks,
    }
}

/// The mask voxels no 26-neighbour of which (in the mask) lies higher,
/// labelled as 26-connected plateaus; and how many.
fn regional_maxima(dist: &Volume<f32>, mask: &Volume<u8>) -> (Volume<u32>, u32) {
    let near = Neighbours::within(
        (dist.width, dist.height, dist.depth),
        Connectivity::Full.all(),
        |i| mask.data[i] != 0,
    );
    let top = mask.same_shape(
        (0..dist.data.len())
            .map(|i| {
                let here = dist.data[i];
                let highest =
                    mask.data[i] != 0 && !near.any(i, |j| mask.data[j] != 0 && dist.data[j] > here);
                u8::from(highest)
            })
            .collect(),
    );
    label(&top, Connectivity::Full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::volume::neighbour;
    use std::collections::HashMap;

    /// For each pair of labels (a < b) that touch (26-connected), the neck
    /// between them: the largest min(distance) over touching voxel pairs.
    /// Sorted thickest first.
    fn necks_reference(lab: &[u32], dist: &Volume<f32>) -> Vec<((u32, u32), f32)> {
        let dims = (dist.width, dist.height, dist.depth);
        let back = Connectivity::Full.backward().to_vec();
        let near = Neighbours::within(dims, back, |i| lab[i] != 0);
        let mut best: HashMap<(u32, u32), f32> = Default::default();
        for (i, &a) in lab.iter().enumerate() {
            if a == 0 {
                continue;
            }
            near.each(i, |j| {
                let b = lab[j];
                if b != 0 && b != a {
                    let key = (a.min(b), a.max(b));
                    let neck = dist.data[i].min(dist.data[j]);
                    let e = best.entry(key).or_insert(0.0);
                    *e = e.max(neck);
                }
            });
        }
        let mut out: Vec<_> = best.into_iter().collect();
        out.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        out
    }

    /// Brute force: for every marker, the lowest "water level" at which
    /// its flood reaches each voxel (the smallest, over paths through the
    /// mask, of the highest voxel passed before it), by relaxing until
    /// nothing changes; a voxel's label must be one of the markers with
    /// the lowest level.
    fn levels_reference(
        heights: &Volume<f32>,
        markers: &Volume<u32>,
        mask: &Volume<u8>,
    ) -> Vec<Vec<f32>> {
        let dims = (heights.width, heights.height, heights.depth);
        let n = *markers.data.iter().max().unwrap_or(&0) as usize;
        let offsets = Connectivity::Full.all();
        let mut out = Vec::new();
        for m in 1..=n as u32 {
            // reach[v]: level at which v is popped (its own height counted).
            let mut popped = vec![f32::INFINITY; heights.data.len()];
            for (i, &l) in markers.data.iter().enumerate() {
                if l == m {
                    popped[i] = heights.data[i];
                }
            }
            let mut arrive = vec![f32::INFINITY; heights.data.len()];
            loop {
                let mut changed = false;
                for z in 0..dims.2 {
                    for y in 0..dims.1 {
                        for x in 0..dims.0 {
                            let i = heights.index(x, y, z);
                            if mask.data[i] == 0 || markers.data[i] != 0 {
                                continue;
                            }
                            let best = offsets
                                .iter()
                                .filter_map(|&o| neighbour((x, y, z), o, dims))
                                .map(|(a, b, c)| popped[heights.index(a, b, c)])
                                .fold(f32::INFINITY, f32::min);
                            if best < arrive[i] {
                                arrive[i] = best;
                                popped[i] = best.max(heights.data[i]);
                                changed = true;
                            }
                        }
                    }
                }
                if !changed {
                    break;
                }
            }
            out.push(arrive);
        }
        out
    }

    #[test]
    fn labels_are_those_of_the_markers_that_flood_first() {
        for seed in 1..30u64 {
            let (w, h, d) = (7, 6, 5);
            let mut s = seed;
            let mut rnd = || {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32
            };
            let heights =
                Volume::from_vec(w, h, d, (0..w * h * d).map(|_| rnd()).collect()).unwrap();
            let mask = Volume::from_vec(
                w,
                h,
                d,
                (0..w * h * d).map(|_| u8::from(rnd() < 0.8)).collect(),
            )
            .unwrap();
            let mut markers = Volume::filled(w, h, d, 0u32);
            for m in 1..=3u32 {
                let i = (rnd() * (w * h * d) as f32) as usize % (w * h * d);
                markers.data[i] = m;
            }
            let lab = watershed(&heights, &markers, &mask, Connectivity::Full);
            let levels = levels_reference(&heights, &markers, &mask);
            for i in 0..w * h * d {
                if markers.data[i] != 0 {
                    assert_eq!(lab.data[i], markers.data[i]);
                    continue;
                }
                if mask.data[i] == 0 {
                    assert_eq!(lab.data[i], 0);
                    continue;
                }
                let best = levels.iter().map(|l| l[i]).fold(f32::INFINITY, f32::min);
                if best.is_infinite() {
                    assert_eq!(lab.data[i], 0, "seed {seed}: voxel {i} unreachable");
                    continue;
                }
                let got = lab.data[i] as usize;
                assert!(got >= 1, "seed {seed}: voxel {i} reachable but unlabelled");
                assert_eq!(levels[got - 1][i], best, "seed {seed}: voxel {i}");
            }
        }
    }

    /// Two balls of radius `r` voxels, centres `gap` apart along x.
    fn two_balls(r: f64, gap: f64, spacing_z: f64) -> Volume<u8> {
        let (w, h, d) = (
            ((2.0 * r + gap) as usize) + 6,
            (2.0 * r) as usize + 6,
            ((2.0 * r) / spacing_z) as usize + 6,
        );
        let mut m = Volume::filled(w, h, d, 0u8);
        let c = [(r + 3.0, r + 3.0), (r + 3.0 + gap, r + 3.0)];
        let cz = (d as f64 - 1.0) / 2.0;
        for z in 0..d {
            for y in 0..h {
                for x in 0..w {
                    let inside = c.iter().any(|&(cx, cy)| {
                        let dz = (z as f64 - cz) * spacing_z;
                        (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2) + dz * dz <= r * r
                    });
                    let i = m.index(x, y, z);
                    m.data[i] = u8::from(inside);
                }
            }
        }
        m
    }

    #[test]
    fn balls_touching_through_a_neck_split_and_overlapping_ones_do_not() {
        let rule = SplitRule {
            neck_ratio: 0.7,
            min_separation: 0.0,
        };
        // Centres 1.8 r apart: the neck's half-width is about 0.44 r.
        let s = split_touching(&two_balls(6.0, 10.8, 1.0), [1.0; 3], rule);
        assert_eq!(s.count, 2);
        // Centres 0.6 r apart: one body.
        let s = split_touching(&two_balls(6.0, 3.6, 1.0), [1.0; 3], rule);
        assert_eq!(s.count, 1);
        // Anisotropic voxels (z step 2.5 px) do not change the answer.
        let s = split_touching(&two_balls(6.0, 10.8, 2.5), [1.0, 1.0, 2.5], rule);
        assert_eq!(s.count, 2);
        let s = split_touching(&two_balls(6.0, 3.6, 2.5), [1.0, 1.0, 2.5], rule);
        assert_eq!(s.count, 1);
        // Centres closer than the least separation: one body.
        let near = SplitRule {
            min_separation: 12.0,
            ..rule
        };
        assert_eq!(
            split_touching(&two_balls(6.0, 10.8, 1.0), [1.0; 3], near).count,
            1
        );
    }

    /// The fused flood (markers, one-peak shortcut, necks found as the
    /// flood meets itself) against the plain route: the public
    /// watershed of the negated distance from the regional maxima, and
    /// the necks scanned over the result.
    #[test]
    fn basins_equal_the_watershed_and_the_scanned_necks() {
        let mut split_some = 0;
        for seed in 1..120u64 {
            let (w, h, d) = (14, 12, 9);
            // Blobs: a random mask, smoothed into touching bodies by
            // keeping voxels with enough set neighbours.
            let noise = crate::segment::volume::random_mask((w, h, d), seed, |r| r % 100 < 62);
            let mut crop = Volume::filled(w, h, d, 0u8);
            for z in 1..d - 1 {
                for y in 1..h - 1 {
                    for x in 1..w - 1 {
                        let set = Connectivity::Full
                            .all()
                            .iter()
                            .filter_map(|&o| neighbour((x, y, z), o, (w, h, d)))
                            .filter(|&(a, b, c)| noise.get(a, b, c) != 0)
                            .count();
                        let i = crop.index(x, y, z);
                        crop.data[i] = u8::from(set >= 15);
                    }
                }
            }
            let spacing = [1.0, 1.0, 1.0 + (seed % 3) as f64];
            let dist = edt(&crop, spacing);
            let got = basins(&dist, &crop);
            let (markers, n) = regional_maxima(&dist, &crop);
            let heights = dist.map(|v| -v);
            let plain = watershed(&heights, &markers, &crop, Connectivity::Full);
            assert_eq!(got.count, n, "seed {seed}");
            if n == 1 {
                // The shortcut: every voxel of the mask, when it is one
                // component (else the flood would leave some unlabelled).
                let (_, parts) = label(&crop, Connectivity::Full);
                if parts == 1 {
                    assert_eq!(got.labels, plain.data, "seed {seed}");
                }
                continue;
            }
            assert_eq!(got.labels, plain.data, "seed {seed}");
            assert_eq!(
                got.necks,
                necks_reference(&plain.data, &dist),
                "seed {seed}"
            );
            split_some += usize::from(!got.necks.is_empty());
        }
        assert!(split_some > 20, "only {split_some} cases had necks");
    }

    /// A component's crop from its runs against the crop read off the
    /// label volume: box + 1, 1 on the component, 2 beyond the volume,
    /// 0 elsewhere; and its rows map back onto the component's voxels.
    #[test]
    fn crops_from_runs_equal_crops_from_the_label_volume() {
        for seed in 1..40u64 {
            let dims = (
                1 + seed as usize % 7,
                1 + seed as usize % 5,
                1 + seed as usize % 4,
            );
            let m = crate::segment::volume::random_mask(dims, seed, |r| r % 3 == 0);
            let found = components(&m, Connectivity::Full);
            let lab = found.paint();
            for k in 1..=found.count() {
                let crop = Crop::of(found.runs(k), dims);
                let v = &crop.voxels;
                for z in 0..v.depth {
                    for y in 0..v.height {
                        for x in 0..v.width {
                            let at = [x, y, z]
                                .iter()
                                .zip(crop.origin)
                                .map(|(&c, o)| (o + c).checked_sub(1))
                                .collect::<Vec<_>>();
                            let inside = at[0].filter(|&a| a < dims.0).and_then(|a| {
                                let b = at[1].filter(|&b| b < dims.1)?;
                                let c = at[2].filter(|&c| c < dims.2)?;
                                Some((a, b, c))
                            });
                            let want = match inside {
                                None => 2,
                                Some((a, b, c)) => u8::from(lab.get(a, b, c) == k),
                            };
                            assert_eq!(v.get(x, y, z), want, "seed {seed} component {k}");
                        }
                    }
                }
                let mut seen = 0;
                crop.for_each_row(|y, z, row| {
                    let i = v.index(1, y, z);
                    for (&c, &l) in v.data[i..i + row.len()].iter().zip(&lab.data[row]) {
                        assert_eq!(c == 1, l == k);
                        seen += usize::from(c == 1);
                    }
                });
                let total: usize = found
                    .runs(k)
                    .iter()
                    .map(|r| (r.end - r.start) as usize)
                    .sum();
                assert_eq!(seen, total);
            }
        }
    }

    #[test]
    fn order_keys_sort_as_numbers() {
        let v = [-3.5f32, -1.0, -0.0, 0.0, 1e-8, 2.0, 7.5];
        for p in v.windows(2) {
            assert!(order_key(p[0]) <= order_key(p[1]));
        }
    }
}

//! Measurements of 3D objects given as runs: voxel count, centroid, the
//! area of the object's footprint (its projection on the x–y plane), and
//! the mean of each channel over its voxels — one pass over each
//! object's runs.

use crate::segment::volume::label::{Components, RowRun};
use crate::volume::VoxelSize;
use crate::Sample;

/// One labelled 3D object.
#[derive(Clone, Debug, PartialEq)]
pub struct Region3 {
    /// Its label (1..).
    pub label: u32,
    /// Voxels.
    pub voxels: u64,
    /// Centroid (x, y in pixels, z in slices).
    pub centroid: [f64; 3],
    /// Pixels of its footprint: the (x, y) columns holding any of its
    /// voxels.
    pub footprint_px: u64,
    /// Mean of each channel over its voxels.
    pub means: [f64; 3],
    /// Bounding box: least and greatest x, y, z.
    pub bounds: [[usize; 2]; 3],
}

impl Region3 {
    /// Volume, µm³.
    pub fn volume_um3(&self, voxel: VoxelSize) -> f64 {
        self.voxels as f64 * voxel.voxel_um3()
    }

    /// Footprint area, µm².
    pub fn footprint_um2(&self, voxel: VoxelSize) -> f64 {
        self.footprint_px as f64 * voxel.xy_um * voxel.xy_um
    }
}

/// Measures `objects` (index: label − 1), with the mean of each of
/// `channels` (K ≤ 3, each a volume's voxels in raster order) in the
/// first K of their `means` (the rest 0). Sums run over each object's
/// voxels in raster order, as a pass over a label volume adds them.
pub fn regions<T: Sample, const K: usize>(
    objects: &Components,
    channels: [&[T]; K],
) -> Vec<Region3> {
    const { assert!(K <= 3, "at most three channels") };
    let (w, h, d) = objects.dims;
    assert!(
        channels.iter().all(|c| c.len() == w * h * d),
        "channels have the objects' volume's shape"
    );
    (1..=objects.count())
        .map(|label| {
            let runs = objects.runs(label);
            let mut voxels = 0u64;
            let mut sum_at = [0f64; 3];
            let mut sum_of = [0f64; K];
            let mut bounds = [[usize::MAX, 0]; 3];
            for r in runs {
                let (y, z) = (r.row as usize % h, r.row as usize / h);
                let (x0, x1) = (r.start as usize, r.end as usize);
                let row = r.row as usize * w;
                for x in x0..x1 {
                    voxels += 1;
                    for (s, v) in sum_at.iter_mut().zip([x, y, z]) {
                        *s += v as f64;
                    }
                    for (s, c) in sum_of.iter_mut().zip(&channels) {
                        *s += f64::from(c[row + x].to_f32());
                    }
                }
                for (b, (lo, hi)) in bounds.iter_mut().zip([(x0, x1 - 1), (y, y), (z, z)]) {
                    b[0] = b[0].min(lo);
                    b[1] = b[1].max(hi);
                }
            }
            let c = voxels.max(1) as f64;
            let mut means = [0.0; 3];
            means[..K].copy_from_slice(&sum_of.map(|s| s / c));
            Region3 {
                label,
                voxels,
                centroid: sum_at.map(|s| s / c),
                footprint_px: footprint(runs, h, bounds),
                means,
                bounds,
            }
        })
        .collect()
}

/// Columns (x, y) holding a voxel of the object made of `runs` (in a
/// volume `h` rows high), whose box is `bounds`.
fn footprint(runs: &[RowRun], h: usize, bounds: [[usize; 2]; 3]) -> u64 {
    let [[x0, x1], [y0, y1], _] = bounds;
    let bw = x1 + 1 - x0;
    let mut seen = vec![false; bw * (y1 + 1 - y0)];
    for r in runs {
        let y = r.row as usize % h;
        let at = (y - y0) * bw;
        seen[at + r.start as usize - x0..at + r.end as usize - x0].fill(true);
    }
    seen.iter().filter(|&&s| s).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::volume::label::components;
    use crate::segment::volume::Connectivity;
    use crate::volume::Volume;

    #[test]
    fn a_tilted_rod_measures_by_hand() {
        // A rod along the diagonal of x and z: voxels (i, 1, i) and
        // (i + 1, 1, i) for i in 0..4 — 8 voxels, footprint 5 columns.
        let mut lab = Volume::filled(6, 3, 4, 0u32);
        for i in 0..4 {
            for x in [i, i + 1] {
                let k = lab.index(x, 1, i);
                lab.data[k] = 1;
            }
        }
        let twos = Volume::filled(6, 3, 4, 2u16);
        let objects = components(&lab.map(|l| l as u8), Connectivity::Full);
        let r = regions(&objects, [twos.data.as_slice()]);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].means, [2.0, 0.0, 0.0]);
        let r = &r[0];
        assert_eq!(r.voxels, 8);
        assert_eq!(r.footprint_px, 5);
        assert_eq!(r.centroid, [2.0, 1.0, 1.5]);
        assert_eq!(r.bounds, [[0, 4], [1, 1], [0, 3]]);
        let voxel = VoxelSize {
            xy_um: 0.5,
            z_um: 2.0,
        };
        assert_eq!(r.volume_um3(voxel), 4.0);
        assert_eq!(r.footprint_um2(voxel), 1.25);
    }
}

//! Measurements of 3D objects: voxel count, centroid, the area of the
//! object's footprint (its projection on the x–y plane), and the mean of
//! each channel over its voxels — one pass over the labels, plus one over
//! each object's bounding box for the footprint.

use crate::volume::{Volume, VoxelSize};
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

/// Measures objects 1..=`n` of `labels` (index: label − 1), with the
/// mean of each of `channels` (K ≤ 3, each a volume's voxels in the
/// labels' order) in the first K of their `means` (the rest 0): one pass
/// over the labels, reading the channels only where a label is.
pub fn regions<T: Sample, const K: usize>(
    labels: &Volume<u32>,
    n: u32,
    channels: [&[T]; K],
) -> Vec<Region3> {
    const { assert!(K <= 3, "at most three channels") };
    let (w, h, d) = (labels.width, labels.height, labels.depth);
    assert!(
        channels.iter().all(|c| c.len() == labels.data.len()),
        "channels have the labels' shape"
    );
    let n = n as usize;
    let mut count = vec![0u64; n + 1];
    let mut sum_at = vec![[0f64; 3]; n + 1];
    let mut sum_of = vec![[0f64; K]; n + 1];
    let mut bounds = vec![[[usize::MAX, 0]; 3]; n + 1];
    for z in 0..d {
        for y in 0..h {
            let row = (z * h + y) * w;
            let labelled = labels.data[row..row + w]
                .iter()
                .enumerate()
                .filter(|(_, &l)| l != 0);
            for (x, &l) in labelled {
                let l = l as usize;
                count[l] += 1;
                let at = [x, y, z];
                for k in 0..3 {
                    sum_at[l][k] += at[k] as f64;
                    bounds[l][k][0] = bounds[l][k][0].min(at[k]);
                    bounds[l][k][1] = bounds[l][k][1].max(at[k]);
                }
                for (s, c) in sum_of[l].iter_mut().zip(&channels) {
                    *s += f64::from(c[row + x].to_f32());
                }
            }
        }
    }
    (1..=n)
        .filter(|&l| count[l] > 0)
        .map(|l| {
            let c = count[l] as f64;
            let mut means = [0.0; 3];
            means[..K].copy_from_slice(&sum_of[l].map(|s| s / c));
            Region3 {
                label: l as u32,
                voxels: count[l],
                centroid: sum_at[l].map(|s| s / c),
                footprint_px: footprint(labels, l as u32, bounds[l]),
                means,
                bounds: bounds[l],
            }
        })
        .collect()
}

/// Columns (x, y) inside `bounds` holding a voxel of `label`.
fn footprint(labels: &Volume<u32>, label: u32, bounds: [[usize; 2]; 3]) -> u64 {
    let [[x0, x1], [y0, y1], [z0, z1]] = bounds;
    let bw = x1 - x0 + 1;
    let mut seen = vec![false; bw * (y1 - y0 + 1)];
    for z in z0..=z1 {
        for y in y0..=y1 {
            let row = labels.index(0, y, z);
            for x in x0..=x1 {
                if labels.data[row + x] == label {
                    seen[(y - y0) * bw + (x - x0)] = true;
                }
            }
        }
    }
    seen.iter().filter(|&&s| s).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let r = regions(&lab, 1, [twos.data.as_slice()]);
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

//! Anisotropic Gaussian smoothing of a volume: the 2D blur of
//! [`crate::segment::gaussian`] on every slice (σ in x–y), then the same
//! kernel along z (σ along z), edges replicated. A Gaussian is separable,
//! so this is the 3D convolution with the product kernel.

use crate::segment::gaussian::{blur, kernel};
use crate::volume::{Volume, VoxelSize};
use crate::Sample;

/// Columns gathered at a time for the z pass (contiguous reads and writes
/// of a slice's row segment, rather than one voxel per slice).
const BLOCK: usize = 256;

/// `v` smoothed by a Gaussian of σ `sigma_um` µm along every axis, turned
/// into voxels with `voxel` (so a z step 3× the pixel size gets a z σ a
/// third as many slices). An axis whose σ is under 0.05 voxel is left
/// alone.
pub fn smooth<T: Sample>(v: &Volume<T>, sigma_um: f64, voxel: VoxelSize) -> Volume<f32> {
    smooth_voxels(v, sigma_um / voxel.xy_um, sigma_um / voxel.z_um)
}

/// `v` smoothed by a Gaussian of σ `sigma_xy` pixels in x–y and `sigma_z`
/// slices along z (an axis under 0.05 is left alone).
pub fn smooth_voxels<T: Sample>(v: &Volume<T>, sigma_xy: f64, sigma_z: f64) -> Volume<f32> {
    smooth_prepared(v, sigma_xy, sigma_z, |_| {})
}

/// [`smooth_voxels`], each slice first read into floats and handed to
/// `prepare` (e.g. to replace hot pixels) before it is blurred: the raw
/// volume is never copied whole.
pub fn smooth_prepared<T: Sample>(
    v: &Volume<T>,
    sigma_xy: f64,
    sigma_z: f64,
    mut prepare: impl FnMut(&mut [f32]),
) -> Volume<f32> {
    let (w, h, d) = (v.width, v.height, v.depth);
    let n = w * h;
    let (s_xy, s_z) = (sigma_xy as f32, sigma_z as f32);
    // Slices are appended as they are made (no zeroing pass over the
    // volume first); `blurred` stays in cache between the blur and the
    // copy.
    let mut out: Vec<f32> = Vec::with_capacity(n * d);
    let mut slice = vec![0f32; n];
    let mut blurred = vec![0f32; n];
    for z in 0..d {
        slice
            .iter_mut()
            .zip(v.slice(z))
            .for_each(|(o, s)| *o = s.to_f32());
        prepare(&mut slice);
        if s_xy >= 0.05 {
            blur(&slice, &mut blurred, w, h, s_xy);
            out.extend_from_slice(&blurred);
        } else {
            out.extend_from_slice(&slice);
        }
    }
    if s_z >= 0.05 && d > 1 {
        along_z(&mut out, n, d, &kernel(s_z));
    }
    v.same_shape(out)
}

/// Convolves every z column of `data` (`d` slices of `n` voxels) with
/// `k` (odd length, centred), edges replicated.
fn along_z(data: &mut [f32], n: usize, d: usize, k: &[f32]) {
    let r = k.len() / 2;
    let mut column = vec![0f32; d * BLOCK];
    let mut sum = vec![0f32; BLOCK];
    for start in (0..n).step_by(BLOCK) {
        let b = BLOCK.min(n - start);
        for z in 0..d {
            column[z * BLOCK..z * BLOCK + b]
                .copy_from_slice(&data[z * n + start..z * n + start + b]);
        }
        for z in 0..d {
            sum[..b].fill(0.0);
            for (j, &kj) in k.iter().enumerate() {
                let zz = (z + j).saturating_sub(r).min(d - 1);
                let src = &column[zz * BLOCK..zz * BLOCK + b];
                sum[..b]
                    .iter_mut()
                    .zip(src)
                    .for_each(|(s, &c)| *s += kj * c);
            }
            data[z * n + start..z * n + start + b].copy_from_slice(&sum[..b]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: the triple sum with the product kernel, indices
    /// clamped to the volume.
    fn smooth_reference(v: &Volume<f32>, sigma_um: f64, voxel: VoxelSize) -> Vec<f32> {
        let kx = kernel((sigma_um / voxel.xy_um) as f32);
        let kz = kernel((sigma_um / voxel.z_um) as f32);
        let (rx, rz) = ((kx.len() / 2) as i64, (kz.len() / 2) as i64);
        let (w, h, d) = (v.width as i64, v.height as i64, v.depth as i64);
        let mut out = Vec::new();
        for z in 0..d {
            for y in 0..h {
                for x in 0..w {
                    let mut s = 0f64;
                    for (c, &wz) in kz.iter().enumerate() {
                        for (b, &wy) in kx.iter().enumerate() {
                            for (a, &wx) in kx.iter().enumerate() {
                                let xx = (x + a as i64 - rx).clamp(0, w - 1) as usize;
                                let yy = (y + b as i64 - rx).clamp(0, h - 1) as usize;
                                let zz = (z + c as i64 - rz).clamp(0, d - 1) as usize;
                                s += (wx * wy * wz) as f64 * v.get(xx, yy, zz) as f64;
                            }
                        }
                    }
                    out.push(s as f32);
                }
            }
        }
        out
    }

    #[test]
    fn equals_the_triple_sum_with_anisotropic_voxels() {
        let (w, h, d) = (11, 7, 9);
        let data = (0..w * h * d)
            .map(|i| ((i * 7919) % 113) as f32)
            .collect::<Vec<_>>();
        let v = Volume::from_vec(w, h, d, data).unwrap();
        let voxel = VoxelSize {
            xy_um: 0.5,
            z_um: 1.5,
        };
        let fast = smooth(&v, 1.2, voxel);
        let slow = smooth_reference(&v, 1.2, voxel);
        for (a, b) in fast.data.iter().zip(&slow) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn a_constant_stays_constant_and_a_thin_z_sigma_leaves_slices_apart() {
        let v = Volume::filled(20, 3, 5, 7u16);
        let s = smooth(
            &v,
            2.0,
            VoxelSize {
                xy_um: 1.0,
                z_um: 1.0,
            },
        );
        assert!(s.data.iter().all(|&x| (x - 7.0).abs() < 1e-4));
        // σ 0.2 µm with a 10 µm z step: no mixing between slices.
        let mut v = Volume::filled(4, 4, 3, 0f32);
        v.slice_mut(1).fill(1.0);
        let s = smooth(
            &v,
            0.2,
            VoxelSize {
                xy_um: 10.0,
                z_um: 10.0,
            },
        );
        assert_eq!(s, v);
    }
}

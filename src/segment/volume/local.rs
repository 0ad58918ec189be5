//! The local contrast threshold of [`crate::segment::local`] in 3D: a
//! voxel belongs to an object when it reaches a fraction of the brightest
//! value in the box around it (Bernsen 1986, minimum 0). The box's
//! maximum is separable: each slice's square maximum (the 2D running
//! maxima, van Herk 1992 / Gil & Werman 1993), then the maximum along z
//! (the tests hold the whole-volume maximum it is checked against).

use crate::segment::local::local_max;
use crate::volume::Volume;
use crate::FloatImage;

/// The mask (1 / 0) of the voxels of `v` at or above `floor` and at or
/// above `fraction` × the greatest value in the box of half-sides
/// `radius_xy` pixels and `radius_z` slices around them. Streamed: the
/// slices' square maxima are kept for the z window alone, never for the
/// whole volume, and their maximum is kept up as the window slides
/// (a queue of two stacks) rather than taken anew over every slice of it.
pub fn mask_local_3d(
    v: &Volume<f32>,
    floor: f32,
    fraction: f32,
    radius_xy: f64,
    radius_z: f64,
) -> Volume<u8> {
    let (w, h, d) = (v.width, v.height, v.depth);
    let n = w * h;
    let rz = radius_z.round().max(0.0) as usize;
    let square = |z: usize| {
        let slice = FloatImage::from_raw(w as u32, h as u32, v.slice(z).to_vec())
            .expect("a slice is width × height");
        local_max(&slice, radius_xy).into_raw()
    };
    let mut window = WindowMax::default();
    let mut peak = vec![0f32; n];
    let mut out = vec![0u8; n * d];
    for z in 0..d {
        // The window holds the square maxima of slices z − rz ..= z + rz
        // (the next to come in: the one after its last).
        while window.first + window.len() < (z + rz + 1).min(d) {
            window.push(square(window.first + window.len()));
        }
        while window.first + rz < z {
            window.pop();
        }
        window.max_into(&mut peak);
        for ((o, &x), &p) in out[z * n..(z + 1) * n]
            .iter_mut()
            .zip(v.slice(z))
            .zip(&peak)
        {
            *o = u8::from(x >= floor && x >= fraction * p);
        }
    }
    v.same_shape(out)
}

/// The maximum of a sliding window of planes, with about three passes per
/// plane whatever the window's length (a queue of two stacks): the newer
/// planes kept as they came with their running maximum, the older ones
/// turned, when the first of them has to go, into suffix maxima (each
/// plane the maximum of itself and every newer one among them) — in
/// place, so no more planes are held than the window has.
#[derive(Default)]
struct WindowMax {
    /// The index of the oldest plane in the window.
    first: usize,
    /// Older planes as suffix maxima, oldest first.
    older: std::collections::VecDeque<Vec<f32>>,
    /// Newer planes as they came, oldest first, and their maximum.
    newer: Vec<Vec<f32>>,
    newer_max: Vec<f32>,
}

impl WindowMax {
    fn len(&self) -> usize {
        self.older.len() + self.newer.len()
    }

    fn push(&mut self, plane: Vec<f32>) {
        if self.newer.is_empty() {
            self.newer_max.clear();
            self.newer_max.extend_from_slice(&plane);
        } else {
            self.newer_max
                .iter_mut()
                .zip(&plane)
                .for_each(|(m, &x)| *m = m.max(x));
        }
        self.newer.push(plane);
    }

    fn pop(&mut self) {
        if self.older.is_empty() {
            // The newer planes become suffix maxima, newest first.
            let mut planes = std::mem::take(&mut self.newer);
            for k in (0..planes.len().saturating_sub(1)).rev() {
                let (this, after) = planes.split_at_mut(k + 1);
                this[k]
                    .iter_mut()
                    .zip(&after[0])
                    .for_each(|(m, &x)| *m = m.max(x));
            }
            self.older.extend(planes);
        }
        self.older.pop_front();
        self.first += 1;
    }

    /// The window's maximum into `out` (the window is not empty).
    fn max_into(&self, out: &mut [f32]) {
        match (self.older.front(), self.newer.is_empty()) {
            (Some(old), true) => out.copy_from_slice(old),
            (None, _) => out.copy_from_slice(&self.newer_max),
            (Some(old), false) => out
                .iter_mut()
                .zip(old)
                .zip(&self.newer_max)
                .for_each(|((o, &a), &b)| *o = a.max(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The greatest value within the box of half-sides `radius_xy` pixels
    /// (rounded) and `radius_z` slices (rounded) around each voxel, clamped
    /// at the borders.
    fn local_max_3d(v: &Volume<f32>, radius_xy: f64, radius_z: f64) -> Volume<f32> {
        let (w, h, d) = (v.width, v.height, v.depth);
        let n = w * h;
        let mut planes = Vec::with_capacity(n * d);
        for z in 0..d {
            let slice = FloatImage::from_raw(w as u32, h as u32, v.slice(z).to_vec())
                .expect("a slice is width × height");
            planes.extend_from_slice(local_max(&slice, radius_xy).as_raw());
        }
        let rz = radius_z.round().max(0.0) as usize;
        if rz == 0 || d == 1 {
            return v.same_shape(planes);
        }
        let mut out = vec![f32::NEG_INFINITY; n * d];
        for z in 0..d {
            let dst = &mut out[z * n..(z + 1) * n];
            for zz in z.saturating_sub(rz)..=(z + rz).min(d - 1) {
                for (o, &x) in dst.iter_mut().zip(&planes[zz * n..(zz + 1) * n]) {
                    *o = o.max(x);
                }
            }
        }
        v.same_shape(out)
    }

    #[test]
    fn the_streamed_mask_equals_the_mask_of_the_whole_maximum() {
        let mut rng = crate::synth::Rng::new(5);
        let (w, h, d) = (11, 8, 9);
        let data = (0..w * h * d).map(|_| rng.unit() as f32).collect();
        let v = Volume::from_vec(w, h, d, data).unwrap();
        for (rxy, rz) in [(0.0, 0.0), (1.0, 2.0), (3.0, 1.0), (2.0, 9.0)] {
            let peak = local_max_3d(&v, rxy, rz);
            let want: Vec<u8> = v
                .data
                .iter()
                .zip(&peak.data)
                .map(|(&x, &p)| u8::from(x >= 0.2 && x >= 0.5 * p))
                .collect();
            assert_eq!(mask_local_3d(&v, 0.2, 0.5, rxy, rz).data, want);
        }
    }

    #[test]
    fn local_max_equals_the_maximum_over_the_box() {
        let mut rng = crate::synth::Rng::new(3);
        let (w, h, d) = (9, 7, 6);
        let data = (0..w * h * d).map(|_| rng.unit() as f32).collect();
        let v = Volume::from_vec(w, h, d, data).unwrap();
        for (rxy, rz) in [(0.0, 0.0), (1.0, 1.0), (2.0, 0.0), (1.0, 3.0), (9.0, 9.0)] {
            let got = local_max_3d(&v, rxy, rz);
            let (a, b) = (rxy as i64, rz as i64);
            for z in 0..d as i64 {
                for y in 0..h as i64 {
                    for x in 0..w as i64 {
                        let mut m = f32::NEG_INFINITY;
                        for zz in (z - b).max(0)..=(z + b).min(d as i64 - 1) {
                            for yy in (y - a).max(0)..=(y + a).min(h as i64 - 1) {
                                for xx in (x - a).max(0)..=(x + a).min(w as i64 - 1) {
                                    m = m.max(v.get(xx as usize, yy as usize, zz as usize));
                                }
                            }
                        }
                        assert_eq!(got.get(x as usize, y as usize, z as usize), m);
                    }
                }
            }
        }
    }
}

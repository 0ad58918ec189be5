//! The 3D kernels of the z-stack analysis: labelling, the anisotropic
//! Euclidean distance transform, smoothing, morphology and the marker
//! watershed, each over a [`crate::volume::Volume`] with voxel spacing in
//! µm along each axis, each tested against a brute-force twin.

pub mod distance;
pub mod label;
pub mod local;
pub mod morph;
pub mod smooth;
pub mod watershed;

/// Which voxels touch: the 6 sharing a face, or all 26 around.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connectivity {
    /// Face neighbours (±x, ±y, ±z).
    Faces,
    /// Face, edge and corner neighbours.
    Full,
}

impl Connectivity {
    /// The neighbour offsets (dx, dy, dz) that come before a voxel in
    /// raster order (z, then y, then x): 3 or 13.
    pub fn backward(self) -> &'static [(i32, i32, i32)] {
        match self {
            Connectivity::Faces => &BACKWARD_FACES,
            Connectivity::Full => &BACKWARD_FULL,
        }
    }

    /// Every neighbour offset: 6 or 26.
    pub fn all(self) -> Vec<(i32, i32, i32)> {
        let back = self.backward();
        back.iter()
            .copied()
            .chain(back.iter().map(|&(x, y, z)| (-x, -y, -z)))
            .collect()
    }
}

const BACKWARD_FACES: [(i32, i32, i32); 3] = [(-1, 0, 0), (0, -1, 0), (0, 0, -1)];

const BACKWARD_FULL: [(i32, i32, i32); 13] = [
    (-1, -1, -1),
    (0, -1, -1),
    (1, -1, -1),
    (-1, 0, -1),
    (0, 0, -1),
    (1, 0, -1),
    (-1, 1, -1),
    (0, 1, -1),
    (1, 1, -1),
    (-1, -1, 0),
    (0, -1, 0),
    (1, -1, 0),
    (-1, 0, 0),
];

/// The neighbour of (x, y, z) at offset `o`, if inside a w × h × d grid.
#[inline]
pub(crate) fn neighbour(
    (x, y, z): (usize, usize, usize),
    o: (i32, i32, i32),
    (w, h, d): (usize, usize, usize),
) -> Option<(usize, usize, usize)> {
    let nx = x as i64 + o.0 as i64;
    let ny = y as i64 + o.1 as i64;
    let nz = z as i64 + o.2 as i64;
    (nx >= 0 && ny >= 0 && nz >= 0 && (nx as usize) < w && (ny as usize) < h && (nz as usize) < d)
        .then_some((nx as usize, ny as usize, nz as usize))
}

/// The neighbours of voxels by flat index: offsets into the data for
/// voxels off the border (most of them), checked coordinates for the rest.
pub(crate) struct Neighbours {
    dims: (usize, usize, usize),
    offsets: Vec<(i32, i32, i32)>,
    flat: Vec<isize>,
    /// No voxel asked about lies on the grid's border: flat offsets
    /// always, no coordinates to work out.
    inner: bool,
}

impl Neighbours {
    /// For voxels anywhere in the grid.
    pub(crate) fn new(dims: (usize, usize, usize), offsets: Vec<(i32, i32, i32)>) -> Neighbours {
        let (w, h, _) = dims;
        let flat = offsets
            .iter()
            .map(|&(x, y, z)| (z as isize * h as isize + y as isize) * w as isize + x as isize)
            .collect();
        Neighbours {
            dims,
            offsets,
            flat,
            inner: false,
        }
    }

    /// For the voxels `asked` says yes to, and only those: when none lies
    /// on the grid's border (a crop with a margin), their neighbours are
    /// found by flat offsets alone.
    pub(crate) fn within(
        dims: (usize, usize, usize),
        offsets: Vec<(i32, i32, i32)>,
        asked: impl Fn(usize) -> bool,
    ) -> Neighbours {
        let mut near = Neighbours::new(dims, offsets);
        let (w, h, d) = dims;
        let on_border = |x: usize, y: usize, z: usize| asked((z * h + y) * w + x);
        let faces_clear = (0..d).all(|z| {
            let full = z == 0 || z + 1 == d;
            (0..h).all(|y| {
                if full || y == 0 || y + 1 == h {
                    (0..w).all(|x| !on_border(x, y, z))
                } else {
                    w == 0 || (!on_border(0, y, z) && !on_border(w - 1, y, z))
                }
            })
        });
        near.inner = faces_clear;
        near
    }

    /// Calls `f` with the flat index of each neighbour of voxel `i` inside
    /// the grid; stops early when `f` returns true, and says so.
    #[inline]
    pub(crate) fn any(&self, i: usize, mut f: impl FnMut(usize) -> bool) -> bool {
        let (w, h, d) = self.dims;
        if self.inner {
            debug_assert!({
                let (x, y, z) = (i % w, (i / w) % h, i / (w * h));
                x > 0 && y > 0 && z > 0 && x + 1 < w && y + 1 < h && z + 1 < d
            });
            return self.flat.iter().any(|&o| f((i as isize + o) as usize));
        }
        let (x, y, z) = (i % w, (i / w) % h, i / (w * h));
        if x > 0 && y > 0 && z > 0 && x + 1 < w && y + 1 < h && z + 1 < d {
            self.flat.iter().any(|&o| f((i as isize + o) as usize))
        } else {
            self.offsets.iter().any(|&o| {
                neighbour((x, y, z), o, self.dims).is_some_and(|(a, b, c)| f((c * h + b) * w + a))
            })
        }
    }

    /// Calls `f` with the flat index of each neighbour of voxel `i`.
    #[inline]
    pub(crate) fn each(&self, i: usize, mut f: impl FnMut(usize)) {
        self.any(i, |j| {
            f(j);
            false
        });
    }
}

/// A random mask for the kernels' tests: each voxel set where `set` says
/// so of the next number of a xorshift64 stream from `seed`.
#[cfg(test)]
pub(crate) fn random_mask(
    (w, h, d): (usize, usize, usize),
    seed: u64,
    set: impl Fn(u64) -> bool,
) -> crate::volume::Volume<u8> {
    let mut s = seed | 1;
    let data = (0..w * h * d)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            u8::from(set(s))
        })
        .collect();
    crate::volume::Volume::from_vec(w, h, d, data).expect("w × h × d voxels")
}

//! A z-stack held whole: [`Volume`], voxels in x-fastest, then y, then z
//! order (slice after slice, as a stack's pages come), and [`VoxelSize`],
//! how far apart its voxels are in µm along each axis.

/// A `width` × `height` × `depth` grid of voxels, slice after slice.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume<T> {
    /// Voxels along x (columns).
    pub width: usize,
    /// Voxels along y (rows).
    pub height: usize,
    /// Slices (z).
    pub depth: usize,
    /// The voxels: index `(z · height + y) · width + x`.
    pub data: Vec<T>,
}

impl<T: Copy> Volume<T> {
    /// A volume filled with `value`.
    pub fn filled(width: usize, height: usize, depth: usize, value: T) -> Volume<T> {
        Volume {
            width,
            height,
            depth,
            data: vec![value; width * height * depth],
        }
    }

    /// A volume of `data` (`None` unless it holds width × height × depth
    /// voxels).
    pub fn from_vec(width: usize, height: usize, depth: usize, data: Vec<T>) -> Option<Volume<T>> {
        (data.len() == width * height * depth).then_some(Volume {
            width,
            height,
            depth,
            data,
        })
    }

    /// Voxels in one slice.
    pub fn slice_len(&self) -> usize {
        self.width * self.height
    }

    /// Index of voxel (x, y, z) in [`Volume::data`].
    pub fn index(&self, x: usize, y: usize, z: usize) -> usize {
        (z * self.height + y) * self.width + x
    }

    /// Voxel (x, y, z).
    pub fn get(&self, x: usize, y: usize, z: usize) -> T {
        self.data[self.index(x, y, z)]
    }

    /// Slice `z`, row after row.
    pub fn slice(&self, z: usize) -> &[T] {
        let n = self.slice_len();
        &self.data[z * n..(z + 1) * n]
    }

    /// Slice `z`, mutably.
    pub fn slice_mut(&mut self, z: usize) -> &mut [T] {
        let n = self.slice_len();
        &mut self.data[z * n..(z + 1) * n]
    }

    /// A volume of the same shape holding `f` of every voxel.
    pub fn map<U>(&self, f: impl Fn(T) -> U) -> Volume<U> {
        Volume {
            width: self.width,
            height: self.height,
            depth: self.depth,
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }
}

impl<T> Volume<T> {
    /// A volume of this shape holding `data`.
    ///
    /// # Panics
    /// When `data` is not width × height × depth long (a bug, not data).
    pub fn same_shape<U>(&self, data: Vec<U>) -> Volume<U> {
        assert_eq!(data.len(), self.width * self.height * self.depth);
        Volume {
            width: self.width,
            height: self.height,
            depth: self.depth,
            data,
        }
    }
}

/// How far apart neighbouring voxels are, in µm.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VoxelSize {
    /// Along x and y (µm per pixel).
    pub xy_um: f64,
    /// Along z: the step between slices, µm.
    pub z_um: f64,
}

impl VoxelSize {
    /// Spacing along (x, y, z), µm.
    pub fn spacing(self) -> [f64; 3] {
        [self.xy_um, self.xy_um, self.z_um]
    }

    /// A voxel's volume, µm³.
    pub fn voxel_um3(self) -> f64 {
        self.xy_um * self.xy_um * self.z_um
    }
}

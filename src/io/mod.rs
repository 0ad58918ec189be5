//! Reading confocal images: TIFFs of every layout of the design (ImageJ
//! hyperstacks, OME-TIFF, plain multi-page, RGB/RGBA, BigTIFF) and
//! OME-Zarr folders ([`ZarrSource`]), their metadata, and the mapping of
//! channels to P-cadherin, Sox9 and DAPI; [`Source`] is either.
//!
//! A file holds one or more *fields* (OME images and time points, ImageJ
//! frames). [`TiffSource::open`] reads the file's structure; each field is
//! then decoded on demand, page by page, into a z max-projection of the
//! three channels of interest, so a stack never sits in memory whole.

mod channels;
mod chunks;
mod digest;
mod layout;
mod lzw;
pub(crate) mod meta;
mod source;
mod strips;
mod tiff_source;
mod window;
mod zarr;
mod zmax;
mod zstack;

pub use channels::{ChannelMap, ChannelSource, ChannelSpec, Role};
pub use digest::Digest;
pub use layout::FieldInfo;
pub use source::Source;
pub use tiff_source::{Limits, TiffSource};
pub use window::{FileWindows, WindowSource};
pub use zarr::ZarrSource;

use crate::volume::{Volume, VoxelSize};
use crate::{FloatImage, U16Image};

/// How to interpret a file, from the command line.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--channels`: overrides the channel roles of every file.
    pub channels: Option<ChannelSpec>,
    /// `--pixel-size`: overrides the file's pixel size, µm.
    pub pixel_size_um: Option<f64>,
    /// `--z-step`: overrides the file's z step (µm between slices).
    pub z_step_um: Option<f64>,
    /// Sanity limits checked before any allocation.
    pub limits: Limits,
}

/// One field, max-projected over z, ready for analysis.
#[derive(Clone, Debug)]
pub struct Field {
    /// Index of the field inside its file (0 for single-field files).
    pub index: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Number of z slices projected.
    pub depth: usize,
    /// µm per pixel: the parameters are in µm, so no field is analysed
    /// without one (a file that gives none is an error, see
    /// [`crate::error::LoadError::NoPixelSize`]).
    pub pixel_size_um: f64,
    /// µm between z slices, when the file or `--z-step` gives it.
    pub z_step_um: Option<f64>,
    /// Where the channel roles came from.
    pub channel_source: ChannelSource,
    /// The role of each of the file's channels, in file order.
    pub channel_roles: ChannelSpec,
    /// Max-projected channels, in the order P-cadherin, Sox9, DAPI, in the
    /// file's own intensity units.
    pub channels: [Plane; 3],
}

/// One max-projected channel: 8- and 16-bit unsigned samples are kept as
/// 16-bit integers, every other sample type as 32-bit floats. Both read
/// the same through [`Plane::to_f32`] and the kernels (the conversion is
/// exact); the integer form holds half the memory.
#[derive(Clone, Debug, PartialEq)]
pub enum Plane {
    /// Unsigned integer samples of up to 16 bits.
    U16(U16Image),
    /// Any other samples (32/64-bit integers, signed, floating point).
    F32(FloatImage),
}

impl Plane {
    /// Width and height.
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Plane::U16(i) => i.dimensions(),
            Plane::F32(i) => i.dimensions(),
        }
    }

    /// The plane as floats (a copy).
    pub fn to_f32(&self) -> FloatImage {
        match self {
            Plane::U16(i) => {
                let v = i.as_raw().iter().map(|&x| f32::from(x)).collect();
                FloatImage::from_raw(i.width(), i.height(), v).unwrap_or_default()
            }
            Plane::F32(i) => i.clone(),
        }
    }

    /// Hands the plane's buffer back to this thread's pool
    /// ([`crate::pool`]) for the next plane of its size.
    pub fn recycle(self) {
        match self {
            Plane::U16(i) => crate::pool::give(i.into_raw()),
            Plane::F32(i) => crate::pool::give(i.into_raw()),
        }
    }

    /// The `w` × `h` window whose top-left pixel is (`x0`, `y0`), copied
    /// (clipped to the plane).
    pub fn crop(&self, x0: usize, y0: usize, w: usize, h: usize) -> Plane {
        fn window<T: Copy>(
            src: &[T],
            sw: usize,
            x0: usize,
            y0: usize,
            w: usize,
            h: usize,
        ) -> Vec<T> {
            let mut out = Vec::with_capacity(w * h);
            for y in y0..y0 + h {
                out.extend_from_slice(&src[y * sw + x0..y * sw + x0 + w]);
            }
            out
        }
        let (pw, ph) = self.dimensions();
        let x0 = x0.min(pw as usize);
        let y0 = y0.min(ph as usize);
        let w = w.min(pw as usize - x0);
        let h = h.min(ph as usize - y0);
        let size = (w as u32, h as u32);
        match self {
            Plane::U16(i) => {
                let v = window(i.as_raw(), pw as usize, x0, y0, w, h);
                Plane::U16(U16Image::from_raw(size.0, size.1, v).unwrap_or_default())
            }
            Plane::F32(i) => {
                let v = window(i.as_raw(), pw as usize, x0, y0, w, h);
                Plane::F32(FloatImage::from_raw(size.0, size.1, v).unwrap_or_default())
            }
        }
    }
}

impl From<FloatImage> for Plane {
    fn from(i: FloatImage) -> Plane {
        Plane::F32(i)
    }
}

impl From<U16Image> for Plane {
    fn from(i: U16Image) -> Plane {
        Plane::U16(i)
    }
}

impl Field {
    /// Builds a field from three same-sized planes (P-cadherin, Sox9, DAPI)
    /// and their pixel size (µm, positive), as library users with their
    /// own readers do.
    pub fn from_planes<P: Into<Plane>>(
        channels: [P; 3],
        pixel_size_um: f64,
    ) -> Result<Field, crate::error::LoadError> {
        if !(pixel_size_um.is_finite() && pixel_size_um > 0.0) {
            return Err(crate::error::LoadError::Metadata(format!(
                "pixel size {pixel_size_um} µm is not a positive number"
            )));
        }
        let channels = channels.map(Into::into);
        let (w, h) = channels[0].dimensions();
        if channels.iter().any(|c| c.dimensions() != (w, h)) {
            return Err(crate::error::LoadError::Metadata(
                "channels differ in size".into(),
            ));
        }
        Ok(Field {
            index: 0,
            width: w as usize,
            height: h as usize,
            depth: 1,
            pixel_size_um,
            z_step_um: None,
            channel_source: ChannelSource::DefaultOrder,
            channel_roles: ChannelSpec(Role::ALL.map(Some).to_vec()),
            channels,
        })
    }

    /// The `w` × `h` window of the field whose top-left pixel is (`x0`,
    /// `y0`), clipped to the field: a field of its own (every channel
    /// copied), with the same pixel size and channel roles.
    pub fn crop(&self, x0: usize, y0: usize, w: usize, h: usize) -> Field {
        let channels = self.channels.each_ref().map(|c| c.crop(x0, y0, w, h));
        let (cw, ch) = channels[0].dimensions();
        Field {
            width: cw as usize,
            height: ch as usize,
            channel_roles: self.channel_roles.clone(),
            channels,
            ..*self
        }
    }

    /// Hands the field's planes to this thread's [`crate::pool`], for the
    /// next field it decodes (a batch worker calls this when it is done
    /// with a field).
    pub fn recycle(self) {
        for c in self.channels {
            c.recycle();
        }
    }
}

/// One field's z-stack, whole, for the 3D analysis
/// ([`TiffSource::load_stack`]).
#[derive(Clone, Debug)]
pub struct Stack {
    /// Index of the field inside its file.
    pub index: usize,
    /// Voxel size, µm (pixel size in x–y, z step).
    pub voxel: VoxelSize,
    /// Where the channel roles came from.
    pub channel_source: ChannelSource,
    /// The role of each of the file's channels, in file order.
    pub channel_roles: ChannelSpec,
    /// The channels P-cadherin, Sox9, DAPI, in the file's intensity units.
    pub channels: [Voxels; 3],
}

/// One channel of a stack: 8- and 16-bit unsigned samples as 16-bit
/// integers, everything else as floats (as [`Plane`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Voxels {
    /// Unsigned integer samples of up to 16 bits.
    U16(Volume<u16>),
    /// Any other samples.
    F32(Volume<f32>),
}

impl From<Volume<u16>> for Voxels {
    fn from(v: Volume<u16>) -> Voxels {
        Voxels::U16(v)
    }
}

impl From<Volume<f32>> for Voxels {
    fn from(v: Volume<f32>) -> Voxels {
        Voxels::F32(v)
    }
}

impl Voxels {
    /// Width, height, depth.
    pub fn dimensions(&self) -> (usize, usize, usize) {
        match self {
            Voxels::U16(v) => (v.width, v.height, v.depth),
            Voxels::F32(v) => (v.width, v.height, v.depth),
        }
    }

    /// The z max-projection, as the 2D analysis reads a stack.
    pub fn projection(&self) -> Plane {
        /// The greater of each voxel down z, by `keep_greater`.
        fn max<T: Copy>(v: &Volume<T>, keep_greater: impl Fn(&mut T, T)) -> Vec<T> {
            let mut out = v.slice(0).to_vec();
            for z in 1..v.depth {
                for (o, &x) in out.iter_mut().zip(v.slice(z)) {
                    keep_greater(o, x);
                }
            }
            out
        }
        let (w, h, _) = self.dimensions();
        match self {
            // An integer maximum, which the compiler vectorises.
            Voxels::U16(v) => Plane::U16(
                U16Image::from_raw(w as u32, h as u32, max(v, |o, x| *o = (*o).max(x)))
                    .expect("a slice is width × height"),
            ),
            // NaN never replaces a value (x > NaN and NaN > x are false).
            Voxels::F32(v) => Plane::F32(
                FloatImage::from_raw(
                    w as u32,
                    h as u32,
                    max(v, |o, x| {
                        if x > *o {
                            *o = x;
                        }
                    }),
                )
                .expect("a slice is width × height"),
            ),
        }
    }
}

impl Stack {
    /// A stack of three same-shaped volumes (P-cadherin, Sox9, DAPI) and
    /// their voxel size (µm, positive), as library users with their own
    /// readers make one.
    pub fn from_volumes<T: Into<Voxels>>(
        channels: [T; 3],
        voxel: VoxelSize,
    ) -> Result<Stack, crate::error::LoadError> {
        let sane = |v: f64| v.is_finite() && v > 0.0;
        if !(sane(voxel.xy_um) && sane(voxel.z_um)) {
            return Err(crate::error::LoadError::Metadata(format!(
                "voxel size {} × {} µm is not positive",
                voxel.xy_um, voxel.z_um
            )));
        }
        let channels = channels.map(Into::into);
        let dims = channels[0].dimensions();
        if channels.iter().any(|c| c.dimensions() != dims) || dims.0 * dims.1 * dims.2 == 0 {
            return Err(crate::error::LoadError::Metadata(
                "channels differ in size, or are empty".into(),
            ));
        }
        Ok(Stack {
            index: 0,
            voxel,
            channel_source: ChannelSource::DefaultOrder,
            channel_roles: ChannelSpec(Role::ALL.map(Some).to_vec()),
            channels,
        })
    }

    /// Width, height, depth in voxels.
    pub fn dimensions(&self) -> (usize, usize, usize) {
        self.channels[0].dimensions()
    }

    /// The stack as the 2D analysis sees it: each channel max-projected
    /// over z.
    pub fn projected(&self) -> Field {
        let (width, height, depth) = self.dimensions();
        Field {
            index: self.index,
            width,
            height,
            depth,
            pixel_size_um: self.voxel.xy_um,
            z_step_um: Some(self.voxel.z_um),
            channel_source: self.channel_source,
            channel_roles: self.channel_roles.clone(),
            channels: [0, 1, 2].map(|c| self.channels[c].projection()),
        }
    }
}

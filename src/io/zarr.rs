//! OME-Zarr images: the OME-NGFF multiscale image, version 0.4 (on Zarr
//! v2) and 0.5 (on Zarr v3) (Moore et al. 2021, "OME-NGFF: a
//! next-generation file format for expanding bioimaging data-access
//! strategies", Nature Methods 18:1496; specifications at
//! ngff.openmicroscopy.org), read with the `zarrs` crate.
//!
//! A `.zarr` folder is one input. Its fields are its images (one, or the
//! series `0/`, `1/`, … of a bioformats2raw layout) times their time
//! points. Only the full resolution (the first dataset) is read; the
//! reduced levels are ignored. Channel names come from the `omero`
//! metadata, the pixel size and z step from the first dataset's `scale`
//! (times the multiscale's own, if any) in the axes' units. Only the
//! chunks a window touches are decoded, so a mosaic is analysed a window
//! at a time as from a tiled TIFF.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};
use zarrs::array::data_type::{
    Float32DataType, Float64DataType, Int16DataType, Int32DataType, Int8DataType, UInt16DataType,
    UInt32DataType, UInt8DataType,
};
use zarrs::array::{Array, ArrayShardedExt, ElementOwned};
use zarrs::filesystem::FilesystemStore;
use zarrs::group::Group;

use tiff::decoder::{DecodingResult, DecodingSampleType};

use super::channels::ChannelMap;
use super::layout::{field_of, resolved, sane_pixel_size, stack_of, z_step_of, FieldInfo};
use super::meta::unit_to_um;
use super::zmax::{Sink, ZMax};
use super::zstack::Slices;
use super::{Field, LoadOptions, Stack};
use crate::error::LoadError;
use crate::io::Limits;
use crate::volume::VoxelSize;

/// Chunks (or a sharded array's inner chunks) over this many bytes are
/// refused: a window decodes every chunk it touches whole.
const MAX_CHUNK_BYTES: u64 = 256 << 20;

/// An OME-Zarr image folder opened for reading: its fields' metadata,
/// and the arrays their pixels come from.
pub struct ZarrSource {
    images: Vec<Image>,
    /// Field `i` is time point `fields[i].1` of image `fields[i].0`.
    fields: Vec<(usize, usize)>,
    infos: Vec<FieldInfo>,
    limits: Limits,
}

/// One multiscale image: its full-resolution array and its axes.
struct Image {
    array: Array<FilesystemStore>,
    axes: Axes,
    sample: Sample,
}

/// Which dimension of the array each axis is.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Axes {
    t: Option<usize>,
    c: Option<usize>,
    z: Option<usize>,
    y: usize,
    x: usize,
}

/// The array's sample type, as far as the analysis reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sample {
    U8,
    U16,
    I8,
    I16,
    U32,
    I32,
    F32,
    F64,
}

impl Sample {
    fn of(array: &Array<FilesystemStore>) -> Option<Sample> {
        let t = array.data_type();
        Some(if t.is::<UInt8DataType>() {
            Sample::U8
        } else if t.is::<UInt16DataType>() {
            Sample::U16
        } else if t.is::<Int8DataType>() {
            Sample::I8
        } else if t.is::<Int16DataType>() {
            Sample::I16
        } else if t.is::<UInt32DataType>() {
            Sample::U32
        } else if t.is::<Int32DataType>() {
            Sample::I32
        } else if t.is::<Float32DataType>() {
            Sample::F32
        } else if t.is::<Float64DataType>() {
            Sample::F64
        } else {
            return None;
        })
    }

    /// Bytes per sample.
    fn bytes(self) -> u64 {
        match self {
            Sample::U8 | Sample::I8 => 1,
            Sample::U16 | Sample::I16 => 2,
            Sample::U32 | Sample::I32 | Sample::F32 => 4,
            Sample::F64 => 8,
        }
    }

    /// Kept as 16-bit integers (else as floats), as a TIFF's samples.
    fn small_uint(self) -> bool {
        matches!(self, Sample::U8 | Sample::U16)
    }
}

/// A zarrs error as a load error.
fn corrupt(e: impl std::fmt::Display) -> LoadError {
    LoadError::Zarr(e.to_string())
}

impl ZarrSource {
    /// Opens the OME-Zarr image folder at `path`: reads its metadata and
    /// opens its full-resolution arrays (no pixels yet).
    pub fn open(path: &Path, limits: Limits) -> Result<ZarrSource, LoadError> {
        let store = Arc::new(FilesystemStore::new(path).map_err(corrupt)?);
        let root = Group::open(store.clone(), "/").map_err(|e| {
            LoadError::Zarr(format!(
                "not a Zarr group ({e}); give the image's .zarr folder (the one holding \
                 .zgroup or zarr.json)"
            ))
        })?;
        let attrs = root.attributes();
        let mut images = Vec::new();
        let mut infos = Vec::new();
        let mut fields = Vec::new();
        let mut add = |group_path: &str, attrs: &Map<String, Value>| -> Result<(), LoadError> {
            let (image, info) = open_image(&store, group_path, attrs, limits)?;
            let frames = image.axes.t.map_or(1, |t| image.array.shape()[t]);
            // A header promising absurdly many time points is refused
            // before a field is listed for each.
            if frames.saturating_add(fields.len() as u64) > limits.max_pages as u64 {
                return Err(LoadError::Limit(format!(
                    "{frames} time points, over max_pages = {}",
                    limits.max_pages
                )));
            }
            for t in 0..frames as usize {
                fields.push((images.len(), t));
                infos.push(info.clone());
            }
            images.push(image);
            Ok(())
        };
        if ngff(attrs).contains_key("multiscales") {
            add("/", attrs)?;
        } else if attrs.contains_key("bioformats2raw.layout") {
            // Series 0, 1, … until one is missing.
            for k in 0.. {
                let path = format!("/{k}");
                let Ok(series) = Group::open(store.clone(), &path) else {
                    break;
                };
                add(&path, series.attributes())?;
            }
        } else if ngff(attrs).contains_key("plate") {
            return Err(LoadError::Unsupported(
                "an OME-Zarr plate (HCS): give the folders of its fields' images instead, \
                 renamed to end in .zarr"
                    .into(),
            ));
        } else {
            return Err(LoadError::Metadata(
                "a Zarr group without OME-NGFF multiscales metadata; give an OME-Zarr image".into(),
            ));
        }
        if fields.is_empty() {
            return Err(LoadError::Metadata(
                "no image in the OME-Zarr folder".into(),
            ));
        }
        Ok(ZarrSource {
            images,
            fields,
            infos,
            limits,
        })
    }

    /// Number of fields (images × time points).
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// What field `i` is, before decoding.
    pub fn info(&self, i: usize) -> Option<&FieldInfo> {
        self.infos.get(i)
    }

    /// Decodes field `i`, each of the three channels max-projected over z
    /// (the plane at most `max_plane_pixels`).
    pub fn load_field(&self, i: usize, opts: &LoadOptions) -> Result<Field, LoadError> {
        let (info, _, _) = resolved(&self.infos, i, opts, self.whole_plane_limit())?;
        self.check_samples(&info)?;
        self.load_window(i, opts, (0, 0, info.width, info.height))
    }

    /// Decodes the `w` × `h` window of field `i` whose top-left pixel is
    /// (`x0`, `y0`), clipped to the plane, reading only the chunks it
    /// touches; as [`load_field`](Self::load_field) cropped. The window is
    /// checked against `max_plane_pixels`, the plane against
    /// `max_mosaic_pixels`.
    pub fn load_window(
        &self,
        i: usize,
        opts: &LoadOptions,
        (x0, y0, w, h): (usize, usize, usize, usize),
    ) -> Result<Field, LoadError> {
        let limit = (self.limits.max_mosaic_pixels, "max_mosaic_pixels");
        let (info, map, pixel_size_um) = resolved(&self.infos, i, opts, limit)?;
        let (pw, ph) = (info.width, info.height);
        let (x0, y0) = (x0.min(pw), y0.min(ph));
        let (w, h) = (w.min(pw - x0), h.min(ph - y0));
        if w == 0 || h == 0 {
            return Err(LoadError::Corrupt(format!(
                "window {x0},{y0} is outside the {pw}×{ph} image"
            )));
        }
        if (w as u64).saturating_mul(h as u64) > self.limits.max_plane_pixels {
            return Err(LoadError::Limit(format!(
                "a {w}×{h} window is over max_plane_pixels = {}",
                self.limits.max_plane_pixels
            )));
        }
        let (image, t) = self.fields[i];
        let image = &self.images[image];
        let mut zmax = ZMax::new(image.sample.small_uint(), w * h);
        image.decode_into(t, &map, info.depth, (x0, y0, w, h), &mut zmax)?;
        let channels = zmax.into_planes(w, h)?;
        Ok(field_of(i, &info, map, pixel_size_um, opts, channels))
    }

    /// Decodes field `i` whole, every slice of the three channels, for the
    /// 3D analysis (a z step is required, from the file or `--z-step`).
    pub fn load_stack(&self, i: usize, opts: &LoadOptions) -> Result<Stack, LoadError> {
        let (info, map, pixel_size_um) = resolved(&self.infos, i, opts, self.whole_plane_limit())?;
        self.check_samples(&info)?;
        let z_step_um = z_step_of(&info, opts)?;
        let (image, t) = self.fields[i];
        let image = &self.images[image];
        let (w, h, d) = (info.width, info.height, info.depth);
        let mut slices = Slices::new(image.sample.small_uint(), w * h, d);
        image.decode_into(t, &map, d, (0, 0, w, h), &mut slices)?;
        let voxel = VoxelSize {
            xy_um: pixel_size_um,
            z_um: z_step_um,
        };
        Ok(stack_of(i, map, voxel, slices.into_volumes(w, h, d)?))
    }

    /// The limit of a plane decoded whole: `max_plane_pixels`.
    fn whole_plane_limit(&self) -> (u64, &'static str) {
        (self.limits.max_plane_pixels, "max_plane_pixels")
    }

    /// A field read whole: its three channels' samples within
    /// `max_field_samples`.
    fn check_samples(&self, info: &FieldInfo) -> Result<(), LoadError> {
        let samples = (info.width as u64)
            .saturating_mul(info.height as u64)
            .saturating_mul(3)
            .saturating_mul(info.depth as u64);
        if samples > self.limits.max_field_samples {
            return Err(LoadError::Limit(format!(
                "the field decodes {samples} samples ({}×{} × 3 channels × {} slice(s)), \
                 over max_field_samples = {}",
                info.width, info.height, info.depth, self.limits.max_field_samples
            )));
        }
        Ok(())
    }
}

impl Image {
    /// Decodes the `w` × `h` window at (`x0`, `y0`) of every slice of the
    /// channels `map` picks, at time point `t`, into `sink`, one slice of
    /// one channel at a time, as a TIFF's pages are decoded: the same
    /// projection or stack, the same sample conversions.
    fn decode_into(
        &self,
        t: usize,
        map: &ChannelMap,
        depth: usize,
        (x0, y0, w, h): (usize, usize, usize, usize),
        sink: &mut impl Sink,
    ) -> Result<(), LoadError> {
        let a = &self.axes;
        let mut ranges = vec![0..1u64; self.array.shape().len()];
        ranges[a.y] = y0 as u64..(y0 + h) as u64;
        ranges[a.x] = x0 as u64..(x0 + w) as u64;
        let mut raw: Vec<u16> = Vec::new();
        for (role, &c) in map.index.iter().enumerate() {
            for z in 0..depth {
                for (dim, i) in [(a.t, t), (a.c, c), (a.z, z)] {
                    if let Some(d) = dim {
                        ranges[d] = i as u64..i as u64 + 1;
                    }
                }
                // 8/16-bit samples go through the raw buffer as a TIFF's
                // do; the others as a decoded page of their type.
                let none = DecodingResult::U8(Vec::new());
                let (buf, small) = match self.sample {
                    Sample::U16 => {
                        raw = self.get::<u16>(&ranges)?;
                        (none, Some((Some(DecodingSampleType::U16), raw.len() * 2)))
                    }
                    Sample::U8 => {
                        let v = self.get::<u8>(&ranges)?;
                        raw.clear();
                        raw.resize(v.len().div_ceil(2), 0);
                        bytemuck::cast_slice_mut::<u16, u8>(&mut raw)[..v.len()]
                            .copy_from_slice(&v);
                        (none, Some((Some(DecodingSampleType::U8), v.len())))
                    }
                    Sample::I8 => (DecodingResult::I8(self.get(&ranges)?), None),
                    Sample::I16 => (DecodingResult::I16(self.get(&ranges)?), None),
                    Sample::U32 => (DecodingResult::U32(self.get(&ranges)?), None),
                    Sample::I32 => (DecodingResult::I32(self.get(&ranges)?), None),
                    Sample::F32 => (DecodingResult::F32(self.get(&ranges)?), None),
                    Sample::F64 => (DecodingResult::F64(self.get(&ranges)?), None),
                };
                sink.add(role, z, &buf, &raw, small, 0, 1)
                    .map_err(|e| LoadError::Zarr(format!("channel {c}, slice {z}: {e}")))?;
            }
        }
        Ok(())
    }

    fn get<T: ElementOwned>(&self, ranges: &[std::ops::Range<u64>]) -> Result<Vec<T>, LoadError> {
        // A missing chunk reads as the fill value, as the spec says.
        self.array
            .retrieve_array_subset::<Vec<T>>(&ranges)
            .map_err(corrupt)
    }
}

/// The NGFF attributes: under `ome` from 0.5 on, at the top level before.
fn ngff(attrs: &Map<String, Value>) -> &Map<String, Value> {
    match attrs.get("ome").and_then(Value::as_object) {
        Some(ome) => ome,
        None => attrs,
    }
}

/// Opens the multiscale image of the group at `group_path` (with
/// attributes `attrs`): its first dataset's array, checked, and what its
/// fields are.
fn open_image(
    store: &Arc<FilesystemStore>,
    group_path: &str,
    attrs: &Map<String, Value>,
    limits: Limits,
) -> Result<(Image, FieldInfo), LoadError> {
    let meta = ngff(attrs);
    let bad = |what: &str| LoadError::Metadata(format!("OME-Zarr multiscales: {what}"));
    let ms = meta
        .get("multiscales")
        .and_then(Value::as_array)
        .and_then(|m| m.first())
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no multiscale image"))?;
    let axes = axes_of(ms).ok_or_else(|| bad("no axes, or axes other than t, c, z, y, x"))?;
    let dataset = ms
        .get("datasets")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no datasets"))?;
    let path = dataset
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("the first dataset has no path"))?;
    let array_path = format!("{}/{path}", group_path.trim_end_matches('/'));
    let array = Array::open(store.clone(), &array_path).map_err(corrupt)?;
    let shape = array.shape().to_vec();
    if shape.len() != axes.len() {
        return Err(bad(&format!(
            "{} axes for a {}-dimensional array",
            axes.len(),
            shape.len()
        )));
    }
    let dims = dims_of(&axes).ok_or_else(|| bad("no y and x axes, or an axis twice"))?;
    // Planes (time points × channels × slices), as a TIFF's pages, within
    // max_pages before anything is listed for each.
    let planes = [dims.t, dims.c, dims.z]
        .into_iter()
        .flatten()
        .fold(1u64, |n, d| n.saturating_mul(shape[d]));
    if planes > limits.max_pages as u64 {
        return Err(LoadError::Limit(format!(
            "{planes} planes (time points × channels × slices), over max_pages = {}",
            limits.max_pages
        )));
    }
    let sample = Sample::of(&array).ok_or_else(|| {
        LoadError::Unsupported(format!(
            "OME-Zarr samples of type {}; save them as 8/16/32-bit integers or floats",
            array.data_type()
        ))
    })?;
    // A window decodes each chunk it touches whole.
    let chunk = array
        .effective_subchunk_shape()
        .map(|s| s.iter().map(|n| n.get()).product::<u64>())
        .or_else(|| {
            array
                .chunk_shape(&vec![0; shape.len()])
                .ok()
                .map(|s| s.iter().map(|n| n.get()).product::<u64>())
        })
        .unwrap_or(0);
    if chunk.saturating_mul(sample.bytes()) > MAX_CHUNK_BYTES {
        return Err(LoadError::Unsupported(format!(
            "OME-Zarr chunks of {} MB (over {} MB); save it with smaller chunks (e.g. 1024 × 1024 \
             per channel and slice)",
            chunk.saturating_mul(sample.bytes()) >> 20,
            MAX_CHUNK_BYTES >> 20
        )));
    }
    let scale = scale_of(ms, dataset, shape.len());
    let um_per = |d: usize| -> Option<f64> {
        let unit = axes[d].unit.as_deref();
        let s = scale.get(d).copied()?;
        let um = match unit {
            Some(u) => s * unit_to_um(u)?,
            // No unit: µm by the convention of microscopy, unless the
            // scale is the writers' placeholder 1.
            None if s != 1.0 => s,
            None => return None,
        };
        sane_pixel_size(um)
    };
    let n_channels = dims.c.map_or(1, |c| shape[c] as usize);
    let info = FieldInfo {
        width: shape[dims.x] as usize,
        height: shape[dims.y] as usize,
        depth: dims.z.map_or(1, |z| shape[z] as usize),
        n_channels,
        channel_names: channel_names(meta, n_channels),
        pixel_size_um: um_per(dims.x),
        z_step_um: dims.z.and_then(um_per),
        planes: Vec::new(),
    };
    Ok((
        Image {
            array,
            axes: dims,
            sample,
        },
        info,
    ))
}

/// An axis of the multiscale: its name (`t`, `c`, `z`, `y`, `x`) and unit.
#[derive(Clone, Debug, PartialEq)]
struct Axis {
    name: String,
    /// `time`, `channel`, `space` or none (0.3's plain names).
    kind: Option<String>,
    unit: Option<String>,
}

/// The multiscale's axes: objects with a name and unit (0.4 on), or
/// plain names (0.3).
fn axes_of(ms: &Map<String, Value>) -> Option<Vec<Axis>> {
    ms.get("axes")?
        .as_array()?
        .iter()
        .map(|a| match a {
            Value::String(name) => Some(Axis {
                name: name.to_ascii_lowercase(),
                kind: None,
                unit: None,
            }),
            Value::Object(o) => Some(Axis {
                name: o.get("name")?.as_str()?.to_ascii_lowercase(),
                kind: o
                    .get("type")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase),
                unit: o.get("unit").and_then(Value::as_str).map(str::to_string),
            }),
            _ => None,
        })
        .collect()
}

/// Which dimension each of t, c, z, y, x is (y and x required, each
/// once). Axes are known by name; a time or channel axis under another
/// name (`ch`, `channel`, `time`) by its type; nothing else.
fn dims_of(axes: &[Axis]) -> Option<Axes> {
    let mut out = Axes::default();
    let (mut y, mut x) = (None, None);
    for (d, a) in axes.iter().enumerate() {
        let slot = match (a.name.as_str(), a.kind.as_deref()) {
            ("t", _) | (_, Some("time")) => &mut out.t,
            ("c", _) | (_, Some("channel")) => &mut out.c,
            ("z", _) => &mut out.z,
            ("y", _) => &mut y,
            ("x", _) => &mut x,
            _ => return None,
        };
        if slot.replace(d).is_some() {
            return None;
        }
    }
    out.y = y?;
    out.x = x?;
    Some(out)
}

/// Each dimension's scale: the first dataset's `scale` times the
/// multiscale's own (1 where none is given).
fn scale_of(ms: &Map<String, Value>, dataset: &Map<String, Value>, n: usize) -> Vec<f64> {
    let scale = |o: &Map<String, Value>| -> Option<Vec<f64>> {
        o.get("coordinateTransformations")?
            .as_array()?
            .iter()
            .find(|t| t.get("type").and_then(Value::as_str) == Some("scale"))?
            .get("scale")?
            .as_array()?
            .iter()
            .map(Value::as_f64)
            .collect()
    };
    let mut out = vec![1.0; n];
    for s in [scale(dataset), scale(ms)].into_iter().flatten() {
        if s.len() == n {
            for (o, v) in out.iter_mut().zip(s) {
                *o *= v;
            }
        }
    }
    out
}

/// The channels' labels from the `omero` metadata, where given.
fn channel_names(meta: &Map<String, Value>, n: usize) -> Vec<Option<String>> {
    let listed = meta
        .get("omero")
        .and_then(|o| o.get("channels"))
        .and_then(Value::as_array);
    (0..n)
        .map(|c| {
            listed
                .and_then(|l| l.get(c))
                .and_then(|ch| ch.get("label"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Plane;

    fn axes(names: &[&str]) -> Vec<Axis> {
        names
            .iter()
            .map(|n| Axis {
                name: n.to_string(),
                kind: None,
                unit: None,
            })
            .collect()
    }

    #[test]
    fn axes_map_to_dimensions_in_any_subset() {
        let d = dims_of(&axes(&["t", "c", "z", "y", "x"])).unwrap();
        assert_eq!((d.t, d.c, d.z, d.y, d.x), (Some(0), Some(1), Some(2), 3, 4));
        let d = dims_of(&axes(&["c", "y", "x"])).unwrap();
        assert_eq!((d.t, d.c, d.z, d.y, d.x), (None, Some(0), None, 1, 2));
        assert!(dims_of(&axes(&["c", "y"])).is_none());
        assert!(dims_of(&axes(&["y", "y", "x"])).is_none());
        assert!(dims_of(&axes(&["q", "y", "x"])).is_none());
        // A channel axis under another name, known by its type.
        let mut a = axes(&["ch", "y", "x"]);
        assert!(dims_of(&a).is_none());
        a[0].kind = Some("channel".into());
        assert_eq!(dims_of(&a).unwrap().c, Some(0));
    }

    use crate::synth::zarr::{ome_zarr, ZarrOptions};
    use serde_json::json;
    use zarrs::array::{data_type, ArrayBuilder};
    use zarrs::group::GroupBuilder;

    /// Three 300 × 210 channels of distinct, position-dependent values.
    fn planes() -> Vec<Vec<u16>> {
        (0..3u32)
            .map(|c| {
                (0..300 * 210u32)
                    .map(|i| ((i * 7919 + c * 104_729) % 4096) as u16)
                    .collect()
            })
            .collect()
    }

    /// A Zarr folder `name` in a new temporary folder (kept while the
    /// returned guard lives), with its store.
    fn empty_store(name: &str) -> (tempfile::TempDir, std::path::PathBuf, Arc<FilesystemStore>) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        let store = Arc::new(FilesystemStore::new(&path).unwrap());
        (tmp, path, store)
    }

    fn written(dir: &Path, shard: usize) -> std::path::PathBuf {
        let path = dir.join(format!("img{shard}.ome.zarr"));
        let p = planes();
        let refs: Vec<&[u16]> = p.iter().map(Vec::as_slice).collect();
        let o = ZarrOptions {
            chunk: 64,
            shard,
            levels: 2,
            pixel_size_um: 0.65,
            names: vec!["DAPI".into(), "P-cadherin".into(), "Sox9".into()],
        };
        ome_zarr(&path, &refs, (300, 210), &o).unwrap();
        path
    }

    #[test]
    fn an_ome_zarr_reads_as_its_planes_and_windows_as_crops_of_them() {
        let tmp = tempfile::tempdir().unwrap();
        for shard in [0, 2] {
            let src = ZarrSource::open(&written(tmp.path(), shard), Limits::default()).unwrap();
            assert_eq!(src.field_count(), 1);
            let opts = LoadOptions::default();
            let field = src.load_field(0, &opts).unwrap();
            assert_eq!((field.width, field.height, field.depth), (300, 210, 1));
            assert!((field.pixel_size_um - 0.65).abs() < 1e-12);
            assert_eq!(field.channel_source, super::super::ChannelSource::Metadata);
            // Roles from the names: the file's channel 1 is P-cadherin.
            let p = planes();
            for (role, file_channel) in [(0, 1), (1, 2), (2, 0)] {
                let Plane::U16(img) = &field.channels[role] else {
                    panic!("16-bit samples read as floats");
                };
                assert_eq!(img.as_raw(), &p[file_channel]);
            }
            for (x0, y0, w, h) in [
                (0, 0, 300, 210),
                (17, 33, 100, 90),
                (63, 64, 2, 2),
                (290, 0, 500, 500),
            ] {
                let win = src.load_window(0, &opts, (x0, y0, w, h)).unwrap();
                let crop = field.crop(x0, y0, w, h);
                assert_eq!(win.channels, crop.channels, "window {x0},{y0} {w}×{h}");
            }
            assert!(src.load_window(0, &opts, (300, 0, 5, 5)).is_err());
        }
    }

    /// A t, c, z, y, x image: each time point a field, each channel
    /// max-projected over z; the stack read whole for 3D.
    #[test]
    fn time_points_are_fields_and_slices_are_projected() {
        let (_tmp, path, store) = empty_store("tz.zarr");
        let (t, c, z, h, w) = (2u64, 3u64, 4u64, 20u64, 30u64);
        let array = ArrayBuilder::new(
            vec![t, c, z, h, w],
            vec![1, 1, 1, 8, 8],
            data_type::uint8(),
            0u8,
        )
        .build(store.clone(), "/0")
        .unwrap();
        array.store_metadata().unwrap();
        let value = |ti: u64, ci: u64, zi: u64, yi: u64, xi: u64| -> u8 {
            ((ti * 50 + ci * 20 + (zi * 7 + yi + xi) % 11) % 251) as u8
        };
        let mut data = Vec::new();
        for ti in 0..t {
            for ci in 0..c {
                for zi in 0..z {
                    for yi in 0..h {
                        for xi in 0..w {
                            data.push(value(ti, ci, zi, yi, xi));
                        }
                    }
                }
            }
        }
        array
            .store_array_subset(&[0..t, 0..c, 0..z, 0..h, 0..w], data.as_slice())
            .unwrap();
        let mut group = GroupBuilder::new().build(store, "/").unwrap();
        group.attributes_mut().insert(
            "multiscales".into(),
            json!([{"version": "0.4",
                "axes": [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"},
                         {"name": "z", "type": "space", "unit": "micrometer"},
                         {"name": "y", "type": "space", "unit": "nanometer"},
                         {"name": "x", "type": "space", "unit": "nanometer"}],
                "datasets": [{"path": "0", "coordinateTransformations":
                    [{"type": "scale", "scale": [1, 1, 2.5, 400, 400]}]}]}]),
        );
        group.store_metadata().unwrap();
        let src = ZarrSource::open(&path, Limits::default()).unwrap();
        assert_eq!(src.field_count(), 2);
        let info = src.info(1).unwrap();
        assert_eq!((info.width, info.height, info.depth), (30, 20, 4));
        assert_eq!(info.pixel_size_um, Some(0.4));
        assert_eq!(info.z_step_um, Some(2.5));
        let opts = LoadOptions::default();
        for ti in 0..t {
            let field = src.load_field(ti as usize, &opts).unwrap();
            for ci in 0..c {
                let Plane::U16(img) = &field.channels[ci as usize] else {
                    panic!("8-bit samples read as floats");
                };
                for yi in 0..h {
                    for xi in 0..w {
                        let top = (0..z).map(|zi| value(ti, ci, zi, yi, xi)).max().unwrap();
                        assert_eq!(img.get_pixel(xi as u32, yi as u32).0[0], u16::from(top));
                    }
                }
            }
            let stack = src.load_stack(ti as usize, &opts).unwrap();
            assert_eq!(stack.dimensions(), (30, 20, 4));
            assert_eq!(stack.projected().channels, field.channels);
        }
    }

    #[test]
    fn a_placeholder_scale_without_unit_is_no_pixel_size_and_other_groups_are_refused() {
        let (_tmp, path, store) = empty_store("p.zarr");
        let array = ArrayBuilder::new(vec![3, 16, 16], vec![1, 16, 16], data_type::uint16(), 0u16)
            .build(store.clone(), "/s0")
            .unwrap();
        array.store_metadata().unwrap();
        let mut group = GroupBuilder::new().build(store.clone(), "/").unwrap();
        group.store_metadata().unwrap();
        let err = ZarrSource::open(&path, Limits::default()).err().unwrap();
        assert!(
            err.to_string().contains("without OME-NGFF multiscales"),
            "{err}"
        );
        group.attributes_mut().insert(
            "ome".into(),
            json!({"version": "0.5", "multiscales": [{
                "axes": ["c", "y", "x"],
                "datasets": [{"path": "s0", "coordinateTransformations":
                    [{"type": "scale", "scale": [1.0, 1.0, 1.0]}]}]}]}),
        );
        group.store_metadata().unwrap();
        let src = ZarrSource::open(&path, Limits::default()).unwrap();
        assert_eq!(src.info(0).unwrap().pixel_size_um, None);
        let err = src.load_field(0, &LoadOptions::default()).err().unwrap();
        assert!(matches!(err, LoadError::NoPixelSize), "{err}");
        let opts = LoadOptions {
            pixel_size_um: Some(0.5),
            ..LoadOptions::default()
        };
        assert_eq!(src.load_field(0, &opts).unwrap().width, 16);
    }

    /// Damaged chunks and metadata are errors, never panics or zeros.
    #[test]
    fn a_damaged_chunk_or_metadata_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = written(tmp.path(), 0);
        let chunk = path.join("0/c/1/1/1");
        assert!(chunk.exists());
        std::fs::write(&chunk, b"not zstd at all").unwrap();
        let src = ZarrSource::open(&path, Limits::default()).unwrap();
        let opts = LoadOptions::default();
        let err = src.load_field(0, &opts).err().unwrap();
        assert!(matches!(err, LoadError::Zarr(_)), "{err}");
        // A window away from the damaged chunk still reads.
        assert!(src.load_window(0, &opts, (200, 150, 50, 50)).is_ok());
        let meta = path.join("0/zarr.json");
        let text = std::fs::read_to_string(&meta).unwrap();
        std::fs::write(&meta, &text[..text.len() / 2]).unwrap();
        let err = ZarrSource::open(&path, Limits::default()).err().unwrap();
        assert!(matches!(err, LoadError::Zarr(_)), "{err}");
    }

    /// A header promising a billion time points (or channels) is refused
    /// at once.
    #[test]
    fn absurd_time_points_are_refused() {
        let (_tmp, path, store) = empty_store("t.zarr");
        ArrayBuilder::new(
            vec![1 << 30, 3, 16, 16],
            vec![1, 1, 16, 16],
            data_type::uint16(),
            0u16,
        )
        .build(store.clone(), "/0")
        .unwrap()
        .store_metadata()
        .unwrap();
        let mut group = GroupBuilder::new().build(store, "/").unwrap();
        group.attributes_mut().insert(
            "multiscales".into(),
            json!([{"axes": ["t", "c", "y", "x"], "datasets": [{"path": "0"}]}]),
        );
        group.store_metadata().unwrap();
        let err = ZarrSource::open(&path, Limits::default()).err().unwrap();
        assert!(matches!(err, LoadError::Limit(_)), "{err}");
    }

    #[test]
    fn scales_multiply_and_axes_parse_in_both_spellings() {
        let ms: Map<String, Value> = serde_json::from_str(
            r#"{"axes": [{"name": "c", "type": "channel"},
                         {"name": "Y", "type": "space", "unit": "micrometer"}, "x"],
                "coordinateTransformations": [{"type": "scale", "scale": [1, 2, 2]}]}"#,
        )
        .unwrap();
        let ds: Map<String, Value> = serde_json::from_str(
            r#"{"path": "0", "coordinateTransformations": [
                {"type": "scale", "scale": [1, 0.25, 0.3]},
                {"type": "translation", "translation": [0, 5, 5]}]}"#,
        )
        .unwrap();
        assert_eq!(scale_of(&ms, &ds, 3), vec![1.0, 0.5, 0.6]);
        let a = axes_of(&ms).unwrap();
        assert_eq!(a[1].name, "y");
        assert_eq!(a[1].unit.as_deref(), Some("micrometer"));
        assert_eq!(a[2].unit, None);
    }
}

//! Field layouts: which page and sample holds each channel of each z
//! slice of each field, planned from the file's pages and its metadata —
//! OME-XML ([`plan_ome`]), an ImageJ hyperstack description
//! ([`plan_imagej`]) or none (plain pages, [`plan_plain`]).

use super::channels::{resolve, ChannelMap};
use super::meta::{parse_ome, ImageJMeta};
use super::{Field, LoadOptions, Plane, Stack, Voxels};
use crate::error::LoadError;
use crate::volume::VoxelSize;

#[derive(Clone, Debug)]
pub(super) enum PageKind {
    /// Decodable: `color` channels among `total` samples per pixel of
    /// `bytes` bytes each.
    Ok {
        color: usize,
        total: usize,
        bytes: usize,
        /// Unsigned integer samples (SampleFormat absent or 1).
        unsigned: bool,
    },
    Unsupported(String),
    /// Its strips or tiles point past the end of the file.
    Truncated(String),
}

#[derive(Clone, Debug)]
pub(super) struct PageInfo {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) kind: PageKind,
}

/// Where one channel plane of a field lives.
#[derive(Clone, Copy, Debug)]
pub(super) struct PlaneRef {
    pub(super) page: usize,
    pub(super) sample: usize,
}

/// What a field is, before decoding it.
#[derive(Clone, Debug)]
pub struct FieldInfo {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Number of z slices.
    pub depth: usize,
    /// Number of channels.
    pub n_channels: usize,
    /// Channel names from the metadata, where there are any.
    pub channel_names: Vec<Option<String>>,
    /// µm per pixel from the metadata.
    pub pixel_size_um: Option<f64>,
    /// µm between z slices from the metadata (ImageJ `spacing=`, OME
    /// `PhysicalSizeZ`).
    pub z_step_um: Option<f64>,
    /// Each z slice's planes, one per channel.
    pub(super) planes: Vec<Vec<PlaneRef>>,
}

fn color_of(pages: &[PageInfo], page: usize) -> Result<usize, LoadError> {
    match pages.get(page).map(|p| &p.kind) {
        Some(PageKind::Ok { color, .. }) => Ok(*color),
        Some(PageKind::Truncated(why)) => Err(LoadError::Truncated(format!("page {page}: {why}"))),
        Some(PageKind::Unsupported(why)) => {
            Err(LoadError::Unsupported(format!("page {page}: {why}")))
        }
        None => Err(LoadError::Metadata(format!(
            "metadata points to page {page}, the file has {}",
            pages.len()
        ))),
    }
}

pub(super) fn plan_ome(
    xml: &str,
    pages: &[PageInfo],
    file_name: &str,
) -> Result<Vec<FieldInfo>, LoadError> {
    let images = parse_ome(xml)?;
    // The file names the planes' TiffData point to. One name that is not
    // ours is this file renamed (technicians rename files; the XML keeps
    // the name it was written under); several names are a multi-file
    // dataset, whose other files this one cannot stand for.
    let mut named: Vec<&str> = images
        .iter()
        .flat_map(|i| i.tiff_data.iter().filter_map(|t| t.file_name.as_deref()))
        .collect();
    named.sort_unstable();
    named.dedup();
    if named.len() > 1 {
        let others: Vec<&str> = named.into_iter().filter(|n| *n != file_name).collect();
        return Err(LoadError::Unsupported(format!(
            "multi-file OME dataset: planes are also in `{}`",
            others.join("`, `")
        )));
    }
    let mut fields = Vec::new();
    let mut cursor = 0usize;
    for img in &images {
        let first_ifd = img.tiff_data.first().map_or(cursor, |t| t.ifd);
        let per_page = color_of(pages, first_ifd)?;
        let planes_c = if per_page > 1 {
            if img.size_c % per_page != 0 && img.size_c > per_page {
                return Err(LoadError::Metadata(format!(
                    "SizeC={} does not split into {per_page}-sample pages",
                    img.size_c
                )));
            }
            (img.size_c / per_page).max(1)
        } else {
            img.size_c
        };
        let n_channels = planes_c * per_page;
        let total = planes_c * img.size_z * img.size_t;
        if total > pages.len() {
            return Err(LoadError::Metadata(format!(
                "OME-XML declares {total} planes, the file has {} pages",
                pages.len()
            )));
        }
        let mut ifd_of: Vec<Option<usize>> = vec![None; total];
        if img.tiff_data.is_empty() {
            for (p, slot) in ifd_of.iter_mut().enumerate() {
                *slot = Some(cursor + p);
            }
        } else {
            let single = img.tiff_data.len() == 1;
            for td in &img.tiff_data {
                let count =
                    td.plane_count
                        .unwrap_or(if single && !td.any_attr { total } else { 1 });
                let p0 = img.plane_index(td.first[0], td.first[1], td.first[2], planes_c);
                for k in 0..count.min(total) {
                    if let Some(slot) = ifd_of.get_mut(p0.saturating_add(k)) {
                        *slot = Some(td.ifd.saturating_add(k));
                    }
                }
            }
        }
        cursor += total;
        let names = if img.channel_names.len() == n_channels {
            img.channel_names.clone()
        } else {
            vec![None; n_channels]
        };
        for t in 0..img.size_t {
            let mut planes = Vec::with_capacity(img.size_z);
            for z in 0..img.size_z {
                let mut row = Vec::with_capacity(n_channels);
                for c in 0..n_channels {
                    let p = img.plane_index(c / per_page, z, t, planes_c);
                    let page = ifd_of[p].ok_or_else(|| {
                        LoadError::Metadata(format!("no IFD for plane c={c} z={z} t={t}"))
                    })?;
                    if page >= pages.len() {
                        return Err(LoadError::Metadata(format!(
                            "plane c={c} z={z} t={t} is in IFD {page}, the file has {} pages",
                            pages.len()
                        )));
                    }
                    row.push(PlaneRef {
                        page,
                        sample: c % per_page,
                    });
                }
                planes.push(row);
            }
            fields.push(FieldInfo {
                width: img.size_x,
                height: img.size_y,
                depth: img.size_z,
                n_channels,
                channel_names: names.clone(),
                pixel_size_um: img.physical_size_x_um.and_then(sane_pixel_size),
                z_step_um: img.physical_size_z_um.and_then(sane_pixel_size),
                planes,
            });
        }
    }
    Ok(fields)
}

pub(super) fn plan_imagej(
    ij: &ImageJMeta,
    pages: &[PageInfo],
    px: Option<f64>,
    labels: &[String],
) -> Result<Vec<FieldInfo>, LoadError> {
    let per_page = color_of(pages, 0)?;
    let total = ij.channels * ij.slices * ij.frames;
    if total > pages.len() {
        return Err(LoadError::Metadata(format!(
            "ImageJ description declares {total} images (channels={} slices={} frames={}), \
             the file has {} pages",
            ij.channels,
            ij.slices,
            ij.frames,
            pages.len()
        )));
    }
    let n_channels = ij.channels * per_page;
    // Labels of the first z/t's planes name the channels (grey pages only).
    let names: Vec<Option<String>> = if per_page == 1 && labels.len() >= ij.channels {
        labels[..ij.channels]
            .iter()
            .map(|l| Some(l.clone()))
            .collect()
    } else {
        vec![None; n_channels]
    };
    let (w, h) = (pages[0].width as usize, pages[0].height as usize);
    let mut fields = Vec::new();
    for t in 0..ij.frames {
        let planes = (0..ij.slices)
            .map(|z| {
                (0..n_channels)
                    .map(|c| PlaneRef {
                        page: (t * ij.slices + z) * ij.channels + c / per_page,
                        sample: c % per_page,
                    })
                    .collect()
            })
            .collect();
        fields.push(FieldInfo {
            width: w,
            height: h,
            depth: ij.slices,
            n_channels,
            channel_names: names.clone(),
            pixel_size_um: px,
            z_step_um: ij.z_step_um().and_then(sane_pixel_size),
            planes,
        });
    }
    Ok(fields)
}

pub(super) fn plan_plain(pages: &[PageInfo], px: Option<f64>) -> Result<Vec<FieldInfo>, LoadError> {
    let per_page = color_of(pages, 0)?;
    let (w0, h0) = (pages[0].width, pages[0].height);
    // Thumbnails and pyramid levels have other sizes: only pages shaped
    // like the first belong to the field.
    let same: Vec<usize> = pages
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.width == w0
                && p.height == h0
                && matches!(p.kind, PageKind::Ok { color, .. } if color == per_page)
        })
        .map(|(i, _)| i)
        .collect();
    let (depth, planes): (usize, Vec<Vec<PlaneRef>>) = if per_page == 1 {
        // One page per channel.
        (
            1,
            vec![same
                .iter()
                .map(|&page| PlaneRef { page, sample: 0 })
                .collect()],
        )
    } else {
        // Colour pages: each page one z slice holding all channels.
        (
            same.len(),
            same.iter()
                .map(|&page| {
                    (0..per_page)
                        .map(|sample| PlaneRef { page, sample })
                        .collect()
                })
                .collect(),
        )
    };
    let n_channels = planes[0].len();
    // A Y×X×C array written as grayscale pages (tifffile with
    // photometric='minisblack'): as many pages as rows, each a few
    // pixels wide (the channels).
    if per_page == 1 && n_channels > 8 && (3..=4).contains(&w0) {
        return Err(LoadError::Unsupported(format!(
            "{n_channels} grayscale pages of {w0} × {h0} pixels: this looks like a Y×X×C \
             image saved page by page (tifffile photometric='minisblack'); re-save it channels \
             first (numpy: a.transpose(2, 0, 1)) or as RGB (photometric='rgb')"
        )));
    }
    Ok(vec![FieldInfo {
        width: w0 as usize,
        height: h0 as usize,
        depth,
        n_channels,
        channel_names: vec![None; n_channels],
        pixel_size_um: px,
        z_step_um: None,
        planes,
    }])
}

/// A pixel size or z step from metadata, if it is a plausible one (1 nm
/// to 100 µm).
pub(super) fn sane_pixel_size(um: f64) -> Option<f64> {
    (um.is_finite() && (1e-3..=100.0).contains(&um)).then_some(um)
}

/// Field `i` of `fields` (a TIFF's or an OME-Zarr's), its plane sane —
/// not empty, with a slice, at most `max` pixels (the limit named `key`)
/// — with its channel roles and its pixel size (from `opts` or the file;
/// none is an error).
pub(super) fn resolved(
    fields: &[FieldInfo],
    i: usize,
    opts: &LoadOptions,
    (max, key): (u64, &str),
) -> Result<(FieldInfo, ChannelMap, f64), LoadError> {
    let info = fields
        .get(i)
        .ok_or_else(|| LoadError::Metadata(format!("no field {i}")))?
        .clone();
    let (w, h) = (info.width, info.height);
    if w == 0 || h == 0 {
        return Err(LoadError::Corrupt(format!("image is {w}×{h} pixels")));
    }
    if info.depth == 0 {
        return Err(LoadError::Corrupt("image has no z slice".into()));
    }
    if (w as u64).saturating_mul(h as u64) > max {
        return Err(LoadError::Limit(format!(
            "{w}×{h} pixels is over {key} = {max}"
        )));
    }
    let map = resolve(info.n_channels, &info.channel_names, opts.channels.as_ref())?;
    let pixel_size_um = opts
        .pixel_size_um
        .or(info.pixel_size_um)
        .ok_or(LoadError::NoPixelSize)?;
    Ok((info, map, pixel_size_um))
}

/// Field `i` as decoded: its plan's metadata, its channel roles and
/// pixel size, `opts`' z step, and its planes.
pub(super) fn field_of(
    i: usize,
    info: &FieldInfo,
    map: ChannelMap,
    pixel_size_um: f64,
    opts: &LoadOptions,
    channels: [Plane; 3],
) -> Field {
    let (w, h) = channels[0].dimensions();
    Field {
        index: i,
        width: w as usize,
        height: h as usize,
        depth: info.depth,
        pixel_size_um,
        z_step_um: opts.z_step_um.or(info.z_step_um),
        channel_source: map.source,
        channel_roles: map.roles,
        channels,
    }
}

/// The z step a 3D analysis of `info` uses: `--z-step`, else the file's;
/// none is an error (asked before anything is decoded).
pub(super) fn z_step_of(info: &FieldInfo, opts: &LoadOptions) -> Result<f64, LoadError> {
    opts.z_step_um.or(info.z_step_um).ok_or(LoadError::NoZStep)
}

/// Field `i`'s stack as decoded: its channel roles, voxel size and
/// volumes.
pub(super) fn stack_of(
    i: usize,
    map: ChannelMap,
    voxel: VoxelSize,
    channels: [Voxels; 3],
) -> Stack {
    Stack {
        index: i,
        voxel,
        channel_source: map.source,
        channel_roles: map.roles,
        channels,
    }
}

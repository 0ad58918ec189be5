//! The TIFF reader proper, on top of the `tiff` crate's decoder.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use tiff::decoder::{ifd::Value, Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::ColorType;

use super::channels::ChannelMap;
use super::chunks::{read_window, Rect};
use super::digest::{Digest, HashingFile};
use super::layout::{
    field_of, plan_imagej, plan_ome, plan_plain, resolved, sane_pixel_size, stack_of, z_step_of,
    FieldInfo, PageInfo, PageKind,
};
use super::meta::{self, parse_imagej};
use super::zmax::{Sink, ZMax};
use super::zstack::Slices;
use super::{Field, LoadOptions, Stack};
use crate::error::LoadError;
use crate::volume::VoxelSize;

/// Sanity limits, checked before allocating or decoding anything sized by
/// the file. The defaults admit a real 4096² × 3-channel × 64-slice 16-bit
/// stack (and a single plane up to 8192²).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most pixels in one plane (width × height): the analysis holds a few
    /// planes of this size per worker.
    pub max_plane_pixels: u64,
    /// Most samples one field may decode: width × height × channels read
    /// × slices.
    pub max_field_samples: u64,
    /// Most bytes one field may decode (all the pages it reads, every
    /// sample of them, at their stored bit depth).
    pub max_field_bytes: u64,
    /// Most IFDs (pages) a file may chain.
    pub max_pages: usize,
    /// Most bytes one decoded page may take.
    pub max_page_bytes: usize,
    /// Most pixels in one plane analysed a window at a time (a stitched
    /// mosaic; [`TiffSource::load_window`]): a guard against absurd
    /// headers, not a memory bound.
    pub max_mosaic_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_plane_pixels: 8192 * 8192,
            max_field_samples: 4096 * 4096 * 3 * 64,
            max_field_bytes: 4096 * 4096 * 3 * 64 * 2,
            max_pages: 100_000,
            max_page_bytes: 1 << 30,
            max_mosaic_pixels: 65536 * 65536,
        }
    }
}

/// Where a [`TiffSource`] reads from: a file opened read-only, or bytes in
/// memory (for fuzzing and for callers that already hold the file).
enum Reader {
    File(BufReader<HashingFile>),
    Memory(Cursor<Vec<u8>>),
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Reader::File(r) => r.read(buf),
            Reader::Memory(r) => r.read(buf),
        }
    }
}

impl Seek for Reader {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match self {
            Reader::File(r) => r.seek(pos),
            Reader::Memory(r) => r.seek(pos),
        }
    }
}

/// An open TIFF file whose structure has been read.
pub struct TiffSource {
    decoder: Decoder<Reader>,
    pages: Vec<PageInfo>,
    fields: Vec<FieldInfo>,
    limits: Limits,
    /// Deflate strips through [`super::strips`] (off only to test it
    /// against the tiff crate).
    fast_strips: bool,
}

fn page_info(dec: &mut Decoder<Reader>, file_len: u64) -> Result<PageInfo, LoadError> {
    let (width, height) = dec.dimensions()?;
    let kind = match dec.colortype() {
        Err(e) => PageKind::Unsupported(e.to_string()),
        Ok(ct) => {
            let (color, total, bits) = match ct {
                ColorType::Gray(b) => (1, 1, b),
                ColorType::GrayA(b) => (1, 2, b),
                ColorType::RGB(b) => (3, 3, b),
                ColorType::RGBA(b) => (3, 4, b),
                ColorType::Multiband {
                    bit_depth,
                    num_samples,
                } => (num_samples as usize, num_samples as usize, bit_depth),
                _ => (0, 0, 0),
            };
            if let ColorType::YCbCr(_) = ct {
                PageKind::Unsupported(
                    "YCbCr colour (JPEG-style, lossy; made for photographs): re-save as RGB or \
                     one page per channel, uncompressed or LZW/Deflate (Fiji: File > Save As > \
                     Tiff; tifffile: photometric='rgb', compression='zlib')"
                        .into(),
                )
            } else if color == 0 {
                PageKind::Unsupported(format!(
                    "colour type {ct:?}: re-save as grayscale pages (one per channel) or RGB"
                ))
            } else if ![8, 16, 32, 64].contains(&bits) {
                PageKind::Unsupported(format!("{bits}-bit samples"))
            } else {
                let unsigned = match dec.find_tag_unsigned_vec::<u16>(Tag::SampleFormat) {
                    Ok(None) => true,
                    Ok(Some(f)) => f.iter().all(|&f| f == 1),
                    Err(_) => false,
                };
                PageKind::Ok {
                    color,
                    total,
                    bytes: bits as usize / 8,
                    unsigned,
                }
            }
        }
    };
    // Every strip or tile must lie inside the file: a page whose data
    // would run past the end is truncated, whatever its header claims.
    let kind = match chunks_past_end(dec, file_len) {
        Some(why) => PageKind::Truncated(why),
        None => kind,
    };
    Ok(PageInfo {
        width,
        height,
        kind,
    })
}

/// Why the current page's strips or tiles do not fit in a file of
/// `file_len` bytes, if they don't.
fn chunks_past_end(dec: &mut Decoder<Reader>, file_len: u64) -> Option<String> {
    let (offsets, counts, what) = match dec.find_tag_unsigned_vec::<u64>(Tag::TileOffsets) {
        Ok(Some(o)) => (
            o,
            dec.find_tag_unsigned_vec::<u64>(Tag::TileByteCounts),
            "tile",
        ),
        _ => (
            dec.find_tag_unsigned_vec::<u64>(Tag::StripOffsets)
                .ok()
                .flatten()?,
            dec.find_tag_unsigned_vec::<u64>(Tag::StripByteCounts),
            "strip",
        ),
    };
    let counts = counts.ok().flatten()?;
    let mut total = 0u64;
    for (i, (&o, &c)) in offsets.iter().zip(&counts).enumerate() {
        total = total.saturating_add(c);
        if o.saturating_add(c) > file_len {
            return Some(format!(
                "{what} {i} ends at byte {} but the file has {file_len} bytes",
                o.saturating_add(c)
            ));
        }
    }
    (total > file_len)
        .then(|| format!("{what}s hold {total} bytes in all but the file has {file_len} bytes"))
}

fn tag_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Rational(n, d) if *d != 0 => Some(f64::from(*n) / f64::from(*d)),
        Value::Short(n) => Some(f64::from(*n)),
        Value::Unsigned(n) => Some(f64::from(*n)),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Double(f) => Some(*f),
        Value::List(l) => l.first().and_then(tag_f64),
        _ => None,
    }
}

impl TiffSource {
    /// Opens `path` with default limits.
    pub fn open(path: &Path) -> Result<TiffSource, LoadError> {
        Self::open_with_limits(path, Limits::default())
    }

    /// Opens `path` read-only and reads its structure: every IFD, the
    /// ImageJ or OME metadata, and the plan of each field.
    pub fn open_with_limits(path: &Path, limits: Limits) -> Result<TiffSource, LoadError> {
        Self::open_file(path, limits, false)
    }

    /// [`TiffSource::open_with_limits`], also hashing the file's bytes as
    /// they are read, for [`TiffSource::digest`].
    pub fn open_hashed(path: &Path, limits: Limits) -> Result<TiffSource, LoadError> {
        Self::open_file(path, limits, true)
    }

    fn open_file(path: &Path, limits: Limits, hash: bool) -> Result<TiffSource, LoadError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = HashingFile::new(file, hash);
        Self::from_reader(Reader::File(BufReader::new(file)), len, &name, limits)
    }

    /// Size and BLAKE3 hash of a file opened with
    /// [`TiffSource::open_hashed`] (`None` otherwise): the bytes decoding
    /// has read are already hashed, only the rest is read now. Call it
    /// after the fields are loaded.
    pub fn digest(&mut self) -> Option<std::io::Result<Digest>> {
        match self.decoder.inner() {
            Reader::File(r) => r.get_mut().digest(),
            Reader::Memory(_) => None,
        }
    }

    /// Reads a TIFF held in memory; `name` stands for the file name (OME
    /// metadata may refer to it).
    pub fn from_bytes(bytes: Vec<u8>, name: &str, limits: Limits) -> Result<TiffSource, LoadError> {
        let len = bytes.len() as u64;
        Self::from_reader(Reader::Memory(Cursor::new(bytes)), len, name, limits)
    }

    fn from_reader(
        reader: Reader,
        len: u64,
        file_name: &str,
        limits: Limits,
    ) -> Result<TiffSource, LoadError> {
        if len == 0 {
            return Err(LoadError::Corrupt("empty file (0 bytes)".into()));
        }
        // While the structure is read, no tag value may be longer than the
        // file (the decoder would allocate what a tag claims before reading
        // it); pages get their own, larger limit once decoding starts.
        let file_bound = usize::try_from(len).unwrap_or(usize::MAX);
        let mut meta_limits = tiff::decoder::Limits::default();
        meta_limits.decoding_buffer_size = limits.max_page_bytes.min(file_bound);
        let mut decoder = Decoder::new(reader)?.with_limits(meta_limits);
        // Checked here too so the decoder never meets such a tag at all.
        if let Some(n) = decoder
            .ifd_pointer()
            .and_then(|p| decoder.read_directory(p).ok())
            .and_then(|d| d.get(Tag::ImageDescription).map(|e| e.count()))
            .filter(|&n| n > len)
        {
            return Err(LoadError::Corrupt(format!(
                "ImageDescription claims {n} bytes but the file has {len}"
            )));
        }

        let description = match decoder.find_tag(Tag::ImageDescription) {
            Ok(Some(Value::Ascii(s))) => Some(s),
            _ => None,
        };
        let xres = decoder
            .find_tag(Tag::XResolution)
            .ok()
            .flatten()
            .and_then(|v| tag_f64(&v))
            .filter(|x| *x > 0.0);
        let ij_labels = decoder
            .find_tag_unsigned_vec::<u32>(Tag::Unknown(meta::IJ_METADATA_BYTE_COUNTS))
            .ok()
            .flatten()
            .zip(decoder.get_tag_u8_vec(Tag::Unknown(meta::IJ_METADATA)).ok())
            .and_then(|(counts, data)| meta::parse_ij_labels(&counts, &data))
            .unwrap_or_default();
        let res_unit = decoder
            .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
            .ok()
            .flatten()
            .unwrap_or(2);

        let mut pages = vec![page_info(&mut decoder, len)?];
        while decoder.more_images() {
            if pages.len() >= limits.max_pages {
                return Err(LoadError::Limit(format!(
                    "more than max_pages = {} pages (IFDs)",
                    limits.max_pages
                )));
            }
            decoder.next_image()?;
            pages.push(page_info(&mut decoder, len)?);
        }

        let desc = description.as_deref().unwrap_or("");
        let fields = if desc.contains("<OME") {
            plan_ome(desc, &pages, file_name)?
        } else if let Some(ij) = parse_imagej(desc)? {
            let px = ij
                .unit_um
                .zip(xres)
                .map(|(u, x)| u / x)
                .and_then(sane_pixel_size);
            plan_imagej(&ij, &pages, px, &ij_labels)?
        } else {
            let px = match (res_unit, xres) {
                (3, Some(x)) => sane_pixel_size(1e4 / x),
                _ => None,
            };
            plan_plain(&pages, px)?
        };
        let mut page_limits = tiff::decoder::Limits::default();
        page_limits.decoding_buffer_size = limits.max_page_bytes;
        Ok(TiffSource {
            decoder: decoder.with_limits(page_limits),
            pages,
            fields,
            limits,
            fast_strips: true,
        })
    }

    /// Number of fields in the file.
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// What field `i` is, before decoding.
    pub fn info(&self, i: usize) -> Option<&FieldInfo> {
        self.fields.get(i)
    }

    /// Decodes field `i`: maps channels to roles and max-projects each of
    /// the three over z, reading every needed page once.
    pub fn load_field(&mut self, i: usize, opts: &LoadOptions) -> Result<Field, LoadError> {
        let (info, map, pixel_size_um) = self.resolved(i, opts, self.whole_plane_limit())?;
        let uses = self.budgeted(&info, &map)?;
        let mut zmax = ZMax::new(small_uint(&self.pages, &uses), info.width * info.height);
        self.decode_into(&info, uses, &mut zmax)?;
        let channels = zmax.into_planes(info.width, info.height)?;
        Ok(field_of(i, &info, map, pixel_size_um, opts, channels))
    }

    /// Decodes the `w` × `h` window of field `i` whose top-left pixel is
    /// (`x0`, `y0`) (clipped to the plane), as [`load_field`](Self::load_field)
    /// would decode the whole field and crop it, reading only the strips
    /// or tiles it touches: a plane larger than memory is analysed a
    /// window at a time ([`FileWindows`](super::FileWindows)). Pages of
    /// other than 8/16-bit unsigned samples are decoded whole and cropped
    /// (refused over `max_plane_pixels`).
    /// The window (not the plane) is checked against `max_plane_pixels`;
    /// the plane against `max_mosaic_pixels`.
    pub fn load_window(
        &mut self,
        i: usize,
        opts: &LoadOptions,
        (x0, y0, w, h): (usize, usize, usize, usize),
    ) -> Result<Field, LoadError> {
        let limit = (self.limits.max_mosaic_pixels, "max_mosaic_pixels");
        let (info, map, pixel_size_um) = self.resolved(i, opts, limit)?;
        let (pw, ph) = (info.width, info.height);
        let x0 = x0.min(pw);
        let y0 = y0.min(ph);
        let rect = Rect {
            x0,
            y0,
            w: w.min(pw - x0),
            h: h.min(ph - y0),
        };
        if rect.w == 0 || rect.h == 0 {
            return Err(LoadError::Corrupt(format!(
                "window {x0},{y0} is outside the {pw}×{ph} image"
            )));
        }
        if (rect.w as u64).saturating_mul(rect.h as u64) > self.limits.max_plane_pixels {
            return Err(LoadError::Limit(format!(
                "a {}×{} window is over max_plane_pixels = {}",
                rect.w, rect.h, self.limits.max_plane_pixels
            )));
        }
        let uses = pages_used(&info, &map.index);
        if !small_uint(&self.pages, &uses) {
            // Decoded whole and cropped: only a plane that fits.
            if (pw as u64).saturating_mul(ph as u64) > self.limits.max_plane_pixels {
                return Err(LoadError::Unsupported(format!(
                    "a {pw}×{ph} plane of samples other than 8/16-bit unsigned is not read a \
                     window at a time; save it as 16-bit (or raise max_plane_pixels)"
                )));
            }
            let whole = self.load_field(i, opts)?;
            return Ok(whole.crop(rect.x0, rect.y0, rect.w, rect.h));
        }
        let n_px = rect.w * rect.h;
        let mut zmax = ZMax::new(true, n_px);
        let mut raw: Vec<u16> = Vec::new();
        for (page, list) in uses {
            let pi = &self.pages[page];
            let PageKind::Ok { total, bytes, .. } = pi.kind else {
                return Err(LoadError::Unsupported(format!("page {page}")));
            };
            if (pi.width as usize, pi.height as usize) != (pw, ph) {
                return Err(LoadError::Metadata(format!(
                    "page {page} is {}×{} but the field is {pw}×{ph}",
                    pi.width, pi.height
                )));
            }
            let len = n_px * total * bytes;
            if raw.len() < len.div_ceil(2) {
                crate::pool::give(std::mem::take(&mut raw));
                raw = crate::pool::take(len.div_ceil(2));
            }
            self.decoder.seek_to_image(page)?;
            let out: &mut [u8] = bytemuck::cast_slice_mut(&mut raw);
            let planar = read_window(
                &mut self.decoder,
                (pw, ph),
                (total, bytes),
                rect,
                &mut out[..len],
            )?;
            let sample_type = if bytes == 1 {
                tiff::decoder::DecodingSampleType::U8
            } else {
                tiff::decoder::DecodingSampleType::U16
            };
            let none = DecodingResult::U8(Vec::new());
            for (sample, role, z) in list {
                let (offset, stride) = if planar {
                    (sample * n_px, 1)
                } else {
                    (sample, total)
                };
                zmax.add(
                    role,
                    z,
                    &none,
                    &raw,
                    Some((Some(sample_type), len)),
                    offset,
                    stride,
                )
                .map_err(|e| LoadError::Corrupt(format!("page {page}: {e}")))?;
            }
        }
        crate::pool::give(raw);
        let channels = zmax.into_planes(rect.w, rect.h)?;
        Ok(field_of(i, &info, map, pixel_size_um, opts, channels))
    }

    /// Decodes field `i` whole, every slice of the three channels, for the
    /// 3D analysis: as [`TiffSource::load_field`], but the stack is kept
    /// rather than projected, and a z step is required (from the file or
    /// `--z-step`).
    pub fn load_stack(&mut self, i: usize, opts: &LoadOptions) -> Result<Stack, LoadError> {
        let (info, map, pixel_size_um) = self.resolved(i, opts, self.whole_plane_limit())?;
        let z_step_um = z_step_of(&info, opts)?;
        let uses = self.budgeted(&info, &map)?;
        let (w, h, d) = (info.width, info.height, info.depth);
        let mut slices = Slices::new(small_uint(&self.pages, &uses), w * h, d);
        self.decode_into(&info, uses, &mut slices)?;
        let voxel = VoxelSize {
            xy_um: pixel_size_um,
            z_um: z_step_um,
        };
        Ok(stack_of(i, map, voxel, slices.into_volumes(w, h, d)?))
    }

    /// Field `i`'s plan (its plane size sane: not empty, at most
    /// `limit`'s pixels), its channel roles and its pixel size (from
    /// `opts` or the file; none is an error).
    fn resolved(
        &self,
        i: usize,
        opts: &LoadOptions,
        limit: (u64, &str),
    ) -> Result<(FieldInfo, ChannelMap, f64), LoadError> {
        resolved(&self.fields, i, opts, limit)
    }

    /// The limit of a plane decoded whole: `max_plane_pixels`.
    fn whole_plane_limit(&self) -> (u64, &'static str) {
        (self.limits.max_plane_pixels, "max_plane_pixels")
    }

    /// The pages the field's mapped channels need, checked against the
    /// decode budget before anything is read.
    fn budgeted(&self, info: &FieldInfo, map: &ChannelMap) -> Result<PageUses, LoadError> {
        let uses = pages_used(info, &map.index);
        self.check_decode_budget(info, &uses)?;
        Ok(uses)
    }

    /// What the field will decode, checked before anything is allocated
    /// or read: every page it uses, whole.
    fn check_decode_budget(&self, info: &FieldInfo, uses: &PageUses) -> Result<(), LoadError> {
        let (mut samples, mut bytes) = (0u64, 0u64);
        for &page in uses.keys() {
            let pi = &self.pages[page];
            match &pi.kind {
                PageKind::Ok {
                    total, bytes: b, ..
                } => {
                    let s = (pi.width as u64)
                        .saturating_mul(pi.height as u64)
                        .saturating_mul(*total as u64);
                    samples = samples.saturating_add(s);
                    bytes = bytes.saturating_add(s.saturating_mul(*b as u64));
                }
                PageKind::Unsupported(why) => {
                    return Err(LoadError::Unsupported(format!("page {page}: {why}")))
                }
                PageKind::Truncated(why) => {
                    return Err(LoadError::Truncated(format!("page {page}: {why}")))
                }
            }
        }
        let (w, h) = (info.width, info.height);
        if samples > self.limits.max_field_samples {
            return Err(LoadError::Limit(format!(
                "the field decodes {samples} samples ({w}×{h} × {} channel(s) × {} slice(s)), \
                 over max_field_samples = {}",
                info.n_channels, info.depth, self.limits.max_field_samples
            )));
        }
        if bytes > self.limits.max_field_bytes {
            return Err(LoadError::Limit(format!(
                "the field decodes {bytes} bytes, over max_field_bytes = {}",
                self.limits.max_field_bytes
            )));
        }
        Ok(())
    }

    /// Decodes each page the field uses, once, handing the samples it
    /// holds to `sink` as the channels and slices they are for.
    fn decode_into(
        &mut self,
        info: &FieldInfo,
        uses: PageUses,
        sink: &mut impl Sink,
    ) -> Result<(), LoadError> {
        let (w, h) = (info.width, info.height);
        let n_px = w * h;
        let mut buf = DecodingResult::U8(Vec::new());
        // 8/16-bit pages decode into one buffer kept for the whole field
        // and then handed to the pool (the tiff crate's own buffer is
        // allocated and zeroed anew for every page).
        let mut raw: Vec<u16> = Vec::new();
        for (page, list) in uses {
            let pi = &self.pages[page];
            let PageKind::Ok { total, .. } = pi.kind else {
                return Err(LoadError::Unsupported(format!("page {page}")));
            };
            if (pi.width as usize, pi.height as usize) != (w, h) {
                return Err(LoadError::Metadata(format!(
                    "page {page} is {}×{} but the field is {w}×{h}",
                    pi.width, pi.height
                )));
            }
            let decoded = if sink.is_integer() {
                self.decode_small(page, &mut raw)?
            } else {
                self.decoder.seek_to_image(page)?;
                let layout = self.decoder.read_image_to_buffer(&mut buf)?;
                Decoded {
                    planar: layout.planes > 1,
                    small: None,
                }
            };
            for (sample, role, z) in list {
                let (offset, stride) = if decoded.planar {
                    (sample * n_px, 1)
                } else {
                    (sample, total)
                };
                sink.add(role, z, &buf, &raw, decoded.small, offset, stride)
                    .map_err(|e| LoadError::Corrupt(format!("page {page}: {e}")))?;
            }
        }
        crate::pool::give(raw);
        Ok(())
    }

    /// Decodes page `page` of 8/16-bit samples into `raw` (in native byte
    /// order, as the decoder leaves them): Deflate strips on the fast path
    /// ([`super::strips`]); anything else, or any strip it cannot decode
    /// whole, the tiff crate's way.
    fn decode_small(&mut self, page: usize, raw: &mut Vec<u16>) -> Result<Decoded, LoadError> {
        self.decoder.seek_to_image(page)?;
        let layout = self.decoder.image_buffer_layout()?;
        let len = layout.complete_len;
        if raw.len() < len.div_ceil(2) {
            crate::pool::give(std::mem::take(raw));
            *raw = crate::pool::take(len.div_ceil(2));
        }
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(raw);
        let fast = self.fast_strips
            && super::strips::plan(&mut self.decoder).is_some_and(|plan| {
                plan.len() == len
                    && super::strips::decode(&plan, self.decoder.inner(), &mut bytes[..len]).is_ok()
            });
        if !fast {
            // Zeroed as a fresh buffer would be, so a page that decodes
            // short never shows the page before it (the fast path fills
            // it whole or fails).
            bytes[..len].fill(0);
            self.decoder.seek_to_image(page)?;
            self.decoder.read_image_bytes(&mut bytes[..len])?;
        }
        Ok(Decoded {
            planar: layout.planes > 1,
            small: Some((layout.sample_type, len)),
        })
    }
}

/// For each page a field reads (in page order), the samples it holds,
/// the channel role (0 P-cadherin, 1 Sox9, 2 DAPI) and the z slice each
/// is for.
type PageUses = BTreeMap<usize, Vec<(usize, usize, usize)>>;

/// Whether every page used holds unsigned samples of up to 16 bits (kept
/// as 16-bit integers; any other page makes the field floats).
fn small_uint(pages: &[PageInfo], uses: &PageUses) -> bool {
    uses.keys()
        .all(|&p| matches!(pages[p].kind, PageKind::Ok { bytes, unsigned: true, .. } if bytes <= 2))
}

/// The pages of `info`'s planes for the channels `roles` picks.
fn pages_used(info: &FieldInfo, roles: &[usize; 3]) -> PageUses {
    let mut uses = PageUses::new();
    for (z, planes) in info.planes.iter().enumerate() {
        for (r, &c) in roles.iter().enumerate() {
            let p = planes[c];
            uses.entry(p.page).or_default().push((p.sample, r, z));
        }
    }
    uses
}

/// How a page came out of the decoder.
#[derive(Clone, Copy)]
struct Decoded {
    /// Samples stored a plane at a time (else interleaved).
    planar: bool,
    /// For 8/16-bit pages decoded into the raw buffer: their sample type
    /// and length in bytes.
    small: Option<(Option<tiff::decoder::DecodingSampleType>, usize)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::write::{self, Comp, Options, SampleType};
    use crate::synth::{render, Scene};

    /// Every field of `path` through the fast strip path and through the
    /// tiff crate alone: the same planes (or both fail). Returns how many
    /// pages qualified for the fast path.
    fn same_both_ways(path: &Path) -> usize {
        let (Ok(mut fast), Ok(mut slow)) = (TiffSource::open(path), TiffSource::open(path)) else {
            return 0;
        };
        slow.fast_strips = false;
        let mut qualified = 0;
        for p in 0..fast.pages.len() {
            if fast.decoder.seek_to_image(p).is_ok()
                && super::super::strips::plan(&mut fast.decoder).is_some()
            {
                qualified += 1;
            }
        }
        for i in 0..fast.field_count() {
            let a = fast.load_field(i, &LoadOptions::default());
            let b = slow.load_field(i, &LoadOptions::default());
            match (a, b) {
                (Ok(a), Ok(b)) => assert!(a.channels == b.channels, "{} field {i}", path.display()),
                (Err(_), Err(_)) => {}
                (a, b) => panic!(
                    "{} field {i}: {:?} vs {:?}",
                    path.display(),
                    a.is_ok(),
                    b.is_ok()
                ),
            }
        }
        qualified
    }

    #[test]
    fn fast_strips_decode_as_the_tiff_crate_does() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut qualified = 0;
        for e in walkdir::WalkDir::new(&root).into_iter().flatten() {
            if e.file_type().is_file() && e.path().extension().is_some_and(|x| x != "csv") {
                qualified += same_both_ways(e.path());
            }
        }
        assert!(qualified > 0, "no fixture page takes the fast path");
        // Layouts written here: 8/16-bit, 1/3/4 samples, several strips,
        // with and without the predictor, BigTIFF, Deflate and LZW;
        // PackBits and no compression (not qualifying) for contrast.
        let mut scene = Scene::new(96, 70, 1.0, 7);
        scene.follicles = 3;
        let r = render(&scene);
        let tmp = tempfile::tempdir().unwrap();
        let planes = write::planes_czt(&r, [0, 1, 2]);
        let mut written = 0;
        for (comp, big) in [
            (Comp::Deflate, false),
            (Comp::DeflateFast, true),
            (Comp::DeflatePlain, false),
            (Comp::Lzw, false),
            (Comp::PackBits, false),
            (Comp::None, false),
        ] {
            let o = Options {
                compression: Some(comp),
                bigtiff: big,
                ..Options::default()
            };
            let d = tmp.path();
            let name = |s: &str| d.join(format!("{s}_{comp:?}_{big}.tif"));
            write::gray_pages(&name("g16"), 96, 70, &planes, SampleType::U16(4095), &o).unwrap();
            write::gray_pages(&name("g8"), 96, 70, &planes, SampleType::U8, &o).unwrap();
            write::color_pages(&name("rgb16"), &r, SampleType::U16(65535), false, &o).unwrap();
            write::color_pages(&name("rgba16"), &r, SampleType::U16(4095), true, &o).unwrap();
            write::color_pages(&name("rgb8"), &r, SampleType::U8, false, &o).unwrap();
            write::color_pages(&name("rgba8"), &r, SampleType::U8, true, &o).unwrap();
            for s in ["g16", "g8", "rgb16", "rgba16", "rgb8", "rgba8"] {
                let q = same_both_ways(&name(s));
                if matches!(
                    comp,
                    Comp::Deflate | Comp::DeflateFast | Comp::DeflatePlain | Comp::Lzw
                ) {
                    assert!(q > 0, "{s} {comp:?}");
                    written += 1;
                } else {
                    assert_eq!(q, 0, "{s} {comp:?}");
                }
            }
        }
        assert_eq!(written, 24);
    }

    /// A 64 × 48 RGB 16-bit field in `dir`, compressed with `comp`.
    fn rgb16_file(dir: &Path, comp: Comp) -> std::path::PathBuf {
        let r = render(&Scene::new(64, 48, 1.0, 9));
        let path = dir.join("rgb16.tif");
        let o = Options {
            compression: Some(comp),
            ..Options::default()
        };
        write::color_pages(&path, &r, SampleType::U16(4095), false, &o).unwrap();
        path
    }

    /// A strip that does not inflate whole falls back to the tiff crate,
    /// which decides (here: an error, as before).
    #[test]
    fn broken_strip_falls_back() {
        let tmp = tempfile::tempdir().unwrap();
        let path = rgb16_file(tmp.path(), Comp::Deflate);
        let mut bytes = std::fs::read(&path).unwrap();
        // Corrupt the middle of the file (strip data, not the header or IFD).
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 16] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, &bytes).unwrap();
        // The fast path refuses the page…
        let mut src = TiffSource::open(&path).unwrap();
        src.decoder.seek_to_image(0).unwrap();
        let plan = super::super::strips::plan(&mut src.decoder).expect("qualifies");
        let mut out = vec![0u8; plan.len()];
        let fast = super::super::strips::decode(&plan, src.decoder.inner(), &mut out);
        assert!(fast.is_err());
        // …and loading gives what the tiff crate alone gives.
        assert_eq!(same_both_ways(&path), 1);
    }

    /// LZW has no checksum: a corrupted strip may decode to garbage of
    /// the right length, or fail. Either way the fast path and the tiff
    /// crate agree (the same planes, or both an error).
    #[test]
    fn corrupted_lzw_strips_load_as_the_tiff_crate_loads_them() {
        let tmp = tempfile::tempdir().unwrap();
        let path = rgb16_file(tmp.path(), Comp::Lzw);
        let clean = std::fs::read(&path).unwrap();
        for k in 1..12 {
            let mut bytes = clean.clone();
            let at = bytes.len() * k / 24 + 16;
            for b in &mut bytes[at..at + 1 + k] {
                *b ^= 0x5a ^ k as u8;
            }
            std::fs::write(&path, &bytes).unwrap();
            same_both_ways(&path);
        }
    }

    #[test]
    fn a_stack_loads_whole_with_its_z_step_and_projects_as_load_field() {
        let mut scene = Scene::new(40, 30, 0.5, 3);
        scene.depth = 6;
        scene.follicles = 1;
        let mut r = render(&scene);
        r.z_step_um = Some(2.5);
        let tmp = tempfile::tempdir().unwrap();
        let ij = tmp.path().join("ij.tif");
        write::imagej_hyperstack(&ij, &r, SampleType::U16(4095), Comp::Deflate).unwrap();
        let ome = tmp.path().join("a.ome.tif");
        let series = [write::OmeSeries {
            scene: &r,
            order: [2, 0, 1],
            names: ["DAPI", "P-cadherin", "Sox9"],
        }];
        write::ome_tiff(&ome, &series, 4095, Comp::Lzw).unwrap();
        for path in [&ij, &ome] {
            let mut src = TiffSource::open(path).unwrap();
            assert_eq!(src.info(0).unwrap().z_step_um, Some(2.5));
            let opts = LoadOptions::default();
            let stack = src.load_stack(0, &opts).unwrap();
            assert_eq!(stack.dimensions(), (40, 30, 6));
            assert_eq!(stack.voxel.z_um, 2.5);
            assert_eq!(stack.voxel.xy_um, 0.5);
            // Slice 3 of P-cadherin is the rendered one, quantised.
            let super::super::Voxels::U16(pcad) = &stack.channels[0] else {
                panic!("16-bit pages give a 16-bit stack");
            };
            let want: Vec<u16> = crate::synth::quantize_u16(&r.slices[3][0], 4095);
            assert_eq!(pcad.slice(3), &want[..]);
            // Its projection is what the 2D loader gives.
            let field = src.load_field(0, &opts).unwrap();
            assert_eq!(field.z_step_um, Some(2.5));
            assert_eq!(stack.projected().channels, field.channels);
            // --z-step overrides the file.
            let opts = LoadOptions {
                z_step_um: Some(4.0),
                ..LoadOptions::default()
            };
            assert_eq!(src.load_stack(0, &opts).unwrap().voxel.z_um, 4.0);
        }
        // A stack without a z step cannot be loaded whole.
        r.z_step_um = None;
        write::imagej_hyperstack(&ij, &r, SampleType::U16(4095), Comp::Deflate).unwrap();
        let mut src = TiffSource::open(&ij).unwrap();
        let e = src.load_stack(0, &LoadOptions::default()).unwrap_err();
        assert!(matches!(e, LoadError::NoZStep), "{e}");
    }
}

//! The TIFF reader proper, on top of the `tiff` crate's decoder.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use image::ImageBuffer;
use tiff::decoder::{ifd::Value, Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::ColorType;

use super::channels::resolve;
use super::digest::{Digest, HashingFile};
use super::meta::{self, parse_imagej, parse_ome};
use super::{Field, LoadOptions, Plane};
use crate::error::LoadError;
use crate::U16Image;

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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_plane_pixels: 8192 * 8192,
            max_field_samples: 4096 * 4096 * 3 * 64,
            max_field_bytes: 4096 * 4096 * 3 * 64 * 2,
            max_pages: 100_000,
            max_page_bytes: 1 << 30,
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

#[derive(Clone, Debug)]
enum PageKind {
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
struct PageInfo {
    width: u32,
    height: u32,
    kind: PageKind,
}

/// Where one channel plane of a field lives.
#[derive(Clone, Copy, Debug)]
struct PlaneRef {
    page: usize,
    sample: usize,
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
    planes: Vec<Vec<PlaneRef>>,
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
            if color == 0 {
                PageKind::Unsupported(format!("colour type {ct:?}"))
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

fn sane_pixel_size(um: f64) -> Option<f64> {
    (um.is_finite() && (1e-3..=100.0).contains(&um)).then_some(um)
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
        let info = self
            .fields
            .get(i)
            .ok_or_else(|| LoadError::Metadata(format!("no field {i}")))?
            .clone();
        let (w, h) = (info.width, info.height);
        let n_px = (w as u64).saturating_mul(h as u64);
        if w == 0 || h == 0 {
            return Err(LoadError::Corrupt(format!("image is {w}×{h} pixels")));
        }
        if n_px > self.limits.max_plane_pixels {
            return Err(LoadError::Limit(format!(
                "{w}×{h} pixels is over max_plane_pixels = {}",
                self.limits.max_plane_pixels
            )));
        }
        let (roles, source) =
            resolve(info.n_channels, &info.channel_names, opts.channels.as_ref())?;

        // page -> (sample, role index)
        let mut uses: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
        for z in &info.planes {
            for (r, &c) in roles.iter().enumerate() {
                let p = z[c];
                uses.entry(p.page).or_default().push((p.sample, r));
            }
        }
        // What the field will decode, checked before anything is allocated
        // or read: every page it uses, whole.
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
        // Unsigned samples of up to 16 bits are projected and kept as
        // 16-bit integers; any other page makes the field floats.
        let small_uint = uses.keys().all(|&p| {
            matches!(self.pages[p].kind, PageKind::Ok { bytes, unsigned: true, .. } if bytes <= 2)
        });
        // Integer planes are not zeroed: a channel's first slice is copied
        // in, the others max-projected onto it (`seen`); a channel no page
        // reached is zeroed at the end.
        let mut seen = [false; 3];
        let mut acc = if small_uint {
            Acc::U16(std::array::from_fn(|_| {
                crate::pool::take::<u16>(n_px as usize)
            }))
        } else {
            Acc::F32(std::array::from_fn(|_| {
                vec![f32::NEG_INFINITY; n_px as usize]
            }))
        };
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
            self.decoder.seek_to_image(page)?;
            // 8/16-bit pages decode into `raw` (samples in native byte
            // order, as the decoder leaves them), other pages into the tiff
            // crate's typed buffer.
            let (planar, small) = if let Acc::U16(_) = acc {
                let layout = self.decoder.image_buffer_layout()?;
                let len = layout.complete_len;
                if raw.len() < len.div_ceil(2) {
                    crate::pool::give(std::mem::take(&mut raw));
                    raw = crate::pool::take(len.div_ceil(2));
                }
                let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut raw);
                // Deflate strips of 8/16-bit samples decode on the fast path;
                // anything else, or any strip it cannot decode whole, the
                // tiff crate's way.
                let fast = self.fast_strips
                    && super::strips::plan(&mut self.decoder).is_some_and(|plan| {
                        plan.len() == len
                            && super::strips::decode(&plan, self.decoder.inner(), &mut bytes[..len])
                                .is_ok()
                    });
                if !fast {
                    // Zeroed as a fresh buffer would be, so a page that
                    // decodes short never shows the page before it (the
                    // fast path fills it whole or fails).
                    bytes[..len].fill(0);
                    self.decoder.seek_to_image(page)?;
                    self.decoder.read_image_bytes(&mut bytes[..len])?;
                }
                (layout.planes > 1, Some((layout.sample_type, len)))
            } else {
                let layout = self.decoder.read_image_to_buffer(&mut buf)?;
                (layout.planes > 1, None)
            };
            for (sample, r) in list {
                let (offset, stride) = if planar {
                    (sample * n_px as usize, 1)
                } else {
                    (sample, total)
                };
                use tiff::decoder::DecodingSampleType as T;
                let done = match (&mut acc, small) {
                    (Acc::F32(a), _) => max_into(&mut a[r], &buf, offset, stride),
                    (Acc::U16(a), Some((Some(T::U8), len))) => {
                        let v: &[u8] = bytemuck::cast_slice(&raw);
                        max_samples(&mut a[r], &v[..len], offset, stride, !seen[r], u16::from)
                    }
                    (Acc::U16(a), Some((Some(T::U16), len))) => {
                        max_samples(&mut a[r], &raw[..len / 2], offset, stride, !seen[r], |x| x)
                    }
                    (Acc::U16(_), other) => Err(format!(
                        "samples are {:?}, not the 8- or 16-bit unsigned integers the header declares",
                        other.and_then(|(t, _)| t)
                    )),
                };
                done.map_err(|e| LoadError::Corrupt(format!("page {page}: {e}")))?;
                seen[r] = true;
            }
        }
        crate::pool::give(raw);
        if let Acc::U16(planes) = &mut acc {
            for (plane, _) in planes.iter_mut().zip(seen).filter(|(_, s)| !s) {
                plane.fill(0);
            }
        }
        let channels: [Plane; 3] = match acc {
            Acc::U16(planes) => {
                let mut out = Vec::with_capacity(3);
                for v in planes {
                    out.push(Plane::U16(
                        U16Image::from_raw(w as u32, h as u32, v)
                            .ok_or_else(|| LoadError::Corrupt("plane size mismatch".into()))?,
                    ));
                }
                out.try_into()
                    .map_err(|_| LoadError::Corrupt("three planes".into()))?
            }
            Acc::F32(planes) => {
                let mut out = Vec::with_capacity(3);
                for v in planes {
                    let v: Vec<f32> = v
                        .into_iter()
                        .map(|x| if x.is_finite() { x } else { 0.0 })
                        .collect();
                    out.push(Plane::F32(
                        ImageBuffer::from_raw(w as u32, h as u32, v)
                            .ok_or_else(|| LoadError::Corrupt("plane size mismatch".into()))?,
                    ));
                }
                out.try_into()
                    .map_err(|_| LoadError::Corrupt("three planes".into()))?
            }
        };
        Ok(Field {
            index: i,
            width: w,
            height: h,
            depth: info.depth,
            pixel_size_um: opts.pixel_size_um.or(info.pixel_size_um),
            channel_source: source,
            channels,
        })
    }
}

/// The running z maximum of a field's three channels.
enum Acc {
    U16([Vec<u16>; 3]),
    F32([Vec<f32>; 3]),
}

/// Max-projects samples `offset, offset + stride, …` of `v`, converted by
/// `f`, into `acc`; with `first`, copies them into it instead (whatever
/// `acc` held).
fn max_samples<A: Copy + PartialOrd, T: Copy>(
    acc: &mut [A],
    v: &[T],
    offset: usize,
    stride: usize,
    first: bool,
    f: impl Fn(T) -> A,
) -> Result<(), String> {
    let need = offset + (acc.len().saturating_sub(1)) * stride + 1;
    if v.len() < need {
        return Err(format!(
            "decoded {} samples, expected at least {need}",
            v.len()
        ));
    }
    // Stored whether or not it changed: a conditional store keeps the
    // loop scalar and, on noisy slices, mispredicted (it was a quarter of
    // a z-stack batch); this one vectorises. A NaN never replaces the
    // accumulator, as before.
    let v = &v[offset..];
    if first {
        each_sample(acc, v, stride, |a, x| *a = f(x));
    } else {
        each_sample(acc, v, stride, |a, x| {
            let x = f(x);
            *a = if x > *a { x } else { *a };
        });
    }
    Ok(())
}

/// `g(a, x)` for each element of `acc` with samples `0, stride, …` of `v`;
/// contiguous samples as a plain zip, which vectorises.
fn each_sample<A, T: Copy>(acc: &mut [A], v: &[T], stride: usize, mut g: impl FnMut(&mut A, T)) {
    if stride == 1 {
        for (a, &x) in acc.iter_mut().zip(v) {
            g(a, x);
        }
    } else {
        for (a, &x) in acc.iter_mut().zip(v.iter().step_by(stride)) {
            g(a, x);
        }
    }
}

/// Max-projects samples `offset, offset+stride, …` of `buf`, whatever its
/// sample type, into the float accumulator `acc`.
fn max_into(
    acc: &mut [f32],
    buf: &DecodingResult,
    offset: usize,
    stride: usize,
) -> Result<(), String> {
    macro_rules! go {
        ($v:expr, $conv:expr) => {
            max_samples(acc, $v, offset, stride, false, $conv)?
        };
    }
    match buf {
        DecodingResult::U8(v) => go!(v, f32::from),
        DecodingResult::U16(v) => go!(v, f32::from),
        DecodingResult::U32(v) => go!(v, |x: u32| x as f32),
        DecodingResult::U64(v) => go!(v, |x: u64| x as f32),
        DecodingResult::I8(v) => go!(v, f32::from),
        DecodingResult::I16(v) => go!(v, f32::from),
        DecodingResult::I32(v) => go!(v, |x: i32| x as f32),
        DecodingResult::I64(v) => go!(v, |x: i64| x as f32),
        DecodingResult::F16(v) => go!(v, |x: half::f16| x.to_f32()),
        DecodingResult::F32(v) => go!(v, |x: f32| if x.is_nan() { 0.0 } else { x }),
        DecodingResult::F64(v) => go!(v, |x: f64| if x.is_nan() { 0.0 } else { x as f32 }),
    }
    Ok(())
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

fn plan_ome(xml: &str, pages: &[PageInfo], file_name: &str) -> Result<Vec<FieldInfo>, LoadError> {
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
                planes,
            });
        }
    }
    Ok(fields)
}

fn plan_imagej(
    ij: &super::meta::ImageJMeta,
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
            planes,
        });
    }
    Ok(fields)
}

fn plan_plain(pages: &[PageInfo], px: Option<f64>) -> Result<Vec<FieldInfo>, LoadError> {
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
    Ok(vec![FieldInfo {
        width: w0 as usize,
        height: h0 as usize,
        depth,
        n_channels,
        channel_names: vec![None; n_channels],
        pixel_size_um: px,
        planes,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::write::{self, Comp, Options, Sample};
    use crate::synth::{render, Scene};

    #[test]
    fn max_samples_keeps_the_larger_and_skips_nan() {
        // Contiguous samples.
        let mut acc = vec![3u16, 0, 7, 65535];
        max_samples(&mut acc, &[5u16, 0, 2, 1], 0, 1, false, |x| x).unwrap();
        assert_eq!(acc, [5, 0, 7, 65535]);
        // Every third sample from the second: 1, 4, 7, 10.
        let v: Vec<u8> = (0..11).map(|i| (i * 10) as u8).collect();
        let mut acc = vec![15u16, 15, 100, 0];
        max_samples(&mut acc, &v, 1, 3, false, u16::from).unwrap();
        assert_eq!(acc, [15, 40, 100, 100]);
        // The first slice replaces what the plane held (every third from
        // the first: 0, 3, 6, 9), the next is max-projected onto it.
        max_samples(&mut acc, &v, 0, 3, true, u16::from).unwrap();
        assert_eq!(acc, [0, 30, 60, 90]);
        max_samples(&mut acc, &v, 1, 3, false, u16::from).unwrap();
        assert_eq!(acc, [10, 40, 70, 100]);
        // A NaN sample leaves the accumulator as it was.
        let mut acc = vec![1f32, f32::NEG_INFINITY, 2.0];
        max_samples(&mut acc, &[f32::NAN, f32::NAN, 3.0], 0, 1, false, |x| x).unwrap();
        assert_eq!(acc[0], 1.0);
        assert_eq!(acc[1], f32::NEG_INFINITY);
        assert_eq!(acc[2], 3.0);
        // Too few samples for the plane: an error, the plane untouched.
        let mut acc = vec![9u16; 4];
        assert!(max_samples(&mut acc, &[1u16, 2, 3, 4, 5, 6], 0, 2, true, |x| x).is_err());
        assert_eq!(acc, [9; 4]);
    }

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
        // with and without the predictor, BigTIFF; LZW, PackBits and no
        // compression (not qualifying) for contrast.
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
            write::gray_pages(&name("g16"), 96, 70, &planes, Sample::U16(4095), &o).unwrap();
            write::gray_pages(&name("g8"), 96, 70, &planes, Sample::U8, &o).unwrap();
            write::color_pages(&name("rgb16"), &r, Sample::U16(65535), false, &o).unwrap();
            write::color_pages(&name("rgba16"), &r, Sample::U16(4095), true, &o).unwrap();
            write::color_pages(&name("rgb8"), &r, Sample::U8, false, &o).unwrap();
            write::color_pages(&name("rgba8"), &r, Sample::U8, true, &o).unwrap();
            for s in ["g16", "g8", "rgb16", "rgba16", "rgb8", "rgba8"] {
                let q = same_both_ways(&name(s));
                if matches!(comp, Comp::Deflate | Comp::DeflateFast | Comp::DeflatePlain) {
                    assert!(q > 0, "{s} {comp:?}");
                    written += 1;
                } else {
                    assert_eq!(q, 0, "{s} {comp:?}");
                }
            }
        }
        assert_eq!(written, 18);
    }

    /// A strip that does not inflate whole falls back to the tiff crate,
    /// which decides (here: an error, as before).
    #[test]
    fn broken_strip_falls_back() {
        let r = render(&Scene::new(64, 48, 1.0, 9));
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("rgb16.tif");
        let o = Options {
            compression: Some(Comp::Deflate),
            ..Options::default()
        };
        write::color_pages(&path, &r, Sample::U16(4095), false, &o).unwrap();
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
}

//! A fast path for the commonest confocal page: Deflate- or LZW-compressed
//! strips of 8- or 16-bit unsigned samples, little-endian and pixel-interleaved,
//! with or without the horizontal predictor. The strips are inflated
//! straight into the caller's buffer and the predictor is undone with one
//! running sum per sample channel; the result is byte for byte what the
//! tiff crate's `read_image_bytes` gives (tested), which remains the path
//! for every other page and for any page this one cannot decode whole.

use std::io::{Read, Seek, SeekFrom};

use tiff::decoder::Decoder;
use tiff::tags::ByteOrder;
use tiff::tags::Tag;

/// How the current page's strips are laid out, when it qualifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct StripPlan {
    offsets: Vec<u64>,
    counts: Vec<u64>,
    width: usize,
    height: usize,
    rows_per_strip: usize,
    /// Samples per pixel.
    samples_per_pixel: usize,
    /// Bytes per sample: 1 or 2.
    bytes_per_sample: usize,
    predictor: bool,
    compression: Compression,
}

/// The strips' compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    /// zlib streams (TIFF compression 8 or 32946).
    Deflate,
    /// TIFF's LZW (compression 5): MSB-first codes, the code size growing
    /// one code early.
    Lzw,
}

impl StripPlan {
    /// Bytes the decoded page takes.
    pub(super) fn len(&self) -> usize {
        self.width * self.height * self.samples_per_pixel * self.bytes_per_sample
    }
}

/// The current page's plan, or `None` when any of its tags asks for
/// something this path does not do (tiles, other compressions or sample
/// types, inverted photometry, bit order…).
pub(super) fn plan<R: Read + Seek>(dec: &mut Decoder<R>) -> Option<StripPlan> {
    let u16_tag = |dec: &mut Decoder<R>, t: Tag| dec.find_tag_unsigned::<u16>(t).ok();
    if dec.find_tag(Tag::TileOffsets).ok()?.is_some() {
        return None;
    }
    let compression = match u16_tag(dec, Tag::Compression)? {
        Some(8 | 32946) => Compression::Deflate,
        Some(5) => Compression::Lzw,
        _ => return None,
    };
    let predictor = match u16_tag(dec, Tag::Predictor)? {
        None | Some(1) => false,
        Some(2) => true,
        _ => return None,
    };
    if !matches!(u16_tag(dec, Tag::PlanarConfiguration)?, None | Some(1)) {
        return None;
    }
    if dec.byte_order() != ByteOrder::LittleEndian {
        return None;
    }
    if !matches!(u16_tag(dec, Tag::FillOrder)?, None | Some(1)) {
        return None;
    }
    if !matches!(u16_tag(dec, Tag::PhotometricInterpretation)?, Some(1 | 2)) {
        return None;
    }
    let formats = dec.find_tag_unsigned_vec::<u16>(Tag::SampleFormat).ok()?;
    if formats.is_some_and(|f| f.iter().any(|&f| f != 1)) {
        return None;
    }
    let samples_per_pixel = usize::from(u16_tag(dec, Tag::SamplesPerPixel)?.unwrap_or(1));
    let bits = dec
        .find_tag_unsigned_vec::<u16>(Tag::BitsPerSample)
        .ok()?
        .unwrap_or_else(|| vec![1]);
    let bytes_per_sample = match bits.first() {
        Some(&8) => 1,
        Some(&16) => 2,
        _ => return None,
    };
    if samples_per_pixel == 0 || bits.iter().any(|&b| usize::from(b) != bytes_per_sample * 8) {
        return None;
    }
    let (w, h) = dec.dimensions().ok()?;
    let (width, height) = (w as usize, h as usize);
    let rows_per_strip = dec
        .find_tag_unsigned::<u64>(Tag::RowsPerStrip)
        .ok()?
        .map_or(height, |r| usize::try_from(r).unwrap_or(usize::MAX))
        .clamp(1, height.max(1));
    let offsets = dec.find_tag_unsigned_vec::<u64>(Tag::StripOffsets).ok()??;
    let counts = dec
        .find_tag_unsigned_vec::<u64>(Tag::StripByteCounts)
        .ok()??;
    let strips = height.div_ceil(rows_per_strip);
    if offsets.len() != strips || counts.len() != strips || width == 0 || height == 0 {
        return None;
    }
    Some(StripPlan {
        offsets,
        counts,
        width,
        height,
        rows_per_strip,
        samples_per_pixel,
        bytes_per_sample,
        predictor,
        compression,
    })
}

/// Decodes the page of `plan` from `reader` into `out` (`plan.len()`
/// bytes, samples in native byte order), as the tiff crate lays it out.
/// Any strip that is not exactly a zlib stream of its rows' bytes is an
/// error: the caller then decodes the page the tiff crate's way.
pub(super) fn decode<R: Read + Seek>(
    plan: &StripPlan,
    reader: &mut R,
    out: &mut [u8],
) -> Result<(), String> {
    if out.len() != plan.len() {
        return Err("buffer size".into());
    }
    let row_bytes = plan.width * plan.samples_per_pixel * plan.bytes_per_sample;
    let lag = plan.samples_per_pixel;
    let strip_bytes = |k: usize| {
        let row0 = k * plan.rows_per_strip;
        plan.rows_per_strip.min(plan.height - row0) * row_bytes
    };
    // Every strip's size checked first: neither Deflate nor LZW (at most
    // one 12-bit code per output byte) needs much more than its output,
    // and a strip claiming more is left to the tiff crate's streaming
    // reader, not buffered. The compressed strips are read into
    // one buffer of the largest's size from the worker's pool (grown
    // strip by strip and dropped after each page, it was faulted in
    // afresh for every field).
    let mut largest = 0;
    for (k, &count) in plan.counts.iter().enumerate() {
        let fits = usize::try_from(count)
            .ok()
            .filter(|&c| c <= 2 * strip_bytes(k) + 4096)
            .ok_or_else(|| format!("strip {k} claims {count} bytes"))?;
        largest = largest.max(fits);
    }
    let mut buffer = crate::pool::take::<u8>(largest);
    let result = inflate_strips(plan, reader, out, &mut buffer, row_bytes, lag);
    crate::pool::give(buffer);
    result
}

/// [`decode`]'s loop over the strips, `buffer` holding the largest.
fn inflate_strips<R: Read + Seek>(
    plan: &StripPlan,
    reader: &mut R,
    out: &mut [u8],
    buffer: &mut [u8],
    row_bytes: usize,
    lag: usize,
) -> Result<(), String> {
    let mut inflate = flate2::Decompress::new(true);
    for (k, (&offset, &count)) in plan.offsets.iter().zip(&plan.counts).enumerate() {
        let row0 = k * plan.rows_per_strip;
        let rows = plan.rows_per_strip.min(plan.height - row0);
        let start = row0 * row_bytes;
        let dst = &mut out[start..start + rows * row_bytes];
        // (Checked against the buffer, which is the largest count.)
        let compressed = usize::try_from(count)
            .ok()
            .and_then(|c| buffer.get_mut(..c))
            .ok_or_else(|| format!("strip {k} claims {count} bytes"))?;
        reader
            .seek(SeekFrom::Start(offset))
            .and_then(|_| reader.read_exact(compressed))
            .map_err(|e| format!("strip {k}: {e}"))?;
        match plan.compression {
            Compression::Deflate => {
                inflate.reset(true);
                let status = inflate
                    .decompress(compressed, dst, flate2::FlushDecompress::Finish)
                    .map_err(|e| format!("strip {k}: {e}"))?;
                if status != flate2::Status::StreamEnd || inflate.total_out() != dst.len() as u64 {
                    return Err(format!(
                        "strip {k} does not inflate to its {} bytes",
                        dst.len()
                    ));
                }
            }
            Compression::Lzw => {
                // A strip whose codes run past its rows, or stop short, is
                // left to the tiff crate, which decides.
                super::lzw::decode(compressed, dst).map_err(|e| format!("strip {k}: {e:?}"))?;
            }
        }
        if plan.bytes_per_sample == 2 {
            // Little-endian samples; native order on little-endian machines.
            #[cfg(target_endian = "big")]
            for pair in dst.chunks_exact_mut(2) {
                pair.swap(0, 1);
            }
            if plan.predictor {
                for row in dst.chunks_exact_mut(row_bytes) {
                    let s: &mut [u16] = bytemuck::try_cast_slice_mut(row)
                        .map_err(|_| "buffer alignment".to_string())?;
                    undo_predictor(s, lag);
                }
            }
        } else if plan.predictor {
            for row in dst.chunks_exact_mut(row_bytes) {
                undo_predictor(row, lag);
            }
        }
    }
    Ok(())
}

/// Horizontal differencing undone: `s[i] += s[i - lag]` along the row,
/// wrapping. For one or three interleaved channels (gray pages, RGB) the
/// running sums stay in registers instead of being reloaded from the
/// sample just written.
fn undo_predictor<T: Copy + WrappingAdd>(s: &mut [T], lag: usize) {
    if lag == 0 || s.len() <= lag {
        return;
    }
    if lag == 1 {
        // One channel per page: the running sum stays in a register.
        let mut a = s[0];
        for v in &mut s[1..] {
            a = a.wrapping_add_(*v);
            *v = a;
        }
        return;
    }
    if lag == 3 && s.len().is_multiple_of(3) {
        // RGB-like: three channels interleaved, three sums in registers.
        let (mut a, mut b, mut c) = (s[0], s[1], s[2]);
        for px in s[3..].chunks_exact_mut(3) {
            a = a.wrapping_add_(px[0]);
            b = b.wrapping_add_(px[1]);
            c = c.wrapping_add_(px[2]);
            px[0] = a;
            px[1] = b;
            px[2] = c;
        }
        return;
    }
    for i in lag..s.len() {
        s[i] = s[i].wrapping_add_(s[i - lag]);
    }
}

trait WrappingAdd {
    fn wrapping_add_(self, o: Self) -> Self;
}

impl WrappingAdd for u8 {
    fn wrapping_add_(self, o: u8) -> u8 {
        self.wrapping_add(o)
    }
}

impl WrappingAdd for u16 {
    fn wrapping_add_(self, o: u16) -> u16 {
        self.wrapping_add(o)
    }
}

//! A window of one page read chunk by chunk (its strips or tiles): only
//! the chunks the window touches are decoded, each by the tiff crate's
//! `read_chunk` (every compression and predictor it reads), and their
//! samples that fall in the window copied out. A plane far larger than
//! memory is read a window at a time; a strip-organised plane in row
//! bands.

use std::io::{Read, Seek};

use tiff::decoder::{ChunkType, Decoder, DecodingResult};
use tiff::tags::PlanarConfiguration;

use crate::error::LoadError;

/// A rectangle of a page, px: top-left (`x0`, `y0`), `w` × `h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub w: usize,
    pub h: usize,
}

/// Most bytes one chunk may decode to when read for a window: a strip
/// holding a whole giant plane would be the plane again.
const MAX_CHUNK_BYTES: usize = 256 << 20;

/// Reads `rect` of the current page (of `width` × `height` px, `samples`
/// samples per pixel of `bytes` bytes each, 8- or 16-bit unsigned) into
/// `out` as the page would decode whole, cut to the window: interleaved
/// samples (chunky) or one window-sized plane per sample (planar), in
/// native byte order. Returns whether the page is planar.
pub(super) fn read_window<R: Read + Seek>(
    dec: &mut Decoder<R>,
    (width, height): (usize, usize),
    (samples, bytes): (usize, usize),
    rect: Rect,
    out: &mut [u8],
) -> Result<bool, LoadError> {
    let planar = matches!(dec.image_buffer_layout(), Ok(l) if l.planes > 1)
        || dec
            .find_tag_unsigned::<u16>(tiff::tags::Tag::PlanarConfiguration)
            .ok()
            .flatten()
            == Some(PlanarConfiguration::Planar.to_u16());
    let (cw, ch) = dec.chunk_dimensions();
    let (cw, ch) = match dec.get_chunk_type() {
        ChunkType::Strip => (width, (ch as usize).clamp(1, height.max(1))),
        ChunkType::Tile => (cw as usize, ch as usize),
    };
    if cw == 0 || ch == 0 {
        return Err(LoadError::Corrupt("chunks of zero size".into()));
    }
    let (across, down) = (width.div_ceil(cw), height.div_ceil(ch));
    let per_pixel = if planar { bytes } else { samples * bytes };
    if cw.saturating_mul(ch).saturating_mul(per_pixel) > MAX_CHUNK_BYTES {
        return Err(LoadError::Limit(format!(
            "its strips or tiles are {cw}×{ch} px, too large to read a part at a time; \
             save it tiled (e.g. 512×512 tiles)"
        )));
    }
    let planes = if planar { samples } else { 1 };
    let plane_len = rect.w * rect.h * per_pixel;
    if out.len() < plane_len * planes {
        return Err(LoadError::Corrupt("window buffer too small".into()));
    }
    let (tx0, tx1) = (rect.x0 / cw, (rect.x0 + rect.w).div_ceil(cw).min(across));
    let (ty0, ty1) = (rect.y0 / ch, (rect.y0 + rect.h).div_ceil(ch).min(down));
    for plane in 0..planes {
        for ty in ty0..ty1 {
            for tx in tx0..tx1 {
                let index = plane * across * down + ty * across + tx;
                let chunk = dec.read_chunk(u32::try_from(index).map_err(|_| {
                    LoadError::Corrupt(format!("chunk {index} is past the last one"))
                })?)?;
                let data: &[u8] = match &chunk {
                    DecodingResult::U8(v) => v,
                    DecodingResult::U16(v) => bytemuck::cast_slice(v),
                    _ => {
                        return Err(LoadError::Unsupported(
                            "samples other than 8/16-bit unsigned in a window".into(),
                        ))
                    }
                };
                // The chunk's data (edge chunks are cut to the page).
                let (cx0, cy0) = (tx * cw, ty * ch);
                let dw = cw.min(width - cx0);
                let dh = ch.min(height - cy0);
                let (x0, x1) = (rect.x0.max(cx0), (rect.x0 + rect.w).min(cx0 + dw));
                let (y0, y1) = (rect.y0.max(cy0), (rect.y0 + rect.h).min(cy0 + dh));
                let run = (x1.saturating_sub(x0)) * per_pixel;
                for y in y0..y1 {
                    let src = ((y - cy0) * dw + (x0 - cx0)) * per_pixel;
                    let dst =
                        plane * plane_len + ((y - rect.y0) * rect.w + (x0 - rect.x0)) * per_pixel;
                    let piece = data.get(src..src + run).ok_or_else(|| {
                        LoadError::Corrupt(format!(
                            "chunk {index} holds fewer samples than its size"
                        ))
                    })?;
                    out[dst..dst + run].copy_from_slice(piece);
                }
            }
        }
    }
    Ok(planar)
}

//! Writes a stitched mosaic as microscope and stitching software save
//! one: a tiled, pyramidal OME-TIFF in BigTIFF form (one 16-bit page per
//! channel, square tiles, each page's reduced resolutions — 2×, 4×, … —
//! in its SubIFDs, as Bio-Formats and tifffile write them; OME-TIFF
//! specification, "Sub-resolutions", 2016). The tiff crate writes strips
//! only, so the file is laid out here: tiles, then each page's reduced
//! levels and their IFDs, then the page's own IFD, chained.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

/// How to write the mosaic.
#[derive(Clone, Debug)]
pub struct TiledOptions {
    /// Tile side, px (a multiple of 16, as TIFF requires).
    pub tile: usize,
    /// Reduced resolutions per page, in SubIFDs (0: none).
    pub levels: usize,
    /// Deflate each tile (else stored).
    pub deflate: bool,
    /// µm per pixel, written as OME PhysicalSizeX/Y.
    pub pixel_size_um: f64,
    /// Channel names, in file order.
    pub names: Vec<String>,
}

/// One IFD entry: tag, TIFF type, count, and the value's bytes.
struct Entry {
    tag: u16,
    kind: u16,
    count: u64,
    bytes: Vec<u8>,
}

impl Entry {
    fn short(tag: u16, v: u16) -> Entry {
        Entry {
            tag,
            kind: 3,
            count: 1,
            bytes: v.to_le_bytes().to_vec(),
        }
    }
    fn long8s(tag: u16, kind: u16, v: &[u64]) -> Entry {
        Entry {
            tag,
            kind,
            count: v.len() as u64,
            bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// Writes `planes` (each `w` × `h`, row-major, one per channel) to `path`.
pub fn tiled_ome_tiff(
    path: &Path,
    planes: &[&[u16]],
    (w, h): (usize, usize),
    o: &TiledOptions,
) -> std::io::Result<()> {
    let mut f = BufWriter::new(File::create(path)?);
    // BigTIFF header; the first IFD's offset is patched in later.
    f.write_all(b"II")?;
    f.write_all(&43u16.to_le_bytes())?;
    f.write_all(&8u16.to_le_bytes())?;
    f.write_all(&0u16.to_le_bytes())?;
    let mut link = f.stream_position()?;
    f.write_all(&0u64.to_le_bytes())?;
    let xml = ome_xml(path, (w, h), planes.len(), o);
    for (c, plane) in planes.iter().enumerate() {
        // The page's reduced levels first, each with its IFD.
        let mut sub_ifds = Vec::new();
        let mut level: Vec<u16> = plane.to_vec();
        let (mut lw, mut lh) = (w, h);
        for _ in 0..o.levels {
            (level, lw, lh) = halve(&level, lw, lh);
            if lw < 1 || lh < 1 {
                break;
            }
            let tiles = write_tiles(&mut f, &level, lw, lh, o)?;
            let entries = page_entries((lw, lh), &tiles, o, true, None, &[]);
            sub_ifds.push(write_ifd(&mut f, entries)?.0);
        }
        let tiles = write_tiles(&mut f, plane, w, h, o)?;
        let description = (c == 0).then_some(xml.as_str());
        let entries = page_entries((w, h), &tiles, o, false, description, &sub_ifds);
        let (at, next) = write_ifd(&mut f, entries)?;
        // Chain: the previous link points here.
        let end = f.stream_position()?;
        f.seek(SeekFrom::Start(link))?;
        f.write_all(&at.to_le_bytes())?;
        f.seek(SeekFrom::Start(end))?;
        link = next;
    }
    f.flush()
}

/// The tags of one page (or reduced level).
fn page_entries(
    (w, h): (usize, usize),
    tiles: &[(u64, u64)],
    o: &TiledOptions,
    reduced: bool,
    description: Option<&str>,
    sub_ifds: &[u64],
) -> Vec<Entry> {
    let mut e = vec![
        Entry::short(254, u16::from(reduced)),
        Entry::long8s(256, 16, &[w as u64]),
        Entry::long8s(257, 16, &[h as u64]),
        Entry::short(258, 16),
        Entry::short(259, if o.deflate { 8 } else { 1 }),
        Entry::short(262, 1),
    ];
    if let Some(d) = description {
        let mut bytes = d.as_bytes().to_vec();
        bytes.push(0);
        e.push(Entry {
            tag: 270,
            kind: 2,
            count: bytes.len() as u64,
            bytes,
        });
    }
    e.extend([
        Entry::short(277, 1),
        Entry::short(284, 1),
        Entry::short(322, o.tile as u16),
        Entry::short(323, o.tile as u16),
        Entry::long8s(324, 16, &tiles.iter().map(|t| t.0).collect::<Vec<_>>()),
        Entry::long8s(325, 16, &tiles.iter().map(|t| t.1).collect::<Vec<_>>()),
    ]);
    if !sub_ifds.is_empty() {
        e.push(Entry::long8s(330, 18, sub_ifds));
    }
    e.push(Entry::short(339, 1));
    e
}

/// Writes an IFD (values over 8 bytes first, then the entries); returns
/// its offset and the offset of its next-IFD link (left 0).
fn write_ifd(f: &mut BufWriter<File>, entries: Vec<Entry>) -> std::io::Result<(u64, u64)> {
    let mut placed = Vec::new();
    for e in &entries {
        if e.bytes.len() > 8 {
            let at = f.stream_position()?;
            f.write_all(&e.bytes)?;
            if f.stream_position()? % 2 == 1 {
                f.write_all(&[0])?;
            }
            placed.push(Some(at));
        } else {
            placed.push(None);
        }
    }
    let at = f.stream_position()?;
    f.write_all(&(entries.len() as u64).to_le_bytes())?;
    for (e, placed) in entries.iter().zip(placed) {
        f.write_all(&e.tag.to_le_bytes())?;
        f.write_all(&e.kind.to_le_bytes())?;
        f.write_all(&e.count.to_le_bytes())?;
        match placed {
            Some(offset) => f.write_all(&offset.to_le_bytes())?,
            None => {
                let mut v = [0u8; 8];
                v[..e.bytes.len()].copy_from_slice(&e.bytes);
                f.write_all(&v)?;
            }
        }
    }
    let next = f.stream_position()?;
    f.write_all(&0u64.to_le_bytes())?;
    Ok((at, next))
}

/// Writes the tiles of a `w` × `h` plane, row of tiles by row, edge tiles
/// padded with zeros; their (offset, byte count).
fn write_tiles(
    f: &mut BufWriter<File>,
    plane: &[u16],
    w: usize,
    h: usize,
    o: &TiledOptions,
) -> std::io::Result<Vec<(u64, u64)>> {
    let t = o.tile;
    let mut out = Vec::new();
    let mut tile = vec![0u8; t * t * 2];
    for ty in 0..h.div_ceil(t) {
        for tx in 0..w.div_ceil(t) {
            tile.fill(0);
            for y in 0..t.min(h - ty * t) {
                let row = (ty * t + y) * w + tx * t;
                for x in 0..t.min(w - tx * t) {
                    let v = plane[row + x].to_le_bytes();
                    tile[(y * t + x) * 2..(y * t + x) * 2 + 2].copy_from_slice(&v);
                }
            }
            let at = f.stream_position()?;
            if o.deflate {
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                z.write_all(&tile)?;
                let bytes = z.finish()?;
                f.write_all(&bytes)?;
                out.push((at, bytes.len() as u64));
            } else {
                f.write_all(&tile)?;
                out.push((at, tile.len() as u64));
            }
        }
    }
    Ok(out)
}

/// The plane at half the resolution (means of 2 × 2 pixels).
fn halve(plane: &[u16], w: usize, h: usize) -> (Vec<u16>, usize, usize) {
    let (hw, hh) = (w / 2, h / 2);
    let mut out = vec![0u16; hw * hh];
    for y in 0..hh {
        for x in 0..hw {
            let s: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                .iter()
                .map(|&(dx, dy)| u32::from(plane[(2 * y + dy) * w + 2 * x + dx]))
                .sum();
            out[y * hw + x] = (s / 4) as u16;
        }
    }
    (out, hw, hh)
}

/// The OME-XML of the mosaic: one image, XYCZT, one IFD per channel.
fn ome_xml(path: &Path, (w, h): (usize, usize), channels: usize, o: &TiledOptions) -> String {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let px = o.pixel_size_um;
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\" \
         Creator=\"follicount synth\">\n  <Image ID=\"Image:0\" Name=\"mosaic\">\n    <Pixels ID=\"Pixels:0\" \
         DimensionOrder=\"XYCZT\" Type=\"uint16\" SizeX=\"{w}\" SizeY=\"{h}\" SizeC=\"{channels}\" SizeZ=\"1\" \
         SizeT=\"1\" PhysicalSizeX=\"{px}\" PhysicalSizeXUnit=\"&#181;m\" PhysicalSizeY=\"{px}\" \
         PhysicalSizeYUnit=\"&#181;m\">\n"
    );
    for (c, name) in o.names.iter().enumerate().take(channels) {
        xml.push_str(&format!(
            "      <Channel ID=\"Channel:0:{c}\" Name=\"{name}\" SamplesPerPixel=\"1\"/>\n"
        ));
    }
    xml.push_str(&format!(
        "      <TiffData IFD=\"0\" PlaneCount=\"{channels}\"><UUID FileName=\"{file_name}\">urn:uuid:00000000-0000-0000-0000-000000000000</UUID></TiffData>\n    </Pixels>\n  </Image>\n</OME>\n"
    ));
    xml
}

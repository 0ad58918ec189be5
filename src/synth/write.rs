//! Writes rendered scenes in the TIFF layouts follicount reads: ImageJ
//! hyperstacks, OME-TIFF, plain multi-page, RGB/RGBA, BigTIFF; 8/16/32-bit
//! integer and 32-bit float; uncompressed, LZW, Deflate, PackBits.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use tiff::encoder::colortype::{self, ColorType};
use tiff::encoder::{
    Compression, DeflateLevel, Rational, TiffEncoder, TiffKind, TiffKindBig, TiffKindStandard,
    TiffValue,
};
use tiff::tags::{Predictor, ResolutionUnit, Tag};

use super::Rendered;

/// Result of the writers.
pub type WriteResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Strip compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    /// No compression.
    None,
    /// LZW with horizontal predictor.
    Lzw,
    /// Deflate (zlib, best compression) with horizontal predictor.
    Deflate,
    /// Deflate at the fastest level, with horizontal predictor.
    DeflateFast,
    /// Deflate without a predictor.
    DeflatePlain,
    /// PackBits.
    PackBits,
}

/// Sample type of the written planes; intensities 0..1 are scaled to the
/// given full-scale value (floats are written as `value * scale`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SampleType {
    /// 8-bit unsigned, full scale 255.
    U8,
    /// 16-bit unsigned with this full-scale value (4095 for 12-bit data).
    U16(u16),
    /// 32-bit unsigned with this full-scale value.
    U32(u32),
    /// 32-bit float with this scale.
    F32(f32),
}

/// File-level options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Strip compression.
    pub compression: Option<Comp>,
    /// Write BigTIFF.
    pub bigtiff: bool,
    /// ImageDescription of the first page.
    pub description: Option<String>,
    /// Resolution: unit and pixels per unit.
    pub resolution: Option<(ResolutionUnit, f64)>,
    /// ImageJ slice labels (binary IJMetadata tags on the first page).
    pub imagej_labels: Option<Vec<String>>,
}

fn rational(v: f64) -> Rational {
    let d: u32 = if v < 4000.0 { 1_000_000 } else { 1000 };
    Rational {
        n: (v * f64::from(d)).round() as u32,
        d,
    }
}

fn encode<C, K>(
    mut enc: TiffEncoder<BufWriter<File>, K>,
    w: u32,
    h: u32,
    pages: &[Vec<C::Inner>],
    o: &Options,
) -> WriteResult
where
    C: ColorType,
    [C::Inner]: TiffValue,
    K: TiffKind,
{
    for (i, p) in pages.iter().enumerate() {
        let mut img = enc.new_image::<C>(w, h)?;
        if i == 0 {
            if let Some(d) = &o.description {
                img.encoder().write_tag(Tag::ImageDescription, d.as_str())?;
            }
            if let Some(labels) = &o.imagej_labels {
                let (counts, data) = crate::io::meta::build_ij_labels(labels);
                let e = img.encoder();
                e.write_tag(
                    Tag::Unknown(crate::io::meta::IJ_METADATA_BYTE_COUNTS),
                    &counts[..],
                )?;
                e.write_tag(Tag::Unknown(crate::io::meta::IJ_METADATA), &data[..])?;
            }
        }
        if let Some((unit, v)) = o.resolution {
            img.resolution(unit, rational(v));
        }
        img.write_data(p)?;
    }
    Ok(())
}

fn encoder<K: TiffKind>(
    path: &Path,
    o: &Options,
    float: bool,
) -> Result<TiffEncoder<BufWriter<File>, K>, Box<dyn std::error::Error + Send + Sync>> {
    let (c, p) = match o.compression.unwrap_or(Comp::None) {
        Comp::None => (Compression::Uncompressed, Predictor::None),
        Comp::Lzw => (Compression::Lzw, Predictor::Horizontal),
        Comp::Deflate => (
            Compression::Deflate(DeflateLevel::Best),
            Predictor::Horizontal,
        ),
        Comp::DeflateFast => (
            Compression::Deflate(DeflateLevel::Fast),
            Predictor::Horizontal,
        ),
        Comp::DeflatePlain => (
            Compression::Deflate(DeflateLevel::Balanced),
            Predictor::None,
        ),
        Comp::PackBits => (Compression::Packbits, Predictor::None),
    };
    let p = if float { Predictor::None } else { p };
    Ok(
        TiffEncoder::new_generic(BufWriter::new(File::create(path)?))?
            .with_compression(c)
            .with_predictor(p),
    )
}

fn dispatch<C>(
    path: &Path,
    w: usize,
    h: usize,
    pages: &[Vec<C::Inner>],
    o: &Options,
    float: bool,
) -> WriteResult
where
    C: ColorType,
    [C::Inner]: TiffValue,
{
    let (w, h) = (w as u32, h as u32);
    if o.bigtiff {
        encode::<C, TiffKindBig>(encoder(path, o, float)?, w, h, pages, o)
    } else {
        encode::<C, TiffKindStandard>(encoder(path, o, float)?, w, h, pages, o)
    }
}

/// Writes grayscale pages, one per plane, in the given order.
pub fn gray_pages(
    path: &Path,
    w: usize,
    h: usize,
    planes: &[&[f32]],
    sample: SampleType,
    o: &Options,
) -> WriteResult {
    match sample {
        SampleType::U8 => {
            let pages: Vec<Vec<u8>> = planes.iter().map(|p| super::quantize_u8(p)).collect();
            dispatch::<colortype::Gray8>(path, w, h, &pages, o, false)
        }
        SampleType::U16(max) => {
            let pages: Vec<Vec<u16>> = planes.iter().map(|p| super::quantize_u16(p, max)).collect();
            dispatch::<colortype::Gray16>(path, w, h, &pages, o, false)
        }
        SampleType::U32(max) => {
            let pages: Vec<Vec<u32>> = planes
                .iter()
                .map(|p| {
                    p.iter()
                        .map(|&v| (f64::from(v) * f64::from(max)).round() as u32)
                        .collect()
                })
                .collect();
            dispatch::<colortype::Gray32>(path, w, h, &pages, o, false)
        }
        SampleType::F32(scale) => {
            let pages: Vec<Vec<f32>> = planes
                .iter()
                .map(|p| p.iter().map(|&v| v * scale).collect())
                .collect();
            dispatch::<colortype::Gray32Float>(path, w, h, &pages, o, true)
        }
    }
}

/// Plain multi-page: one grey page per channel (P-cad, Sox9, DAPI) and z
/// slice, no metadata unless `o` adds some.
pub fn plain_pages(path: &Path, r: &Rendered, sample: SampleType, o: &Options) -> WriteResult {
    gray_pages(
        path,
        r.width,
        r.height,
        &planes_czt(r, [0, 1, 2]),
        sample,
        o,
    )
}

/// Writes one interleaved colour page per z slice: R = P-cadherin,
/// G = Sox9, B = DAPI, plus an opaque alpha when `alpha`. 8 or 16 bit.
pub fn color_pages(
    path: &Path,
    r: &Rendered,
    sample: SampleType,
    alpha: bool,
    o: &Options,
) -> WriteResult {
    let n = r.width * r.height;
    let k = if alpha { 4 } else { 3 };
    // Interleaved pages at full scale `full`, alpha opaque.
    let pages = |full: f32| -> Vec<Vec<f32>> {
        r.slices
            .iter()
            .map(|s| {
                let mut out = vec![full; n * k];
                for i in 0..n {
                    for c in 0..3 {
                        out[i * k + c] = (s[c][i] * full).round();
                    }
                }
                out
            })
            .collect()
    };
    let (w, h) = (r.width, r.height);
    match sample {
        SampleType::U8 => {
            let p: Vec<Vec<u8>> = pages(255.0)
                .into_iter()
                .map(|v| v.into_iter().map(|x| x as u8).collect())
                .collect();
            if alpha {
                dispatch::<colortype::RGBA8>(path, w, h, &p, o, false)
            } else {
                dispatch::<colortype::RGB8>(path, w, h, &p, o, false)
            }
        }
        SampleType::U16(max) => {
            let p: Vec<Vec<u16>> = pages(f32::from(max))
                .into_iter()
                .map(|v| v.into_iter().map(|x| x as u16).collect())
                .collect();
            if alpha {
                dispatch::<colortype::RGBA16>(path, w, h, &p, o, false)
            } else {
                dispatch::<colortype::RGB16>(path, w, h, &p, o, false)
            }
        }
        _ => Err("colour pages are 8 or 16 bit".into()),
    }
}

/// Planes of a rendered scene, z outer and channel inner (ImageJ's czt
/// order and OME's XYCZT), with channels permuted by `order` (file channel
/// i holds role `order[i]`).
pub fn planes_czt(r: &Rendered, order: [usize; 3]) -> Vec<&[f32]> {
    r.slices
        .iter()
        .flat_map(|s| order.iter().map(move |&c| s[c].as_slice()))
        .collect()
}

/// An ImageJ hyperstack (`CYX`, or `ZCYX` when the scene has z slices)
/// with the pixel size in the ImageJ way (pixels per micron, unit=micron).
pub fn imagej_hyperstack(path: &Path, r: &Rendered, sample: SampleType, comp: Comp) -> WriteResult {
    let depth = r.slices.len();
    let mut desc = format!("ImageJ=1.54f\nimages={}\nchannels=3\n", 3 * depth);
    if depth > 1 {
        desc.push_str(&format!("slices={depth}\n"));
    }
    if let Some(dz) = r.z_step_um {
        desc.push_str(&format!("spacing={dz}\n"));
    }
    desc.push_str("hyperstack=true\nmode=composite\nunit=micron\nloop=false\n");
    let o = Options {
        compression: Some(comp),
        description: Some(desc),
        resolution: Some((ResolutionUnit::None, 1.0 / r.pixel_size_um)),
        ..Options::default()
    };
    gray_pages(
        path,
        r.width,
        r.height,
        &planes_czt(r, [0, 1, 2]),
        sample,
        &o,
    )
}

/// One OME image: a rendered scene, its channel order and names.
pub struct OmeSeries<'a> {
    /// The scene.
    pub scene: &'a Rendered,
    /// File channel i holds role `order[i]` (0 = P-cad, 1 = Sox9, 2 = DAPI).
    pub order: [usize; 3],
    /// Channel names written in the OME-XML, in file order.
    pub names: [&'a str; 3],
}

/// An OME-TIFF holding one or more images (series), 16-bit, XYCZT.
pub fn ome_tiff(path: &Path, series: &[OmeSeries<'_>], max: u16, comp: Comp) -> WriteResult {
    let (w, h) = (series[0].scene.width, series[0].scene.height);
    if series
        .iter()
        .any(|s| (s.scene.width, s.scene.height) != (w, h))
    {
        return Err("all OME series must share one size in this writer".into());
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" Creator=\"follicount synth\">\n",
    );
    let mut planes: Vec<&[f32]> = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let depth = s.scene.slices.len();
        let px = s.scene.pixel_size_um;
        let z = s
            .scene
            .z_step_um
            .map(|dz| format!(" PhysicalSizeZ=\"{dz}\" PhysicalSizeZUnit=\"&#181;m\""))
            .unwrap_or_default();
        xml.push_str(&format!(
            "  <Image ID=\"Image:{i}\" Name=\"field {i}\">\n    <Pixels ID=\"Pixels:{i}\" DimensionOrder=\"XYCZT\" \
             Type=\"uint16\" SizeX=\"{w}\" SizeY=\"{h}\" SizeC=\"3\" SizeZ=\"{depth}\" SizeT=\"1\" \
             PhysicalSizeX=\"{px}\" PhysicalSizeXUnit=\"&#181;m\" PhysicalSizeY=\"{px}\" PhysicalSizeYUnit=\"&#181;m\"{z}>\n"
        ));
        for (c, name) in s.names.iter().enumerate() {
            xml.push_str(&format!(
                "      <Channel ID=\"Channel:{i}:{c}\" Name=\"{name}\" SamplesPerPixel=\"1\"/>\n"
            ));
        }
        xml.push_str(&format!(
            "      <TiffData IFD=\"{}\" PlaneCount=\"{}\"><UUID FileName=\"{file_name}\">urn:uuid:00000000-0000-0000-0000-00000000000{i}</UUID></TiffData>\n    </Pixels>\n  </Image>\n",
            planes.len(),
            3 * depth
        ));
        planes.extend(planes_czt(s.scene, s.order));
    }
    xml.push_str("</OME>\n");
    let o = Options {
        compression: Some(comp),
        description: Some(xml),
        ..Options::default()
    };
    gray_pages(path, w, h, &planes, SampleType::U16(max), &o)
}

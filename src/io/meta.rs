//! Parsers for the metadata real exports carry: the ImageJ description
//! string of hyperstacks and the OME-XML of OME-TIFF.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};

use crate::error::LoadError;

/// Largest count of channels, slices or frames metadata may declare.
const MAX_AXIS: usize = 100_000;

/// The parts of an ImageJ `ImageDescription` follicount uses.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageJMeta {
    /// `images=`: the number of planes the stack holds.
    pub images: Option<usize>,
    /// `channels=` (1 when absent).
    pub channels: usize,
    /// `slices=` (z planes, 1 when absent).
    pub slices: usize,
    /// `frames=` (time points, 1 when absent).
    pub frames: usize,
    /// µm per calibration unit from `unit=`, when the unit is a length.
    pub unit_um: Option<f64>,
    /// `spacing=`: the z step in calibration units (ImageJ writes it for
    /// stacks with a known voxel depth).
    pub spacing: Option<f64>,
}

impl ImageJMeta {
    /// The z step in µm: `spacing=` in the calibration `unit=`.
    pub fn z_step_um(&self) -> Option<f64> {
        self.spacing.zip(self.unit_um).map(|(s, u)| s * u)
    }
}

/// Parses an ImageJ description; `Ok(None)` when the text is not one.
pub fn parse_imagej(desc: &str) -> Result<Option<ImageJMeta>, LoadError> {
    if !desc.trim_start().starts_with("ImageJ=") {
        return Ok(None);
    }
    let kv: HashMap<&str, &str> = desc
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let count = |key: &str| -> Result<Option<usize>, LoadError> {
        match kv.get(key) {
            None => Ok(None),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_AXIS).contains(&n) => Ok(Some(n)),
                _ => Err(LoadError::Metadata(format!(
                    "ImageJ description has {key}={v}, expected 1..{MAX_AXIS}"
                ))),
            },
        }
    };
    Ok(Some(ImageJMeta {
        images: count("images")?,
        channels: count("channels")?.unwrap_or(1),
        slices: count("slices")?.unwrap_or(1),
        frames: count("frames")?.unwrap_or(1),
        unit_um: kv.get("unit").and_then(|u| unit_to_um(u)),
        spacing: kv
            .get("spacing")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0),
    }))
}

/// µm per one of `unit`, for the spellings microscopes and ImageJ write.
pub fn unit_to_um(unit: &str) -> Option<f64> {
    let u = unit.trim().trim_matches('"');
    match u {
        "micron" | "microns" | "um" | "µm" | "μm" | "\\u00B5m" | "\\u00b5m" | "micrometer"
        | "micrometre" => Some(1.0),
        "nm" | "nanometer" | "nanometre" => Some(1e-3),
        "mm" | "millimeter" | "millimetre" => Some(1e3),
        "cm" | "centimeter" | "centimetre" => Some(1e4),
        "m" | "meter" | "metre" => Some(1e6),
        _ => None,
    }
}

/// One `<TiffData>` block: which IFDs hold which planes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TiffData {
    /// First IFD (0 when absent).
    pub ifd: usize,
    /// Number of consecutive planes; `None` when not given.
    pub plane_count: Option<usize>,
    /// First channel, z and time index of the block.
    pub first: [usize; 3],
    /// Whether any of IFD/FirstC/FirstZ/FirstT was given.
    pub any_attr: bool,
    /// `UUID FileName=`, for datasets spread over several files.
    pub file_name: Option<String>,
}

/// One OME `<Image>` with its `<Pixels>`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OmeImage {
    /// SizeX, SizeY.
    pub size_x: usize,
    /// SizeY.
    pub size_y: usize,
    /// SizeC (channels, counting every sample of an RGB plane).
    pub size_c: usize,
    /// SizeZ.
    pub size_z: usize,
    /// SizeT.
    pub size_t: usize,
    /// DimensionOrder, e.g. `XYCZT`.
    pub dimension_order: String,
    /// Channel names in channel order (`None` where a channel has none).
    pub channel_names: Vec<Option<String>>,
    /// PhysicalSizeX converted to µm.
    pub physical_size_x_um: Option<f64>,
    /// PhysicalSizeZ (the z step) converted to µm.
    pub physical_size_z_um: Option<f64>,
    /// The TiffData blocks, in document order.
    pub tiff_data: Vec<TiffData>,
}

impl OmeImage {
    /// Index of plane (c, z, t) in this image's plane order, with `size_c`
    /// channel planes per (z, t) — fewer than SizeC when planes are RGB.
    pub fn plane_index(&self, c: usize, z: usize, t: usize, planes_c: usize) -> usize {
        let mut idx: usize = 0;
        let mut stride: usize = 1;
        for axis in self.dimension_order.chars().skip(2) {
            let (coord, size) = match axis {
                'C' => (c, planes_c),
                'Z' => (z, self.size_z),
                _ => (t, self.size_t),
            };
            // Saturating: hostile First*/Size* values must not overflow.
            idx = idx.saturating_add(coord.saturating_mul(stride));
            stride = stride.saturating_mul(size);
        }
        idx
    }
}

/// `PhysicalSize{axis}` of a `Pixels` element in µm, with its unit
/// (µm when absent); `None` when missing, not a length, or not positive.
fn physical_size(a: &HashMap<String, String>, axis: &str) -> Option<f64> {
    let v = a.get(&format!("PhysicalSize{axis}"))?;
    let unit = a
        .get(&format!("PhysicalSize{axis}Unit"))
        .map(String::as_str)
        .unwrap_or("µm");
    v.trim()
        .parse::<f64>()
        .ok()
        .zip(unit_to_um(unit))
        .map(|(v, f)| v * f)
        .filter(|v| v.is_finite() && *v > 0.0)
}

fn attrs(e: &BytesStart<'_>) -> Result<HashMap<String, String>, LoadError> {
    let mut out = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(|err| LoadError::Metadata(format!("OME-XML attribute: {err}")))?;
        let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|err| LoadError::Metadata(format!("OME-XML attribute {key}: {err}")))?;
        out.insert(key, value.into_owned());
    }
    Ok(out)
}

fn get_count(
    a: &HashMap<String, String>,
    key: &str,
    default: Option<usize>,
) -> Result<usize, LoadError> {
    match a.get(key) {
        None => default.ok_or_else(|| LoadError::Metadata(format!("OME Pixels lacks {key}"))),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n <= 1 << 31 => Ok(n),
            _ => Err(LoadError::Metadata(format!(
                "OME {key}=\"{v}\" is not a count"
            ))),
        },
    }
}

/// Parses the OME-XML of an OME-TIFF into its images.
pub fn parse_ome(xml: &str) -> Result<Vec<OmeImage>, LoadError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut images: Vec<OmeImage> = Vec::new();
    let mut in_tiffdata = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| LoadError::Metadata(format!("OME-XML is not well formed: {e}")))?;
        let (e, is_empty) = match &ev {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                if e.local_name().as_ref() == b"TiffData" {
                    in_tiffdata = false;
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        match e.local_name().as_ref() {
            b"Image" => images.push(OmeImage::default()),
            b"Pixels" => {
                let a = attrs(e)?;
                let img = images
                    .last_mut()
                    .ok_or_else(|| LoadError::Metadata("OME Pixels outside an Image".into()))?;
                img.size_x = get_count(&a, "SizeX", None)?;
                img.size_y = get_count(&a, "SizeY", None)?;
                img.size_c = get_count(&a, "SizeC", Some(1))?.max(1);
                img.size_z = get_count(&a, "SizeZ", Some(1))?.max(1);
                img.size_t = get_count(&a, "SizeT", Some(1))?.max(1);
                for (n, axis) in [
                    (img.size_c, "SizeC"),
                    (img.size_z, "SizeZ"),
                    (img.size_t, "SizeT"),
                ] {
                    if n > MAX_AXIS {
                        return Err(LoadError::Metadata(format!("OME {axis}={n} is absurd")));
                    }
                }
                let order = a
                    .get("DimensionOrder")
                    .map(String::as_str)
                    .unwrap_or("XYCZT");
                let valid = order.len() == 5
                    && order.starts_with("XY")
                    && ['C', 'Z', 'T'].iter().all(|c| order[2..].contains(*c));
                if !valid {
                    return Err(LoadError::Metadata(format!(
                        "OME DimensionOrder=\"{order}\" is not one of XY + a permutation of CZT"
                    )));
                }
                img.dimension_order = order.to_string();
                img.physical_size_x_um = physical_size(&a, "X");
                img.physical_size_z_um = physical_size(&a, "Z");
            }
            b"Channel" => {
                let a = attrs(e)?;
                if let Some(img) = images.last_mut() {
                    img.channel_names.push(a.get("Name").cloned());
                }
            }
            b"TiffData" => {
                let a = attrs(e)?;
                let mut td = TiffData {
                    ifd: get_count(&a, "IFD", Some(0))?,
                    plane_count: a
                        .get("PlaneCount")
                        .map(|_| get_count(&a, "PlaneCount", None))
                        .transpose()?,
                    ..TiffData::default()
                };
                for (i, key) in ["FirstC", "FirstZ", "FirstT"].iter().enumerate() {
                    td.first[i] = get_count(&a, key, Some(0))?;
                }
                td.any_attr = ["IFD", "FirstC", "FirstZ", "FirstT"]
                    .iter()
                    .any(|k| a.contains_key(*k));
                if let Some(img) = images.last_mut() {
                    img.tiff_data.push(td);
                }
                in_tiffdata = !is_empty;
            }
            b"UUID" if in_tiffdata => {
                let a = attrs(e)?;
                if let Some(td) = images.last_mut().and_then(|i| i.tiff_data.last_mut()) {
                    td.file_name = a.get("FileName").cloned();
                }
            }
            _ => {}
        }
    }
    images.retain(|i| i.size_x > 0 && i.size_y > 0);
    if images.is_empty() {
        return Err(LoadError::Metadata("OME-XML describes no image".into()));
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagej_hyperstack_description() {
        let d = "ImageJ=1.54f\nimages=24\nchannels=3\nslices=8\nhyperstack=true\nmode=composite\nunit=micron\nloop=false\n";
        let m = parse_imagej(d).unwrap().unwrap();
        assert_eq!(m.images, Some(24));
        assert_eq!((m.channels, m.slices, m.frames), (3, 8, 1));
        assert_eq!(m.unit_um, Some(1.0));
        assert_eq!(m.z_step_um(), None);
    }

    #[test]
    fn imagej_z_step_is_spacing_in_the_calibration_unit() {
        let d = "ImageJ=1.54f\nimages=120\nchannels=3\nslices=40\nunit=nm\nspacing=2500\n";
        let m = parse_imagej(d).unwrap().unwrap();
        assert_eq!(m.spacing, Some(2500.0));
        assert!((m.z_step_um().unwrap() - 2.5).abs() < 1e-12);
        // No length unit, no z step; a nonsense spacing is ignored.
        let m = parse_imagej("ImageJ=1.5\nspacing=2\nunit=pixel\n")
            .unwrap()
            .unwrap();
        assert_eq!(m.z_step_um(), None);
        let m = parse_imagej("ImageJ=1.5\nspacing=-1\nunit=micron\n")
            .unwrap()
            .unwrap();
        assert_eq!(m.z_step_um(), None);
    }

    #[test]
    fn imagej_escaped_micro_sign_and_defaults() {
        let m = parse_imagej("ImageJ=1.53t\nimages=3\nchannels=3\nunit=\\u00B5m\n")
            .unwrap()
            .unwrap();
        assert_eq!((m.channels, m.slices, m.frames), (3, 1, 1));
        assert_eq!(m.unit_um, Some(1.0));
        let m = parse_imagej("ImageJ=1.53t\nunit=pixel\n").unwrap().unwrap();
        assert_eq!(m.unit_um, None);
    }

    #[test]
    fn not_imagej_and_absurd_counts() {
        assert_eq!(parse_imagej("Created by a camera").unwrap(), None);
        assert!(parse_imagej("ImageJ=1.5\nchannels=0\n").is_err());
        assert!(parse_imagej("ImageJ=1.5\nslices=abc\n").is_err());
        assert!(parse_imagej("ImageJ=1.5\nframes=999999999999\n").is_err());
    }

    const OME: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="urn:uuid:1">
  <Image ID="Image:0" Name="field A">
    <Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="512" SizeY="256"
            SizeC="3" SizeZ="4" SizeT="1" PhysicalSizeX="650" PhysicalSizeXUnit="nm"
            PhysicalSizeY="650" PhysicalSizeYUnit="nm" PhysicalSizeZ="0.002" PhysicalSizeZUnit="mm">
      <Channel ID="Channel:0:0" Name="DAPI" SamplesPerPixel="1"/>
      <Channel ID="Channel:0:1" Name="P-cadherin" SamplesPerPixel="1"/>
      <Channel ID="Channel:0:2" Name="SOX9 &amp; co" SamplesPerPixel="1"/>
      <TiffData IFD="0" PlaneCount="12"><UUID FileName="a.ome.tif">urn:uuid:1</UUID></TiffData>
    </Pixels>
  </Image>
  <Image ID="Image:1">
    <Pixels ID="Pixels:1" DimensionOrder="XYCZT" Type="uint8" SizeX="64" SizeY="64" SizeC="3">
      <Channel ID="Channel:1:0"/>
      <TiffData IFD="12" PlaneCount="3"/>
    </Pixels>
  </Image>
</OME>"#;

    #[test]
    fn ome_sample() {
        let imgs = parse_ome(OME).unwrap();
        assert_eq!(imgs.len(), 2);
        let a = &imgs[0];
        assert_eq!(
            (a.size_x, a.size_y, a.size_c, a.size_z, a.size_t),
            (512, 256, 3, 4, 1)
        );
        assert_eq!(a.dimension_order, "XYZCT");
        assert!((a.physical_size_x_um.unwrap() - 0.65).abs() < 1e-12);
        assert!((a.physical_size_z_um.unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(
            a.channel_names,
            vec![
                Some("DAPI".into()),
                Some("P-cadherin".into()),
                Some("SOX9 & co".into())
            ]
        );
        assert_eq!(a.tiff_data[0].plane_count, Some(12));
        assert_eq!(a.tiff_data[0].file_name.as_deref(), Some("a.ome.tif"));
        // XYZCT: z fastest, then c.
        assert_eq!(a.plane_index(0, 3, 0, 3), 3);
        assert_eq!(a.plane_index(2, 1, 0, 3), 9);
        let b = &imgs[1];
        assert_eq!((b.size_z, b.size_t), (1, 1));
        assert_eq!(b.physical_size_x_um, None);
        assert_eq!(b.physical_size_z_um, None);
        assert_eq!(b.tiff_data[0].ifd, 12);
        assert_eq!(b.plane_index(2, 0, 0, 3), 2);
    }

    #[test]
    fn ome_garbage_is_an_error() {
        assert!(parse_ome("<OME><Image><Pixels SizeX=\"a\"/></Image></OME>").is_err());
        assert!(parse_ome("<OME></OME>").is_err());
        assert!(parse_ome(
            "<OME><Image><Pixels SizeX='4' SizeY='4' DimensionOrder='XYCCT'/></Image></OME>"
        )
        .is_err());
    }
}

/// Tag holding the byte counts of ImageJ's binary metadata blocks.
pub const IJ_METADATA_BYTE_COUNTS: u16 = 50838;
/// Tag holding ImageJ's binary metadata (labels, ranges, LUTs…).
pub const IJ_METADATA: u16 = 50839;

/// The slice labels of ImageJ's binary metadata (tags 50838/50839): one per
/// plane, in page order; for hyperstacks ImageJ and tifffile put the channel
/// names there. `None` when the blocks are absent or malformed.
pub fn parse_ij_labels(counts: &[u32], data: &[u8]) -> Option<Vec<String>> {
    let header_len = *counts.first()? as usize;
    if header_len < 4 || header_len > data.len() || !(header_len - 4).is_multiple_of(8) {
        return None;
    }
    let big = match &data[..4] {
        b"IJIJ" => true,
        b"JIJI" => false,
        _ => return None,
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(i..i + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let mut labels = Vec::new();
    let (mut next_count, mut offset) = (1usize, header_len);
    for t in 0..(header_len - 4) / 8 {
        let kind = u32_at(4 + 8 * t)?;
        let n = u32_at(8 + 8 * t)? as usize;
        for _ in 0..n {
            let len = *counts.get(next_count)? as usize;
            next_count += 1;
            let chunk = data.get(offset..offset.checked_add(len)?)?;
            offset += len;
            if kind == u32::from_be_bytes(*b"labl") {
                let units: Vec<u16> = chunk
                    .chunks_exact(2)
                    .map(|c| {
                        if big {
                            u16::from_be_bytes([c[0], c[1]])
                        } else {
                            u16::from_le_bytes([c[0], c[1]])
                        }
                    })
                    .collect();
                labels.push(String::from_utf16_lossy(&units));
            }
        }
    }
    Some(labels)
}

/// Builds ImageJ binary metadata holding `labels` (little-endian, as
/// tifffile writes on little-endian machines): (byte counts, data). For
/// the simulator's writer and the tests.
#[cfg(any(test, feature = "dev"))]
pub fn build_ij_labels(labels: &[String]) -> (Vec<u32>, Vec<u8>) {
    let mut data = b"JIJI".to_vec();
    data.extend(u32::from_be_bytes(*b"labl").to_le_bytes());
    data.extend((labels.len() as u32).to_le_bytes());
    let mut counts = vec![data.len() as u32];
    for l in labels {
        let bytes: Vec<u8> = l.encode_utf16().flat_map(u16::to_le_bytes).collect();
        counts.push(bytes.len() as u32);
        data.extend(bytes);
    }
    (counts, data)
}

#[cfg(test)]
mod ij_label_tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_big_endian() {
        let labels = vec!["Sox9".to_string(), "DAPI".into(), "P-cad µ".into()];
        let (counts, data) = build_ij_labels(&labels);
        assert_eq!(parse_ij_labels(&counts, &data), Some(labels));
        // Big-endian, with an "info" block before the labels.
        let mut d = b"IJIJ".to_vec();
        d.extend(b"info");
        d.extend(1u32.to_be_bytes());
        d.extend(b"labl");
        d.extend(1u32.to_be_bytes());
        let header = d.len() as u32;
        d.extend([0, b'x']);
        d.extend([0, b'D', 0, b'A']);
        assert_eq!(
            parse_ij_labels(&[header, 2, 4], &d),
            Some(vec!["DA".to_string()])
        );
        // Malformed blocks are ignored, not trusted.
        assert_eq!(parse_ij_labels(&[header, 2, 400], &d), None);
        assert_eq!(parse_ij_labels(&[3], b"JIJ"), None);
        assert_eq!(parse_ij_labels(&[], &d), None);
    }
}

//! What the pipeline saw, saved as label images (`count --save-masks`):
//! per field, the P-cadherin candidates, the counted follicles, the DAPI
//! objects and the Sox9+ nuclei, each a TIFF whose pixels hold object
//! numbers (0: background) — 16-bit, or 32-bit when a field holds more
//! than 65 535 objects — that Fiji and napari open as label images, with
//! the pixel size (µm) in ImageJ's form when it is known.

use std::io::Cursor;
use std::path::Path;

use tiff::encoder::{colortype, Rational, TiffEncoder};
use tiff::tags::{ResolutionUnit, Tag};

use super::write_atomic;
use crate::pipeline::{FieldAnalysis, Masks};
use crate::Labels;

/// The label images of one field, by the name each is saved under.
pub fn images<'a>(analysis: &FieldAnalysis, masks: &'a Masks) -> Vec<(&'static str, Labelled<'a>)> {
    let mut out = vec![
        ("candidates", Labelled::Borrowed(&masks.candidates)),
        ("follicles", Labelled::Owned(masks.follicles(analysis))),
    ];
    if let Some(n) = &masks.nuclei {
        out.push(("nuclei", Labelled::Borrowed(n)));
    }
    if let Some(n) = &masks.sox9_nuclei {
        out.push(("sox9_nuclei", Labelled::Borrowed(n)));
    }
    out
}

/// A label image, made for saving or borrowed from the analysis.
pub enum Labelled<'a> {
    /// Made for saving.
    Owned(Labels),
    /// The analysis's own.
    Borrowed(&'a Labels),
}

impl Labelled<'_> {
    fn get(&self) -> &Labels {
        match self {
            Labelled::Owned(l) => l,
            Labelled::Borrowed(l) => l,
        }
    }
}

/// The file name of one label image of a field: `masks/<file>.<kind>.tif`,
/// or `masks/<file>.field<k>.<kind>.tif` for files with several fields.
pub fn file_name(file: &str, field: usize, fields_in_file: usize, kind: &str) -> String {
    let png = super::overlay::file_name(file, field, fields_in_file);
    let stem = png.trim_start_matches("overlays/").trim_end_matches(".png");
    format!("masks/{stem}.{kind}.tif")
}

/// Encodes a label image as a TIFF: 16-bit when every label fits, else
/// 32-bit; with `pixel_size_um`, ImageJ's resolution (pixels per µm and
/// `unit=micron` in its description).
pub fn tiff_bytes(labels: &Labels, pixel_size_um: Option<f64>) -> Result<Vec<u8>, String> {
    let (w, h) = labels.dimensions();
    let mut out = Cursor::new(Vec::new());
    let mut enc = TiffEncoder::new(&mut out).map_err(|e| e.to_string())?;
    let max = labels.as_raw().iter().copied().max().unwrap_or(0);
    let description = match pixel_size_um {
        Some(_) => "ImageJ=1.11a\nunit=micron\n",
        None => "ImageJ=1.11a\n",
    };
    macro_rules! write {
        ($color:ty, $data:expr) => {{
            let mut img = enc.new_image::<$color>(w, h).map_err(|e| e.to_string())?;
            img.encoder()
                .write_tag(Tag::ImageDescription, description)
                .map_err(|e| e.to_string())?;
            if let Some(um) = pixel_size_um.filter(|v| v.is_finite() && *v > 0.0) {
                let per_um = Rational {
                    n: (1e6 / um).round().min(f64::from(u32::MAX)) as u32,
                    d: 1_000_000,
                };
                img.resolution(ResolutionUnit::None, per_um);
            }
            img.write_data($data).map_err(|e| e.to_string())?;
        }};
    }
    if max <= u32::from(u16::MAX) {
        let data: Vec<u16> = labels.as_raw().iter().map(|&v| v as u16).collect();
        write!(colortype::Gray16, &data);
    } else {
        write!(colortype::Gray32, labels.as_raw());
    }
    Ok(out.into_inner())
}

/// Saves a field's label images under `dir` (the run's output folder);
/// returns their names relative to it.
pub fn save(
    dir: &Path,
    file: &str,
    field: usize,
    fields_in_file: usize,
    analysis: &FieldAnalysis,
    masks: &Masks,
    pixel_size_um: Option<f64>,
) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for (kind, labels) in images(analysis, masks) {
        let name = file_name(file, field, fields_in_file, kind);
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let bytes = tiff_bytes(labels.get(), pixel_size_um)?;
        write_atomic(&path, &bytes).map_err(|e| e.to_string())?;
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A label image comes back from its TIFF with the same labels, as
    /// 16-bit while they fit and 32-bit beyond, with the pixel size.
    #[test]
    fn labels_round_trip_through_tiff() {
        for top in [3u32, 65_535, 70_000] {
            // Labels 0..=4 × top/4, and one pixel at `top`.
            let labels = Labels::from_fn(37, 11, |x, y| {
                let corner = u32::from(x == 36 && y == 10);
                image::Luma([(x * 11 + y) % 5 * (top / 4) * (1 - corner) + corner * top])
            });
            let bytes = tiff_bytes(&labels, Some(0.5)).unwrap();
            let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes)).unwrap();
            assert_eq!(dec.dimensions().unwrap(), (37, 11));
            let got: Vec<u32> = match dec.read_image().unwrap() {
                tiff::decoder::DecodingResult::U16(v) => {
                    assert!(top <= 65_535);
                    v.into_iter().map(u32::from).collect()
                }
                tiff::decoder::DecodingResult::U32(v) => {
                    assert!(top > 65_535);
                    v
                }
                _ => panic!("unexpected sample type"),
            };
            assert_eq!(got, *labels.as_raw());
            let xres = match dec.get_tag(Tag::XResolution).unwrap() {
                tiff::decoder::ifd::Value::Rational(n, d) => f64::from(n) / f64::from(d),
                v => panic!("{v:?}"),
            };
            assert!((xres - 2.0).abs() < 1e-6, "{xres}");
        }
    }

    #[test]
    fn names_follow_the_overlays() {
        assert_eq!(
            file_name("a/b.tif", 0, 1, "nuclei"),
            "masks/a/b.tif.nuclei.tif"
        );
        assert_eq!(
            file_name("/x.tif", 2, 3, "candidates"),
            "masks/x.tif.field2.candidates.tif"
        );
    }
}

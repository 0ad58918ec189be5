//! The shipped fixture set: one synthetic field per TIFF layout of the
//! design, a few broken files, and the ground truth drawn by the generator.
//! `cargo run --release --example make_fixtures -- fixtures` writes it; a
//! test checks that the committed files are byte-identical to its output.

use std::fmt::Write as _;
use std::path::Path;

use tiff::tags::ResolutionUnit;

use super::write::{self, Comp, OmeSeries, Options, SampleType};
use super::{render, Rendered, Rng, Scene};

/// Result of the fixture writers.
pub type Res = Result<(), Box<dyn std::error::Error + Send + Sync>>;

struct Truth {
    expected: String,
    points: String,
}

impl Truth {
    fn add(&mut self, file: &str, field: usize, r: &Rendered) {
        let _ = writeln!(self.expected, "{file},{field},{}", r.truth.len());
        for (x, y) in &r.truth {
            let _ = writeln!(self.points, "{file},{field},{x:.2},{y:.2}");
        }
    }
}

/// Writes the whole fixture set into `dir`: one field per layout,
/// `bad/` with broken files, `expected.csv` (file,field,follicles) and
/// `truth.csv` (file,field,x,y of every true follicle).
pub fn write_all(dir: &Path) -> Res {
    std::fs::create_dir_all(dir.join("bad"))?;
    let mut t = Truth {
        expected: "file,field,follicles\n".into(),
        points: "file,field,x,y\n".into(),
    };

    // ImageJ hyperstack CYX, 16-bit (12-bit data), Deflate, 1 µm/px.
    let r = render(&Scene::new(320, 320, 1.0, 1));
    let f = "imagej_cyx_deflate.tif";
    write::imagej_hyperstack(&dir.join(f), &r, SampleType::U16(4095), Comp::Deflate)?;
    t.add(f, 0, &r);

    // ImageJ hyperstack ZCYX, 3 slices, LZW, 10-bit data, 1.25 µm/px.
    let mut s = Scene::new(224, 224, 1.25, 2);
    s.depth = 3;
    let r = render(&s);
    let f = "imagej_zcyx_lzw.tif";
    write::imagej_hyperstack(&dir.join(f), &r, SampleType::U16(1023), Comp::Lzw)?;
    t.add(f, 0, &r);

    // OME-TIFF with two series, channels stored DAPI, P-cadherin, SOX9 and
    // named so; 0.8 µm/px in the OME-XML.
    let a = render(&Scene::new(288, 288, 0.8, 3));
    let b = render(&Scene::new(288, 288, 0.8, 4));
    let f = "ome_two_series.ome.tif";
    let series = [
        OmeSeries {
            scene: &a,
            order: [2, 0, 1],
            names: ["DAPI", "P-cadherin", "SOX9"],
        },
        OmeSeries {
            scene: &b,
            order: [2, 0, 1],
            names: ["DAPI", "P-cadherin", "SOX9"],
        },
    ];
    write::ome_tiff(&dir.join(f), &series, 1023, Comp::Lzw)?;
    t.add(f, 0, &a);
    t.add(f, 1, &b);

    // Plain multi-page: one 8-bit page per channel, PackBits, no
    // description; the pixel size in the TIFF resolution tags (cm).
    let r = render(&Scene::new(320, 320, 1.0, 5));
    let f = "plain_multipage_packbits.tif";
    let o = Options {
        compression: Some(Comp::PackBits),
        resolution: Some((ResolutionUnit::Centimeter, 1e4 / r.pixel_size_um)),
        ..Options::default()
    };
    write::plain_pages(&dir.join(f), &r, SampleType::U8, &o)?;
    t.add(f, 0, &r);

    // RGB 8-bit interleaved, LZW, pixel size in the TIFF resolution tags (cm).
    let r = render(&Scene::new(320, 320, 1.0, 6));
    let f = "rgb8_lzw.tif";
    let o = Options {
        compression: Some(Comp::Lzw),
        resolution: Some((ResolutionUnit::Centimeter, 1e4 / r.pixel_size_um)),
        ..Options::default()
    };
    write::color_pages(&dir.join(f), &r, SampleType::U8, false, &o)?;
    t.add(f, 0, &r);

    // BigTIFF, plain pages, 16-bit, Deflate, pixel size in cm.
    let r = render(&Scene::new(288, 288, 1.0, 7));
    let f = "bigtiff_deflate.tif";
    let o = Options {
        compression: Some(Comp::Deflate),
        bigtiff: true,
        resolution: Some((ResolutionUnit::Centimeter, 1e4 / r.pixel_size_um)),
        ..Options::default()
    };
    write::plain_pages(&dir.join(f), &r, SampleType::U16(4095), &o)?;
    t.add(f, 0, &r);

    write_bad(&dir.join("bad"), &dir.join("imagej_cyx_deflate.tif"))?;
    write_hard(&dir.join("hard"))?;
    std::fs::write(dir.join("expected.csv"), t.expected)?;
    std::fs::write(dir.join("truth.csv"), t.points)?;
    Ok(())
}

/// Small seed inputs for the fuzzer (`fuzz/`): every layout of
/// [`write_all`] at 40×40 pixels, so each execution is quick, plus the
/// broken files. Written by `cargo run --example fuzz_seeds -- DIR`.
pub fn write_fuzz_seeds(dir: &Path) -> Res {
    std::fs::create_dir_all(dir)?;
    let n = 40;
    let r = render(&Scene::new(n, n, 1.0, 11));
    write::imagej_hyperstack(
        &dir.join("imagej_cyx.tif"),
        &r,
        SampleType::U16(4095),
        Comp::Deflate,
    )?;
    let mut s = Scene::new(n, n, 1.25, 12);
    s.depth = 2;
    let z = render(&s);
    write::imagej_hyperstack(
        &dir.join("imagej_zcyx.tif"),
        &z,
        SampleType::U16(1023),
        Comp::Lzw,
    )?;
    let series = [OmeSeries {
        scene: &r,
        order: [2, 0, 1],
        names: ["DAPI", "P-cadherin", "SOX9"],
    }];
    write::ome_tiff(&dir.join("ome.ome.tif"), &series, 1023, Comp::Lzw)?;
    let o = Options {
        compression: Some(Comp::PackBits),
        ..Options::default()
    };
    write::plain_pages(&dir.join("plain_packbits.tif"), &r, SampleType::U8, &o)?;
    let o = Options {
        compression: Some(Comp::Lzw),
        resolution: Some((ResolutionUnit::Centimeter, 1e4)),
        ..Options::default()
    };
    write::color_pages(&dir.join("rgb8.tif"), &r, SampleType::U8, false, &o)?;
    let o = Options {
        compression: Some(Comp::Deflate),
        bigtiff: true,
        ..Options::default()
    };
    write::plain_pages(&dir.join("bigtiff.tif"), &r, SampleType::U16(4095), &o)?;
    write::plain_pages(
        &dir.join("plain_raw16.tif"),
        &r,
        SampleType::U16(4095),
        &Options::default(),
    )?;
    write_bad(dir, &dir.join("imagej_cyx.tif"))?;
    Ok(())
}

/// Number of fields in the hard set.
pub const HARD_FIELDS: u64 = 8;

/// The hard set (`hard/`): ImageJ CYX 8-bit Deflate fields from
/// [`Scene::hard`] at 1 µm/px, with `truth.csv` (file,x,y per follicle)
/// and `expected.csv` (file,follicles).
pub fn write_hard(dir: &Path) -> Res {
    std::fs::create_dir_all(dir)?;
    let mut t = Truth {
        expected: "file,field,follicles\n".into(),
        points: "file,field,x,y\n".into(),
    };
    for i in 0..HARD_FIELDS {
        let r = render(&Scene::hard(320, 320, 1.0, 500 + i));
        let f = format!("hard_{i:02}.tif");
        write::imagej_hyperstack(&dir.join(&f), &r, SampleType::U8, Comp::Deflate)?;
        t.add(&f, 0, &r);
    }
    std::fs::write(dir.join("expected.csv"), t.expected)?;
    std::fs::write(dir.join("truth.csv"), t.points)?;
    Ok(())
}

/// Broken inputs the batch must report and survive — and one it must
/// refuse to count: a readable field with no pixel size.
fn write_bad(bad: &Path, good: &Path) -> Res {
    let bytes = std::fs::read(good)?;
    std::fs::write(bad.join("truncated.tif"), &bytes[..bytes.len() * 2 / 5])?;
    let mut rng = Rng::new(99);
    let garbage: Vec<u8> = (0..4096).map(|_| rng.next_u64() as u8).collect();
    std::fs::write(bad.join("garbage.tif"), garbage)?;
    std::fs::write(bad.join("empty.tif"), [])?;
    let r = render(&Scene::new(64, 64, 1.0, 8));
    let o = Options::default();
    let two: Vec<&[f32]> = vec![&r.slices[0][0], &r.slices[0][1]];
    write::gray_pages(
        &bad.join("two_channels.tif"),
        64,
        64,
        &two,
        SampleType::U8,
        &o,
    )?;
    // Three plain pages and no resolution: µm parameters cannot apply.
    write::plain_pages(&bad.join("no_pixel_size.tif"), &r, SampleType::U8, &o)?;
    Ok(())
}

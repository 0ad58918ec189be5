//! Runs the follicount binary on the shipped fixtures and on files written
//! at test time, and checks tables, exit codes and determinism.

mod common;
use common::{assert_exit, bin, count, fixtures};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use follicount::report::{FIELDS_HEADER, FOLLICLES_HEADER};
use follicount::synth::write::{self, Comp, Options, SampleType};
use follicount::synth::{render, Scene};

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

/// fields.csv as (file, field) -> full record.
fn fields(out: &Path) -> BTreeMap<(String, usize), csv::StringRecord> {
    let mut r = csv::Reader::from_path(out.join("fields.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            ((rec[0].to_string(), rec[1].parse().unwrap()), rec)
        })
        .collect()
}

fn run_json(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap()
}

/// Writes a one-page TIFF tag by tag, for layouts the `tiff` encoder does
/// not write (planar data, palettes): 8-bit samples, one strip per plane.
fn write_raw_tiff(
    path: &Path,
    w: u32,
    h: u32,
    photometric: u16,
    planes: &[Vec<u8>],
    colormap: Option<&[u16]>,
) {
    write_raw_tiff_compressed(path, w, h, photometric, planes, colormap, 1);
}

/// As [`write_raw_tiff`], each plane's bytes as stored (already
/// compressed by `compression`'s method).
fn write_raw_tiff_compressed(
    path: &Path,
    w: u32,
    h: u32,
    photometric: u16,
    planes: &[Vec<u8>],
    colormap: Option<&[u16]>,
    compression: u16,
) {
    use tiff::encoder::TiffEncoder;
    use tiff::tags::Tag;
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = TiffEncoder::new(file).unwrap();
    let mut dir = enc.image_directory().unwrap();
    let offsets: Vec<u32> = planes
        .iter()
        .map(|p| dir.write_data(&p[..]).unwrap() as u32)
        .collect();
    let n = planes.len();
    dir.write_tag(Tag::ImageWidth, w).unwrap();
    dir.write_tag(Tag::ImageLength, h).unwrap();
    dir.write_tag(Tag::BitsPerSample, &vec![8u16; n][..])
        .unwrap();
    dir.write_tag(Tag::Compression, compression).unwrap();
    dir.write_tag(Tag::PhotometricInterpretation, photometric)
        .unwrap();
    dir.write_tag(Tag::StripOffsets, &offsets[..]).unwrap();
    dir.write_tag(Tag::SamplesPerPixel, n as u16).unwrap();
    dir.write_tag(Tag::RowsPerStrip, h).unwrap();
    let counts: Vec<u32> = planes.iter().map(|p| p.len() as u32).collect();
    dir.write_tag(Tag::StripByteCounts, &counts[..]).unwrap();
    if n > 1 {
        dir.write_tag(Tag::PlanarConfiguration, 2u16).unwrap();
    }
    if let Some(cmap) = colormap {
        dir.write_tag(Tag::ColorMap, cmap).unwrap();
    }
    dir.finish().unwrap();
}

fn expected() -> BTreeMap<(String, usize), usize> {
    let mut r = csv::Reader::from_path(fixtures().join("expected.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                (rec[0].to_string(), rec[1].parse().unwrap()),
                rec[2].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn count_on_fixtures_matches_expected_and_reports_bad_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&[
        "count",
        fixtures().to_str().unwrap(),
        "-o",
        tmp.path().to_str().unwrap(),
    ]);
    // Exit 1 only because of fixtures/bad.
    assert_exit(&out, 1);
    let f = fields(tmp.path());
    let exp = expected();
    assert_eq!(exp.len(), 7);
    for (key, n) in &exp {
        let rec = f.get(key).unwrap_or_else(|| panic!("no row for {key:?}"));
        assert_eq!(&rec[8], "ok", "{key:?}: {rec:?}");
        assert_eq!(rec[6].parse::<usize>().unwrap(), *n, "{key:?}");
    }
    let bad: BTreeMap<&str, &str> = [
        ("bad/empty.tif", "empty file"),
        ("bad/garbage.tif", "TIFF signature not found"),
        (
            "bad/no_pixel_size.tif",
            "no pixel size in the file's metadata",
        ),
        ("bad/truncated.tif", "truncated file"),
        ("bad/two_channels.tif", "2 channel(s)"),
    ]
    .into();
    for (file, reason) in &bad {
        let rec = &f[&(file.to_string(), 0)];
        assert_eq!(&rec[8], "error", "{file}");
        assert!(rec[9].contains(reason), "{file}: {}", &rec[9]);
        assert!(rec[6].is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(file) && l.contains(reason)),
            "{stderr}"
        );
    }
    // The hard set (scored, not checked exactly) is counted too.
    let hard = f
        .keys()
        .filter(|(file, _)| file.starts_with("hard/"))
        .count();
    assert_eq!(hard, 8);
    assert!(f
        .iter()
        .filter(|(k, _)| k.0.starts_with("hard/"))
        .all(|(_, r)| &r[8] == "ok"));
    assert_eq!(f.len(), exp.len() + bad.len() + hard);
}

#[test]
fn csv_headers_follow_the_design() {
    let tmp = tempfile::tempdir().unwrap();
    let input = fixtures().join("rgb8_lzw.tif");
    let out = count(tmp.path(), &[&input], &[]);
    assert_eq!(out.status.code(), Some(0));
    let read_first = |name: &str| {
        std::fs::read_to_string(tmp.path().join(name))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(read_first("fields.csv"), FIELDS_HEADER);
    // The design's columns, then the tissue's (a mosaic's padding is not
    // skin).
    assert_eq!(
        FIELDS_HEADER,
        "file,field,width,height,depth,pixel_size_um,follicles,follicles_per_mm2,status,error,\
         tissue_area_mm2,follicles_per_tissue_mm2"
    );
    assert_eq!(read_first("follicles.csv"), FOLLICLES_HEADER);
    // The design's columns, then the 3D ones (empty in 2D).
    assert_eq!(
        FOLLICLES_HEADER,
        "file,field,id,x,y,area_px,area_um2,mean_pcad,mean_sox9,mean_dapi,sox9_nuclei,z,volume_um3"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("run.json")).unwrap()).unwrap();
    assert_eq!(json["version"], follicount::VERSION);
    assert_eq!(json["parameters"]["min_sox9_nuclei"], 3);
    assert_eq!(json["summary"]["failed"], 0);
    // The file column is the path as given for file arguments.
    let f = fields(tmp.path());
    assert!(f
        .keys()
        .next()
        .unwrap()
        .0
        .ends_with("fixtures/rgb8_lzw.tif"));
    // follicles.csv ids are 1..=n and x,y lie inside the field.
    let mut r = csv::Reader::from_path(tmp.path().join("follicles.csv")).unwrap();
    let ids: Vec<u32> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            let (x, y): (f64, f64) = (rec[3].parse().unwrap(), rec[4].parse().unwrap());
            assert!((0.0..320.0).contains(&x) && (0.0..320.0).contains(&y));
            assert!(
                rec[6].parse::<f64>().unwrap() > 0.0,
                "area_um2 known for RGB with cm resolution"
            );
            rec[2].parse().unwrap()
        })
        .collect();
    assert_eq!(ids, (1..=ids.len() as u32).collect::<Vec<_>>());
}

#[test]
fn each_layout_alone_gives_its_count_and_metadata() {
    let exp = expected();
    // (file, depth, pixel size as written in fields.csv)
    let meta = [
        ("imagej_cyx_deflate.tif", "1", "1.0"),
        ("imagej_zcyx_lzw.tif", "3", "1.25"),
        ("ome_two_series.ome.tif", "1", "0.8"),
        ("plain_multipage_packbits.tif", "1", "1.0"),
        ("rgb8_lzw.tif", "1", "1.0"),
        ("bigtiff_deflate.tif", "1", "1.0"),
    ];
    for (file, depth, px) in meta {
        let tmp = tempfile::tempdir().unwrap();
        // A folder containing just this file, so `file` is its bare name.
        let dir = tmp.path().join("in");
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(fixtures().join(file), dir.join(file)).unwrap();
        let out = count(&tmp.path().join("out"), &[&dir], &["-j", "1"]);
        assert_exit(&out, 0);
        let f = fields(&tmp.path().join("out"));
        for ((name, field), rec) in &f {
            assert_eq!(name, file);
            assert_eq!(&rec[4], depth, "{file} depth");
            assert_eq!(&rec[5], px, "{file} pixel size");
            assert_eq!(
                rec[6].parse::<usize>().unwrap(),
                exp[&(file.to_string(), *field)],
                "{file}/{field}"
            );
        }
    }
}

#[test]
fn output_is_identical_across_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("j1"), tmp.path().join("j2"));
    let fx = fixtures();
    assert_eq!(count(&a, &[&fx], &["-j", "1"]).status.code(), Some(1));
    assert_eq!(count(&b, &[&fx], &["-j", "2"]).status.code(), Some(1));
    for name in ["fields.csv", "follicles.csv"] {
        let x = std::fs::read(a.join(name)).unwrap();
        let y = std::fs::read(b.join(name)).unwrap();
        assert!(x.len() > 100);
        assert_eq!(x, y, "{name} differs between -j 1 and -j 2");
    }
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("run.json")).unwrap()).unwrap();
    assert_eq!(j["threads"], 2);
}

#[test]
fn check_passes_on_fixtures_and_fails_on_an_edited_count() {
    let fx = fixtures();
    let ok = run(&[
        "check",
        fx.to_str().unwrap(),
        "--expected",
        fx.join("expected.csv").to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("7 fields, 7 within tolerance 0, 0 failed"),
        "{stdout}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fx.join("expected.csv")).unwrap();
    let edited = text.replacen("rgb8_lzw.tif,0,8", "rgb8_lzw.tif,0,9", 1);
    assert_ne!(text, edited, "fixture count changed; update this test");
    let path = tmp.path().join("expected.csv");
    std::fs::write(&path, edited).unwrap();
    let bad = run(&[
        "check",
        fx.to_str().unwrap(),
        "--expected",
        path.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("rgb8_lzw.tif") && l.contains("MISMATCH")),
        "{stdout}"
    );
    // A tolerance of one absorbs it.
    let tol = run(&[
        "check",
        fx.to_str().unwrap(),
        "--expected",
        path.to_str().unwrap(),
        "--tolerance",
        "1",
    ]);
    assert_eq!(tol.status.code(), Some(0));
    // A file named in the table but missing is a failure, not a pass.
    std::fs::write(&path, "file,follicles\nnot_there.tif,0\n").unwrap();
    let missing = run(&[
        "check",
        fx.to_str().unwrap(),
        "--expected",
        path.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stdout).contains("ERROR"));
    // Without a `field` column a multi-field file's count is its total:
    // 4 + 4 passes, 4 (field 0 alone) does not. Semicolons (a European
    // Excel's CSV) read too.
    let check = |table: &str, out: Option<&Path>| {
        std::fs::write(&path, table).unwrap();
        let mut args = vec![
            "check",
            fx.to_str().unwrap(),
            "--expected",
            path.to_str().unwrap(),
        ];
        if let Some(o) = out {
            args.extend(["-o", o.to_str().unwrap()]);
        }
        run(&args)
    };
    let whole = check("file;follicles\nome_two_series.ome.tif;8\n", None);
    let stdout = String::from_utf8_lossy(&whole.stdout);
    assert_eq!(whole.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ome_two_series.ome.tif") && stdout.contains(" all "),
        "{stdout}"
    );
    assert_eq!(
        check("file,follicles\nome_two_series.ome.tif,4\n", None)
            .status
            .code(),
        Some(1)
    );
    // -o keeps the run's tables and overlays, e.g. of a drifted count.
    let keep = tmp.path().join("kept");
    let drift = check("file,field,follicles\nrgb8_lzw.tif,0,9\n", Some(&keep));
    assert_eq!(drift.status.code(), Some(1));
    assert!(keep.join("overlays/rgb8_lzw.tif.png").is_file());
    assert!(keep.join("fields.csv").is_file() && keep.join("report.html").is_file());
    // … into a new folder only.
    let again = check("file,field,follicles\nrgb8_lzw.tif,0,8\n", Some(&keep));
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["count"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    let tmp = tempfile::tempdir().unwrap();
    let o = tmp.path().to_str().unwrap();
    assert_eq!(
        run(&["count", "/no/such/dir", "-o", o]).status.code(),
        Some(2)
    );
    let fx = fixtures();
    let f = fx.to_str().unwrap();
    assert_eq!(
        run(&["count", f, "-o", o, "--channels", "pcad,sox9"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["count", f, "-o", o, "--pixel-size", "-1"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&[
            "count",
            f,
            "-o",
            o,
            "--min-area",
            "500",
            "--max-area",
            "100"
        ])
        .status
        .code(),
        Some(2)
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(&["count", empty.to_str().unwrap(), "-o", o]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .tif"));
    // A folder of microscope files: say how to export them.
    std::fs::write(empty.join("a.czi"), b"ZISRAWFILE").unwrap();
    std::fs::write(empty.join("b.CZI"), b"ZISRAWFILE").unwrap();
    std::fs::write(empty.join("c.nd2"), b"ND2").unwrap();
    let out = run(&["count", empty.to_str().unwrap(), "-o", o]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 .czi (Zeiss), 1 .nd2 (Nikon)") && err.contains("OME-TIFF"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // A threshold that is not one lists every form, noise[:K] included.
    let out = run(&["count", f, "-o", o, "--threshold", "pcad=foo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("noise[:K]"));
    // Plain `config` prints the defaults.
    let out = run(&["config"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("min_sox9_nuclei = 3"));
}

/// Sample formats and layouts not in the shipped fixtures, written at test
/// time from one scene drawn at 1 µm/px (so pixel units fit the defaults).
#[test]
fn other_sample_formats_and_layouts() {
    let mut scene = Scene::new(256, 256, 1.0, 42);
    scene.follicles = 6;
    let r = render(&scene);
    let truth = r.truth.len();
    assert!(truth >= 3);
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("in");
    std::fs::create_dir(&d).unwrap();
    let planes = write::planes_czt(&r, [0, 1, 2]);
    let plain = |name: &str, sample: SampleType, comp: Comp| {
        let o = Options {
            compression: Some(comp),
            ..Options::default()
        };
        write::gray_pages(&d.join(name), 256, 256, &planes, sample, &o).unwrap();
    };
    plain("u32.tif", SampleType::U32(1_000_000), Comp::Deflate);
    plain("f32.tif", SampleType::F32(1.0), Comp::None);
    plain("u16_raw.tif", SampleType::U16(65535), Comp::None);
    plain("u16_packbits.TIFF", SampleType::U16(4095), Comp::PackBits);
    let o = Options {
        compression: Some(Comp::Deflate),
        ..Options::default()
    };
    write::color_pages(&d.join("rgba16.tif"), &r, SampleType::U16(4095), true, &o).unwrap();
    write::color_pages(&d.join("rgb16.tif"), &r, SampleType::U16(4095), false, &o).unwrap();
    write::color_pages(
        &d.join("rgba8.tif"),
        &r,
        SampleType::U8,
        true,
        &Options::default(),
    )
    .unwrap();
    let big = Options {
        compression: Some(Comp::Lzw),
        bigtiff: true,
        ..Options::default()
    };
    write::color_pages(&d.join("rgb8_big.tif"), &r, SampleType::U8, false, &big).unwrap();
    std::fs::write(d.join("notes.txt"), "not an image").unwrap();

    // (No file here states its pixel size; the scene is drawn at 1 µm.)
    let out_dir = tmp.path().join("out");
    let out = count(&out_dir, &[&d], &["--pixel-size", "1"]);
    assert_exit(&out, 0);
    let f = fields(&out_dir);
    assert_eq!(f.len(), 8, "{:?}", f.keys());
    for ((file, _), rec) in &f {
        assert_eq!(rec[6].parse::<usize>().unwrap(), truth, "{file}");
    }
    // 8- and 16-bit unsigned samples are kept as 16-bit planes, the rest
    // as floats.
    for (name, small) in [
        ("u32.tif", false),
        ("f32.tif", false),
        ("u16_raw.tif", true),
        ("u16_packbits.TIFF", true),
        ("rgba16.tif", true),
        ("rgb8_big.tif", true),
    ] {
        let mut src = follicount::io::TiffSource::open(&d.join(name)).unwrap();
        let opts = follicount::io::LoadOptions {
            pixel_size_um: Some(1.0),
            ..Default::default()
        };
        let field = src.load_field(0, &opts).unwrap();
        for p in &field.channels {
            assert_eq!(matches!(p, follicount::io::Plane::U16(_)), small, "{name}");
        }
    }
}

#[test]
fn channel_roles_from_the_command_line() {
    let r = render(&Scene::new(256, 256, 1.0, 43));
    let tmp = tempfile::tempdir().unwrap();
    // Four unnamed channels stored DAPI, empty, P-cad, Sox9.
    let blank = vec![0.0f32; 256 * 256];
    let s = &r.slices[0];
    let planes: Vec<&[f32]> = vec![&s[2], &blank, &s[0], &s[1]];
    let file = tmp.path().join("four.tif");
    write::gray_pages(
        &file,
        256,
        256,
        &planes,
        SampleType::U16(4095),
        &Options::default(),
    )
    .unwrap();

    let out_dir = tmp.path().join("a");
    let out = count(&out_dir, &[&file], &[]);
    assert_eq!(out.status.code(), Some(1));
    let f = fields(&out_dir);
    assert!(f.values().next().unwrap()[9].contains("--channels"));

    // Told the roles (and the pixel size, which the file lacks): the
    // field's exit status, row and output folder.
    let told = |dir: &str, channels: &str| {
        let out_dir = tmp.path().join(dir);
        let out = count(
            &out_dir,
            &[&file],
            &["--channels", channels, "--pixel-size", "1"],
        );
        let rec = fields(&out_dir).into_values().next().unwrap();
        (out, rec, out_dir)
    };
    let (out, rec, out_dir) = told("b", "dapi,skip,pcad,sox9");
    assert_exit(&out, 0);
    assert_eq!(rec[6].parse::<usize>().unwrap(), r.truth.len());
    assert_eq!(&rec[5], "1.0");
    let json = run_json(&out_dir);
    assert_eq!(json["fields"][0]["channel_source"], "command_line");
    assert_eq!(json["fields"][0]["channels"], "dapi,skip,pcad,sox9");

    // A list that leaves a channel out is refused, naming the count.
    let (out, rec, _) = told("c", "pcad,sox9,dapi");
    assert_exit(&out, 1);
    assert!(
        rec[9].contains("names 3 channel(s) but the file has 4"),
        "{rec:?}"
    );
}

/// OME channel names that identify only some roles, or one twice, are an
/// error row with the names and the `--channels` line to complete — never
/// the default order (which would take P-cadherin from a DAPI channel).
#[test]
fn partial_channel_names_are_an_error_not_the_default_order() {
    let r = render(&Scene::new(128, 128, 1.0, 46));
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("in");
    std::fs::create_dir(&d).unwrap();
    for (file, names, says) in [
        (
            "alexa.ome.tif",
            ["DAPI", "Alexa 488", "Alexa 568"],
            "--channels dapi,?,?",
        ),
        (
            "twice.ome.tif",
            ["DAPI", "DAPI", "P-cadherin"],
            "name DAPI more than once",
        ),
        (
            "ecad.ome.tif",
            ["DAPI", "Sox9", "E-cadherin"],
            "leave P-cadherin open",
        ),
    ] {
        let series = [write::OmeSeries {
            scene: &r,
            order: [2, 1, 0],
            names,
        }];
        write::ome_tiff(&d.join(file), &series, 1023, Comp::Lzw).unwrap();
        let out_dir = tmp.path().join(file);
        let out = count(&out_dir, &[&d.join(file)], &[]);
        assert_exit(&out, 1);
        let rec = fields(&out_dir).into_values().next().unwrap();
        assert_eq!(&rec[8], "error");
        assert!(rec[9].contains(says), "{file}: {rec:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(file) && stderr.contains(says), "{stderr}");
    }
    // Told which is which, the same file counts.
    let out_dir = tmp.path().join("told");
    let out = count(
        &out_dir,
        &[&d.join("alexa.ome.tif")],
        &["--channels", "dapi,sox9,pcad"],
    );
    assert_exit(&out, 0);
    let rec = fields(&out_dir).into_values().next().unwrap();
    assert_eq!(rec[6].parse::<usize>().unwrap(), r.truth.len());
}

/// Microscopes name every folder's files alike: two `a.tif` in two input
/// folders get distinct `file` names (the folder's name first), distinct
/// overlays and their own counts; hidden files (`._a.tif` AppleDouble
/// companions, `.DS_Store`, dot-folders) are skipped when walking, but a
/// hidden file given by name is analysed; a file reached through a linked
/// folder has its real path in run.json.
#[test]
fn inputs_are_named_uniquely_and_hidden_files_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = expected();
    let (one, two) = ("imagej_cyx_deflate.tif", "rgb8_lzw.tif");
    for (dir, src) in [
        ("x/Images", one),
        ("y/Images", two),
        ("d1", one),
        ("d2", two),
    ] {
        let d = tmp.path().join(dir);
        std::fs::create_dir_all(d.join(".snapshot")).unwrap();
        std::fs::copy(fixtures().join(src), d.join("a.tif")).unwrap();
        std::fs::copy(fixtures().join(src), d.join(".snapshot/b.tif")).unwrap();
        std::fs::write(d.join("._a.tif"), b"\x00\x05\x16\x07 AppleDouble").unwrap();
        std::fs::write(d.join(".DS_Store"), b"Bud1").unwrap();
    }
    let want = |name: &str, src: &str| (name.to_string(), exp[&(src.to_string(), 0)]);
    for (inputs, names) in [
        (["d1", "d2"], [want("d1/a.tif", one), want("d2/a.tif", two)]),
        (
            ["x/Images", "y/Images"],
            [want("x/Images/a.tif", one), want("y/Images/a.tif", two)],
        ),
    ] {
        let out_dir = tmp
            .path()
            .join(format!("out-{}", inputs[0].replace('/', "-")));
        let paths: Vec<std::path::PathBuf> = inputs.iter().map(|i| tmp.path().join(i)).collect();
        let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let out = count(&out_dir, &refs, &["--overlay", "-j", "2"]);
        assert_exit(&out, 0);
        let f = fields(&out_dir);
        let got: Vec<(String, usize)> = f
            .iter()
            .map(|((file, _), rec)| (file.clone(), rec[6].parse().unwrap()))
            .collect();
        assert_eq!(got, names.to_vec());
        let pngs = walkdir::WalkDir::new(out_dir.join("overlays"))
            .into_iter()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "png")
            })
            .count();
        assert_eq!(pngs, 2);
    }
    // A hidden file given by name is analysed (here: an error row).
    let out_dir = tmp.path().join("out-hidden");
    let out = count(&out_dir, &[&tmp.path().join("d1/._a.tif")], &[]);
    assert_exit(&out, 1);
    assert_eq!(fields(&out_dir).len(), 1);
    // One folder alone: names relative to it; through a link, the real
    // path is on record.
    #[cfg(unix)]
    {
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path().join("d1"), &link).unwrap();
        let out_dir = tmp.path().join("out-link");
        let out = count(&out_dir, &[&link], &[]);
        assert_exit(&out, 0);
        assert_eq!(fields(&out_dir).keys().next().unwrap().0, "a.tif");
        let json = run_json(&out_dir);
        let real = json["inputs"][0]["real_path"].as_str().unwrap();
        let d1 = std::fs::canonicalize(tmp.path().join("d1/a.tif")).unwrap();
        assert_eq!(Path::new(real), d1);
    }
}

/// A pixel size read back from a rational resolution is written as the
/// number it is (0.6285), not its float remainder (0.6285000000000001).
#[test]
fn pixel_sizes_are_written_without_float_noise() {
    let r = render(&Scene::new(96, 96, 0.6285, 47));
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("px.tif");
    write::imagej_hyperstack(&file, &r, SampleType::U16(4095), Comp::Deflate).unwrap();
    let out_dir = tmp.path().join("out");
    assert_exit(&count(&out_dir, &[&file], &[]), 0);
    let rec = fields(&out_dir).into_values().next().unwrap();
    assert_eq!(&rec[5], "0.6285");
}

/// Files real exporters write that used to give messages with no next
/// step: Zstd-compressed pages are read; YCbCr (JPEG-style) colour and a
/// Y×X×C array saved as grayscale pages say how to re-save.
#[test]
fn zstd_reads_and_odd_layouts_say_how_to_resave() {
    let r = render(&Scene::new(128, 128, 1.0, 48));
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("in");
    std::fs::create_dir(&d).unwrap();
    let to_u8 = |plane: &[f32]| -> Vec<u8> {
        plane
            .iter()
            .map(|v| (v.clamp(0.0, 1.0) * 255.0) as u8)
            .collect()
    };
    let raw: Vec<Vec<u8>> = (0..3).map(|c| to_u8(&r.slices[0][c])).collect();
    let packed: Vec<Vec<u8>> = raw
        .iter()
        .map(|p| zstd::encode_all(&p[..], 3).unwrap())
        .collect();
    write_raw_tiff_compressed(&d.join("zstd.tif"), 128, 128, 2, &packed, None, 50000);
    write_raw_tiff(&d.join("planar.tif"), 128, 128, 2, &raw, None);
    write_raw_tiff(&d.join("ycbcr.tif"), 128, 128, 6, &raw, None);
    // 40 pages of 3 × 40: a 40 × 3 × … array written page by page.
    let pages: Vec<Vec<f32>> = (0..40).map(|_| vec![0.5f32; 3 * 40]).collect();
    let refs: Vec<&[f32]> = pages.iter().map(|p| &p[..]).collect();
    write::gray_pages(
        &d.join("yxc.tif"),
        3,
        40,
        &refs,
        SampleType::U8,
        &Options::default(),
    )
    .unwrap();
    let out_dir = tmp.path().join("out");
    let out = count(&out_dir, &[&d], &["--pixel-size", "1"]);
    assert_exit(&out, 1);
    let f = fields(&out_dir);
    // The Zstd file counts exactly as its uncompressed twin.
    let z = &f[&("zstd.tif".to_string(), 0)];
    assert_eq!(&z[8], "ok", "{z:?}");
    assert_eq!(z[6], f[&("planar.tif".to_string(), 0)][6]);
    assert!(z[6].parse::<usize>().unwrap() > 0);
    let y = &f[&("ycbcr.tif".to_string(), 0)];
    assert!(y[9].contains("YCbCr") && y[9].contains("re-save"), "{y:?}");
    let c = &f[&("yxc.tif".to_string(), 0)];
    assert!(c[9].contains("transpose(2, 0, 1)"), "{c:?}");
}

#[test]
fn committed_fixtures_are_the_generators_output() {
    let tmp = tempfile::tempdir().unwrap();
    follicount::synth::fixtures::write_all(tmp.path()).unwrap();
    let mut n = 0;
    for entry in walkdir::WalkDir::new(tmp.path()) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(tmp.path()).unwrap();
        let committed = std::fs::read(fixtures().join(rel))
            .unwrap_or_else(|e| panic!("fixtures/{} missing: {e}", rel.display()));
        assert!(
            committed == std::fs::read(entry.path()).unwrap(),
            "fixtures/{} differs from the generator; rerun make_fixtures",
            rel.display()
        );
        n += 1;
    }
    assert_eq!(n, 13 + 10);
}

/// A planar (PlanarConfiguration = 2) RGB file.
fn write_planar_rgb8(path: &Path, r: &follicount::synth::Rendered) {
    let planes: Vec<Vec<u8>> = (0..3)
        .map(|c| follicount::synth::quantize_u8(&r.slices[0][c]))
        .collect();
    write_raw_tiff(path, r.width as u32, r.height as u32, 2, &planes, None);
}

#[test]
fn planar_rgb_and_imagej_frames() {
    let mut scene = Scene::new(256, 256, 1.0, 44);
    scene.follicles = 6;
    let a = render(&scene);
    scene.seed = 45;
    let b = render(&scene);
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("in");
    std::fs::create_dir(&d).unwrap();
    write_planar_rgb8(&d.join("planar.tif"), &a);
    // ImageJ TCYX: two time points, each a field.
    let mut planes = write::planes_czt(&a, [0, 1, 2]);
    planes.extend(write::planes_czt(&b, [0, 1, 2]));
    let o = Options {
        compression: Some(Comp::Deflate),
        description: Some("ImageJ=1.54f\nimages=6\nchannels=3\nframes=2\nhyperstack=true\n".into()),
        ..Options::default()
    };
    write::gray_pages(
        &d.join("frames.tif"),
        256,
        256,
        &planes,
        SampleType::U16(4095),
        &o,
    )
    .unwrap();
    let out_dir = tmp.path().join("out");
    let out = count(&out_dir, &[&d], &["--pixel-size", "1"]);
    assert_exit(&out, 0);
    let f = fields(&out_dir);
    let got: Vec<(String, usize, usize)> = f
        .iter()
        .map(|((file, field), rec)| (file.clone(), *field, rec[6].parse().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("frames.tif".into(), 0, a.truth.len()),
            ("frames.tif".into(), 1, b.truth.len()),
            ("planar.tif".into(), 0, a.truth.len()),
        ]
    );
}

#[test]
fn unwritable_output_is_refused_before_work() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let input = fixtures().join("rgb8_lzw.tif");
    let out = count(&blocker.join("out"), &[&input], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("output folder"), "{err}");
    assert!(
        !err.contains("fields,"),
        "no work should have been done: {err}"
    );
}

#[test]
fn imagej_channel_labels_name_the_channels() {
    let mut scene = Scene::new(256, 256, 1.0, 46);
    scene.follicles = 6;
    let r = render(&scene);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("labelled.tif");
    // Stored Sox9, DAPI, P-cad: the default order would be wrong.
    let o = Options {
        compression: Some(Comp::Lzw),
        description: Some(
            "ImageJ=1.54f\nimages=3\nchannels=3\nhyperstack=true\nmode=composite\n".into(),
        ),
        imagej_labels: Some(vec![
            "Sox9-555".into(),
            "DAPI".into(),
            "P-cadherin 647".into(),
        ]),
        ..Options::default()
    };
    write::gray_pages(
        &file,
        256,
        256,
        &write::planes_czt(&r, [1, 2, 0]),
        SampleType::U16(4095),
        &o,
    )
    .unwrap();
    let out_dir = tmp.path().join("out");
    let out = count(&out_dir, &[&file], &["--pixel-size", "1"]);
    assert_exit(&out, 0);
    let rec = fields(&out_dir).into_values().next().unwrap();
    assert_eq!(rec[6].parse::<usize>().unwrap(), r.truth.len());
    let json = run_json(&out_dir);
    assert_eq!(json["fields"][0]["channel_source"], "metadata");
}

#[test]
fn unsupported_sample_format_is_an_error_row() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("in");
    std::fs::create_dir(&d).unwrap();
    // A palette (indexed colour) image: no channels to analyse.
    let cmap: Vec<u16> = (0..768).map(|i| (i as u16) << 6).collect();
    write_raw_tiff(
        &d.join("palette.tif"),
        4,
        4,
        3,
        &[vec![0u8; 16]],
        Some(&cmap),
    );
    // …next to a good file, which is still counted.
    std::fs::copy(fixtures().join("rgb8_lzw.tif"), d.join("good.tif")).unwrap();
    let out_dir = tmp.path().join("out");
    let out = count(&out_dir, &[&d], &[]);
    assert_eq!(out.status.code(), Some(1));
    let f = fields(&out_dir);
    let bad = &f[&("palette.tif".to_string(), 0)];
    assert_eq!(&bad[8], "error");
    assert!(bad[9].contains("unsupported"), "{}", &bad[9]);
    assert_eq!(&f[&("good.tif".to_string(), 0)][8], "ok");
}

#[test]
fn score_reports_counts_only_truth_and_rejects_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let input = fixtures().join("rgb8_lzw.tif");
    let out_dir = tmp.path().join("out");
    assert_exit(&count(&out_dir, &[&input], &[]), 0);
    let name = fields(&out_dir).keys().next().unwrap().0.clone();
    // Counts-only truth: one too many annotated.
    let truth = tmp.path().join("counts.csv");
    std::fs::write(&truth, format!("file,follicles\n{name},9\n")).unwrap();
    let out = run(&[
        "score",
        out_dir.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
        "--json",
    ]);
    assert_exit(&out, 0);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["f1"], serde_json::Value::Null);
    assert_eq!(j["mean_abs_count_error"], 1.0);
    assert!((j["mean_rel_count_error"].as_f64().unwrap() - 1.0 / 9.0).abs() < 1e-9);
    // Table output names the overall figures.
    let out = run(&[
        "score",
        out_dir.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("mean relative count error 11.1%"));
    // Bad truth files and flags are usage errors.
    std::fs::write(&truth, "name,count\na,1\n").unwrap();
    assert_exit(
        &run(&[
            "score",
            out_dir.to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
        ]),
        2,
    );
    std::fs::write(&truth, "file,x,y\na,1,zz\n").unwrap();
    let out = run(&[
        "score",
        out_dir.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2: y `zz`"));
    // Annotations of files the run never saw: an error, not precision 1.
    std::fs::write(&truth, "file,x,y\nother.tif,10,10\nother.tif,50,50\n").unwrap();
    let out = run(&[
        "score",
        out_dir.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("none of the 1 files annotated") && err.contains("`other.tif`"),
        "{err}"
    );
    let f = fixtures();
    let o = tmp.path().join("o2");
    let o = o.to_str().unwrap();
    assert_exit(
        &run(&[
            "count",
            f.to_str().unwrap(),
            "-o",
            o,
            "--threshold",
            "pcad=median",
        ]),
        2,
    );
    assert_exit(
        &run(&[
            "count",
            f.to_str().unwrap(),
            "-o",
            o,
            "--threshold",
            "gfp=li",
        ]),
        2,
    );
    assert_exit(
        &run(&[
            "count",
            f.to_str().unwrap(),
            "-o",
            o,
            "--background",
            "magic",
        ]),
        2,
    );
}

/// A saved label image, as 32-bit labels.
fn read_labels(path: &Path) -> (u32, u32, Vec<u32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut dec = tiff::decoder::Decoder::new(std::io::Cursor::new(bytes)).unwrap();
    let (w, h) = dec.dimensions().unwrap();
    let data = match dec.read_image().unwrap() {
        tiff::decoder::DecodingResult::U16(v) => v.into_iter().map(u32::from).collect(),
        tiff::decoder::DecodingResult::U32(v) => v,
        _ => panic!("{}: not a label image", path.display()),
    };
    (w, h, data)
}

/// `--save-masks` saves, per field, label images that agree with the
/// tables: each counted follicle's pixels in follicles.tif give its row
/// of follicles.csv (area, centroid); each candidate's pixels in
/// candidates.tif give its row of masks/candidates.csv, whose verdicts
/// say which were counted; the Sox9+ nuclei number as many as run.json
/// says and lie inside DAPI objects.
#[test]
fn saved_masks_agree_with_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = [
        fixtures().join("hard/hard_03.tif"),
        fixtures().join("imagej_zcyx_lzw.tif"),
        fixtures().join("ome_two_series.ome.tif"),
    ];
    let inputs: Vec<&Path> = inputs.iter().map(|p| p.as_path()).collect();
    let out = count(tmp.path(), &inputs, &["--save-masks"]);
    assert_exit(&out, 0);
    let masks = tmp.path().join("masks");
    let mut candidates = csv::Reader::from_path(masks.join("candidates.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = candidates.records().map(|r| r.unwrap()).collect();
    let mut follicles = csv::Reader::from_path(tmp.path().join("follicles.csv")).unwrap();
    let follicle_rows: Vec<csv::StringRecord> = follicles.records().map(|r| r.unwrap()).collect();
    let json = run_json(tmp.path());
    let mut fields = 0;
    for field in json["fields"].as_array().unwrap() {
        let file = field["file"].as_str().unwrap();
        let index = field["field"].as_u64().unwrap() as usize;
        let saved: Vec<&str> = field["masks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(saved.len(), 4, "{file}: {saved:?}");
        let path = |kind: &str| {
            let name = saved
                .iter()
                .find(|n| n.ends_with(&format!(".{kind}.tif")))
                .unwrap();
            tmp.path().join(name)
        };
        let (w, h, cand) = read_labels(&path("candidates"));
        let (_, _, foll) = read_labels(&path("follicles"));
        let (_, _, nuclei) = read_labels(&path("nuclei"));
        let (_, _, sox9) = read_labels(&path("sox9_nuclei"));
        for plane in [&foll, &nuclei, &sox9] {
            assert_eq!(plane.len(), (w * h) as usize);
        }
        // Pixels, centroid sums of each label of a plane.
        let tally = |plane: &[u32]| {
            let mut t: BTreeMap<u32, (u64, f64, f64)> = BTreeMap::new();
            for (i, &l) in plane.iter().enumerate() {
                if l != 0 {
                    let e = t.entry(l).or_default();
                    e.0 += 1;
                    e.1 += (i as u32 % w) as f64;
                    e.2 += (i as u32 / w) as f64;
                }
            }
            t
        };
        let near = |a: f64, b: &str| (a - b.parse::<f64>().unwrap()).abs() < 0.011;
        let mine =
            |r: &&csv::StringRecord| &r[0] == file && r[1].parse::<usize>().unwrap() == index;
        // Candidates.
        let by_label = tally(&cand);
        let field_rows: Vec<_> = rows.iter().filter(mine).collect();
        assert_eq!(field_rows.len(), by_label.len(), "{file}");
        let mut counted = 0;
        // A row's object, by its label in column `key`, has the row's
        // area (column `area`) and centroid (columns `x`, `x + 1`).
        let agrees = |by: &BTreeMap<u32, (u64, f64, f64)>, r: &csv::StringRecord, key, area, x| {
            let (n, sx, sy) = by[&r[key].parse::<u32>().unwrap()];
            assert_eq!(n, r[area].parse::<u64>().unwrap(), "{file}: {r:?}");
            assert!(
                near(sx / n as f64, &r[x]) && near(sy / n as f64, &r[x + 1]),
                "{r:?}"
            );
        };
        for r in &field_rows {
            agrees(&by_label, r, 2, 7, 5);
            assert_eq!(&r[4] == "ok", &r[3] != "0", "{r:?}");
            counted += usize::from(&r[4] == "ok");
        }
        // Follicles.
        let by_id = tally(&foll);
        let field_follicles: Vec<_> = follicle_rows.iter().filter(mine).collect();
        assert_eq!(by_id.len(), field_follicles.len(), "{file}");
        assert_eq!(counted, field_follicles.len(), "{file}");
        assert!(counted > 0, "{file}: no follicle to check");
        for r in &field_follicles {
            agrees(&by_id, r, 2, 5, 3);
        }
        // Sox9+ nuclei: as many as reported, each inside a DAPI object.
        let sox9_labels = tally(&sox9);
        assert_eq!(
            sox9_labels.len() as u64,
            field["sox9_nuclei"].as_u64().unwrap()
        );
        assert_eq!(
            sox9_labels.keys().last().copied(),
            Some(sox9_labels.len() as u32)
        );
        assert!(sox9.iter().zip(&nuclei).all(|(&s, &n)| s == 0 || n != 0));
        fields += 1;
    }
    assert_eq!(fields, 4);
}

/// A stitched mosaic pads an irregular piece of skin with zeros: the
/// density per mm² of tissue leaves the padding out, the density per mm²
/// of field does not.
#[test]
fn density_per_tissue_leaves_a_mosaics_padding_out() {
    let tmp = tempfile::tempdir().unwrap();
    let side = 480;
    let mut r = render(&Scene::new(side, side, 0.8, 4242));
    // The right 60 % and a bottom band: no tissue, zeros (padding).
    for plane in r.slices[0].iter_mut() {
        for (i, v) in plane.iter_mut().enumerate() {
            let (x, y) = (i % side, i / side);
            if x >= side * 2 / 5 || y >= side * 4 / 5 {
                *v = 0.0;
            }
        }
    }
    let path = tmp.path().join("padded.tif");
    write::imagej_hyperstack(&path, &r, SampleType::U16(4095), Comp::Lzw).unwrap();
    let out = tmp.path().join("out");
    assert_exit(&count(&out, &[&path], &[]), 0);
    let row = &fields(&out)[&(path.to_string_lossy().replace('\\', "/"), 0)];
    let num = |i: usize| row[i].parse::<f64>().unwrap();
    let field_mm2 = (side as f64 * 0.8).powi(2) / 1e6;
    // The tissue is 0.4 × 0.8 of the field; the blocks (25 µm) along its
    // two cut edges count whole: at most one block more on each.
    let (tw, th) = (side as f64 * 0.8 * 0.4, side as f64 * 0.8 * 0.8);
    let (least, most) = (tw * th / 1e6, (tw + 25.0) * (th + 25.0) / 1e6);
    assert!(
        (least * 0.98..=most).contains(&num(10)),
        "tissue {} mm², expected {least}..{most}",
        num(10)
    );
    let follicles = num(6);
    assert!(follicles > 0.0);
    assert!((num(7) - follicles / field_mm2).abs() < 0.01);
    assert!((num(11) - follicles / num(10)).abs() < 0.01 * num(11));
}

/// With `--overlay`, a field at least two 250 µm bins wide and high gets a
/// density map beside its overlay, linked from the report; a smaller one
/// does not.
#[test]
fn large_fields_get_a_density_map_with_their_overlay() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for (name, side) in [("large.tif", 700), ("small.tif", 400)] {
        let r = render(&Scene::new(side, side, 0.8, 77));
        write::imagej_hyperstack(&input.join(name), &r, SampleType::U16(4095), Comp::Lzw).unwrap();
    }
    let out = tmp.path().join("out");
    assert_exit(&count(&out, &[&input], &["--overlay"]), 0);
    let json = run_json(&out);
    let map = |file: &str| {
        json["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file"] == file)
            .unwrap()["density_map"]
            .clone()
    };
    assert_eq!(map("large.tif"), "overlays/large.tif.density.png");
    assert!(map("small.tif").is_null());
    let png = image::open(out.join("overlays/large.tif.density.png")).unwrap();
    // 560 µm: two bins of 40 px each way, the second 310 µm (50 px).
    assert_eq!(png.height(), 90 + 14 + 26);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("href=\"overlays/large.tif.density.png\""));
}

/// An OME-Zarr folder among the inputs is one input, not walked into (a
/// chunk named like a TIFF is not read); one that is not an OME-Zarr
/// image is an error row saying why, and the run goes on.
#[test]
fn an_ome_zarr_folder_is_one_input() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let zarr = input.join("piece.ome.zarr");
    std::fs::create_dir_all(zarr.join("0/0/0")).unwrap();
    std::fs::write(zarr.join(".zattrs"), b"{\"multiscales\": []}").unwrap();
    std::fs::write(zarr.join("0/0/0/0.tif"), b"chunk").unwrap();
    std::fs::copy(fixtures().join("rgb8_lzw.tif"), input.join("a.tif")).unwrap();
    let out = tmp.path().join("out");
    let o = count(&out, &[&input], &[]);
    assert_exit(&o, 1);
    let rows = fields(&out);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let bad = &rows[&("piece.ome.zarr".to_string(), 0)];
    assert_eq!(&bad[8], "error");
    assert!(
        bad[9].contains("cannot read OME-Zarr: not a Zarr group"),
        "{bad:?}"
    );
    // Given by name, it is one input too.
    let alone = count(&tmp.path().join("out2"), &[&zarr], &[]);
    assert_exit(&alone, 1);
}

/// A plane over `max_plane_pixels` (a stitched mosaic saved as a tiled,
/// pyramidal OME-TIFF) is analysed in blocks read a window at a time,
/// with the tables of the whole-plane analysis, byte for byte, and so is
/// the same mosaic saved as OME-Zarr; its density map and a (downscaled)
/// overlay are drawn.
#[test]
fn a_mosaic_over_the_plane_limit_is_analysed_in_blocks_as_a_whole() {
    use follicount::synth::confocal::{render as broad, Setting};
    use follicount::synth::tiled::{tiled_ome_tiff, TiledOptions};
    use follicount::synth::zarr::{ome_zarr, ZarrOptions};
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let side = 1100;
    let mut s = Setting::draw(side, side, 21);
    s.depth = 1;
    s.pixel_size_um = 0.6;
    let r = broad(&s).rendered;
    let planes: Vec<Vec<u16>> = (0..3)
        .map(|c| follicount::synth::quantize_u16(&r.slices[0][c], 4095))
        .collect();
    let refs: Vec<&[u16]> = planes.iter().map(Vec::as_slice).collect();
    let o = TiledOptions {
        tile: 256,
        levels: 2,
        deflate: true,
        pixel_size_um: 0.6,
        names: vec!["P-cadherin".into(), "Sox9".into(), "DAPI".into()],
    };
    tiled_ome_tiff(&input.join("mosaic.ome.tif"), &refs, (side, side), &o).unwrap();
    // The same mosaic as OME-Zarr (NGFF 0.5, sharded chunks).
    let z = ZarrOptions {
        chunk: 128,
        shard: 2,
        levels: 2,
        pixel_size_um: 0.6,
        names: o.names.clone(),
    };
    let zarr = tmp.path().join("zarr");
    ome_zarr(&zarr.join("mosaic.ome.zarr"), &refs, (side, side), &z).unwrap();
    let whole = tmp.path().join("whole");
    assert_exit(&count(&whole, &[&input], &[]), 0);
    // 1100² is over a 1000² limit: blocks of 300 px cores.
    let config = tmp.path().join("blocks.toml");
    std::fs::write(&config, "max_plane_pixels = 1000000\nblock_px = 300\n").unwrap();
    let blocks = tmp.path().join("blocks");
    let c = config.to_string_lossy().into_owned();
    assert_exit(
        &count(&blocks, &[&input], &["--config", &c, "--overlay"]),
        0,
    );
    // The OME-Zarr, in the same blocks: the same tables under its name.
    let zarr_blocks = tmp.path().join("zarr_blocks");
    assert_exit(&count(&zarr_blocks, &[&zarr], &["--config", &c]), 0);
    for table in ["fields.csv", "follicles.csv"] {
        let a = std::fs::read_to_string(whole.join(table)).unwrap();
        let b = std::fs::read_to_string(blocks.join(table)).unwrap();
        assert_eq!(a, b, "{table}");
        let z = std::fs::read_to_string(zarr_blocks.join(table)).unwrap();
        assert_eq!(a.replace("mosaic.ome.tif", "mosaic.ome.zarr"), z, "{table}");
    }
    assert!(
        std::fs::read_to_string(whole.join("follicles.csv"))
            .unwrap()
            .lines()
            .count()
            > 5
    );
    assert!(blocks.join("overlays/mosaic.ome.tif.density.png").exists());
    // Its overlay: the composite at full size (under 2048 px), follicles
    // as yellow circles.
    let png = image::open(blocks.join("overlays/mosaic.ome.tif.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(png.dimensions(), (side as u32, side as u32));
    assert!(png.pixels().filter(|p| p.0 == [255, 255, 0]).count() > 100);
}

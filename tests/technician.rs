//! The technician's experience: overlays, report.html, config files, the
//! run record fed back, progress lines, help text.

mod common;
use common::{assert_exit, fixtures};

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use follicount::follicle::Verdict;
use follicount::io::{LoadOptions, TiffSource};
use follicount::params::Params;
use follicount::pipeline::analyze_with_labels;
use follicount::report::overlay::{is_boundary, overlay_size, scaled_labels, COUNTED};

fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_follicount"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn os<'a>(v: &'a [&'a str]) -> Vec<&'a std::ffi::OsStr> {
    v.iter().map(std::ffi::OsStr::new).collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn overlays_outline_exactly_the_counted_follicles() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let fx = fixtures();
    assert_exit(&run(&os(&["count", s(&fx), "-o", s(&out), "--overlay"])), 1);
    let mut r = csv::Reader::from_path(out.join("fields.csv")).unwrap();
    let mut checked = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        if &rec[8] != "ok" {
            continue;
        }
        let (file, field): (&str, usize) = (&rec[0], rec[1].parse().unwrap());
        let (w, h): (u32, u32) = (rec[2].parse().unwrap(), rec[3].parse().unwrap());
        let multi = file == "ome_two_series.ome.tif";
        let png = if multi {
            format!("overlays/{file}.field{field}.png")
        } else {
            format!("overlays/{file}.png")
        };
        let img = image::open(out.join(&png))
            .unwrap_or_else(|e| panic!("{png}: {e}"))
            .to_rgb8();
        assert_eq!(img.dimensions(), overlay_size(w, h), "{png}");

        // Recompute the labels through the library and compare.
        let mut src = TiffSource::open(&fx.join(file)).unwrap();
        let f = src.load_field(field, &LoadOptions::default()).unwrap();
        let (a, labels) = analyze_with_labels(&f, &Params::default());
        let labels = scaled_labels(&labels, img.dimensions());
        let counted: HashSet<u32> = a.follicles.iter().map(|o| o.label).collect();
        assert_eq!(a.follicles.len(), rec[6].parse::<usize>().unwrap());
        let mut per_follicle: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
        for (x, y, p) in img.enumerate_pixels() {
            let l = labels.get_pixel(x, y)[0];
            let on_boundary = counted.contains(&l) && is_boundary(&labels, x, y);
            if *p == COUNTED {
                assert!(
                    on_boundary,
                    "{png}: outline pixel ({x},{y}) is not on a counted follicle's boundary"
                );
            }
            if on_boundary {
                let e = per_follicle.entry(l).or_default();
                e.0 += 1;
                e.1 += usize::from(*p == COUNTED);
            }
        }
        for (l, (boundary, drawn)) in per_follicle {
            // Numbers may cover part of an outline, not most of it.
            assert!(
                drawn * 10 >= boundary * 7,
                "{png}: follicle {l} outlined on {drawn}/{boundary} px"
            );
        }
        assert_eq!(
            counted.len(),
            a.follicles
                .iter()
                .filter(|o| o.verdict == Verdict::Follicle)
                .count()
        );
        checked += 1;
    }
    assert_eq!(checked, 15);
}

#[test]
fn large_fields_are_downscaled() {
    use follicount::synth::write::{plain_pages, Options, SampleType};
    use follicount::synth::{render, Scene};
    let mut scene = Scene::new(2400, 1200, 1.0, 77);
    (
        scene.follicles,
        scene.pcad_decoys,
        scene.sox9_decoys,
        scene.specks,
    ) = (20, 3, 3, 3);
    let r = render(&scene);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("wide.tif");
    plain_pages(&file, &r, SampleType::U8, &Options::default()).unwrap();
    let out = tmp.path().join("out");
    assert_exit(
        &run(&os(&[
            "count",
            s(&file),
            "-o",
            s(&out),
            "--overlay",
            "--pixel-size",
            "1",
        ])),
        0,
    );
    // An absolute input path lands under overlays/ too, never beside the input.
    let pngs: Vec<PathBuf> = walkdir::WalkDir::new(out.join("overlays"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    // The overlay, and (the field is 4096 × 2048 µm) its density map.
    assert_eq!(pngs.len(), 2, "{pngs:?}");
    assert!(pngs
        .iter()
        .any(|p| p.to_string_lossy().ends_with(".density.png")));
    let pngs: Vec<PathBuf> = pngs
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".density.png"))
        .collect();
    assert!(!tmp.path().join("wide.tif.png").exists());
    let png = &pngs[0];
    let img = image::open(png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (2048, 1024));
    assert!(img.pixels().filter(|p| **p == COUNTED).count() > 1000);
}

/// Attribute `name` of every element matching `selector` (each must have it).
fn attrs(dom: &tl::VDom, selector: &str, name: &str) -> Vec<String> {
    let p = dom.parser();
    dom.query_selector(selector)
        .unwrap()
        .map(|node| {
            let tag = node.get(p).unwrap().as_tag().unwrap();
            let value = tag.attributes().get(name).flatten();
            value
                .unwrap_or_else(|| panic!("{selector} without {name}"))
                .as_utf8_str()
                .to_string()
        })
        .collect()
}

#[test]
fn report_html_has_a_row_per_field_and_lists_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_exit(
        &run(&os(&["count", s(&fixtures()), "-o", s(&out), "--overlay"])),
        1,
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<script") && !html.contains("src=\"http"));
    let dom = tl::parse(&html, tl::ParserOptions::default()).expect("valid HTML");
    let p = dom.parser();
    let table = dom
        .get_element_by_id("fields")
        .unwrap()
        .get(p)
        .unwrap()
        .as_tag()
        .unwrap();
    let n_rows = table.query_selector(p, "tr.ok").unwrap().count()
        + table.query_selector(p, "tr.error").unwrap().count();
    let fields = std::fs::read_to_string(out.join("fields.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(n_rows, fields);
    let list = dom
        .get_element_by_id("failures")
        .unwrap()
        .get(p)
        .unwrap()
        .as_tag()
        .unwrap();
    let failures: Vec<String> = list
        .query_selector(p, "li")
        .unwrap()
        .map(|h| h.get(p).unwrap().inner_text(p).to_string())
        .collect();
    assert_eq!(failures.len(), 5);
    for bad in [
        "bad/empty.tif",
        "bad/garbage.tif",
        "bad/no_pixel_size.tif",
        "bad/truncated.tif",
        "bad/two_channels.tif",
    ] {
        assert!(
            failures.iter().any(|f| f.contains(bad)),
            "{bad} not listed: {failures:?}"
        );
    }
    let thumbs = table.query_selector(p, "img.thumb").unwrap().count();
    assert_eq!(thumbs, fields - 5);
    // Thumbnails travel inside the page, large enough to see outlines,
    // and are shown at that size (the page's style once shrank them to 64 px).
    assert!(
        html.contains("img.thumb{max-width:320px"),
        "thumbnail style"
    );
    for src in attrs(&dom, "img.thumb", "src") {
        let b64 = src
            .strip_prefix("data:image/jpeg;base64,")
            .unwrap_or_else(|| panic!("not a data URI: {}", &src[..40.min(src.len())]));
        use base64::Engine as _;
        let jpeg = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let thumb = image::load_from_memory(&jpeg).unwrap();
        assert!((224..=320).contains(&thumb.width()), "{}", thumb.width());
    }
    // Each links to its full overlay.
    let mut n = 0;
    for link in attrs(&dom, "a", "href") {
        assert!(out.join(&link).is_file(), "{link} missing");
        n += 1;
    }
    assert_eq!(n, fields - 5);
    let svg = dom
        .get_element_by_id("areas")
        .unwrap()
        .get(p)
        .unwrap()
        .as_tag()
        .unwrap();
    assert_eq!(svg.query_selector(p, "rect.bar").unwrap().count(), 20);
    let total = dom
        .get_element_by_id("n-follicles")
        .unwrap()
        .get(p)
        .unwrap()
        .inner_text(p)
        .to_string();
    let sum: usize = csv::Reader::from_path(out.join("fields.csv"))
        .unwrap()
        .records()
        .map(|r| r.unwrap()[6].parse::<usize>().unwrap_or(0))
        .sum();
    assert_eq!(total, sum.to_string());
}

#[test]
fn config_round_trip_overrides_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&os(&["config", "--print-defaults"]));
    assert_exit(&out, 0);
    let cfg = tmp.path().join("lab.toml");
    std::fs::write(&cfg, &out.stdout).unwrap();
    let input = fixtures().join("rgb8_lzw.tif");
    let params_of = |dir: &Path| -> serde_json::Value {
        let j: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
        j["parameters"].clone()
    };
    let a = tmp.path().join("a");
    assert_exit(
        &run(&os(&["count", s(&input), "-o", s(&a), "--config", s(&cfg)])),
        0,
    );
    assert_eq!(
        params_of(&a),
        serde_json::to_value(Params::default()).unwrap()
    );
    // A flag beats the file.
    let b = tmp.path().join("b");
    assert_exit(
        &run(&os(&[
            "count",
            s(&input),
            "-o",
            s(&b),
            "--config",
            s(&cfg),
            "--min-sox9",
            "5",
        ])),
        0,
    );
    assert_eq!(params_of(&b)["min_sox9_nuclei"], 5);
    // Unknown keys and bad values are errors naming the key.
    for (text, key) in [
        ("min_sox9 = 4\n", "min_sox9"),
        ("max_area_um2 = \"huge\"\n", "max_area_um2"),
        ("threshold_dapi = \"magic\"\n", "threshold_dapi"),
        ("split_neck_ratio = 1.5\n", "split_neck_ratio"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let out = run(&os(&["count", s(&input), "-o", s(&b), "--config", s(&cfg)]));
        assert_exit(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(key) && err.lines().count() == 1,
            "{text}: {err}"
        );
    }
}

#[test]
fn run_json_fed_back_reproduces_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixtures();
    let a = tmp.path().join("a");
    // A run with non-default settings…
    let first = run(&os(&[
        "count",
        s(&fx),
        "-o",
        s(&a),
        "--min-sox9",
        "5",
        "--threshold",
        "pcad=otsu,dapi=li",
        "--min-area",
        "300",
    ]));
    assert_exit(&first, 1);
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("run.json")).unwrap()).unwrap();
    assert!(j["inputs"].as_array().unwrap().iter().all(|i| i["blake3"]
        .as_str()
        .map_or(i["file"].as_str().unwrap().starts_with("bad/"), |h| h.len()
            == 64)));
    // Each readable file's size and hash are its content's (taken from the
    // decoder's reads, whatever layout and however far decoding got).
    for i in j["inputs"].as_array().unwrap() {
        let Ok(data) = std::fs::read(i["path"].as_str().unwrap()) else {
            assert!(i["blake3"].is_null(), "{i}");
            continue;
        };
        assert_eq!(i["bytes"].as_u64(), Some(data.len() as u64), "{i}");
        assert_eq!(
            i["blake3"].as_str(),
            Some(blake3::hash(&data).to_hex().as_str()),
            "{i}"
        );
    }
    assert!(j["started"].as_str().unwrap().ends_with('Z'));
    // …reproduced from its run.json alone.
    let b = tmp.path().join("b");
    assert_exit(
        &run(&os(&[
            "count",
            s(&fx),
            "-o",
            s(&b),
            "--config",
            s(&a.join("run.json")),
        ])),
        1,
    );
    for name in ["fields.csv", "follicles.csv"] {
        assert_eq!(
            std::fs::read(a.join(name)).unwrap(),
            std::fs::read(b.join(name)).unwrap(),
            "{name}"
        );
    }
    // And it differs from a default run, so the parameters mattered.
    let c = tmp.path().join("c");
    assert_exit(&run(&os(&["count", s(&fx), "-o", s(&c)])), 1);
    assert_ne!(
        std::fs::read(a.join("follicles.csv")).unwrap(),
        std::fs::read(c.join("follicles.csv")).unwrap()
    );
}

#[test]
fn progress_lines_only_when_asked_and_a_summary_always() {
    let tmp = tempfile::tempdir().unwrap();
    let input = fixtures().join("rgb8_lzw.tif");
    let o = tmp.path().join("o");
    let quiet = run(&os(&["count", s(&input), "-o", s(&o)]));
    let err = String::from_utf8_lossy(&quiet.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("1 fields, 8 follicles, 0 failed"), "{err}");
    let verbose = run(&os(&[
        "count",
        s(&input),
        "-o",
        s(&o),
        "--force",
        "--verbose",
    ]));
    let err = String::from_utf8_lossy(&verbose.stderr);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err
        .lines()
        .next()
        .unwrap()
        .contains("rgb8_lzw.tif: 1 field(s), 8 follicles, 0 failed"));
}

#[test]
fn help_reads_like_a_man_page() {
    for sub in ["count", "check", "score", "config"] {
        let out = run(&os(&[sub, "--help"]));
        assert_exit(&out, 0);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Example"), "{sub}: no examples");
    }
    let text = String::from_utf8_lossy(&run(&os(&["count", "--help"])).stdout).to_string();
    for unit in [
        "µm²",
        "µm",
        "[default: 400]",
        "[default: 15000]",
        "[default: follicount-out]",
    ] {
        assert!(text.contains(unit), "count --help lacks {unit}");
    }
}

/// Names with `#`, `%` and spaces link to their overlays; fields read in
/// the default channel order (no names in the file) stand out, with the
/// mapping shown.
#[test]
fn report_links_survive_odd_names_and_flags_the_default_channel_order() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("in");
    std::fs::create_dir(&d).unwrap();
    std::fs::copy(
        fixtures().join("plain_multipage_packbits.tif"),
        d.join("day 1#2 50%.tif"),
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("ome_two_series.ome.tif"),
        d.join("named.ome.tif"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    assert_exit(&run(&os(&["count", s(&d), "-o", s(&out), "--overlay"])), 0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let dom = tl::parse(&html, tl::ParserOptions::default()).expect("valid HTML");
    let p = dom.parser();
    let mut links = Vec::new();
    for link in attrs(&dom, "a", "href") {
        let path = percent_encoding::percent_decode_str(&link)
            .decode_utf8()
            .unwrap()
            .to_string();
        assert!(out.join(&path).is_file(), "{link} -> {path} missing");
        links.push(link);
    }
    assert!(
        links
            .iter()
            .any(|l| l.contains("day%201%232%2050%25.tif.png")),
        "{links:?}"
    );
    assert_eq!(links.len(), 3);
    let warn: Vec<String> = dom
        .query_selector("tr.warn")
        .unwrap()
        .map(|t| t.get(p).unwrap().inner_text(p).to_string())
        .collect();
    assert_eq!(warn.len(), 1, "{warn:?}");
    assert!(
        warn[0].contains("day 1#2 50%.tif") && warn[0].contains("default order"),
        "{warn:?}"
    );
    assert!(
        html.contains("dapi,pcad,sox9 (names)"),
        "the OME file's mapping"
    );
}

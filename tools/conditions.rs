//! The broad simulated set and its per-condition table (issue 17).
//!
//! ```text
//! conditions write DIR [count] [first_seed] [side]
//!     fields drawn by `synth::confocal` (every setting from its range),
//!     as 12-bit ImageJ hyperstacks and OME-TIFFs (DAPI first, named
//!     channels), with DIR/truth.csv (for `follicount score`) and
//!     DIR/details.csv (each follicle's conditions)
//! conditions score DIR OUT [OUT…]
//!     F1, precision, recall and count error per condition (dim,
//!     membrane, touching, curved, pixel-size band, z-stack) of each
//!     output folder — `follicount count` or `skimage_peer.py --out` —
//!     as a Markdown table
//! ```
//!
//! Deterministic: the same arguments give byte-identical files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use follicount::score::read_results;
use follicount::synth::confocal::{render, score_conditions, Answer, Setting, TrueFollicle};
use follicount::synth::write::{imagej_hyperstack, ome_tiff, Comp, OmeSeries, SampleType};
use rayon::prelude::*;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("write") if args.len() >= 2 => {
            let n = args.get(2).map_or(Ok(200), |s| s.parse())?;
            let first = args.get(3).map_or(Ok(70_000), |s| s.parse())?;
            let side = args.get(4).map_or(Ok(512), |s| s.parse())?;
            write(Path::new(&args[1]), n, first, side)
        }
        Some("score") if args.len() >= 3 => {
            let details = read_details(&Path::new(&args[1]).join("details.csv"))?;
            let mut table = String::new();
            for out in &args[2..] {
                table.push_str(&score(&details, Path::new(out))?);
                table.push('\n');
            }
            print!("{table}");
            Ok(())
        }
        _ => Err("usage: conditions write DIR [count] [first_seed] [side] | conditions score DIR OUT [OUT…]".into()),
    }
}

/// One field's truth as written: its follicles, pixel size and depth.
struct Details {
    follicles: Vec<TrueFollicle>,
    pixel_size_um: f64,
    depth: usize,
}

fn write(dir: &Path, n: u64, first: u64, side: usize) -> Res<()> {
    std::fs::create_dir_all(dir)?;
    let rows: Vec<(String, String)> = (0..n)
        .into_par_iter()
        .map(|i| -> Res<(String, String)> {
            let c = render(&Setting::draw(side, side, first + i));
            let r = &c.rendered;
            let (name, path): (String, PathBuf);
            if i % 2 == 0 {
                name = format!("field_{i:04}.tif");
                path = dir.join(&name);
                imagej_hyperstack(&path, r, SampleType::U16(4095), Comp::Deflate)?;
            } else {
                name = format!("field_{i:04}.ome.tif");
                path = dir.join(&name);
                let series = OmeSeries {
                    scene: r,
                    order: [2, 1, 0],
                    names: ["DAPI", "SOX9", "Pcad"],
                };
                ome_tiff(&path, &[series], 4095, Comp::Lzw)?;
            }
            let (mut truth, mut details) = (String::new(), String::new());
            for f in &c.follicles {
                writeln!(truth, "{name},0,{:.2},{:.2}", f.x, f.y)?;
                writeln!(
                    details,
                    "{name},0,{:.2},{:.2},{},{},{},{},{},{:.4},{}",
                    f.x,
                    f.y,
                    f.area_px,
                    u8::from(f.dim),
                    u8::from(f.membrane),
                    u8::from(f.touching),
                    u8::from(f.curved),
                    r.pixel_size_um,
                    r.slices.len()
                )?;
            }
            if c.follicles.is_empty() {
                // A field with no follicle still has a truth: none.
                writeln!(
                    details,
                    "{name},0,,,,,,,,{:.4},{}",
                    r.pixel_size_um,
                    r.slices.len()
                )?;
            }
            Ok((truth, details))
        })
        .collect::<Res<_>>()?;
    let mut truth = String::from("file,field,x,y\n");
    let mut details =
        String::from("file,field,x,y,area_px,dim,membrane,touching,curved,pixel_size_um,depth\n");
    for (t, d) in rows {
        truth.push_str(&t);
        details.push_str(&d);
    }
    std::fs::write(dir.join("truth.csv"), truth)?;
    std::fs::write(dir.join("details.csv"), details)?;
    println!("{n} fields in {}", dir.display());
    Ok(())
}

fn read_details(path: &Path) -> Res<BTreeMap<(String, usize), Details>> {
    let mut out: BTreeMap<(String, usize), Details> = BTreeMap::new();
    let mut r = csv::Reader::from_path(path)?;
    for rec in r.records() {
        let rec = rec?;
        let key = (rec[0].to_string(), rec[1].parse()?);
        let d = out.entry(key).or_insert(Details {
            follicles: Vec::new(),
            pixel_size_um: rec[9].parse()?,
            depth: rec[10].parse()?,
        });
        if rec[2].is_empty() {
            continue;
        }
        let flag = |i: usize| &rec[i] == "1";
        d.follicles.push(TrueFollicle {
            x: rec[2].parse()?,
            y: rec[3].parse()?,
            area_px: rec[4].parse()?,
            dim: flag(5),
            membrane: flag(6),
            touching: flag(7),
            curved: flag(8),
        });
    }
    Ok(out)
}

fn score(details: &BTreeMap<(String, usize), Details>, out: &Path) -> Res<String> {
    let results = read_results(out)?;
    let detected: Vec<Vec<(f64, f64)>> = details
        .keys()
        .map(|key| {
            results.get(key).filter(|r| r.ok).map_or(Vec::new(), |r| {
                r.points.iter().map(|p| (p.x, p.y)).collect()
            })
        })
        .collect();
    let answers: Vec<Answer> = details
        .iter()
        .zip(&detected)
        .map(|((_, d), detected)| Answer {
            truth: &d.follicles,
            detected,
            pixel_size_um: d.pixel_size_um,
            depth: d.depth,
        })
        .collect();
    let mut t = format!(
        "{}\n\n| condition | follicles | F1 | precision | recall | count error |\n|---|---|---|---|---|---|\n",
        out.display()
    );
    for row in score_conditions(&answers, 15.0) {
        writeln!(
            t,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {} |",
            row.condition,
            row.truth,
            row.f1(),
            row.precision(),
            row.recall(),
            row.rel_count_error()
                .map_or("".into(), |e| format!("{:.1} %", 100.0 * e))
        )?;
    }
    Ok(t)
}

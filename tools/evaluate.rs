//! Accuracy of pipeline variants on rendered hard scenes, in memory (no
//! TIFF round trip): precision, recall, F1 and count error against the
//! generator's truth.
//!
//!     cargo run --release --features dev --bin evaluate -- [n_scenes] [first_seed]

use follicount::io::Field;
use follicount::params::Params;
use follicount::pipeline::analyze;
use follicount::score::match_points;
use follicount::segment::background::Method as Background;
use follicount::synth::{render, to_image, Scene};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(12);
    let first: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let scenes: Vec<_> = (first..first + n)
        .map(|seed| {
            let mut scene = Scene::hard(384, 384, 1.0, seed);
            let knobs = std::env::var("FOLLICOUNT_SCENE").unwrap_or_default();
            for k in knobs.split(',') {
                match k {
                    "nodim" => scene.dim = 0.0,
                    "flat" => scene.corner_illumination = 1.0,
                    "nohaze" => scene.haze = 1.0,
                    "sparse" => scene.dense_nuclei = false,
                    "noclusters" => (scene.pairs, scene.triplets) = (0, 0),
                    "noelong" => scene.elongated = 0.0,
                    _ => {}
                }
            }
            let r = render(&scene);
            let s = &r.slices[0];
            let chans = std::array::from_fn(|c| to_image(&s[c], r.width, r.height));
            (Field::from_planes(chans, 1.0).expect("same sizes"), r.truth)
        })
        .collect();
    let variants: Vec<(&str, Params)> = vec![
        ("default", Params::default()),
        (
            "no background",
            Params {
                background: Background::None,
                ..Params::default()
            },
        ),
        (
            "no split",
            Params {
                split: false,
                ..Params::default()
            },
        ),
        (
            "neither",
            Params {
                background: Background::None,
                split: false,
                ..Params::default()
            },
        ),
    ];
    let extra: Vec<(String, Params)> = std::env::var("FOLLICOUNT_EVAL")
        .unwrap_or_default()
        .split(';')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            (
                t.to_string(),
                Params::from_toml(&t.replace(',', "\n")).expect("valid params"),
            )
        })
        .collect();
    let variants: Vec<(&str, Params)> = variants
        .into_iter()
        .chain(extra.iter().map(|(n, p)| (n.as_str(), p.clone())))
        .collect();
    for (name, p) in variants {
        let (mut tp, mut det, mut tru, mut rel) = (0, 0, 0, 0.0);
        for (field, truth) in &scenes {
            let a = analyze(field, &p);
            let pts: Vec<(f64, f64)> = a.follicles.iter().map(|f| (f.x, f.y)).collect();
            tp += match_points(&pts, truth, 15.0);
            det += pts.len();
            tru += truth.len();
            rel += pts.len().abs_diff(truth.len()) as f64 / truth.len().max(1) as f64;
        }
        let (p_, r_) = (tp as f64 / det.max(1) as f64, tp as f64 / tru.max(1) as f64);
        println!(
            "{name:>14}: truth {tru} detected {det} matched {tp}  P {p_:.3} R {r_:.3} F1 {:.3}  mean rel count err {:.1}%",
            2.0 * p_ * r_ / (p_ + r_).max(1e-12),
            100.0 * rel / scenes.len() as f64
        );
    }
}

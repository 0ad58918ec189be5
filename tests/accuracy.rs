//! The pipeline against ground truth: random scenes of our first
//! generator, at several pixel sizes and with z-stacks (library level);
//! the broad simulator's fields, per condition; the shipped hard set and
//! the independent dev-sample (through the binary and `score`).

use follicount::io::Field;
use follicount::params::Params;
use follicount::pipeline::analyze;
use follicount::synth::confocal::{self, score_conditions, Answer, Setting};
use follicount::synth::{render, to_image, Scene};

fn project(r: &follicount::synth::Rendered) -> Field {
    let n = r.width * r.height;
    let chans: [follicount::FloatImage; 3] = std::array::from_fn(|c| {
        let mut max = vec![0f32; n];
        for s in &r.slices {
            for (m, v) in max.iter_mut().zip(&s[c]) {
                *m = m.max(*v);
            }
        }
        to_image(&max, r.width, r.height)
    });
    Field::from_planes(chans, r.pixel_size_um).unwrap()
}

#[test]
fn counts_equal_truth_on_random_scenes() {
    let mut misses = Vec::new();
    let mut total = 0;
    for seed in 100..124u64 {
        let px = [0.8, 1.0, 1.25][seed as usize % 3];
        let mut scene = Scene::new(256, 256, px, seed);
        scene.depth = 1 + (seed as usize % 2) * 2;
        let r = render(&scene);
        let a = analyze(&project(&r), &Params::default());
        total += r.truth.len();
        if a.follicles.len() != r.truth.len() {
            misses.push((seed, px, r.truth.len(), a.follicles.len()));
        }
        // Every counted follicle sits on a true one.
        for f in &a.follicles {
            let near = r
                .truth
                .iter()
                .any(|&(x, y)| (x - f.x).hypot(y - f.y) < 12.0 / px);
            assert!(
                near,
                "seed {seed}: follicle at ({:.1},{:.1}) matches no truth",
                f.x, f.y
            );
        }
    }
    assert!(total > 100, "too few follicles drawn: {total}");
    assert!(
        misses.is_empty(),
        "count differs from truth (seed, px, truth, got): {misses:?}"
    );
}

/// Runs `count` on `dir` with extra flags, then `score --json` against
/// `dir/truth.csv`; both must exit 0. Returns the score's JSON.
fn count_and_score(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: Vec<&std::ffi::OsStr>| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_follicount"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let mut count: Vec<&std::ffi::OsStr> = vec![
        "count".as_ref(),
        dir.as_os_str(),
        "-o".as_ref(),
        tmp.path().as_os_str(),
    ];
    count.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    run(count);
    let truth = dir.join("truth.csv");
    let out = run(vec![
        "score".as_ref(),
        tmp.path().as_os_str(),
        "--truth".as_ref(),
        truth.as_os_str(),
        "--json".as_ref(),
    ]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `count` on the shipped hard set with extra flags, then `score`
/// against the generator's truth; returns (F1, mean relative count error).
fn hard_set_score(extra: &[&str]) -> (f64, f64) {
    let fx = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hard");
    let j = count_and_score(&fx, extra);
    assert_eq!(j["fields"].as_array().unwrap().len(), 8);
    (
        j["f1"].as_f64().unwrap(),
        j["mean_rel_count_error"].as_f64().unwrap(),
    )
}

#[test]
fn hard_set_meets_the_accuracy_bounds() {
    let (f1, rel) = hard_set_score(&[]);
    assert!(f1 >= 0.97, "F1 {f1:.3} < 0.97");
    assert!(rel <= 0.03, "mean relative count error {rel:.3} > 3 %");
}

#[test]
fn background_correction_and_splitting_each_earn_their_place() {
    let (f1, rel) = hard_set_score(&[]);
    let (f1_no_bg, rel_no_bg) = hard_set_score(&["--background", "none"]);
    let (f1_no_split, _) = hard_set_score(&["--no-split"]);
    let (f1_neither, rel_neither) = hard_set_score(&["--background", "none", "--no-split"]);
    assert!(
        f1_no_bg <= f1 - 0.03 && rel_no_bg >= rel + 0.05,
        "background: {f1_no_bg:.3} vs {f1:.3}"
    );
    assert!(
        f1_no_split <= f1 - 0.3,
        "split: {f1_no_split:.3} vs {f1:.3}"
    );
    assert!(
        f1_neither <= f1 - 0.3 && rel_neither >= rel + 0.3,
        "neither: {f1_neither:.3} vs {f1:.3}"
    );
}

/// The broad simulator (`synth::confocal`: pixel sizes 0.4–1.0 µm,
/// z-stacks, membrane and solid stains, dim, touching and curved
/// follicles, 12-bit camera counts with hot pixels), a set small enough
/// for CI: 18 fields of 0.16 mm², a third in each pixel-size band (every
/// other setting drawn from its range); F1 overall and in every
/// condition at least the bounds below (README, Accuracy, has the
/// 200-field table these stand for).
#[test]
fn broad_simulator_meets_the_condition_bounds() {
    let fields: Vec<confocal::Confocal> = (0..18u64)
        .map(|i| {
            let px = [0.5, 0.7, 0.9][i as usize % 3];
            let side = (400.0 / px) as usize;
            let mut s = Setting::draw(side, side, 71_000 + i);
            s.pixel_size_um = px;
            confocal::render(&s)
        })
        .collect();
    let detected: Vec<Vec<(f64, f64)>> = fields
        .iter()
        .map(|c| {
            let a = analyze(&project(&c.rendered), &Params::default());
            a.follicles.iter().map(|f| (f.x, f.y)).collect()
        })
        .collect();
    let answers: Vec<Answer> = fields
        .iter()
        .zip(&detected)
        .map(|(c, d)| Answer {
            truth: &c.follicles,
            detected: d,
            pixel_size_um: c.rendered.pixel_size_um,
            depth: c.rendered.slices.len(),
        })
        .collect();
    let rows = score_conditions(&answers, 15.0);
    let table: Vec<String> = rows
        .iter()
        .map(|r| format!("{}: {} follicles, F1 {:.3}", r.condition, r.truth, r.f1()))
        .collect();
    eprintln!("{table:#?}");
    let all = &rows[0];
    assert_eq!(all.condition, "all");
    assert!(all.truth >= 120, "too few follicles drawn: {table:?}");
    assert!(all.f1() >= ALL_F1, "{table:?}");
    let rel = all.rel_count_error().unwrap_or(1.0);
    assert!(rel <= 0.10, "count error {rel:.3}: {table:?}");
    for r in &rows {
        assert!(
            r.truth >= 20,
            "{}: too few follicles: {table:?}",
            r.condition
        );
        assert!(r.f1() >= CONDITION_F1, "{}: {table:?}", r.condition);
    }
}

/// The bounds the CI-sized broad set is held to: issue 17's, 0.97
/// overall (today 0.989) and 0.95 in every condition (today 0.968 at
/// 0.8–1.0 µm the lowest).
const ALL_F1: f64 = 0.97;
const CONDITION_F1: f64 = 0.95;

/// The independent simulator's annotated sample (`../shared/dev-sample`,
/// beside the repository in CI): issue 17's bounds — F1 0.97, precision
/// 0.97, count error 3 %, every field (layout) 0.95.
#[test]
fn dev_sample_meets_todays_bounds() {
    let dev = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/dev-sample");
    if !dev.join("truth.csv").exists() {
        eprintln!("skipped: no {}", dev.display());
        return;
    }
    let j = count_and_score(&dev, &[]);
    let (f1, precision) = (j["f1"].as_f64().unwrap(), j["precision"].as_f64().unwrap());
    let rel = j["mean_rel_count_error"].as_f64().unwrap();
    assert!(f1 >= 0.97, "F1 {f1:.3}");
    assert!(precision >= 0.97, "precision {precision:.3}");
    assert!(rel <= 0.03, "mean relative count error {rel:.3}");
    for field in j["fields"].as_array().unwrap() {
        let f = field["f1"].as_f64().unwrap();
        assert!(f >= 0.95, "{}: F1 {f:.3}", field["file"]);
    }
}

/// The 3D analysis on the 3D simulator's stacks (12 of 256², every
/// setting drawn from its range), matched in 3D within 15 µm; and the
/// projection of the same stacks, which must do worse (it merges the
/// follicles stacked one over the other). Today: 3D F1 ≈ 0.98, the
/// projection ≈ 0.8 (the 100-stack table is in README).
#[test]
fn three_d_meets_its_bounds_and_beats_the_projection() {
    use follicount::io::Stack;
    use follicount::pipeline::analyze_stack;
    use follicount::score::{match_points_um, Point};
    use follicount::synth::stack::{render_stack, StackScene};
    use follicount::volume::{Volume, VoxelSize};
    let p = Params::default();
    let (mut tp3, mut det3, mut tp2, mut det2, mut truth) = (0, 0, 0, 0, 0);
    for seed in 0..12u64 {
        let scene = StackScene::drawn(256, 256, 4000 + seed);
        let r = render_stack(&scene);
        let (w, h, d) = (r.rendered.width, r.rendered.height, r.rendered.slices.len());
        let v = |c: usize| {
            let data = r
                .rendered
                .slices
                .iter()
                .flat_map(|s| s[c].iter().copied())
                .collect();
            Volume::from_vec(w, h, d, data).unwrap()
        };
        let voxel = VoxelSize {
            xy_um: scene.pixel_size_um,
            z_um: scene.z_step_um,
        };
        let stack = Stack::from_volumes([v(0), v(1), v(2)], voxel).unwrap();
        let truth_pts: Vec<Point> = r
            .follicles
            .iter()
            .map(|f| Point {
                x: f.x,
                y: f.y,
                z_um: Some(f.z_um),
            })
            .collect();
        let found = analyze_stack(&stack, &p).analysis.follicles;
        let pts: Vec<Point> = found
            .iter()
            .map(|f| Point {
                x: f.x,
                y: f.y,
                z_um: f.z_um,
            })
            .collect();
        tp3 += match_points_um(&pts, &truth_pts, 15.0, voxel.xy_um);
        det3 += pts.len();
        let flat = analyze(&stack.projected(), &p).follicles;
        let pts: Vec<Point> = flat
            .iter()
            .map(|f| Point {
                x: f.x,
                y: f.y,
                z_um: None,
            })
            .collect();
        tp2 += match_points_um(&pts, &truth_pts, 15.0, voxel.xy_um);
        det2 += pts.len();
        truth += truth_pts.len();
    }
    let f1 = |tp: usize, det: usize| 2.0 * tp as f64 / (det + truth) as f64;
    let (three_d, projection) = (f1(tp3, det3), f1(tp2, det2));
    eprintln!("3D F1 {three_d:.3} ({tp3}/{det3}/{truth}), projection F1 {projection:.3}");
    assert!(truth >= 40, "too few follicles to judge: {truth}");
    assert!(three_d >= 0.95, "3D F1 {three_d:.3}");
    assert!(
        three_d > projection + 0.05,
        "3D {three_d:.3} vs projection {projection:.3}"
    );
}

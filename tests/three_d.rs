//! The 3D analysis of z-stacks against invariants and the 2D analysis.

use follicount::io::{Field, Stack};
use follicount::params::Params;
use follicount::pipeline::{analyze, analyze_stack};
use follicount::synth::stack::{render_stack, StackScene};
use follicount::synth::{render, Rendered, Scene};
use follicount::volume::{Volume, VoxelSize};

/// The channels of a rendered scene as volumes, slices in order or
/// reversed.
fn volumes(r: &Rendered, reversed: bool) -> [Volume<f32>; 3] {
    [0, 1, 2].map(|c| {
        let mut data = Vec::new();
        let order: Vec<usize> = if reversed {
            (0..r.slices.len()).rev().collect()
        } else {
            (0..r.slices.len()).collect()
        };
        for z in order {
            data.extend_from_slice(&r.slices[z][c]);
        }
        Volume::from_vec(r.width, r.height, r.slices.len(), data).unwrap()
    })
}

fn stack(r: &Rendered, reversed: bool) -> Stack {
    let voxel = VoxelSize {
        xy_um: r.pixel_size_um,
        z_um: r.z_step_um.unwrap(),
    };
    Stack::from_volumes(volumes(r, reversed), voxel).unwrap()
}

#[test]
fn counts_do_not_change_when_z_is_flipped() {
    let p = Params::default();
    for seed in [11, 12, 13] {
        let mut scene = StackScene::drawn(192, 192, seed);
        scene.depth = 30;
        scene.stacked_pairs = scene.stacked_pairs.max(1);
        let r = render_stack(&scene);
        let down = analyze_stack(&stack(&r.rendered, false), &p).analysis;
        let up = analyze_stack(&stack(&r.rendered, true), &p).analysis;
        assert!(
            !down.follicles.is_empty(),
            "seed {seed}: nothing to compare"
        );
        assert_eq!(down.follicles.len(), up.follicles.len(), "seed {seed}");
        // The same follicles, at mirrored depths.
        let depth_um = r.rendered.slices.len() as f64 * scene.z_step_um;
        let mut a: Vec<(i64, i64, i64)> = down
            .follicles
            .iter()
            .map(|f| {
                (
                    f.x.round() as i64,
                    f.y.round() as i64,
                    f.z_um.unwrap().round() as i64,
                )
            })
            .collect();
        let mut b: Vec<(i64, i64, i64)> = up
            .follicles
            .iter()
            .map(|f| {
                let z = depth_um - scene.z_step_um - f.z_um.unwrap();
                (f.x.round() as i64, f.y.round() as i64, z.round() as i64)
            })
            .collect();
        a.sort();
        b.sort();
        for (u, v) in a.iter().zip(&b) {
            assert!(
                (u.0 - v.0).abs() <= 1 && (u.1 - v.1).abs() <= 1 && (u.2 - v.2).abs() <= 1,
                "seed {seed}: {u:?} vs {v:?}"
            );
        }
    }
}

#[test]
fn a_field_repeated_in_z_counts_as_the_field() {
    let p = Params::default();
    for seed in [21, 22, 23, 24] {
        let r = render(&Scene::new(256, 256, 0.8, seed));
        let field = Field::from_planes(
            [0, 1, 2].map(|c| follicount::synth::to_image(&r.slices[0][c], r.width, r.height)),
            r.pixel_size_um,
        )
        .unwrap();
        let flat = analyze(&field, &p);
        assert!(
            !flat.follicles.is_empty(),
            "seed {seed}: nothing to compare"
        );
        let mut deep = r.clone();
        deep.slices = vec![r.slices[0].clone(); 8];
        deep.z_step_um = Some(3.0);
        let three_d = analyze_stack(&stack(&deep, false), &p).analysis;
        assert_eq!(three_d.follicles.len(), flat.follicles.len(), "seed {seed}");
        // Every follicle at the same place, through the whole depth.
        for f in &three_d.follicles {
            assert!(
                flat.follicles
                    .iter()
                    .any(|g| (g.x - f.x).hypot(g.y - f.y) < 3.0),
                "seed {seed}: ({}, {}) not in 2D",
                f.x,
                f.y
            );
            assert!((f.z_um.unwrap() - 10.5).abs() < 0.5);
        }
    }
}

/// `count` on a stack: auto picks 3D with the file's z step, `--mode 2d`
/// the projection, no z step keeps auto in 2D and makes `--mode 3d` an
/// error row, `--z-step` supplies it; run.json and follicles.csv say so.
#[test]
fn the_binary_chooses_the_mode_and_says_why() {
    use follicount::synth::write::{imagej_hyperstack, Comp, SampleType};
    let tmp = tempfile::tempdir().unwrap();
    let mut scene = StackScene::drawn(160, 160, 31);
    scene.depth = 30;
    scene.z_step_um = 2.0;
    let mut r = render_stack(&scene).rendered;
    let with = tmp.path().join("with");
    let without = tmp.path().join("without");
    std::fs::create_dir_all(&with).unwrap();
    std::fs::create_dir_all(&without).unwrap();
    imagej_hyperstack(
        &with.join("s.tif"),
        &r,
        SampleType::U16(4095),
        Comp::Deflate,
    )
    .unwrap();
    r.z_step_um = None;
    imagej_hyperstack(
        &without.join("s.tif"),
        &r,
        SampleType::U16(4095),
        Comp::Deflate,
    )
    .unwrap();
    let run = |dir: &std::path::Path, extra: &[&str]| {
        let out = tmp
            .path()
            .join(format!("out{}", extra.join("_").replace(['-', ' '], "")));
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_follicount"))
            .arg("count")
            .arg(dir)
            .arg("-o")
            .arg(&out)
            .arg("--force")
            .args(extra)
            .output()
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
        let follicles = std::fs::read_to_string(out.join("follicles.csv")).unwrap();
        (o.status.code(), json["fields"][0].clone(), follicles)
    };
    let (code, f, rows) = run(&with, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(f["mode"], "3d", "{f}");
    assert_eq!(f["z_step_um"], 2.0);
    assert_eq!(f["mode_reason"], "30 slices × 2.000 µm");
    // Every follicle row ends with a depth and a volume.
    let body: Vec<&str> = rows.lines().skip(1).collect();
    assert!(!body.is_empty());
    assert!(body.iter().all(|l| !l.ends_with(",,")), "{rows}");
    let (_, f, rows) = run(&with, &["--mode", "2d"]);
    assert_eq!(f["mode"], "2d");
    assert!(rows.lines().skip(1).all(|l| l.ends_with(",,")), "{rows}");
    let (code, f, _) = run(&without, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(f["mode"], "2d");
    assert!(
        f["mode_reason"].as_str().unwrap().contains("--z-step"),
        "{f}"
    );
    let (code, f, _) = run(&without, &["--mode", "3d"]);
    assert_eq!(code, Some(1));
    assert!(f["error"].as_str().unwrap().contains("--z-step UM"), "{f}");
    let (code, f, _) = run(&without, &["--mode", "3d", "--z-step", "2"]);
    assert_eq!(code, Some(0));
    assert_eq!(f["mode"], "3d");
}

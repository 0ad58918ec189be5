//! A run split into shards (`count --shard I/N`) and merged (`merge`)
//! against one run over the same inputs, and every way a merge is refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_exit, bin, count, fixtures};
use follicount::synth::stack::{render_stack, StackScene};
use follicount::synth::write::{imagej_hyperstack, Comp, SampleType};
use follicount::synth::{render, Scene};

/// A generated set: 2D fields of several sizes, deep z-stacks analysed
/// in 3D, a shallow stack projected, and broken files.
fn generated(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    // 700 px at 0.8 µm: large enough for a density map with --overlay.
    for (k, side) in [160, 256, 200, 320, 192, 700].into_iter().enumerate() {
        let scene = Scene::new(side, side, 0.8, 700 + k as u64);
        let name = dir.join(if k % 2 == 0 {
            format!("field_{k}.tif")
        } else {
            format!("sub/field_{k}.tif")
        });
        imagej_hyperstack(&name, &render(&scene), SampleType::U16(4095), Comp::Lzw).unwrap();
    }
    for (k, depth) in [(0, 40), (1, 30), (2, 6)] {
        let mut scene = StackScene::drawn(128, 128, 900 + k);
        scene.depth = depth;
        let r = render_stack(&scene);
        let path = dir.join(format!("stack_{k}.tif"));
        imagej_hyperstack(&path, &r.rendered, SampleType::U16(4095), Comp::Deflate).unwrap();
    }
    let good = std::fs::read(dir.join("field_0.tif")).unwrap();
    std::fs::write(dir.join("cut.tif"), &good[..good.len() / 3]).unwrap();
    std::fs::write(dir.join("sub/noise.tif"), b"II*\0not really a tiff").unwrap();
    std::fs::write(dir.join("empty.tif"), b"").unwrap();
}

fn merge(shards: &[PathBuf], out: &Path, extra: &[&str]) -> Output {
    let mut c = bin();
    c.arg("merge").args(shards).arg("-o").arg(out).args(extra);
    c.output().expect("binary runs")
}

/// Runs every shard of `n` over `inputs` into `root/n-I`; returns the
/// folders.
fn shards(root: &Path, inputs: &[&Path], n: usize, extra: &[&str]) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| {
            let dir = root.join(format!("{n}-{i}"));
            let spec = format!("{i}/{n}");
            let mut args = vec!["--shard", spec.as_str(), "-j", "2"];
            args.extend_from_slice(extra);
            let o = count(&dir, inputs, &args);
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "shard {spec}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            dir
        })
        .collect()
}

#[track_caller]
fn assert_same_tables(one: &Path, merged: &Path, files: &[&str]) {
    for f in files {
        let a = std::fs::read(one.join(f)).unwrap();
        let b = std::fs::read(merged.join(f)).unwrap();
        assert!(a == b, "{f} differs between {one:?} and {merged:?}");
    }
}

fn run_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap()
}

#[test]
fn shards_merged_are_byte_identical_to_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("generated");
    generated(&gen);
    let fx = fixtures();
    let inputs: [&Path; 2] = [&fx, &gen];
    let flags = ["--save-masks"];
    let one = tmp.path().join("one");
    let o = count(&one, &inputs, &["-j", "2", "--save-masks", "--overlay"]);
    assert_exit(&o, 1); // the broken files
    let all = run_json(&one);
    let files = all["summary"]["files"].as_u64().unwrap() as usize;
    assert!(files > 25, "{files} files");
    // 3D and 2D fields and error rows are all in the set.
    let fields = all["fields"].as_array().unwrap();
    assert!(fields.iter().any(|f| f["mode"] == "3d"));
    assert!(fields.iter().any(|f| f["mode"] == "2d"));
    assert!(fields.iter().filter(|f| f["status"] == "error").count() >= 8);
    let tables = ["fields.csv", "follicles.csv", "masks/candidates.csv"];
    // N = files + 5: empty shards too.
    for n in [1, 2, 3, 7, files + 5] {
        let extra: &[&str] = if n == 3 {
            &["--save-masks", "--overlay"]
        } else {
            &flags
        };
        let parts = shards(tmp.path(), &inputs, n, extra);
        let merged = tmp.path().join(format!("merged-{n}"));
        let o = merge(&parts, &merged, &[]);
        assert_exit(&o, 1);
        assert_same_tables(&one, &merged, &tables);
        let rec = run_json(&merged);
        assert_eq!(rec["command"], "merge");
        assert_eq!(rec["summary"], all["summary"], "{n} shards");
        assert_eq!(rec["inputs"], all["inputs"], "{n} shards");
        let per = rec["shards"].as_array().unwrap();
        assert_eq!(per.len(), n);
        for (k, s) in per.iter().enumerate() {
            assert_eq!(s["shard"]["index"], k + 1);
            assert!(s["host"].as_str().is_some_and(|h| !h.is_empty()));
            assert!(s["elapsed_s"].as_f64().is_some() && s["peak_rss_mib"].as_f64().is_some());
        }
        let analysed: u64 = per.iter().map(|s| s["files"].as_u64().unwrap()).sum();
        assert_eq!(analysed as usize, files);
        // Every saved label image and overlay is in the merged folder.
        for f in rec["fields"].as_array().unwrap() {
            for m in f["masks"].as_array().unwrap() {
                assert!(merged.join(m.as_str().unwrap()).is_file(), "{m}");
            }
            for key in ["overlay", "density_map"] {
                if let Some(o) = f[key].as_str() {
                    assert!(merged.join(o).is_file(), "{o}");
                }
            }
        }
        if n == 3 {
            let overlays = fields.iter().filter(|f| f["overlay"].is_string()).count();
            assert!(overlays > 20);
            assert!(fields.iter().any(|f| f["density_map"].is_string()));
            assert!(std::fs::read_to_string(merged.join("report.html"))
                .unwrap()
                .contains("data:image/jpeg;base64"));
        }
        // Empty shards analyse nothing and still merge.
        if n > files {
            let empty = parts.last().unwrap();
            let text = std::fs::read_to_string(empty.join("fields.csv")).unwrap();
            assert_eq!(text.lines().count(), 1, "header only");
        }
    }
}

/// Three small files split in three, in `root/3-I`.
fn small_shards(root: &Path, extra: &[&str]) -> (PathBuf, Vec<PathBuf>) {
    let input = root.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for f in [
        "rgb8_lzw.tif",
        "plain_multipage_packbits.tif",
        "imagej_cyx_deflate.tif",
    ] {
        std::fs::copy(fixtures().join(f), input.join(f)).unwrap();
    }
    let parts = shards(root, &[&input], 3, extra);
    (input, parts)
}

#[track_caller]
fn refused(o: &Output, needle: &str) {
    assert_exit(o, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    let errors = err.lines().filter(|l| l.contains("error:")).count();
    assert_eq!(errors, 1, "one error line: {err}");
}

#[test]
fn merge_refuses_shards_that_do_not_make_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (input, parts) = small_shards(root, &[]);
    let out = root.join("merged");
    // Missing, duplicated.
    refused(&merge(&parts[..2], &out, &[]), "shard(s) 3/3 of 3 missing");
    let copy = root.join("copy-of-1");
    std::fs::create_dir(&copy).unwrap();
    for f in ["shard.jsonl", "run.json"] {
        std::fs::copy(parts[0].join(f), copy.join(f)).unwrap();
    }
    let twice = [parts.clone(), vec![copy.clone()]].concat();
    refused(&merge(&twice, &out, &[]), "shard 1/3 is given twice");
    // Foreign: other parameters, other inputs, another split.
    let other = root.join("other-params");
    assert_exit(
        &count(&other, &[&input], &["--shard", "2/3", "--min-sox9", "4"]),
        0,
    );
    let mixed = [parts[0].clone(), other.clone(), parts[2].clone()];
    refused(
        &merge(&mixed, &out, &[]),
        "other settings (min_sox9_nuclei 4 → 3)",
    );
    std::fs::copy(
        fixtures().join("bigtiff_deflate.tif"),
        root.join("extra.tif"),
    )
    .unwrap();
    let more = root.join("other-inputs");
    assert_exit(
        &count(
            &more,
            &[&input, &root.join("extra.tif")],
            &["--shard", "2/3"],
        ),
        0,
    );
    let mixed = [parts[0].clone(), more, parts[2].clone()];
    refused(&merge(&mixed, &out, &[]), "other input files (4 files");
    let split4 = root.join("split4");
    assert_exit(&count(&split4, &[&input], &["--shard", "2/4"]), 0);
    let mixed = [parts[0].clone(), split4, parts[2].clone()];
    refused(
        &merge(&mixed, &out, &[]),
        "it is shard 2/4 of a split into 4, not 3",
    );
    // Not a shard; an interrupted shard; a damaged shard.
    let plain = root.join("plain");
    assert_exit(&count(&plain, &[&input], &[]), 0);
    refused(
        &merge(&[plain], &out, &[]),
        "is not a finished shard (no shard.jsonl)",
    );
    let stopped = root.join("stopped");
    std::fs::create_dir(&stopped).unwrap();
    std::fs::write(stopped.join("journal.jsonl"), b"{}\n").unwrap();
    refused(&merge(&[stopped], &out, &[]), "is an interrupted shard");
    let damaged = root.join("damaged");
    std::fs::create_dir(&damaged).unwrap();
    let text = std::fs::read_to_string(parts[0].join("shard.jsonl")).unwrap();
    let header = text.lines().next().unwrap();
    std::fs::write(damaged.join("shard.jsonl"), format!("{header}\n")).unwrap();
    let mixed = [damaged, parts[1].clone(), parts[2].clone()];
    refused(&merge(&mixed, &out, &[]), "its records lack");
    let garbled = root.join("garbled");
    std::fs::create_dir(&garbled).unwrap();
    std::fs::write(garbled.join("shard.jsonl"), b"not json\n").unwrap();
    refused(&merge(&[garbled], &out, &[]), "has no readable header");
    // None of that wrote anything.
    assert!(!out.exists());
    // The output folder: not a shard, not another run's results unless
    // --force.
    refused(&merge(&parts, &parts[1], &[]), "is the shard");
    assert_exit(&merge(&parts, &out, &[]), 0);
    refused(&merge(&parts, &out, &[]), "already holds results");
    assert_exit(&merge(&parts, &out, &["--force"]), 0);
    // A refused --force merge leaves the earlier results alone.
    refused(&merge(&parts[..2], &out, &["--force"]), "missing");
    assert!(out.join("fields.csv").is_file());
}

#[test]
fn a_failed_shard_is_run_again_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (input, parts) = small_shards(root, &[]);
    let one = root.join("one");
    assert_exit(&count(&one, &[&input], &[]), 0);
    // Shard 2 is lost (its node failed): run it again and merge.
    std::fs::remove_dir_all(&parts[1]).unwrap();
    refused(
        &merge(&parts, &root.join("m"), &[]),
        "is not a finished shard",
    );
    assert_exit(&count(&parts[1], &[&input], &["--shard", "2/3"]), 0);
    assert_exit(&merge(&parts, &root.join("m"), &[]), 0);
    assert_same_tables(&one, &root.join("m"), &["fields.csv", "follicles.csv"]);
    // --resume on a finished shard: nothing to do; with another shard
    // named: refused.
    let o = count(&parts[1], &[&input], &["--shard", "2/3", "--resume"]);
    assert_exit(&o, 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to resume"));
    let o = count(&parts[1], &[&input], &["--shard", "3/3", "--resume"]);
    refused(&o, "--shard 2/3 → 3/3");
}

#[test]
fn shard_auto_reads_the_slurm_array() {
    let tmp = tempfile::tempdir().unwrap();
    let input = fixtures().join("rgb8_lzw.tif");
    let out = tmp.path().join("a");
    let mut c = bin();
    c.args(["count", "--shard", "auto", "-o"])
        .arg(&out)
        .arg(&input);
    for k in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_MAX",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_STEP",
        "SLURM_JOB_ID",
    ] {
        c.env_remove(k);
    }
    refused(&c.output().unwrap(), "needs a SLURM job array");
    let o = c
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SLURM_ARRAY_TASK_MIN", "4")
        .env("SLURM_ARRAY_TASK_MAX", "6")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .env("SLURM_JOB_ID", "77")
        .env("SLURM_ARRAY_JOB_ID", "70")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let rec = run_json(&out);
    assert_eq!(rec["shard"]["index"], 2);
    assert_eq!(rec["shard"]["count"], 3);
    assert_eq!(rec["shard"]["inputs_total"], 1);
    assert_eq!(rec["slurm"]["job_id"], "77");
    assert_eq!(rec["slurm"]["array_task_id"], "5");
    // One file, three shards: shard 2 is empty.
    assert_eq!(rec["summary"]["files"], 0);
    let bad = bin()
        .args(["count", "--shard", "4/3", "-o"])
        .arg(tmp.path().join("b"))
        .arg(&input)
        .output()
        .unwrap();
    assert_exit(&bad, 2);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not I/N with 1 ≤ I ≤ N"));
}

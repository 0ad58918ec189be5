//! Damaged files never panic the loader or the pipeline: they load, or they
//! fail with an error. (A quick, deterministic stand-in for fuzzing.)

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use follicount::io::{LoadOptions, TiffSource};
use follicount::params::Params;
use follicount::pipeline::analyze;
use follicount::synth::Rng;

fn exercise(path: &Path) -> Result<usize, String> {
    let mut src = TiffSource::open(path).map_err(|e| e.to_string())?;
    let mut n = 0;
    for i in 0..src.field_count() {
        if let Ok(field) = src.load_field(i, &LoadOptions::default()) {
            n += analyze(&field, &Params::default()).follicles.len();
        }
    }
    Ok(n)
}

#[test]
fn damaged_fixtures_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(7);
    let (mut loaded, mut failed) = (0, 0);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| follicount::batch::inputs::is_tiff_name(p))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6);
    for f in &files {
        let good = std::fs::read(f).unwrap();
        for round in 0..40 {
            let mut bytes = good.clone();
            if round % 4 == 0 {
                bytes.truncate(rng.int(0, good.len() - 1));
            } else {
                // Mostly the header and IFDs (first and last KiB), where
                // damage changes structure rather than pixel values.
                for _ in 0..rng.int(1, 8) {
                    let pos = match rng.int(0, 2) {
                        0 => rng.int(0, 1023.min(bytes.len() - 1)),
                        1 => rng.int(bytes.len().saturating_sub(1024), bytes.len() - 1),
                        _ => rng.int(0, bytes.len() - 1),
                    };
                    bytes[pos] = rng.next_u64() as u8;
                }
            }
            let path = tmp.path().join("damaged.tif");
            std::fs::write(&path, &bytes).unwrap();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            match catch_unwind(AssertUnwindSafe(|| exercise(&path))) {
                Ok(Ok(_)) => loaded += 1,
                Ok(Err(_)) => failed += 1,
                Err(_) => panic!("panic on {name} round {round}"),
            }
        }
    }
    // Both outcomes occur, so the damage is neither harmless nor total.
    assert!(loaded > 0 && failed > 0, "loaded {loaded}, failed {failed}");
}

#[test]
fn degenerate_sizes_analyse_without_panic() {
    use follicount::synth::write::{gray_pages, Options, SampleType};
    let tmp = tempfile::tempdir().unwrap();
    for (w, h) in [(1, 1), (1, 7), (9, 1), (2, 2)] {
        let plane = vec![1.0f32; w * h];
        let planes: Vec<&[f32]> = vec![&plane, &plane, &plane];
        let path = tmp.path().join(format!("{w}x{h}.tif"));
        gray_pages(&path, w, h, &planes, SampleType::U8, &Options::default()).unwrap();
        let got = catch_unwind(AssertUnwindSafe(|| exercise(&path)));
        assert_eq!(got.expect("no panic"), Ok(0), "{w}×{h}");
    }
}

/// Every file under fixtures/bad/ — the shipped broken files and any
/// input the fuzzer (fuzz/, target `load`) ever crashed on, minimized —
/// goes through exactly what the fuzz target does, without a panic.
#[test]
fn every_bad_fixture_and_fuzz_regression_input_fails_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad");
    let mut n = 0;
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        let name = entry.path().display().to_string();
        let run = || follicount::fuzzing::load_and_analyse(&bytes);
        assert!(
            catch_unwind(AssertUnwindSafe(run)).is_ok(),
            "panic on {name}"
        );
        // And through the file reader with the default limits.
        assert!(
            catch_unwind(AssertUnwindSafe(|| exercise(entry.path()))).is_ok(),
            "panic on {name}"
        );
        n += 1;
    }
    assert!(n >= 4, "{n} files");
}

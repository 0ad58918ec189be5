//! The steps of the fuzz target (`fuzz/fuzz_targets/load.rs`), kept in the
//! library so that `tests/robustness.rs` replays every input under
//! `fixtures/bad` through exactly what the fuzzer runs.

use crate::io::{Limits, LoadOptions, TiffSource};
use crate::params::Params;
use crate::pipeline::analyze;

/// Arbitrary bytes through the loader and the whole single-field
/// pipeline: open (IFD chain, tags, ImageJ/OME metadata, field plans),
/// decode every field (at most four) and analyse it. Errors are expected;
/// a panic, hang or allocation beyond the limits is a finding.
pub fn load_and_analyse(data: &[u8]) {
    // Tight limits keep each execution small; exceeding them is an error
    // the loader must report, which is part of what is tested.
    let limits = Limits {
        max_plane_pixels: 256 * 256,
        max_field_samples: 256 * 256 * 4 * 8,
        max_field_bytes: 256 * 256 * 4 * 8 * 8,
        max_pages: 512,
        max_page_bytes: 4 << 20,
        max_mosaic_pixels: 1024 * 1024,
    };
    let Ok(mut src) = TiffSource::from_bytes(data.to_vec(), "fuzz.tif", limits) else {
        return;
    };
    // Analysis lengths are in µm: a hostile pixel size in the metadata
    // would only make the kernels large, so fix it and keep runs quick.
    let opts = LoadOptions {
        pixel_size_um: Some(1.0),
        limits,
        ..LoadOptions::default()
    };
    let params = Params {
        background_radius_um: Some(8.0),
        ..Params::default()
    };
    for i in 0..src.field_count().min(4) {
        if let Ok(field) = src.load_field(i, &opts) {
            let a = analyze(&field, &params);
            assert!(a.follicles.iter().all(|f| f.area_px > 0));
        }
        // Read a window at a time (chunk by chunk) as a mosaic is.
        for rect in [(0, 0, 64, 64), (17, 5, 300, 3)] {
            if let Ok(window) = src.load_window(i, &opts, rect) {
                assert!(window.width <= 300 && window.height <= 64);
            }
        }
    }
}

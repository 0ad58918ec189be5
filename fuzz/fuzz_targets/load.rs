//! Arbitrary bytes through the loader and the whole single-field pipeline:
//! open (IFD chain, tags, ImageJ/OME metadata, field plans), decode every
//! field (at most four) and analyse it. Nothing may panic, hang or
//! allocate beyond the limits.
//!
//!     cargo +nightly fuzz run load fuzz/corpus/load -- -runs=1000000
#![no_main]

use follicount::io::{Limits, LoadOptions, TiffSource};
use follicount::params::Params;
use follicount::pipeline::analyze;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Tight limits keep each execution small; exceeding them is an error
    // the loader must report, which is part of what is tested.
    let limits = Limits {
        max_plane_pixels: 256 * 256,
        max_field_samples: 256 * 256 * 4 * 8,
        max_field_bytes: 256 * 256 * 4 * 8 * 8,
        max_pages: 512,
        max_page_bytes: 4 << 20,
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
    }
});

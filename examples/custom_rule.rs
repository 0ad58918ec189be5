//! Analyses one field with a lab's own rule (at least 5 Sox9+ nuclei,
//! Otsu for P-cadherin, no flat field) and a pixel size given by hand,
//! then shows why each rejected candidate was rejected.
//!
//!     cargo run --release --example custom_rule -- fixtures/hard/hard_01.tif

use follicount::io::{LoadOptions, TiffSource};
use follicount::params::Params;
use follicount::pipeline::analyze;
use follicount::segment::threshold::Method;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: custom_rule FILE.tif")?;
    let params = Params {
        min_sox9_nuclei: 5,
        threshold_pcad: Method::Otsu,
        flat_field: false,
        ..Params::default()
    };
    // Parameters are checked before use, as the command line does.
    params.validate()?;
    let load = LoadOptions {
        pixel_size_um: Some(1.0),
        ..LoadOptions::default()
    };
    let field = TiffSource::open(path.as_ref())?.load_field(0, &load)?;
    let a = analyze(&field, &params);
    println!(
        "{} follicles; thresholds P-cad {:.3}, Sox9 {:.3}, DAPI {:.3}",
        a.follicles.len(),
        a.thresholds[0],
        a.thresholds[1],
        a.thresholds[2]
    );
    for r in &a.rejected {
        println!(
            "  rejected at ({:.0}, {:.0}): {} ({} µm², {} Sox9+ nuclei)",
            r.x,
            r.y,
            r.verdict.code(),
            r.area_um2.round(),
            r.sox9_nuclei
        );
    }
    Ok(())
}

//! Counts the follicles in every field of one TIFF with the default
//! parameters, and prints each counted follicle.
//!
//!     cargo run --release --example count_file -- fixtures/imagej_cyx_deflate.tif

use follicount::io::{LoadOptions, TiffSource};
use follicount::params::Params;
use follicount::pipeline::analyze;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: count_file FILE.tif")?;
    let mut src = TiffSource::open(path.as_ref())?;
    for i in 0..src.field_count() {
        let field = src.load_field(i, &LoadOptions::default())?;
        let a = analyze(&field, &Params::default());
        println!(
            "field {i}: {}×{} px, {} follicles ({} candidates rejected)",
            field.width,
            field.height,
            a.follicles.len(),
            a.rejected.len()
        );
        for f in &a.follicles {
            println!(
                "  #{} at ({:.0}, {:.0}) px, {:.0} µm², {} Sox9+ nuclei",
                f.id, f.x, f.y, f.area_um2, f.sox9_nuclei
            );
        }
    }
    Ok(())
}

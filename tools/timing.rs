//! Times one field's analysis (development aid): a synthetic hard field of
//! the given size, or field 0 of a TIFF; the field is decoded once and
//! analysed `reps` times, printing the fastest and median times.
//!
//!     cargo run --release --features dev --bin timing -- [size | file.tif] [reps]

use std::time::Instant;

/// The binary's allocator, so the times match a batch run's.
#[path = "../src/allocator.rs"]
mod allocator;

use follicount::io::{Field, LoadOptions, TiffSource};
use follicount::params::Params;
use follicount::pipeline::analyze;
use follicount::synth::{render, to_image, Scene};

fn main() {
    allocator::tune();
    let arg = std::env::args().nth(1).unwrap_or_else(|| "2048".into());
    let reps: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let t = Instant::now();
    let (field, truth) = match arg.parse::<usize>() {
        Ok(n) => {
            let r = render(&Scene::hard(n, n, 1.0, 5));
            let s = &r.slices[0];
            let f = Field::from_planes(std::array::from_fn(|c| to_image(&s[c], n, n)), 1.0)
                .expect("three planes of one size");
            (f, Some(r.truth.len()))
        }
        Err(_) => {
            let mut src = TiffSource::open(std::path::Path::new(&arg)).expect("opens");
            let f = src.load_field(0, &LoadOptions::default()).expect("loads");
            (f, None)
        }
    };
    println!("load {:.3}s", t.elapsed().as_secs_f64());
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let a = analyze(&field, &Params::default());
        times.push(t.elapsed().as_secs_f64());
        count = a.follicles.len();
    }
    times.sort_by(f64::total_cmp);
    let px = (field.width * field.height) as f64 / 1e6;
    println!(
        "analyze min {:.1} ms median {:.1} ms ({:.1} MPix/s), {count} follicles (truth {})",
        times[0] * 1e3,
        times[times.len() / 2] * 1e3,
        px / times[0],
        truth.map_or("unknown".into(), |t| t.to_string())
    );
}

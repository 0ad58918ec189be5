//! Times the stages of one large synthetic field (development aid).
//!
//!     cargo run --release --example timing -- [size]

use std::time::Instant;

use follicount::io::Field;
use follicount::params::Params;
use follicount::pipeline::analyze;
use follicount::synth::{render, to_image, Scene};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2048);
    let t = Instant::now();
    let r = render(&Scene::hard(n, n, 1.0, 5));
    println!("render {:.2}s", t.elapsed().as_secs_f64());
    let s = &r.slices[0];
    let f = Field::from_planes(std::array::from_fn(|c| to_image(&s[c], n, n)), Some(1.0)).unwrap();
    let t = Instant::now();
    let a = analyze(&f, &Params::default());
    let dt = t.elapsed().as_secs_f64();
    println!(
        "analyze {dt:.2}s ({:.1} MPix/s), {} follicles (truth {})",
        (n * n) as f64 / 1e6 / dt,
        a.follicles.len(),
        r.truth.len()
    );
}

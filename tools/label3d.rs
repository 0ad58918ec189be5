//! Throughput of the 3D kernels on a 512 × 512 × 100 mask of blobs (a
//! third of the voxels set, like a thresholded stack): 26-connected
//! labelling, the anisotropic EDT and split_touching, each the best of 3
//! runs, in MVx/s — beside cc3d's published labelling figures (tens to
//! hundreds of MVx/s on one core).
//!
//!     cargo run --release --features dev --bin label3d

use std::time::Instant;

use follicount::segment::volume::distance::squared_edt;
use follicount::segment::volume::label::label;
use follicount::segment::volume::smooth::smooth_voxels;
use follicount::segment::volume::watershed::{split_touching, SplitRule};
use follicount::segment::volume::Connectivity;
use follicount::synth::Rng;
use follicount::volume::Volume;

fn best_of<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..3 {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("three runs"))
}

fn main() {
    let (w, h, d) = (512, 512, 100);
    let mut rng = Rng::new(1);
    let noise = Volume::from_vec(w, h, d, (0..w * h * d).map(|_| rng.unit() as f32).collect())
        .expect("w × h × d values");
    let blobs = smooth_voxels(&noise, 3.0, 1.0);
    let mut sorted: Vec<f32> = blobs.data.iter().step_by(97).copied().collect();
    sorted.sort_by(f32::total_cmp);
    let t = sorted[sorted.len() * 2 / 3];
    let mask = blobs.map(|v| u8::from(v >= t));
    let mvx = (w * h * d) as f64 / 1e6;
    let (s, (_, n)) = best_of(|| label(&mask, Connectivity::Full));
    println!(
        "label (26-connected): {:.0} MVx/s ({n} objects, {:.3} s)",
        mvx / s,
        s
    );
    let (s, _) = best_of(|| label(&mask, Connectivity::Faces));
    println!("label (6-connected): {:.0} MVx/s", mvx / s);
    let (s, _) = best_of(|| squared_edt(&mask, [0.6, 0.6, 2.0]));
    println!("anisotropic EDT: {:.0} MVx/s", mvx / s);
    let rule = SplitRule {
        neck_ratio: 0.85,
        min_separation: 4.0,
    };
    let (s, split) = best_of(|| split_touching(&mask, [0.6, 0.6, 2.0], rule));
    println!(
        "split_touching (EDT + watershed): {:.1} MVx/s ({} pieces)",
        mvx / s,
        split.count
    );
}

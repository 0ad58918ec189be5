//! Writes generated scenes (developer aid): a spread of sizes, pixel
//! sizes, depths, scene kinds (typical and hard), sample types and
//! compressions, as ImageJ hyperstacks. Used to check that a change
//! leaves the tables byte-identical (`scripts/compare-tables.sh`).
//!
//!     cargo run --release --features dev --bin scenes -- DIR [count] [first_seed]
//!
//! Deterministic: the same arguments give byte-identical files.

use std::path::PathBuf;

use follicount::synth::write::{imagej_hyperstack, Comp, SampleType};
use follicount::synth::{render, Scene};
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: scenes DIR [count] [first_seed]")?,
    );
    let count: u64 = args.next().map_or(Ok(300), |s| s.parse())?;
    let first: u64 = args.next().map_or(Ok(50_000), |s| s.parse())?;
    std::fs::create_dir_all(&dir)?;
    (0..count).into_par_iter().try_for_each(|i| {
        let seed = first + i;
        let side = [256, 384, 512][(i % 3) as usize];
        let px = [0.5, 0.8, 1.0, 1.5][(i / 3 % 4) as usize];
        let mut scene = if i % 2 == 0 {
            Scene::hard(side, side, px, seed)
        } else {
            Scene::new(side, side, px, seed)
        };
        scene.depth = if i % 5 == 0 { 3 } else { 1 };
        let sample = [
            SampleType::U16(4095),
            SampleType::U8,
            SampleType::F32(1000.0),
            SampleType::U16(65535),
        ][(i / 2 % 4) as usize];
        let comp = [Comp::Deflate, Comp::Lzw, Comp::None, Comp::PackBits][(i / 7 % 4) as usize];
        let path = dir.join(format!("scene_{i:04}.tif"));
        imagej_hyperstack(&path, &render(&scene), sample, comp)
    })?;
    println!("{count} scenes in {}", dir.display());
    Ok(())
}

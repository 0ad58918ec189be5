//! Writes the 3D simulator's stacks with their truth (developer aid and
//! the 3D accuracy set): `count` stacks of `side`² × 40 slices, half
//! ImageJ ZCYX hyperstacks (`spacing=`), half OME-TIFF (`PhysicalSizeZ`),
//! 12-bit in 16-bit files; `truth.csv` holds every true follicle with its
//! 3D centre (x, y in pixels, z in µm below the first slice), how it sits
//! (alone, stacked, touching), the pair it is stacked in, its stain and
//! its Sox9+ nuclei.
//!
//!     cargo run --release --features dev --bin stacks -- DIR [count] [side] [first_seed] [slices]
//!
//! `slices` (default: drawn, 30, 40 or 60) fixes every stack's depth.
//!
//! Deterministic: the same arguments give byte-identical files.

use std::fmt::Write as _;
use std::path::PathBuf;

use follicount::synth::stack::{render_stack, StackScene};
use follicount::synth::write::{imagej_hyperstack, ome_tiff, Comp, OmeSeries, SampleType};
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: stacks DIR [count] [side] [first_seed]")?,
    );
    let count: u64 = args.next().map_or(Ok(100), |s| s.parse())?;
    let side: usize = args.next().map_or(Ok(512), |s| s.parse())?;
    let first: u64 = args.next().map_or(Ok(90_000), |s| s.parse())?;
    let slices: Option<usize> = args.next().map(|s| s.parse()).transpose()?;
    std::fs::create_dir_all(&dir)?;
    let rows: Vec<String> = (0..count)
        .into_par_iter()
        .map(
            |i| -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
                let mut scene = StackScene::drawn(side, side, first + i);
                if let Some(d) = slices {
                    scene.depth = d;
                }
                let r = render_stack(&scene);
                let name = if i % 2 == 0 {
                    let name = format!("stack_{i:04}.tif");
                    imagej_hyperstack(
                        &dir.join(&name),
                        &r.rendered,
                        SampleType::U16(4095),
                        Comp::Deflate,
                    )?;
                    name
                } else {
                    let name = format!("stack_{i:04}.ome.tif");
                    let series = [OmeSeries {
                        scene: &r.rendered,
                        order: [2, 0, 1],
                        names: ["DAPI", "P-cadherin", "SOX9"],
                    }];
                    ome_tiff(&dir.join(&name), &series, 4095, Comp::Lzw)?;
                    name
                };
                let mut out = String::new();
                for (k, f) in r.follicles.iter().enumerate() {
                    let pair = r
                        .stacked
                        .iter()
                        .position(|&(a, b)| a == k || b == k)
                        .map(|p| p.to_string())
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{name},0,{},{:.2},{:.2},{:.2},{},{},{},{},{},{:.4},{:.3}",
                        k + 1,
                        f.x,
                        f.y,
                        f.z_um,
                        f.setting,
                        pair,
                        if f.membrane { "membrane" } else { "solid" },
                        u8::from(f.dim),
                        f.sox9_nuclei,
                        scene.pixel_size_um,
                        scene.z_step_um,
                    )?;
                }
                Ok(out)
            },
        )
        .collect::<Result<_, _>>()?;
    let mut csv = String::from(
        "file,field,id,x,y,z,setting,pair,texture,dim,sox9_nuclei,pixel_size_um,z_step_um\n",
    );
    rows.iter().for_each(|r| csv.push_str(r));
    std::fs::write(dir.join("truth.csv"), csv)?;
    println!("{count} stacks in {}", dir.display());
    Ok(())
}

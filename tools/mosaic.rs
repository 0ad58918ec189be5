//! Stitched mosaics and their tiles (issue 21, developer aid): `n` × `n`
//! fields of the broad simulator (`synth::confocal`) at one pixel size
//! and one camera, each acquired at its own brightness — a tile from
//! deep in the tissue collects fewer photons (its signal × 0.15–1.0, with
//! the shot noise that goes with it; the camera offset stays) — written
//! once as separate tiles and once stitched edge to edge into one plane,
//! with the truth of both.
//!
//!     cargo run --release --features dev --bin mosaic -- DIR [n] [side] [mosaics] [first_seed] [layout] [distinct]
//!
//! Writes DIR/tiles/ (tile files, truth.csv), DIR/mosaic/ (mosaic files,
//! truth.csv). `layout` is how the mosaic is saved: `imagej` (default; a
//! strip-organised ImageJ TIFF), `tiled` (a tiled, pyramidal BigTIFF
//! OME-TIFF, 512² tiles, 3 reduced levels, stored, as stitching software
//! saves one), `tiled-only` (the same, without the tile files: for
//! mosaics of 30000² and more) or `tiled+zarr-only` (the same, and the
//! mosaic again as OME-Zarr in DIR/zarr/: NGFF 0.5, 512² Zstd chunks, 3
//! reduced levels). `distinct` (default: every tile) renders
//! only that many distinct fields and repeats them across the mosaic,
//! each at its own brightness: a 30000² benchmark in minutes, not an
//! hour. Deterministic: the same arguments give byte-identical files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use follicount::synth::confocal::{render, Confocal, Setting};
use follicount::synth::tiled::{tiled_ome_tiff, TiledOptions};
use follicount::synth::write::{imagej_hyperstack, Comp, SampleType};
use follicount::synth::zarr::{ome_zarr, ZarrOptions};
use follicount::synth::{quantize_u16, Rendered, Rng};
use rayon::prelude::*;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One tile of a mosaic: its settings are the field's own, but the
/// pixel size, depth and camera are the mosaic's.
fn tile(seed: u64, side: usize, camera: &Setting, brightness: f64) -> Confocal {
    let mut s = Setting::draw(side, side, seed);
    s.pixel_size_um = camera.pixel_size_um;
    s.depth = 1;
    s.offset = camera.offset;
    s.gain = camera.gain;
    s.read_noise = camera.read_noise;
    s.photons_per_unit = camera.photons_per_unit * brightness;
    render(&s)
}

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or(
        "usage: mosaic DIR [n] [side] [mosaics] [first_seed] \
             [imagej|tiled|tiled-only|tiled+zarr-only] [distinct]",
    )?);
    let n: usize = args.next().map_or(Ok(4), |s| s.parse())?;
    let side: usize = args.next().map_or(Ok(768), |s| s.parse())?;
    let mosaics: u64 = args.next().map_or(Ok(2), |s| s.parse())?;
    let first: u64 = args.next().map_or(Ok(310_000), |s| s.parse())?;
    let layout = args.next().unwrap_or_else(|| "imagej".into());
    let (tiled, tile_files, zarr) = match layout.as_str() {
        "imagej" => (false, true, false),
        "tiled" => (true, true, false),
        "tiled-only" => (true, false, false),
        "tiled+zarr-only" => (true, false, true),
        other => {
            return Err(format!(
                "unknown layout {other}: imagej, tiled, tiled-only or tiled+zarr-only"
            )
            .into())
        }
    };
    let distinct: usize = args.next().map_or(Ok(n * n), |s| s.parse())?;
    let distinct = distinct.clamp(1, n * n);
    let (tiles_dir, mosaic_dir) = (dir.join("tiles"), dir.join("mosaic"));
    std::fs::create_dir_all(&tiles_dir)?;
    std::fs::create_dir_all(&mosaic_dir)?;
    let mut tiles_truth = String::from("file,field,x,y\n");
    let mut mosaic_truth = String::from("file,field,x,y\n");
    for m in 0..mosaics {
        let seed = first + 1000 * m;
        let mut rng = Rng::new(seed);
        let camera = Setting::draw(side, side, seed);
        // Brightness per tile: most near full, some from deep stacks.
        let brightness: Vec<f64> = (0..n * n)
            .map(|_| {
                if rng.unit() < 0.3 {
                    rng.range(0.15, 0.35)
                } else {
                    rng.range(0.5, 1.0)
                }
            })
            .collect();
        let big = n * side;
        // The stitched planes, 12-bit counts as the tile files hold them;
        // rendered a row of tiles at a time (a 30000² mosaic is 900
        // fields).
        let mut planes: [Vec<u16>; 3] = std::array::from_fn(|_| vec![0u16; big * big]);
        let ext = if tiled { "ome.tif" } else { "tif" };
        let mosaic_name = format!("mosaic_{m}.{ext}");
        // With fewer distinct fields than tiles, each is rendered once
        // (at its own brightness) and repeated.
        let rendered = |tiles: std::ops::Range<usize>| -> Vec<Confocal> {
            tiles
                .into_par_iter()
                .map(|k| tile(seed + 1 + k as u64, side, &camera, brightness[k]))
                .collect()
        };
        let repeated = if distinct < n * n {
            rendered(0..distinct)
        } else {
            Vec::new()
        };
        for row in 0..n {
            let fresh = if repeated.is_empty() {
                rendered(row * n..(row + 1) * n)
            } else {
                Vec::new()
            };
            for j in 0..n {
                let k = row * n + j;
                let t = fresh.get(j).unwrap_or_else(|| &repeated[k % distinct]);
                let (tx, ty) = ((k % n) * side, (k / n) * side);
                let r = &t.rendered;
                for (c, plane) in planes.iter_mut().enumerate() {
                    let counts = quantize_u16(&r.slices[0][c], 4095);
                    for y in 0..side {
                        let row = &counts[y * side..(y + 1) * side];
                        plane[(ty + y) * big + tx..(ty + y) * big + tx + side].copy_from_slice(row);
                    }
                }
                let name = format!("mosaic_{m}_tile_{:02}.tif", k);
                if tile_files {
                    imagej_hyperstack(
                        &tiles_dir.join(&name),
                        r,
                        SampleType::U16(4095),
                        Comp::Deflate,
                    )?;
                }
                for f in &t.follicles {
                    writeln!(tiles_truth, "{name},0,{:.2},{:.2}", f.x, f.y)?;
                    writeln!(
                        mosaic_truth,
                        "{mosaic_name},0,{:.2},{:.2}",
                        f.x + tx as f64,
                        f.y + ty as f64
                    )?;
                }
            }
        }
        let path = mosaic_dir.join(&mosaic_name);
        if tiled {
            let o = TiledOptions {
                tile: 512,
                levels: 3,
                deflate: false,
                pixel_size_um: camera.pixel_size_um,
                names: vec!["P-cadherin".into(), "Sox9".into(), "DAPI".into()],
            };
            let refs: Vec<&[u16]> = planes.iter().map(Vec::as_slice).collect();
            tiled_ome_tiff(&path, &refs, (big, big), &o)?;
            if zarr {
                let z = ZarrOptions {
                    chunk: 512,
                    shard: 0,
                    levels: 3,
                    pixel_size_um: camera.pixel_size_um,
                    names: o.names.clone(),
                };
                let zarr_dir = dir.join("zarr");
                let name = format!("mosaic_{m}.ome.zarr");
                let _ = std::fs::remove_dir_all(zarr_dir.join(&name));
                ome_zarr(&zarr_dir.join(name), &refs, (big, big), &z)?;
            }
        } else {
            // (The ImageJ writer takes 0..1 intensities: the counts back
            // to them, exactly.)
            let slices = vec![planes.map(|p| p.iter().map(|&v| f32::from(v) / 4095.0).collect())];
            let stitched = Rendered {
                width: big,
                height: big,
                pixel_size_um: camera.pixel_size_um,
                z_step_um: None,
                slices,
                truth: Vec::new(),
            };
            imagej_hyperstack(&path, &stitched, SampleType::U16(4095), Comp::Deflate)?;
        }
        let b: Vec<String> = brightness
            .iter()
            .take(64)
            .map(|b| format!("{b:.2}"))
            .collect();
        let more = if n * n > 64 { " …" } else { "" };
        println!(
            "{mosaic_name}: {n}x{n} tiles of {side}², {:.2} µm/px, brightness {}{more}",
            camera.pixel_size_um,
            b.join(" ")
        );
    }
    write(&tiles_dir.join("truth.csv"), &tiles_truth)?;
    write(&mosaic_dir.join("truth.csv"), &mosaic_truth)?;
    Ok(())
}

fn write(path: &Path, text: &str) -> Res<()> {
    std::fs::write(path, text)?;
    Ok(())
}

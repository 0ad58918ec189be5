//! Renders a synthetic scene to a PNG composite (P-cad red, Sox9 green,
//! DAPI blue) to eyeball what the generator draws.
//!
//!     cargo run --features dev --bin preview -- out.png [seed] [pixel_size_um] [hard]

use follicount::synth::{render, Scene};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "preview.png".into());
    let seed: u64 = args.next().map_or(Ok(1), |s| s.parse())?;
    let px: f64 = args.next().map_or(Ok(1.0), |s| s.parse())?;
    let hard = args.next().is_some_and(|a| a == "hard");
    let scene = if hard {
        Scene::hard(384, 384, px, seed)
    } else {
        Scene::new(320, 320, px, seed)
    };
    let r = render(&scene);
    let s = &r.slices[0];
    let img = image::RgbImage::from_fn(r.width as u32, r.height as u32, |x, y| {
        let i = y as usize * r.width + x as usize;
        image::Rgb([0, 1, 2].map(|c| (s[c][i] * 255.0).round() as u8))
    });
    img.save(&out)?;
    println!("{} follicles drawn", r.truth.len());
    Ok(())
}

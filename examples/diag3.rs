use follicount::params::Params;
use follicount::segment::background::{correct, flat_field};
use follicount::segment::distance::edt;
use follicount::segment::threshold::threshold;
use follicount::segment::watershed::{markers, SplitParams};
use follicount::segment::{fill_holes, label, mask_at_least, open, smooth};
use follicount::synth::{render, to_image, Scene};
fn main() {
    let seed: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let mut scene = Scene::hard(384, 384, 1.0, seed);
    scene.dim = 0.0; scene.corner_illumination = 1.0; scene.haze = 1.0; scene.dense_nuclei = false;
    let r = render(&scene);
    let s = &r.slices[0];
    let p = Params::default();
    let mut sm = [smooth(&to_image(&s[0], 384, 384), 2.0), smooth(&to_image(&s[1], 384, 384), 1.0), smooth(&to_image(&s[2], 384, 384), 1.0)];
    let reference = sm[2].clone();
    flat_field(&mut sm, &reference, 50.0, 0.2);
    let c = correct(&sm[0], p.background, p.effective_background_radius_um());
    let t = threshold(&c, p.threshold_pcad);
    let m = fill_holes(&open(&mask_at_least(&c, t), 1.0));
    let (comps, _) = label(&m);
    let d = edt(&m);
    let sp = SplitParams { min_separation_px: 12.0, min_radius_px: 6.0, neck_ratio: 0.75 };
    let mk = markers(&d, &comps, 384, &sp);
    for (x, y) in &r.truth {
        let i = (*y as usize) * 384 + *x as usize;
        let comp = comps.as_raw()[i];
        let near: Vec<String> = mk.iter().filter(|&&j| comps.as_raw()[j] == comp).map(|&j| format!("({},{} d{:.1})", j % 384, j / 384, d[j])).collect();
        println!("truth {:.0},{:.0} comp {} edt {:.1} markers {}", x, y, comp, d[i], near.join(" "));
    }
}

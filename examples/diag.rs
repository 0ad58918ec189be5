use follicount::io::Field;
use follicount::params::Params;
use follicount::pipeline::analyze;
use follicount::synth::{render, to_image, Scene};
fn main() {
    let seed: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let r = render(&Scene::hard(384, 384, 1.0, seed));
    let s = &r.slices[0];
    let chans = std::array::from_fn(|c| to_image(&s[c], r.width, r.height));
    let f = Field::from_planes(chans, Some(1.0)).unwrap();
    let p = Params::from_toml(&std::env::var("P").unwrap_or_default().replace(',', "\n")).unwrap();
    let a = analyze(&f, &p);
    println!("thresholds {:?} sox9 nuclei {}", a.thresholds, a.sox9_nuclei);
    for (x, y) in &r.truth {
        let near = a.follicles.iter().chain(a.rejected.iter()).filter(|o| (o.x - x).hypot(o.y - y) < 25.0).map(|o| format!("[{} {:?} area {} nuc {} at {:.0},{:.0}]", o.id, o.verdict, o.area_px, o.sox9_nuclei, o.x, o.y)).collect::<Vec<_>>();
        println!("truth {:.0},{:.0}: {}", x, y, near.join(" "));
    }
    for o in &a.follicles { if !r.truth.iter().any(|(x,y)| (o.x-x).hypot(o.y-y) < 15.0) { println!("FP {} area {} nuc {} at {:.0},{:.0}", o.id, o.area_px, o.sox9_nuclei, o.x, o.y); } }
}

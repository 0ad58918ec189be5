use follicount::params::Params;
use follicount::segment::background::{correct, flat_field};
use follicount::segment::threshold::threshold;
use follicount::segment::{mask_at_least, smooth};
use follicount::synth::{render, to_image, Scene};
fn save(img: &follicount::FloatImage, path: &str) {
    let max = img.as_raw().iter().cloned().fold(0f32, f32::max);
    let g = image::GrayImage::from_fn(img.width(), img.height(), |x, y| image::Luma([(img.get_pixel(x, y)[0] / max * 255.0) as u8]));
    g.save(path).unwrap();
}
fn main() {
    let r = render(&Scene::hard(384, 384, 1.0, 1000));
    let s = &r.slices[0];
    let p = Params::default();
    let mut sm = [smooth(&to_image(&s[0], 384, 384), 2.0), smooth(&to_image(&s[1], 384, 384), 1.0), smooth(&to_image(&s[2], 384, 384), 1.0)];
    save(&sm[0], "/tmp/look/p0.png");
    let reference = sm[2].clone();
    flat_field(&mut sm, &reference, 50.0, 0.2);
    save(&sm[0], "/tmp/look/p1.png");
    let c = correct(&sm[0], p.background, p.effective_background_radius_um());
    save(&c, "/tmp/look/p2.png");
    let t = threshold(&c, p.threshold_pcad);
    println!("t {t}");
    mask_at_least(&c, t).save("/tmp/look/p3.png").unwrap();
}

//! The pipeline against the generator's ground truth on many random
//! scenes, at several pixel sizes and with z-stacks (library level).

use follicount::io::Field;
use follicount::params::Params;
use follicount::pipeline::analyze;
use follicount::synth::{render, to_image, Scene};

fn project(r: &follicount::synth::Rendered) -> Field {
    let n = r.width * r.height;
    let chans: [follicount::FloatImage; 3] = std::array::from_fn(|c| {
        let mut max = vec![0f32; n];
        for s in &r.slices {
            for (m, v) in max.iter_mut().zip(&s[c]) {
                *m = m.max(*v);
            }
        }
        to_image(&max, r.width, r.height)
    });
    Field::from_planes(chans, Some(r.pixel_size_um)).unwrap()
}

#[test]
fn counts_equal_truth_on_random_scenes() {
    let mut misses = Vec::new();
    let mut total = 0;
    for seed in 100..124u64 {
        let px = [0.8, 1.0, 1.25][seed as usize % 3];
        let mut scene = Scene::new(256, 256, px, seed);
        scene.depth = 1 + (seed as usize % 2) * 2;
        let r = render(&scene);
        let a = analyze(&project(&r), &Params::default());
        total += r.truth.len();
        if a.follicles.len() != r.truth.len() {
            misses.push((seed, px, r.truth.len(), a.follicles.len()));
        }
        // Every counted follicle sits on a true one.
        for f in &a.follicles {
            let near = r
                .truth
                .iter()
                .any(|&(x, y)| (x - f.x).hypot(y - f.y) < 12.0 / px);
            assert!(
                near,
                "seed {seed}: follicle at ({:.1},{:.1}) matches no truth",
                f.x, f.y
            );
        }
    }
    assert!(total > 100, "too few follicles drawn: {total}");
    assert!(
        misses.is_empty(),
        "count differs from truth (seed, px, truth, got): {misses:?}"
    );
}

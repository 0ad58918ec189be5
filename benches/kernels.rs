//! Kernel benchmarks on one 2048×2048 synthetic field (hard scene):
//! throughput in pixels per second for each step of the pipeline.
//!
//!     cargo bench --bench kernels

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

use follicount::io::Field;
use follicount::measure::regions;
use follicount::params::Params;
use follicount::pipeline::analyze;
use follicount::segment::distance::squared_edt;
use follicount::segment::flat_field::LargeScale;
use follicount::segment::label::label;
use follicount::segment::morph::fill_holes;
use follicount::segment::smooth::smooth;
use follicount::segment::threshold::mask_at_least;
use follicount::segment::threshold::{threshold, Method};
use follicount::segment::top_hat::top_hat;
use follicount::segment::watershed::{split, split_reached, Objects, SplitParams};
use follicount::synth::{render, to_image, Scene};

const N: usize = 2048;

fn kernels(c: &mut Criterion) {
    let r = render(&Scene::hard(N, N, 1.0, 3));
    let s = &r.slices[0];
    let chans: [follicount::FloatImage; 3] = std::array::from_fn(|k| to_image(&s[k], N, N));
    let pcad = smooth(&chans[0], 2.0);
    let th = top_hat(&pcad, 34.5);
    let t = threshold(&th, Method::Li);
    let mask = fill_holes(&mask_at_least(&th, t));
    let (labels, n) = label(&mask);
    let dapi = smooth(&chans[2], 0.5);
    let dmask = mask_at_least(&dapi, threshold(&dapi, Method::Otsu));
    let sox9 = top_hat(&smooth(&chans[1], 0.5), 34.5);
    let sox9_t = threshold(&sox9, Method::Otsu);
    let field = Field::from_planes(chans.clone(), 1.0).expect("same sizes");

    let mut g = c.benchmark_group("2048x2048");
    g.sample_size(10);
    g.throughput(Throughput::Elements((N * N) as u64));
    g.bench_function("gaussian sigma 2 px", |b| {
        b.iter(|| smooth(black_box(&chans[0]), 2.0))
    });
    g.bench_function("flat-field (profile + 3 channels)", |b| {
        b.iter(|| {
            let mut imgs = [chans[0].clone(), chans[1].clone(), chans[2].clone()];
            let profile = LargeScale::of(&chans[2], 50.0);
            for img in imgs.iter_mut() {
                profile.flatten(img, 0.2);
            }
            imgs
        })
    });
    g.bench_function("top-hat r 34.5 px", |b| {
        b.iter(|| top_hat(black_box(&pcad), 34.5))
    });
    g.bench_function("otsu", |b| {
        b.iter(|| threshold(black_box(&th), Method::Otsu))
    });
    g.bench_function("li", |b| b.iter(|| threshold(black_box(&th), Method::Li)));
    g.bench_function("fill holes", |b| b.iter(|| fill_holes(black_box(&mask))));
    g.bench_function("labelling", |b| b.iter(|| label(black_box(&mask))));
    g.bench_function("distance transform", |b| {
        b.iter(|| squared_edt(black_box(&mask)))
    });
    let follicle_split = SplitParams {
        min_separation_px: 12.0,
        min_radius_px: 6.0,
        neck_ratio: 0.85,
        step_ratio: f64::INFINITY,
        notch_px: 4.0,
        bend_ratio: 0.75,
        pinch_px: 2.5,
        cut_ratio: 0.67,
        min_area_px: 400.0,
    };
    g.bench_function("watershed follicles", |b| {
        b.iter(|| {
            split(
                Objects::Mask(black_box(&mask)),
                &follicle_split,
                None,
                |_| {},
            )
        })
    });
    let nucleus_split = SplitParams {
        min_separation_px: 4.0,
        min_radius_px: 1.0,
        neck_ratio: 1.0,
        step_ratio: f64::INFINITY,
        notch_px: f64::INFINITY,
        bend_ratio: 1.0,
        pinch_px: 0.0,
        cut_ratio: 0.0,
        min_area_px: 0.0,
    };
    g.bench_function("watershed all nuclei", |b| {
        b.iter(|| {
            split(
                Objects::Mask(black_box(&dmask)),
                &nucleus_split,
                None,
                |_| {},
            )
        })
    });
    // What the pipeline does: only nuclei a Sox9-bright pixel reaches.
    g.bench_function("watershed Sox9-reached nuclei", |b| {
        b.iter(|| {
            let mut m = dmask.clone();
            let mut n = 0u32;
            let px = sox9.as_raw();
            split_reached(
                &mut m,
                (0..px.len()).filter(|&i| px[i] >= sox9_t),
                &nucleus_split,
                |_, _, k| n += k,
            );
            n
        })
    });
    g.bench_function("measurement", |b| {
        b.iter(|| regions(black_box(&labels), n, [&chans[0], &chans[1], &chans[2]]))
    });
    g.bench_function("whole field", |b| {
        b.iter(|| analyze(black_box(&field), &Params::default()))
    });
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);

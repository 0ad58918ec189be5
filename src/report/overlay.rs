//! QC overlays: a contrast-stretched composite (P-cadherin red, Sox9
//! green, DAPI blue) with every counted follicle outlined and numbered and
//! every rejected candidate outlined in another colour with a reason code.

use font8x8::UnicodeFonts;
use image::{imageops, Rgb, RgbImage};

use crate::follicle::Verdict;
use crate::io::{Field, Plane, Stack, Voxels};
use crate::pipeline::{FieldAnalysis, StackAnalysis};
use crate::{Labels, Sample};

/// Outline colour of counted follicles.
pub const COUNTED: Rgb<u8> = Rgb([255, 255, 0]);
/// Outline colour of rejected candidates.
const REJECTED: Rgb<u8> = Rgb([255, 0, 255]);
/// Colour of follicle numbers.
const NUMBER: Rgb<u8> = Rgb([255, 255, 255]);
/// Colour of rejection codes.
const CODE: Rgb<u8> = Rgb([255, 170, 255]);
/// Longest side of an overlay, pixels.
const MAX_SIDE: u32 = 2048;

/// Brightest composite value: the outline and text colours use 255, so no
/// image pixel can be mistaken for a drawn one.
const COMPOSITE_MAX: f32 = 250.0;

/// Maps a channel to 0..=250 between its 0.5th and 99.5th percentiles.
fn stretch(data: &[f32]) -> Vec<u8> {
    let mut v: Vec<f32> = data.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return vec![0; data.len()];
    }
    let (lo_i, hi_i) = percentile_ranks(v.len());
    let lo = *v.select_nth_unstable_by(lo_i, f32::total_cmp).1;
    let hi = *v.select_nth_unstable_by(hi_i, f32::total_cmp).1;
    scale_to_u8(data, lo, hi)
}

/// Ranks of the 0.5th and 99.5th percentiles among `n` values.
fn percentile_ranks(n: usize) -> (usize, usize) {
    (n / 200, (n * 199 / 200).min(n.saturating_sub(1)))
}

fn scale_to_u8<T: Sample>(data: &[T], lo: f32, hi: f32) -> Vec<u8> {
    let span = if hi > lo { hi - lo } else { 1.0 };
    data.iter()
        .map(|&x| (((x.to_f32() - lo) / span).clamp(0.0, 1.0) * COMPOSITE_MAX).round() as u8)
        .collect()
}

/// [`stretch`] of 16-bit samples: the same order statistics, read off a
/// histogram of every value instead of a sorted copy.
fn stretch_u16(data: &[u16]) -> Vec<u8> {
    if data.is_empty() {
        return Vec::new();
    }
    let mut hist = vec![0usize; 1 << 16];
    for &x in data {
        hist[x as usize] += 1;
    }
    let nth = |rank: usize| {
        let mut seen = 0;
        for (v, &c) in hist.iter().enumerate() {
            seen += c;
            if seen > rank {
                return v as f32;
            }
        }
        0.0
    };
    let (lo_i, hi_i) = percentile_ranks(data.len());
    scale_to_u8(data, nth(lo_i), nth(hi_i))
}

/// Size of the overlay of a `w`×`h` field: at most 2048 px (`MAX_SIDE`) on the
/// long side, aspect kept.
pub fn overlay_size(w: u32, h: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= MAX_SIDE {
        (w, h)
    } else {
        let s = f64::from(MAX_SIDE) / f64::from(long);
        (
            ((f64::from(w) * s).round() as u32).max(1),
            ((f64::from(h) * s).round() as u32).max(1),
        )
    }
}

/// The labels at overlay size (nearest neighbour).
pub fn scaled_labels(labels: &Labels, size: (u32, u32)) -> Labels {
    let (w, h) = labels.dimensions();
    if (w, h) == size {
        return labels.clone();
    }
    Labels::from_fn(size.0, size.1, |x, y| {
        let sx = ((u64::from(x) * u64::from(w)) / u64::from(size.0)) as u32;
        let sy = ((u64::from(y) * u64::from(h)) / u64::from(size.1)) as u32;
        *labels.get_pixel(sx.min(w - 1), sy.min(h - 1))
    })
}

/// Whether pixel (x, y) of a label image is on its object's boundary: it
/// is labelled and a 4-neighbour (or the image edge) is not the same label.
pub fn is_boundary(labels: &Labels, x: u32, y: u32) -> bool {
    let l = labels.get_pixel(x, y)[0];
    if l == 0 {
        return false;
    }
    let (w, h) = labels.dimensions();
    x == 0
        || y == 0
        || x + 1 == w
        || y + 1 == h
        || labels.get_pixel(x - 1, y)[0] != l
        || labels.get_pixel(x + 1, y)[0] != l
        || labels.get_pixel(x, y - 1)[0] != l
        || labels.get_pixel(x, y + 1)[0] != l
}

/// Draws `text` with the 8×8 bitmap font, `scale` pixels per font pixel,
/// centred on (cx, cy), with a one-pixel dark shadow.
pub(crate) fn draw_text(
    img: &mut RgbImage,
    text: &str,
    cx: f64,
    cy: f64,
    scale: u32,
    colour: Rgb<u8>,
) {
    let n = text.chars().count() as f64;
    let x0 = (cx - n * 4.0 * f64::from(scale)).round() as i64;
    let y0 = (cy - 4.0 * f64::from(scale)).round() as i64;
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    for pass in 0..2 {
        let (off, c) = if pass == 0 {
            (1, Rgb([0, 0, 0]))
        } else {
            (0, colour)
        };
        for (k, ch) in text.chars().enumerate() {
            let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else {
                continue;
            };
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) == 0 {
                        continue;
                    }
                    for dy in 0..i64::from(scale) {
                        for dx in 0..i64::from(scale) {
                            let x = x0 + (k as i64 * 8 + col) * i64::from(scale) + dx + off;
                            let y = y0 + row as i64 * i64::from(scale) + dy + off;
                            if (0..w).contains(&x) && (0..h).contains(&y) {
                                img.put_pixel(x as u32, y as u32, c);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Renders the overlay of one analysed field.
pub fn render(field: &Field, labels: &Labels, analysis: &FieldAnalysis) -> RgbImage {
    render_outlined(field, labels, analysis, |_| COUNTED)
}

/// [`render`], each counted follicle outlined in `colour(follicle)`.
fn render_outlined(
    field: &Field,
    labels: &Labels,
    analysis: &FieldAnalysis,
    colour: impl Fn(&crate::pipeline::Object) -> Rgb<u8>,
) -> RgbImage {
    let (w, h) = (field.width as u32, field.height as u32);
    let [r, g, b] = field.channels.each_ref().map(|p| match p {
        Plane::U16(i) => stretch_u16(i.as_raw()),
        Plane::F32(i) => stretch(i.as_raw()),
    });
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        Rgb([r[i], g[i], b[i]])
    });
    let size = overlay_size(w, h);
    if size != (w, h) {
        img = imageops::resize(&img, size.0, size.1, imageops::FilterType::Triangle);
    }
    let small = scaled_labels(labels, size);
    // Label -> outline colour (labels are 1..=n).
    let n = analysis.follicles.len() + analysis.rejected.len();
    let mut outline = vec![None; n + 1];
    for o in analysis.follicles.iter().chain(&analysis.rejected) {
        if let Some(slot) = outline.get_mut(o.label as usize) {
            *slot = Some(if o.verdict == Verdict::Follicle {
                colour(o)
            } else {
                REJECTED
            });
        }
    }
    for y in 0..size.1 {
        for x in 0..size.0 {
            if !is_boundary(&small, x, y) {
                continue;
            }
            let l = small.get_pixel(x, y)[0] as usize;
            if let Some(c) = outline.get(l).copied().flatten() {
                img.put_pixel(x, y, c);
            }
        }
    }
    let s = f64::from(size.0) / f64::from(w);
    let scale = if size.0.max(size.1) >= 1024 { 2 } else { 1 };
    for o in &analysis.rejected {
        draw_text(&mut img, o.verdict.code(), o.x * s, o.y * s, scale, CODE);
    }
    for o in &analysis.follicles {
        draw_text(&mut img, &o.id.to_string(), o.x * s, o.y * s, scale, NUMBER);
    }
    img
}

/// The outline colour of a follicle `t` of the way down a stack (0: the
/// first slice, 1: the last): cyan, through white, to yellow.
pub fn depth_colour(t: f64) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0);
    let (r, b) = if t < 0.5 {
        (255.0 * 2.0 * t, 255.0)
    } else {
        (255.0, 255.0 * (2.0 - 2.0 * t))
    };
    Rgb([r.round() as u8, 255, b.round() as u8])
}

/// The overlay of a stack analysed in 3D: the projection with each
/// counted follicle outlined in the colour of its depth
/// ([`depth_colour`]) where it is seen from above, and under it a side
/// view — the stack max-projected along y (x across, z down, at the true
/// aspect ratio) with each follicle outlined there too and a depth scale.
/// `projected` is the stack's projection ([`Stack::projected`]).
pub fn render_stack(stack: &Stack, projected: &Field, found: &StackAnalysis) -> RgbImage {
    let (w, h, d) = stack.dimensions();
    let depth_um = d as f64 * stack.voxel.z_um;
    let colour = |o: &crate::pipeline::Object| depth_colour(o.z_um.unwrap_or(0.0) / depth_um);
    let top = render_outlined(projected, &found.top_labels(), &found.analysis, colour);
    // The side view: channels and labels projected along y.
    let side_channels = stack.channels.each_ref().map(|c| match c {
        Voxels::U16(v) => stretch_u16(&project_y(v)),
        Voxels::F32(v) => stretch(&project_y(v)),
    });
    let mut side_labels = vec![0u32; w * d];
    for z in 0..d {
        for y in 0..h {
            let row = found.labels.index(0, y, z);
            for x in 0..w {
                let l = found.labels.data[row + x];
                if l != 0 && side_labels[z * w + x] == 0 {
                    side_labels[z * w + x] = l;
                }
            }
        }
    }
    let [r, g, b] = side_channels;
    let side = RgbImage::from_fn(w as u32, d as u32, |x, z| {
        let i = z as usize * w + x as usize;
        Rgb([r[i], g[i], b[i]])
    });
    let scale = f64::from(top.width()) / w as f64;
    let side_h = ((depth_um / stack.voxel.xy_um) * scale)
        .round()
        .clamp(8.0, 2048.0) as u32;
    let mut side = imageops::resize(&side, top.width(), side_h, imageops::FilterType::Triangle);
    let labels = Labels::from_raw(w as u32, d as u32, side_labels).expect("w × d labels");
    let small = scaled_labels(&labels, (top.width(), side_h));
    let mut counted = std::collections::HashMap::new();
    for o in &found.analysis.follicles {
        counted.insert(o.label, colour(o));
    }
    for z in 0..side_h {
        for x in 0..top.width() {
            if is_boundary(&small, x, z) {
                if let Some(&c) = counted.get(&small.get_pixel(x, z)[0]) {
                    side.put_pixel(x, z, c);
                }
            }
        }
    }
    // A depth scale in the corner: the colours from 0 to the stack's depth.
    let bar = (top.width() / 6).clamp(20, 200);
    for x in 0..bar.min(side.width()) {
        let c = depth_colour(f64::from(x) / f64::from(bar));
        for z in 0..4.min(side_h) {
            side.put_pixel(x, z, c);
        }
    }
    let text_scale = if top.width() >= 1024 { 2 } else { 1 };
    let label = format!("0-{depth_um:.0} um deep");
    let text_mid = f64::from(bar) + 8.0 + 4.0 * (label.len() as f64) * f64::from(text_scale);
    draw_text(
        &mut side,
        &label,
        text_mid,
        6.0 * f64::from(text_scale),
        text_scale,
        NUMBER,
    );
    let gap = 4;
    let mut out = RgbImage::new(top.width(), top.height() + gap + side_h);
    imageops::replace(&mut out, &top, 0, 0);
    imageops::replace(&mut out, &side, 0, i64::from(top.height() + gap));
    out
}

/// The maximum along y of every (x, z): a w × d plane, z down.
fn project_y<T: Sample + PartialOrd>(v: &crate::volume::Volume<T>) -> Vec<T> {
    let (w, h, d) = (v.width, v.height, v.depth);
    let mut out = Vec::with_capacity(w * d);
    for z in 0..d {
        let mut row = v.slice(z)[..w].to_vec();
        for y in 1..h {
            let src = &v.slice(z)[y * w..(y + 1) * w];
            for (o, &x) in row.iter_mut().zip(src) {
                if x > *o {
                    *o = x;
                }
            }
        }
        out.extend(row);
    }
    out
}

/// PNG bytes of an image.
pub fn png_bytes(img: &RgbImage) -> Result<Vec<u8>, image::ImageError> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// Width of the thumbnails `report.html` carries, px: large enough to see
/// an outline and its number.
pub const THUMBNAIL_WIDTH: u32 = 320;

/// A saved overlay as a small JPEG `data:` URI, [`THUMBNAIL_WIDTH`] wide
/// (never enlarged), for a report that travels by mail with its pictures.
pub fn thumbnail_data_uri(png: &std::path::Path) -> Result<String, String> {
    use base64::Engine as _;
    let img = image::open(png).map_err(|e| e.to_string())?.to_rgb8();
    let (w, h) = img.dimensions();
    let small = if w > THUMBNAIL_WIDTH {
        let th = ((h as f64 * THUMBNAIL_WIDTH as f64 / w as f64).round() as u32).max(1);
        image::imageops::thumbnail(&img, THUMBNAIL_WIDTH, th)
    } else {
        img
    };
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&small)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&jpeg)
    ))
}

/// Overlay file name for a field: `<file>.png`, or `<file>.field<k>.png`
/// for files with several fields.
pub fn file_name(file: &str, field: usize, fields_in_file: usize) -> String {
    // Keep it inside overlays/: drop roots, drive prefixes, `.` and `..`.
    let file: Vec<String> = std::path::Path::new(file)
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let file = file.join("/");
    if fields_in_file > 1 {
        format!("overlays/{file}.field{field}.png")
    } else {
        format!("overlays/{file}.png")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FloatImage;
    use image::Luma;

    #[test]
    fn sizes_and_boundaries() {
        assert_eq!(overlay_size(512, 300), (512, 300));
        assert_eq!(overlay_size(4096, 1024), (2048, 512));
        assert_eq!(overlay_size(3000, 6000), (1024, 2048));
        #[rustfmt::skip]
        let l = Labels::from_raw(4, 4, vec![
            0, 0, 0, 0,
            0, 1, 1, 0,
            0, 1, 1, 2,
            0, 0, 0, 2,
        ]).unwrap();
        assert!(!is_boundary(&l, 0, 0));
        assert!(is_boundary(&l, 1, 1) && is_boundary(&l, 2, 2));
        assert!(is_boundary(&l, 3, 3));
        let big = Labels::from_fn(40, 40, |x, y| {
            Luma([u32::from(x >= 20) + 1 + u32::from(y >= 20) * 2])
        });
        let small = scaled_labels(&big, (10, 10));
        assert_eq!(small.get_pixel(0, 0)[0], 1);
        assert_eq!(small.get_pixel(9, 9)[0], 4);
    }

    #[test]
    fn stretch_uses_percentiles() {
        let img = FloatImage::from_fn(100, 10, |x, _| Luma([x as f32]));
        let s = stretch(img.as_raw());
        assert_eq!(s[0], 0);
        assert_eq!(s[99], 250);
        assert!((i32::from(s[50]) - 125).abs() <= 3);
    }

    /// The 16-bit path reads the same percentiles off a histogram.
    #[test]
    fn stretch_u16_equals_stretch_of_floats() {
        let mut rng = crate::synth::Rng::new(3);
        for n in [1usize, 2, 199, 200, 201, 1000, 4096] {
            let v: Vec<u16> = (0..n)
                .map(|_| (rng.unit() * rng.unit() * 65535.0) as u16)
                .collect();
            let f: Vec<f32> = v.iter().map(|&x| f32::from(x)).collect();
            assert_eq!(stretch_u16(&v), stretch(&f), "n {n}");
        }
    }

    #[test]
    fn overlay_names_stay_inside_the_output() {
        assert_eq!(file_name("a.tif", 0, 1), "overlays/a.tif.png");
        assert_eq!(file_name("d/a.tif", 1, 2), "overlays/d/a.tif.field1.png");
        assert_eq!(file_name("/abs/x.tif", 0, 1), "overlays/abs/x.tif.png");
        assert_eq!(file_name("../../x.tif", 0, 1), "overlays/x.tif.png");
    }
}
#[cfg(test)]
mod stack_tests {
    use super::*;

    #[test]
    fn a_stack_overlay_has_the_side_view_under_the_projection() {
        let mut scene = crate::synth::stack::StackScene::drawn(160, 128, 3);
        scene.depth = 20;
        let r = crate::synth::stack::render_stack(&scene);
        let v = |c: usize| {
            let mut data = Vec::new();
            for s in &r.rendered.slices {
                data.extend_from_slice(&s[c]);
            }
            crate::volume::Volume::from_vec(160, 128, 20, data).unwrap()
        };
        let voxel = crate::volume::VoxelSize {
            xy_um: scene.pixel_size_um,
            z_um: scene.z_step_um,
        };
        let stack = Stack::from_volumes([v(0), v(1), v(2)], voxel).unwrap();
        let found = crate::pipeline::analyze_stack(&stack, &crate::params::Params::default());
        let img = render_stack(&stack, &stack.projected(), &found);
        let side = (20.0 * scene.z_step_um / scene.pixel_size_um).round() as u32;
        assert_eq!(img.width(), 160);
        assert_eq!(img.height(), 128 + 4 + side);
    }
}

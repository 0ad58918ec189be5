//! Synthetic confocal fields with known answers, for fixtures, tests and
//! benchmarks.
//!
//! A [`Scene`] is drawn in µm: follicles (P-cadherin ellipses holding 4–6
//! Sox9+ DAPI+ nuclei) on a dense field of DAPI nuclei, with decoys — P-cad
//! blobs without Sox9, Sox9 clusters without P-cad, small P-cad buds below
//! the minimum size — plus a P-cadherin haze, optical blur and noise. The
//! true follicle centres come from the drawing, never from the analysis.
//! [`write`](mod@write) stores rendered fields in the TIFF layouts of the design.
//!
//! The random generator is a fixed SplitMix64, so a seed gives the same
//! images on every platform and crate version.

use image::Luma;

use crate::FloatImage;

/// SplitMix64: tiny, fast, and stable forever (unlike library RNG streams).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in lo..=hi.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// What to draw.
#[derive(Clone, Debug)]
pub struct Scene {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// µm per pixel.
    pub pixel_size_um: f64,
    /// Number of z slices.
    pub depth: usize,
    /// Random seed.
    pub seed: u64,
    /// Follicles to place (fewer if the field is too crowded).
    pub follicles: usize,
    /// P-cadherin blobs without Sox9 nuclei.
    pub pcad_decoys: usize,
    /// Sox9+ nucleus clusters without P-cadherin.
    pub sox9_decoys: usize,
    /// Small P-cadherin buds (below the default minimum area) holding 3
    /// Sox9+ nuclei.
    pub specks: usize,
    /// Standard deviation of the additive noise (intensities are 0..1).
    pub noise: f64,
    /// Touching pairs of follicles (tip to tip or at an angle).
    pub pairs: usize,
    /// Touching chains of three follicles.
    pub triplets: usize,
    /// Fraction of follicles drawn elongated (aspect ratio ≈ 3.5).
    pub elongated: f64,
    /// Fraction of follicles drawn dim: P-cadherin at 1.5–2× the haze's
    /// peak level.
    pub dim: f64,
    /// Illumination at the corners relative to the centre (1 = flat).
    pub corner_illumination: f64,
    /// Scale of the P-cadherin haze (1 = the default, light haze).
    pub haze: f64,
    /// Crowded DAPI nuclei that touch each other.
    pub dense_nuclei: bool,
}

impl Scene {
    /// A field of `width`×`height` px at `pixel_size_um`, with a follicle
    /// and decoy density typical of regenerating back skin.
    pub fn new(width: usize, height: usize, pixel_size_um: f64, seed: u64) -> Scene {
        let area_mm2 = width as f64 * height as f64 * pixel_size_um * pixel_size_um / 1e6;
        let per = |density: f64| ((area_mm2 * density).round() as usize).max(1);
        Scene {
            width,
            height,
            pixel_size_um,
            depth: 1,
            seed,
            follicles: per(80.0),
            pcad_decoys: per(25.0),
            sox9_decoys: per(25.0),
            specks: per(25.0),
            noise: 0.02,
            pairs: 0,
            triplets: 0,
            elongated: 0.0,
            dim: 0.0,
            corner_illumination: 1.0,
            haze: 1.0,
            dense_nuclei: false,
        }
    }

    /// A hard field: touching pairs and triplets, elongated and dim
    /// follicles, a strong haze, corners at 40 % of the centre's
    /// illumination, crowded nuclei, and every kind of decoy.
    pub fn hard(width: usize, height: usize, pixel_size_um: f64, seed: u64) -> Scene {
        let area_mm2 = width as f64 * height as f64 * pixel_size_um * pixel_size_um / 1e6;
        let per = |density: f64| ((area_mm2 * density).round() as usize).max(1);
        Scene {
            follicles: per(45.0),
            pairs: per(16.0),
            triplets: per(8.0),
            elongated: 0.3,
            dim: 0.25,
            corner_illumination: 0.4,
            haze: 2.5,
            dense_nuclei: true,
            ..Scene::new(width, height, pixel_size_um, seed)
        }
    }
}

/// A rendered scene: intensities in 0..1 per z slice and channel, and the
/// ground truth.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// µm per pixel.
    pub pixel_size_um: f64,
    /// µm between slices, written to the file's metadata when known.
    pub z_step_um: Option<f64>,
    /// `slices[z][c]`, c = P-cadherin, Sox9, DAPI; row-major, 0..1.
    pub slices: Vec<[Vec<f32>; 3]>,
    /// Centre (x = column, y = row, in pixels) of every true follicle.
    pub truth: Vec<(f64, f64)>,
}

#[derive(Clone, Copy, Debug)]
struct Ellipse {
    cx: f64,
    cy: f64,
    a: f64,
    b: f64,
    theta: f64,
    value: f64,
    zc: f64,
    /// Dim follicle: P-cad at this multiple of the haze's peak level.
    dim: Option<f64>,
}

impl Ellipse {
    /// Normalised radius² of (x, y): ≤ 1 inside.
    fn rho2(&self, x: f64, y: f64) -> f64 {
        let (s, c) = self.theta.sin_cos();
        let (dx, dy) = (x - self.cx, y - self.cy);
        let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
        (u / self.a).powi(2) + (v / self.b).powi(2)
    }
}

#[derive(Clone, Copy, Debug)]
struct Nucleus {
    cx: f64,
    cy: f64,
    r: f64,
    dapi: f64,
    sox9: f64,
    zc: f64,
}

struct Layout {
    w_um: f64,
    h_um: f64,
    /// Bounding circles of every placed body, to keep them apart.
    bodies: Vec<(f64, f64, f64)>,
}

impl Layout {
    fn free_spot(&mut self, rng: &mut Rng, radius: f64, gap: f64) -> Option<(f64, f64)> {
        let margin = radius + 6.0;
        if self.w_um <= 2.0 * margin || self.h_um <= 2.0 * margin {
            return None;
        }
        for _ in 0..300 {
            let x = rng.range(margin, self.w_um - margin);
            let y = rng.range(margin, self.h_um - margin);
            let clear = self
                .bodies
                .iter()
                .all(|&(bx, by, br)| (bx - x).hypot(by - y) > br + radius + gap);
            if clear {
                self.bodies.push((x, y, radius));
                return Some((x, y));
            }
        }
        None
    }
}

fn place_nuclei(
    rng: &mut Rng,
    inside: impl Fn(f64, f64) -> bool,
    around: (f64, f64, f64),
    want: usize,
    sep: f64,
) -> Vec<(f64, f64)> {
    let (cx, cy, reach) = around;
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for _ in 0..2000 {
        if pts.len() == want {
            break;
        }
        let x = cx + rng.range(-reach, reach);
        let y = cy + rng.range(-reach, reach);
        if inside(x, y) && pts.iter().all(|&(px, py)| (px - x).hypot(py - y) >= sep) {
            pts.push((x, y));
        }
    }
    pts
}

/// Draws a scene. Deterministic in `scene`.
pub fn render(scene: &Scene) -> Rendered {
    let mut rng = Rng::new(scene.seed);
    let um = scene.pixel_size_um;
    let depth = scene.depth.max(1);
    let mut layout = Layout {
        w_um: scene.width as f64 * um,
        h_um: scene.height as f64 * um,
        bodies: Vec::new(),
    };
    let zc = |rng: &mut Rng| {
        if depth > 1 {
            rng.range(0.0, (depth - 1) as f64)
        } else {
            0.0
        }
    };
    let mut ellipses: Vec<Ellipse> = Vec::new();
    let mut nuclei: Vec<Nucleus> = Vec::new();
    let mut truth = Vec::new();
    let sox9_nucleus = |rng: &mut Rng, x: f64, y: f64, r: f64, z: f64| Nucleus {
        cx: x,
        cy: y,
        r,
        dapi: rng.range(0.45, 0.85),
        sox9: rng.range(0.5, 0.9),
        zc: z,
    };

    // Touching clusters: chains of two or three follicles, tip to tip.
    for k in 0..scene.pairs + scene.triplets {
        let members = if k < scene.pairs { 2 } else { 3 };
        let mut es: Vec<Ellipse> = Vec::new();
        let mut dir = rng.range(0.0, 2.0 * std::f64::consts::PI);
        for _ in 0..members {
            let (a, b) = (rng.range(22.0, 30.0), rng.range(11.0, 14.0));
            let value = rng.range(0.45, 0.75);
            let (mut cx, mut cy, mut theta) = (0.0, 0.0, dir);
            if let Some(prev) = es.last() {
                let phi = dir + rng.range(-0.5, 0.5);
                theta = phi + rng.range(-0.4, 0.4);
                let d = (extent(prev, phi) + extent_ab(a, b, phi - theta)) * rng.range(0.92, 1.0);
                cx = prev.cx + d * phi.cos();
                cy = prev.cy + d * phi.sin();
                dir = phi;
            }
            es.push(Ellipse {
                cx,
                cy,
                a,
                b,
                theta,
                value,
                zc: 0.0,
                dim: None,
            });
        }
        let n = es.len() as f64;
        let (mx, my) = (
            es.iter().map(|e| e.cx).sum::<f64>() / n,
            es.iter().map(|e| e.cy).sum::<f64>() / n,
        );
        let radius = es
            .iter()
            .map(|e| (e.cx - mx).hypot(e.cy - my) + e.a)
            .fold(0.0, f64::max);
        let Some((px, py)) = layout.free_spot(&mut rng, radius, 10.0) else {
            continue;
        };
        let z = zc(&mut rng);
        for e in es.iter_mut() {
            e.cx += px - mx;
            e.cy += py - my;
            e.zc = z;
            if scene.dim > 0.0 && rng.unit() < scene.dim {
                e.dim = Some(rng.range(1.5, 2.0));
            }
        }
        for (i, e) in es.iter().enumerate() {
            let inner = |x: f64, y: f64| {
                e.rho2(x, y) <= 0.72 * 0.72
                    && es
                        .iter()
                        .enumerate()
                        .all(|(j, o)| j == i || o.rho2(x, y) > 1.4)
            };
            let want = rng.int(4, 6);
            let pts = place_nuclei(&mut rng, inner, (e.cx, e.cy, e.a), want, 11.0);
            if pts.len() < 4 {
                continue;
            }
            for (x, y) in pts {
                let r = rng.range(3.0, 3.6);
                nuclei.push(sox9_nucleus(&mut rng, x, y, r, e.zc));
            }
            truth.push((e.cx / um, e.cy / um));
        }
        ellipses.extend(es);
    }

    // Follicles, then P-cad decoys: ellipses; follicles hold Sox9+ nuclei.
    for kind in 0..2 {
        let n = if kind == 0 {
            scene.follicles
        } else {
            scene.pcad_decoys
        };
        for _ in 0..n {
            let elongated = kind == 0 && scene.elongated > 0.0 && rng.unit() < scene.elongated;
            let (a, b) = if elongated {
                (rng.range(38.0, 46.0), rng.range(10.0, 12.5))
            } else {
                (rng.range(22.0, 32.0), rng.range(11.0, 15.0))
            };
            let Some((cx, cy)) = layout.free_spot(&mut rng, a, 10.0) else {
                continue;
            };
            let theta = rng.range(0.0, std::f64::consts::PI);
            let e = Ellipse {
                cx,
                cy,
                a,
                b,
                theta,
                value: rng.range(0.45, 0.75),
                zc: zc(&mut rng),
                dim: None,
            };
            let mut e = e;
            if kind == 0 && scene.dim > 0.0 && rng.unit() < scene.dim {
                e.dim = Some(rng.range(1.5, 2.0));
            }
            if kind == 0 {
                let (s, c) = theta.sin_cos();
                let inner = |x: f64, y: f64| {
                    let (dx, dy) = (x - cx, y - cy);
                    let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
                    (u / (0.72 * a)).powi(2) + (v / (0.72 * b)).powi(2) <= 1.0
                };
                let want = rng.int(4, 6);
                let pts = place_nuclei(&mut rng, inner, (cx, cy, a), want, 11.0);
                if pts.len() < 4 {
                    // Too cramped to be an unambiguous follicle: draw it as a
                    // P-cad decoy instead.
                    ellipses.push(e);
                    continue;
                }
                for (x, y) in pts {
                    let r = rng.range(3.0, 3.6);
                    nuclei.push(sox9_nucleus(&mut rng, x, y, r, e.zc));
                }
                truth.push((cx / um, cy / um));
            }
            ellipses.push(e);
        }
    }
    // Buds: small P-cad discs with three Sox9+ nuclei, below the minimum area.
    for _ in 0..scene.specks {
        let r = rng.range(8.0, 9.0);
        let Some((cx, cy)) = layout.free_spot(&mut rng, r, 10.0) else {
            continue;
        };
        let z = zc(&mut rng);
        ellipses.push(Ellipse {
            cx,
            cy,
            a: r,
            b: r,
            theta: 0.0,
            value: rng.range(0.45, 0.75),
            zc: z,
            dim: None,
        });
        let rot = rng.range(0.0, 2.0 * std::f64::consts::PI);
        for k in 0..3 {
            let t = rot + k as f64 * 2.0 * std::f64::consts::PI / 3.0;
            nuclei.push(sox9_nucleus(
                &mut rng,
                cx + 5.3 * t.cos(),
                cy + 5.3 * t.sin(),
                2.6,
                z,
            ));
        }
    }
    // Sox9 clusters without P-cadherin.
    for _ in 0..scene.sox9_decoys {
        let Some((cx, cy)) = layout.free_spot(&mut rng, 20.0, 12.0) else {
            continue;
        };
        let z = zc(&mut rng);
        let want = rng.int(4, 6);
        let pts = place_nuclei(
            &mut rng,
            |x, y| (x - cx).hypot(y - cy) <= 16.0,
            (cx, cy, 16.0),
            want,
            10.0,
        );
        for (x, y) in pts {
            let r = rng.range(3.0, 3.6);
            nuclei.push(sox9_nucleus(&mut rng, x, y, r, z));
        }
    }
    // Dense DAPI-only nuclei everywhere else.
    let sox9_count = nuclei.len();
    let (per_attempt, min_sep) = if scene.dense_nuclei {
        (35.0, 5.5)
    } else {
        (60.0, 7.5)
    };
    let attempts = (layout.w_um * layout.h_um / per_attempt) as usize;
    let mut grid = SpatialGrid::new(layout.w_um, layout.h_um, 10.0);
    for n in &nuclei {
        grid.insert(n.cx, n.cy);
    }
    for _ in 0..attempts {
        let (x, y) = (rng.range(0.0, layout.w_um), rng.range(0.0, layout.h_um));
        if grid.any_within(x, y, min_sep) {
            continue;
        }
        grid.insert(x, y);
        let r = rng.range(2.8, 3.6);
        let (dapi, z) = (rng.range(0.45, 0.85), zc(&mut rng));
        nuclei.push(Nucleus {
            cx: x,
            cy: y,
            r,
            dapi,
            sox9: 0.0,
            zc: z,
        });
    }
    debug_assert!(nuclei[..sox9_count].iter().all(|n| n.sox9 > 0.0));

    // Low-frequency P-cadherin haze (epidermis).
    let hazes: Vec<(f64, f64, f64, f64)> = (0..3)
        .map(|_| {
            (
                rng.range(0.0, layout.w_um),
                rng.range(0.0, layout.h_um),
                rng.range(60.0, 120.0),
                rng.range(0.04, 0.09) * scene.haze,
            )
        })
        .collect();
    let haze_at = |xu: f64, yu: f64| -> f64 {
        0.05 + hazes
            .iter()
            .map(|&(hx, hy, s, amp)| {
                amp * (-((xu - hx).powi(2) + (yu - hy).powi(2)) / (2.0 * s * s)).exp()
            })
            .sum::<f64>()
    };
    // "The haze" is its peak level in the field: a dim follicle is as
    // bright as 1.5–2× the brightest epidermal haze.
    let haze_peak = 0.05 + hazes.iter().map(|h| h.3).fold(0.0, f64::max);
    for e in ellipses.iter_mut() {
        if let Some(k) = e.dim {
            e.value = k * haze_peak;
        }
    }
    let half_diag2 = (layout.w_um * layout.w_um + layout.h_um * layout.h_um) / 4.0;
    let (mid_x, mid_y) = (layout.w_um / 2.0, layout.h_um / 2.0);
    let illumination = |xu: f64, yu: f64| -> f32 {
        let r2 = ((xu - mid_x).powi(2) + (yu - mid_y).powi(2)) / half_diag2;
        (1.0 - (1.0 - scene.corner_illumination) * r2) as f32
    };

    let (w, h) = (scene.width, scene.height);
    let mut slices = Vec::with_capacity(depth);
    for z in 0..depth {
        let zf = z as f64;
        let zw = |zc: f64| {
            if depth > 1 {
                (-(zf - zc).powi(2) / (2.0 * 1.2f64.powi(2))).exp()
            } else {
                1.0
            }
        };
        let mut ch: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0f32; w * h]);
        for y in 0..h {
            for x in 0..w {
                let (xu, yu) = (x as f64 * um, y as f64 * um);
                ch[0][y * w + x] = haze_at(xu, yu) as f32;
                ch[1][y * w + x] = 0.04;
                ch[2][y * w + x] = 0.04;
            }
        }
        for e in &ellipses {
            let v = (e.value * zw(e.zc)) as f32;
            let (s, c) = e.theta.sin_cos();
            draw(
                &mut ch[0],
                w,
                h,
                um,
                e.cx,
                e.cy,
                e.a,
                |xu, yu| {
                    let (dx, dy) = (xu - e.cx, yu - e.cy);
                    let (u, vv) = (dx * c + dy * s, -dx * s + dy * c);
                    (u / e.a).powi(2) + (vv / e.b).powi(2) <= 1.0
                },
                v,
            );
        }
        for n in &nuclei {
            let inside = |xu: f64, yu: f64| (xu - n.cx).hypot(yu - n.cy) <= n.r;
            let k = zw(n.zc);
            draw(
                &mut ch[2],
                w,
                h,
                um,
                n.cx,
                n.cy,
                n.r,
                inside,
                (n.dapi * k) as f32,
            );
            if n.sox9 > 0.0 {
                draw(
                    &mut ch[1],
                    w,
                    h,
                    um,
                    n.cx,
                    n.cy,
                    n.r,
                    inside,
                    (n.sox9 * k) as f32,
                );
            }
        }
        if scene.corner_illumination != 1.0 {
            for plane in ch.iter_mut() {
                for (i, v) in plane.iter_mut().enumerate() {
                    *v *= illumination((i % w) as f64 * um, (i / w) as f64 * um);
                }
            }
        }
        for plane in ch.iter_mut() {
            let img = FloatImage::from_raw(w as u32, h as u32, std::mem::take(plane))
                .unwrap_or_else(|| FloatImage::new(w as u32, h as u32));
            let blurred = imageproc::filter::gaussian_blur_f32(&img, (0.7 / um).max(0.35) as f32);
            *plane = blurred
                .into_raw()
                .into_iter()
                .map(|v| (f64::from(v) + scene.noise * rng.normal()).clamp(0.0, 1.0) as f32)
                .collect();
        }
        slices.push(ch);
    }
    Rendered {
        width: w,
        height: h,
        pixel_size_um: um,
        z_step_um: None,
        slices,
        truth,
    }
}

/// Distance from the centre to the rim of an ellipse with semi-axes a, b
/// in a direction `alpha` from its major axis.
fn extent_ab(a: f64, b: f64, alpha: f64) -> f64 {
    a * b / ((b * alpha.cos()).powi(2) + (a * alpha.sin()).powi(2)).sqrt()
}

/// Distance from an ellipse's centre to its rim in direction `phi`.
fn extent(e: &Ellipse, phi: f64) -> f64 {
    extent_ab(e.a, e.b, phi - e.theta)
}

/// Sets pixels whose centre lies inside a shape (bounded by a circle of
/// `reach` µm around (cx, cy)) to at least `v`.
#[allow(clippy::too_many_arguments)]
fn draw(
    plane: &mut [f32],
    w: usize,
    h: usize,
    um: f64,
    cx: f64,
    cy: f64,
    reach: f64,
    inside: impl Fn(f64, f64) -> bool,
    v: f32,
) {
    let x0 = ((cx - reach) / um).floor().max(0.0) as usize;
    let y0 = ((cy - reach) / um).floor().max(0.0) as usize;
    let x1 = (((cx + reach) / um).ceil() as usize).min(w.saturating_sub(1));
    let y1 = (((cy + reach) / um).ceil() as usize).min(h.saturating_sub(1));
    for y in y0..=y1 {
        for x in x0..=x1 {
            if inside(x as f64 * um, y as f64 * um) {
                let p = &mut plane[y * w + x];
                *p = p.max(v);
            }
        }
    }
}

struct SpatialGrid {
    cell: f64,
    nx: usize,
    ny: usize,
    cells: Vec<Vec<(f64, f64)>>,
}

impl SpatialGrid {
    fn new(w: f64, h: f64, cell: f64) -> Self {
        let nx = (w / cell).ceil() as usize + 1;
        let ny = (h / cell).ceil() as usize + 1;
        SpatialGrid {
            cell,
            nx,
            ny,
            cells: vec![Vec::new(); nx * ny],
        }
    }

    fn idx(&self, x: f64, y: f64) -> (usize, usize) {
        (
            ((x / self.cell).max(0.0) as usize).min(self.nx - 1),
            ((y / self.cell).max(0.0) as usize).min(self.ny - 1),
        )
    }

    fn insert(&mut self, x: f64, y: f64) {
        let (i, j) = self.idx(x, y);
        self.cells[j * self.nx + i].push((x, y));
    }

    fn any_within(&self, x: f64, y: f64, d: f64) -> bool {
        let (i, j) = self.idx(x, y);
        let r = (d / self.cell).ceil() as usize;
        for jj in j.saturating_sub(r)..=(j + r).min(self.ny - 1) {
            for ii in i.saturating_sub(r)..=(i + r).min(self.nx - 1) {
                if self.cells[jj * self.nx + ii]
                    .iter()
                    .any(|&(px, py)| (px - x).hypot(py - y) < d)
                {
                    return true;
                }
            }
        }
        false
    }
}

/// Converts a 0..1 plane to integers with full scale `max`.
pub fn quantize_u16(plane: &[f32], max: u16) -> Vec<u16> {
    plane
        .iter()
        .map(|&v| (v * f32::from(max)).round() as u16)
        .collect()
}

/// Converts a 0..1 plane to 8-bit.
pub fn quantize_u8(plane: &[f32]) -> Vec<u8> {
    plane.iter().map(|&v| (v * 255.0).round() as u8).collect()
}

/// Makes a `FloatImage` from a rendered plane (for library-level tests).
pub fn to_image(plane: &[f32], w: usize, h: usize) -> FloatImage {
    FloatImage::from_fn(w as u32, h as u32, |x, y| {
        Luma([plane[y as usize * w + x as usize]])
    })
}

pub mod confocal;
pub mod fixtures;
pub mod stack;
pub mod tiled;
pub mod write;
pub mod zarr;

//! Z-stacks of cleared whole-mount back skin, drawn in 3D, with true 3D
//! follicle centres — for the 3D analysis (issue 19) what
//! [`super::confocal`] is for fields.
//!
//! What a deep spinning-disk stack of regenerating skin holds, and what a
//! projection gets wrong about it:
//! - follicles as capsules (cylinders with round ends, 8–14 µm in radius,
//!   20–70 µm long) tilted 30–60° from the optical axis, stained solid or
//!   as a membrane stain (bright cell outlines and outer surface, darker
//!   cell interiors), holding 4–12 Sox9+ nuclei in their outer layer and
//!   Sox9− nuclei inside;
//! - pairs of follicles one over the other: overlapping in the projection,
//!   15–20 µm of clear dermis between them in z;
//! - decoys: P-cadherin bodies without Sox9+ nuclei, clusters of Sox9+
//!   nuclei without P-cadherin, small buds, and a P-cadherin body stacked
//!   over a Sox9+ cluster (one false follicle in the projection);
//! - dense dermal nuclei everywhere (a few weakly Sox9+), Sox9 bleeding
//!   into DAPI, a P-cadherin+ epidermis in the first slices of some
//!   stacks, light falling with depth (`exp(−z / L)`), an anisotropic
//!   point-spread function (σ along z 3–5× that in x–y), camera offset,
//!   shot and read noise.
//!
//! Everything is drawn in µm; voxel (i, j, k) sits at (i·px, j·px, k·dz).

use super::{Rendered, Rng};
use crate::segment::volume::smooth::smooth_voxels;
use crate::volume::Volume;

/// What to draw in one stack.
#[derive(Clone, Debug)]
pub struct StackScene {
    /// Voxels along x, y.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Slices.
    pub depth: usize,
    /// µm per pixel in x–y.
    pub pixel_size_um: f64,
    /// µm between slices.
    pub z_step_um: f64,
    /// Random seed.
    pub seed: u64,
    /// Follicles on their own.
    pub follicles: usize,
    /// Pairs of follicles one over the other.
    pub stacked_pairs: usize,
    /// Pairs of follicles touching side by side.
    pub touching_pairs: usize,
    /// P-cadherin bodies without Sox9+ nuclei.
    pub pcad_decoys: usize,
    /// Clusters of Sox9+ nuclei without P-cadherin.
    pub sox9_decoys: usize,
    /// P-cadherin bodies stacked over (or under) a Sox9+ cluster.
    pub stacked_decoys: usize,
    /// Small buds (below the size window) holding 3 Sox9+ nuclei.
    pub buds: usize,
    /// Fraction of follicles stained as a membrane stain.
    pub membrane: f64,
    /// Fraction of follicles drawn dim (P-cadherin at 0.3–0.45 of bright).
    pub dim: f64,
    /// Depth over which light falls by 1/e, µm.
    pub attenuation_um: f64,
    /// A P-cadherin+ epidermis in the first 6–10 µm.
    pub epidermis: bool,
    /// Dermal nuclei per 1000 µm³.
    pub nuclei_per_1000um3: f64,
    /// Standard deviation of the read noise (intensities are 0..1).
    pub noise: f64,
    /// PSF σ in x–y and along z, µm.
    pub psf_um: (f64, f64),
}

impl StackScene {
    /// A stack with its conditions drawn from the ranges real stacks
    /// span: 0.5–0.8 µm pixels, 1.5–3.5 µm z steps, 30, 40 or 60 slices,
    /// light falling by 1/e over 80–250 µm, densities from 0.5× to 1.5×
    /// the typical, every hard case present in most stacks.
    pub fn drawn(width: usize, height: usize, seed: u64) -> StackScene {
        let mut rng = Rng::new(seed ^ 0x3D57_ACC5);
        let px = rng.range(0.5, 0.8);
        let area_mm2 = (width as f64 * px) * (height as f64 * px) / 1e6;
        let crowding = rng.range(0.5, 1.5);
        let per = |rng: &mut Rng, density: f64| {
            let mean = area_mm2 * density * crowding;
            (mean * rng.range(0.7, 1.3)).round() as usize
        };
        StackScene {
            width,
            height,
            depth: [30, 40, 60][rng.int(0, 2)],
            pixel_size_um: px,
            z_step_um: rng.range(1.5, 3.5),
            seed,
            follicles: per(&mut rng, 70.0).max(1),
            stacked_pairs: per(&mut rng, 25.0),
            touching_pairs: per(&mut rng, 10.0),
            pcad_decoys: per(&mut rng, 12.0),
            sox9_decoys: per(&mut rng, 12.0),
            stacked_decoys: per(&mut rng, 12.0),
            buds: per(&mut rng, 10.0),
            membrane: rng.range(0.0, 0.5),
            dim: rng.range(0.0, 0.3),
            attenuation_um: rng.range(80.0, 250.0),
            epidermis: rng.unit() < 0.5,
            nuclei_per_1000um3: rng.range(0.4, 0.9),
            noise: rng.range(0.01, 0.03),
            psf_um: (rng.range(0.3, 0.45), rng.range(1.2, 2.5)),
        }
    }
}

/// One true follicle of a stack.
#[derive(Clone, Debug, PartialEq)]
pub struct TrueFollicle {
    /// Centre column, pixels.
    pub x: f64,
    /// Centre row, pixels.
    pub y: f64,
    /// Centre depth, µm below the first slice.
    pub z_um: f64,
    /// Stained as a membrane stain.
    pub membrane: bool,
    /// Drawn dim.
    pub dim: bool,
    /// How it sits: `alone`, `stacked` (one over another) or `touching`.
    pub setting: &'static str,
    /// Sox9+ nuclei drawn in it.
    pub sox9_nuclei: usize,
}

/// A rendered stack and its truth.
#[derive(Clone, Debug)]
pub struct RenderedStack {
    /// The slices, ready for the TIFF writers (`rendered.truth`: x–y).
    pub rendered: Rendered,
    /// The true follicles.
    pub follicles: Vec<TrueFollicle>,
    /// Index pairs into `follicles` of the pairs drawn one over the other
    /// (overlapping in the projection).
    pub stacked: Vec<(usize, usize)>,
}

/// A capsule: the points within `r` of the segment `a`–`b` (µm).
#[derive(Clone, Copy, Debug)]
struct Capsule {
    a: [f64; 3],
    b: [f64; 3],
    r: f64,
}

impl Capsule {
    /// A ball of radius `r` around `c`.
    fn ball(c: [f64; 3], r: f64) -> Capsule {
        Capsule { a: c, b: c, r }
    }

    fn centre(&self) -> [f64; 3] {
        [0, 1, 2].map(|i| (self.a[i] + self.b[i]) / 2.0)
    }

    /// Distance from `p` to the axis segment.
    fn axis_distance(&self, p: [f64; 3]) -> f64 {
        let ab = [0, 1, 2].map(|i| self.b[i] - self.a[i]);
        let ap = [0, 1, 2].map(|i| p[i] - self.a[i]);
        let len2: f64 = ab.iter().map(|v| v * v).sum();
        let t = if len2 > 0.0 {
            (ap.iter().zip(&ab).map(|(x, y)| x * y).sum::<f64>() / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        (0..3)
            .map(|i| (ap[i] - t * ab[i]).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    /// Signed distance to the surface (negative inside).
    fn sdf(&self, p: [f64; 3]) -> f64 {
        self.axis_distance(p) - self.r
    }

    /// Points along the axis, for distances between capsules.
    fn axis_points(&self) -> impl Iterator<Item = [f64; 3]> + '_ {
        (0..=8).map(|k| {
            let t = k as f64 / 8.0;
            [0, 1, 2].map(|i| self.a[i] + t * (self.b[i] - self.a[i]))
        })
    }

    /// Surface-to-surface distance to `o` (approximate: axis samples).
    fn gap(&self, o: &Capsule) -> f64 {
        self.axis_points()
            .map(|p| o.axis_distance(p))
            .chain(o.axis_points().map(|p| self.axis_distance(p)))
            .fold(f64::INFINITY, f64::min)
            - self.r
            - o.r
    }

    /// Half its extent along z, µm.
    fn half_depth(&self) -> f64 {
        (self.b[2] - self.a[2]).abs() / 2.0 + self.r
    }
}

/// A capsule of radius `r` and axis length `len` centred at `c`, its axis
/// `tilt` from the z axis (radians) at azimuth `phi`.
fn capsule(c: [f64; 3], r: f64, len: f64, tilt: f64, phi: f64) -> Capsule {
    let dir = [tilt.sin() * phi.cos(), tilt.sin() * phi.sin(), tilt.cos()];
    let h = len / 2.0;
    Capsule {
        a: [0, 1, 2].map(|i| c[i] - h * dir[i]),
        b: [0, 1, 2].map(|i| c[i] + h * dir[i]),
        r,
    }
}

/// A nucleus: a ball with its DAPI and Sox9 levels.
#[derive(Clone, Copy, Debug)]
struct Nucleus {
    c: [f64; 3],
    r: f64,
    dapi: f64,
    sox9: f64,
}

/// A body of P-cadherin: its shape, brightness and texture.
#[derive(Clone, Debug)]
struct Body {
    shape: Capsule,
    level: f64,
    /// Cell centres for a membrane stain (empty: solid).
    cells: Vec<[f64; 3]>,
}

/// Everything placed in a stack, before rendering.
struct Layout {
    size: [f64; 3],
    bodies: Vec<Body>,
    nuclei: Vec<Nucleus>,
    follicles: Vec<TrueFollicle>,
    stacked: Vec<(usize, usize)>,
}

impl Layout {
    /// Whether `c` keeps `gap` µm from every body (and `except`'s index
    /// is not checked), and lies within the stack with a margin.
    fn fits(&self, c: &Capsule, gap: f64, except: Option<usize>) -> bool {
        let inside = (0..3).all(|i| {
            let lo = c.a[i].min(c.b[i]) - c.r;
            let hi = c.a[i].max(c.b[i]) + c.r;
            let margin = if i == 2 { 2.0 } else { 4.0 };
            lo >= margin && hi <= self.size[i] - margin
        });
        inside
            && self
                .bodies
                .iter()
                .enumerate()
                .all(|(k, b)| Some(k) == except || b.shape.gap(c) >= gap)
    }
}

/// Sox9+ nuclei in the outer layer of `c` (0.45–0.8 of its radius from
/// the axis), `want` of them at least 1.8 radii apart (packed, touching).
fn sox9_nuclei_in(rng: &mut Rng, c: &Capsule, want: usize, level: f64) -> Vec<Nucleus> {
    let mut out: Vec<Nucleus> = Vec::new();
    for _ in 0..3000 {
        if out.len() == want {
            break;
        }
        let lo = [0, 1, 2].map(|i| c.a[i].min(c.b[i]) - c.r);
        let hi = [0, 1, 2].map(|i| c.a[i].max(c.b[i]) + c.r);
        let p = [0, 1, 2].map(|i| rng.range(lo[i], hi[i]));
        let d = c.axis_distance(p);
        let r = rng.range(2.6, 3.3);
        if d < 0.45 * c.r || d > 0.8 * c.r || out.iter().any(|n| dist(n.c, p) < 2.1 * r.max(n.r)) {
            continue;
        }
        out.push(Nucleus {
            c: p,
            r,
            dapi: rng.range(0.55, 0.9),
            sox9: level * rng.range(0.7, 1.0),
        });
    }
    out
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt()
}

/// Cell centres filling `c` about 8 µm apart (a membrane stain's cells).
fn cells_in(rng: &mut Rng, c: &Capsule) -> Vec<[f64; 3]> {
    let lo = [0, 1, 2].map(|i| c.a[i].min(c.b[i]) - c.r);
    let hi = [0, 1, 2].map(|i| c.a[i].max(c.b[i]) + c.r);
    let vol = std::f64::consts::PI * c.r * c.r * (dist(c.a, c.b) + 4.0 * c.r / 3.0);
    let want = (vol / 400.0).ceil() as usize;
    let mut out: Vec<[f64; 3]> = Vec::new();
    for _ in 0..want * 30 {
        if out.len() == want {
            break;
        }
        let p = [0, 1, 2].map(|i| rng.range(lo[i], hi[i]));
        if c.sdf(p) < 0.0 && out.iter().all(|q| dist(*q, p) > 5.0) {
            out.push(p);
        }
    }
    out
}

/// Radius of a Sox9+ cluster without P-cadherin, µm.
const CLUSTER_UM: f64 = 12.0;

/// A cluster of 5–8 Sox9+ nuclei around `c` without P-cadherin (in the
/// shell `sox9_nuclei_in` fills, 0.45–0.8 of [`CLUSTER_UM`] out), its room
/// reserved by a body of level 0 so that nothing else is placed there.
fn add_sox9_cluster(rng: &mut Rng, l: &mut Layout, c: [f64; 3]) {
    let ball = Capsule::ball(c, CLUSTER_UM);
    let want = rng.int(5, 8);
    let sox9 = rng.range(0.6, 1.0);
    let nuclei = sox9_nuclei_in(rng, &ball, want, sox9);
    l.nuclei.extend(nuclei);
    l.bodies.push(Body {
        shape: ball,
        level: 0.0,
        cells: Vec::new(),
    });
}

/// Places a follicle: its body, its Sox9+ nuclei, its truth.
fn add_follicle(
    rng: &mut Rng,
    l: &mut Layout,
    scene: &StackScene,
    shape: Capsule,
    setting: &'static str,
) -> usize {
    let membrane = rng.unit() < scene.membrane;
    let dim = rng.unit() < scene.dim;
    let level = if dim {
        rng.range(0.3, 0.45)
    } else {
        rng.range(0.7, 1.0)
    };
    let cells = if membrane {
        cells_in(rng, &shape)
    } else {
        Vec::new()
    };
    let want = rng.int(4, 12);
    let sox9 = rng.range(0.6, 1.0);
    let nuclei = sox9_nuclei_in(rng, &shape, want, sox9);
    let c = shape.centre();
    l.follicles.push(TrueFollicle {
        x: c[0] / scene.pixel_size_um,
        y: c[1] / scene.pixel_size_um,
        z_um: c[2],
        membrane,
        dim,
        setting,
        sox9_nuclei: nuclei.len(),
    });
    l.nuclei.extend(nuclei);
    l.bodies.push(Body {
        shape,
        level,
        cells,
    });
    l.follicles.len() - 1
}

/// A follicle-sized capsule at a random place and angle.
fn random_follicle_shape(rng: &mut Rng, size: [f64; 3], tilt: (f64, f64)) -> Capsule {
    let r = rng.range(8.0, 14.0);
    let len = rng.range(20.0, 70.0);
    let c = [
        rng.range(0.0, size[0]),
        rng.range(0.0, size[1]),
        rng.range(0.0, size[2]),
    ];
    capsule(
        c,
        r,
        len,
        rng.range(tilt.0, tilt.1).to_radians(),
        rng.range(0.0, std::f64::consts::TAU),
    )
}

/// Places every object of the scene.
fn lay_out(scene: &StackScene, rng: &mut Rng) -> Layout {
    let size = [
        scene.width as f64 * scene.pixel_size_um,
        scene.height as f64 * scene.pixel_size_um,
        scene.depth as f64 * scene.z_step_um,
    ];
    let mut l = Layout {
        size,
        bodies: Vec::new(),
        nuclei: Vec::new(),
        follicles: Vec::new(),
        stacked: Vec::new(),
    };
    // Stacked pairs first (they need the room): the lower follicle under
    // the upper one's centre, 15–20 µm of dermis between them. Follicles
    // lying flatter (60–80° from z) so two fit in the stack's depth.
    for _ in 0..scene.stacked_pairs {
        for _ in 0..200 {
            let mut top = random_follicle_shape(rng, size, (60.0, 80.0));
            let gap = rng.range(15.0, 20.0);
            let shift = top.half_depth() - top.centre()[2] + 2.5;
            top.a[2] += shift;
            top.b[2] += shift;
            let mut low = random_follicle_shape(rng, size, (60.0, 80.0));
            let (tc, lc) = (top.centre(), low.centre());
            let dz = tc[2] + top.half_depth() + gap + low.half_depth() - lc[2];
            let dx = tc[0] + rng.range(-4.0, 4.0) - lc[0];
            let dy = tc[1] + rng.range(-4.0, 4.0) - lc[1];
            for p in [&mut low.a, &mut low.b] {
                p[0] += dx;
                p[1] += dy;
                p[2] += dz;
            }
            if l.fits(&top, 6.0, None) && l.fits(&low, 6.0, None) && top.gap(&low) >= 14.0 {
                let i = add_follicle(rng, &mut l, scene, top, "stacked");
                let j = add_follicle(rng, &mut l, scene, low, "stacked");
                l.stacked.push((i, j));
                break;
            }
        }
    }
    // Side by side pairs, their surfaces touching.
    for _ in 0..scene.touching_pairs {
        for _ in 0..200 {
            let a = random_follicle_shape(rng, size, (30.0, 60.0));
            let mut b = random_follicle_shape(rng, size, (30.0, 60.0));
            let (ac, bc) = (a.centre(), b.centre());
            let dir = rng.range(0.0, std::f64::consts::TAU);
            let reach = a.r + b.r + 6.0;
            let shift = [
                ac[0] + reach * dir.cos() - bc[0],
                ac[1] + reach * dir.sin() - bc[1],
                ac[2] - bc[2],
            ];
            for p in [&mut b.a, &mut b.b] {
                for i in 0..3 {
                    p[i] += shift[i];
                }
            }
            // Slide b towards a until they touch.
            let g = a.gap(&b);
            let step = [dir.cos(), dir.sin()];
            for p in [&mut b.a, &mut b.b] {
                p[0] -= (g + 1.0) * step[0];
                p[1] -= (g + 1.0) * step[1];
            }
            let g = a.gap(&b);
            if (-2.5..=0.5).contains(&g) && l.fits(&a, 6.0, None) && l.fits(&b, 6.0, None) {
                add_follicle(rng, &mut l, scene, a, "touching");
                add_follicle(rng, &mut l, scene, b, "touching");
                break;
            }
        }
    }
    for _ in 0..scene.follicles {
        for _ in 0..200 {
            let c = random_follicle_shape(rng, size, (30.0, 60.0));
            if l.fits(&c, 6.0, None) {
                add_follicle(rng, &mut l, scene, c, "alone");
                break;
            }
        }
    }
    // Decoys.
    let blob = |rng: &mut Rng| {
        let r = rng.range(10.0, 14.0);
        let c = [
            rng.range(0.0, size[0]),
            rng.range(0.0, size[1]),
            rng.range(0.0, size[2]),
        ];
        capsule(
            c,
            r,
            rng.range(0.0, 15.0),
            rng.range(0.0, 1.5),
            rng.range(0.0, 6.3),
        )
    };
    for _ in 0..scene.pcad_decoys {
        for _ in 0..200 {
            let c = blob(rng);
            if l.fits(&c, 6.0, None) {
                let level = rng.range(0.5, 0.9);
                l.bodies.push(Body {
                    shape: c,
                    level,
                    cells: Vec::new(),
                });
                break;
            }
        }
    }
    for _ in 0..scene.sox9_decoys {
        for _ in 0..200 {
            let c = blob(rng).centre();
            if l.fits(&Capsule::ball(c, CLUSTER_UM), 6.0, None) {
                add_sox9_cluster(rng, &mut l, c);
                break;
            }
        }
    }
    for _ in 0..scene.stacked_decoys {
        for _ in 0..200 {
            let body = blob(rng);
            let c = body.centre();
            let below = c[2] < size[2] / 2.0;
            let dz = rng.range(22.0, 32.0) * if below { 1.0 } else { -1.0 };
            let ball = Capsule::ball([c[0], c[1], c[2] + dz], CLUSTER_UM);
            if l.fits(&body, 6.0, None) && l.fits(&ball, 6.0, None) && body.gap(&ball) > 4.0 {
                l.bodies.push(Body {
                    shape: body,
                    level: rng.range(0.5, 0.9),
                    cells: Vec::new(),
                });
                add_sox9_cluster(rng, &mut l, ball.a);
                break;
            }
        }
    }
    for _ in 0..scene.buds {
        for _ in 0..200 {
            let r = rng.range(5.0, 7.0);
            let c = [
                rng.range(0.0, size[0]),
                rng.range(0.0, size[1]),
                rng.range(0.0, size[2]),
            ];
            let bud = capsule(c, r, rng.range(0.0, 4.0), 0.5, rng.range(0.0, 6.3));
            if l.fits(&bud, 6.0, None) {
                let n = sox9_nuclei_in(rng, &bud, 3, 0.8);
                l.nuclei.extend(n);
                l.bodies.push(Body {
                    shape: bud,
                    level: rng.range(0.6, 0.9),
                    cells: Vec::new(),
                });
                break;
            }
        }
    }
    // Sox9− nuclei packed inside every P-cadherin body (epithelia are
    // cellular: one nucleus per 500 µm³, touching), then dense dermal
    // nuclei outside them, a few weakly Sox9+.
    let mut grid = Grid::new(size, 8.0);
    for n in &l.nuclei {
        grid.add(n.c);
    }
    let mut extra = Vec::new();
    for b in l.bodies.iter().filter(|b| b.level > 0.0) {
        let c = &b.shape;
        let vol = std::f64::consts::PI * c.r * c.r * (dist(c.a, c.b) + 4.0 * c.r / 3.0);
        let want = (vol / 500.0) as usize;
        let mut placed = 0;
        for _ in 0..want * 10 {
            let lo = [0, 1, 2].map(|i| c.a[i].min(c.b[i]) - c.r);
            let hi = [0, 1, 2].map(|i| c.a[i].max(c.b[i]) + c.r);
            let p = [0, 1, 2].map(|i| rng.range(lo[i], hi[i]));
            let r = rng.range(2.6, 3.3);
            if c.sdf(p) < -r && !grid.near(p, 1.7 * 3.3) {
                grid.add(p);
                extra.push(Nucleus {
                    c: p,
                    r,
                    dapi: rng.range(0.5, 0.85),
                    sox9: 0.0,
                });
                placed += 1;
            }
            if placed >= want {
                break;
            }
        }
    }
    l.nuclei.extend(extra);
    let volume = size[0] * size[1] * size[2];
    let want = (volume / 1000.0 * scene.nuclei_per_1000um3) as usize;
    for _ in 0..want {
        let p = [0, 1, 2].map(|i| rng.range(0.0, size[i]));
        let r = rng.range(2.5, 3.5);
        if l.bodies.iter().any(|b| b.shape.sdf(p) < r + 1.0) || grid.near(p, 2.0 * r) {
            continue;
        }
        grid.add(p);
        let weak = rng.unit() < 0.05;
        l.nuclei.push(Nucleus {
            c: p,
            r,
            dapi: rng.range(0.4, 0.8),
            sox9: if weak { rng.range(0.15, 0.3) } else { 0.0 },
        });
    }
    l
}

/// Points binned in cubes, to find near ones fast.
struct Grid {
    cell: f64,
    dims: [usize; 3],
    bins: Vec<Vec<[f64; 3]>>,
}

impl Grid {
    fn new(size: [f64; 3], cell: f64) -> Grid {
        let dims = size.map(|s| (s / cell).ceil().max(1.0) as usize);
        Grid {
            cell,
            dims,
            bins: vec![Vec::new(); dims[0] * dims[1] * dims[2]],
        }
    }

    fn bin(&self, p: [f64; 3]) -> [usize; 3] {
        [0, 1, 2].map(|i| ((p[i] / self.cell).max(0.0) as usize).min(self.dims[i] - 1))
    }

    fn add(&mut self, p: [f64; 3]) {
        let [a, b, c] = self.bin(p);
        let i = (c * self.dims[1] + b) * self.dims[0] + a;
        self.bins[i].push(p);
    }

    /// Whether a point lies within `d` (≤ the cell size) of `p`.
    fn near(&self, p: [f64; 3], d: f64) -> bool {
        let [a, b, c] = self.bin(p);
        for z in c.saturating_sub(1)..=(c + 1).min(self.dims[2] - 1) {
            for y in b.saturating_sub(1)..=(b + 1).min(self.dims[1] - 1) {
                for x in a.saturating_sub(1)..=(a + 1).min(self.dims[0] - 1) {
                    let i = (z * self.dims[1] + y) * self.dims[0] + x;
                    if self.bins[i].iter().any(|q| dist(*q, p) < d) {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// The voxel ranges (x, y, z) a shape of bounds `lo..hi` (µm) covers.
fn voxel_box(
    lo: [f64; 3],
    hi: [f64; 3],
    step: [f64; 3],
    dims: [usize; 3],
) -> [std::ops::Range<usize>; 3] {
    [0, 1, 2].map(|i| {
        let a = (lo[i] / step[i]).floor().max(0.0) as usize;
        let b = ((hi[i] / step[i]).ceil() as usize + 1).min(dims[i]);
        a.min(b)..b
    })
}

/// Soft inside-ness of a signed distance (µm): 1 well inside, 0 outside,
/// a 1 µm ramp at the surface.
fn inside(sd: f64) -> f64 {
    (0.5 - sd).clamp(0.0, 1.0)
}

/// Draws a stack. Deterministic in `scene`.
pub fn render_stack(scene: &StackScene) -> RenderedStack {
    let mut rng = Rng::new(scene.seed);
    let l = lay_out(scene, &mut rng);
    let (w, h, d) = (scene.width, scene.height, scene.depth);
    let step = [scene.pixel_size_um, scene.pixel_size_um, scene.z_step_um];
    let dims = [w, h, d];
    let mut pcad = Volume::filled(w, h, d, 0f32);
    let mut sox9 = Volume::filled(w, h, d, 0f32);
    let mut dapi = Volume::filled(w, h, d, 0f32);
    let at = |i: [usize; 3]| [0, 1, 2].map(|k| i[k] as f64 * step[k]);
    for b in l.bodies.iter().filter(|b| b.level > 0.0) {
        let c = &b.shape;
        let lo = [0, 1, 2].map(|i| c.a[i].min(c.b[i]) - c.r - 1.0);
        let hi = [0, 1, 2].map(|i| c.a[i].max(c.b[i]) + c.r + 1.0);
        let [xs, ys, zs] = voxel_box(lo, hi, step, dims);
        for z in zs {
            for y in ys.clone() {
                for x in xs.clone() {
                    let p = at([x, y, z]);
                    let sd = c.sdf(p);
                    let m = inside(sd);
                    if m == 0.0 {
                        continue;
                    }
                    let texture = if b.cells.is_empty() {
                        1.0
                    } else {
                        // Bright near the surface and near the boundaries
                        // between cells (the two nearest centres about
                        // equally far), dark inside cells.
                        let (mut d1, mut d2) = (f64::INFINITY, f64::INFINITY);
                        for q in &b.cells {
                            let dq = dist(*q, p);
                            if dq < d1 {
                                d2 = d1;
                                d1 = dq;
                            } else if dq < d2 {
                                d2 = dq;
                            }
                        }
                        let edge = sd > -1.8 || d2 - d1 < 1.6;
                        if edge {
                            1.0
                        } else {
                            0.3
                        }
                    };
                    let v = (b.level * texture * m) as f32;
                    let i = pcad.index(x, y, z);
                    pcad.data[i] = pcad.data[i].max(v);
                }
            }
        }
    }
    for n in &l.nuclei {
        let lo = n.c.map(|v| v - n.r - 1.0);
        let hi = n.c.map(|v| v + n.r + 1.0);
        let [xs, ys, zs] = voxel_box(lo, hi, step, dims);
        for z in zs {
            for y in ys.clone() {
                for x in xs.clone() {
                    let m = inside(dist(at([x, y, z]), n.c) - n.r);
                    if m == 0.0 {
                        continue;
                    }
                    let i = dapi.index(x, y, z);
                    dapi.data[i] = dapi.data[i].max((n.dapi * m) as f32);
                    sox9.data[i] = sox9.data[i].max((n.sox9 * m) as f32);
                }
            }
        }
    }
    // Sox9 bleeds into DAPI.
    for (dv, sv) in dapi.data.iter_mut().zip(&sox9.data) {
        *dv += 0.12 * sv;
    }
    // The epidermis: a P-cadherin+ sheet over the first µm, and a haze.
    let epidermis_um = rng.range(6.0, 10.0);
    for z in 0..d {
        let zu = z as f64 * step[2];
        let sheet = if scene.epidermis && zu < epidermis_um {
            0.35
        } else {
            0.0
        };
        for v in pcad.slice_mut(z) {
            *v = v.max(sheet);
        }
    }
    // Optics: the PSF, then light falling with depth.
    let psf =
        |v: &Volume<f32>| smooth_voxels(v, scene.psf_um.0 / step[0], scene.psf_um.1 / step[2]);
    let mut channels = [psf(&pcad), psf(&sox9), psf(&dapi)];
    drop((pcad, sox9, dapi));
    for ch in channels.iter_mut() {
        for z in 0..d {
            let f = (-(z as f64 * step[2]) / scene.attenuation_um).exp() as f32;
            ch.slice_mut(z).iter_mut().for_each(|v| *v *= f);
        }
    }
    // Camera: offset, shot and read noise; a low P-cadherin haze.
    let offset = rng.range(0.02, 0.05);
    for (c, ch) in channels.iter_mut().enumerate() {
        let haze = if c == 0 { 0.04 } else { 0.0 };
        for v in ch.data.iter_mut() {
            let signal = f64::from(*v) + haze;
            let shot = (signal.max(0.0) * 0.002).sqrt() * rng.normal();
            *v = (offset + signal + shot + scene.noise * rng.normal()).clamp(0.0, 1.0) as f32;
        }
    }
    let slices = (0..d)
        .map(|z| [0, 1, 2].map(|c| channels[c].slice(z).to_vec()))
        .collect();
    let truth = l.follicles.iter().map(|f| (f.x, f.y)).collect();
    RenderedStack {
        rendered: Rendered {
            width: w,
            height: h,
            pixel_size_um: scene.pixel_size_um,
            z_step_um: Some(scene.z_step_um),
            slices,
            truth,
        },
        follicles: l.follicles,
        stacked: l.stacked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacked_pairs_overlap_in_projection_and_are_apart_in_z() {
        let mut s = StackScene::drawn(256, 256, 5);
        s.stacked_pairs = 2;
        let r = render_stack(&s);
        assert!(!r.stacked.is_empty());
        for &(i, j) in &r.stacked {
            let (a, b) = (&r.follicles[i], &r.follicles[j]);
            let xy = (a.x - b.x).hypot(a.y - b.y) * s.pixel_size_um;
            assert!(xy < 6.0, "{xy} µm apart in x–y");
            assert!((a.z_um - b.z_um).abs() > 25.0);
        }
        // Deterministic.
        assert_eq!(render_stack(&s).rendered.slices, r.rendered.slices);
        assert_eq!(r.rendered.slices.len(), 40);
    }
}

//! Pieces the split cut off a follicle, given back: a piece of a split
//! object that holds Sox9+ nuclei, but too few to count alone, is part
//! of a follicle the split should not have cut — the far end of a
//! long follicle cut at a waist, or half of a curved one — not a
//! follicle of its own. It joins the counted follicle it shares the
//! longest border with; two such pieces that together hold enough join
//! each other. A piece with no Sox9+ nucleus (a P-cadherin blob, a haze
//! skirt lying against a follicle) stays apart. Only pieces of one
//! object meet along a border: separate objects never touch.
//!
//! The same test as the follicle rule's (`crate::follicle::classify`):
//! the joined piece is judged again as one object.

use std::collections::HashMap;

use super::candidates::Measured;
use super::Scale;
use crate::follicle::{classify, Evidence, Verdict};
use crate::params::Params;
use crate::segment::label::{find, union};

/// The candidates and what each holds (index: label − 1).
pub(super) struct Pieces {
    /// Their labels and measurements.
    pub measured: Measured,
    /// Their Sox9+ nuclei.
    pub sox9_nuclei: Vec<u32>,
    /// Their contrast against their surroundings.
    pub contrast: Vec<Option<f64>>,
}

/// Joins back the pieces of `pieces` that are short of Sox9+ nuclei (see
/// the module's doc), measured in µm² by `scale` and judged by `p`'s
/// rule. Labels stay `1..=m` in raster order of first pixel; a joined
/// object has the sums of its pieces, their nuclei, and their contrasts'
/// area-weighted mean (each piece passed the contrast test).
pub(super) fn rejoin_pieces_short_of_sox9(pieces: Pieces, p: &Params, scale: Scale) -> Pieces {
    let verdicts: Vec<Verdict> = (0..pieces.measured.regions.len())
        .map(|i| {
            classify(
                Evidence {
                    area: scale.um2(pieces.measured.regions[i].area_px),
                    sox9_nuclei: pieces.sox9_nuclei[i],
                    contrast: pieces.contrast[i],
                },
                p,
            )
        })
        .collect();
    let short: Vec<bool> = verdicts
        .iter()
        .zip(&pieces.sox9_nuclei)
        .map(|(&v, &k)| k > 0 && v == Verdict::TooFewSox9)
        .collect();
    if !short.contains(&true) {
        return pieces;
    }
    let borders = borders_of_short(&pieces.measured, &short);
    let mut groups = Groups::of(&pieces, &verdicts);
    let fits = |a: u64| scale.um2(a) <= p.max_area_um2;
    let mut joined = false;
    // Two short pieces that together hold enough: longest border first.
    for &((a, b), _) in &borders {
        let (ra, rb) = (groups.root(a), groups.root(b));
        if ra == rb || !short[a as usize - 1] || !short[b as usize - 1] {
            continue;
        }
        let enough = groups.nuclei[ra] + groups.nuclei[rb] >= p.min_sox9_nuclei;
        if !groups.counted[ra]
            && !groups.counted[rb]
            && enough
            && fits(groups.area[ra] + groups.area[rb])
        {
            groups.join(a, b);
            joined = true;
        }
    }
    // Each short piece left to the counted follicle it shares the
    // longest border with (borders longest first: the first met).
    for &((a, b), _) in &borders {
        for (piece, host) in [(a, b), (b, a)] {
            let (rp, rh) = (groups.root(piece), groups.root(host));
            if rp == rh || !short[piece as usize - 1] || groups.counted[rp] || !groups.counted[rh] {
                continue;
            }
            if fits(groups.area[rp] + groups.area[rh]) {
                groups.join(piece, host);
                joined = true;
            }
        }
    }
    if !joined {
        return pieces;
    }
    relabel(pieces, &mut groups.parent)
}

/// Groups of labels (a union-find forest, each rooted at its least
/// label), each with its area (px), its Sox9+ nuclei and whether it
/// counts as a follicle (index: the root label).
struct Groups {
    parent: Vec<u32>,
    area: Vec<u64>,
    nuclei: Vec<u32>,
    counted: Vec<bool>,
}

impl Groups {
    /// Each piece of `pieces` a group of its own, counted where its
    /// verdict is [`Verdict::Follicle`].
    fn of(pieces: &Pieces, verdicts: &[Verdict]) -> Groups {
        Groups {
            parent: (0..=verdicts.len() as u32).collect(),
            area: std::iter::once(0)
                .chain(pieces.measured.regions.iter().map(|r| r.area_px))
                .collect(),
            nuclei: std::iter::once(0)
                .chain(pieces.sox9_nuclei.iter().copied())
                .collect(),
            counted: std::iter::once(false)
                .chain(verdicts.iter().map(|&v| v == Verdict::Follicle))
                .collect(),
        }
    }

    /// The root (least label) of label `l`'s group.
    fn root(&mut self, l: u32) -> usize {
        find(&mut self.parent, l) as usize
    }

    /// Joins the groups of labels `a` and `b` into one that counts: their
    /// areas and nuclei summed at the lesser root.
    fn join(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.root(a), self.root(b));
        let (keep, gone) = (ra.min(rb), ra.max(rb));
        union(&mut self.parent, a, b);
        self.area[keep] += self.area[gone];
        self.nuclei[keep] += self.nuclei[gone];
        self.counted[keep] = true;
    }
}

/// Each pair of touching labels (4-neighbours) of which one at least is
/// `short` (index: label − 1), with the length of their border in pixel
/// sides: longest first, ties by labels.
fn borders_of_short(measured: &Measured, short: &[bool]) -> Vec<((u32, u32), u32)> {
    let labels = &measured.labels;
    let (w, h) = (labels.width() as usize, labels.height() as usize);
    let raw = labels.as_raw();
    let mut borders: HashMap<(u32, u32), u32> = HashMap::new();
    let is_short = |l: u32| l != 0 && short.get(l as usize - 1).copied().unwrap_or(false);
    let mut meet = |a: u32, b: u32| {
        if a != 0 && b != 0 && a != b && (is_short(a) || is_short(b)) {
            let key = (a.min(b), a.max(b));
            *borders.entry(key).or_insert(0) += 1;
        }
    };
    for y in 0..h {
        let row = &raw[y * w..(y + 1) * w];
        for x in 0..w {
            if x + 1 < w {
                meet(row[x], row[x + 1]);
            }
            if y + 1 < h {
                meet(row[x], raw[(y + 1) * w + x]);
            }
        }
    }
    let mut borders: Vec<((u32, u32), u32)> = borders.into_iter().collect();
    borders.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    borders
}

/// `pieces` with each group of `parent` one object, labelled by its
/// least label's rank (the groups keep their order of first pixel: a
/// group's first pixel is its least label's).
fn relabel(pieces: Pieces, parent: &mut [u32]) -> Pieces {
    let Pieces {
        mut measured,
        sox9_nuclei,
        contrast,
    } = pieces;
    let n = measured.regions.len();
    // Each group's number, at its least label; then every label's.
    let mut number = vec![0u32; n + 1];
    let mut m = 0;
    for (l, v) in number.iter_mut().enumerate().skip(1) {
        if find(parent, l as u32) as usize == l {
            m += 1;
            *v = m;
        }
    }
    let number: Vec<u32> = (0..=n as u32)
        .map(|l| number[find(parent, l) as usize])
        .collect();
    for v in measured.labels.iter_mut() {
        *v = number[*v as usize];
    }
    let mut regions: Vec<Option<crate::measure::Region<3>>> = vec![None; m as usize];
    let mut nuclei = vec![0u32; m as usize];
    // (Σ area × contrast, Σ area) of the pieces with a contrast.
    let mut weighted = vec![(0f64, 0f64, false); m as usize];
    for (i, r) in measured.regions.iter().enumerate() {
        let k = number[i + 1] as usize - 1;
        regions[k] = Some(match regions[k].take() {
            None => r.clone(),
            Some(g) => g.merged(r),
        });
        nuclei[k] += sox9_nuclei[i];
        if let Some(c) = contrast[i] {
            let a = r.area_px as f64;
            weighted[k] = (weighted[k].0 + a * c, weighted[k].1 + a, true);
        }
    }
    measured.regions = regions
        .into_iter()
        .zip(1..)
        .filter_map(|(r, label)| {
            r.map(|mut r| {
                r.label = label;
                r
            })
        })
        .collect();
    let contrast = weighted
        .into_iter()
        .map(|(s, a, any)| any.then(|| s / a.max(1.0)))
        .collect();
    Pieces {
        measured,
        sox9_nuclei: nuclei,
        contrast,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Labels;

    /// Pieces side by side in a 60 × 30 field of 1 µm pixels: piece k
    /// (1-based) holds columns `edges[k - 1]..edges[k]`, `nuclei[k - 1]`
    /// Sox9+ nuclei and contrast 4 + k.
    fn pieces(edges: &[u32], nuclei: &[u32]) -> Pieces {
        let (w, h) = (60u32, 30u32);
        let labels = Labels::from_fn(w, h, |x, _| {
            let k = edges.windows(2).position(|e| (e[0]..e[1]).contains(&x));
            image::Luma([k.map_or(0, |k| k as u32 + 1)])
        });
        let n = edges.len() as u32 - 1;
        let stain = vec![1u16; (w * h) as usize];
        let regions = crate::measure::regions(&labels, n, [&stain[..], &stain, &stain]);
        Pieces {
            measured: Measured { labels, regions },
            sox9_nuclei: nuclei.to_vec(),
            contrast: (1..=n).map(|k| Some(4.0 + f64::from(k))).collect(),
        }
    }

    fn rejoined(edges: &[u32], nuclei: &[u32], p: &Params) -> Pieces {
        rejoin_pieces_short_of_sox9(pieces(edges, nuclei), p, Scale { um_per_px: 1.0 })
    }

    /// The label of each column (every row is the same).
    fn columns(p: &Pieces) -> Vec<u32> {
        (0..60)
            .map(|x| p.measured.labels.get_pixel(x, 0)[0])
            .collect()
    }

    #[test]
    fn a_piece_with_too_few_sox9_nuclei_joins_the_follicle_it_touches() {
        let p = Params::default();
        let out = rejoined(&[0, 30, 60], &[3, 1], &p);
        assert_eq!(out.measured.regions.len(), 1);
        assert!(columns(&out).iter().all(|&l| l == 1));
        let r = &out.measured.regions[0];
        assert_eq!((r.label, r.area_px), (1, 1800));
        assert_eq!(r.centroid(), (29.5, 14.5));
        assert_eq!(out.sox9_nuclei, vec![4]);
        // The contrasts (5 and 6) weighted by area.
        assert_eq!(out.contrast, vec![Some(5.5)]);
    }

    #[test]
    fn a_piece_without_sox9_nuclei_stays_apart() {
        let p = Params::default();
        let out = rejoined(&[0, 30, 60], &[3, 0], &p);
        assert_eq!(out.measured.regions.len(), 2);
        assert_eq!(out.sox9_nuclei, vec![3, 0]);
        assert_eq!(columns(&out)[29..31], [1, 2]);
    }

    #[test]
    fn two_short_pieces_join_when_together_they_hold_enough() {
        let p = Params::default();
        let out = rejoined(&[0, 30, 60], &[2, 1], &p);
        assert_eq!(out.sox9_nuclei, vec![3]);
        // Together still too few: apart.
        let out = rejoined(&[0, 30, 60], &[1, 1], &p);
        assert_eq!(out.sox9_nuclei, vec![1, 1]);
    }

    #[test]
    fn nothing_joins_past_the_largest_follicle() {
        let p = Params {
            max_area_um2: 1500.0,
            ..Params::default()
        };
        let out = rejoined(&[0, 30, 60], &[3, 1], &p);
        assert_eq!(out.sox9_nuclei, vec![3, 1]);
    }

    /// A short piece between two follicles joins the one it shares the
    /// longer border with (here equal: the first); labels stay in order
    /// of first pixel, with no gap.
    #[test]
    fn a_short_piece_joins_one_follicle_and_labels_close_up() {
        let p = Params::default();
        let out = rejoined(&[0, 20, 40, 60], &[3, 1, 4], &p);
        assert_eq!(out.sox9_nuclei, vec![4, 4]);
        let cols = columns(&out);
        assert!(cols[..40].iter().all(|&l| l == 1));
        assert!(cols[40..].iter().all(|&l| l == 2));
        let labels: Vec<u32> = out.measured.regions.iter().map(|r| r.label).collect();
        assert_eq!(labels, vec![1, 2]);
        assert_eq!(out.contrast, vec![Some(5.5), Some(7.0)]);
    }
}

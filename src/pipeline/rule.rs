//! The follicle rule ([`crate::follicle::classify`]) applied to every
//! measured candidate: counted follicles numbered 1..=n, the rest kept
//! with the reason they were rejected.

use super::{FieldAnalysis, Object, Scale};
use crate::follicle::{classify, Evidence, Verdict};
use crate::io::Field;
use crate::measure::Region;
use crate::params::Params;

/// What the field's stages found besides the candidates, reported as it is.
pub(super) struct Found {
    /// Thresholds of P-cadherin, Sox9, DAPI (smoothed, corrected units).
    pub thresholds: [f32; 3],
    /// The field's Sox9+ nuclei.
    pub sox9_nuclei: usize,
    /// The imaged tissue's area, mm² (see [`crate::segment::tissue`]).
    pub tissue_mm2: f64,
}

/// The candidates and what was found in each (index: label − 1).
pub(super) struct Candidates<'a> {
    /// Their measurements.
    pub regions: &'a [Region<3>],
    /// Their Sox9+ nuclei.
    pub sox9_nuclei: &'a [u32],
    /// Their contrast against their surroundings.
    pub contrast: &'a [Option<f64>],
}

/// Judges each candidate by its area in µm² (px² without a pixel size),
/// its contrast and its nuclei.
pub(super) fn apply_rule(
    field: &Field,
    scale: Scale,
    candidates: Candidates,
    found: Found,
    p: &Params,
) -> FieldAnalysis {
    let Candidates {
        regions,
        sox9_nuclei,
        contrast,
    } = candidates;
    let objects = regions
        .iter()
        .zip(sox9_nuclei)
        .zip(contrast)
        .map(|((r, &n), &contrast)| {
            let area = scale.um2(r.area_px);
            let evidence = Evidence {
                area,
                sox9_nuclei: n,
                contrast,
            };
            let (x, y) = r.centroid();
            Object {
                id: 0,
                label: r.label,
                x,
                y,
                z_um: None,
                area_px: r.area_px,
                area_um2: area,
                volume_um3: None,
                mean_pcad: r.mean(0),
                mean_sox9: r.mean(1),
                mean_dapi: r.mean(2),
                sox9_nuclei: n,
                contrast,
                verdict: classify(evidence, p),
            }
        });
    let um = field.pixel_size_um;
    let mm2 = field.width as f64 * field.height as f64 * um * um / 1e6;
    tally(objects, found, mm2)
}

/// The analysis of a field from its judged objects (in label order): the
/// counted ones numbered 1..=n in that order, the others kept with their
/// verdicts, and the density over `area_mm2` of field (2D and 3D alike).
pub(super) fn tally(
    objects: impl Iterator<Item = Object>,
    found: Found,
    area_mm2: f64,
) -> FieldAnalysis {
    let mut follicles = Vec::new();
    let mut rejected = Vec::new();
    for mut o in objects {
        if o.verdict == Verdict::Follicle {
            o.id = follicles.len() as u32 + 1;
            follicles.push(o);
        } else {
            rejected.push(o);
        }
    }
    let follicles_per_mm2 = follicles.len() as f64 / area_mm2;
    FieldAnalysis {
        follicles,
        rejected,
        thresholds: found.thresholds,
        sox9_nuclei: found.sox9_nuclei as u32,
        follicles_per_mm2,
        tissue_area_mm2: found.tissue_mm2,
    }
}

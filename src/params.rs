//! Analysis parameters: every threshold the pipeline uses, with defaults.
//!
//! Lengths are in µm and areas in µm². When a field has no known pixel size
//! (no metadata and no `--pixel-size`), the same numbers are read as pixels
//! and px², and the physical output columns are left empty.

use serde::{Deserialize, Serialize};

use crate::error::ParamError;

/// Every parameter of the single-field analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Gaussian smoothing σ for the P-cadherin channel, µm.
    pub pcad_sigma_um: f64,
    /// Gaussian smoothing σ for the Sox9 and DAPI channels, µm.
    pub nucleus_sigma_um: f64,
    /// Radius of the morphological opening of the P-cadherin mask, µm
    /// (0 turns it off). Detaches thin bridges and removes specks.
    pub open_radius_um: f64,
    /// Smallest follicle area, µm².
    pub min_area_um2: f64,
    /// Largest follicle area, µm².
    pub max_area_um2: f64,
    /// A follicle must hold at least this many Sox9-positive nuclei.
    pub min_sox9_nuclei: u32,
    /// Sox9 objects smaller than this (µm²) are noise, not nuclei.
    pub min_nucleus_area_um2: f64,
    /// Fraction of a Sox9 object's pixels that must be DAPI-positive for it
    /// to be a Sox9+ nucleus.
    pub min_dapi_overlap: f64,
    /// Fraction of a Sox9+ nucleus' pixels that must lie inside a
    /// P-cadherin object for the nucleus to belong to it.
    pub min_nucleus_inside: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            pcad_sigma_um: 2.0,
            nucleus_sigma_um: 1.0,
            open_radius_um: 1.0,
            min_area_um2: 400.0,
            max_area_um2: 40_000.0,
            min_sox9_nuclei: 3,
            min_nucleus_area_um2: 8.0,
            min_dapi_overlap: 0.5,
            min_nucleus_inside: 0.5,
        }
    }
}

fn check(name: &str, ok: bool, reason: &str) -> Result<(), ParamError> {
    if ok {
        Ok(())
    } else {
        Err(ParamError {
            name: name.into(),
            reason: reason.into(),
        })
    }
}

impl Params {
    /// Rejects values that make no sense (negative sizes, an empty window,
    /// fractions outside 0..=1, NaN).
    pub fn validate(&self) -> Result<(), ParamError> {
        let nonneg = |v: f64| v.is_finite() && v >= 0.0;
        let frac = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        check(
            "pcad_sigma_um",
            nonneg(self.pcad_sigma_um),
            "must be a finite number ≥ 0",
        )?;
        check(
            "nucleus_sigma_um",
            nonneg(self.nucleus_sigma_um),
            "must be a finite number ≥ 0",
        )?;
        check(
            "open_radius_um",
            nonneg(self.open_radius_um),
            "must be a finite number ≥ 0",
        )?;
        check(
            "min_area_um2",
            nonneg(self.min_area_um2),
            "must be a finite number ≥ 0",
        )?;
        check(
            "max_area_um2",
            nonneg(self.max_area_um2) && self.max_area_um2 >= self.min_area_um2,
            "must be a finite number ≥ min_area_um2",
        )?;
        check(
            "min_nucleus_area_um2",
            nonneg(self.min_nucleus_area_um2),
            "must be a finite number ≥ 0",
        )?;
        check(
            "min_dapi_overlap",
            frac(self.min_dapi_overlap),
            "must be between 0 and 1",
        )?;
        check(
            "min_nucleus_inside",
            frac(self.min_nucleus_inside),
            "must be between 0 and 1",
        )?;
        Ok(())
    }

    /// Reads parameters from a TOML file's text; missing keys keep their
    /// defaults, unknown keys are an error naming the key.
    pub fn from_toml(text: &str) -> Result<Params, ParamError> {
        let p: Params = toml::from_str(text).map_err(|e| ParamError {
            name: "config".into(),
            reason: e.message().to_string(),
        })?;
        p.validate()?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Params::default().validate().unwrap();
    }

    #[test]
    fn toml_overrides_and_rejects_unknown_keys() {
        let p = Params::from_toml("min_sox9_nuclei = 5\nmax_area_um2 = 9000.0\n").unwrap();
        assert_eq!(p.min_sox9_nuclei, 5);
        assert_eq!(p.max_area_um2, 9000.0);
        assert_eq!(p.min_area_um2, Params::default().min_area_um2);
        let e = Params::from_toml("min_sox9 = 5\n").unwrap_err();
        assert!(e.to_string().contains("min_sox9"), "{e}");
    }

    #[test]
    fn window_must_not_be_empty() {
        let p = Params {
            min_area_um2: 500.0,
            max_area_um2: 100.0,
            ..Params::default()
        };
        assert_eq!(p.validate().unwrap_err().name, "max_area_um2");
    }
}

//! Which channel of a file is P-cadherin, Sox9 and DAPI.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;

/// The biological role of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// P-cadherin: hair germ / follicle epithelium.
    Pcad,
    /// Sox9: follicle stem cell nuclei.
    Sox9,
    /// DAPI (or Hoechst): all nuclei.
    Dapi,
}

impl Role {
    /// The three roles in the default channel order.
    const ALL: [Role; 3] = [Role::Pcad, Role::Sox9, Role::Dapi];

    /// Position of the role in `[pcad, sox9, dapi]` arrays.
    pub fn index(self) -> usize {
        match self {
            Role::Pcad => 0,
            Role::Sox9 => 1,
            Role::Dapi => 2,
        }
    }

    /// Guesses a role from a channel name written by an acquisition
    /// program ("P-cad", "Pcad", "CDH3", "SOX9", "DAPI", "Hoechst 33342"…),
    /// ignoring case and punctuation.
    fn from_name(name: &str) -> Option<Role> {
        let n: String = name
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        if n.contains("pcad") || n.contains("cdh3") {
            Some(Role::Pcad)
        } else if n.contains("sox9") {
            Some(Role::Sox9)
        } else if n.contains("dapi") || n.contains("hoechst") {
            Some(Role::Dapi)
        } else {
            None
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Pcad => "pcad",
            Role::Sox9 => "sox9",
            Role::Dapi => "dapi",
        })
    }
}

/// A `--channels` value: the role of each channel of the file in order,
/// `skip` (or `-`) for channels to ignore, e.g. `dapi,skip,pcad,sox9`.
/// Serialised as that text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelSpec(pub Vec<Option<Role>>);

impl TryFrom<String> for ChannelSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ChannelSpec> for String {
    fn from(c: ChannelSpec) -> String {
        c.to_string()
    }
}

impl FromStr for ChannelSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut roles = Vec::new();
        for tok in s.split(',') {
            let t = tok.trim();
            let role = match t.to_ascii_lowercase().as_str() {
                "skip" | "-" | "_" | "none" => None,
                other => Some(Role::from_name(other).ok_or_else(|| {
                    format!("unknown channel `{t}` (use pcad, sox9, dapi or skip)")
                })?),
            };
            roles.push(role);
        }
        for r in Role::ALL {
            let n = roles.iter().filter(|x| **x == Some(r)).count();
            if n != 1 {
                return Err(format!(
                    "`{r}` must appear exactly once, found {n} times in `{s}`"
                ));
            }
        }
        Ok(ChannelSpec(roles))
    }
}

impl fmt::Display for ChannelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| r.map_or("skip".to_string(), |r| r.to_string()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Where the channel assignment came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelSource {
    /// `--channels`.
    CommandLine,
    /// Channel names in the OME/ImageJ metadata.
    Metadata,
    /// The default order P-cadherin, Sox9, DAPI.
    DefaultOrder,
}

/// Maps roles to channel indices: `--channels` first, then channel names,
/// then the default order (only when the file has exactly three channels).
/// Returns the channel index of `[pcad, sox9, dapi]`.
pub fn resolve(
    n_channels: usize,
    names: &[Option<String>],
    spec: Option<&ChannelSpec>,
) -> Result<([usize; 3], ChannelSource), LoadError> {
    if let Some(spec) = spec {
        if spec.0.len() > n_channels {
            return Err(LoadError::Channels(format!(
                "--channels names {} channels but the file has {n_channels}",
                spec.0.len()
            )));
        }
        let mut idx = [0usize; 3];
        for (i, r) in spec.0.iter().enumerate() {
            if let Some(r) = r {
                idx[r.index()] = i;
            }
        }
        return Ok((idx, ChannelSource::CommandLine));
    }
    if n_channels < 3 {
        return Err(LoadError::Channels(format!(
            "{n_channels} channel(s); need P-cadherin, Sox9 and DAPI"
        )));
    }
    let mut found: [Vec<usize>; 3] = Default::default();
    for (i, name) in names.iter().enumerate().take(n_channels) {
        if let Some(role) = name.as_deref().and_then(Role::from_name) {
            found[role.index()].push(i);
        }
    }
    if found.iter().all(|v| v.len() == 1) {
        return Ok((
            [found[0][0], found[1][0], found[2][0]],
            ChannelSource::Metadata,
        ));
    }
    if n_channels == 3 {
        return Ok(([0, 1, 2], ChannelSource::DefaultOrder));
    }
    Err(LoadError::Channels(format!(
        "{n_channels} channels and their names do not say which is P-cadherin, Sox9 and DAPI; \
         use --channels"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_instruments() {
        for (n, r) in [
            ("P-cad", Role::Pcad),
            ("Pcad-488", Role::Pcad),
            ("CDH3", Role::Pcad),
            ("P-Cadherin (AF647)", Role::Pcad),
            ("SOX9", Role::Sox9),
            ("anti-Sox9 555", Role::Sox9),
            ("DAPI", Role::Dapi),
            ("Hoechst 33342", Role::Dapi),
        ] {
            assert_eq!(Role::from_name(n), Some(r), "{n}");
        }
        assert_eq!(Role::from_name("Krt15"), None);
    }

    #[test]
    fn spec_parsing() {
        let s: ChannelSpec = "dapi,skip,pcad,sox9".parse().unwrap();
        assert_eq!(
            s.0,
            vec![Some(Role::Dapi), None, Some(Role::Pcad), Some(Role::Sox9)]
        );
        assert_eq!(s.to_string(), "dapi,skip,pcad,sox9");
        assert!("pcad,sox9".parse::<ChannelSpec>().is_err());
        assert!("pcad,pcad,dapi".parse::<ChannelSpec>().is_err());
        assert!("pcad,gfp,dapi".parse::<ChannelSpec>().is_err());
    }

    #[test]
    fn resolution_order() {
        let names = vec![
            Some("DAPI".to_string()),
            Some("Sox9".into()),
            Some("P-cad".into()),
        ];
        let spec: ChannelSpec = "sox9,dapi,pcad".parse().unwrap();
        assert_eq!(
            resolve(3, &names, Some(&spec)).unwrap(),
            ([2, 0, 1], ChannelSource::CommandLine)
        );
        assert_eq!(
            resolve(3, &names, None).unwrap(),
            ([2, 1, 0], ChannelSource::Metadata)
        );
        assert_eq!(
            resolve(3, &[], None).unwrap(),
            ([0, 1, 2], ChannelSource::DefaultOrder)
        );
        assert!(resolve(2, &[], None).is_err());
        assert!(resolve(4, &[], None).is_err());
        let four = vec![
            None,
            Some("cdh3".to_string()),
            Some("sox9".into()),
            Some("hoechst".into()),
        ];
        assert_eq!(resolve(4, &four, None).unwrap().0, [1, 2, 3]);
        assert!(resolve(2, &[], Some(&spec)).is_err());
    }
}

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
    pub const ALL: [Role; 3] = [Role::Pcad, Role::Sox9, Role::Dapi];

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

impl Role {
    /// The stain's name, for messages.
    fn long_name(self) -> &'static str {
        match self {
            Role::Pcad => "P-cadherin",
            Role::Sox9 => "Sox9",
            Role::Dapi => "DAPI",
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

/// How a file's channels map to the three roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelMap {
    /// The channel index of `[pcad, sox9, dapi]`.
    pub index: [usize; 3],
    /// Every channel's role in file order (`skip` for the unused ones).
    pub roles: ChannelSpec,
    /// Where the mapping came from.
    pub source: ChannelSource,
}

impl ChannelMap {
    fn new(roles: Vec<Option<Role>>, source: ChannelSource) -> ChannelMap {
        let mut index = [0usize; 3];
        for (i, r) in roles.iter().enumerate() {
            if let Some(r) = r {
                index[r.index()] = i;
            }
        }
        ChannelMap {
            index,
            roles: ChannelSpec(roles),
            source,
        }
    }
}

/// Maps the channels of a file to roles: `--channels` first (naming
/// every channel); then the channels' names, when they identify
/// P-cadherin, Sox9 and DAPI once each (names of other stains are
/// skipped); then — only for a file whose channels carry no name at all,
/// and exactly three of them — the default order P-cadherin, Sox9, DAPI.
/// Anything else (two channels named DAPI, a role no name gives, names
/// that identify nothing) is an error that lists the names and the
/// `--channels` line to complete.
pub fn resolve(
    n_channels: usize,
    names: &[Option<String>],
    spec: Option<&ChannelSpec>,
) -> Result<ChannelMap, LoadError> {
    if let Some(spec) = spec {
        if spec.0.len() != n_channels {
            return Err(LoadError::Channels(format!(
                "--channels names {} channel(s) but the file has {n_channels}{}; \
                 name every channel in file order, `skip` for unused ones",
                spec.0.len(),
                listed(names)
            )));
        }
        return Ok(ChannelMap::new(spec.0.clone(), ChannelSource::CommandLine));
    }
    if n_channels < 3 {
        return Err(LoadError::Channels(format!(
            "{n_channels} channel(s){}; need P-cadherin, Sox9 and DAPI",
            listed(names)
        )));
    }
    let named = |i: usize| {
        names
            .get(i)
            .and_then(|n| n.as_deref())
            .map(str::trim)
            .filter(|n| !n.is_empty())
    };
    if (0..n_channels).all(|i| named(i).is_none()) {
        if n_channels == 3 {
            return Ok(ChannelMap::new(
                Role::ALL.map(Some).to_vec(),
                ChannelSource::DefaultOrder,
            ));
        }
        return Err(LoadError::Channels(format!(
            "{n_channels} channels and no channel names; say which is which, \
             e.g. --channels {}",
            suggestion(&vec![None; n_channels])
        )));
    }
    let guessed: Vec<Option<Role>> = (0..n_channels)
        .map(|i| named(i).and_then(Role::from_name))
        .collect();
    let count = |r: Role| guessed.iter().filter(|g| **g == Some(r)).count();
    let twice: Vec<String> = Role::ALL
        .into_iter()
        .filter(|&r| count(r) > 1)
        .map(|r| r.long_name().to_string())
        .collect();
    let open: Vec<String> = Role::ALL
        .into_iter()
        .filter(|&r| count(r) == 0)
        .map(|r| r.long_name().to_string())
        .collect();
    if twice.is_empty() && open.is_empty() {
        return Ok(ChannelMap::new(guessed, ChannelSource::Metadata));
    }
    let problem = match (twice.is_empty(), open.is_empty()) {
        (false, true) => format!("name {} more than once", twice.join(" and ")),
        (true, false) => format!("leave {} open", open.join(" and ")),
        _ => format!(
            "name {} more than once and leave {} open",
            twice.join(" and "),
            open.join(" and ")
        ),
    };
    // The roles the names give once each, `?` for the rest.
    let sure: Vec<Option<Role>> = guessed
        .iter()
        .map(|g| g.filter(|&r| count(r) == 1))
        .collect();
    Err(LoadError::Channels(format!(
        "channel names {} {problem}; say which is which, e.g. --channels {}",
        quoted(names, n_channels),
        suggestion(&sure)
    )))
}

/// `"a", "b", "c"` for the first n names (`(none)` for a missing one).
fn quoted(names: &[Option<String>], n: usize) -> String {
    (0..n)
        .map(|i| match names.get(i).and_then(|n| n.as_deref()) {
            Some(name) if !name.trim().is_empty() => format!("\"{}\"", name.trim()),
            _ => "(none)".to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` (named "a", "b")` when the file names any channel, else nothing.
fn listed(names: &[Option<String>]) -> String {
    if names.iter().flatten().any(|n| !n.trim().is_empty()) {
        format!(" (named {})", quoted(names, names.len()))
    } else {
        String::new()
    }
}

/// A `--channels` value with the known roles and `?` where a person must
/// choose (pcad, sox9, dapi or skip) — for a file of a few channels; for
/// many, the form.
fn suggestion(roles: &[Option<Role>]) -> String {
    if roles.len() > 12 {
        return format!(
            "one role per channel, {} in all (pcad, sox9, dapi or skip)",
            roles.len()
        );
    }
    let parts: Vec<String> = roles
        .iter()
        .map(|r| r.map_or("?".to_string(), |r| r.to_string()))
        .collect();
    format!("{} (each ? one of pcad, sox9, dapi, skip)", parts.join(","))
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

    fn named(names: &[&str]) -> Vec<Option<String>> {
        names
            .iter()
            .map(|n| (!n.is_empty()).then(|| n.to_string()))
            .collect()
    }

    fn error(n: usize, names: &[&str], spec: Option<&str>) -> String {
        let spec: Option<ChannelSpec> = spec.map(|s| s.parse().unwrap());
        match resolve(n, &named(names), spec.as_ref()) {
            Ok(m) => panic!("{names:?} resolved to {:?}", m.roles),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_flag_then_names_then_the_default_order() {
        let names = named(&["DAPI", "Sox9", "P-cad"]);
        let spec: ChannelSpec = "sox9,dapi,pcad".parse().unwrap();
        let m = resolve(3, &names, Some(&spec)).unwrap();
        assert_eq!((m.index, m.source), ([2, 0, 1], ChannelSource::CommandLine));
        assert_eq!(m.roles.to_string(), "sox9,dapi,pcad");
        let m = resolve(3, &names, None).unwrap();
        assert_eq!((m.index, m.source), ([2, 1, 0], ChannelSource::Metadata));
        assert_eq!(m.roles.to_string(), "dapi,sox9,pcad");
        let m = resolve(3, &[], None).unwrap();
        assert_eq!(
            (m.index, m.source),
            ([0, 1, 2], ChannelSource::DefaultOrder)
        );
        // Blank names are no names.
        let m = resolve(3, &named(&["", " ", ""]), None).unwrap();
        assert_eq!(m.source, ChannelSource::DefaultOrder);
        // A fourth stain's name is skipped.
        let four = named(&["", "cdh3", "sox9", "hoechst"]);
        let m = resolve(4, &four, None).unwrap();
        assert_eq!(
            (m.index, m.roles.to_string().as_str()),
            ([1, 2, 3], "skip,pcad,sox9,dapi")
        );
        let m = resolve(4, &named(&["P-cad", "Sox9", "DAPI", "Brightfield"]), None).unwrap();
        assert_eq!(m.roles.to_string(), "pcad,sox9,dapi,skip");
    }

    /// Names that only partly identify the roles never fall back to the
    /// default order: each is an error listing the names and the
    /// `--channels` line to complete.
    #[test]
    fn partial_or_contradicting_names_are_errors_that_say_what_to_type() {
        let e = error(3, &["DAPI", "Alexa 488", "Alexa 568"], None);
        assert!(e.contains("\"DAPI\", \"Alexa 488\", \"Alexa 568\""), "{e}");
        assert!(e.contains("leave P-cadherin and Sox9 open"), "{e}");
        assert!(e.contains("--channels dapi,?,?"), "{e}");
        let e = error(3, &["DAPI", "DAPI", "P-cadherin"], None);
        assert!(
            e.contains("name DAPI more than once and leave Sox9 open"),
            "{e}"
        );
        assert!(e.contains("--channels ?,?,pcad"), "{e}");
        let e = error(3, &["DAPI", "Sox9", "E-cadherin"], None);
        assert!(e.contains("leave P-cadherin open"), "{e}");
        assert!(e.contains("--channels dapi,sox9,?"), "{e}");
        // Names on some channels only.
        let e = error(3, &["", "Sox9", ""], None);
        assert!(e.contains("(none), \"Sox9\", (none)"), "{e}");
        // Names that identify nothing.
        let e = error(3, &["Ch1", "Ch2", "Ch3"], None);
        assert!(e.contains("--channels ?,?,?"), "{e}");
        // No names and not three channels.
        let e = error(4, &[], None);
        assert!(e.contains("4 channels and no channel names"), "{e}");
        assert!(error(2, &[], None).contains("2 channel(s)"));
    }

    /// `--channels` names every channel: a shorter or longer list is an
    /// error naming the file's channel count.
    #[test]
    fn the_flag_must_name_every_channel() {
        let e = error(
            5,
            &["P-cad", "Sox9", "DAPI", "GFP", "BF"],
            Some("pcad,sox9,dapi"),
        );
        assert!(e.contains("names 3 channel(s) but the file has 5"), "{e}");
        assert!(e.contains("\"GFP\""), "{e}");
        let e = error(2, &[], Some("pcad,sox9,dapi"));
        assert!(e.contains("but the file has 2"), "{e}");
        let m = resolve(5, &[], Some(&"pcad,sox9,dapi,skip,skip".parse().unwrap())).unwrap();
        assert_eq!(m.index, [0, 1, 2]);
    }
}

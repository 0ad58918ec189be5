//! Splitting one run's inputs into shards, for several machines or a
//! SLURM job array: every shard finds and sorts the inputs exactly as a
//! whole run does, then keeps its own part. The parts are balanced by
//! file size (longest-processing-time-first greedy assignment: Graham,
//! "Bounds on multiprocessing timing anomalies", SIAM J. Appl. Math.,
//! 1969), so one shard does not get all the big stacks, and they depend
//! only on the list and the sizes, so every shard computes the same split.

use serde::{Deserialize, Serialize};

use super::inputs::Input;

/// Shard `index` of `count` (both from 1: `2/3` is the second of three).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, 1..=count.
    pub index: usize,
    /// How many shards the inputs are split into.
    pub count: usize,
}

/// Why a shard cannot be named.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// `--shard` is not `I/N` with 1 ≤ I ≤ N.
    #[error("--shard `{0}` is not I/N with 1 ≤ I ≤ N (e.g. 2/8), or auto in a SLURM job array")]
    Syntax(String),
    /// `--shard auto` outside a SLURM job array.
    #[error(
        "--shard auto needs a SLURM job array (SLURM_ARRAY_TASK_ID is not set): submit \
         with sbatch --array=1-N, or give the shard as --shard I/N"
    )]
    NotInArray,
    /// The array's environment is unusable.
    #[error("--shard auto: {0}; submit with sbatch --array=A-B, or give --shard I/N")]
    Array(String),
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    /// `I/N`, 1 ≤ I ≤ N.
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::Syntax(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The shard of this task of a SLURM job array, from the variables
    /// `sbatch --array` sets (`env` reads one): task ids need not start
    /// at 0 or 1, and may step (`--array=10-40:10` is shards 1..4 of 4),
    /// but must be evenly spaced.
    pub fn from_slurm(env: impl Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
        let id = env("SLURM_ARRAY_TASK_ID").ok_or(ShardError::NotInArray)?;
        let num = |name: &str| -> Result<usize, ShardError> {
            let v = env(name).ok_or_else(|| ShardError::Array(format!("{name} is not set")))?;
            v.trim()
                .parse()
                .map_err(|_| ShardError::Array(format!("{name}={v} is not a number")))
        };
        let id: usize = id
            .trim()
            .parse()
            .map_err(|_| ShardError::Array(format!("SLURM_ARRAY_TASK_ID={id} is not a number")))?;
        let (min, max, count) = (
            num("SLURM_ARRAY_TASK_MIN")?,
            num("SLURM_ARRAY_TASK_MAX")?,
            num("SLURM_ARRAY_TASK_COUNT")?,
        );
        let step = match env("SLURM_ARRAY_TASK_STEP") {
            Some(_) => num("SLURM_ARRAY_TASK_STEP")?.max(1),
            None => 1,
        };
        let spaced = count >= 1 && min <= max && (max - min) == (count - 1) * step;
        if !spaced || id < min || id > max || !(id - min).is_multiple_of(step) {
            return Err(ShardError::Array(format!(
                "task {id} of an array of {count} ids from {min} to {max} in steps of \
                 {step} is not evenly spaced"
            )));
        }
        Ok(Shard {
            index: (id - min) / step + 1,
            count,
        })
    }

    /// This shard's part of `inputs` (the whole run's list, sorted as
    /// [`super::inputs::collect_inputs`] returns it), in the same order.
    /// Files are dealt largest first, each to the shard holding the
    /// fewest bytes so far (the lowest-numbered on a tie).
    pub fn pick(&self, inputs: &[Input]) -> Vec<Input> {
        let owner = assign(inputs, self.count);
        inputs
            .iter()
            .zip(owner)
            .filter(|(_, s)| *s + 1 == self.index)
            .map(|(i, _)| i.clone())
            .collect()
    }
}

/// The shard (from 0) each input goes to.
fn assign(inputs: &[Input], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    // Largest first; equal sizes in list order (a stable sort).
    order.sort_by_key(|&i| std::cmp::Reverse(inputs[i].bytes()));
    let mut load = vec![0u64; count.max(1)];
    let mut owner = vec![0; inputs.len()];
    for i in order {
        let (s, _) = load
            .iter()
            .enumerate()
            .min_by_key(|&(s, &b)| (b, s))
            .unwrap_or((0, &0));
        owner[i] = s;
        // An empty file still weighs something: it costs an open.
        load[s] += inputs[i].bytes().max(1);
    }
    owner
}

/// What a shard's outputs record about the split, so that `merge` can tell
/// shards of one run from shards of another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Which shard of how many.
    #[serde(flatten)]
    pub shard: Shard,
    /// Files in the whole run.
    pub inputs_total: usize,
    /// BLAKE3 of the whole run's input list (names and sizes), hex.
    pub inputs_digest: String,
    /// This shard's files, by their `file` names.
    pub files: Vec<String>,
}

impl ShardRecord {
    /// The record of `shard` over the whole run's `inputs`, whose part
    /// ([`Shard::pick`]) is `part`.
    pub fn new(shard: Shard, inputs: &[Input], part: &[Input]) -> ShardRecord {
        ShardRecord {
            shard,
            inputs_total: inputs.len(),
            inputs_digest: list_digest(inputs),
            files: part.iter().map(|i| i.name.clone()).collect(),
        }
    }
}

/// BLAKE3 of the input list: one `name NUL size LF` per file, in order.
fn list_digest(inputs: &[Input]) -> String {
    let mut h = blake3::Hasher::new();
    for i in inputs {
        h.update(i.name.as_bytes());
        h.update(b"\0");
        h.update(i.bytes().to_string().as_bytes());
        h.update(b"\n");
    }
    h.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn inputs(sizes: &[u64]) -> Vec<Input> {
        sizes
            .iter()
            .enumerate()
            .map(|(k, &b)| Input::sized(format!("f{k:03}.tif"), b))
            .collect()
    }

    #[test]
    fn shards_parse_from_one() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn array(id: &str, min: &str, max: &str, count: &str) -> Vec<(&'static str, String)> {
        vec![
            ("SLURM_ARRAY_TASK_ID", id.into()),
            ("SLURM_ARRAY_TASK_MIN", min.into()),
            ("SLURM_ARRAY_TASK_MAX", max.into()),
            ("SLURM_ARRAY_TASK_COUNT", count.into()),
        ]
    }

    fn slurm(vars: &[(&'static str, String)]) -> Result<Shard, ShardError> {
        let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Shard::from_slurm(env(&v))
    }

    #[test]
    fn a_slurm_array_task_is_a_shard_wherever_the_array_starts() {
        let s = |i, c| Ok(Shard { index: i, count: c });
        assert_eq!(slurm(&array("0", "0", "3", "4")), s(1, 4));
        assert_eq!(slurm(&array("3", "0", "3", "4")), s(4, 4));
        assert_eq!(slurm(&array("1", "1", "7", "7")), s(1, 7));
        assert_eq!(slurm(&array("12", "10", "14", "5")), s(3, 5));
        let mut stepped = array("30", "10", "40", "4");
        stepped.push(("SLURM_ARRAY_TASK_STEP", "10".into()));
        assert_eq!(slurm(&stepped), s(3, 4));
        // Outside an array, and arrays that are not a range.
        assert_eq!(Shard::from_slurm(env(&[])), Err(ShardError::NotInArray));
        assert!(matches!(
            slurm(&array("5", "1", "9", "3")),
            Err(ShardError::Array(_))
        ));
        assert!(matches!(
            slurm(&array("x", "1", "9", "9")),
            Err(ShardError::Array(_))
        ));
        assert!(matches!(
            slurm(&array("1", "1", "4", "")),
            Err(ShardError::Array(_))
        ));
        let mut no_max = array("1", "1", "4", "4");
        no_max.remove(2);
        assert!(matches!(slurm(&no_max), Err(ShardError::Array(_))));
    }

    #[test]
    fn every_input_lands_in_exactly_one_shard_in_list_order() {
        let list = inputs(&[5, 900, 0, 30, 30, 7000, 1, 1, 64, 0, 2]);
        for n in [1, 2, 3, 7, 11, 20] {
            let parts: Vec<Vec<Input>> = (1..=n)
                .map(|i| Shard { index: i, count: n }.pick(&list))
                .collect();
            let mut all: Vec<Input> = parts.concat();
            all.sort();
            assert_eq!(all, list, "{n} shards");
            for p in &parts {
                assert!(p.windows(2).all(|w| w[0] < w[1]), "order kept");
            }
        }
    }

    /// Brute force: the greedy split's largest shard is within 4/3 of
    /// the best split's (Graham's bound), checked over every assignment
    /// of small lists.
    #[test]
    fn the_split_is_balanced_by_size_within_grahams_bound() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut rng = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let len = 1 + (rng() % 8) as usize;
            let n = 1 + (rng() % 3) as usize;
            let sizes: Vec<u64> = (0..len).map(|_| 1 + rng() % 1000).collect();
            let list = inputs(&sizes);
            let owner = assign(&list, n);
            let greedy = (0..n)
                .map(|s| (0..len).filter(|&i| owner[i] == s).map(|i| sizes[i]).sum())
                .max()
                .unwrap_or(0u64);
            let mut best = u64::MAX;
            for code in 0..n.pow(len as u32) {
                let mut load = vec![0u64; n];
                let mut c = code;
                for &b in &sizes {
                    load[c % n] += b;
                    c /= n;
                }
                best = best.min(load.into_iter().max().unwrap_or(0));
            }
            assert!(
                3 * greedy <= 4 * best,
                "{sizes:?} over {n}: {greedy} vs {best}"
            );
        }
    }

    #[test]
    fn the_digest_names_the_list_and_its_sizes() {
        let a = inputs(&[1, 2, 3]);
        let mut b = a.clone();
        assert_eq!(list_digest(&a), list_digest(&b));
        b[1] = Input::sized("f001.tif".into(), 20);
        assert_ne!(list_digest(&a), list_digest(&b));
        assert_ne!(list_digest(&a), list_digest(&a[..2]));
        let second = Shard { index: 2, count: 2 };
        let r = ShardRecord::new(second, &a, &second.pick(&a));
        assert_eq!(r.inputs_total, 3);
        assert_eq!(
            r.files.len() + Shard { index: 1, count: 2 }.pick(&a).len(),
            3
        );
    }
}

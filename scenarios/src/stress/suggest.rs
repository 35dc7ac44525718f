//! "Did you mean": the nearest known name to a mistyped one.
//!
//! Scenario and variant names are short kebab-case words (`ttu-sync`, `no-ttu-sync`), so a plain
//! Levenshtein distance is enough; a dependency for it would be larger than the code.

/// The edit distance (insertions, deletions, substitutions) between `a` and `b`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `input`, if it is close enough to be what the user meant: within a
/// third of the input's length (at least 2 edits), or containing the input as a part.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let input_lc = input.to_lowercase();
    let bound = (input.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&input_lc, &c.to_lowercase()), c))
        .filter(|&(d, c)| d <= bound || (input_lc.len() >= 3 && c.contains(input_lc.as_str())))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// `" (did you mean 'x'?)"`, or nothing.
pub fn hint<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(input, candidates)
        .map(|c| format!(" (did you mean '{c}'?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("ttu-sync", "ttu-sync"), 0);
        assert_eq!(edit_distance("ttu-snyc", "ttu-sync"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn a_typo_suggests_the_nearest_name() {
        let names = ["ttu-sync", "zap-rmap", "mlock-count"];
        assert_eq!(did_you_mean("ttu-snyc", names), Some("ttu-sync"));
        assert_eq!(did_you_mean("zap", names), Some("zap-rmap"));
        assert_eq!(did_you_mean("completely-different", names), None);
    }
}

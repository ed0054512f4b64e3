//! Package sets (sorted sha256 sums) and their changes: what a publication adds and removes,
//! applied to the newest set without copying it.

/// `(in b not a, in a not b)` of two sorted sets, in one merge.
pub(super) fn sorted_diff(a: &[String], b: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                removed.push(x.clone());
                i += 1;
            }
            (Some(x), None) => {
                removed.push(x.clone());
                i += 1;
            }
            (_, Some(y)) => {
                added.push(y.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
    (added, removed)
}

/// `set` (sorted) with `added` put in and `removed` taken out (both sorted; `added` not in
/// `set`, `removed` in it). A few are inserted in place; more are merged in one pass that moves
/// the strings rather than copying them.
pub(super) fn edited(mut set: Vec<String>, added: &[String], removed: &[String]) -> Vec<String> {
    if added.len() + removed.len() <= 16 {
        for r in removed {
            if let Ok(i) = set.binary_search(r) {
                set.remove(i);
            }
        }
        set.reserve(added.len());
        for a in added {
            if let Err(i) = set.binary_search(a) {
                set.insert(i, a.clone());
            }
        }
        return set;
    }
    let mut out = Vec::with_capacity(set.len() + added.len());
    let (mut add, mut remove) = (added.iter().peekable(), removed.iter().peekable());
    for s in set {
        while let Some(a) = add.next_if(|a| **a < s) {
            out.push(a.clone());
        }
        while remove.next_if(|r| **r < s).is_some() {}
        if remove.next_if(|r| **r == s).is_some() {
            continue;
        }
        // One already there is kept once.
        let _duplicate = add.next_if(|a| **a == s);
        out.push(s);
    }
    out.extend(add.cloned());
    out
}

/// How a publication changes the newest set of its repository.
pub enum SetChange {
    /// Exactly this set (in any order, duplicates allowed).
    Whole(Vec<String>),
    /// The newest set with these packages too.
    Add(Vec<String>),
    /// The newest set without these packages.
    Remove(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::{edited, sorted_diff};

    fn set(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_edited_set_is_the_set_the_change_makes_in_place_or_merged() {
        let base: Vec<String> = (0..200).map(|i| format!("{:04}", i * 2)).collect();
        // Few (inserted in place) and many (merged): both give the set a full sort gives.
        for (added, removed) in [
            (set(&["0001", "0399"]), set(&["0000", "0010"])),
            (
                (0..40).map(|i| format!("{:04}", i * 10 + 1)).collect(),
                (0..30).map(|i| format!("{:04}", i * 6)).collect(),
            ),
            (set(&["9999"]), Vec::new()),
            (Vec::new(), base.clone()),
        ] {
            let mut expected: Vec<String> = base.iter().filter(|s| !removed.contains(s)).cloned().collect();
            expected.extend(added.iter().cloned());
            expected.sort();
            let got = edited(base.clone(), &added, &removed);
            assert_eq!(got, expected);
            // And back: the set before, as a failed publication rebuilds it.
            assert_eq!(edited(got.clone(), &removed, &added), base);
            assert_eq!(sorted_diff(&base, &got), (added.clone(), removed.clone()));
        }
    }
}

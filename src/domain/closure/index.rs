//! Provider indexes: which packages provide a capability name, and which own a file path.
//!
//! An index is two arrays of `(hash, package, entry)` slots sorted by hash, one for provides
//! (every explicit provide plus each package's implicit `name = [e:]v-r`, as libsolv adds
//! it) and one for the files of the packages (all of them: filelists, not only primary), each
//! with a hash map from a hash to its run of slots. Lookups hash the name, find the run in
//! one probe and check the actual strings, so the index holds no copy of the strings:
//! building one for 20,000 packages and 450,000 files takes a few tens of ms and about 40
//! bytes per provide and per file.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::DepPackage;
use crate::domain::package::Dependency;

/// Marks the implicit self-provide in a provide slot.
const SELF_PROVIDE: u32 = u32::MAX;

/// One entry of a lookup table: the hash of a name, the package and the entry it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Slot {
    pub(crate) hash: u64,
    pub(crate) pkg: u32,
    pub(crate) entry: u32,
}

/// The packages an index refers to by position: owned by a [`ProviderIndex`], or borrowed
/// by a check for its candidates.
#[derive(Clone, Copy)]
pub(crate) enum Pkgs<'a> {
    /// A slice of packages.
    Owned(&'a [DepPackage]),
    /// A slice of references.
    Refs(&'a [&'a DepPackage]),
    /// A slice of shared packages (kept by a [`super::Snapshot`]).
    Shared(&'a [std::sync::Arc<DepPackage>]),
}

impl<'a> Pkgs<'a> {
    /// Number of packages.
    pub(crate) fn len(self) -> usize {
        match self {
            Pkgs::Owned(p) => p.len(),
            Pkgs::Refs(p) => p.len(),
            Pkgs::Shared(p) => p.len(),
        }
    }

    /// The package at `i`.
    pub(crate) fn get(self, i: usize) -> &'a DepPackage {
        match self {
            Pkgs::Owned(p) => &p[i],
            Pkgs::Refs(p) => p[i],
            Pkgs::Shared(p) => &p[i],
        }
    }
}

/// The lookup tables, independent of who owns the packages.
/// Slots sorted by hash, and where the run of each hash starts and how long it is.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    slots: Vec<Slot>,
    runs: HashMap<u64, (u32, u32), BuildHasherDefault<Prehashed>>,
}

impl Slots {
    pub(crate) fn new(mut slots: Vec<Slot>) -> Slots {
        slots.sort_unstable();
        let mut runs = HashMap::with_capacity_and_hasher(slots.len(), Default::default());
        let mut start = 0;
        while start < slots.len() {
            let h = slots[start].hash;
            let len = slots[start..].iter().take_while(|s| s.hash == h).count();
            runs.insert(h, (start as u32, len as u32));
            start += len;
        }
        Slots { slots, runs }
    }

    pub(crate) fn find(&self, h: u64) -> &[Slot] {
        match self.runs.get(&h) {
            Some(&(start, len)) => &self.slots[start as usize..(start + len) as usize],
            None => &[],
        }
    }
}

/// The keys are already hashes: use them as they are.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    provides: Slots,
    files: Slots,
}

pub(crate) fn hash(s: &str) -> u64 {
    // SipHash with fixed keys: deterministic across runs; collisions are checked anyway.
    let mut h = std::hash::DefaultHasher::new();
    h.write(s.as_bytes());
    h.finish()
}

/// Source packages provide nothing (libsolv's `pool_installable`).
pub(crate) fn is_source(p: &DepPackage) -> bool {
    p.arch == "src" || p.arch == "nosrc"
}

impl Table {
    /// Indexes the provides and files of `pkgs`.
    pub(crate) fn build(pkgs: Pkgs<'_>) -> Table {
        let n = pkgs.len();
        assert!(n < SELF_PROVIDE as usize, "too many packages for one index");
        let mut provides = Vec::new();
        let mut files = Vec::new();
        for i in 0..n {
            let p = pkgs.get(i);
            if is_source(p) {
                continue;
            }
            let pkg = i as u32;
            provides.push(Slot {
                hash: hash(&p.name),
                pkg,
                entry: SELF_PROVIDE,
            });
            for (j, d) in p.provides.iter().enumerate() {
                provides.push(Slot {
                    hash: hash(&d.name),
                    pkg,
                    entry: j as u32,
                });
            }
            for (j, f) in p.files.iter().enumerate() {
                files.push(Slot {
                    hash: hash(f),
                    pkg,
                    entry: j as u32,
                });
            }
        }
        Table {
            provides: Slots::new(provides),
            files: Slots::new(files),
        }
    }
}

/// One provide entry found by name: the package (by position) and the entry, `None` for the
/// implicit `name = evr` of the package itself.
pub(crate) type Provide<'a> = (u32, Option<&'a Dependency>);

/// A table together with the packages it indexes.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pkgs: Pkgs<'a>,
    table: &'a Table,
    /// When set, only the packages marked here are seen (e.g. the newest of each name).
    live: Option<&'a [bool]>,
}

impl<'a> View<'a> {
    pub(crate) fn new(pkgs: Pkgs<'a>, table: &'a Table) -> View<'a> {
        View {
            pkgs,
            table,
            live: None,
        }
    }

    /// The same view restricted to the packages marked in `live` (by position).
    pub(crate) fn only(mut self, live: Option<&'a [bool]>) -> View<'a> {
        self.live = live;
        self
    }

    /// Whether the package at `i` is seen by this view.
    fn sees(live: Option<&[bool]>, i: u32) -> bool {
        live.is_none_or(|l| l[i as usize])
    }

    /// The package at position `i`.
    pub(crate) fn package(&self, i: u32) -> &'a DepPackage {
        self.pkgs.get(i as usize)
    }

    /// Every provide entry named `name`.
    pub(crate) fn provides(&self, name: &'a str) -> impl Iterator<Item = Provide<'a>> + 'a {
        let (pkgs, live) = (self.pkgs, self.live);
        self.table.provides.find(hash(name)).iter().filter_map(move |s| {
            if !View::sees(live, s.pkg) {
                return None;
            }
            let p = pkgs.get(s.pkg as usize);
            if s.entry == SELF_PROVIDE {
                (p.name == name).then_some((s.pkg, None))
            } else {
                let d = &p.provides[s.entry as usize];
                (d.name == name).then_some((s.pkg, Some(d)))
            }
        })
    }

    /// The packages (by position) that contain the file `path`.
    pub(crate) fn owners(&self, path: &'a str) -> impl Iterator<Item = u32> + 'a {
        let (pkgs, live) = (self.pkgs, self.live);
        self.table
            .files
            .find(hash(path))
            .iter()
            .filter(move |s| View::sees(live, s.pkg) && pkgs.get(s.pkg as usize).files[s.entry as usize] == path)
            .map(|s| s.pkg)
    }
}

/// An index of a fixed set of packages, built once and reused for many checks (for a base
/// repository of 20,000+ packages, build it when the base is imported or loaded).
#[derive(Debug)]
pub struct ProviderIndex {
    packages: Vec<DepPackage>,
    table: Table,
    /// The newest version of each name and architecture (`dnf repoclosure --newest`'s view).
    newest: Vec<bool>,
}

impl ProviderIndex {
    /// Indexes `packages` (source packages are kept but provide nothing).
    pub fn new(packages: Vec<DepPackage>) -> ProviderIndex {
        let table = Table::build(Pkgs::Owned(&packages));
        let newest = super::newest::newest_mask(Pkgs::Owned(&packages));
        ProviderIndex {
            packages,
            table,
            newest,
        }
    }

    /// The indexed packages.
    pub fn packages(&self) -> &[DepPackage] {
        &self.packages
    }

    /// Number of indexed packages.
    pub fn len(&self) -> usize {
        self.packages.len()
    }

    /// Whether the index holds no package.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// Takes the packages back.
    pub fn into_packages(self) -> Vec<DepPackage> {
        self.packages
    }

    pub(crate) fn view(&self) -> View<'_> {
        View::new(Pkgs::Owned(&self.packages), &self.table)
    }

    /// The view of a host: only the newest version of each name and architecture.
    pub(crate) fn newest_view(&self) -> View<'_> {
        self.view().only(Some(&self.newest))
    }

    /// The packages of this index that satisfy `dep` (a requirement, plain or rich), with
    /// the same rules as [`super::check_closure`].
    pub fn what_provides(&self, dep: &Dependency) -> Vec<&DepPackage> {
        let resolver = super::resolve::Resolver::new(vec![self.view()]);
        match resolver.providers_of_dependency(dep) {
            Ok(found) => found.into_iter().map(|(_, i)| &self.packages[i as usize]).collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::evr::Evr;

    fn pkg(name: &str, provides: &[&str], files: &[&str]) -> DepPackage {
        DepPackage {
            nevra: format!("{name}-1-1.noarch"),
            name: name.into(),
            arch: "noarch".into(),
            evr: Evr::new(0, "1", "1"),
            provides: provides
                .iter()
                .map(|p| Dependency {
                    name: p.to_string(),
                    flags: None,
                    epoch: None,
                    version: None,
                    release: None,
                    pre: false,
                })
                .collect(),
            requires: vec![],
            conflicts: vec![],
            obsoletes: vec![],
            files: files.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn indexes_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<ProviderIndex>();
        shared::<DepPackage>();
    }

    #[test]
    fn finds_provides_self_provides_and_files() {
        let mut src = pkg("a", &["cap"], &["/usr/share/a/x"]);
        src.arch = "src".into();
        let idx = ProviderIndex::new(vec![
            pkg("a", &["cap", "other"], &["/usr/share/a/x", "/usr/bin/a"]),
            pkg("b", &["cap"], &["/usr/share/b"]),
            src,
        ]);
        let v = idx.view();
        let mut found: Vec<_> = v.provides("cap").map(|(p, _)| p).collect();
        found.sort();
        assert_eq!(found, [0, 1]);
        assert_eq!(
            v.provides("a").map(|(p, d)| (p, d.is_none())).collect::<Vec<_>>(),
            [(0, true)]
        );
        assert_eq!(v.owners("/usr/share/a/x").collect::<Vec<_>>(), [0]);
        assert_eq!(v.owners("/usr/share/b").collect::<Vec<_>>(), [1]);
        assert_eq!(v.owners("/usr/share").count(), 0);
        assert_eq!(v.provides("nothing").count(), 0);
        assert_eq!(idx.len(), 3);
    }
}

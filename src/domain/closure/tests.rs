//! Closure and conflict checks on small hand-made package sets.

use super::*;

/// `name op [e:]v[-r]` or a rich dependency, as a metadata entry.
fn dep(s: &str) -> Dependency {
    let mut d = Dependency {
        name: s.to_string(),
        flags: None,
        epoch: None,
        version: None,
        release: None,
        pre: false,
    };
    if s.starts_with('(') {
        return d;
    }
    let parts: Vec<&str> = s.split(' ').collect();
    if parts.len() == 3 {
        d.name = parts[0].into();
        d.flags = Some(
            match parts[1] {
                "=" => "EQ",
                "<" => "LT",
                "<=" => "LE",
                ">" => "GT",
                ">=" => "GE",
                other => panic!("bad operator {other}"),
            }
            .into(),
        );
        let (epoch, rest) = match parts[2].split_once(':') {
            Some((e, rest)) => (e, rest),
            None => ("0", parts[2]),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, Some(r)),
            None => (rest, None),
        };
        d.epoch = Some(epoch.into());
        d.version = Some(version.into());
        d.release = release.map(Into::into);
    }
    d
}

/// A noarch package `name-[e:]v-r`.
fn pkg(nevr: &str) -> DepPackage {
    let (name_ver, release) = nevr.rsplit_once('-').unwrap();
    let (name, ev) = name_ver.rsplit_once('-').unwrap();
    let (epoch, version) = match ev.split_once(':') {
        Some((e, v)) => (e.parse().unwrap(), v),
        None => (0, ev),
    };
    let evr = Evr::new(epoch, version, release);
    DepPackage {
        nevra: DepPackage::format_nevra(name, &evr, "noarch"),
        name: name.into(),
        arch: "noarch".into(),
        evr,
        provides: vec![],
        requires: vec![],
        conflicts: vec![],
        obsoletes: vec![],
        files: vec![],
    }
}

trait Build {
    fn provides(self, d: &str) -> Self;
    fn requires(self, d: &str) -> Self;
    fn conflicts(self, d: &str) -> Self;
    fn obsoletes(self, d: &str) -> Self;
    fn file(self, f: &str) -> Self;
}

impl Build for DepPackage {
    fn provides(mut self, d: &str) -> Self {
        self.provides.push(dep(d));
        self
    }
    fn requires(mut self, d: &str) -> Self {
        self.requires.push(dep(d));
        self
    }
    fn conflicts(mut self, d: &str) -> Self {
        self.conflicts.push(dep(d));
        self
    }
    fn obsoletes(mut self, d: &str) -> Self {
        self.obsoletes.push(dep(d));
        self
    }
    fn file(mut self, f: &str) -> Self {
        self.files.push(f.into());
        self
    }
}

/// Is `requirement` satisfied by `providers` (in a base index)?
fn met(requirement: &str, providers: Vec<DepPackage>) -> bool {
    let base = ProviderIndex::new(providers);
    let p = pkg("consumer-1-1").requires(requirement);
    let unmet = check_closure(&[&p], &[&base]);
    assert!(unmet.len() <= 1);
    unmet.is_empty()
}

#[test]
fn plain_requirements() {
    assert!(met("foo", vec![pkg("foo-1-1")]));
    assert!(met(
        "libfoo.so.1()(64bit)",
        vec![pkg("foo-1-1").provides("libfoo.so.1()(64bit)")]
    ));
    assert!(!met("foo", vec![pkg("bar-1-1")]));
    assert!(!met("foo", vec![]));
    // rpmlib() is provided by rpm itself.
    assert!(met("rpmlib(PayloadIsZstd) <= 5.4.18-1", vec![]));
}

#[test]
fn every_operator_against_package_versions() {
    let base = || vec![pkg("foo-2.0-3")];
    for (req, want) in [
        ("foo = 2.0-3", true),
        ("foo = 2.0", true),
        ("foo = 2.0-4", false),
        ("foo = 2.1", false),
        ("foo < 2.0-4", true),
        ("foo < 2.0", false),
        ("foo < 2.1", true),
        ("foo <= 2.0", true),
        ("foo <= 2.0-2", false),
        ("foo <= 1.9", false),
        ("foo > 2.0", false),
        ("foo > 2.0-2", true),
        ("foo > 1.9", true),
        ("foo >= 2.0", true),
        ("foo >= 2.0-3", true),
        ("foo >= 2.0-4", false),
        ("foo >= 2.0.1", false),
        ("foo >= 1:1.0", false),
        ("foo >= 0:2.0", true),
        ("foo < 1:1.0", true),
    ] {
        assert_eq!(met(req, base()), want, "foo-2.0-3 for {req}");
    }
}

#[test]
fn epochs_and_missing_releases() {
    // A provide with epoch 1 beats every version without epoch.
    assert!(met("foo >= 1.0", vec![pkg("bar-1-1").provides("foo = 1:0.5-1")]));
    assert!(!met("foo < 9.0", vec![pkg("bar-1-1").provides("foo = 1:0.5-1")]));
    assert!(met("foo >= 1:0.5", vec![pkg("foo-1:0.5-1")]));
    assert!(!met("foo >= 2:0.1", vec![pkg("foo-1:0.5-1")]));
    // Epoch 0 written or not is the same.
    assert!(met("foo = 0:1.0-1", vec![pkg("foo-1.0-1")]));
    assert!(met("foo = 1.0-1", vec![pkg("foo-0:1.0-1")]));
    // A provide without release stands for any release (libsolv; rpm would refuse `>`).
    assert!(met("foo >= 1.0-7", vec![pkg("bar-1-1").provides("foo = 1.0")]));
    assert!(met("foo <= 1.0-7", vec![pkg("bar-1-1").provides("foo = 1.0")]));
    assert!(met("foo > 1.0-7", vec![pkg("bar-1-1").provides("foo = 1.0")]));
    assert!(!met("foo > 1.0-7", vec![pkg("bar-1-1").provides("foo = 0.9")]));
    // A requirement without release matches any release, but only through '='.
    assert!(!met("foo > 1.0", vec![pkg("foo-1.0-7")]));
    assert!(met("foo >= 1.0", vec![pkg("foo-1.0-7")]));
    // An unversioned provide satisfies every version.
    assert!(met("foo >= 99", vec![pkg("bar-1-1").provides("foo")]));
    // Ranged provides.
    assert!(met("foo >= 3", vec![pkg("bar-1-1").provides("foo >= 2")]));
    assert!(!met("foo < 2", vec![pkg("bar-1-1").provides("foo > 2")]));
    // Tilde and caret.
    assert!(!met("foo >= 1.0", vec![pkg("foo-1.0~rc1-1")]));
    assert!(met("foo > 1.0", vec![pkg("foo-1.0^git1-1")]));
}

#[test]
fn file_requirements_use_all_files() {
    let owner = || vec![pkg("data-1-1").file("/usr/share/x/y").file("/usr/share/x")];
    assert!(met("/usr/share/x/y", owner()));
    assert!(met("/usr/share/x", owner()));
    assert!(!met("/usr/share/x/z", owner()));
    assert!(!met("/usr/share", owner()));
    // Explicitly provided paths count too; a non-path name never matches a file.
    assert!(met("/opt/tool", vec![pkg("t-1-1").provides("/opt/tool")]));
    assert!(!met("usr/share/x/y", owner()));
}

#[test]
fn self_provides_and_candidates_provide() {
    let a = pkg("a-1.0-1")
        .requires("a = 1.0-1")
        .requires("b >= 1")
        .provides("virt(a)");
    let b = pkg("b-1-1").requires("virt(a)").requires("/opt/a/file");
    let a = a.file("/opt/a/file");
    assert!(check_closure(&[&a, &b], &[]).is_empty());
    let unmet = check_closure(&[&b], &[]);
    assert_eq!(unmet.len(), 2);
    assert_eq!(
        unmet[0].to_string(),
        "b-1-1.noarch requires virt(a), but nothing provides it"
    );
    assert_eq!(
        unmet[1].to_string(),
        "b-1-1.noarch requires /opt/a/file, but no package contains or provides that file"
    );
}

#[test]
fn messages_name_what_is_present() {
    let server = pkg("fts-server-2.0-1").requires("fts-libs >= 2.0");
    let libs = pkg("fts-libs-1.0-1").provides("fts-libs = 1.0-1");
    let compat = pkg("compat-1-1").provides("fts-libs = 1.5");
    let unmet = check_closure(&[&server, &libs], &[]);
    assert_eq!(
        unmet[0].to_string(),
        "fts-server-2.0-1.noarch requires fts-libs >= 2.0, but only fts-libs-1.0-1.noarch provides fts-libs"
    );
    let base = ProviderIndex::new(vec![compat]);
    let unmet = check_closure(&[&server, &libs], &[&base]);
    assert_eq!(
        unmet[0].present,
        ["compat-1-1.noarch (fts-libs = 1.5)", "fts-libs-1.0-1.noarch"]
    );
    assert!(unmet[0]
        .to_string()
        .ends_with("but only compat-1-1.noarch (fts-libs = 1.5), fts-libs-1.0-1.noarch provide fts-libs"));
    let epoch = pkg("e-1-1").requires("foo >= 1:2.0-3");
    assert_eq!(check_closure(&[&epoch], &[])[0].requirement, "foo >= 1:2.0-3");
}

#[test]
fn rich_and_or() {
    let a = || pkg("a-1-1");
    let b = || pkg("b-1-1");
    assert!(met("(a and b)", vec![a(), b()]));
    assert!(met("(a or b)", vec![b()]));
    assert!(!met("(a or b)", vec![pkg("c-1-1")]));
    // libsolv's providers of `and` are the union of both sides ("best case"), which is
    // what dnf repoclosure checks: one side is enough.
    assert!(met("(a and b)", vec![a()]));
    assert!(!met("(a and b)", vec![]));
    assert!(met("(a >= 2 or b)", vec![pkg("a-1-1"), b()]));
    assert!(!met("(a >= 2 or b >= 2)", vec![pkg("a-1-1"), b()]));
}

#[test]
fn rich_if_unless_else() {
    // Only the consequence (and the else branch) provide: the condition is assumed.
    assert!(met("(a if b)", vec![pkg("a-1-1")]));
    assert!(!met("(a if b)", vec![pkg("b-1-1")]));
    assert!(!met("(a if b)", vec![]));
    assert!(met("(a if b else c)", vec![pkg("c-1-1")]));
    assert!(!met("(a if b else c)", vec![pkg("b-1-1")]));
    assert!(met("(a unless b)", vec![pkg("a-1-1")]));
    assert!(!met("(a unless b)", vec![pkg("b-1-1")]));
    assert!(met("(a unless b else c)", vec![pkg("c-1-1")]));
    assert!(!met("(a unless b else c)", vec![pkg("b-1-1")]));
}

#[test]
fn rich_with_without() {
    let both = || pkg("ab-1-1").provides("a").provides("b");
    assert!(met("(a with b)", vec![both()]));
    assert!(!met("(a with b)", vec![pkg("a-1-1"), pkg("b-1-1")]));
    assert!(met("(a without b)", vec![pkg("a-1-1"), both()]));
    assert!(!met("(a without b)", vec![both()]));
    assert!(met("(a with a >= 2)", vec![pkg("a-2-1")]));
    assert!(met(
        "(a with a >= 2)",
        vec![pkg("a-1-1"), pkg("bb-1-1").provides("a >= 2")]
    ));
    assert!(!met(
        "(a with a >= 2)",
        vec![pkg("a-1-1"), pkg("bb-1-1").provides("a < 2")]
    ));
}

#[test]
fn rich_nested_and_files() {
    let base = || vec![pkg("x-1-1").file("/usr/share/x/y"), pkg("y-2-1")];
    assert!(met("((a or /usr/share/x/y) and (y >= 2 with y < 3))", base()));
    assert!(met("((a and b) or (y > 1 without y > 5))", base()));
    assert!(!met("((a and b) or (y > 5 without z))", base()));
    // Requirement text is libsolv's rendering.
    let p = pkg("c-1-1").requires("(  q   and (r or s))");
    assert_eq!(check_closure(&[&p], &[])[0].requirement, "(q and (r or s))");
    // Unparseable rich dependencies are never met.
    let p = pkg("c-1-1").requires("(q xor r)");
    let unmet = check_closure(&[&p], &[]);
    assert_eq!(
        unmet[0].to_string(),
        "c-1-1.noarch requires (q xor r), which is not a valid rich dependency"
    );
}

#[test]
fn duplicates_and_sources() {
    let p = pkg("c-1-1").requires("q").requires("q");
    assert_eq!(check_closure(&[&p], &[]).len(), 1);
    let mut s = pkg("src-1-1").requires("nothing");
    s.arch = "src".into();
    assert!(check_closure(&[&s], &[]).is_empty());
    let p = pkg("c-1-1").requires("src");
    assert_eq!(check_closure(&[&p, &s], &[]).len(), 1);
}

#[test]
fn what_provides_on_an_index() {
    let idx = ProviderIndex::new(vec![pkg("a-1-1"), pkg("a-2-1"), pkg("b-1-1").provides("a = 3")]);
    let names = |d: &str| -> Vec<String> { idx.what_provides(&dep(d)).iter().map(|p| p.nevra.clone()).collect() };
    assert_eq!(names("a >= 2"), ["a-2-1.noarch", "b-1-1.noarch"]);
    assert_eq!(names("a < 2"), ["a-1-1.noarch"]);
    assert_eq!(names("(a > 2 with b)"), ["b-1-1.noarch"]);
}

#[test]
fn conflicts_and_obsoletes_between_elements() {
    let new_a = pkg("fts-2.0-1").conflicts("legacy < 2").obsoletes("oldtool < 3");
    let new_b = pkg("fts-libs-2.0-1").provides("libfts = 2");
    let legacy = pkg("legacy-1.0-1");
    let legacy2 = pkg("legacy-2.0-1");
    let oldtool = pkg("oldtool-2-1").provides("oldtool-virtual");
    let hater = pkg("hater-1-1").conflicts("libfts >= 2").obsoletes("fts-libs < 1.5");
    let own = pkg("fts-1.0-1").conflicts("fts-libs");
    let existing = [
        (&legacy, "legacy"),
        (&legacy2, "legacy"),
        (&oldtool, "tools"),
        (&hater, "hater"),
        (&own, "fts"),
    ];
    let problems = check_conflicts(&[&new_a, &new_b], &existing, "fts");
    assert_eq!(
        problems,
        [
            "fts-2.0-1.noarch (element fts) conflicts with legacy < 2, which legacy-1.0-1.noarch of element legacy provides",
            "fts-2.0-1.noarch (element fts) obsoletes oldtool < 3, which would replace oldtool-2-1.noarch of element tools",
            "hater-1-1.noarch of element hater (in production) conflicts with libfts >= 2, which fts-libs-2.0-1.noarch (element fts) provides",
        ]
    );
    // Obsoletes match names only, not provides.
    let by_provide = pkg("n-1-1").obsoletes("oldtool-virtual");
    assert!(check_conflicts(&[&by_provide], &existing, "n").is_empty());
    // Conflicts match files and rich conflicts work too.
    let files = pkg("f-1-1").file("/etc/x.conf");
    let c = pkg("c-1-1").conflicts("/etc/x.conf").conflicts("(legacy and nothing)");
    let problems = check_conflicts(&[&c], &[(&files, "f"), (&legacy, "legacy")], "c");
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn architectures() {
    let on = |mut p: DepPackage, arch: &str| {
        p.arch = arch.into();
        p.nevra = DepPackage::format_nevra(&p.name.clone(), &p.evr, arch);
        p
    };
    let base = ProviderIndex::new(vec![
        on(pkg("lib-x-1-1").provides("libx.so.1()(64bit)"), "x86_64"),
        on(
            pkg("lib-a-1-1").provides("liba.so.1()(64bit)").file("/usr/share/a/f"),
            "aarch64",
        ),
        on(pkg("lib-i-1-1").provides("lib32.so.1"), "i686"),
    ]);
    let app = |arch| {
        on(
            pkg("app-1-1")
                .requires("libx.so.1()(64bit)")
                .requires("liba.so.1()(64bit)")
                .requires("lib32.so.1")
                .requires("/usr/share/a/f"),
            arch,
        )
    };
    let (x, a, n) = (
        app("x86_64"),
        app("aarch64"),
        on(pkg("tool-1-1").requires("libx.so.1()(64bit)"), "noarch"),
    );
    let pairs = |unmet: Vec<Unmet>| -> Vec<String> {
        unmet
            .into_iter()
            .map(|u| format!("{} {}", u.package, u.requirement))
            .collect()
    };
    assert!(check_closure(&[&x, &a, &n], &[&base]).is_empty());
    assert_eq!(
        pairs(check_closure_for_arch(&[&x, &a, &n], &[&base], "x86_64")),
        ["app-1-1.x86_64 liba.so.1()(64bit)", "app-1-1.x86_64 /usr/share/a/f"]
    );
    assert_eq!(
        pairs(check_closure_for_arch(&[&x, &a, &n], &[&base], "aarch64")),
        [
            "app-1-1.aarch64 libx.so.1()(64bit)",
            "app-1-1.aarch64 lib32.so.1",
            "tool-1-1.noarch libx.so.1()(64bit)"
        ]
    );
}

/// The case of issue 9: production keeps fts-libs 3.13.0 (provides `libfts-api = 3`) next to
/// 3.14.0, which drops it; dmlite needs it. Counting every version says fine; a host that
/// upgrades has only 3.14.0.
#[test]
fn newest_set_loses_what_only_a_superseded_version_provides() {
    let old = pkg("fts-libs-3.13.0-1.el9").provides("libfts-api = 3");
    let new = pkg("fts-libs-3.14.0-1.el9").provides("libfts-api = 4");
    let dmlite = pkg("dmlite-1.15.0-1.el9").requires("libfts-api = 3");
    assert!(check_closure(&[&old, &new, &dmlite], &[]).is_empty());
    assert!(check_closure_newest(&[&old, &dmlite], &[]).is_empty());
    let unmet = check_closure_newest(&[&old, &new, &dmlite], &[]);
    assert_eq!(unmet.len(), 1, "{unmet:?}");
    assert_eq!(unmet[0].package, "dmlite-1.15.0-1.el9.noarch");
    assert_eq!(
        unmet[0].lost,
        [Lost {
            provider: "fts-libs-3.13.0-1.el9.noarch".into(),
            replaced_by: "fts-libs-3.14.0-1.el9.noarch".into(),
            obsoleted: false,
            from: None,
        }]
    );
    let text = unmet[0].to_string();
    assert!(text.starts_with("dmlite-1.15.0-1.el9.noarch requires libfts-api = 3, but only fts-libs-3.14.0-1.el9.noarch (libfts-api = 4) provides libfts-api"), "{text}");
    assert!(
        text.contains("fts-libs-3.13.0-1.el9.noarch provided it, but fts-libs-3.14.0-1.el9.noarch supersedes it"),
        "{text}"
    );
    // Only the newest is checked: the old version's own needs no longer matter.
    let old_needy = pkg("fts-libs-3.13.0-1.el9").requires("gone");
    assert!(check_closure_newest(&[&old_needy, &new], &[]).is_empty());
}

#[test]
fn newest_is_per_name_and_arch_and_applies_to_bases() {
    let mut x86 = pkg("lib-1-1").provides("libfoo.so.1()(64bit)");
    x86.arch = "x86_64".into();
    x86.nevra = "lib-1-1.x86_64".into();
    // A newer noarch build of the same name does not supersede the x86_64 one.
    let noarch = pkg("lib-2-1");
    let user = pkg("app-1-1").requires("libfoo.so.1()(64bit)");
    assert!(check_closure_newest(&[&x86, &noarch, &user], &[]).is_empty());
    // In a base, too, only the newest provides.
    let base = ProviderIndex::new(vec![
        pkg("lib-1-1").provides("libfoo.so.1()(64bit)"),
        pkg("lib-2-1").provides("libfoo.so.2()(64bit)"),
    ]);
    assert!(check_closure(&[&user], &[&base]).is_empty());
    let unmet = check_closure_newest(&[&user], &[&base]);
    assert_eq!(unmet.len(), 1);
    assert!(unmet[0].lost.is_empty(), "base packages are not named as lost");
    // Equal EVRs (`01` and `1`) are both newest.
    let a = pkg("lib-01-1").provides("a");
    let b = pkg("lib-1-1").provides("b");
    let both = pkg("app-1-1").requires("a").requires("b");
    assert!(check_closure_newest(&[&a, &b, &both], &[]).is_empty());
}

#[test]
fn obsoleted_packages_stop_providing() {
    let libs = pkg("fts-libs-3.13.0-1.el9").provides("libfts-api = 3");
    let ng = pkg("fts-libs-ng-3.14.0-1.el9").obsoletes("fts-libs < 3.14");
    let dmlite = pkg("dmlite-1.15.0-1.el9").requires("libfts-api = 3");
    let unmet = check_closure_newest(&[&libs, &ng, &dmlite], &[]);
    assert_eq!(unmet.len(), 1, "{unmet:?}");
    assert!(unmet[0].lost[0].obsoleted);
    assert!(
        unmet[0]
            .to_string()
            .contains("fts-libs-ng-3.14.0-1.el9.noarch obsoletes it"),
        "{}",
        unmet[0]
    );
    // An obsoleting package that takes over the provide is fine, and an obsoletes that does
    // not match the version changes nothing.
    let ng_ok = pkg("fts-libs-ng-3.14.0-1.el9")
        .obsoletes("fts-libs < 3.14")
        .provides("libfts-api = 3");
    assert!(check_closure_newest(&[&libs, &ng_ok, &dmlite], &[]).is_empty());
    let ng_miss = pkg("fts-libs-ng-3.14.0-1.el9").obsoletes("fts-libs < 3.0");
    assert!(check_closure_newest(&[&libs, &ng_miss, &dmlite], &[]).is_empty());
}

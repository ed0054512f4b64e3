//! Which architectures a machine installs: libsolv's arch policies (`src/poolarch.c`, as
//! built for Fedora and EL), which dnf applies through `pool_setarch`. Packages of other
//! architectures are not installable there, so they provide nothing to its clients.

/// `arch` and the architectures it also installs, best first (libsolv's `archpolicies`).
const POLICIES: &[(&str, &[&str])] = &[
    ("x86_64", &["x86_64", "athlon", "i686", "i586", "i486", "i386"]),
    ("i686", &["i686", "i586", "i486", "i386"]),
    ("i586", &["i586", "i486", "i386"]),
    ("i486", &["i486", "i386"]),
    ("s390x", &["s390x", "s390"]),
    ("ppc64", &["ppc64", "ppc"]),
    ("ppc64p7", &["ppc64p7", "ppc64", "ppc"]),
    ("ia64", &["ia64", "i686", "i586", "i486", "i386"]),
    ("armv8hl", &["armv8hl", "armv7hl", "armv6hl"]),
    ("armv7hnl", &["armv7hnl", "armv7hl", "armv6hl"]),
    ("armv7hl", &["armv7hl", "armv6hl"]),
    ("athlon", &["athlon", "i686", "i586", "i486", "i386"]),
    ("amd64", &["amd64", "x86_64", "athlon", "i686", "i586", "i486", "i386"]),
];

/// The architectures of the packages a machine of architecture `arch` can install: its
/// policy (e.g. `x86_64` also takes `i686`), then `noarch`. An architecture without a
/// policy (`aarch64`, `ppc64le`...) installs only itself and `noarch`.
pub fn compatible_arches(arch: &str) -> Vec<String> {
    let mut out: Vec<String> = match POLICIES.iter().find(|(a, _)| *a == arch) {
        Some((_, list)) => list.iter().map(|a| a.to_string()).collect(),
        None => vec![arch.to_string()],
    };
    if arch != "noarch" {
        out.push("noarch".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        assert_eq!(compatible_arches("aarch64"), ["aarch64", "noarch"]);
        assert_eq!(compatible_arches("x86_64")[..3], ["x86_64", "athlon", "i686"]);
        assert!(compatible_arches("x86_64").contains(&"noarch".to_string()));
        assert_eq!(compatible_arches("noarch"), ["noarch"]);
    }
}

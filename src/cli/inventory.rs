//! Who deploys what: `stagerepo site inventory`, `stagerepo admin inventory`, `stagerepo admin sla`.

use std::path::PathBuf;
use std::process::Command;

use clap::Args;
use serde_json::{json, Value};

use super::client::{print_json, Client, ClientError};
use super::format::{duration_of, s, table, time_of};

/// Options of `stagerepo site inventory`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Root of the system whose rpm database is read (`rpm --root`) [default: /].
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Host name to report under [default: this machine's host name].
    #[arg(long)]
    pub host: Option<String>,
    /// Print the report instead of sending it.
    #[arg(long)]
    pub dry_run: bool,
}

/// Filters of `stagerepo admin inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[arg(long)]
    pub element: Option<String>,
    #[arg(long)]
    pub site: Option<String>,
    #[arg(long)]
    pub dist: Option<String>,
}

/// Options of `stagerepo admin sla`.
#[derive(Debug, Args)]
pub struct SlaArgs {
    /// Period of announcements to look at: 30d, 12w...
    #[arg(long, default_value = "90d")]
    pub since: String,
    #[arg(long)]
    pub site: Option<String>,
}

/// The rpm query format of one installed package: `name-epoch:version-release.arch`.
pub const RPM_QUERY_FORMAT: &str = "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n";

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `path?k=v&...` with the given values only.
fn with_query(path: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(v))))
        .collect();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

/// This machine's host name.
pub fn local_hostname() -> Result<String, ClientError> {
    for f in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(h) = std::fs::read_to_string(f) {
            let h = h.trim();
            if !h.is_empty() {
                return Ok(h.to_string());
            }
        }
    }
    Err(ClientError::Usage(
        "cannot tell this machine's host name: give --host".into(),
    ))
}

/// The installed packages of the system at `root` (all of `/` when None), from rpm's database.
/// gpg-pubkey entries (imported keys, arch `(none)`) are not packages and are left out.
pub fn installed_packages(root: Option<&PathBuf>) -> Result<Vec<String>, ClientError> {
    let mut cmd = Command::new("rpm");
    cmd.arg("-qa").arg("--qf").arg(RPM_QUERY_FORMAT);
    if let Some(r) = root {
        cmd.arg("--root").arg(r);
    }
    let out = cmd
        .output()
        .map_err(|e| ClientError::Usage(format!("cannot run rpm: {e}")))?;
    if !out.status.success() {
        return Err(ClientError::Usage(format!(
            "rpm -qa failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.ends_with(".(none)"))
        .map(str::to_string)
        .collect();
    list.sort();
    list.dedup();
    Ok(list)
}

/// `stagerepo site inventory`: reads the rpm database and sends it as this host's report.
pub fn send(c: &Client, args: SendArgs, json_out: bool) -> Result<(), ClientError> {
    let host = match args.host {
        Some(h) => h,
        None => local_hostname()?,
    };
    let packages = installed_packages(args.root.as_ref())?;
    let body = json!({ "host": host, "packages": packages });
    if args.dry_run {
        print_json(&body);
        return Ok(());
    }
    let v: Value = c.post("/api/v1/deployments", &body)?;
    if json_out {
        print_json(&v);
        return Ok(());
    }
    println!(
        "report {} recorded: {} at {} runs {} packages",
        s(&v["id"]),
        s(&v["host"]),
        s(&v["site"]),
        s(&v["packages"])
    );
    for r in v["runs"].as_array().into_iter().flatten() {
        println!("  {:<20} {}", s(&r["element"]), run_text(r));
    }
    Ok(())
}

/// A host's release of an element as text: `1.0.0 (release 3, promoted)`.
fn run_text(r: &Value) -> String {
    if r["release"].is_null() {
        return format!("no known release ({})", join(&r["packages"]));
    }
    format!(
        "{} (release {}, {}{})",
        s(&r["version"]),
        s(&r["release"]),
        s(&r["state"]),
        if r["exact"] == true {
            ""
        } else {
            "; mixed with other releases' packages"
        }
    )
}

fn join(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

/// `stagerepo admin inventory`.
pub fn inventory(c: &Client, args: InventoryArgs, json_out: bool) -> Result<(), ClientError> {
    let path = with_query(
        "/api/v1/inventory",
        &[
            ("element", args.element.as_deref()),
            ("site", args.site.as_deref()),
            ("dist", args.dist.as_deref()),
        ],
    );
    let v: Value = c.get(&path)?;
    if json_out {
        print_json(&v);
        return Ok(());
    }
    let elements = v["elements"].as_array().cloned().unwrap_or_default();
    if elements.is_empty() {
        println!(
            "no host runs a known element ({} hosts report)",
            s(&v["hosts_reporting"])
        );
        return Ok(());
    }
    let mut releases = Vec::new();
    let mut hosts = Vec::new();
    let mut alerts = Vec::new();
    for e in &elements {
        for r in e["releases"].as_array().into_iter().flatten() {
            let mut r = r.clone();
            r["element"] = e["element"].clone();
            releases.push(r);
        }
        for site in e["sites"].as_array().into_iter().flatten() {
            for h in site["hosts"].as_array().into_iter().flatten() {
                let mut h = h.clone();
                h["site"] = site["site"].clone();
                hosts.push(h);
            }
        }
        for a in e["alerts"].as_array().into_iter().flatten() {
            let mut a = a.clone();
            a["element"] = e["element"].clone();
            alerts.push(a);
        }
    }
    table(
        &Value::Array(releases),
        &[
            "element", "release", "version", "dist", "state", "hosts", "sites", "warning",
        ],
        |r| {
            vec![
                s(&r["element"]),
                s(&r["release"]),
                s(&r["version"]),
                s(&r["dist"]),
                s(&r["state"]),
                s(&r["hosts"]),
                join(&r["sites"]),
                s(&r["warning"]),
            ]
        },
    );
    println!();
    table(
        &Value::Array(hosts),
        &["element", "site", "host", "runs", "reported"],
        |h| {
            vec![
                s(&h["element"]),
                s(&h["site"]),
                s(&h["host"]),
                run_text(h),
                time_of(&h["reported_at"]),
            ]
        },
    );
    if !alerts.is_empty() {
        println!("\nsites to tell:");
        for a in alerts {
            println!(
                "  {} host {} runs {} {} (release {}): {}",
                s(&a["site"]),
                s(&a["host"]),
                s(&a["element"]),
                s(&a["version"]),
                s(&a["release"]),
                s(&a["reason"])
            );
        }
    }
    Ok(())
}

fn ratio(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |r| format!("{:.0}%", r * 100.0))
}

/// `stagerepo admin sla`.
pub fn sla(c: &Client, args: SlaArgs, json_out: bool) -> Result<(), ClientError> {
    let path = with_query(
        "/api/v1/sla",
        &[("since", Some(args.since.as_str())), ("site", args.site.as_deref())],
    );
    let v: Value = c.get(&path)?;
    if json_out {
        print_json(&v);
        return Ok(());
    }
    let opt_duration = |x: &Value| if x.is_null() { "-".into() } else { duration_of(x) };
    println!("releases announced since {}", time_of(&v["since"]));
    table(
        &v["sites"],
        &[
            "site",
            "assigned",
            "on time",
            "late",
            "missed",
            "pending",
            "median",
            "p90",
            "compliance",
            "deployed",
            "declined",
            "expired",
            "sla",
        ],
        |x| {
            vec![
                s(&x["site"]),
                s(&x["assigned"]),
                s(&x["on_time"]),
                s(&x["late"]),
                s(&x["missed"]),
                s(&x["pending"]),
                opt_duration(&x["median_report_seconds"]),
                opt_duration(&x["p90_report_seconds"]),
                ratio(&x["compliance"]),
                format!(
                    "{}/{} ({})",
                    s(&x["deployed_on_time"]),
                    s(&x["deployment_due"]),
                    ratio(&x["deployment_rate"])
                ),
                s(&x["declined"]),
                s(&x["expired_without_evidence"]),
                if x["meets_sla"] == true {
                    "met".into()
                } else {
                    "MISSED".into()
                },
            ]
        },
    );
    let missing: Vec<String> = v["sites"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|x| x["meets_sla"] != true)
        .map(|x| s(&x["site"]))
        .collect();
    if !missing.is_empty() {
        println!("\nsites that missed their SLA: {}", missing.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn queries_are_encoded() {
        assert_eq!(with_query("/x", &[("a", None)]), "/x");
        assert_eq!(
            with_query("/x", &[("a", Some("b c&")), ("d", Some("e"))]),
            "/x?a=b%20c%26&d=e"
        );
    }
}

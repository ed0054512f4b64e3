//! How the CLI prints what the server answers: tables for people, the JSON as is otherwise.

use serde_json::{json, Value};

use super::client::print_table;

/// Prints a new team's or site's secrets (shown once).
pub fn print_secret(v: &Value) {
    for key in ["name", "token", "webhook_secret"] {
        if !v[key].is_null() {
            println!("{:<15} {}", format!("{key}:"), s(&v[key]));
        }
    }
    println!("(store the token now: it is not shown again)");
}

/// Prints team keys.
pub fn print_keys(v: &Value) {
    table(v, &["team", "fingerprint", "key ids", "added"], |k| {
        vec![
            s(&k["team"]),
            s(&k["fingerprint"]),
            join(&k["key_ids"]),
            time_of(&k["added_at"]),
        ]
    })
}

/// Prints problems.
pub fn print_problems(v: &Value) {
    table(
        v,
        &["id", "release", "site", "criticality", "priority", "state", "text"],
        |p| {
            vec![
                s(&p["id"]),
                s(&p["release"]),
                s(&p["site"]),
                if p["criticality"].is_null() {
                    "untriaged".into()
                } else {
                    s(&p["criticality"])
                },
                s(&p["priority"]),
                if p["open"] == true {
                    "open".into()
                } else {
                    format!("closed: {}", s(&p["closed_reason"]))
                },
                s(&p["text"]),
            ]
        },
    )
}

/// Prints the `warnings` of a release (what its promotion would fail on), if any.
pub fn print_warnings(v: &Value) {
    let Some(list) = v["warnings"].as_array().filter(|l| !l.is_empty()) else {
        return;
    };
    println!(
        "WARNING: this release could not be promoted as production stands ({}):",
        list.len()
    );
    for w in list {
        println!("  - {}", s(w));
    }
}

/// Prints a release with its gate, reports, problems and history.
pub fn print_release_detail(v: &Value) {
    super::team::print_releases(&json!([v]));
    println!("packages: {}", join(&v["packages"]));
    print_warnings(v);
    if let Some(a) = v["advisory"].as_str() {
        println!("advisory: {a}");
    }
    if v["references"].as_array().is_some_and(|r| !r.is_empty()) {
        println!("references: {}", join(&v["references"]));
    }
    if v["forced"] == true {
        println!("promotion was forced");
    }
    if let Some(gate) = v.get("gate").filter(|g| !g.is_null()) {
        let verdict = if gate["open"] == true { "OPEN" } else { "closed" };
        println!(
            "\ngate: {verdict}{}",
            if gate["fast_track"] == true {
                " (fast track)"
            } else {
                ""
            }
        );
        table(&gate["conditions"], &["condition", "result", "detail"], |c| {
            vec![
                s(&c["name"]),
                if c["passed"] == true {
                    "pass".into()
                } else {
                    "FAIL".into()
                },
                s(&c["detail"]),
            ]
        });
    }
    print_sites(v);
    if v["problems"].as_array().is_some_and(|a| !a.is_empty()) {
        println!("\nproblems:");
        print_problems(&v["problems"]);
    }
    if let Some(events) = v["events"].as_array() {
        println!("\nhistory:");
        for e in events {
            println!(
                "  {}  {:<10} {:<20} {}",
                time_of(&e["at"]),
                s(&e["to"]),
                s(&e["actor"]),
                s(&e["reason"])
            );
        }
    }
}

/// The rollout sites' table: kept after the rollout ends, every duration written the same way.
fn print_sites(v: &Value) {
    let Some(sites) = v["sites"].as_array().filter(|a| !a.is_empty()) else {
        return;
    };
    println!(
        "\nrollout sites (deployment evidence needed from {}):",
        s(&v["min_deployed_sites"])
    );
    print_table(
        &["site", "sla", "deadline", "time left", "state", "deployed", "note"],
        sites
            .iter()
            .map(|x| {
                let state = s(&x["state"]).replace('_', " ");
                let state = if state == "expired" {
                    "expired without evidence".to_string()
                } else {
                    state
                };
                let left = if x["seconds_left"].as_i64() == Some(0) {
                    "expired".to_string()
                } else {
                    duration_of(&x["seconds_left"])
                };
                let deployed = if x["deployed"].is_null() {
                    String::new()
                } else {
                    format!("{} at {}", s(&x["deployed"]["host"]), time_of(&x["deployed"]["at"]))
                };
                let grace = x["grace_seconds"].as_i64().unwrap_or(0);
                let sla = if grace > 0 {
                    format!(
                        "{} + {} grace",
                        duration_of(&x["sla_seconds"]),
                        duration_of(&x["grace_seconds"])
                    )
                } else {
                    duration_of(&x["sla_seconds"])
                };
                vec![
                    s(&x["site"]),
                    sla,
                    time_of(&x["deadline"]),
                    left,
                    state,
                    deployed,
                    s(&x["declined_reason"]),
                ]
            })
            .collect(),
    );
}

/// Prints a JSON array as a table, one row per element.
pub fn table(v: &Value, header: &[&str], row: impl Fn(&Value) -> Vec<String>) {
    print_table(
        header,
        v.as_array().map(|a| a.iter().map(&row).collect()).unwrap_or_default(),
    );
}

/// A JSON array of strings, comma-separated.
pub fn join(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

/// A JSON value as plain text.
pub fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A Unix time field as a UTC time.
pub fn time_of(v: &Value) -> String {
    v.as_i64()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Seconds as a human duration.
pub fn duration_of(v: &Value) -> String {
    v.as_i64()
        .map(|n| humantime::format_duration(std::time::Duration::from_secs(n.max(0) as u64)).to_string())
        .unwrap_or_default()
}

/// Prints the releases and advisories (with type and severity) that leave production.
pub fn print_leaving(leaving: &Value, verb: &str) {
    let releases = leaving["releases"].as_array().cloned().unwrap_or_default();
    let advisories = leaving["advisories"].as_array().cloned().unwrap_or_default();
    if releases.is_empty() && advisories.is_empty() {
        println!("no release or advisory {verb} production");
        return;
    }
    for r in &releases {
        println!(
            "{verb} production: release {} ({} {})",
            s(&r["id"]),
            s(&r["element"]),
            s(&r["version"])
        );
    }
    for a in &advisories {
        let severity = a["severity"].as_str().map(|x| format!(", {x}")).unwrap_or_default();
        println!(
            "{verb} production: advisory {} ({}{severity}) of release {}: {}",
            s(&a["id"]),
            s(&a["type"]),
            s(&a["release"]),
            s(&a["title"])
        );
    }
}

//! `stagerepo admin ...`: the release manager's commands.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::{print_json, Client, ClientError};
use super::format::{
    duration_of, join, print_keys, print_leaving, print_problems, print_release_detail, print_secret, s, table, time_of,
};
use super::ServerArgs;

/// Admin options and command.
#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Data directory whose admin.token is read when no token is given.
    #[arg(long, env = "STAGEREPO_DATA_DIR", default_value = "./stagerepo-data", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Product teams and their tokens.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Elements (products) and their owning teams.
    #[command(subcommand)]
    Element(ElementCommand),
    /// Grid sites and their tokens.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Which sites roll out which element, with what SLA.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Releases: announce, show the gate, promote, reject.
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Problems reported by sites: list, triage, close.
    #[command(subcommand)]
    Problem(ProblemCommand),
    /// Check the dependency closure of production (plus a release); exits 1 when it fails.
    Check {
        #[arg(long)]
        dist: String,
        #[arg(long)]
        with_release: Option<i64>,
    },
    /// Base repositories (the OS, EPEL) production may depend on.
    #[command(subcommand)]
    Base(BaseCommand),
    /// Repository history, diffs and roll-back.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// The audit log.
    Audit {
        #[arg(long)]
        release: Option<i64>,
        /// Only entries newer than this (e.g. 7d).
        #[arg(long)]
        since: Option<String>,
    },
    /// Recent webhook delivery attempts.
    Webhooks,
    /// Re-read every stored package and published repodata file against their recorded
    /// checksums; prints what to re-upload and exits 1 when anything is corrupt.
    Verify {
        /// Only this distribution's repositories and the packages they publish.
        #[arg(long)]
        dist: Option<String>,
    },
    /// Write a consistent backup of the running server into a new directory DIR on the server.
    Backup { dir: PathBuf },
    /// Which release of each element every site and host runs.
    Inventory(super::inventory::InventoryArgs),
    /// Rollout sites' SLA record: reports on time, late, missed, deployments.
    Sla(super::inventory::SlaArgs),
}

#[derive(Debug, Subcommand)]
enum TeamCommand {
    /// Create a team and print its token (shown once).
    Add { name: String },
    /// List teams.
    List,
    /// Issue a new token; the old one stops working.
    TokenRotate { name: String },
    /// Remove a team that owns no element, release or package.
    Remove { name: String },
    /// The team's OpenPGP keys that sign its packages.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Import an ASCII-armoured public key for a team.
    Add { team: String, file: PathBuf },
    /// List keys (of one team).
    List { team: Option<String> },
    /// Remove a key by fingerprint or key id.
    Remove { team: String, key: String },
}

#[derive(Debug, Subcommand)]
enum ElementCommand {
    /// Create an element owned by a team.
    Add {
        name: String,
        #[arg(long)]
        team: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List elements with their package names.
    List,
    /// Remove an element that has no release and no rollout site.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Create a site and print its token and webhook secret (shown once).
    Add {
        name: String,
        #[arg(long)]
        contact: Option<String>,
        #[arg(long)]
        webhook: Option<String>,
        /// Contact e-mail address announcements and outcomes are sent to.
        #[arg(long)]
        email: Option<String>,
    },
    /// List sites.
    List,
    /// Change a site's settings.
    Set {
        name: String,
        /// Contact e-mail address ("" clears it).
        #[arg(long)]
        email: String,
    },
    /// Issue a new site token; the old one stops working.
    TokenRotate { name: String },
    /// Remove a site nothing refers to (no rollout assignment, report or announcement).
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum RolloutCommand {
    /// Make a site a rollout site of an element.
    Add {
        #[arg(long)]
        element: String,
        #[arg(long)]
        site: String,
        /// SLA period: 30s, 12h, 5d...
        #[arg(long)]
        sla: String,
    },
    /// List rollout assignments.
    List {
        #[arg(long)]
        element: Option<String>,
    },
    /// Remove a rollout assignment.
    Remove {
        #[arg(long)]
        element: String,
        #[arg(long)]
        site: String,
    },
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// List releases (of one distribution, element, state).
    List {
        /// Only this distribution (may be left out when only one is configured).
        #[arg(long)]
        dist: Option<String>,
        #[arg(long)]
        element: Option<String>,
        /// beta, rollout, promoted, rejected, superseded, withdrawn.
        #[arg(long)]
        state: Option<String>,
    },
    /// Show a release with its gate.
    Show { id: i64 },
    /// Announce a beta release to its rollout sites (one failing the promotion checks only
    /// with --force and --reason).
    Announce {
        id: i64,
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Promote a release whose gate is open (or, with --force and --reason, before).
    Promote {
        id: i64,
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Take a promoted release out of production; lists the releases and advisories that
    /// leave production first.
    Withdraw {
        id: i64,
        #[arg(long)]
        reason: String,
        /// Only list what would leave production.
        #[arg(long)]
        dry_run: bool,
    },
    /// Take a release out of beta.
    Reject {
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum BaseCommand {
    /// Import a base repository from a URL or local path of its root.
    Add {
        #[arg(long)]
        dist: String,
        name: String,
        source: String,
    },
    /// Re-import a base repository from its source.
    Refresh {
        #[arg(long)]
        dist: String,
        name: String,
    },
    /// List base repositories.
    List {
        #[arg(long)]
        dist: String,
    },
    /// Remove a base repository.
    Remove {
        #[arg(long)]
        dist: String,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum RepoCommand {
    /// The revisions of a repository, newest first.
    History {
        #[arg(long)]
        dist: String,
        #[arg(long, default_value = "production", value_parser = ["beta", "production"])]
        repo: String,
    },
    /// Packages added, removed, upgraded between two revisions.
    Diff {
        #[arg(long)]
        dist: String,
        #[arg(long, default_value = "production", value_parser = ["beta", "production"])]
        repo: String,
        from: i64,
        to: i64,
    },
    /// Republish production revision R as a new revision (after the consistency checks).
    Rollback {
        #[arg(long)]
        dist: String,
        #[arg(long)]
        to: i64,
        #[arg(long)]
        reason: String,
        /// Needed when security advisories would leave production.
        #[arg(long)]
        force: bool,
        /// Only list what would leave production.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ProblemCommand {
    /// List problems.
    List {
        #[arg(long)]
        open: bool,
    },
    /// Set a problem's criticality (and priority).
    Triage {
        id: i64,
        #[arg(long, value_parser = ["critical", "major", "minor"])]
        criticality: String,
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=5))]
        priority: Option<i64>,
    },
    /// Close a problem.
    Close {
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

/// Runs an admin command.
pub fn run(args: AdminArgs) -> Result<(), ClientError> {
    let token = match args.server.token.clone() {
        Some(t) => Some(t),
        None => std::fs::read_to_string(args.data_dir.join("admin.token"))
            .ok()
            .map(|t| t.trim().to_string()),
    };
    // Without any token, a 401 says where the CLI looked: run from another directory than
    // the server's, `./stagerepo-data/admin.token` is simply not there.
    let looked = token.is_none().then(|| args.data_dir.join("admin.token"));
    run_with(args, token).map_err(|e| match (e, looked) {
        (ClientError::Refused { status: 401, error, detail }, Some(path)) => ClientError::Refused {
            status: 401,
            error,
            detail: format!(
                "{detail} (no token was sent: pass --token, set STAGEREPO_TOKEN, or make {} readable, e.g. with --data-dir)",
                path.display()
            ),
        },
        (e, _) => e,
    })
}

fn run_with(args: AdminArgs, token: Option<String>) -> Result<(), ClientError> {
    let c = Client::new(&args.server.server, token);
    let json_out = args.server.json;
    let out = |v: &Value, table: &dyn Fn(&Value)| if json_out { print_json(v) } else { table(v) };
    match args.command {
        AdminCommand::Inventory(q) => super::inventory::inventory(&c, q, json_out)?,
        AdminCommand::Sla(q) => super::inventory::sla(&c, q, json_out)?,
        AdminCommand::Team(TeamCommand::Add { name }) => {
            out(&c.post("/api/v1/admin/teams", &json!({ "name": name }))?, &print_secret);
        }
        AdminCommand::Team(TeamCommand::TokenRotate { name }) => {
            out(
                &c.post(&format!("/api/v1/admin/teams/{name}/token-rotate"), &json!({}))?,
                &print_secret,
            );
        }
        AdminCommand::Team(TeamCommand::Key(KeyCommand::Add { team, file })) => {
            let key = std::fs::read_to_string(&file).map_err(|source| ClientError::File {
                path: file.display().to_string(),
                source,
            })?;
            let v = c.post(&format!("/api/v1/admin/teams/{team}/keys"), &json!({ "key": key }))?;
            out(&v, &print_keys)
        }
        AdminCommand::Team(TeamCommand::Key(KeyCommand::List { team })) => {
            let path = team.map_or("/api/v1/admin/keys".to_string(), |t| {
                format!("/api/v1/admin/keys?team={t}")
            });
            out(&c.get(&path)?, &print_keys)
        }
        AdminCommand::Team(TeamCommand::Key(KeyCommand::Remove { team, key })) => {
            c.delete(&format!("/api/v1/admin/teams/{team}/keys/{key}"))?;
            out(&json!({ "removed": key }), &|_| {
                println!("key {key} removed from team {team}")
            })
        }
        AdminCommand::Team(TeamCommand::List) => out(&c.get("/api/v1/admin/teams")?, &|v| {
            table(v, &["name", "created"], |t| {
                vec![s(&t["name"]), time_of(&t["created_at"])]
            })
        }),
        AdminCommand::Element(ElementCommand::Add {
            name,
            team,
            description,
        }) => {
            let v = c.post(
                "/api/v1/admin/elements",
                &json!({ "name": name, "team": team, "description": description }),
            )?;
            out(&v, &|v| {
                println!("element {} created, owned by {}", s(&v["name"]), s(&v["team"]))
            });
        }
        AdminCommand::Element(ElementCommand::List) => out(&c.get("/api/v1/elements")?, &|v| {
            table(v, &["element", "team", "packages", "description"], |e| {
                vec![s(&e["name"]), s(&e["team"]), join(&e["packages"]), s(&e["description"])]
            })
        }),
        AdminCommand::Site(SiteCommand::Add {
            name,
            contact,
            webhook,
            email,
        }) => {
            out(
                &c.post(
                    "/api/v1/admin/sites",
                    &json!({ "name": name, "contact": contact, "webhook": webhook, "email": email }),
                )?,
                &print_secret,
            );
        }
        AdminCommand::Site(SiteCommand::Set { name, email }) => {
            let v = c.patch(&format!("/api/v1/admin/sites/{name}"), &json!({ "email": email }))?;
            out(&v, &|v| match s(&v["email"]).as_str() {
                "" => println!("site {}: e-mail cleared", s(&v["name"])),
                email => println!("site {}: e-mail {email}", s(&v["name"])),
            });
        }
        AdminCommand::Site(SiteCommand::TokenRotate { name }) => {
            out(
                &c.post(&format!("/api/v1/admin/sites/{name}/token-rotate"), &json!({}))?,
                &print_secret,
            );
        }
        AdminCommand::Site(SiteCommand::Remove { name }) => {
            c.delete(&format!("/api/v1/admin/sites/{name}"))?;
            out(&json!({ "removed": name }), &|_| println!("site {name} removed"));
        }
        AdminCommand::Team(TeamCommand::Remove { name }) => {
            c.delete(&format!("/api/v1/admin/teams/{name}"))?;
            out(&json!({ "removed": name }), &|_| println!("team {name} removed"));
        }
        AdminCommand::Element(ElementCommand::Remove { name }) => {
            c.delete(&format!("/api/v1/admin/elements/{name}"))?;
            out(&json!({ "removed": name }), &|_| println!("element {name} removed"));
        }
        AdminCommand::Site(SiteCommand::List) => out(&c.get("/api/v1/admin/sites")?, &|v| {
            table(v, &["site", "contact", "email", "webhook", "created"], |x| {
                vec![
                    s(&x["name"]),
                    s(&x["contact"]),
                    s(&x["email"]),
                    s(&x["webhook"]),
                    time_of(&x["created_at"]),
                ]
            })
        }),
        AdminCommand::Rollout(RolloutCommand::Add { element, site, sla }) => {
            let v = c.post(
                "/api/v1/admin/rollouts",
                &json!({ "element": element, "site": site, "sla": sla }),
            )?;
            out(&v, &|v| {
                if v["previous_sla_seconds"].is_i64() {
                    println!(
                        "{} was already a rollout site of {}: SLA changed {} -> {}",
                        s(&v["site"]),
                        s(&v["element"]),
                        duration_of(&v["previous_sla_seconds"]),
                        duration_of(&v["sla_seconds"])
                    )
                } else {
                    println!(
                        "{} is a rollout site of {} (SLA {})",
                        s(&v["site"]),
                        s(&v["element"]),
                        duration_of(&v["sla_seconds"])
                    )
                }
            });
        }
        AdminCommand::Rollout(RolloutCommand::List { element }) => {
            let path = element.map_or("/api/v1/rollouts".to_string(), |e| {
                format!("/api/v1/rollouts?element={e}")
            });
            out(&c.get(&path)?, &|v| {
                table(v, &["element", "site", "sla"], |r| {
                    vec![s(&r["element"]), s(&r["site"]), duration_of(&r["sla_seconds"])]
                })
            })
        }
        AdminCommand::Rollout(RolloutCommand::Remove { element, site }) => {
            c.delete(&format!("/api/v1/admin/rollouts/{element}/{site}"))?;
            out(&json!({ "removed": { "element": element, "site": site } }), &|_| {
                println!("{site} is no longer a rollout site of {element}")
            });
        }
        AdminCommand::Release(ReleaseCommand::List { dist, element, state }) => {
            let query: Vec<String> = [("dist", dist), ("element", element), ("state", state)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
                .collect();
            let path = if query.is_empty() {
                "/api/v1/releases".to_string()
            } else {
                format!("/api/v1/releases?{}", query.join("&"))
            };
            out(&c.get(&path)?, &|v| super::team::print_releases(v));
        }
        AdminCommand::Release(ReleaseCommand::Show { id }) => {
            out(&c.get(&format!("/api/v1/releases/{id}"))?, &print_release_detail)
        }
        AdminCommand::Release(ReleaseCommand::Announce { id, force, reason }) => out(
            &c.post(
                &format!("/api/v1/admin/releases/{id}/announce"),
                &json!({ "force": force, "reason": reason }),
            )?,
            &print_release_detail,
        ),
        AdminCommand::Release(ReleaseCommand::Promote { id, force, reason }) => {
            let v = c.post(
                &format!("/api/v1/admin/releases/{id}/promote"),
                &json!({ "force": force, "reason": reason }),
            )?;
            out(&v, &print_release_detail)
        }
        AdminCommand::Release(ReleaseCommand::Reject { id, reason }) => out(
            &c.post(
                &format!("/api/v1/admin/releases/{id}/reject"),
                &json!({ "reason": reason }),
            )?,
            &print_release_detail,
        ),
        AdminCommand::Problem(ProblemCommand::List { open }) => {
            out(&c.get(&format!("/api/v1/admin/problems?open={open}"))?, &|v| {
                print_problems(v)
            })
        }
        AdminCommand::Problem(ProblemCommand::Triage {
            id,
            criticality,
            priority,
        }) => {
            let v = c.post(
                &format!("/api/v1/admin/problems/{id}/triage"),
                &json!({ "criticality": criticality, "priority": priority }),
            )?;
            out(&v, &|v| print_problems(&json!([v])))
        }
        AdminCommand::Problem(ProblemCommand::Close { id, reason }) => {
            let v = c.post(
                &format!("/api/v1/admin/problems/{id}/close"),
                &json!({ "reason": reason }),
            )?;
            out(&v, &|v| print_problems(&json!([v])))
        }
        AdminCommand::Release(ReleaseCommand::Withdraw { id, reason, dry_run }) => {
            let path = format!("/api/v1/admin/releases/{id}/withdraw");
            // The listing first, then the act.
            let plan: Value = c.post(&path, &json!({ "reason": reason, "dry_run": true }))?;
            if !json_out {
                print_leaving(&plan["leaving"], if dry_run { "would leave" } else { "leaving" });
            }
            if dry_run {
                out(&plan, &|_| println!("dry run: nothing changed"));
                return Ok(());
            }
            let v: Value = c.post(&path, &json!({ "reason": reason }))?;
            out(&v, &|v| {
                println!(
                    "release {} ({} {}) is {}; production is revision {}",
                    s(&v["id"]),
                    s(&v["element"]),
                    s(&v["version"]),
                    s(&v["state"]),
                    s(&v["revision"])
                );
                print_leaving(&v["leaving"], "left");
            })
        }
        AdminCommand::Check { dist, with_release } => {
            let path = match with_release {
                Some(r) => format!("/api/v1/admin/check?dist={dist}&release={r}"),
                None => format!("/api/v1/admin/check?dist={dist}"),
            };
            let v: Value = c.get(&path)?;
            out(&v, &|v| {
                let what = if v["release"].is_null() {
                    "production".to_string()
                } else {
                    format!("production + release {}", s(&v["release"]))
                };
                if v["ok"] == true {
                    println!(
                        "{dist}: {what} is consistent ({} packages, bases: {})",
                        s(&v["packages"]),
                        match join(&v["bases"]).as_str() {
                            "" => "none".to_string(),
                            b => b.to_string(),
                        }
                    );
                } else {
                    println!("{dist}: {what} is NOT consistent:");
                    for f in v["failures"].as_array().into_iter().flatten() {
                        println!("  - {}", s(f));
                    }
                }
            });
            if v["ok"] != true {
                return Err(ClientError::Usage(format!(
                    "{} consistency problem(s)",
                    v["failures"].as_array().map_or(0, Vec::len)
                )));
            }
        }
        AdminCommand::Base(BaseCommand::Add { dist, name, source }) => {
            let v = c.post(
                "/api/v1/admin/bases",
                &json!({ "dist": dist, "name": name, "source": source }),
            )?;
            out(&v, &|v| {
                println!(
                    "base {} imported into {}: {} packages",
                    s(&v["name"]),
                    s(&v["dist"]),
                    s(&v["packages"])
                )
            })
        }
        AdminCommand::Base(BaseCommand::Refresh { dist, name }) => {
            let v = c.post(&format!("/api/v1/admin/bases/{dist}/{name}/refresh"), &json!({}))?;
            out(&v, &|v| {
                println!("base {} refreshed: {} packages", s(&v["name"]), s(&v["packages"]))
            })
        }
        AdminCommand::Base(BaseCommand::List { dist }) => {
            out(&c.get(&format!("/api/v1/admin/bases?dist={dist}"))?, &|v| {
                table(v, &["name", "packages", "imported", "source"], |b| {
                    vec![
                        s(&b["name"]),
                        s(&b["packages"]),
                        time_of(&b["imported_at"]),
                        s(&b["source"]),
                    ]
                })
            })
        }
        AdminCommand::Base(BaseCommand::Remove { dist, name }) => {
            c.delete(&format!("/api/v1/admin/bases/{dist}/{name}"))?;
            out(&json!({ "removed": name }), &|_| {
                println!("base {name} removed from {dist}")
            })
        }
        AdminCommand::Repo(RepoCommand::History { dist, repo }) => {
            out(&c.get(&format!("/api/v1/repos/{dist}/{repo}/revisions"))?, &|v| {
                table(v, &["revision", "time", "packages", "actor", "reason"], |r| {
                    vec![
                        s(&r["number"]),
                        time_of(&r["created_at"]),
                        s(&r["package_count"]),
                        s(&r["actor"]),
                        s(&r["reason"]),
                    ]
                })
            })
        }
        AdminCommand::Repo(RepoCommand::Diff { dist, repo, from, to }) => out(
            &c.get(&format!("/api/v1/repos/{dist}/{repo}/diff?from={from}&to={to}"))?,
            &|v| {
                for (key, label) in [
                    ("added", "added"),
                    ("removed", "removed"),
                    ("upgraded", "upgraded"),
                    ("downgraded", "downgraded"),
                ] {
                    for line in v[key].as_array().into_iter().flatten() {
                        println!("{label:<11} {}", s(line));
                    }
                }
            },
        ),
        AdminCommand::Repo(RepoCommand::Rollback {
            dist,
            to,
            reason,
            force,
            dry_run,
        }) => {
            let path = format!("/api/v1/admin/repos/{dist}/rollback");
            let plan: Value = c.post(&path, &json!({ "to": to, "reason": reason, "dry_run": true }))?;
            if !json_out {
                print_leaving(&plan["leaving"], if dry_run { "would leave" } else { "leaving" });
            }
            if dry_run {
                out(&plan, &|_| println!("dry run: nothing changed"));
                return Ok(());
            }
            let v: Value = c.post(&path, &json!({ "to": to, "reason": reason, "force": force }))?;
            out(&v, &|v| {
                println!(
                    "{dist}/production is now revision {} (the package set of revision {to})",
                    s(&v["revision"])
                );
                print_leaving(&v["leaving"], "left");
            })
        }
        AdminCommand::Audit { release, since } => {
            let mut q = Vec::new();
            if let Some(r) = release {
                q.push(format!("release={r}"));
            }
            if let Some(s) = since {
                q.push(format!("since={s}"));
            }
            out(&c.get(&format!("/api/v1/audit?{}", q.join("&")))?, &|v| {
                table(v, &["time", "actor", "action", "object", "reason"], |e| {
                    vec![
                        time_of(&e["at"]),
                        s(&e["actor"]),
                        s(&e["action"]),
                        s(&e["object"]),
                        s(&e["reason"]),
                    ]
                })
            })
        }
        AdminCommand::Backup { dir } => super::ops::backup(&c, &dir, json_out)?,
        AdminCommand::Verify { dist } => super::ops::verify(&c, dist.as_deref(), json_out)?,
        AdminCommand::Webhooks => out(&c.get("/api/v1/admin/webhooks")?, &|v| {
            table(v, &["time", "site", "event", "delivery", "status", "error"], |a| {
                vec![
                    time_of(&a["at"]),
                    s(&a["site"]),
                    s(&a["event"]),
                    s(&a["delivery"]),
                    s(&a["status"]),
                    s(&a["error"]),
                ]
            })
        }),
    }
    Ok(())
}

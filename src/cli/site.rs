//! `stagerepo site ...`: what a grid site sends (site token).

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::{print_json, Client, ClientError};
use super::format::{duration_of, print_problems, s, table, time_of};
use super::ServerArgs;

/// Site options and command.
#[derive(Debug, Args)]
pub struct SiteArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: SiteCommand,
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// A rollout site's verdict on a release: --ok, or --problem "what is wrong".
    Report {
        id: i64,
        #[arg(long, conflicts_with = "problem", required_unless_present = "problem")]
        ok: bool,
        #[arg(long)]
        problem: Option<String>,
        /// Optional comment for an ok report.
        #[arg(long, default_value = "")]
        text: String,
    },
    /// Report a problem with any release (any site).
    Problem { id: i64, text: String },
    /// Send what this host runs (`rpm -qa`) as its deployment report.
    Inventory(super::inventory::SendArgs),
    /// Releases announced to this site that await its report: deadline, install command.
    Pending,
    /// Decline testing a release; the gate stops waiting for this site.
    Decline {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// This site's reports, newest first.
    Reports {
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// The problems this site reported, newest first.
    Problems,
}

/// Runs a site command.
pub fn run(args: SiteArgs) -> Result<(), ClientError> {
    let c = Client::new(&args.server.server, args.server.token.clone());
    match args.command {
        SiteCommand::Report { id, ok, problem, text } => {
            let body = if ok {
                json!({ "result": "ok", "text": text })
            } else {
                json!({ "result": "problem", "text": problem.unwrap_or_default() })
            };
            let v: Value = c.post(&format!("/api/v1/releases/{id}/reports"), &body)?;
            if args.server.json {
                print_json(&v);
            } else {
                let late = if v["late"] == true {
                    " (after the deadline: recorded as late)"
                } else {
                    ""
                };
                let problem = if v["problem"].is_null() {
                    String::new()
                } else {
                    format!("; problem {} opened", s(&v["problem"]))
                };
                println!(
                    "report {} recorded for release {id}: {}{late}{problem}",
                    s(&v["id"]),
                    s(&v["result"])
                );
            }
        }
        SiteCommand::Problem { id, text } => {
            let v: Value = c.post("/api/v1/problems", &json!({ "release": id, "text": text }))?;
            if args.server.json {
                print_json(&v);
            } else {
                println!("problem {} recorded against release {id}", s(&v["id"]));
            }
        }
        SiteCommand::Inventory(send) => super::inventory::send(&c, send, args.server.json)?,
        SiteCommand::Pending => {
            let v: Value = c.get("/api/v1/sites/me/pending")?;
            if args.server.json {
                print_json(&v);
            } else {
                print_pending(&v);
            }
        }
        SiteCommand::Decline { id, reason } => {
            let v: Value = c.post(
                &format!("/api/v1/sites/me/releases/{id}/decline"),
                &json!({ "reason": reason }),
            )?;
            if args.server.json {
                print_json(&v);
            } else {
                println!(
                    "site {} declined release {id}: {}",
                    s(&v["site"]),
                    s(&v["declined_reason"])
                );
            }
        }
        SiteCommand::Reports { limit } => {
            let v: Value = c.get(&format!("/api/v1/sites/me/reports?limit={limit}"))?;
            if args.server.json {
                print_json(&v);
            } else {
                table(&v, &["report", "release", "result", "at", "late", "text"], |r| {
                    vec![
                        s(&r["id"]),
                        s(&r["release"]),
                        s(&r["result"]),
                        time_of(&r["at"]),
                        if r["late"] == true {
                            "late".into()
                        } else {
                            String::new()
                        },
                        s(&r["text"]),
                    ]
                });
            }
        }
        SiteCommand::Problems => {
            let v: Value = c.get("/api/v1/sites/me/problems")?;
            if args.server.json {
                print_json(&v);
            } else {
                print_problems(&v);
            }
        }
    }
    Ok(())
}

fn print_pending(v: &Value) {
    let Some(list) = v.as_array().filter(|a| !a.is_empty()) else {
        println!("nothing awaits this site's report");
        return;
    };
    for p in list {
        let left = if p["seconds_left"].as_i64() == Some(0) {
            "expired".to_string()
        } else {
            format!("{} left", duration_of(&p["seconds_left"]))
        };
        println!(
            "release {}: {} {} ({}), deadline {} ({left})",
            s(&p["release"]),
            s(&p["element"]),
            s(&p["version"]),
            s(&p["dist"]),
            time_of(&p["deadline"])
        );
        println!("  install: {}", s(&p["install"]));
        for r in p["report"].as_array().into_iter().flatten() {
            println!("  report:  {}", s(r));
        }
    }
}

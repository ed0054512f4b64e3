//! `stagerepo site ...`: what a grid site sends (site token).

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::{print_json, Client, ClientError};
use super::format::s;
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
    }
    Ok(())
}

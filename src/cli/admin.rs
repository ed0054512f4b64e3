//! `stagerepo admin ...`: the release manager's commands.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::{print_json, print_table, Client, ClientError};
use super::ServerArgs;

/// Admin options and command.
#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Data directory whose admin.token is read when no token is given.
    #[arg(long, env = "STAGEREPO_DATA_DIR", default_value = "./stagerepo-data")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Product teams and their tokens.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Publish a beta release into production directly.
    Publish {
        #[arg(long)]
        dist: String,
        #[arg(long)]
        release: i64,
    },
}

#[derive(Debug, Subcommand)]
enum TeamCommand {
    /// Create a team and print its token (shown once).
    Add { name: String },
    /// List teams.
    List,
    /// Issue a new token; the old one stops working.
    TokenRotate { name: String },
}

/// Runs an admin command.
pub fn run(args: AdminArgs) -> Result<(), ClientError> {
    let token = match args.server.token.clone() {
        Some(t) => Some(t),
        None => std::fs::read_to_string(args.data_dir.join("admin.token"))
            .ok()
            .map(|t| t.trim().to_string()),
    };
    let client = Client::new(&args.server.server, token);
    let json_out = args.server.json;
    match args.command {
        AdminCommand::Team(TeamCommand::Add { name }) => {
            let v: Value = client.post("/api/v1/admin/teams", &json!({ "name": name }))?;
            print_token(&v, json_out);
        }
        AdminCommand::Team(TeamCommand::TokenRotate { name }) => {
            let v: Value = client.post(
                &format!("/api/v1/admin/teams/{name}/token-rotate"),
                &json!({}),
            )?;
            print_token(&v, json_out);
        }
        AdminCommand::Team(TeamCommand::List) => {
            let v: Vec<Value> = client.get("/api/v1/admin/teams")?;
            if json_out {
                print_json(&v);
            } else {
                print_table(
                    &["name", "created"],
                    v.iter()
                        .map(|t| vec![str_of(&t["name"]), time_of(&t["created_at"])])
                        .collect(),
                );
            }
        }
        AdminCommand::Publish { dist, release } => {
            let v: Value = client.post(
                "/api/v1/admin/publish",
                &json!({ "dist": dist, "release": release }),
            )?;
            if json_out {
                print_json(&v);
            } else {
                println!(
                    "release {} ({} {}) is in {}/production",
                    v["id"],
                    str_of(&v["element"]),
                    str_of(&v["version"]),
                    dist
                );
            }
        }
    }
    Ok(())
}

fn print_token(v: &Value, json_out: bool) {
    if json_out {
        print_json(v);
    } else {
        println!(
            "team:  {}\ntoken: {}\n(store the token now: it is not shown again)",
            str_of(&v["name"]),
            str_of(&v["token"])
        );
    }
}

/// A JSON string field as plain text.
pub fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A Unix time field as an RFC 3339 UTC time.
pub fn time_of(v: &Value) -> String {
    v.as_i64()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

//! Operations commands: `config check`, `restore` (both local) and `admin backup`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;

use super::client::{print_json, Client, ClientError};
use crate::config::Config;
use crate::service::backup::BackupOutcome;

/// `stagerepo config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file: prints "FILE: ok", or the bad key or value and its line.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

/// `stagerepo restore DIR --data-dir NEW`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup directory written by `stagerepo admin backup`.
    dir: PathBuf,
    /// The data directory to create; it must not exist or be empty.
    #[arg(long)]
    data_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `stagerepo copy-database --data-dir DIR --to postgres://...`.
#[derive(Debug, Args)]
pub struct CopyDatabaseArgs {
    /// The data directory whose stagerepo.db is copied (its server stopped).
    #[arg(long, env = "STAGEREPO_DATA_DIR")]
    data_dir: PathBuf,
    /// The PostgreSQL database to fill; it must hold no rows yet.
    #[arg(long, env = "STAGEREPO_DATABASE_URL", hide_env_values = true)]
    to: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `copy-database`.
pub fn run_copy_database(args: CopyDatabaseArgs) -> Result<(), ClientError> {
    let outcome = crate::db::copy::copy_sqlite_to_postgres(&args.data_dir.join("stagerepo.db"), &args.to)
        .map_err(|e| ClientError::Failed(e.to_string()))?;
    if args.json {
        print_json(&outcome);
    } else {
        for (table, rows) in &outcome.tables {
            println!("{table}: {rows}");
        }
        println!(
            "copied {} rows; set database_url and start the server on the same data directory",
            outcome.rows
        );
    }
    Ok(())
}

/// Runs `config check`.
pub fn run_config(command: ConfigCommand) -> Result<(), ClientError> {
    match command {
        ConfigCommand::Check { file } => {
            Config::check_file(&file).map_err(|e| ClientError::Failed(e.to_string()))?;
            println!("{}: ok", file.display());
        }
    }
    Ok(())
}

/// Runs `restore`.
pub fn run_restore(args: RestoreArgs) -> Result<(), ClientError> {
    let outcome =
        crate::service::backup::restore(&args.dir, &args.data_dir).map_err(|e| ClientError::Failed(e.to_string()))?;
    if args.json {
        print_json(&outcome);
    } else {
        println!(
            "restored {} files ({} verified) from {} into {}",
            outcome.files,
            human_bytes(outcome.bytes),
            args.dir.display(),
            outcome.data_dir
        );
    }
    Ok(())
}

/// Runs `admin backup DIR`: the server writes the backup, so a relative DIR is made absolute
/// here, against the current directory.
pub fn backup(client: &Client, dir: &Path, json_out: bool) -> Result<(), ClientError> {
    let dir = std::path::absolute(dir).map_err(|source| ClientError::File {
        path: dir.display().to_string(),
        source,
    })?;
    let outcome: BackupOutcome = client.post("/api/v1/admin/backup", &json!({ "dir": dir }))?;
    if json_out {
        print_json(&outcome);
    } else {
        println!(
            "backup written to {}: {} files, {} packages ({}; {} linked, {} copied); publications paused {} ms, {} ms in all",
            outcome.dir,
            outcome.files,
            outcome.packages,
            human_bytes(outcome.package_bytes),
            outcome.linked,
            outcome.copied,
            outcome.locked_millis,
            outcome.millis
        );
    }
    Ok(())
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else {
        format!("{n} bytes")
    }
}

/// Runs `admin verify`: the report as a table (or JSON); an error (exit 1) when anything is
/// corrupt.
pub fn verify(c: &Client, dist: Option<&str>, json_out: bool) -> Result<(), ClientError> {
    let body = match dist {
        Some(d) => json!({ "dist": d }),
        None => json!({}),
    };
    let v: serde_json::Value = c.post("/api/v1/admin/verify", &body)?;
    let mismatches = v["mismatches"].as_array().cloned().unwrap_or_default();
    if json_out {
        print_json(&v);
    } else {
        println!(
            "checked {} packages and {} repodata files ({}) in {:.1}s",
            v["packages"],
            v["repodata_files"],
            human_bytes(v["bytes"].as_u64().unwrap_or(0)),
            v["seconds"].as_f64().unwrap_or(0.0)
        );
        if mismatches.is_empty() {
            println!("every file is intact");
        } else {
            let text = |m: &serde_json::Value, k: &str| m[k].as_str().unwrap_or("").to_string();
            let rows = mismatches
                .iter()
                .map(|m| {
                    let place = match (text(m, "dist"), text(m, "repo")) {
                        (d, _) if d.is_empty() => "(store)".to_string(),
                        (d, r) => format!("{d}/{r}"),
                    };
                    vec![
                        text(m, "kind"),
                        place,
                        text(m, "what"),
                        text(m, "expected"),
                        text(m, "found"),
                    ]
                })
                .collect();
            super::client::print_table(&["kind", "repository", "file", "expected", "found"], rows);
            let mut repairs: Vec<String> = mismatches.iter().map(|m| text(m, "repair")).collect();
            repairs.sort();
            repairs.dedup();
            println!(
                "\n{} corrupt file(s), refused for download until repaired. To repair:",
                mismatches.len()
            );
            for r in repairs {
                println!("  - {r}");
            }
        }
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(ClientError::Failed(format!("{} corrupt file(s)", mismatches.len())))
    }
}

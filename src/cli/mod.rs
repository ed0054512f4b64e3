//! The command line: `serve`, the admin commands and the team commands. Thin over HTTP.

mod admin;
mod client;
mod format;
mod inventory;
mod ops;
mod site;
mod team;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use client::{Client, ClientError};

/// stagerepo: yum/dnf repositories with a staged rollout from beta to production.
#[derive(Debug, Parser)]
#[command(name = "stagerepo", version = crate::version::LONG_VERSION, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Serve(ServeArgs),
    /// Release-manager commands (admin token).
    Admin(admin::AdminArgs),
    /// Team commands: releases.
    Release(team::ReleaseArgs),
    /// Upload RPMs without releasing them (team token).
    Upload(team::UploadArgs),
    /// Site commands: reports and problems (site token).
    Site(site::SiteArgs),
    /// Configuration files: check one before using it.
    #[command(subcommand)]
    Config(ops::ConfigCommand),
    /// Restore a backup (written by `admin backup`) into a new data directory; run offline.
    Restore(ops::RestoreArgs),
    /// Copy a data directory's SQLite database into an empty PostgreSQL database; run offline.
    CopyDatabase(ops::CopyDatabaseArgs),
}

/// Options of `stagerepo serve`; each overrides the configuration file.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "STAGEREPO_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "STAGEREPO_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory [default: ./stagerepo-data].
    #[arg(long, env = "STAGEREPO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL of the database [default: SQLite in the data directory].
    #[arg(long, env = "STAGEREPO_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Base URL written into .repo files.
    #[arg(long, env = "STAGEREPO_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest accepted upload in bytes.
    #[arg(long, env = "STAGEREPO_MAX_UPLOAD_SIZE")]
    pub max_upload_size: Option<u64>,
}

/// How a client command reaches the server.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// Server URL.
    #[arg(
        long,
        env = "STAGEREPO_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// Bearer token (else STAGEREPO_TOKEN, else <data-dir>/admin.token for admin commands).
    #[arg(long, env = "STAGEREPO_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Runs a client command; the caller prints the error and exits non-zero.
pub fn run_client(command: Command) -> Result<(), ClientError> {
    match command {
        Command::Admin(args) => admin::run(args),
        Command::Release(args) => team::run_release(args),
        Command::Upload(args) => team::run_upload(args),
        Command::Site(args) => site::run(args),
        Command::Config(command) => ops::run_config(command),
        Command::Restore(args) => ops::run_restore(args),
        Command::CopyDatabase(args) => ops::run_copy_database(args),
        Command::Serve(_) => unreachable!("serve is handled by main"),
    }
}

/// Handles `stagerepo --version` / `-V` (with `--server URL` or `STAGEREPO_SERVER` optional):
/// prints this binary's version, then the server's when one answers within two seconds.
/// Returns false when the command line asks for something else.
pub fn print_version_if_asked(args: &[String]) -> bool {
    let asked = args.iter().skip(1).any(|a| a == "--version" || a == "-V")
        && args
            .iter()
            .skip(1)
            .all(|a| a.starts_with('-') || is_flag_value(args, a));
    if !asked {
        return false;
    }
    println!("stagerepo {}", crate::version::LONG_VERSION);
    let server = args
        .windows(2)
        .find(|w| w[0] == "--server")
        .map(|w| w[1].clone())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix("--server=").map(str::to_string))
        })
        .or_else(|| std::env::var("STAGEREPO_SERVER").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    if let Some(v) = server_version(&server) {
        println!("server {server}: stagerepo {v}");
    }
    true
}

/// True when `a` is the value of the `--server` flag before it.
fn is_flag_value(args: &[String], a: &str) -> bool {
    args.windows(2).any(|w| w[0] == "--server" && w[1] == a)
}

/// The server's `version (commit ...)`, or None when it does not answer quickly.
fn server_version(base: &str) -> Option<String> {
    let http = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .connect_timeout(std::time::Duration::from_secs(1))
        .build()
        .ok()?;
    let v: serde_json::Value = http
        .get(format!("{}/api/v1/version", base.trim_end_matches('/')))
        .send()
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .ok()?;
    Some(format!("{} (commit {})", v["version"].as_str()?, v["commit"].as_str()?))
}

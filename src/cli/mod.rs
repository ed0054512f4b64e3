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
        Command::Serve(_) => unreachable!("serve is handled by main"),
    }
}

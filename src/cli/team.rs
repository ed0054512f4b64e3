//! Team commands: `stagerepo upload` and `stagerepo release submit|list|show`.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::client::{print_json, print_table, Client, ClientError};
use super::format::{print_release_detail, s as str_of, time_of};
use super::ServerArgs;

/// `stagerepo upload FILE...`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// RPM files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// `stagerepo release ...`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: ReleaseCommand,
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Upload the files (skipping those already there) and submit them as a release into beta.
    Submit {
        #[arg(long)]
        dist: String,
        #[arg(long)]
        element: String,
        #[arg(long)]
        version: String,
        /// Release notes (the advisory's description).
        #[arg(long, default_value = "")]
        notes: String,
        /// A problem id this release fixes (repeatable); fixing a critical one fast-tracks it.
        #[arg(long = "fixes")]
        fixes: Vec<i64>,
        /// Advisory type.
        #[arg(long = "type", default_value = "enhancement", value_parser = ["bugfix", "enhancement", "security"])]
        advisory_type: String,
        /// Advisory severity.
        #[arg(long, value_parser = ["low", "moderate", "important", "critical"])]
        severity: Option<String>,
        /// A reference of the advisory (repeatable): a CVE id or the URL of a CVE record,
        /// bug or GGUS ticket.
        #[arg(long = "reference")]
        references: Vec<String>,
        /// RPM files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List releases.
    List {
        #[arg(long)]
        dist: Option<String>,
    },
    /// Show one release.
    Show { id: i64 },
}

/// Runs `stagerepo upload`.
pub fn run_upload(args: UploadArgs) -> Result<(), ClientError> {
    let client = Client::new(&args.server.server, args.server.token.clone());
    let mut results = Vec::new();
    for file in &args.files {
        results.push(upload_one(&client, file)?);
    }
    if args.server.json {
        print_json(&results);
    } else {
        print_table(
            &["file", "sha256", "status"],
            results
                .iter()
                .map(|r| vec![str_of(&r["filename"]), str_of(&r["sha256"]), str_of(&r["status"])])
                .collect(),
        );
    }
    Ok(())
}

/// Uploads one file unless the server already has these exact bytes under its name.
fn upload_one(client: &Client, file: &Path) -> Result<Value, ClientError> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| ClientError::Usage(format!("{} has no usable file name", file.display())))?;
    let sha = sha256_file(file)?;
    let mut repair = false;
    if let Some(existing) = client.get_opt::<Value>(&format!("/api/v1/packages/{name}"))? {
        // A stored copy found corrupt is repaired by uploading the same bytes again.
        repair = existing["corrupt"] == true;
        if existing["sha256"] == sha.as_str() && !repair {
            return Ok(json!({ "filename": name, "sha256": sha, "status": "already uploaded" }));
        }
    }
    let (status, mut v): (u16, Value) = client.put_file(&format!("/api/v1/upload/{name}"), file, &sha)?;
    v["status"] = json!(match status {
        201 => "uploaded",
        _ if repair => "re-uploaded: the corrupt stored copy is repaired",
        _ => "already uploaded",
    });
    Ok(v)
}

fn sha256_file(path: &Path) -> Result<String, ClientError> {
    let err = |source| ClientError::File {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Runs `stagerepo release ...`.
pub fn run_release(args: ReleaseArgs) -> Result<(), ClientError> {
    let client = Client::new(&args.server.server, args.server.token.clone());
    let json_out = args.server.json;
    match args.command {
        ReleaseCommand::Submit {
            dist,
            element,
            version,
            notes,
            fixes,
            advisory_type,
            severity,
            references,
            files,
        } => {
            let mut names = Vec::new();
            for file in &files {
                let v = upload_one(&client, file)?;
                if !json_out {
                    eprintln!("{}: {}", str_of(&v["filename"]), str_of(&v["status"]));
                }
                names.push(str_of(&v["filename"]));
            }
            let body = json!({ "dist": dist, "element": element, "version": version, "packages": names, "notes": notes,
                "fixes": fixes, "type": advisory_type, "severity": severity, "references": references });
            let release: Value = client.post("/api/v1/releases", &body)?;
            if json_out {
                print_json(&release);
            } else {
                println!(
                    "release {} created: {} {} in {}/{}",
                    release["id"],
                    str_of(&release["element"]),
                    str_of(&release["version"]),
                    str_of(&release["dist"]),
                    str_of(&release["state"])
                );
                super::format::print_warnings(&release);
                if let Some(a) = release["advisory"].as_str() {
                    println!(
                        "advisory {a}: sites test it with `dnf --enablerepo=stagerepo-{}-beta upgrade --advisory={a}`",
                        str_of(&release["dist"])
                    );
                }
            }
        }
        ReleaseCommand::List { dist } => {
            let path = match &dist {
                Some(d) => format!("/api/v1/releases?dist={d}"),
                None => "/api/v1/releases".to_string(),
            };
            let releases: Value = client.get(&path)?;
            if json_out {
                print_json(&releases);
            } else {
                print_releases(&releases);
            }
        }
        ReleaseCommand::Show { id } => {
            let r: Value = client.get(&format!("/api/v1/releases/{id}"))?;
            if json_out {
                print_json(&r);
            } else {
                print_release_detail(&r);
            }
        }
    }
    Ok(())
}

/// Prints releases as a table.
pub fn print_releases(releases: &Value) {
    print_table(
        &["id", "dist", "element", "version", "state", "team", "created"],
        releases
            .as_array()
            .map(|a| a.iter().map(release_row).collect())
            .unwrap_or_default(),
    );
}

fn release_row(r: &Value) -> Vec<String> {
    vec![
        str_of(&r["id"]),
        str_of(&r["dist"]),
        str_of(&r["element"]),
        str_of(&r["version"]),
        str_of(&r["state"]),
        str_of(&r["team"]),
        time_of(&r["created_at"]),
    ]
}

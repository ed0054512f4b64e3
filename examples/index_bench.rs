//! The library-level equivalent of `createrepo_c --no-database --workers 2 DIR`, for
//! `scripts/bench`: for every RPM under DIR, on N worker threads, the sha256 of the file,
//! [`read_package`] and [`render`]; then one [`RepoWriter::publish`] into `OUT/repodata`.
//!
//! ```text
//! cargo run --release --example index_bench -- DIR [--out REPO_DIR] [--workers 2] [--keep 2]
//!     [--add DIR2 [--add DIR3 ...]]
//! ```
//!
//! Location hrefs are the paths relative to DIR, as createrepo_c writes them; `--out`
//! defaults to DIR. Prints one JSON object: wall-clock seconds of the whole run and of each
//! phase, plus the summed per-thread time of hashing, header reading and rendering.
//!
//! Each `--add DIR2` then indexes DIR2's packages (untimed) and publishes the whole set plus
//! them again through the same writer, timing only that `publish` call: the library's share
//! of publishing one more release into an existing repository (`add_publish_seconds`).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use stagerepo::repodata::{render, PackageXml, RepoWriter};
use stagerepo::rpmhdr::read_package;

/// Every `*.rpm` under `dir` (not following symlinked directories, skipping repodata/),
/// as (full path, path relative to `dir`), sorted by the relative path.
fn find_rpms(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            let is_dir =
                kind.is_dir() || (kind.is_symlink() && std::fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false));
            if is_dir {
                if entry.file_name() != "repodata" && entry.file_name() != ".repodata" {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rpm") {
                let rel = path.strip_prefix(dir)?.to_string_lossy().into_owned();
                found.push((path, rel));
            }
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(found)
}

#[derive(Default)]
struct Times {
    sha256: Duration,
    read_package: Duration,
    render: Duration,
    bytes: u64,
}

/// sha256 of a file, streamed in 1 MiB reads (as createrepo_c does with its checksum).
fn sha256_file(path: &Path, buf: &mut [u8]) -> Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = file.read(buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

fn index_one(path: &Path, href: &str, buf: &mut [u8], t: &mut Times) -> Result<PackageXml> {
    let started = Instant::now();
    let (sha, size) = sha256_file(path, buf)?;
    let hashed = Instant::now();
    // createrepo_c's time_file is the file's mtime.
    let mtime = std::fs::metadata(path)?
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let meta = read_package(path, &sha, mtime).with_context(|| format!("reading {}", path.display()))?;
    let read = Instant::now();
    let xml = render(&meta, href);
    let rendered = Instant::now();
    t.sha256 += hashed - started;
    t.read_package += read - hashed;
    t.render += rendered - read;
    t.bytes += size;
    Ok(xml)
}

fn main() -> Result<()> {
    let mut dir: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut workers = 2usize;
    let mut keep = 2usize;
    let mut adds: Vec<PathBuf> = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(value()?)),
            "--workers" => workers = value()?.parse()?,
            "--keep" => keep = value()?.parse()?,
            "--add" => adds.push(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!("usage: index_bench DIR [--out REPO_DIR] [--workers N] [--keep K] [--add DIR2]...");
                return Ok(());
            }
            a if a.starts_with('-') => bail!("unknown option {a:?}"),
            a => dir = Some(PathBuf::from(a)),
        }
    }
    let dir = dir.context("usage: index_bench DIR [--out REPO_DIR] [--workers N] [--keep K]")?;
    let out = out.unwrap_or_else(|| dir.clone());
    let workers = workers.max(1);

    let started = Instant::now();
    let rpms = find_rpms(&dir)?;
    if rpms.is_empty() {
        bail!("no *.rpm under {}", dir.display());
    }
    let listed = Instant::now();

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<PackageXml>>> = Mutex::new(vec![None; rpms.len()]);
    let totals = Mutex::new(Times::default());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let mut buf = vec![0u8; 1 << 20];
                let mut t = Times::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, href)) = rpms.get(i) else { break };
                    match index_one(path, href, &mut buf, &mut t) {
                        Ok(xml) => results.lock().unwrap()[i] = Some(xml),
                        Err(e) => {
                            failure.lock().unwrap().get_or_insert(e);
                            next.store(rpms.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                }
                let mut all = totals.lock().unwrap();
                all.sha256 += t.sha256;
                all.read_package += t.read_package;
                all.render += t.render;
                all.bytes += t.bytes;
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    let indexed = Instant::now();

    let xmls: Vec<PackageXml> = results.into_inner().unwrap().into_iter().map(Option::unwrap).collect();
    let refs: Vec<&PackageXml> = xmls.iter().collect();
    let now = std::time::SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let writer = RepoWriter::default();
    let published = writer
        .publish(&out, &refs, keep, now)
        .with_context(|| format!("publishing into {}", out.display()))?;
    let done = Instant::now();

    // One more release at a time, through the same (warm) writer.
    let mut all: Vec<(String, PackageXml)> = rpms
        .iter()
        .map(|(_, href)| href.clone())
        .zip(xmls.iter().cloned())
        .collect();
    let mut add_seconds = Vec::new();
    let mut add_blocks = Vec::new();
    for (round, add) in adds.iter().enumerate() {
        let mut scratch = Times::default();
        let mut buf = vec![0u8; 1 << 20];
        for (path, rel) in find_rpms(add)? {
            let href = format!("Packages/{rel}");
            all.push((href.clone(), index_one(&path, &href, &mut buf, &mut scratch)?));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let refs: Vec<&PackageXml> = all.iter().map(|(_, x)| x).collect();
        let started = Instant::now();
        let p = writer.publish(&out, &refs, keep, now + 1 + round as i64)?;
        add_seconds.push(started.elapsed().as_secs_f64());
        add_blocks.push(format!("{}/{}", p.blocks_compressed, p.blocks_total));
    }

    let t = totals.into_inner().unwrap();
    println!(
        "{}",
        serde_json::json!({
            "tool": "index_bench",
            "packages": rpms.len(),
            "bytes": t.bytes,
            "workers": workers,
            "seconds": (done - started).as_secs_f64(),
            "list_seconds": (listed - started).as_secs_f64(),
            "index_seconds": (indexed - listed).as_secs_f64(),
            "publish_seconds": (done - indexed).as_secs_f64(),
            "thread_seconds": {
                "sha256": t.sha256.as_secs_f64(),
                "read_package": t.read_package.as_secs_f64(),
                "render": t.render.as_secs_f64(),
            },
            "repodata_files": published.files,
            "blocks_total": published.blocks_total,
            "blocks_compressed": published.blocks_compressed,
            "add_publish_seconds": add_seconds,
            "add_blocks_compressed": add_blocks,
        })
    );
    Ok(())
}

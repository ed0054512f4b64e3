//! Monitoring: counters and histograms recorded as things happen, plus gauges read from the
//! database at scrape time, rendered in the Prometheus text exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::{App, ServiceResult};
use crate::domain::release::ReleaseState;
use crate::domain::repo::RepoKind;

/// The content type of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Period of the per-site SLA gauges.
pub const SLA_PERIOD_SECONDS: i64 = 90 * 86_400;

const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const BYTE_BUCKETS: &[f64] = &[
    1024.0,
    16384.0,
    131072.0,
    1048576.0,
    8388608.0,
    67108864.0,
    536870912.0,
    4294967296.0,
];

/// A histogram updated without locks: one atomic counter per bucket plus the sum's bits.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Non-cumulative counts; the last one is the overflow (+Inf) bucket.
    buckets: Vec<AtomicU64>,
    sum_bits: AtomicU64,
}

impl Histogram {
    /// An empty histogram with these upper bounds (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// How many observations were recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }
}

/// Counters of one repository's publications.
#[derive(Debug)]
struct PublicationStats {
    seconds: Histogram,
    repodata_bytes: Histogram,
    packages: AtomicU64,
}

/// The requests of one route.
#[derive(Debug)]
struct RouteCounts {
    /// The route as shown (`/a/:id`).
    shown: String,
    /// (method, status, requests); a handful per route.
    counts: Vec<(String, u16, u64)>,
}

/// Everything recorded as it happens; held by [`App`].
#[derive(Debug)]
pub struct Metrics {
    /// Route pattern as matched -> requests by method and status. Keyed by the pattern as
    /// given so that counting a request allocates nothing once its route was seen.
    http: Mutex<BTreeMap<String, RouteCounts>>,
    http_seconds: Histogram,
    upload_bytes: Histogram,
    upload_seconds: Histogram,
    /// (dist, repo) -> publications.
    publications: Mutex<BTreeMap<(String, String), PublicationStats>>,
    /// Whether this replica leads (runs the SLA timer and deliveries), as the workers last found.
    pub leader: std::sync::atomic::AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            http: Mutex::new(BTreeMap::new()),
            http_seconds: Histogram::new(DURATION_BUCKETS),
            upload_bytes: Histogram::new(BYTE_BUCKETS),
            upload_seconds: Histogram::new(DURATION_BUCKETS),
            publications: Mutex::new(BTreeMap::new()),
            leader: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Metrics {
    /// Counts one answered request; `route` is the matched route pattern (`/a/{id}`), not the
    /// path, and is shown as `/a/:id` (braces in label values trip up simple parsers).
    pub fn record_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.http_seconds.observe(elapsed.as_secs_f64());
        let mut map = self.http.lock().unwrap_or_else(|p| p.into_inner());
        let counts = match map.get_mut(route) {
            Some(c) => c,
            None => map.entry(route.to_string()).or_insert_with(|| RouteCounts {
                shown: shown_route(route),
                counts: Vec::new(),
            }),
        };
        match counts.counts.iter_mut().find(|(m, s, _)| *s == status && m == method) {
            Some((_, _, n)) => *n += 1,
            None => counts.counts.push((method.to_string(), status, 1)),
        }
    }

    /// Records one accepted upload.
    pub fn record_upload(&self, bytes: u64, elapsed: Duration) {
        self.upload_bytes.observe(bytes as f64);
        self.upload_seconds.observe(elapsed.as_secs_f64());
    }

    /// Records one publication of `dist/repo`.
    pub fn record_publication(
        &self,
        dist: &str,
        repo: RepoKind,
        packages: usize,
        repodata_bytes: u64,
        elapsed: Duration,
    ) {
        let mut map = self.publications.lock().unwrap_or_else(|p| p.into_inner());
        let stats = map
            .entry((dist.to_string(), repo.as_str().to_string()))
            .or_insert_with(|| PublicationStats {
                seconds: Histogram::new(DURATION_BUCKETS),
                repodata_bytes: Histogram::new(BYTE_BUCKETS),
                packages: AtomicU64::new(0),
            });
        stats.seconds.observe(elapsed.as_secs_f64());
        stats.repodata_bytes.observe(repodata_bytes as f64);
        stats.packages.store(packages as u64, Ordering::Relaxed);
    }
}

/// Builds exposition text: one HELP/TYPE header per metric family, then its samples.
struct Exposition(String);

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            let _ = write!(self.0, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.0, " {}", number(value));
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let mut cumulative = 0u64;
        for (i, b) in h.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let le = h.bounds.get(i).map_or("+Inf".to_string(), |v| number(*v));
            let mut l = labels.to_vec();
            l.push(("le", &le));
            self.sample(&format!("{name}_bucket"), &l, cumulative as f64);
        }
        self.sample(
            &format!("{name}_sum"),
            labels,
            f64::from_bits(h.sum_bits.load(Ordering::Relaxed)),
        );
        self.sample(&format!("{name}_count"), labels, cumulative as f64);
    }
}

impl App {
    /// Renders every metric in the Prometheus text format.
    pub fn metrics_text(&self) -> ServiceResult<String> {
        let m = &self.metrics;
        let mut out = Exposition(String::new());
        let v = crate::version::info();
        out.family(
            "stagerepo_build_info",
            "gauge",
            "Version and git commit of the running server.",
        );
        out.sample(
            "stagerepo_build_info",
            &[("version", v.version), ("commit", v.commit)],
            1.0,
        );

        out.family(
            "stagerepo_leader",
            "gauge",
            "1 on the replica that runs the SLA timer and deliveries (holds the leader lock), else 0.",
        );
        out.sample(
            "stagerepo_leader",
            &[],
            if m.leader.load(Ordering::Relaxed) { 1.0 } else { 0.0 },
        );

        out.family("stagerepo_releases", "gauge", "Releases by state.");
        let counts: BTreeMap<String, i64> = self.db.release_state_counts()?.into_iter().collect();
        for st in ReleaseState::ALL {
            let n = counts.get(st.as_str()).copied().unwrap_or(0);
            out.sample("stagerepo_releases", &[("state", st.as_str())], n as f64);
        }

        out.family(
            "stagerepo_problems",
            "gauge",
            "Problems by criticality (untriaged until triaged) and state.",
        );
        let mut problems: BTreeMap<(String, &str), i64> = BTreeMap::new();
        for c in ["critical", "major", "minor", "untriaged"] {
            for s in ["open", "closed"] {
                problems.insert((c.to_string(), s), 0);
            }
        }
        for (crit, open, n) in self.db.problem_counts()? {
            let key = (
                crit.unwrap_or_else(|| "untriaged".into()),
                if open { "open" } else { "closed" },
            );
            *problems.entry(key).or_insert(0) += n;
        }
        for ((c, s), n) in &problems {
            out.sample("stagerepo_problems", &[("criticality", c), ("state", s)], *n as f64);
        }

        let sla = self.sla(SLA_PERIOD_SECONDS, None)?;
        out.family(
            "stagerepo_site_sla_compliance_ratio",
            "gauge",
            "Share of releases a rollout site reported on by the deadline (last 90 days; sites with nothing due are left out).",
        );
        for s in &sla.sites {
            if let Some(c) = s.compliance {
                out.sample("stagerepo_site_sla_compliance_ratio", &[("site", &s.site)], c);
            }
        }
        out.family(
            "stagerepo_site_sla_met",
            "gauge",
            "1 when a rollout site reported on every due release in time (last 90 days).",
        );
        for s in &sla.sites {
            out.sample(
                "stagerepo_site_sla_met",
                &[("site", &s.site)],
                f64::from(u8::from(s.meets_sla)),
            );
        }
        out.family(
            "stagerepo_site_sla_assignments",
            "gauge",
            "Releases announced to a rollout site by outcome (last 90 days).",
        );
        for s in &sla.sites {
            for (outcome, n) in [
                ("on_time", s.on_time),
                ("late", s.late),
                ("missed", s.missed),
                ("pending", s.pending),
                ("cancelled", s.cancelled),
            ] {
                out.sample(
                    "stagerepo_site_sla_assignments",
                    &[("site", &s.site), ("outcome", outcome)],
                    n as f64,
                );
            }
        }
        out.family(
            "stagerepo_site_deployment_ratio",
            "gauge",
            "Share of due releases a host of the site ran by the deadline, from the inventory (last 90 days).",
        );
        for s in &sla.sites {
            if let Some(r) = s.deployment_rate {
                out.sample("stagerepo_site_deployment_ratio", &[("site", &s.site)], r);
            }
        }

        out.family(
            "stagerepo_hosts_reporting",
            "gauge",
            "Hosts with a deployment report, by site.",
        );
        let mut hosts: BTreeMap<String, u64> = BTreeMap::new();
        for r in self.db.current_deployments()? {
            *hosts.entry(r.site).or_insert(0) += 1;
        }
        for (site, n) in &hosts {
            out.sample("stagerepo_hosts_reporting", &[("site", site)], *n as f64);
        }

        out.family(
            "stagerepo_production_revision",
            "gauge",
            "Current revision of each distribution's production repository.",
        );
        for dist in self.config.dist.keys() {
            let n = self
                .db
                .latest_revision(dist, RepoKind::Production)?
                .map_or(0, |r| r.number);
            out.sample("stagerepo_production_revision", &[("dist", dist)], n as f64);
        }

        out.family("stagerepo_upload_size_bytes", "histogram", "Sizes of accepted uploads.");
        out.histogram("stagerepo_upload_size_bytes", &[], &m.upload_bytes);
        out.family(
            "stagerepo_upload_duration_seconds",
            "histogram",
            "Time to receive and store an upload.",
        );
        out.histogram("stagerepo_upload_duration_seconds", &[], &m.upload_seconds);

        {
            let pubs = m.publications.lock().unwrap_or_else(|p| p.into_inner());
            out.family(
                "stagerepo_publication_duration_seconds",
                "histogram",
                "Time to publish a repository (count: publications).",
            );
            for ((dist, repo), s) in pubs.iter() {
                out.histogram(
                    "stagerepo_publication_duration_seconds",
                    &[("dist", dist), ("repo", repo)],
                    &s.seconds,
                );
            }
            out.family(
                "stagerepo_publication_repodata_bytes",
                "histogram",
                "Bytes of repodata a publication serves.",
            );
            for ((dist, repo), s) in pubs.iter() {
                out.histogram(
                    "stagerepo_publication_repodata_bytes",
                    &[("dist", dist), ("repo", repo)],
                    &s.repodata_bytes,
                );
            }
            out.family(
                "stagerepo_publication_packages",
                "gauge",
                "Packages in the latest publication of a repository.",
            );
            for ((dist, repo), s) in pubs.iter() {
                let n = s.packages.load(Ordering::Relaxed);
                out.sample(
                    "stagerepo_publication_packages",
                    &[("dist", dist), ("repo", repo)],
                    n as f64,
                );
            }
        }

        let integrity = &self.integrity;
        out.family(
            "stagerepo_scrub_last_run_timestamp_seconds",
            "gauge",
            "When the last background scrub (scrub_interval) finished; 0 before the first.",
        );
        let last = integrity.scrub_last_run.load(Ordering::Relaxed);
        out.sample("stagerepo_scrub_last_run_timestamp_seconds", &[], last as f64);
        out.family("stagerepo_scrub_runs_total", "counter", "Background scrubs finished.");
        let runs = integrity.scrub_runs.load(Ordering::Relaxed);
        out.sample("stagerepo_scrub_runs_total", &[], runs as f64);
        out.family(
            "stagerepo_scrub_corrupt_files",
            "gauge",
            "Files the last check (scrub or admin verify) found corrupt and not repaired since; refused for download.",
        );
        let corrupt = integrity.corrupt_count();
        out.sample("stagerepo_scrub_corrupt_files", &[], corrupt as f64);

        out.family(
            "stagerepo_http_requests_total",
            "counter",
            "HTTP requests by route, method and status.",
        );
        {
            let http = m.http.lock().unwrap_or_else(|p| p.into_inner());
            let mut rows: Vec<(&str, &str, u16, u64)> = http
                .values()
                .flat_map(|r| r.counts.iter().map(|(m, s, n)| (r.shown.as_str(), m.as_str(), *s, *n)))
                .collect();
            rows.sort();
            for (route, method, status, n) in rows {
                out.sample(
                    "stagerepo_http_requests_total",
                    &[("route", route), ("method", method), ("status", &status.to_string())],
                    n as f64,
                );
            }
        }
        out.family(
            "stagerepo_http_request_duration_seconds",
            "histogram",
            "Time to answer HTTP requests.",
        );
        out.histogram("stagerepo_http_request_duration_seconds", &[], &m.http_seconds);
        Ok(out.0)
    }
}

/// A route pattern as a label value: `/a/{id}` as `/a/:id`, `/repo/{*path}` as `/repo/*path`
/// (braces in label values trip up simple parsers).
fn shown_route(route: &str) -> String {
    let route: String = route
        .chars()
        .filter_map(|c| match c {
            '{' => Some(':'),
            '}' => None,
            c => Some(c),
        })
        .collect();
    route.replace(":*", "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_count_everything() {
        let h = Histogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.5, 1.5, 9.0] {
            h.observe(v);
        }
        let mut e = Exposition(String::new());
        e.histogram("x", &[("a", "q\"")], &h);
        assert_eq!(
            e.0,
            "x_bucket{a=\"q\\\"\",le=\"1\"} 1\nx_bucket{a=\"q\\\"\",le=\"2\"} 3\nx_bucket{a=\"q\\\"\",le=\"+Inf\"} 4\n\
             x_sum{a=\"q\\\"\"} 12.5\nx_count{a=\"q\\\"\"} 4\n"
        );
        assert_eq!(h.count(), 4);
    }
}

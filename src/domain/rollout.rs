//! The gate: whether a release in rollout may be promoted, and when to look again.
//!
//! Pure: everything it needs is passed in, including `now`, so it is tested without waiting.

use serde::Serialize;

use super::problem::Problem;

/// A rollout site of an element, with its SLA period.
#[derive(Debug, Clone, Serialize)]
pub struct Assignment {
    pub site: String,
    pub sla_seconds: i64,
}

/// A rollout site's verdict on a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportResult {
    Ok,
    Problem,
}

/// A report as the gate needs it.
#[derive(Debug, Clone, Serialize)]
pub struct SiteReport {
    pub site: String,
    pub result: ReportResult,
    pub at: i64,
}

/// Everything the gate looks at.
#[derive(Debug, Clone)]
pub struct GateInput<'a> {
    pub announced_at: i64,
    pub assignments: &'a [Assignment],
    pub reports: &'a [SiteReport],
    pub problems: &'a [Problem],
    /// Reasons the consistency checks fail; empty when they pass.
    pub consistency_failures: &'a [String],
    /// When set, this SLA replaces every site's (a critical problem's fix on the fast track).
    pub fast_track_seconds: Option<i64>,
    /// Why the release is on the fast track.
    pub fast_track_reason: Option<String>,
}

/// One rollout site's standing.
#[derive(Debug, Clone, Serialize)]
pub struct SiteStatus {
    pub site: String,
    pub sla_seconds: i64,
    pub deadline: i64,
    /// Seconds until the deadline; 0 once passed.
    pub seconds_left: i64,
    /// The site's latest report, if any.
    pub report: Option<ReportResult>,
    /// Whether the site no longer holds the release back.
    pub satisfied: bool,
}

/// One condition of the gate.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    pub name: &'static str,
    pub passed: bool,
    /// Why it fails (or what made it pass).
    pub detail: String,
}

/// The gate's verdict at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    pub open: bool,
    pub conditions: Vec<Condition>,
    pub sites: Vec<SiteStatus>,
    /// The next moment the verdict can change by itself (a deadline still ahead).
    pub next_deadline: Option<i64>,
    pub fast_track: bool,
    /// Why the release is on the fast track, when it is.
    pub fast_track_reason: Option<String>,
}

/// Evaluates the gate at `now`.
pub fn evaluate(input: &GateInput<'_>, now: i64) -> Gate {
    let mut sites = Vec::new();
    for a in input.assignments {
        let sla = input.fast_track_seconds.map_or(a.sla_seconds, |f| f.min(a.sla_seconds));
        // Saturating: an overflowing period must give a far deadline, never one that wrapped
        // into the past and so counts the site as satisfied.
        let deadline = input.announced_at.saturating_add(sla);
        let report = input
            .reports
            .iter()
            .filter(|r| r.site == a.site)
            .max_by_key(|r| r.at)
            .map(|r| r.result);
        let satisfied = report == Some(ReportResult::Ok) || now >= deadline;
        sites.push(SiteStatus {
            site: a.site.clone(),
            sla_seconds: sla,
            deadline,
            seconds_left: deadline.saturating_sub(now).max(0),
            report,
            satisfied,
        });
    }
    let waiting: Vec<String> = sites
        .iter()
        .filter(|s| !s.satisfied)
        .map(|s| format!("{} ({}s left)", s.site, s.seconds_left))
        .collect();
    let sites_condition = Condition {
        name: "rollout sites",
        passed: waiting.is_empty(),
        detail: if waiting.is_empty() {
            "every rollout site reported ok or its SLA period ran out".into()
        } else {
            format!("waiting for {}", waiting.join(", "))
        },
    };

    let blocking: Vec<String> = input
        .problems
        .iter()
        .filter_map(|p| p.blocks().map(|why| format!("problem {} is {why}", p.id)))
        .collect();
    let problems_condition = Condition {
        name: "problems",
        passed: blocking.is_empty(),
        detail: if blocking.is_empty() {
            "no untriaged or open critical problem".into()
        } else {
            blocking.join("; ")
        },
    };

    let consistency_condition = Condition {
        name: "consistency",
        passed: input.consistency_failures.is_empty(),
        detail: if input.consistency_failures.is_empty() {
            "production plus this release is consistent".into()
        } else {
            input.consistency_failures.join("; ")
        },
    };

    let next_deadline = sites.iter().filter(|s| !s.satisfied).map(|s| s.deadline).min();
    let conditions = vec![sites_condition, problems_condition, consistency_condition];
    Gate {
        open: conditions.iter().all(|c| c.passed),
        conditions,
        sites,
        next_deadline,
        fast_track: input.fast_track_seconds.is_some(),
        fast_track_reason: input.fast_track_reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::problem::Criticality;

    fn problem(id: i64, criticality: Option<Criticality>, open: bool) -> Problem {
        Problem {
            id,
            release: 1,
            site: "S".into(),
            text: "t".into(),
            created_at: 0,
            criticality,
            priority: None,
            open,
            closed_reason: None,
        }
    }

    fn two_sites() -> Vec<Assignment> {
        vec![
            Assignment {
                site: "A".into(),
                sla_seconds: 2,
            },
            Assignment {
                site: "B".into(),
                sla_seconds: 4,
            },
        ]
    }

    #[test]
    fn opens_after_ok_and_the_last_deadline() {
        let a = two_sites();
        let reports = vec![SiteReport {
            site: "A".into(),
            result: ReportResult::Ok,
            at: 101,
        }];
        let input = GateInput {
            announced_at: 100,
            assignments: &a,
            reports: &reports,
            problems: &[],
            consistency_failures: &[],
            fast_track_seconds: None,
            fast_track_reason: None,
        };
        let g = evaluate(&input, 102);
        assert!(!g.open);
        assert_eq!(g.next_deadline, Some(104));
        assert!(
            g.conditions[0].detail.contains("B (2s left)"),
            "{}",
            g.conditions[0].detail
        );
        assert!(evaluate(&input, 104).open);
    }

    #[test]
    fn a_problem_report_does_not_satisfy_before_the_deadline() {
        let a = two_sites();
        let reports = vec![SiteReport {
            site: "A".into(),
            result: ReportResult::Problem,
            at: 101,
        }];
        let input = GateInput {
            announced_at: 100,
            assignments: &a,
            reports: &reports,
            problems: &[],
            consistency_failures: &[],
            fast_track_seconds: None,
            fast_track_reason: None,
        };
        assert!(!evaluate(&input, 101).sites[0].satisfied);
    }

    #[test]
    fn untriaged_and_critical_problems_block_minor_does_not() {
        let a = two_sites();
        for (p, open) in [
            (problem(1, None, true), false),
            (problem(1, Some(Criticality::Critical), true), false),
            (problem(1, Some(Criticality::Minor), true), true),
            (problem(1, Some(Criticality::Critical), false), true),
        ] {
            let problems = [p];
            let input = GateInput {
                announced_at: 0,
                assignments: &a,
                reports: &[],
                problems: &problems,
                consistency_failures: &[],
                fast_track_seconds: None,
                fast_track_reason: None,
            };
            assert_eq!(evaluate(&input, 1000).open, open, "{:?}", problems[0]);
        }
    }

    #[test]
    fn an_overflowing_sla_never_satisfies_a_site() {
        let a = vec![Assignment {
            site: "A".into(),
            sla_seconds: i64::MAX,
        }];
        let input = GateInput {
            announced_at: 1_764_000_000,
            assignments: &a,
            reports: &[],
            problems: &[],
            consistency_failures: &[],
            fast_track_seconds: None,
            fast_track_reason: None,
        };
        let g = evaluate(&input, 1_764_000_001);
        assert!(!g.sites[0].satisfied);
        assert!(!g.open);
        assert_eq!(g.sites[0].deadline, i64::MAX);
    }

    #[test]
    fn consistency_failures_keep_it_closed_and_fast_track_shortens() {
        let a = vec![Assignment {
            site: "A".into(),
            sla_seconds: 5 * 86400,
        }];
        let failures = vec!["foo 1.0 is older than production's 2.0".to_string()];
        let input = GateInput {
            announced_at: 0,
            assignments: &a,
            reports: &[],
            problems: &[],
            consistency_failures: &failures,
            fast_track_seconds: Some(86400),
            fast_track_reason: Some("fixes critical problem 7".into()),
        };
        let g = evaluate(&input, 86400);
        assert!(g.sites[0].satisfied, "fast track: one day instead of five");
        assert!(!g.open);
        assert!(g.fast_track);
        assert!(g.conditions[2].detail.contains("older"));
    }
}

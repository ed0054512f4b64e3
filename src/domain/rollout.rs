//! The gate: whether a release in rollout may be promoted, and when to look again.
//!
//! Pure: everything it needs is passed in, including `now`, so it is tested without waiting.

use serde::Serialize;

use super::problem::Problem;

/// A rollout site of a release, with its SLA period and what it did about the release.
#[derive(Debug, Clone, Serialize)]
pub struct Assignment {
    pub site: String,
    pub sla_seconds: i64,
    /// Added before the SLA clock starts (the site cannot see the release before its
    /// metadata expires).
    pub grace_seconds: i64,
    /// The first time a host of the site was seen running the release (exact NEVRAs).
    pub deployed: Option<Deployment>,
    /// Why the site declined the assignment, when it did.
    pub declined: Option<String>,
}

/// The first host of a site seen running a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    pub host: String,
    pub at: i64,
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
    /// Sites that must show evidence (deployed before the deadline, or reported `ok`).
    pub min_deployed_sites: u32,
}

/// Where one rollout site stands on a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteState {
    /// Announced to the site; nothing seen yet.
    Assigned,
    /// A host of the site runs the release; no report yet.
    Deployed,
    ReportedOk,
    ReportedProblem,
    /// The SLA period ran out with neither a deployment nor a report.
    Expired,
    /// The site said it will not test this release.
    Declined,
}

impl SiteState {
    /// The state as written in the CLI and the dashboard.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteState::Assigned => "assigned",
            SiteState::Deployed => "deployed",
            SiteState::ReportedOk => "reported ok",
            SiteState::ReportedProblem => "reported problem",
            SiteState::Expired => "expired without evidence",
            SiteState::Declined => "declined",
        }
    }
}

/// One rollout site's standing.
#[derive(Debug, Clone, Serialize)]
pub struct SiteStatus {
    pub site: String,
    pub sla_seconds: i64,
    pub grace_seconds: i64,
    pub deadline: i64,
    /// Seconds until the deadline; 0 once passed.
    pub seconds_left: i64,
    /// The site's latest report, if any.
    pub report: Option<ReportResult>,
    pub state: SiteState,
    /// The first host seen running the release, and when.
    pub deployed: Option<Deployment>,
    pub declined_reason: Option<String>,
    /// Whether the site counts as evidence: an `ok` report, or deployed by its deadline.
    pub evidence: bool,
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
    pub min_deployed_sites: u32,
}

/// The name of the gate's evidence condition.
pub const EVIDENCE: &str = "deployment evidence";

fn site_status(input: &GateInput<'_>, a: &Assignment, now: i64) -> SiteStatus {
    let sla = input.fast_track_seconds.map_or(a.sla_seconds, |f| f.min(a.sla_seconds));
    // Saturating: an overflowing period must give a far deadline, never one that wrapped
    // into the past and so counts the site as satisfied.
    let deadline = input.announced_at.saturating_add(a.grace_seconds).saturating_add(sla);
    let report = input
        .reports
        .iter()
        .filter(|r| r.site == a.site)
        .max_by_key(|r| r.at)
        .map(|r| r.result);
    let declined = a.declined.is_some();
    let deployed_in_time = a.deployed.as_ref().is_some_and(|d| d.at <= deadline);
    let evidence = !declined && (report == Some(ReportResult::Ok) || deployed_in_time);
    let state = if declined {
        SiteState::Declined
    } else {
        match report {
            Some(ReportResult::Ok) => SiteState::ReportedOk,
            Some(ReportResult::Problem) => SiteState::ReportedProblem,
            None if deployed_in_time => SiteState::Deployed,
            None if now >= deadline => SiteState::Expired,
            None => SiteState::Assigned,
        }
    };
    SiteStatus {
        site: a.site.clone(),
        sla_seconds: sla,
        grace_seconds: a.grace_seconds,
        deadline,
        seconds_left: deadline.saturating_sub(now).max(0),
        report,
        state,
        deployed: a.deployed.clone(),
        declined_reason: a.declined.clone(),
        evidence,
        satisfied: declined || report == Some(ReportResult::Ok) || now >= deadline,
    }
}

fn evidence_condition(sites: &[SiteStatus], required: u32) -> Condition {
    let required = required as usize;
    let with = sites.iter().filter(|s| s.evidence).count();
    let declined = sites.iter().filter(|s| s.state == SiteState::Declined).count();
    let remaining = sites.len() - declined;
    let still_open = sites.iter().filter(|s| !s.satisfied).count();
    let passed = with >= required;
    let detail = if passed {
        format!("{with} of the {required} required sites deployed it in time or reported ok")
    } else if remaining < required {
        format!(
            "waiting for deployment evidence: {with} of {required} required sites so far, and only {remaining} site(s) remain ({declined} declined); promote with --force --reason"
        )
    } else if still_open > 0 {
        format!("waiting for deployment evidence: {with} of {required} required sites so far")
    } else {
        format!(
            "waiting for deployment evidence: {with} of {required} required sites deployed it before their deadline or reported ok; an `ok` report still counts, or promote with --force --reason"
        )
    };
    Condition {
        name: EVIDENCE,
        passed,
        detail,
    }
}

/// Evaluates the gate at `now`.
pub fn evaluate(input: &GateInput<'_>, now: i64) -> Gate {
    let sites: Vec<SiteStatus> = input.assignments.iter().map(|a| site_status(input, a, now)).collect();
    let waiting: Vec<String> = sites
        .iter()
        .filter(|s| !s.satisfied)
        .map(|s| format!("{} ({}s left)", s.site, s.seconds_left))
        .collect();
    let sites_condition = Condition {
        name: "rollout sites",
        passed: waiting.is_empty(),
        detail: if waiting.is_empty() {
            "every rollout site reported ok, declined, or its SLA period ran out".into()
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
    let conditions = vec![
        sites_condition,
        evidence_condition(&sites, input.min_deployed_sites),
        problems_condition,
        consistency_condition,
    ];
    Gate {
        open: conditions.iter().all(|c| c.passed),
        conditions,
        sites,
        next_deadline,
        fast_track: input.fast_track_seconds.is_some(),
        fast_track_reason: input.fast_track_reason.clone(),
        min_deployed_sites: input.min_deployed_sites,
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
                grace_seconds: 0,
                deployed: None,
                declined: None,
            },
            Assignment {
                site: "B".into(),
                sla_seconds: 4,
                grace_seconds: 0,
                deployed: None,
                declined: None,
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
            min_deployed_sites: 0,
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
            min_deployed_sites: 0,
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
                min_deployed_sites: 0,
            };
            assert_eq!(evaluate(&input, 1000).open, open, "{:?}", problems[0]);
        }
    }

    #[test]
    fn an_overflowing_sla_never_satisfies_a_site() {
        let a = vec![Assignment {
            site: "A".into(),
            sla_seconds: i64::MAX,
            grace_seconds: 0,
            deployed: None,
            declined: None,
        }];
        let input = GateInput {
            announced_at: 1_764_000_000,
            assignments: &a,
            reports: &[],
            problems: &[],
            consistency_failures: &[],
            fast_track_seconds: None,
            fast_track_reason: None,
            min_deployed_sites: 0,
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
            grace_seconds: 0,
            deployed: None,
            declined: None,
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
            min_deployed_sites: 0,
        };
        let g = evaluate(&input, 86400);
        assert!(g.sites[0].satisfied, "fast track: one day instead of five");
        assert!(!g.open);
        assert!(g.fast_track);
        assert!(g.conditions[3].detail.contains("older"));
    }

    fn input<'a>(a: &'a [Assignment], reports: &'a [SiteReport], min: u32) -> GateInput<'a> {
        GateInput {
            announced_at: 100,
            assignments: a,
            reports,
            problems: &[],
            consistency_failures: &[],
            fast_track_seconds: None,
            fast_track_reason: None,
            min_deployed_sites: min,
        }
    }

    #[test]
    fn silence_without_deployment_is_not_evidence() {
        let a = two_sites();
        let g = evaluate(&input(&a, &[], 1), 1000);
        assert!(!g.open);
        assert!(g.conditions[0].passed, "no site is waited for any more");
        assert_eq!(g.conditions[1].name, EVIDENCE);
        assert!(
            g.conditions[1].detail.starts_with("waiting for deployment evidence"),
            "{}",
            g.conditions[1].detail
        );
        assert!(g.sites.iter().all(|s| s.state == SiteState::Expired));
        assert_eq!(g.next_deadline, None);
    }

    #[test]
    fn a_deployment_before_the_deadline_is_evidence_one_after_is_not() {
        let mut a = two_sites();
        a[0].deployed = Some(Deployment {
            host: "wn1".into(),
            at: 103,
        });
        let g = evaluate(&input(&a, &[], 1), 1000);
        assert!(!g.open, "A deployed after its deadline (102)");
        assert_eq!(g.sites[0].state, SiteState::Expired);
        a[1].deployed = Some(Deployment {
            host: "wn2".into(),
            at: 104,
        });
        let before = evaluate(&input(&a, &[], 1), 103);
        assert_eq!(before.sites[1].state, SiteState::Deployed);
        assert!(
            !before.open,
            "B is still within its SLA period and may report a problem"
        );
        assert!(evaluate(&input(&a, &[], 1), 104).open);
    }

    #[test]
    fn a_late_ok_report_counts_and_min_zero_keeps_silence() {
        let a = two_sites();
        let late_ok = [SiteReport {
            site: "B".into(),
            result: ReportResult::Ok,
            at: 900,
        }];
        assert!(evaluate(&input(&a, &late_ok, 1), 1000).open);
        assert!(!evaluate(&input(&a, &late_ok, 2), 1000).open);
        assert!(evaluate(&input(&a, &[], 0), 104).open);
    }

    #[test]
    fn a_declined_site_is_not_waited_for_and_is_not_evidence() {
        let mut a = two_sites();
        a[1].declined = Some("no test bed this month".into());
        let ok = [SiteReport {
            site: "A".into(),
            result: ReportResult::Ok,
            at: 101,
        }];
        let g = evaluate(&input(&a, &ok, 1), 101);
        assert!(g.open, "{:?}", g.conditions);
        assert_eq!(g.sites[1].state, SiteState::Declined);
        let g = evaluate(&input(&a, &ok, 2), 101);
        assert!(!g.open);
        assert!(
            g.conditions[1].detail.contains("only 1 site(s) remain (1 declined)"),
            "{}",
            g.conditions[1].detail
        );
    }

    #[test]
    fn the_grace_moves_the_deadline() {
        let mut a = two_sites();
        a[0].grace_seconds = 10;
        let g = evaluate(&input(&a, &[], 0), 100);
        assert_eq!(g.sites[0].deadline, 112);
        assert_eq!(g.next_deadline, Some(104));
        assert!(!evaluate(&input(&a, &[], 0), 111).open);
        assert!(evaluate(&input(&a, &[], 0), 112).open);
    }
}

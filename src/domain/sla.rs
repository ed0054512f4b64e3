//! SLA metrics of rollout sites: did each site report (and deploy) a release before its deadline.
//!
//! Pure: `now` and every time are passed in.

use serde::Serialize;

/// One release announced to one rollout site, with what the site did.
#[derive(Debug, Clone)]
pub struct SlaAssignment {
    pub release: i64,
    pub announced_at: i64,
    pub sla_seconds: i64,
    /// Added before the SLA clock starts.
    pub grace_seconds: i64,
    /// When the site declined the assignment, if it did.
    pub declined_at: Option<i64>,
    /// When the release left `rollout` (promoted, rejected, superseded), if it did.
    pub left_rollout_at: Option<i64>,
    /// The site's first report on the release, whatever its result.
    pub first_report_at: Option<i64>,
    /// The first time a host of the site was seen running the release (from the inventory).
    pub first_deployed_at: Option<i64>,
}

impl SlaAssignment {
    /// Announcement plus the grace plus the SLA period; saturating, so a huge period is a far
    /// deadline, never a wrapped one in the past.
    pub fn deadline(&self) -> i64 {
        self.announced_at
            .saturating_add(self.grace_seconds)
            .saturating_add(self.sla_seconds)
    }
}

/// How one assignment went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// First report at or before the deadline.
    OnTime,
    /// First report after the deadline.
    Late,
    /// Deadline passed without any report.
    Missed,
    /// No report yet, deadline still ahead.
    Pending,
    /// The release left rollout (forced promotion, rejection) before the deadline and before
    /// the site reported: the site had no full period, so it is not counted.
    Cancelled,
    /// The site declined the assignment before reporting.
    Declined,
}

/// The outcome of an assignment at `now`.
pub fn outcome(a: &SlaAssignment, now: i64) -> Outcome {
    let deadline = a.deadline();
    match a.first_report_at {
        Some(t) if t <= deadline => return Outcome::OnTime,
        _ => {}
    }
    if a.declined_at.is_some() {
        return Outcome::Declined;
    }
    if a.left_rollout_at.is_some_and(|t| t < deadline) {
        return Outcome::Cancelled;
    }
    match a.first_report_at {
        Some(_) => Outcome::Late,
        None if now < deadline => Outcome::Pending,
        None => Outcome::Missed,
    }
}

/// A rollout site's SLA record over a period.
#[derive(Debug, Clone, Serialize)]
pub struct SiteSla {
    pub site: String,
    /// Releases announced to the site in the period.
    pub assigned: usize,
    pub on_time: usize,
    pub late: usize,
    pub missed: usize,
    pub pending: usize,
    pub cancelled: usize,
    /// Assignments the site declined.
    pub declined: usize,
    /// Missed assignments where no host of the site ran the release by the deadline either:
    /// no evidence at all.
    pub expired_without_evidence: usize,
    /// Median seconds from announcement to the first report (reports on time and late).
    pub median_report_seconds: Option<i64>,
    /// 90th percentile of the same.
    pub p90_report_seconds: Option<i64>,
    /// on_time / (on_time + late + missed); None when nothing was due.
    pub compliance: Option<f64>,
    /// Assignments where a host of the site ran the release by the deadline.
    pub deployed_on_time: usize,
    /// Assignments whose deadline passed or that were deployed (the base of the rate).
    pub deployment_due: usize,
    /// deployed_on_time / deployment_due; None when nothing was due.
    pub deployment_rate: Option<f64>,
    /// False when the site reported late or not at all on any release of the period.
    pub meets_sla: bool,
}

/// The value at percentile `p` (0-100) of sorted values, nearest-rank method.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Sums up a site's assignments at `now`.
pub fn summarize(site: &str, assignments: &[SlaAssignment], now: i64) -> SiteSla {
    let mut s = SiteSla {
        site: site.to_string(),
        assigned: assignments.len(),
        on_time: 0,
        late: 0,
        missed: 0,
        pending: 0,
        cancelled: 0,
        declined: 0,
        expired_without_evidence: 0,
        median_report_seconds: None,
        p90_report_seconds: None,
        compliance: None,
        deployed_on_time: 0,
        deployment_due: 0,
        deployment_rate: None,
        meets_sla: true,
    };
    let mut durations = Vec::new();
    for a in assignments {
        let o = outcome(a, now);
        match o {
            Outcome::OnTime => s.on_time += 1,
            Outcome::Late => s.late += 1,
            Outcome::Missed => s.missed += 1,
            Outcome::Pending => s.pending += 1,
            Outcome::Cancelled => s.cancelled += 1,
            Outcome::Declined => s.declined += 1,
        }
        if o == Outcome::Missed && !a.first_deployed_at.is_some_and(|t| t <= a.deadline()) {
            s.expired_without_evidence += 1;
        }
        if matches!(o, Outcome::OnTime | Outcome::Late) {
            if let Some(t) = a.first_report_at {
                durations.push(t.saturating_sub(a.announced_at).max(0));
            }
        }
        if !matches!(o, Outcome::Cancelled | Outcome::Declined) {
            let deployed = a.first_deployed_at.is_some_and(|t| t <= a.deadline());
            if deployed {
                s.deployed_on_time += 1;
            }
            if deployed || now >= a.deadline() {
                s.deployment_due += 1;
            }
        }
    }
    durations.sort_unstable();
    s.median_report_seconds = percentile(&durations, 50.0);
    s.p90_report_seconds = percentile(&durations, 90.0);
    let due = s.on_time + s.late + s.missed;
    s.compliance = (due > 0).then(|| s.on_time as f64 / due as f64);
    s.deployment_rate = (s.deployment_due > 0).then(|| s.deployed_on_time as f64 / s.deployment_due as f64);
    s.meets_sla = s.late == 0 && s.missed == 0;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(report: Option<i64>, left: Option<i64>, deployed: Option<i64>) -> SlaAssignment {
        SlaAssignment {
            release: 1,
            announced_at: 100,
            sla_seconds: 50,
            grace_seconds: 0,
            declined_at: None,
            left_rollout_at: left,
            first_report_at: report,
            first_deployed_at: deployed,
        }
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome(&a(Some(150), None, None), 200), Outcome::OnTime);
        assert_eq!(outcome(&a(Some(151), Some(150), None), 200), Outcome::Late);
        assert_eq!(outcome(&a(None, None, None), 149), Outcome::Pending);
        assert_eq!(outcome(&a(None, Some(150), None), 150), Outcome::Missed);
        assert_eq!(outcome(&a(None, Some(120), None), 300), Outcome::Cancelled);
        assert_eq!(outcome(&a(Some(110), Some(120), None), 300), Outcome::OnTime);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(percentile(&v, 50.0), Some(5));
        assert_eq!(percentile(&v, 90.0), Some(9));
        assert_eq!(percentile(&[7], 90.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn a_site_that_misses_stands_out() {
        let list = [
            a(Some(110), None, Some(105)),
            a(Some(170), None, None),
            a(None, None, Some(160)),
            a(None, None, None),
        ];
        let s = summarize("RAL", &list, 1000);
        assert_eq!((s.on_time, s.late, s.missed, s.pending), (1, 1, 2, 0));
        assert_eq!(s.median_report_seconds, Some(10));
        assert_eq!(s.p90_report_seconds, Some(70));
        assert_eq!(s.compliance, Some(0.25));
        assert_eq!((s.deployed_on_time, s.deployment_due), (1, 4));
        assert_eq!((s.declined, s.expired_without_evidence), (0, 2));
        assert!(!s.meets_sla);
        let good = summarize("CERN", &list[..1], 1000);
        assert!(good.meets_sla);
        assert_eq!(good.deployment_rate, Some(1.0));
    }

    #[test]
    fn declines_and_grace() {
        let mut d = a(None, None, None);
        d.declined_at = Some(120);
        let mut g = a(Some(160), None, None);
        g.grace_seconds = 10;
        assert_eq!(outcome(&d, 1000), Outcome::Declined);
        assert_eq!(outcome(&g, 1000), Outcome::OnTime);
        let s = summarize("X", &[d, g], 1000);
        assert_eq!((s.declined, s.on_time, s.missed), (1, 1, 0));
        assert_eq!(s.compliance, Some(1.0));
    }
}

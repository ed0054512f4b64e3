//! Releases: a version of an element, made of packages, and the state machine they move through.
//!
//! ```text
//!  beta --announce--> rollout --promote--> promoted --withdraw--> withdrawn
//!    \                  |                     |
//!     +---reject--------+                     +--(newer promoted)--> superseded
//! ```
//! `beta` and `rollout` releases also become `superseded` when a newer version of the same
//! element is promoted, since they could never pass the version check again.

use serde::{Deserialize, Serialize};

/// Where a release stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseState {
    /// Submitted and published into the beta repository.
    Beta,
    /// Announced to the rollout sites; SLA clocks running.
    Rollout,
    /// Published into production.
    Promoted,
    /// Taken out of beta by the admin.
    Rejected,
    /// A newer release of the same element and distribution was promoted.
    Superseded,
    /// Taken out of production.
    Withdrawn,
}

/// Something that moves a release from one state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Announce,
    Promote,
    Reject,
    Supersede,
    Withdraw,
    /// A superseded release is the newest in production again (its successor was withdrawn).
    Restore,
}

/// A transition that the current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a release in state {from} cannot be {verb}")]
pub struct TransitionError {
    pub from: &'static str,
    pub verb: &'static str,
}

impl Transition {
    fn verb(self) -> &'static str {
        match self {
            Transition::Announce => "announced",
            Transition::Promote => "promoted",
            Transition::Reject => "rejected",
            Transition::Supersede => "superseded",
            Transition::Withdraw => "withdrawn",
            Transition::Restore => "restored",
        }
    }
}

impl ReleaseState {
    /// Every state, for listings and metrics.
    pub const ALL: [ReleaseState; 6] = [
        ReleaseState::Beta,
        ReleaseState::Rollout,
        ReleaseState::Promoted,
        ReleaseState::Rejected,
        ReleaseState::Superseded,
        ReleaseState::Withdrawn,
    ];

    /// The name stored and shown for this state.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Beta => "beta",
            ReleaseState::Rollout => "rollout",
            ReleaseState::Promoted => "promoted",
            ReleaseState::Rejected => "rejected",
            ReleaseState::Superseded => "superseded",
            ReleaseState::Withdrawn => "withdrawn",
        }
    }

    /// Parses a stored state name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The state after `t`, or why `t` is not allowed now.
    pub fn apply(self, t: Transition) -> Result<ReleaseState, TransitionError> {
        use ReleaseState::*;
        let next = match (self, t) {
            (Beta, Transition::Announce) => Rollout,
            // Forced promotion may skip the rollout.
            (Beta | Rollout, Transition::Promote) => Promoted,
            (Beta | Rollout, Transition::Reject) => Rejected,
            (Beta | Rollout | Promoted, Transition::Supersede) => Superseded,
            (Promoted, Transition::Withdraw) => Withdrawn,
            (Superseded, Transition::Restore) => Promoted,
            _ => {
                return Err(TransitionError {
                    from: self.as_str(),
                    verb: t.verb(),
                })
            }
        };
        Ok(next)
    }

    /// Whether the release's packages are in the beta repository.
    pub fn in_beta(self) -> bool {
        !matches!(self, ReleaseState::Rejected)
    }
}

/// A release as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Release {
    pub id: i64,
    pub dist: String,
    pub element: String,
    pub version: String,
    pub team: String,
    pub notes: String,
    pub state: ReleaseState,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// When it was announced (entered `rollout`).
    pub announced_at: Option<i64>,
    /// Whether a promotion skipped the gate.
    pub forced: bool,
    /// Problems this release fixes.
    pub fixes: Vec<i64>,
    /// Advisory type: `bugfix`, `enhancement` or `security`.
    pub advisory_type: String,
    /// Advisory severity given at submission, if any.
    pub severity: Option<String>,
    /// The shortened SLA it was announced with, when it fixes a critical problem.
    pub fast_track_seconds: Option<i64>,
    /// File names of its packages, sorted.
    pub packages: Vec<String>,
    /// Its advisory id (allocated at submission; older releases got theirs at promotion).
    #[serde(default)]
    pub advisory: Option<String>,
    /// CVE ids and URLs (bugs, tickets) its advisory references.
    #[serde(default)]
    pub references: Vec<String>,
}

/// One recorded transition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseEvent {
    pub at: i64,
    pub actor: String,
    pub from: Option<ReleaseState>,
    pub to: ReleaseState,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::ReleaseState::*;
    use super::Transition::*;

    #[test]
    fn the_happy_path() {
        assert_eq!(Beta.apply(Announce), Ok(Rollout));
        assert_eq!(Rollout.apply(Promote), Ok(Promoted));
        assert_eq!(Promoted.apply(Supersede), Ok(Superseded));
    }

    #[test]
    fn refused_transitions_say_why() {
        let e = Rollout.apply(Announce).unwrap_err();
        assert_eq!(e.to_string(), "a release in state rollout cannot be announced");
        assert!(Rejected.apply(Promote).is_err());
        assert!(Promoted.apply(Reject).is_err());
        assert!(Superseded.apply(Promote).is_err());
        assert!(Beta.apply(Withdraw).is_err());
    }

    #[test]
    fn names_round_trip() {
        for s in super::ReleaseState::ALL {
            assert_eq!(super::ReleaseState::parse(s.as_str()), Some(s));
        }
    }
}

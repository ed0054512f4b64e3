//! Request limits that are not the handlers' business: how many uploads run at once, and the
//! slowest an upload may arrive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::error::ApiError;
use crate::service::ServiceError;

/// Slots for uploads in progress.
#[derive(Debug, Clone)]
pub struct UploadSlots(Arc<Semaphore>);

impl UploadSlots {
    /// `n` uploads at once.
    pub fn new(n: usize) -> Self {
        UploadSlots(Arc::new(Semaphore::new(n.max(1))))
    }
}

/// Middleware of the upload route: holds a slot while the upload (its body included) runs;
/// without a free slot, answers 503 with `Retry-After`.
pub async fn upload_slot(State(slots): State<UploadSlots>, req: Request, next: Next) -> Response {
    let Ok(_permit) = slots.0.clone().try_acquire_owned() else {
        return ApiError(ServiceError::Busy(
            "too many uploads in progress (max_concurrent_uploads); retry later".into(),
        ))
        .into_response();
    };
    next.run(req).await
}

/// The minimum transfer rate of an upload body: every period of `period` (the first one is
/// the grace of a slow start) must bring at least `min_rate` bytes per second of it.
///
/// Periods, not the average since the start, so that a client cannot send quickly at first
/// and then hold its slot by trickling for as long as its fast start pays for.
#[derive(Debug, Clone)]
pub struct RateFloor {
    min_rate: u64,
    period: Duration,
    /// End of the current period.
    period_end: Instant,
    /// Bytes received in the current period.
    received: u64,
}

impl RateFloor {
    /// A floor of `min_rate` bytes/s measured over periods of `period`, from `start`;
    /// `min_rate` 0 measures nothing.
    pub fn new(min_rate: u64, period: Duration, start: Instant) -> Self {
        RateFloor {
            min_rate,
            period,
            period_end: start + period,
            received: 0,
        }
    }

    /// When the current period ends and must be checked; None when there is no floor.
    pub fn deadline(&self) -> Option<Instant> {
        (self.min_rate > 0).then_some(self.period_end)
    }

    /// Counts bytes received.
    pub fn add(&mut self, n: u64) {
        self.received = self.received.saturating_add(n);
    }

    /// At or after [`deadline`](Self::deadline): fails when the period that ended brought too
    /// little, else starts the next period. Before it: nothing to check.
    pub fn check(&mut self, now: Instant) -> Result<(), ServiceError> {
        if self.min_rate == 0 || now < self.period_end {
            return Ok(());
        }
        let needed = (self.min_rate as f64 * self.period.as_secs_f64()) as u64;
        if self.received < needed {
            return Err(ServiceError::TooSlow {
                min_rate: self.min_rate,
                period_secs: self.period.as_secs().max(1),
                received: self.received,
            });
        }
        self.received = 0;
        // The next period starts now, not at the old end: time the server spent elsewhere
        // (a slow disk write) is never counted against the client.
        self.period_end = now + self.period;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trickle_fails_at_the_end_of_the_first_period() {
        let t0 = Instant::now();
        let period = Duration::from_secs(10);
        let mut floor = RateFloor::new(1024, period, t0);
        assert_eq!(floor.deadline(), Some(t0 + period));
        floor.add(5);
        assert!(floor.check(t0 + Duration::from_secs(9)).is_ok(), "within the grace");
        let err = floor.check(t0 + period).unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::TooSlow {
                    min_rate: 1024,
                    period_secs: 10,
                    received: 5
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn each_period_must_bring_its_share() {
        let t0 = Instant::now();
        let period = Duration::from_secs(10);
        let mut floor = RateFloor::new(100, period, t0);
        floor.add(1_000_000);
        floor.check(t0 + period).unwrap();
        // A fast start pays for nothing later.
        floor.add(999);
        assert!(floor.check(t0 + 2 * period).is_err());
    }

    #[test]
    fn zero_is_no_floor() {
        let t0 = Instant::now();
        let mut floor = RateFloor::new(0, Duration::from_secs(1), t0);
        assert_eq!(floor.deadline(), None);
        assert!(floor.check(t0 + Duration::from_secs(3600)).is_ok());
    }
}

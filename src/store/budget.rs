//! The budget of temporary disk space that uploads in progress may fill in `tmp/`.
//!
//! Each upload reserves its declared `Content-Length` before reading a byte (or, chunked,
//! each chunk before writing it); the reservation is given back when the upload ends, however
//! it ends, because [`TempReservation`] returns it on drop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Shared counter of bytes reserved by uploads in progress, against a limit (0 = none).
#[derive(Debug, Clone)]
pub struct TempBudget {
    limit: u64,
    used: Arc<AtomicU64>,
}

/// Not enough budget left: what was asked and what is left, for the refusal's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// The configured limit (`max_temp_bytes`).
    pub limit: u64,
    /// Bytes reserved by other uploads when asked.
    pub in_use: u64,
}

impl TempBudget {
    /// A budget of `limit` bytes; 0 is unlimited.
    pub fn new(limit: u64) -> Self {
        TempBudget {
            limit,
            used: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes reserved right now.
    pub fn in_use(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// Reserves `n` bytes, or says why not; nothing is reserved on failure.
    pub fn reserve(&self, n: u64) -> Result<TempReservation, OverBudget> {
        let mut r = TempReservation {
            budget: self.clone(),
            held: 0,
        };
        r.grow(n)?;
        Ok(r)
    }

    fn take(&self, n: u64) -> Result<(), OverBudget> {
        if n == 0 {
            return Ok(());
        }
        // A compare-and-swap loop, so that two uploads can never both take the last bytes.
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let after = used.checked_add(n)?;
                (self.limit == 0 || after <= self.limit).then_some(after)
            })
            .map(|_| ())
            .map_err(|in_use| OverBudget {
                limit: self.limit,
                in_use,
            })
    }
}

/// Bytes of [`TempBudget`] held by one upload; given back on drop.
#[derive(Debug)]
pub struct TempReservation {
    budget: TempBudget,
    held: u64,
}

impl TempReservation {
    /// Bytes held.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Holds `n` more bytes, or says why not (what is already held stays held).
    pub fn grow(&mut self, n: u64) -> Result<(), OverBudget> {
        self.budget.take(n)?;
        self.held += n;
        Ok(())
    }

    /// Makes sure at least `total` bytes are held.
    pub fn cover(&mut self, total: u64) -> Result<(), OverBudget> {
        match total.checked_sub(self.held) {
            Some(more) if more > 0 => self.grow(more),
            _ => Ok(()),
        }
    }
}

impl Drop for TempReservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_bounded_and_given_back_on_drop() {
        let b = TempBudget::new(100);
        let a = b.reserve(60).unwrap();
        assert_eq!(b.reserve(41).unwrap_err(), OverBudget { limit: 100, in_use: 60 });
        let mut c = b.reserve(30).unwrap();
        c.cover(40).unwrap();
        assert_eq!(c.held(), 40);
        assert!(c.cover(41).is_err());
        assert_eq!(c.held(), 40, "a refused growth holds nothing more");
        c.cover(10).unwrap();
        assert_eq!(b.in_use(), 100);
        drop(a);
        assert_eq!(b.in_use(), 40);
        drop(c);
        assert_eq!(b.in_use(), 0);
    }

    #[test]
    fn zero_is_unlimited() {
        let b = TempBudget::new(0);
        let _r = b.reserve(u64::MAX / 2).unwrap();
        assert!(b.reserve(u64::MAX / 2).is_ok());
    }
}

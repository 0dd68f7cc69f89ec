//! How a prune shares the log with the writers: each batch is sized so that its
//! transaction holds the log for about [`Pace::target`], and after each the prune rests
//! for [`Pace::REST`] times as long as the batch held it, at least [`Pace::MIN_REST`].
//!
//! So the prune holds the log at most about a quarter of the time, and never long: an
//! append arriving while a batch holds the log waits for at most one batch, then gets its
//! turn in the rest that follows. Sizing batches by time rather than by count keeps that
//! bound on a slow disk, a cold cache or a busy machine, where a fixed count of entries
//! took from 10 ms to over 500 ms (BENCHMARKS.md, "Retention").

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Pace {
    target: Duration,
    size: usize,
}

impl Pace {
    /// Entries in the first batch, before any has been timed.
    pub const FIRST: usize = 200;
    /// Entries per batch, at least and at most.
    pub const MIN: usize = 10;
    pub const MAX: usize = 20_000;
    /// Rest after a batch, as a multiple of the time it held the log.
    pub const REST: u32 = 3;
    pub const MIN_REST: Duration = Duration::from_millis(2);
    /// How long a batch should hold the log.
    pub const TARGET: Duration = Duration::from_millis(10);

    pub fn new(target: Duration) -> Self {
        Self {
            target: target.max(Duration::from_millis(1)),
            size: Self::FIRST,
        }
    }

    /// How many entries the next batch should take.
    pub fn batch(&self) -> usize {
        self.size
    }

    /// After a batch of `entries` that held the log for `held`: sizes the next batch and
    /// says how long to rest before it.
    pub fn held(&mut self, entries: usize, held: Duration) -> Duration {
        if entries > 0 {
            let per_entry = held.as_secs_f64() / entries as f64;
            let fits = if per_entry > 0.0 {
                self.target.as_secs_f64() / per_entry
            } else {
                f64::INFINITY
            };
            // At most double or halve at a time: one slow or fast batch is not the trend.
            let next = fits.clamp(self.size as f64 / 2.0, self.size as f64 * 2.0);
            self.size = (next.round() as usize).clamp(Self::MIN, Self::MAX);
        }
        (held * Self::REST).max(Self::MIN_REST)
    }
}

impl Default for Pace {
    fn default() -> Self {
        Self::new(Self::TARGET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn batches_grow_toward_the_target_a_doubling_at_a_time() {
        let mut pace = Pace::new(10 * MS);
        assert_eq!(pace.batch(), Pace::FIRST);
        // 200 entries in 1 ms: 2,000 would fit in 10 ms, but it only doubles.
        pace.held(200, MS);
        assert_eq!(pace.batch(), 400);
        pace.held(400, 2 * MS);
        assert_eq!(pace.batch(), 800);
        // 800 in 8 ms: 1,000 fit.
        pace.held(800, 8 * MS);
        assert_eq!(pace.batch(), 1000);
    }

    #[test]
    fn a_slow_batch_halves_the_next_and_never_below_the_floor() {
        let mut pace = Pace::new(10 * MS);
        pace.held(200, 500 * MS);
        assert_eq!(pace.batch(), 100);
        for _ in 0..20 {
            pace.held(pace.batch(), 500 * MS);
        }
        assert_eq!(pace.batch(), Pace::MIN);
    }

    #[test]
    fn never_above_the_ceiling() {
        let mut pace = Pace::new(10 * MS);
        for _ in 0..40 {
            pace.held(pace.batch(), Duration::from_micros(1));
        }
        assert_eq!(pace.batch(), Pace::MAX);
        pace.held(Pace::MAX, Duration::ZERO);
        assert_eq!(pace.batch(), Pace::MAX);
    }

    #[test]
    fn the_rest_is_three_times_the_hold_and_at_least_the_minimum() {
        let mut pace = Pace::default();
        assert_eq!(pace.held(100, 10 * MS), 30 * MS);
        assert_eq!(pace.held(100, Duration::from_micros(100)), Pace::MIN_REST);
        // An empty batch changes nothing but still rests.
        let before = pace.batch();
        assert_eq!(pace.held(0, Duration::ZERO), Pace::MIN_REST);
        assert_eq!(pace.batch(), before);
    }
}

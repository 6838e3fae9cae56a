//! The wall clock the runtime reads, injected so tests drive it with tokio's paused time.

use std::fmt;

use fluxbrain_core::Time;

/// Reads the time the engine is given (`now` of every policy step and delivery).
///
/// The runtime sleeps on tokio's clock; a [`Clock`] that follows it ([`TokioClock`]) makes a
/// whole continuous run play out on paused time in tests.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Time;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Time {
        Time::new(jiff::Timestamp::now())
    }
}

/// A clock that reads `origin` when it is made and then moves with tokio's clock, which a test
/// pauses and advances (`tokio::time::pause`, `#[tokio::test(start_paused = true)]`).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: Time,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `origin` now.
    pub fn starting_at(origin: Time) -> Self {
        TokioClock {
            origin,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Time {
        let elapsed = self.start.elapsed();
        let span = jiff::SignedDuration::try_from(elapsed).unwrap_or(jiff::SignedDuration::MAX);
        self.origin
            .timestamp()
            .checked_add(span)
            .map_or(self.origin, Time::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_tokio_time() {
        let origin = Time::parse("2026-04-21T09:00:00Z").unwrap();
        let clock = TokioClock::starting_at(origin);
        assert_eq!(clock.now(), origin);
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!(clock.now(), origin.add_seconds(90));
    }
}

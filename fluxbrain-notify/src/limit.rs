//! Proactive rate limits: token buckets sized from each destination's documented limits, so a
//! burst of notifications is spread over time instead of being refused with 429s.
//!
//! - Slack: about one message per second per channel, short bursts allowed
//!   (<https://api.slack.com/methods/chat.postMessage#rate_limiting>): 3 at once, then 1 per
//!   second, per channel (an incoming webhook posts to one channel).
//! - GitHub: at most 80 content-creating requests per minute and 500 per hour (the documented
//!   secondary limits): both buckets, for opening, commenting on and closing issues.
//! - The webhook: `FLUXBRAIN_WEBHOOK_RATE` (`N/s`, `N/m` or `N/h`), none by default.
//!
//! The clock is tokio's, so tests on paused time see the waits without sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket: `capacity` requests at once, refilled at `capacity` per `per`.
#[derive(Debug)]
pub struct Bucket {
    capacity: f64,
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    /// A full bucket of `capacity` requests, refilled evenly over `per`.
    pub fn new(capacity: u32, per: Duration) -> Bucket {
        let capacity = f64::from(capacity.max(1));
        Bucket {
            capacity,
            per_second: capacity / per.as_secs_f64().max(0.001),
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// Takes one request's token, waiting until there is one.
    pub async fn take(&self) {
        loop {
            let wait = {
                let mut state = self
                    .state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                let (tokens, last) = *state;
                let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.per_second)
                    .min(self.capacity);
                if tokens >= 1.0 {
                    *state = (tokens - 1.0, now);
                    return;
                }
                *state = (tokens, now);
                Duration::from_secs_f64((1.0 - tokens) / self.per_second)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// One [`Bucket`] per key (a Slack channel), made on first use.
#[derive(Debug)]
pub struct Keyed {
    capacity: u32,
    per: Duration,
    buckets: Mutex<HashMap<String, Arc<Bucket>>>,
}

impl Keyed {
    /// Buckets of `capacity` per `per`, one per key.
    pub fn new(capacity: u32, per: Duration) -> Keyed {
        Keyed {
            capacity,
            per,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `key`'s bucket.
    pub async fn take(&self, key: &str) {
        let bucket = {
            let mut buckets = self
                .buckets
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            buckets
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(Bucket::new(self.capacity, self.per)))
                .clone()
        };
        bucket.take().await;
    }
}

/// `N/s`, `N/m` or `N/h` (N from 1): a bucket of N per second, minute or hour.
pub fn parse_rate(value: &str) -> Result<(u32, Duration), String> {
    let (n, unit) = value
        .trim()
        .split_once('/')
        .ok_or_else(|| format!("{value:?} is not N/s, N/m or N/h"))?;
    let n: u32 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("{value:?}: {n:?} is not a whole number from 1"))?;
    let per = match unit.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        other => return Err(format!("{value:?}: {other:?} is not s, m or h")),
    };
    Ok((n, per))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_spread_at_the_rate() {
        let bucket = Bucket::new(3, Duration::from_secs(3));
        let start = Instant::now();
        for _ in 0..3 {
            bucket.take().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        for _ in 0..5 {
            bucket.take().await;
        }
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(5) && waited < Duration::from_millis(5100),
            "then one per second: {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn keys_do_not_share_a_bucket() {
        let keyed = Keyed::new(1, Duration::from_secs(1));
        let start = Instant::now();
        keyed.take("C1").await;
        keyed.take("C2").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        keyed.take("C1").await;
        assert!(start.elapsed() >= Duration::from_secs(1));
    }

    #[test]
    fn rates_parse_or_say_why_not() {
        assert_eq!(parse_rate("10/s"), Ok((10, Duration::from_secs(1))));
        assert_eq!(parse_rate(" 80 / m "), Ok((80, Duration::from_secs(60))));
        assert_eq!(parse_rate("500/h"), Ok((500, Duration::from_secs(3600))));
        for bad in ["10", "0/s", "-1/s", "x/s", "10/d", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}

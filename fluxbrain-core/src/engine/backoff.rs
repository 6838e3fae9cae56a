//! Delivery backoff: pure arithmetic, the random draw is an input.

use std::time::Duration;

/// Exponential backoff with jitter (DESIGN.md section 10: base 30s, doubling, cap 1h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The delay after the `failures`-th consecutive failure (1-based): `base · 2^(failures-1)`
    /// capped at `cap`, then scaled into `[½, 1]` of itself by `jitter` ∈ `[0, 1]`, so retries
    /// spread out but never come earlier than half the nominal delay.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let exponent = failures.saturating_sub(1).min(31);
        let nominal = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            1.0
        };
        nominal.mul_f64(0.5 + jitter / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, 1.0), Duration::from_secs(30));
        assert_eq!(b.delay(2, 1.0), Duration::from_secs(60));
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(60));
        assert_eq!(b.delay(8, 1.0), Duration::from_secs(3600));
        assert_eq!(b.delay(100, 1.0), Duration::from_secs(3600));
        assert_eq!(b.delay(1, f64::NAN), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let b = Backoff::default();
        for failures in 1..12 {
            for j in [0.0, 0.3, 0.99, 1.0, -5.0, 7.0] {
                let d = b.delay(failures, j);
                let nominal = b.delay(failures, 1.0);
                assert!(d >= nominal / 2 && d <= nominal, "{failures} {j} {d:?}");
            }
        }
    }
}

//! Fault injection: latency, 5xx or 429 on a share of requests, watch streams that drop.

use std::time::Duration;

use serde::Deserialize;

/// Faults applied to incoming requests; [`Faults::default`] is a healthy server.
///
/// Draws use the simulator's seeded generator, so a run is reproducible.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added before every matching request is answered.
    pub latency: Option<Duration>,
    /// Share of matching requests (0.0 to 1.0) answered with `error_status` instead.
    pub error_rate: f64,
    /// The injected status: 429 or a 5xx (default 503 when `error_rate` is set and this is 0).
    pub error_status: u16,
    /// `Retry-After` seconds sent with injected errors.
    pub retry_after: Option<u64>,
    /// Every watch stream opened while this is set ends abruptly after this long.
    pub watch_drop_after: Option<Duration>,
    /// Only requests whose path and query (`/apis/...?watch=true&...`) contain this string are
    /// affected (all when `None`).
    pub request_contains: Option<String>,
}

impl Faults {
    /// Whether a request (path and query) is affected.
    pub(crate) fn applies_to(&self, request: &str) -> bool {
        self.request_contains
            .as_deref()
            .is_none_or(|p| request.contains(p))
    }

    /// The status to inject.
    pub(crate) fn status(&self) -> u16 {
        if self.error_status == 0 {
            503
        } else {
            self.error_status
        }
    }
}

/// The script form of [`Faults`] (durations as text).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultsSpec {
    latency: Option<String>,
    #[serde(default)]
    error_rate: f64,
    #[serde(default)]
    error_status: u16,
    retry_after: Option<u64>,
    watch_drop_after: Option<String>,
    request_contains: Option<String>,
}

impl FaultsSpec {
    /// Validates and converts.
    pub fn into_faults(self) -> Result<Faults, String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "error_rate must be between 0 and 1, got {}",
                self.error_rate
            ));
        }
        if self.error_status != 0
            && self.error_status != 429
            && !(500..=599).contains(&self.error_status)
        {
            return Err(format!(
                "error_status must be 429 or 5xx, got {}",
                self.error_status
            ));
        }
        let duration = |d: Option<String>| {
            d.map(|d| fluxbrain_core::duration::parse(&d).map_err(|e| e.to_string()))
                .transpose()
        };
        Ok(Faults {
            latency: duration(self.latency)?,
            error_rate: self.error_rate,
            error_status: self.error_status,
            retry_after: self.retry_after,
            watch_drop_after: duration(self.watch_drop_after)?,
            request_contains: self.request_contains,
        })
    }
}

//! Entry points for the fuzz targets in `fuzz/`: how each notifier reads an answer, from its
//! status, headers and body alone, with no network. Not a stable API.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::ErrorbrainAnalyzer;
use crate::error::Error;
use crate::http::Answer;
use fluxbrain_core::Analysis;

/// What a notifier made of an answer; its error's message, so that formatting is covered too.
pub type Outcome<T> = Result<T, String>;

/// An answer as `http` hands it to the notifiers; `None` for a status outside 100..=999.
/// Header names or values HTTP does not allow are left out, as no client would receive them.
fn answer(status: u16, headers: &[(&[u8], &[u8])], body: &[u8]) -> Option<Answer> {
    let status = StatusCode::from_u16(status).ok()?;
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            map.append(name, value);
        }
    }
    Some(Answer {
        status,
        headers: map,
        body: body.to_vec(),
        host: "fuzz.invalid".to_owned(),
        method: "POST",
    })
}

fn message<T>(result: Result<T, Error>) -> Outcome<T> {
    result.map_err(|e| e.to_string())
}

/// Slack: the answer as an incoming webhook's, then as `chat.postMessage`'s (the posted
/// message's `channel:ts` reference). `None` for an impossible status.
pub fn slack(
    status: u16,
    headers: &[(&[u8], &[u8])],
    body: &[u8],
) -> Option<(Outcome<()>, Outcome<String>)> {
    let webhook = message(crate::slack::webhook_answer(answer(status, headers, body)?));
    let host = "fuzz.invalid".to_owned();
    let posted = message(
        crate::slack::api_answer(answer(status, headers, body)?, "chat.postMessage")
            .and_then(|a| crate::slack::posted(a, host))
            .map(|thread| thread.reference()),
    );
    Some((webhook, posted))
}

/// GitHub: the answer as the list of open issues (the oldest labelled `label`), and as the
/// reply to opening an issue (its number). `None` for an impossible status.
pub fn github(
    status: u16,
    headers: &[(&[u8], &[u8])],
    body: &[u8],
    label: &str,
) -> Option<(Outcome<Option<u64>>, Outcome<u64>)> {
    let listed = message(
        crate::github::succeeded(answer(status, headers, body)?)
            .and_then(|a| crate::github::oldest_open(&a, label)),
    );
    let opened = message(
        crate::github::succeeded(answer(status, headers, body)?)
            .and_then(|a| crate::github::created(&a))
            .map(|issue| issue.number),
    );
    Some((listed, opened))
}

/// errorbrain: the answer to `POST /v1/errors` as `analyzer` reads it. `None` for an
/// impossible status.
pub fn errorbrain(
    analyzer: &ErrorbrainAnalyzer,
    status: u16,
    headers: &[(&[u8], &[u8])],
    body: &[u8],
) -> Option<Outcome<Analysis>> {
    Some(message(analyzer.analysis(answer(status, headers, body)?)))
}

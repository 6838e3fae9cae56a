//! Operators' writes (silences, acknowledgements) against a state store: what `fluxbrain
//! silence` and `fluxbrain ack` do without `--server`, and what the running instance's write
//! routes do. Every write is a compare-and-swap of the control document, so writes through
//! any replica, or straight into the store, all reach the leader's next step.

use fluxbrain_core::control::{UpdateError, update};
use fluxbrain_core::{Ack, Silence, SilenceRequest, StateStore, Time};

use crate::error::CliError;

fn failed(store: &dyn StateStore, e: UpdateError) -> CliError {
    match e {
        UpdateError::Refused(e) => e.into(),
        UpdateError::Store(e) => CliError::State {
            store: store.name(),
            problem: e.to_string(),
        },
    }
}

/// Adds a silence; returns it.
pub async fn add_silence(
    store: &dyn StateStore,
    request: &SilenceRequest,
    now: Time,
) -> Result<Silence, CliError> {
    update(store, |control| control.add_silence(request, now))
        .await
        .map_err(|e| failed(store, e))
}

/// Ends the silence `id` (or the one whose id starts with it) now.
pub async fn expire_silence(
    store: &dyn StateStore,
    id: &str,
    by: &str,
    now: Time,
) -> Result<Silence, CliError> {
    update(store, |control| control.expire_silence(id, by, now))
        .await
        .map_err(|e| failed(store, e))
}

/// The silences, active and recently ended.
pub async fn silences(store: &dyn StateStore) -> Result<Vec<Silence>, CliError> {
    let control = store.load_control().await.map_err(|e| CliError::State {
        store: store.name(),
        problem: e.to_string(),
    })?;
    Ok(control.map(|(c, _)| c.silences).unwrap_or_default())
}

/// Acknowledges the open incident `id` (or the one whose id starts with it), as the saved
/// state knows the open incidents.
pub async fn acknowledge(
    store: &dyn StateStore,
    id: &str,
    by: &str,
    comment: Option<&str>,
    now: Time,
) -> Result<Ack, CliError> {
    let state = store
        .load()
        .await
        .map_err(|e| CliError::State {
            store: store.name(),
            problem: e.to_string(),
        })?
        .unwrap_or_default();
    let open: Vec<&str> = state.incidents.values().map(|r| r.id.as_str()).collect();
    acknowledge_among(store, id, by, comment, now, &open).await
}

/// Acknowledges the incident `id` among the `open` incident ids (a running instance passes
/// the ones it knows, its own memory when it leads).
pub async fn acknowledge_among(
    store: &dyn StateStore,
    id: &str,
    by: &str,
    comment: Option<&str>,
    now: Time,
    open: &[&str],
) -> Result<Ack, CliError> {
    update(store, |control| {
        control.acknowledge(id, by, comment, now, open)
    })
    .await
    .map_err(|e| failed(store, e))
}

/// The operator's name when `--author` is not given: the OS user (`USER`, `LOGNAME`, else the
/// name of this process's uid in `/etc/passwd`, else `uid <n>`).
pub fn default_author() -> Option<String> {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty())
        .or_else(user_of_uid)
}

#[cfg(unix)]
fn user_of_uid() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_owned())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

#[cfg(not(unix))]
fn user_of_uid() -> Option<String> {
    None
}

/// Now, on the system clock.
pub fn now() -> Time {
    Time::new(jiff::Timestamp::now())
}

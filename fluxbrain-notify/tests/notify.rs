//! fluxbrain-notify against local HTTP servers: every call's method, path, headers and body.

#[path = "notify/servers.rs"]
mod servers;
#[path = "notify/support.rs"]
mod support;

#[path = "notify/config.rs"]
mod config;
#[path = "notify/errorbrain.rs"]
mod errorbrain;
#[path = "notify/examples.rs"]
mod examples;
#[path = "notify/failures.rs"]
mod failures;
#[path = "notify/github.rs"]
mod github;
#[path = "notify/misbehaving.rs"]
mod misbehaving;
#[path = "notify/secrets.rs"]
mod secrets;
#[path = "notify/slack.rs"]
mod slack;
#[path = "notify/webhook.rs"]
mod webhook;

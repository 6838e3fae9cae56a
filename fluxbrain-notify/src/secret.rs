//! Values that must never be printed: tokens, signing keys and URLs that carry credentials.
//!
//! Neither type implements `Display` or `Serialize`, and their `Debug` shows nothing secret, so
//! a `{:?}` of a configuration or notifier is safe to log. The value is reachable only through
//! an explicit `expose`.

use std::fmt;

use reqwest::Url;

/// A secret string (a token, a signing key). `Debug` prints `[REDACTED]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A URL whose path, query or user information may be a credential (a Slack incoming webhook
/// URL is one). `Debug` and [`SecretUrl::host`] show the scheme and host only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Url);

impl SecretUrl {
    /// Parses `value` as an absolute `http` or `https` URL with a host.
    ///
    /// The error describes the problem without repeating the value.
    pub fn parse(value: &str) -> Result<SecretUrl, String> {
        let url = Url::parse(value.trim()).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "scheme {:?} is not http or https",
                url.scheme().chars().take(16).collect::<String>()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("the URL has no host".to_owned());
        }
        Ok(SecretUrl(url))
    }

    /// `host` or `host:port`: what errors and logs may name.
    pub fn host(&self) -> String {
        host_of(&self.0)
    }

    /// The URL itself, for the one place that must send to it.
    pub fn expose(&self) -> &Url {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}/[REDACTED]", self.0.scheme(), self.host())
    }
}

/// `host` or `host:port` of `url` (never its user information, path or query).
pub(crate) fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("unknown-host");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let s = Secret::new("xoxb-123-456-abcdef");
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        assert_eq!(s.expose(), "xoxb-123-456-abcdef");
    }

    #[test]
    fn secret_url_shows_host_only() {
        let u = SecretUrl::parse("https://user:pw@hooks.slack.com/services/T0/B0/XYZsecret?x=1")
            .unwrap();
        let shown = format!("{u:?}");
        assert_eq!(shown, "https://hooks.slack.com/[REDACTED]");
        assert_eq!(u.host(), "hooks.slack.com");
        let local = SecretUrl::parse("http://127.0.0.1:8080/hook").unwrap();
        assert_eq!(local.host(), "127.0.0.1:8080");
    }

    #[test]
    fn secret_url_rejects_without_echoing() {
        let err = SecretUrl::parse("ftp://secret-token@host/x").unwrap_err();
        assert!(!err.contains("secret-token"), "{err}");
        let err = SecretUrl::parse("hooks.slack.com/services/T0/B0/XYZsecret").unwrap_err();
        assert!(!err.contains("XYZsecret"), "{err}");
    }
}

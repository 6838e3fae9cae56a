//! Reading `FLUXBRAIN_*` settings through a lookup closure, so the CLI (clap's merged flags and
//! environment) and tests feed configuration without touching the process environment.
//!
//! An empty or blank value counts as unset. Invalid values are errors naming the variable and
//! never quoting a secret.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::secret::{Secret, SecretUrl};

/// The default per-attempt timeout of every notifier and of the analyzer (DESIGN.md section 11).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A view of the settings through a lookup closure.
pub(crate) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Env<'a> {
        Env { lookup }
    }

    /// The trimmed value, `None` when unset or blank.
    pub(crate) fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A secret given directly in `name` or as a file path in `file_name` (a mounted
    /// Kubernetes Secret); both at once is an error. Surrounding whitespace is trimmed.
    pub(crate) fn secret(
        &self,
        name: &'static str,
        file_name: &'static str,
    ) -> Result<Option<Secret>, Error> {
        match (self.var(name), self.var(file_name)) {
            (Some(_), Some(_)) => Err(Error::Config {
                variable: name,
                reason: format!("set either {name} or {file_name}, not both"),
            }),
            (Some(value), None) => Ok(Some(Secret::new(value))),
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                let text = std::fs::read_to_string(&path).map_err(|source| Error::SecretFile {
                    variable: file_name,
                    path: path.clone(),
                    source,
                })?;
                let value = text.trim();
                if value.is_empty() {
                    return Err(Error::Config {
                        variable: file_name,
                        reason: format!("{} is empty", path.display()),
                    });
                }
                Ok(Some(Secret::new(value)))
            }
            (None, None) => Ok(None),
        }
    }

    /// A secret URL (`name` or `file_name`), validated as http(s) with a host.
    pub(crate) fn secret_url(
        &self,
        name: &'static str,
        file_name: &'static str,
    ) -> Result<Option<SecretUrl>, Error> {
        let Some(secret) = self.secret(name, file_name)? else {
            return Ok(None);
        };
        let variable = if self.var(name).is_some() {
            name
        } else {
            file_name
        };
        SecretUrl::parse(secret.expose())
            .map(Some)
            .map_err(|reason| Error::Config { variable, reason })
    }

    /// A plain URL setting, validated as http(s) with a host.
    pub(crate) fn url(&self, name: &'static str) -> Result<Option<SecretUrl>, Error> {
        self.var(name)
            .map(|v| {
                SecretUrl::parse(&v).map_err(|reason| Error::Config {
                    variable: name,
                    reason,
                })
            })
            .transpose()
    }

    /// A positive duration (`10s`, `500ms`, `1m30s`, `2m`); `default` when unset.
    pub(crate) fn duration(
        &self,
        name: &'static str,
        default: Duration,
    ) -> Result<Duration, Error> {
        match self.var(name) {
            None => Ok(default),
            Some(v) => fluxbrain_core::duration::parse_positive(&v).map_err(|e| Error::Config {
                variable: name,
                reason: e.to_string(),
            }),
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`); `default` when unset.
    pub(crate) fn flag(&self, name: &'static str, default: bool) -> Result<bool, Error> {
        match self.var(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(Error::Config {
                    variable: name,
                    reason: format!("{v:?} is not true or false"),
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn durations_follow_core_rule_and_name_the_variable() {
        let lookup = env(&[("T", "1m30s"), ("Z", "0s"), ("B", "10"), ("N", "-1s")]);
        let e = Env::new(&lookup);
        let default = Duration::from_secs(10);
        assert_eq!(e.duration("T", default).unwrap(), Duration::from_secs(90));
        assert_eq!(e.duration("UNSET", default).unwrap(), default);
        for (variable, problem) in [("Z", "longer than zero"), ("B", "\"10\""), ("N", "\"-1s\"")] {
            let message = e.duration(variable, default).unwrap_err().to_string();
            assert!(
                message.contains(variable) && message.contains(problem),
                "{message}"
            );
        }
    }

    #[test]
    fn blank_is_unset_and_errors_name_the_variable() {
        let lookup = env(&[("A", "  "), ("T", "abc")]);
        let e = Env::new(&lookup);
        assert_eq!(e.var("A"), None);
        assert_eq!(
            e.duration("A", DEFAULT_TIMEOUT).unwrap(),
            Duration::from_secs(10)
        );
        let err = e.duration("T", DEFAULT_TIMEOUT).unwrap_err();
        assert!(err.to_string().starts_with("T: "), "{err}");
    }

    #[test]
    fn secret_from_file_or_value_not_both() {
        let dir = std::env::temp_dir().join(format!("fluxbrain-notify-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "ghp_fromfile\n").unwrap();
        let path = file.to_str().unwrap().to_owned();

        let lookup = env(&[("X_FILE", &path)]);
        let got = Env::new(&lookup).secret("X", "X_FILE").unwrap().unwrap();
        assert_eq!(got.expose(), "ghp_fromfile");

        let lookup = env(&[("X", "v"), ("X_FILE", &path)]);
        let err = Env::new(&lookup).secret("X", "X_FILE").unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");

        let lookup = env(&[("X_FILE", "/nonexistent/fluxbrain/token")]);
        let err = Env::new(&lookup).secret("X", "X_FILE").unwrap_err();
        assert!(err.to_string().starts_with("X_FILE: cannot read"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_secret_url_does_not_echo_it() {
        let lookup = env(&[("U", "hooks.slack.com/services/T0/B0/SeCrEt")]);
        let err = Env::new(&lookup).secret_url("U", "U_FILE").unwrap_err();
        assert!(!err.to_string().contains("SeCrEt"), "{err}");
        assert!(err.to_string().starts_with("U: "), "{err}");
    }

    #[test]
    fn flags() {
        let lookup = env(&[("F", "Yes"), ("G", "maybe")]);
        let e = Env::new(&lookup);
        assert!(e.flag("F", false).unwrap());
        assert!(!e.flag("H", false).unwrap());
        assert!(e.flag("G", false).is_err());
    }
}

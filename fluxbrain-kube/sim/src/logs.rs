//! Container logs: what `GET .../pods/<name>/log` serves, with the kubelet's query parameters.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::broadcast;

use super::query::Query;
use super::status::ApiError;

/// One log line with the time it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogLine {
    pub ts: Timestamp,
    pub text: String,
}

/// A line appended while the simulator runs (for `follow`).
#[derive(Debug, Clone)]
pub(crate) struct Appended {
    pub namespace: String,
    pub pod: String,
    pub line: LogLine,
}

/// Logs of every pod's (first) container.
#[derive(Debug)]
pub(crate) struct Logs {
    pods: HashMap<(String, String), Vec<LogLine>>,
    tx: broadcast::Sender<Arc<Appended>>,
}

impl Logs {
    /// No logs yet.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Self {
            pods: HashMap::new(),
            tx,
        }
    }

    /// Loads lines of a pod; each line's time is its JSON `ts` when it has one (zap's
    /// ISO 8601), else the previous line's time, else `fallback` (the pod's start).
    pub fn load(&mut self, namespace: &str, pod: &str, lines: &[String], fallback: Timestamp) {
        let entry = self
            .pods
            .entry((namespace.to_string(), pod.to_string()))
            .or_default();
        let mut last = entry.last().map_or(fallback, |l| l.ts);
        for text in lines {
            if let Some(ts) = line_time(text) {
                last = ts;
            }
            entry.push(LogLine {
                ts: last,
                text: text.clone(),
            });
        }
    }

    /// Appends a line written now and notifies followers.
    pub fn append(&mut self, namespace: &str, pod: &str, text: String, now: Timestamp) {
        let line = LogLine { ts: now, text };
        self.pods
            .entry((namespace.to_string(), pod.to_string()))
            .or_default()
            .push(line.clone());
        let _ = self.tx.send(Arc::new(Appended {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            line,
        }));
    }

    /// A receiver of lines appended from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Appended>> {
        self.tx.subscribe()
    }

    /// The lines of a pod.
    pub fn lines(&self, namespace: &str, pod: &str) -> &[LogLine] {
        self.pods
            .get(&(namespace.to_string(), pod.to_string()))
            .map_or(&[], Vec::as_slice)
    }
}

/// The parsed log request.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogRequest {
    pub tail_lines: Option<usize>,
    pub since: Option<Timestamp>,
    pub timestamps: bool,
    pub follow: bool,
    pub limit_bytes: Option<usize>,
}

impl LogRequest {
    /// Reads and checks the query against the pod, like the kubelet does.
    pub fn parse(query: &Query, pod: &Value, now: Timestamp) -> Result<Self, ApiError> {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let containers: Vec<&str> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        match query.get("container") {
            Some(c) if !containers.contains(&c) => {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )));
            }
            None if containers.len() > 1 => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                )));
            }
            _ => {}
        }
        if query.bool("previous")? {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{}\" in pod \"{name}\" not found",
                containers.first().copied().unwrap_or_default()
            )));
        }
        let tail_lines = query.non_negative("tailLines")?;
        let since_seconds = query.non_negative("sinceSeconds")?;
        if since_seconds == Some(0) {
            return Err(ApiError::bad_request(
                "sinceSeconds: Invalid value: 0: must be greater than 0",
            ));
        }
        let since_time = match query.get("sinceTime") {
            Some(t) => Some(t.parse::<Timestamp>().map_err(|e| {
                ApiError::bad_request(format!("sinceTime: invalid RFC 3339 time {t:?}: {e}"))
            })?),
            None => None,
        };
        if since_seconds.is_some() && since_time.is_some() {
            return Err(ApiError::bad_request(
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            ));
        }
        let since = match since_seconds {
            Some(secs) => Some(
                now.checked_sub(jiff::SignedDuration::from_secs(
                    i64::try_from(secs).unwrap_or(i64::MAX),
                ))
                .unwrap_or(Timestamp::MIN),
            ),
            None => since_time,
        };
        Ok(Self {
            tail_lines,
            since,
            timestamps: query.bool("timestamps")?,
            follow: query.bool("follow")?,
            limit_bytes: query.non_negative("limitBytes")?,
        })
    }

    /// Whether a line passes the time filter.
    pub fn keeps(&self, line: &LogLine) -> bool {
        self.since.is_none_or(|since| line.ts >= since)
    }

    /// A line as the kubelet prints it (`timestamps` prefixes RFC 3339 with nanoseconds).
    pub fn render(&self, line: &LogLine) -> String {
        if self.timestamps {
            format!("{} {}\n", line.ts, line.text)
        } else {
            format!("{}\n", line.text)
        }
    }

    /// The existing lines selected by the request.
    pub fn select(&self, lines: &[LogLine]) -> String {
        let kept: Vec<&LogLine> = lines.iter().filter(|l| self.keeps(l)).collect();
        let skip = self.tail_lines.map_or(0, |n| kept.len().saturating_sub(n));
        let mut out = String::new();
        for line in &kept[skip..] {
            out.push_str(&self.render(line));
        }
        if let Some(limit) = self.limit_bytes {
            let mut cut = limit.min(out.len());
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
        }
        out
    }
}

/// The `ts` of a zap JSON line.
fn line_time(text: &str) -> Option<Timestamp> {
    let value: Value = serde_json::from_str(text).ok()?;
    value.get("ts")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn logs() -> Logs {
        let mut logs = Logs::new();
        let lines = [
            r#"{"level":"info","ts":"2026-04-21T09:00:00.000Z","msg":"a"}"#,
            "panic: not json",
            r#"{"level":"info","ts":"2026-04-21T09:20:00.500Z","msg":"b"}"#,
        ];
        logs.load(
            "flux-system",
            "p",
            &lines.map(String::from),
            ts("2026-04-21T08:00:00Z"),
        );
        logs
    }

    fn request(q: &str) -> Result<LogRequest, ApiError> {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "manager"}]}});
        LogRequest::parse(
            &Query::parse(Some(q)).unwrap_or_default(),
            &pod,
            ts("2026-04-21T09:30:00Z"),
        )
    }

    #[test]
    fn tail_since_and_timestamps() {
        let logs = logs();
        let lines = logs.lines("flux-system", "p");
        assert_eq!(
            lines[1].ts,
            ts("2026-04-21T09:00:00Z"),
            "a line without ts inherits the previous one"
        );
        let all = request("").map(|r| r.select(lines));
        assert_eq!(all.map(|s| s.lines().count()), Ok(3));
        let tail = request("tailLines=1&timestamps=true").map(|r| r.select(lines));
        assert_eq!(tail, Ok("2026-04-21T09:20:00.5Z {\"level\":\"info\",\"ts\":\"2026-04-21T09:20:00.500Z\",\"msg\":\"b\"}\n".to_string()));
        let since = request("sinceSeconds=900").map(|r| r.select(lines));
        assert_eq!(since.map(|s| s.lines().count()), Ok(1));
        let since = request("sinceTime=2026-04-21T08:59:00Z").map(|r| r.select(lines));
        assert_eq!(since.map(|s| s.lines().count()), Ok(3));
    }

    #[test]
    fn bad_parameters_are_400() {
        for q in [
            "container=nope",
            "tailLines=-1",
            "sinceTime=yesterday",
            "sinceSeconds=0",
            "previous=true",
            "follow=maybe",
        ] {
            assert_eq!(request(q).map_err(|e| e.code).err(), Some(400), "{q}");
        }
    }
}

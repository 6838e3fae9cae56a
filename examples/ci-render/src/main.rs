//! `ci-render CLUSTER DIR`: reads every YAML file under DIR (e.g. from `flux export` or
//! `kubectl get -o yaml`), prints the errorbrain ErrorEvent of every failing Flux object as
//! NDJSON, and exits 1 when there is one, so a pipeline step fails on a broken cluster state.

use std::path::Path;
use std::process::ExitCode;

use fluxbrain_core::{BuildOptions, Document, Snapshot, build_all, canonical, parse_document};
use serde::Deserialize;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cluster, dir] = args.as_slice() else {
        eprintln!("usage: ci-render CLUSTER DIR");
        return ExitCode::from(2);
    };
    let mut snapshot = Snapshot::new(cluster.as_str());
    if let Err(e) = read_dir(Path::new(dir), &mut snapshot) {
        eprintln!("ci-render: {e}");
        return ExitCode::from(2);
    }
    let events = build_all(&snapshot, &BuildOptions::default());
    print!(
        "{}",
        String::from_utf8_lossy(&canonical::to_ndjson(&events, false))
    );
    eprintln!("ci-render: {} failing Flux object(s)", events.len());
    if events.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Every `*.yaml`/`*.yml` document under `dir`: objects, events and pods into `snapshot`.
fn read_dir(dir: &Path, snapshot: &mut Snapshot) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.is_dir() {
            read_dir(&path, snapshot)?;
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            for document in serde_yaml_ng::Deserializer::from_str(&text) {
                let value = serde_json::Value::deserialize(document)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                for parsed in parse_document(&value, &mut Vec::new())
                    .into_iter()
                    .flatten()
                {
                    match parsed {
                        Document::Object(object) => snapshot.objects.push(object.into()),
                        Document::Event(event) => snapshot.events.push(event),
                        Document::Pod(pod) => snapshot.pods.push(pod),
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(())
}

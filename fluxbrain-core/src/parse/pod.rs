//! Controller pods from JSON.

use serde_json::{Map, Value};

use super::fields::{Field, FieldError, Path, array, object, required_string, string, time};
use crate::error::Problem;
use crate::model::pod::ControllerPod;

/// The container Flux runs its controllers in.
const CONTROLLER_CONTAINER: &str = "manager";

/// Reads a Pod: name, namespace, the controller it runs (label `app`, else
/// `app.kubernetes.io/component`, else the image name) and its image tag.
pub(crate) fn parse_pod(doc: &Map<String, Value>) -> Field<ControllerPod> {
    let root = Path::Root;
    let metadata_path = root.key("metadata");
    let metadata = object(doc.get("metadata"), &metadata_path)?
        .ok_or_else(|| FieldError::new(&metadata_path, Problem::Missing))?;
    let name = required_string(metadata.get("name"), &metadata_path.key("name"))?;
    let namespace =
        string(metadata.get("namespace"), &metadata_path.key("namespace"))?.unwrap_or_default();

    let labels_path = metadata_path.key("labels");
    let labels = object(metadata.get("labels"), &labels_path)?;
    let label = |k: &'static str| -> Field<Option<&str>> {
        Ok(string(labels.and_then(|l| l.get(k)), &labels_path.key(k))?.filter(|s| !s.is_empty()))
    };

    let spec_path = root.key("spec");
    let containers_path = spec_path.key("containers");
    let spec = object(doc.get("spec"), &spec_path)?;
    let containers =
        array(spec.and_then(|s| s.get("containers")), &containers_path)?.unwrap_or_default();
    let mut image = None;
    for (i, container) in containers.iter().enumerate() {
        let p = containers_path.index(i);
        let Some(container) = object(Some(container), &p)? else {
            continue;
        };
        let this = string(container.get("image"), &p.key("image"))?;
        let is_manager =
            string(container.get("name"), &p.key("name"))? == Some(CONTROLLER_CONTAINER);
        if is_manager || image.is_none() {
            image = this;
        }
        if is_manager {
            break;
        }
    }
    let (image_name, tag) = image.map(split_image).unwrap_or_default();

    let controller = match (label("app")?, label("app.kubernetes.io/component")?) {
        (Some(app), _) => app,
        (None, Some(component)) => component,
        (None, None) if !image_name.is_empty() => image_name,
        (None, None) => name,
    };

    let status_path = root.key("status");
    let status = object(doc.get("status"), &status_path)?;
    let phase = string(
        status.and_then(|s| s.get("phase")),
        &status_path.key("phase"),
    )?;

    Ok(ControllerPod {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        controller: controller.to_owned(),
        version: tag.map(str::to_owned),
        created: time(
            metadata.get("creationTimestamp"),
            &metadata_path.key("creationTimestamp"),
        )?,
        running: phase == Some("Running"),
    })
}

/// `ghcr.io/fluxcd/source-controller:v1.8.1@sha256:…` → (`source-controller`, `v1.8.1`).
fn split_image(image: &str) -> (&str, Option<&str>) {
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    match last.split_once(':') {
        Some((name, tag)) if !tag.is_empty() => (name, Some(tag)),
        _ => (last, None),
    }
}

#[cfg(test)]
mod tests {
    use super::split_image;

    #[test]
    fn image_tags() {
        assert_eq!(
            split_image("ghcr.io/fluxcd/source-controller:v1.8.1"),
            ("source-controller", Some("v1.8.1"))
        );
        assert_eq!(
            split_image("localhost:5000/fluxcd/helm-controller:v1.5.3@sha256:abc"),
            ("helm-controller", Some("v1.5.3"))
        );
        assert_eq!(
            split_image("ghcr.io/fluxcd/helm-controller@sha256:abc"),
            ("helm-controller", None)
        );
    }
}

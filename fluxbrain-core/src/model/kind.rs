//! Flux kinds, their API groups and their controllers (DESIGN.md section 4).

use std::fmt;

/// The kind of an object fluxbrain watches.
///
/// The Flux kinds are named; any other kind whose objects carry `status.conditions` is
/// [`Kind::Other`] and treated generically.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `kustomize.toolkit.fluxcd.io` Kustomization.
    Kustomization,
    /// `helm.toolkit.fluxcd.io` HelmRelease.
    HelmRelease,
    /// `source.toolkit.fluxcd.io` GitRepository.
    GitRepository,
    /// `source.toolkit.fluxcd.io` HelmRepository.
    HelmRepository,
    /// `source.toolkit.fluxcd.io` HelmChart.
    HelmChart,
    /// `source.toolkit.fluxcd.io` Bucket.
    Bucket,
    /// `source.toolkit.fluxcd.io` OCIRepository.
    OciRepository,
    /// `image.toolkit.fluxcd.io` ImageRepository.
    ImageRepository,
    /// `image.toolkit.fluxcd.io` ImagePolicy.
    ImagePolicy,
    /// `image.toolkit.fluxcd.io` ImageUpdateAutomation.
    ImageUpdateAutomation,
    /// Any other kind, by its name.
    Other(Box<str>),
}

/// The API group of Kustomizations.
pub const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";
/// The API group of HelmReleases.
pub const HELM_GROUP: &str = "helm.toolkit.fluxcd.io";
/// The API group of the source kinds.
pub const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";
/// The API group of the image automation kinds.
pub const IMAGE_GROUP: &str = "image.toolkit.fluxcd.io";
/// The API group of notification-controller's kinds.
pub const NOTIFICATION_GROUP: &str = "notification.toolkit.fluxcd.io";

impl Kind {
    /// Every named Flux kind, in the order of DESIGN.md section 4.
    pub const FLUX: [Kind; 10] = [
        Kind::Kustomization,
        Kind::HelmRelease,
        Kind::GitRepository,
        Kind::HelmRepository,
        Kind::HelmChart,
        Kind::Bucket,
        Kind::OciRepository,
        Kind::ImageRepository,
        Kind::ImagePolicy,
        Kind::ImageUpdateAutomation,
    ];

    /// The kind named `name` (as in `kind:` or a `sourceRef.kind`).
    pub fn from_name(name: &str) -> Kind {
        match name {
            "Kustomization" => Kind::Kustomization,
            "HelmRelease" => Kind::HelmRelease,
            "GitRepository" => Kind::GitRepository,
            "HelmRepository" => Kind::HelmRepository,
            "HelmChart" => Kind::HelmChart,
            "Bucket" => Kind::Bucket,
            "OCIRepository" => Kind::OciRepository,
            "ImageRepository" => Kind::ImageRepository,
            "ImagePolicy" => Kind::ImagePolicy,
            "ImageUpdateAutomation" => Kind::ImageUpdateAutomation,
            other => Kind::Other(other.into()),
        }
    }

    /// The kind of an object with this `apiVersion` and `kind`: a Flux name in a foreign
    /// group (say, a CRD of another project also called `Bucket`) is [`Kind::Other`]; an empty
    /// `apiVersion` (a reference that does not say) trusts the name.
    pub fn from_api(api_version: &str, name: &str) -> Kind {
        let kind = Kind::from_name(name);
        match kind.group() {
            Some(group) if !api_version.is_empty() && group != group_of(api_version) => {
                Kind::Other(name.into())
            }
            _ => kind,
        }
    }

    /// The kind's name as Kubernetes spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Kustomization => "Kustomization",
            Kind::HelmRelease => "HelmRelease",
            Kind::GitRepository => "GitRepository",
            Kind::HelmRepository => "HelmRepository",
            Kind::HelmChart => "HelmChart",
            Kind::Bucket => "Bucket",
            Kind::OciRepository => "OCIRepository",
            Kind::ImageRepository => "ImageRepository",
            Kind::ImagePolicy => "ImagePolicy",
            Kind::ImageUpdateAutomation => "ImageUpdateAutomation",
            Kind::Other(name) => name,
        }
    }

    /// The API group of a named Flux kind; `None` for [`Kind::Other`].
    pub fn group(&self) -> Option<&'static str> {
        match self {
            Kind::Kustomization => Some(KUSTOMIZE_GROUP),
            Kind::HelmRelease => Some(HELM_GROUP),
            Kind::GitRepository
            | Kind::HelmRepository
            | Kind::HelmChart
            | Kind::Bucket
            | Kind::OciRepository => Some(SOURCE_GROUP),
            Kind::ImageRepository | Kind::ImagePolicy | Kind::ImageUpdateAutomation => {
                Some(IMAGE_GROUP)
            }
            Kind::Other(_) => None,
        }
    }

    /// The controller that reconciles this kind (`source.name` of its events).
    pub fn controller(&self) -> Option<&'static str> {
        match self {
            Kind::Kustomization => Some("kustomize-controller"),
            Kind::HelmRelease => Some("helm-controller"),
            Kind::GitRepository
            | Kind::HelmRepository
            | Kind::HelmChart
            | Kind::Bucket
            | Kind::OciRepository => Some("source-controller"),
            Kind::ImageRepository | Kind::ImagePolicy => Some("image-reflector-controller"),
            Kind::ImageUpdateAutomation => Some("image-automation-controller"),
            Kind::Other(_) => None,
        }
    }

    /// Whether the kind is a source (it produces artifacts that others consume).
    pub fn is_source(&self) -> bool {
        matches!(
            self,
            Kind::GitRepository
                | Kind::HelmRepository
                | Kind::HelmChart
                | Kind::Bucket
                | Kind::OciRepository
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The group part of an `apiVersion` (`""` for the core group).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// The controller of a kind in `group`: the Flux table, else notification-controller's group,
/// else the group itself (a fact about the object, never a guess at a process name).
pub fn controller_of(kind: &Kind, api_version: &str) -> String {
    match kind.controller() {
        Some(controller) => controller.to_owned(),
        None => match group_of(api_version) {
            NOTIFICATION_GROUP => "notification-controller".to_owned(),
            "" => "kubernetes".to_owned(),
            group => group.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in Kind::FLUX {
            assert_eq!(Kind::from_name(kind.as_str()), kind);
        }
        assert_eq!(Kind::from_name("Alert"), Kind::Other("Alert".into()));
    }

    #[test]
    fn foreign_group_is_other() {
        assert_eq!(
            Kind::from_api("storage.example.com/v1", "Bucket"),
            Kind::Other("Bucket".into())
        );
        assert_eq!(
            Kind::from_api("source.toolkit.fluxcd.io/v1beta2", "Bucket"),
            Kind::Bucket
        );
    }

    #[test]
    fn controllers() {
        assert_eq!(
            controller_of(&Kind::ImagePolicy, "image.toolkit.fluxcd.io/v1"),
            "image-reflector-controller"
        );
        assert_eq!(
            controller_of(
                &Kind::Other("Receiver".into()),
                "notification.toolkit.fluxcd.io/v1"
            ),
            "notification-controller"
        );
        assert_eq!(
            controller_of(&Kind::Other("Certificate".into()), "cert-manager.io/v1"),
            "cert-manager.io"
        );
    }
}

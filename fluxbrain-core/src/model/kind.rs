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
    /// `notification.toolkit.fluxcd.io` Receiver.
    Receiver,
    /// `source.toolkit.fluxcd.io` ExternalArtifact: an artifact another controller produces.
    ExternalArtifact,
    /// `source.extensions.fluxcd.io` ArtifactGenerator (source-watcher).
    ArtifactGenerator,
    /// `fluxcd.controlplane.io` FluxInstance: the Flux Operator's installation of Flux itself.
    FluxInstance,
    /// `fluxcd.controlplane.io` ResourceSet.
    ResourceSet,
    /// `fluxcd.controlplane.io` ResourceSetInputProvider.
    ResourceSetInputProvider,
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
/// The API group of source-watcher's ArtifactGenerator.
pub const SOURCE_EXTENSIONS_GROUP: &str = "source.extensions.fluxcd.io";
/// The API group of the Flux Operator's kinds.
pub const CONTROLPLANE_GROUP: &str = "fluxcd.controlplane.io";

impl Kind {
    /// Every named Flux kind, in the order of DESIGN.md section 4.
    pub const FLUX: [Kind; 16] = [
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
        Kind::Receiver,
        Kind::ExternalArtifact,
        Kind::ArtifactGenerator,
        Kind::FluxInstance,
        Kind::ResourceSet,
        Kind::ResourceSetInputProvider,
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
            "Receiver" => Kind::Receiver,
            "ExternalArtifact" => Kind::ExternalArtifact,
            "ArtifactGenerator" => Kind::ArtifactGenerator,
            "FluxInstance" => Kind::FluxInstance,
            "ResourceSet" => Kind::ResourceSet,
            "ResourceSetInputProvider" => Kind::ResourceSetInputProvider,
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
            Kind::Receiver => "Receiver",
            Kind::ExternalArtifact => "ExternalArtifact",
            Kind::ArtifactGenerator => "ArtifactGenerator",
            Kind::FluxInstance => "FluxInstance",
            Kind::ResourceSet => "ResourceSet",
            Kind::ResourceSetInputProvider => "ResourceSetInputProvider",
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
            | Kind::OciRepository
            | Kind::ExternalArtifact => Some(SOURCE_GROUP),
            Kind::ImageRepository | Kind::ImagePolicy | Kind::ImageUpdateAutomation => {
                Some(IMAGE_GROUP)
            }
            Kind::Receiver => Some(NOTIFICATION_GROUP),
            Kind::ArtifactGenerator => Some(SOURCE_EXTENSIONS_GROUP),
            Kind::FluxInstance | Kind::ResourceSet | Kind::ResourceSetInputProvider => {
                Some(CONTROLPLANE_GROUP)
            }
            Kind::Other(_) => None,
        }
    }

    /// The controller that reconciles this kind (`source.name` of its events). An
    /// ExternalArtifact is written by whichever controller produces it: see
    /// [`FluxObject::controller`](crate::FluxObject::controller); this table names none.
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
            Kind::Receiver => Some("notification-controller"),
            Kind::ArtifactGenerator => Some("source-watcher"),
            Kind::FluxInstance | Kind::ResourceSet | Kind::ResourceSetInputProvider => {
                Some("flux-operator")
            }
            Kind::ExternalArtifact | Kind::Other(_) => None,
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
                | Kind::ExternalArtifact
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

/// Kubernetes' version priority, for sorting (highest first with `Reverse`): GA before beta
/// before alpha, then by number (`v2 > v1 > v2beta2 > v2beta1 > v1beta2 > v1alpha1`); a
/// version that does not follow the pattern sorts last.
pub fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(major) = rest[..digits].parse() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits..];
    let (stage, minor) = if let Some(t) = tail.strip_prefix("beta") {
        (2, t)
    } else if let Some(t) = tail.strip_prefix("alpha") {
        (1, t)
    } else if tail.is_empty() {
        (3, "0")
    } else {
        return (0, 0, 0);
    };
    match minor.parse() {
        Ok(minor) => (stage, major, minor),
        Err(_) => (0, 0, 0),
    }
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
    fn versions_sort_like_kubernetes() {
        let mut versions = [
            "v1beta2", "v2beta1", "v1", "foo", "v2", "v1alpha1", "v2beta2",
        ];
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(
            versions,
            [
                "v2", "v1", "v2beta2", "v2beta1", "v1beta2", "v1alpha1", "foo"
            ]
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

//! RBAC as the API server's authorizer applies it, for one ServiceAccount: Roles,
//! ClusterRoles and their bindings loaded from YAML (e.g. `kubectl kustomize deploy/base`),
//! and every request of that ServiceAccount checked against them.
//!
//! Semantics followed: a request has a verb (`get`, `list`, `watch`, `create`, `update`,
//! `patch`, `delete`, `deletecollection`), an API group, a resource and subresource
//! (`pods/log`), a namespace (none for cluster-scoped resources and lists across namespaces)
//! and a name. A rule allows it when its verbs, groups and resources (or `*`) include the
//! request's, and its `resourceNames`, when given, include the request's name (so `create`
//! and unnamed lists never match a rule with names; a list or watch with the field selector
//! `metadata.name=N` counts as named `N`). A RoleBinding grants its role's rules in its own
//! namespace only; a ClusterRoleBinding grants a ClusterRole's rules everywhere. Discovery
//! and other non-resource paths (`/api`, `/apis`, `/version`, `/openapi`) are allowed, as
//! the default `system:discovery` binding allows them to every authenticated user.
//! Aggregated ClusterRoles are not supported.

use std::path::Path;

use serde_json::Value;

use crate::Error;

/// The ServiceAccount requests are authorized as, and the rules that apply.
#[derive(Debug, Clone)]
pub struct Rbac {
    namespace: String,
    name: String,
    /// `(namespace, rules)` granted by RoleBindings; `None` namespace: by ClusterRoleBindings.
    grants: Vec<(Option<String>, Vec<Rule>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    verbs: Vec<String>,
    groups: Vec<String>,
    resources: Vec<String>,
    names: Vec<String>,
    urls: Vec<String>,
}

/// What a request asks to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attributes {
    /// A resource request.
    Resource {
        verb: &'static str,
        group: String,
        resource: String,
        subresource: Option<String>,
        namespace: Option<String>,
        name: Option<String>,
    },
    /// Discovery and the like.
    NonResource,
}

#[derive(Debug)]
struct Role {
    namespace: Option<String>,
    name: String,
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Binding {
    /// `None` for a ClusterRoleBinding.
    namespace: Option<String>,
    role_kind: String,
    role_name: String,
    subjects: Vec<Value>,
}

impl Rbac {
    /// Loads the RBAC documents of `text` (multi-document YAML or JSON; `path` names it in
    /// errors) for the ServiceAccount `namespace/name`. Documents of other kinds (the
    /// Deployment, Services, ... of a rendered kustomization) are skipped.
    ///
    /// # Errors
    /// [`Error::Parse`] for a document that is not YAML; [`Error::Invalid`] naming the document
    /// when it has no `apiVersion` and `kind`, or is a Role, ClusterRole or binding whose
    /// fields are not what the RBAC API takes.
    pub fn from_yaml(text: &str, path: &Path, subject: &str) -> Result<Rbac, Error> {
        let invalid = |document: usize, message: String| Error::Invalid {
            path: path.to_path_buf(),
            document,
            message,
        };
        let Some((namespace, name)) = subject
            .split_once('/')
            .filter(|(ns, n)| !ns.is_empty() && !n.is_empty() && !n.contains('/'))
        else {
            return Err(invalid(
                0,
                format!("--as {subject:?}: expected NAMESPACE/SERVICEACCOUNT"),
            ));
        };
        let mut roles = Vec::new();
        let mut bindings = Vec::new();
        for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let n = index + 1;
            let value = serde::Deserialize::deserialize(document).map_err(|e| Error::Parse {
                path: path.to_path_buf(),
                document: n,
                source: Box::new(e),
            })?;
            let value: Value = value;
            if value.is_null() {
                continue;
            }
            let api_version = value.get("apiVersion").and_then(Value::as_str);
            let kind = value.get("kind").and_then(Value::as_str);
            let (Some(api_version), Some(kind)) = (api_version, kind) else {
                return Err(invalid(
                    n,
                    "not a Kubernetes object: no apiVersion and kind".into(),
                ));
            };
            if kind == "List" {
                return Err(invalid(n, "a List: give the objects as documents".into()));
            }
            let rbac = api_version == "rbac.authorization.k8s.io/v1";
            let object = |what: &str| -> Result<(Option<String>, String), Error> {
                let meta = value.get("metadata");
                let name = meta
                    .and_then(|m| m.get("name"))
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| invalid(n, format!("{what} without metadata.name")))?;
                let namespace = meta
                    .and_then(|m| m.get("namespace"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Ok((namespace, name.to_owned()))
            };
            match kind {
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" if !rbac => {
                    return Err(invalid(
                        n,
                        format!("{kind} of {api_version}: expected rbac.authorization.k8s.io/v1"),
                    ));
                }
                "Role" | "ClusterRole" => {
                    let (namespace, name) = object(kind)?;
                    if value.get("aggregationRule").is_some() {
                        return Err(invalid(
                            n,
                            format!("{kind} {name}: aggregation is not supported"),
                        ));
                    }
                    let namespace = match kind {
                        "Role" => Some(namespace.ok_or_else(|| {
                            invalid(n, format!("Role {name} without metadata.namespace"))
                        })?),
                        _ => None,
                    };
                    let rules = match value.get("rules") {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Array(rules)) => rules
                            .iter()
                            .enumerate()
                            .map(|(i, r)| {
                                rule(r).map_err(|m| {
                                    invalid(n, format!("{kind} {name}: rule {}: {m}", i + 1))
                                })
                            })
                            .collect::<Result<_, _>>()?,
                        Some(_) => {
                            return Err(invalid(n, format!("{kind} {name}: rules is not a list")));
                        }
                    };
                    roles.push(Role {
                        namespace,
                        name,
                        rules,
                    });
                }
                "RoleBinding" | "ClusterRoleBinding" => {
                    let (namespace, name) = object(kind)?;
                    let role_ref = value
                        .get("roleRef")
                        .ok_or_else(|| invalid(n, format!("{kind} {name} without roleRef")))?;
                    let field = |f: &str| {
                        role_ref
                            .get(f)
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                            .ok_or_else(|| {
                                invalid(n, format!("{kind} {name}: roleRef.{f} missing"))
                            })
                    };
                    let role_kind = field("kind")?;
                    if role_kind != "Role" && role_kind != "ClusterRole" {
                        return Err(invalid(
                            n,
                            format!("{kind} {name}: roleRef.kind {role_kind:?}"),
                        ));
                    }
                    if kind == "ClusterRoleBinding" && role_kind == "Role" {
                        return Err(invalid(n, format!("{kind} {name}: binds a Role")));
                    }
                    let subjects = match value.get("subjects") {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Array(s)) => s.clone(),
                        Some(_) => {
                            return Err(invalid(
                                n,
                                format!("{kind} {name}: subjects is not a list"),
                            ));
                        }
                    };
                    let namespace = match kind {
                        "RoleBinding" => Some(namespace.ok_or_else(|| {
                            invalid(n, format!("RoleBinding {name} without metadata.namespace"))
                        })?),
                        _ => None,
                    };
                    bindings.push(Binding {
                        namespace,
                        role_kind,
                        role_name: field("name")?,
                        subjects,
                    });
                }
                _ => {}
            }
        }
        let mut rbac = Rbac {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            grants: Vec::new(),
        };
        for binding in &bindings {
            if !binding
                .subjects
                .iter()
                .any(|s| rbac.is_subject(s, binding.namespace.as_deref()))
            {
                continue;
            }
            let role_namespace = match binding.role_kind.as_str() {
                "Role" => binding.namespace.as_deref(),
                _ => None,
            };
            // A binding to a role that does not exist grants nothing, as in the API server.
            if let Some(role) = roles
                .iter()
                .find(|r| r.name == binding.role_name && r.namespace.as_deref() == role_namespace)
            {
                rbac.grants
                    .push((binding.namespace.clone(), role.rules.clone()));
            }
        }
        Ok(rbac)
    }

    /// Reads and loads `path`; see [`Rbac::from_yaml`].
    ///
    /// # Errors
    /// [`Error::Read`], and those of [`Rbac::from_yaml`].
    pub fn from_file(path: impl AsRef<Path>, subject: &str) -> Result<Rbac, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Rbac::from_yaml(&text, path, subject)
    }

    /// `system:serviceaccount:<namespace>:<name>`.
    pub fn user(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }

    /// The bearer token the simulator's kubeconfig carries for this ServiceAccount.
    pub fn token(&self) -> String {
        format!("fluxbrain-sim:{}:{}", self.namespace, self.name)
    }

    fn is_subject(&self, subject: &Value, binding_namespace: Option<&str>) -> bool {
        let field = |f: &str| subject.get(f).and_then(Value::as_str);
        match field("kind") {
            Some("ServiceAccount") => {
                field("name") == Some(self.name.as_str())
                    && field("namespace").or(binding_namespace) == Some(self.namespace.as_str())
            }
            Some("User") => field("name") == Some(self.user().as_str()),
            Some("Group") => {
                let ns_group = format!("system:serviceaccounts:{}", self.namespace);
                matches!(
                    field("name"),
                    Some("system:serviceaccounts" | "system:authenticated")
                ) || field("name") == Some(ns_group.as_str())
            }
            _ => false,
        }
    }

    /// Whether the ServiceAccount may do `attributes`.
    pub(crate) fn allows(&self, attributes: &Attributes) -> bool {
        let Attributes::Resource {
            verb,
            group,
            resource,
            subresource,
            namespace,
            name,
        } = attributes
        else {
            return true;
        };
        let full = match subresource {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.clone(),
        };
        self.grants.iter().any(|(scope, rules)| {
            let in_scope = match (scope, namespace) {
                (None, _) => true,
                (Some(granted), Some(asked)) => granted == asked,
                (Some(_), None) => false,
            };
            in_scope
                && rules.iter().any(|r| {
                    has(&r.verbs, verb)
                        && has(&r.groups, group)
                        && (has(&r.resources, &full)
                            || subresource.as_ref().is_some_and(|sub| {
                                r.resources.iter().any(|x| *x == format!("*/{sub}"))
                            }))
                        && (r.names.is_empty()
                            || name.as_ref().is_some_and(|n| r.names.contains(n)))
                })
        })
    }
}

fn has(list: &[String], item: &str) -> bool {
    list.iter().any(|x| x == "*" || x == item)
}

fn rule(value: &Value) -> Result<Rule, String> {
    let list = |field: &str| -> Result<Vec<String>, String> {
        match value.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{field} holds a non-string"))
                })
                .collect(),
            Some(_) => Err(format!("{field} is not a list")),
        }
    };
    let rule = Rule {
        verbs: list("verbs")?,
        groups: list("apiGroups")?,
        resources: list("resources")?,
        names: list("resourceNames")?,
        urls: list("nonResourceURLs")?,
    };
    if rule.verbs.is_empty() {
        return Err("no verbs".into());
    }
    if rule.resources.is_empty() && rule.urls.is_empty() {
        return Err("neither resources nor nonResourceURLs".into());
    }
    Ok(rule)
}

impl Attributes {
    /// The attributes of a request: `method`, the path's `segments` and, for lists and
    /// watches, whether it watches and the `metadata.name` its field selector names.
    pub(crate) fn of(
        method: &axum::http::Method,
        segments: &[&str],
        watching: bool,
        field_name: Option<&str>,
    ) -> Attributes {
        let (group, rest) = match segments {
            ["api", "v1", rest @ ..] => (String::new(), rest),
            ["apis", group, _version, rest @ ..] => ((*group).to_owned(), rest),
            _ => return Attributes::NonResource,
        };
        let (namespace, rest) = match rest {
            // The namespace object itself.
            ["namespaces", name] => (None, &["namespaces", name][..]),
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
            rest => (None, rest),
        };
        let (resource, name, subresource) = match rest {
            [resource] => (*resource, None, None),
            [resource, name] => (*resource, Some((*name).to_owned()), None),
            [resource, name, sub] => (*resource, Some((*name).to_owned()), Some((*sub).to_owned())),
            _ => return Attributes::NonResource,
        };
        let named = name.is_some();
        let verb = match *method {
            axum::http::Method::GET | axum::http::Method::HEAD if watching => "watch",
            axum::http::Method::GET | axum::http::Method::HEAD if named => "get",
            axum::http::Method::GET | axum::http::Method::HEAD => "list",
            axum::http::Method::POST => "create",
            axum::http::Method::PUT => "update",
            axum::http::Method::PATCH => "patch",
            axum::http::Method::DELETE if named => "delete",
            axum::http::Method::DELETE => "deletecollection",
            _ => "unknown",
        };
        let name = name.or_else(|| field_name.map(str::to_owned));
        Attributes::Resource {
            verb,
            group,
            resource: resource.to_owned(),
            subresource,
            namespace,
            name,
        }
    }

    /// The API server's words for a denied request.
    pub(crate) fn forbidden_message(&self, user: &str) -> String {
        let Attributes::Resource {
            verb,
            group,
            resource,
            subresource,
            namespace,
            name,
        } = self
        else {
            return format!("forbidden: User \"{user}\" cannot access this path");
        };
        let what = if group.is_empty() {
            resource.clone()
        } else {
            format!("{resource}.{group}")
        };
        let what = match name {
            Some(name) => format!("{what} \"{name}\""),
            None => what,
        };
        let full = match subresource {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.clone(),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_owned(),
        };
        format!(
            "{what} is forbidden: User \"{user}\" cannot {verb} resource \"{full}\" in API group \"{group}\" {scope}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    const POLICY: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: fluxbrain, namespace: flux-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
- apiGroups: [kustomize.toolkit.fluxcd.io]
  resources: [kustomizations]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: ServiceAccount, name: fluxbrain, namespace: flux-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: state, namespace: flux-system}
rules:
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [fluxbrain-state]
  verbs: [get, update]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: state, namespace: flux-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: state}
subjects: [{kind: ServiceAccount, name: fluxbrain}]
"#;

    fn rbac() -> Rbac {
        Rbac::from_yaml(POLICY, Path::new("p.yaml"), "flux-system/fluxbrain").unwrap()
    }

    fn attrs(method: Method, path: &str, watching: bool) -> Attributes {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        Attributes::of(&method, &segments, watching, None)
    }

    #[test]
    fn verbs_scopes_subresources_and_names() {
        let rbac = rbac();
        let k = "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations";
        assert!(
            rbac.allows(&attrs(Method::GET, k, false)),
            "list across namespaces"
        );
        assert!(rbac.allows(&attrs(Method::GET, k, true)), "watch");
        assert!(!rbac.allows(&attrs(Method::POST, k, false)), "no create");
        let cm = "/api/v1/namespaces/flux-system/configmaps";
        assert!(rbac.allows(&attrs(Method::GET, &format!("{cm}/fluxbrain-state"), false)));
        assert!(rbac.allows(&attrs(Method::PUT, &format!("{cm}/fluxbrain-state"), false)));
        assert!(
            !rbac.allows(&attrs(Method::GET, &format!("{cm}/other"), false)),
            "resourceNames"
        );
        assert!(!rbac.allows(&attrs(
            Method::DELETE,
            &format!("{cm}/fluxbrain-state"),
            false
        )));
        assert!(
            !rbac.allows(&attrs(Method::GET, cm, false)),
            "a named rule allows no list"
        );
        assert!(
            rbac.allows(&attrs(Method::POST, cm, false)),
            "create needs no name"
        );
        assert!(
            !rbac.allows(&attrs(
                Method::GET,
                "/api/v1/namespaces/other/configmaps/fluxbrain-state",
                false
            )),
            "a Role grants in its namespace only"
        );
        let log = "/api/v1/namespaces/flux-system/pods/p/log";
        assert!(rbac.allows(&attrs(Method::GET, log, false)), "pods/log");
        assert!(
            !rbac.allows(&attrs(
                Method::GET,
                "/api/v1/namespaces/flux-system/pods/p",
                false
            )),
            "pods/log is not pods"
        );
        assert!(
            rbac.allows(&attrs(Method::GET, "/apis", false)),
            "discovery"
        );
        assert!(rbac.allows(&attrs(
            Method::GET,
            "/apis/kustomize.toolkit.fluxcd.io/v1",
            false
        )));
    }

    #[test]
    fn the_message_is_the_api_servers() {
        let a = attrs(
            Method::GET,
            "/api/v1/namespaces/flux-system/pods/p/log",
            false,
        );
        assert_eq!(
            a.forbidden_message("system:serviceaccount:flux-system:fluxbrain"),
            "pods \"p\" is forbidden: User \"system:serviceaccount:flux-system:fluxbrain\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"flux-system\""
        );
        let a = attrs(
            Method::GET,
            "/apis/helm.toolkit.fluxcd.io/v2/helmreleases",
            true,
        );
        assert!(a.forbidden_message("u").ends_with("cannot watch resource \"helmreleases\" in API group \"helm.toolkit.fluxcd.io\" at the cluster scope"));
    }

    #[test]
    fn bad_documents_are_named() {
        let cases = [
            ("kind: Role\n", "document 1: not a Kubernetes object"),
            (
                "apiVersion: v1\nkind: ConfigMap\n---\n{apiVersion: rbac.authorization.k8s.io/v1, kind: Role, metadata: {name: r}}\n",
                "document 2: Role r without metadata.namespace",
            ),
            (
                "{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: r}, rules: {}}\n",
                "document 1: ClusterRole r: rules is not a list",
            ),
            (
                "{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: r}, rules: [{resources: [pods]}]}\n",
                "rule 1: no verbs",
            ),
            (
                "{apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, metadata: {name: b, namespace: n}}\n",
                "RoleBinding b without roleRef",
            ),
            (
                "{apiVersion: rbac.authorization.k8s.io/v1beta1, kind: Role, metadata: {name: r, namespace: n}}\n",
                "expected rbac.authorization.k8s.io/v1",
            ),
            ("key: [unclosed\n", "document 1: not valid YAML"),
        ];
        for (text, want) in cases {
            let err = Rbac::from_yaml(text, Path::new("p.yaml"), "ns/sa")
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("p.yaml: ") && err.contains(want),
                "{err} / {want}"
            );
        }
        let err = Rbac::from_yaml("", Path::new("p.yaml"), "nobody")
            .unwrap_err()
            .to_string();
        assert!(err.contains("NAMESPACE/SERVICEACCOUNT"), "{err}");
    }
}

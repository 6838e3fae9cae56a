//! The kubeconfig that points kubectl and kube-rs at a simulator.

/// A kubeconfig (YAML) with one cluster, context and user named `fluxbrain-sim`, plain HTTP and
/// no credentials: the simulator's administrator.
pub fn kubeconfig(url: &str) -> String {
    kubeconfig_with_token(url, None)
}

/// [`kubeconfig`], its user carrying `token` (a ServiceAccount's, see [`crate::Rbac::token`]).
pub fn kubeconfig_with_token(url: &str, token: Option<&str>) -> String {
    let user = match token {
        Some(token) => format!("{{token: \"{token}\"}}"),
        None => "{}".to_owned(),
    };
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: fluxbrain-sim
  cluster:
    server: {url}
contexts:
- name: fluxbrain-sim
  context:
    cluster: fluxbrain-sim
    user: fluxbrain-sim
    namespace: default
current-context: fluxbrain-sim
users:
- name: fluxbrain-sim
  user: {user}
preferences: {{}}
"
    )
}

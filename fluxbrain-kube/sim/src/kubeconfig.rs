//! The kubeconfig that points kubectl and kube-rs at a simulator.

/// A kubeconfig (YAML) with one cluster, context and user named `fluxbrain-sim`, plain HTTP and
/// no credentials (the simulator has no authentication).
pub fn kubeconfig(url: &str) -> String {
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
  user: {{}}
preferences: {{}}
"
    )
}

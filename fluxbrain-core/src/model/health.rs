//! Health classification: a fact read off the conditions, never a judgement (DESIGN.md §5).

use super::object::{Condition, ConditionStatus, FluxObject};

/// The health of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Health {
    /// `Ready` is `True`.
    Healthy,
    /// `Ready` is `False` (or `Stalled` is `True`) and the object is not suspended.
    Failing,
    /// `Ready` is `Unknown`: the controller is working on it.
    Progressing,
    /// `spec.suspend` is true.
    Suspended,
    /// No `Ready` condition yet.
    Unknown,
}

impl Health {
    /// Lower-case name, for metrics and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Failing => "failing",
            Health::Progressing => "progressing",
            Health::Suspended => "suspended",
            Health::Unknown => "unknown",
        }
    }
}

impl FluxObject {
    /// Classifies the object by DESIGN.md section 5.
    pub fn health(&self) -> Health {
        if self.suspended {
            return Health::Suspended;
        }
        if self.failing_condition().is_some() {
            return Health::Failing;
        }
        match self.condition("Ready").map(|c| c.status) {
            Some(ConditionStatus::True) => Health::Healthy,
            Some(ConditionStatus::Unknown) => Health::Progressing,
            Some(ConditionStatus::False) | None => Health::Unknown,
        }
    }

    /// The `Drifted` condition of a HelmRelease when it is `True` (helm-controller ≥ 1.6 sets
    /// it when drift detection, `warn` or `enabled`, finds the cluster state differs from the
    /// release; `False` with reason `NoDriftDetected` once it matches again). Not a failure:
    /// Ready stays as it was. Ignores `spec.suspend`.
    pub fn drift_condition(&self) -> Option<&Condition> {
        if self.key.kind != crate::model::kind::Kind::HelmRelease {
            return None;
        }
        self.condition("Drifted")
            .filter(|c| c.status == ConditionStatus::True)
    }

    /// The condition an incident is about: the failing condition, else (when drift is
    /// reported, `report_drift`) the [`drift_condition`](Self::drift_condition) of an object
    /// that is not suspended.
    pub fn reported_condition(&self, report_drift: bool) -> Option<&Condition> {
        self.failing_condition().or_else(|| {
            (report_drift && !self.suspended)
                .then(|| self.drift_condition())
                .flatten()
        })
    }

    /// The condition that makes the object fail: `Ready` when it is `False`, else `Stalled`
    /// when it is `True`. Ignores `spec.suspend`; see [`FluxObject::health`].
    pub fn failing_condition(&self) -> Option<&Condition> {
        let ready = self.condition("Ready");
        if let Some(c) = ready.filter(|c| c.status == ConditionStatus::False) {
            return Some(c);
        }
        self.condition("Stalled")
            .filter(|c| c.status == ConditionStatus::True)
    }
}

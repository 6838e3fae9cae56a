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

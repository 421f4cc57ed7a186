//! Reward programs: untrusted code that turns reward states into named components.

use crate::state::StateView;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A compiled reward program, ready to evaluate step after step.
///
/// The reward of a step is the sum of its components; the components are kept
/// apart, in the program's own order, because the reflection is built from them.
pub trait RewardProgram: Send {
    /// Component names, in the order the program defines them.
    fn components(&self) -> &[String];

    /// Evaluates one step: `s` is the state after the step, `prev` the state
    /// before it. Writes one value per component into `out`.
    ///
    /// # Errors
    /// Any failure of the program (runtime error, limit hit, non-finite value) is
    /// returned as a [`RewardError`]; implementations never panic on bad programs.
    fn evaluate(
        &mut self,
        s: &StateView<'_>,
        prev: &StateView<'_>,
        out: &mut [f64],
    ) -> Result<(), RewardError>;

    /// An independent evaluator of the same program, for another thread or
    /// environment instance.
    fn fork(&self) -> Box<dyn RewardProgram>;
}

/// One step's reward, split into named components.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RewardOutput {
    /// Component names, in program order (shared by every output of a program).
    pub names: Arc<[String]>,
    /// Component values, aligned with `names`.
    pub values: Vec<f64>,
}

impl RewardOutput {
    /// The reward: the sum of the components.
    #[must_use]
    pub fn total(&self) -> f64 {
        self.values.iter().sum()
    }

    /// The value of the component called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<f64> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.values[i])
    }
}

/// What kind of failure a reward program had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RewardErrorKind {
    /// The source does not parse.
    Syntax,
    /// `compute_reward` is missing or has the wrong parameters.
    MissingFunction,
    /// The function returned something other than a map of numbers.
    WrongReturnType,
    /// The program reads a reward-state field that does not exist.
    UnknownField,
    /// An error raised while running (type mismatch, division by zero, …).
    Runtime,
    /// A component was NaN or infinite.
    NonFinite,
    /// The operation budget of one call was exhausted.
    TooManyOperations,
    /// Too deep a call stack (recursion).
    CallDepth,
    /// Too deeply nested an expression.
    ExprDepth,
    /// A string, array or map grew beyond its cap.
    DataTooLarge,
    /// The wall-clock deadline passed.
    Timeout,
    /// A forbidden feature was used (`eval`, `import`, I/O).
    Forbidden,
    /// A WebAssembly trap.
    Trap,
    /// The WebAssembly fuel budget was exhausted.
    OutOfFuel,
    /// Linear memory or tables grew beyond their caps.
    MemoryLimit,
    /// The module asked for imports; reward modules get none.
    Imports,
    /// The binary or text module is malformed or breaks the reward ABI.
    Malformed,
    /// The program returned no component at all.
    NoComponents,
    /// The set of components changed between calls.
    ComponentsChanged,
}

impl fmt::Display for RewardErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).unwrap_or_default();
        f.write_str(text.trim_matches('"'))
    }
}

/// A reward program's failure, short and precise, written to be pasted into an
/// LLM's feedback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct RewardError {
    /// What went wrong, as a category.
    pub kind: RewardErrorKind,
    /// What went wrong, in words.
    pub message: String,
    /// 1-based source line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based source column, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// The component involved, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
}

impl RewardError {
    /// An error with no position.
    #[must_use]
    pub fn new(kind: RewardErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            line: None,
            column: None,
            component: None,
        }
    }

    /// Adds a source position.
    #[must_use]
    pub fn at(mut self, line: u32, column: u32) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Names the component involved.
    #[must_use]
    pub fn in_component(mut self, name: impl Into<String>) -> Self {
        self.component = Some(name.into());
        self
    }
}

impl fmt::Display for RewardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(line) = self.line {
            write!(f, " at line {line}")?;
            if let Some(col) = self.column {
                write!(f, ", column {col}")?;
            }
        }
        if let Some(c) = &self.component {
            write!(f, " in component `{c}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_names_kind_position_and_component() {
        let e = RewardError::new(RewardErrorKind::NonFinite, "value is NaN")
            .at(3, 9)
            .in_component("upright");
        assert_eq!(
            e.to_string(),
            "non_finite at line 3, column 9 in component `upright`: value is NaN"
        );
    }

    #[test]
    fn output_total_is_the_sum_of_components() {
        let out = RewardOutput {
            names: vec!["a".to_string(), "b".to_string()].into(),
            values: vec![1.5, -0.5],
        };
        assert_eq!(out.total(), 1.0);
        assert_eq!(out.get("b"), Some(-0.5));
    }
}

//! The reward state: the named, documented quantities a reward program reads.
//!
//! An environment declares its fields once in a [`StateSpec`] (name, scalar or
//! vector, unit, frame, meaning) and writes their values each step into a flat
//! `f64` buffer laid out in declaration order. A [`StateView`] pairs the two and
//! is free to create, so reading the state costs no allocation.

use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// The shape of one reward-state field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "len")]
pub enum FieldKind {
    /// One number.
    Scalar,
    /// A small vector of the given length (2, 3, a quaternion's 4, or a joint list).
    Vector(usize),
}

impl FieldKind {
    /// How many numbers the field occupies in the flat buffer.
    #[must_use]
    pub fn len(self) -> usize {
        match self {
            Self::Scalar => 1,
            Self::Vector(n) => n,
        }
    }

    /// Whether the field occupies no numbers (never true for a valid spec).
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The short type name shown to reward authors: `float` or `vecN`.
    #[must_use]
    pub fn type_name(self) -> String {
        match self {
            Self::Scalar => "float".to_string(),
            Self::Vector(n) => format!("vec{n}"),
        }
    }
}

/// One named field of the reward state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldSpec {
    /// Identifier used in reward code (`s.torso_height`).
    pub name: String,
    /// Scalar or vector.
    #[serde(flatten)]
    pub kind: FieldKind,
    /// Physical unit, e.g. `m`, `m/s`, `rad`, `1` for dimensionless.
    pub unit: String,
    /// Frame the value is expressed in, e.g. `world`, `torso`, `joint`.
    pub frame: String,
    /// What the value means, in one sentence.
    pub doc: String,
    /// Offset of the first number in the flat buffer.
    pub offset: usize,
}

/// The declaration of an environment's reward state.
///
/// Cheap to clone (shared behind an `Arc`).
#[derive(Clone, Debug)]
pub struct StateSpec {
    inner: Arc<SpecInner>,
}

#[derive(Debug)]
struct SpecInner {
    fields: Vec<FieldSpec>,
    index: HashMap<String, usize>,
    len: usize,
}

impl PartialEq for StateSpec {
    fn eq(&self, other: &Self) -> bool {
        self.inner.fields == other.inner.fields
    }
}

impl StateSpec {
    /// Starts a declaration.
    pub fn builder() -> StateSpecBuilder {
        StateSpecBuilder::default()
    }

    /// The fields in declaration order.
    #[must_use]
    pub fn fields(&self) -> &[FieldSpec] {
        &self.inner.fields
    }

    /// Total numbers in the flat buffer.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Whether the spec declares no field.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.inner.fields.is_empty()
    }

    /// The field called `name`, if any.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.inner.index.get(name).map(|&i| &self.inner.fields[i])
    }

    /// Position of the field called `name` in [`fields`](Self::fields).
    #[must_use]
    pub fn position(&self, name: &str) -> Option<usize> {
        self.inner.index.get(name).copied()
    }

    /// The field names, comma separated, for error messages.
    #[must_use]
    pub fn field_names(&self) -> String {
        let names: Vec<&str> = self.inner.fields.iter().map(|f| f.name.as_str()).collect();
        names.join(", ")
    }

    /// A zeroed buffer of the right length.
    #[must_use]
    pub fn zeroed(&self) -> Vec<f64> {
        vec![0.0; self.len()]
    }

    /// The description a reward author (or an LLM) reads: one line per field with
    /// its type, unit, frame and meaning.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for f in self.fields() {
            let _ = writeln!(
                out,
                "- `{}`: {} [{}; frame: {}] {}",
                f.name,
                f.kind.type_name(),
                f.unit,
                f.frame,
                f.doc
            );
        }
        out
    }
}

/// Builds a [`StateSpec`] field by field.
#[derive(Default, Debug)]
#[must_use]
pub struct StateSpecBuilder {
    fields: Vec<FieldSpec>,
    len: usize,
}

impl StateSpecBuilder {
    /// Adds a scalar field.
    pub fn scalar(self, name: &str, unit: &str, frame: &str, doc: &str) -> Self {
        self.field(name, FieldKind::Scalar, unit, frame, doc)
    }

    /// Adds a vector field of length `n`.
    pub fn vector(self, name: &str, n: usize, unit: &str, frame: &str, doc: &str) -> Self {
        self.field(name, FieldKind::Vector(n), unit, frame, doc)
    }

    /// Adds a field of any kind.
    ///
    /// # Panics
    /// On a duplicate or non-identifier name, or an empty vector: specs are written
    /// by programmers, so a bad one is a bug caught by the first test that builds it.
    pub fn field(
        mut self,
        name: &str,
        kind: FieldKind,
        unit: &str,
        frame: &str,
        doc: &str,
    ) -> Self {
        assert!(
            is_identifier(name),
            "reward-state field `{name}` is not an identifier"
        );
        assert!(
            self.fields.iter().all(|f| f.name != name),
            "reward-state field `{name}` declared twice"
        );
        assert!(!kind.is_empty(), "reward-state field `{name}` has length 0");
        self.fields.push(FieldSpec {
            name: name.to_string(),
            kind,
            unit: unit.to_string(),
            frame: frame.to_string(),
            doc: doc.to_string(),
            offset: self.len,
        });
        self.len += kind.len();
        self
    }

    /// Finishes the declaration.
    #[must_use]
    pub fn build(self) -> StateSpec {
        let index = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        StateSpec {
            inner: Arc::new(SpecInner {
                fields: self.fields,
                index,
                len: self.len,
            }),
        }
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A borrowed reward state: a spec and the values of one step.
#[derive(Clone, Copy, Debug)]
pub struct StateView<'a> {
    spec: &'a StateSpec,
    values: &'a [f64],
}

impl<'a> StateView<'a> {
    /// Pairs a spec with a buffer written by [`Env::reward_state`](crate::Env::reward_state).
    ///
    /// # Panics
    /// If the buffer's length is not the spec's.
    #[must_use]
    pub fn new(spec: &'a StateSpec, values: &'a [f64]) -> Self {
        assert_eq!(
            spec.len(),
            values.len(),
            "reward-state buffer has wrong length"
        );
        Self { spec, values }
    }

    /// The spec.
    #[must_use]
    pub fn spec(&self) -> &'a StateSpec {
        self.spec
    }

    /// All values, in spec order.
    #[must_use]
    pub fn values(&self) -> &'a [f64] {
        self.values
    }

    /// The numbers of the field called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a [f64]> {
        self.spec
            .field(name)
            .map(|f| &self.values[f.offset..f.offset + f.kind.len()])
    }

    /// The value of a scalar field (the first number of a vector field).
    #[must_use]
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.get(name).map(|v| v[0])
    }

    /// The numbers of the `i`-th field in spec order.
    #[must_use]
    pub fn field_at(&self, i: usize) -> &'a [f64] {
        let f = &self.spec.fields()[i];
        &self.values[f.offset..f.offset + f.kind.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> StateSpec {
        StateSpec::builder()
            .scalar("height", "m", "world", "torso height")
            .vector("vel", 3, "m/s", "world", "torso velocity")
            .build()
    }

    #[test]
    fn offsets_follow_declaration_order() {
        let s = spec();
        assert_eq!(s.len(), 4);
        assert_eq!(s.field("vel").unwrap().offset, 1);
        let values = [0.5, 1.0, 2.0, 3.0];
        let view = StateView::new(&s, &values);
        assert_eq!(view.scalar("height"), Some(0.5));
        assert_eq!(view.get("vel"), Some(&[1.0, 2.0, 3.0][..]));
        assert_eq!(view.get("nope"), None);
    }

    #[test]
    fn describe_names_type_unit_and_frame() {
        let text = spec().describe();
        assert!(text.contains("`vel`: vec3 [m/s; frame: world] torso velocity"));
        assert!(text.contains("`height`: float [m; frame: world]"));
    }

    #[test]
    #[should_panic(expected = "declared twice")]
    fn duplicate_fields_are_rejected() {
        let _ = StateSpec::builder()
            .scalar("a", "m", "world", "")
            .scalar("a", "m", "world", "")
            .build();
    }
}

//! The reward state: the named, documented quantities a reward program reads.
//!
//! An environment declares its fields once in a [`StateSpec`] (name, scalar or
//! vector, unit, frame, meaning) and writes their values each step into a flat
//! `f64` buffer laid out in declaration order. A [`StateView`] pairs the two and
//! is free to create, so reading the state costs no allocation.
//!
//! Declaring a field with [`StateSpecBuilder::add_scalar`] or
//! [`StateSpecBuilder::add_vector`] returns a handle ([`ScalarHandle`],
//! [`VectorHandle`]); the environment keeps the handles and writes each step
//! through a [`StateWriter`], so no offset is ever counted by hand and the
//! order of the writes cannot drift from the order of the declaration.

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
    /// The tasks whose goal this field states or measures (a target, a goal
    /// spot, a distance to it), set by
    /// [`StateSpecBuilder::goal_of`]; empty for a field every task may use.
    /// Descriptions of any other task say the field is unused there, and
    /// pictures of them leave out its markers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub goal_of: Vec<String>,
}

impl FieldSpec {
    /// Whether `task` may use the field: it states no task's goal, or
    /// `task`'s own.
    #[must_use]
    pub fn used_by(&self, task: &str) -> bool {
        self.goal_of.is_empty() || self.goal_of.iter().any(|t| t == task)
    }
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

    /// [`describe`](Self::describe) as task `task` reads it: a field that
    /// states another task's goal (see [`FieldSpec::goal_of`]) says plainly
    /// that it is unused here instead of reading as a goal.
    #[must_use]
    pub fn describe_for(&self, task: &str) -> String {
        let mut out = String::new();
        for f in self.fields() {
            if f.used_by(task) {
                let _ = writeln!(
                    out,
                    "- `{}`: {} [{}; frame: {}] {}",
                    f.name,
                    f.kind.type_name(),
                    f.unit,
                    f.frame,
                    f.doc
                );
            } else {
                let _ = writeln!(
                    out,
                    "- `{}`: {} [{}] unused by this task: it belongs to the goal of {}, drawn at random each episode; it says nothing about this task",
                    f.name,
                    f.kind.type_name(),
                    f.unit,
                    f.goal_of.join(" and ")
                );
            }
        }
        out
    }
}

/// Builds a [`StateSpec`] field by field.
///
/// Environments declare with the `add_*` methods, which return the handle each
/// field is later written through (see [`StateWriter`]); the chained
/// [`scalar`](Self::scalar) / [`vector`](Self::vector) / [`field`](Self::field)
/// form suits specs that are only read (tests, reward programs' fixtures).
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
        self.push(name, kind, unit, frame, doc);
        self
    }

    /// Declares a scalar field and returns the handle to write it through.
    ///
    /// # Panics
    /// As [`field`](Self::field).
    #[must_use = "a field's value is written through its handle"]
    pub fn add_scalar(&mut self, name: &str, unit: &str, frame: &str, doc: &str) -> ScalarHandle {
        let (index, offset) = self.push(name, FieldKind::Scalar, unit, frame, doc);
        ScalarHandle { index, offset }
    }

    /// Declares a vector field of `N` numbers and returns the handle to write it
    /// through; `N` usually follows from the handle's use
    /// (`let p: VectorHandle<3> = …`) or is spelled `add_vector::<3>(…)`.
    ///
    /// # Panics
    /// As [`field`](Self::field).
    #[must_use = "a field's value is written through its handle"]
    pub fn add_vector<const N: usize>(
        &mut self,
        name: &str,
        unit: &str,
        frame: &str,
        doc: &str,
    ) -> VectorHandle<N> {
        let (index, offset) = self.push(name, FieldKind::Vector(N), unit, frame, doc);
        VectorHandle { index, offset }
    }

    /// Declares a three-number vector field (a position, a velocity):
    /// [`add_vector::<3>`](Self::add_vector).
    ///
    /// # Panics
    /// As [`field`](Self::field).
    #[must_use = "a field's value is written through its handle"]
    pub fn add_vec3(&mut self, name: &str, unit: &str, frame: &str, doc: &str) -> VectorHandle<3> {
        self.add_vector(name, unit, frame, doc)
    }

    /// Appends a field; returns its position and offset.
    fn push(
        &mut self,
        name: &str,
        kind: FieldKind,
        unit: &str,
        frame: &str,
        doc: &str,
    ) -> (usize, usize) {
        assert!(
            is_identifier(name),
            "reward-state field `{name}` is not an identifier"
        );
        assert!(
            self.fields.iter().all(|f| f.name != name),
            "reward-state field `{name}` declared twice"
        );
        assert!(!kind.is_empty(), "reward-state field `{name}` has length 0");
        let offset = self.len;
        self.fields.push(FieldSpec {
            name: name.to_string(),
            kind,
            unit: unit.to_string(),
            frame: frame.to_string(),
            doc: doc.to_string(),
            offset,
            goal_of: Vec::new(),
        });
        self.len += kind.len();
        (self.fields.len() - 1, offset)
    }

    /// Marks the fields named in `fields` as stating the goal of `tasks` only
    /// (see [`FieldSpec::goal_of`]).
    ///
    /// # Panics
    /// On a name not declared yet: specs are written by programmers.
    pub fn goal_of(&mut self, tasks: &[&str], fields: &[&str]) {
        for name in fields {
            let field = self
                .fields
                .iter_mut()
                .find(|f| f.name == *name)
                .unwrap_or_else(|| panic!("goal_of: no reward-state field `{name}`"));
            field.goal_of = tasks.iter().map(|t| (*t).to_string()).collect();
        }
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

/// A field handle: where a declared field lives in the flat buffer and what
/// value it takes. Implemented by [`ScalarHandle`] and [`VectorHandle`] only
/// (handles come from a declaration); write through one with [`StateWriter::set`].
pub trait FieldHandle: Copy + sealed::Sealed {
    /// What one write stores: `f64` for a scalar, `[f64; N]` for a vector.
    type Value;

    /// The field's position in [`StateSpec::fields`].
    fn index(self) -> usize;

    /// The offset of the field's first number in the flat buffer.
    fn offset(self) -> usize;

    /// The field's kind, as declared.
    fn kind(self) -> FieldKind;

    /// Stores `value` in the field's place in `values`.
    fn write(self, values: &mut [f64], value: Self::Value);
}

mod sealed {
    /// Keeps [`FieldHandle`](super::FieldHandle) to the handles of this module.
    pub trait Sealed {}
    impl Sealed for super::ScalarHandle {}
    impl<const N: usize> Sealed for super::VectorHandle<N> {}
}

/// The handle of a scalar field, returned by [`StateSpecBuilder::add_scalar`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalarHandle {
    index: usize,
    offset: usize,
}

impl FieldHandle for ScalarHandle {
    type Value = f64;

    fn index(self) -> usize {
        self.index
    }

    fn offset(self) -> usize {
        self.offset
    }

    fn kind(self) -> FieldKind {
        FieldKind::Scalar
    }

    fn write(self, values: &mut [f64], value: f64) {
        values[self.offset] = value;
    }
}

/// The handle of a vector field of `N` numbers, returned by
/// [`StateSpecBuilder::add_vector`]; its length is part of its type, so a
/// write of the wrong length does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorHandle<const N: usize> {
    index: usize,
    offset: usize,
}

impl<const N: usize> VectorHandle<N> {
    /// The field's numbers inside the flat buffer `values`.
    ///
    /// # Panics
    /// If `values` is too short to hold the field.
    pub fn slot(self, values: &mut [f64]) -> &mut [f64; N] {
        (&mut values[self.offset..self.offset + N])
            .try_into()
            .expect("a range of N numbers is an array of N")
    }
}

impl<const N: usize> FieldHandle for VectorHandle<N> {
    type Value = [f64; N];

    fn index(self) -> usize {
        self.index
    }

    fn offset(self) -> usize {
        self.offset
    }

    fn kind(self) -> FieldKind {
        FieldKind::Vector(N)
    }

    fn write(self, values: &mut [f64], value: [f64; N]) {
        *self.slot(values) = value;
    }
}

/// Writes one step's reward state through field handles.
///
/// Wraps the buffer [`Env::reward_state`](crate::Env::reward_state) receives.
/// Creating one checks the buffer's length against the spec; in debug builds
/// every write also checks that its handle was declared by that spec.
///
/// ```
/// use rewardsmith_core::{StateSpec, StateView, StateWriter};
///
/// let mut b = StateSpec::builder();
/// let height = b.add_scalar("height", "m", "world", "torso height");
/// let vel = b.add_vec3("vel", "m/s", "world", "torso velocity");
/// let spec = b.build();
///
/// let mut values = spec.zeroed();
/// let mut w = StateWriter::new(&spec, &mut values);
/// w.set(height, 0.5);
/// w.set(vel, [1.0, 2.0, 3.0]);
/// assert_eq!(StateView::new(&spec, &values).get("vel"), Some(&[1.0, 2.0, 3.0][..]));
/// ```
#[derive(Debug)]
pub struct StateWriter<'a> {
    spec: &'a StateSpec,
    values: &'a mut [f64],
}

impl<'a> StateWriter<'a> {
    /// Wraps a buffer laid out as `spec` says.
    ///
    /// # Panics
    /// If the buffer's length is not the spec's.
    pub fn new(spec: &'a StateSpec, values: &'a mut [f64]) -> Self {
        assert_eq!(
            spec.len(),
            values.len(),
            "reward-state buffer has wrong length"
        );
        Self { spec, values }
    }

    /// Stores the value of the field `handle` names.
    pub fn set<H: FieldHandle>(&mut self, handle: H, value: H::Value) {
        self.check(handle);
        handle.write(self.values, value);
    }

    /// Stores a vector field's value from a slice (a list whose length is only
    /// known at run time).
    ///
    /// # Panics
    /// If `value` does not hold exactly `N` numbers.
    pub fn set_slice<const N: usize>(&mut self, handle: VectorHandle<N>, value: &[f64]) {
        assert_eq!(
            value.len(),
            N,
            "reward-state field `{}` takes {N} numbers",
            self.spec.fields()[handle.index].name
        );
        self.slot(handle).copy_from_slice(value);
    }

    /// The numbers of a vector field, to fill in place.
    pub fn slot<const N: usize>(&mut self, handle: VectorHandle<N>) -> &mut [f64; N] {
        self.check(handle);
        handle.slot(self.values)
    }

    /// In debug builds, that the handle was declared by this writer's spec.
    fn check<H: FieldHandle>(&self, handle: H) {
        if cfg!(debug_assertions) {
            let field = self.spec.fields().get(handle.index());
            assert!(
                field.is_some_and(|f| f.offset == handle.offset() && f.kind == handle.kind()),
                "field handle {handle_index} was not declared by this reward-state spec",
                handle_index = handle.index()
            );
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
    fn another_tasks_goal_reads_as_unused() {
        let mut b = StateSpec::builder();
        let _ = b.add_vec3("goal", "m", "world", "where the cube should go (push)");
        let _ = b.add_scalar("height", "m", "world", "torso height");
        b.goal_of(&["push"], &["goal"]);
        let s = b.build();
        assert!(s.fields()[0].used_by("push") && !s.fields()[0].used_by("lift"));
        assert!(s.fields()[1].used_by("lift"));
        let own = s.describe_for("push");
        assert!(own.contains("where the cube should go"), "{own}");
        let other = s.describe_for("lift");
        assert!(!other.contains("where the cube should go"), "{other}");
        assert!(
            other.contains("`goal`: vec3 [m] unused by this task"),
            "{other}"
        );
        assert!(other.contains("`height`: float [m; frame: world] torso height"));
    }

    /// A spec declared through handles, with the handles.
    fn declared() -> (StateSpec, ScalarHandle, VectorHandle<3>, VectorHandle<2>) {
        let mut b = StateSpec::builder();
        let height = b.add_scalar("height", "m", "world", "torso height");
        let vel = b.add_vec3("vel", "m/s", "world", "torso velocity");
        let feet = b.add_vector::<2>("feet", "1", "world", "foot contacts");
        (b.build(), height, vel, feet)
    }

    #[test]
    fn handle_offsets_follow_declaration_order() {
        let (s, height, vel, feet) = declared();
        assert_eq!((height.index(), height.offset()), (0, 0));
        assert_eq!((vel.index(), vel.offset()), (1, 1));
        assert_eq!((feet.index(), feet.offset()), (2, 4));
        assert_eq!(s.len(), 6);
        for (f, (offset, kind)) in s.fields().iter().zip([
            (height.offset(), height.kind()),
            (vel.offset(), vel.kind()),
            (feet.offset(), feet.kind()),
        ]) {
            assert_eq!((f.offset, f.kind), (offset, kind));
        }
    }

    #[test]
    fn handle_declaration_matches_the_chained_builder() {
        let mut b = StateSpec::builder();
        let _ = b.add_scalar("height", "m", "world", "torso height");
        let _ = b.add_vec3("vel", "m/s", "world", "torso velocity");
        assert_eq!(b.build(), spec());
    }

    #[test]
    fn a_view_reads_what_a_handle_wrote() {
        let (s, height, vel, feet) = declared();
        let mut values = s.zeroed();
        let mut w = StateWriter::new(&s, &mut values);
        w.set(height, 0.5);
        w.set(vel, [1.0, 2.0, 3.0]);
        w.slot(feet)[1] = 1.0;
        w.set_slice(feet, &[1.0, 0.0]);
        let view = StateView::new(&s, &values);
        assert_eq!(view.scalar("height"), Some(0.5));
        assert_eq!(view.get("vel"), Some(&[1.0, 2.0, 3.0][..]));
        assert_eq!(view.get("feet"), Some(&[1.0, 0.0][..]));
    }

    #[test]
    #[should_panic(expected = "`vel` takes 3 numbers")]
    fn a_write_of_the_wrong_length_is_caught() {
        let (s, _, vel, _) = declared();
        let mut values = s.zeroed();
        StateWriter::new(&s, &mut values).set_slice(vel, &[1.0, 2.0]);
    }

    #[test]
    #[should_panic(expected = "buffer has wrong length")]
    fn a_buffer_of_the_wrong_length_is_caught() {
        let (s, ..) = declared();
        let mut values = vec![0.0; s.len() - 1];
        let _ = StateWriter::new(&s, &mut values);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "was not declared by this reward-state spec")]
    fn a_handle_of_another_spec_is_caught_in_debug_builds() {
        let (s, ..) = declared();
        let mut other = StateSpec::builder();
        let _ = other.add_vector::<2>("a", "1", "world", "");
        let b = other.add_vec3("b", "1", "world", "");
        let mut values = s.zeroed();
        StateWriter::new(&s, &mut values).set(b, [0.0; 3]);
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

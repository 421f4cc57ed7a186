//! Physics environments.

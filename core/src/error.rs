//! Errors of the shared vocabulary: unknown or malformed tasks.

/// What can go wrong when naming or assembling tasks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No task has that name.
    #[error("unknown task `{name}`; known tasks: {}", known.join(", "))]
    UnknownTask {
        /// The name asked for.
        name: String,
        /// Every registered task.
        known: Vec<String>,
    },
    /// Two tasks share a name.
    #[error("task `{0}` is registered twice")]
    DuplicateTask(String),
    /// A task was built without a required part.
    #[error("task `{task}` is missing {missing}")]
    IncompleteTask {
        /// The task.
        task: String,
        /// The missing part.
        missing: String,
    },
}

/// Result with the core [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

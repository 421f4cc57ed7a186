//! Prompt templates: one text file per role in `prompts/`, embedded in the
//! binary, overridable from a directory (`--prompts DIR`).
//!
//! Templates name their inputs as `{snake_case}` placeholders. Any other brace
//! is literal (so Rhai map literals like `#{ a: 1.0 }` need no escaping);
//! `{{` and `}}` write a literal brace where one would otherwise read as a
//! placeholder. Rendering fails on a placeholder left unfilled and on a
//! variable the role does not know, so a typo never reaches a model.

use crate::llm::Message;
use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The prompt roles, one template file each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PromptRole {
    /// The system message of every reward-writing conversation.
    System,
    /// The first request: task, environment, reward contract, helpers.
    InitialTask,
    /// How to format the answer (inserted into the other prompts).
    CodeTips,
    /// Reflection on the best policy's training (Eureka's reward reflection).
    PolicyFeedback,
    /// A candidate could not be used: the sandbox's errors.
    ExecutionError,
    /// A person's comments on the best policy's behaviour.
    HumanFeedback,
    /// Review of a program before training (the LLM critic).
    Critic,
    /// Explanation of evaluation trajectories (the analyzer).
    TrajectoryAnalysis,
    /// A task described in a user's own words: write the program that
    /// measures it (the task fitness).
    FitnessTask,
    /// How to format a fitness program (inserted into the fitness request;
    /// the reward requests use [`CodeTips`](Self::CodeTips)).
    FitnessTips,
}

impl PromptRole {
    /// Every role, in a fixed order.
    pub const ALL: [Self; 10] = [
        Self::System,
        Self::InitialTask,
        Self::CodeTips,
        Self::PolicyFeedback,
        Self::ExecutionError,
        Self::HumanFeedback,
        Self::Critic,
        Self::TrajectoryAnalysis,
        Self::FitnessTask,
        Self::FitnessTips,
    ];

    /// The template's file name in `prompts/`.
    #[must_use]
    pub fn file_name(self) -> &'static str {
        match self {
            Self::System => "system.txt",
            Self::InitialTask => "initial_task.txt",
            Self::CodeTips => "code_tips.txt",
            Self::PolicyFeedback => "policy_feedback.txt",
            Self::ExecutionError => "execution_error.txt",
            Self::HumanFeedback => "human_feedback.txt",
            Self::Critic => "critic.txt",
            Self::TrajectoryAnalysis => "trajectory_analysis.txt",
            Self::FitnessTask => "fitness_task.txt",
            Self::FitnessTips => "fitness_tips.txt",
        }
    }

    /// The placeholders the role's template may use (the embedded template
    /// uses all of them).
    #[must_use]
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            Self::System | Self::CodeTips | Self::FitnessTips => &[],
            Self::InitialTask => &["task_description", "fitness", "helpers", "code_tips"],
            Self::PolicyFeedback => &["generation", "best_code", "reflection", "code_tips"],
            Self::ExecutionError => &["code", "errors", "code_tips"],
            Self::HumanFeedback => &["best_code", "feedback", "code_tips"],
            Self::Critic => &["task_description", "code", "check_report"],
            Self::TrajectoryAnalysis => &["task_description", "code", "trajectory_summary"],
            Self::FitnessTask => &["task_description", "helpers", "fitness_tips"],
        }
    }

    fn embedded(self) -> &'static str {
        match self {
            Self::System => include_str!("../../prompts/system.txt"),
            Self::InitialTask => include_str!("../../prompts/initial_task.txt"),
            Self::CodeTips => include_str!("../../prompts/code_tips.txt"),
            Self::PolicyFeedback => include_str!("../../prompts/policy_feedback.txt"),
            Self::ExecutionError => include_str!("../../prompts/execution_error.txt"),
            Self::HumanFeedback => include_str!("../../prompts/human_feedback.txt"),
            Self::Critic => include_str!("../../prompts/critic.txt"),
            Self::TrajectoryAnalysis => include_str!("../../prompts/trajectory_analysis.txt"),
            Self::FitnessTask => include_str!("../../prompts/fitness_task.txt"),
            Self::FitnessTips => include_str!("../../prompts/fitness_tips.txt"),
        }
    }
}

impl fmt::Display for PromptRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name().trim_end_matches(".txt"))
    }
}

/// A template problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    /// The template uses a placeholder its role does not define.
    #[error(
        "prompt `{role}` ({source_name}): unknown placeholder `{{{name}}}`; this role knows: {known}"
    )]
    UnknownPlaceholder {
        /// The role.
        role: String,
        /// Where the template came from.
        source_name: String,
        /// The placeholder.
        name: String,
        /// The placeholders the role defines.
        known: String,
    },
    /// A placeholder of the template was given no value.
    #[error("prompt `{role}`: placeholder `{{{name}}}` was not filled")]
    Unfilled {
        /// The role.
        role: String,
        /// The placeholder.
        name: String,
    },
    /// A value was given for a name the role does not define.
    #[error("prompt `{role}`: `{name}` is not a placeholder of this role (known: {known})")]
    UnknownVariable {
        /// The role.
        role: String,
        /// The name given.
        name: String,
        /// The placeholders the role defines.
        known: String,
    },
    /// An override file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// One piece of a parsed template.
enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Slot(&'a str),
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_lowercase())
        && c.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
}

fn parse(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        let (before, at) = rest.split_at(i);
        if !before.is_empty() {
            out.push(Piece::Text(before));
        }
        if at.starts_with("{{") || at.starts_with("}}") {
            out.push(Piece::Brace(if at.starts_with('{') { '{' } else { '}' }));
            rest = &at[2..];
            continue;
        }
        if at.starts_with('{')
            && let Some(end) = at.find('}')
            && is_name(&at[1..end])
        {
            out.push(Piece::Slot(&at[1..end]));
            rest = &at[end + 1..];
            continue;
        }
        out.push(Piece::Text(&at[..1]));
        rest = &at[1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// The placeholders a template uses, each once, sorted.
#[must_use]
pub fn placeholders(template: &str) -> BTreeSet<String> {
    parse(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Slot(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// The set of templates in force.
#[derive(Clone, Debug)]
pub struct Prompts {
    templates: Vec<(PromptRole, String, String)>,
}

impl Default for Prompts {
    fn default() -> Self {
        Self::embedded()
    }
}

impl Prompts {
    /// The templates built into the binary.
    #[must_use]
    pub fn embedded() -> Self {
        Self {
            templates: PromptRole::ALL
                .iter()
                .map(|&r| {
                    (
                        r,
                        r.embedded().to_string(),
                        format!("embedded {}", r.file_name()),
                    )
                })
                .collect(),
        }
    }

    /// Largest prompt template read from a folder, in bytes: 1 MiB (the
    /// embedded ones are a few kilobytes; every byte goes to the LLM).
    pub const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

    /// The embedded templates, with those found in `dir` (same file names)
    /// taking their place; `None` gives the embedded set. `dir` must be a
    /// folder and each template in it a regular file of at most
    /// [`MAX_TEMPLATE_BYTES`](Self::MAX_TEMPLATE_BYTES) of UTF-8 (a leading
    /// byte-order mark is dropped).
    ///
    /// # Errors
    /// [`PromptError::Io`] for a `dir` that is not a folder or a template that
    /// cannot be read, is not a regular file or is too large, and
    /// [`PromptError::UnknownPlaceholder`] for a template using a placeholder
    /// its role does not define.
    pub fn load(dir: Option<&Path>) -> Result<Self, PromptError> {
        let mut prompts = Self::embedded();
        let Some(dir) = dir else {
            return Ok(prompts);
        };
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) => {
                let kind = crate::user_file::special_kind(meta.file_type()).unwrap_or("a file");
                return Err(PromptError::Io {
                    path: dir.to_path_buf(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("is {kind}, not a folder of prompt templates"),
                    ),
                });
            }
            Err(source) => {
                return Err(PromptError::Io {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
        // A misnamed template would silently leave the embedded one in force.
        if let Ok(entries) = std::fs::read_dir(dir) {
            let expected: Vec<&str> = PromptRole::ALL.iter().map(|r| r.file_name()).collect();
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with('.') || expected.contains(&name.as_str()) {
                    continue;
                }
                return Err(PromptError::Io {
                    path: entry.path(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!(
                            "is not a prompt template this version reads; the folder may hold {}",
                            expected.join(", ")
                        ),
                    ),
                });
            }
        }
        for (role, text, source) in &mut prompts.templates {
            let path = dir.join(role.file_name());
            match crate::user_file::read_user_text(
                &path,
                Self::MAX_TEMPLATE_BYTES,
                "prompt template",
            ) {
                Ok(t) => {
                    *text = t;
                    *source = path.display().to_string();
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source_err) => {
                    return Err(PromptError::Io {
                        path,
                        source: source_err,
                    });
                }
            }
            for name in placeholders(text) {
                if !role.placeholders().contains(&name.as_str()) {
                    return Err(PromptError::UnknownPlaceholder {
                        role: role.to_string(),
                        source_name: source.clone(),
                        name,
                        known: known(*role),
                    });
                }
            }
        }
        Ok(prompts)
    }

    /// Copies the templates of `dir` (those it holds) into `to`, so that a
    /// run keeps the prompts it was started with.
    ///
    /// # Errors
    /// A template cannot be read or written.
    pub fn copy_folder(dir: &Path, to: &Path) -> anyhow::Result<()> {
        for role in PromptRole::ALL {
            let from = dir.join(role.file_name());
            if !from.exists() {
                continue;
            }
            let text = crate::user_file::read_user_text(
                &from,
                Self::MAX_TEMPLATE_BYTES,
                "prompt template",
            )
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", from.display()))?;
            crate::search::write_atomic(&to.join(role.file_name()), text.as_bytes())?;
        }
        Ok(())
    }

    /// The template text of `role`.
    #[must_use]
    pub fn template(&self, role: PromptRole) -> &str {
        self.templates
            .iter()
            .find(|(r, _, _)| *r == role)
            .map_or("", |(_, t, _)| t.as_str())
    }

    /// Where the template of `role` came from (`embedded …` or a path).
    #[must_use]
    pub fn source(&self, role: PromptRole) -> &str {
        self.templates
            .iter()
            .find(|(r, _, _)| *r == role)
            .map_or("", |(_, _, s)| s.as_str())
    }

    /// Renders `role` with `vars` (`(placeholder, value)` pairs). Values are
    /// inserted verbatim and not scanned for placeholders.
    ///
    /// # Errors
    /// [`PromptError::UnknownVariable`] for a name the role does not define,
    /// [`PromptError::Unfilled`] for a placeholder of the template left
    /// without a value.
    pub fn render(&self, role: PromptRole, vars: &[(&str, &str)]) -> Result<String, PromptError> {
        for (name, _) in vars {
            if !role.placeholders().contains(name) {
                return Err(PromptError::UnknownVariable {
                    role: role.to_string(),
                    name: (*name).to_string(),
                    known: known(role),
                });
            }
        }
        let mut out = String::new();
        for piece in parse(self.template(role)) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Brace(c) => out.push(c),
                Piece::Slot(name) => {
                    let Some((_, v)) = vars.iter().find(|(n, _)| *n == name) else {
                        return Err(PromptError::Unfilled {
                            role: role.to_string(),
                            name: name.to_string(),
                        });
                    };
                    out.push_str(v);
                }
            }
        }
        Ok(out)
    }

    /// The code tips, ready to fill `{code_tips}` (reward requests).
    #[must_use]
    pub fn code_tips(&self) -> &str {
        self.template(PromptRole::CodeTips).trim_end()
    }

    /// The fitness tips, ready to fill `{fitness_tips}` (the fitness request).
    #[must_use]
    pub fn fitness_tips(&self) -> &str {
        self.template(PromptRole::FitnessTips).trim_end()
    }

    /// The first conversation of a search: the system message and the task
    /// request. `task_description` is [`Task::describe`]'s text (or the
    /// equivalent for a described task), `fitness` what the reward writer is
    /// told about the fitness ([`FitnessShown::render`]), `helpers` the
    /// sandbox's `helpers_doc()`.
    ///
    /// [`Task::describe`]: rewardsmith_core::Task::describe
    ///
    /// # Errors
    /// As [`render`](Self::render) (only with overridden templates).
    pub fn initial_messages(
        &self,
        task_description: &str,
        fitness: &str,
        helpers: &str,
    ) -> Result<Vec<Message>, PromptError> {
        Ok(vec![
            Message::system(self.render(PromptRole::System, &[])?.trim_end()),
            Message::user(
                self.render(
                    PromptRole::InitialTask,
                    &[
                        ("task_description", task_description.trim_end()),
                        ("fitness", fitness.trim_end()),
                        ("helpers", helpers.trim_end()),
                        ("code_tips", self.code_tips()),
                    ],
                )?
                .trim_end(),
            ),
        ])
    }

    /// A later generation's conversation, kept bounded as in Eureka: the
    /// initial messages, the best answer so far as the assistant's turn, and
    /// `feedback` (a rendered reflection, error or human-feedback prompt) as
    /// the new request.
    #[must_use]
    pub fn follow_up(initial: &[Message], best_answer: &str, feedback: &str) -> Vec<Message> {
        let mut messages = initial.to_vec();
        messages.push(Message::assistant(best_answer));
        messages.push(Message::user(feedback));
        messages
    }
}

fn known(role: PromptRole) -> String {
    if role.placeholders().is_empty() {
        "(none)".to_string()
    } else {
        role.placeholders()
            .iter()
            .map(|p| format!("{{{p}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a reward request tells the reward writer about the fitness its
/// policy is judged by (the `{fitness}` placeholder of the task request).
#[derive(Clone, Copy, Debug)]
pub struct FitnessShown<'a> {
    /// The task: its fitness's meaning, scale and the human-written reward's
    /// figure (built-in tasks).
    pub task: &'a rewardsmith_core::Task,
    /// A described task's fitness program (`fitness.rhai`), `None` for a
    /// built-in task.
    pub program: Option<&'a str>,
    /// A described task's fitness program in plain words, when one was
    /// written; shown even with the fitness hidden, since it says what the
    /// task is rather than how it is scored.
    pub plain_reading: Option<&'a str>,
    /// `--hide-fitness`: say nothing of how the fitness is computed, its
    /// scale or any figure.
    pub hidden: bool,
}

impl FitnessShown<'_> {
    /// The section, as Markdown.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::from(
            "## How the policy is judged
",
        );
        let judged = "After training on your reward, the policy (acting deterministically) is \
                      scored on evaluation episodes by the task's fitness, and the candidate \
                      with the higher mean fitness wins; the reward itself is never compared.";
        if self.hidden {
            out.push_str(judged);
            out.push_str(
                " The fitness is hidden in this run: write the reward for the goal as described.",
            );
            if let Some(plain) = self.plain_reading {
                let _ = write!(
                    out,
                    "\n\nWhat the goal means, in plain words:\n{}",
                    plain.trim_end()
                );
            }
            return out;
        }
        match self.program {
            None => {
                let fitness = &self.task.fitness;
                let _ = write!(
                    out,
                    "{judged} It is computed by the task in Rust; you do not see its code.\n\
                     - It measures: {}.",
                    fitness.doc.trim_end_matches('.')
                );
                if let Some(scale) = &fitness.scale {
                    let _ = write!(out, "\n- Scale: {}.", scale.trim_end_matches('.'));
                }
                if let Some(reference) = &fitness.reference {
                    let _ = write!(
                        out,
                        "\n- The human-written reward of this task reached {}.",
                        reference.trim_end_matches('.')
                    );
                }
            }
            Some(program) => {
                let _ = write!(
                    out,
                    "{judged} This task's fitness is the program below, written from the task's \
                     description before any reward: it reads each finished evaluation episode \
                     (`episode.steps` holds the reward states `s` of its steps, \
                     `episode.max_steps` its full length) and returns one number, higher is \
                     better; its comments state its scale (an optional `success` says whether \
                     an episode achieved the task). It is for reading only: your answer defines \
                     the reward, not this program."
                );
                if let Some(plain) = self.plain_reading {
                    let _ = write!(out, "\n\nIn plain words:\n{}", plain.trim_end());
                }
                let _ = write!(out, "\n\n```rhai\n{}\n```", program.trim_end());
            }
        }
        out
    }
}

//! Tasks in a user's own words (`run --env E --describe TEXT`): the LLM (or
//! the offline designer) first writes the program that measures the task — a
//! sandboxed `fn fitness(episode)` — which is checked on random-policy
//! episodes, stored in the run folder and used as the task's fitness.
//!
//! Before any training the run says what it understood: the program, its
//! plain reading (the `// reading:` comment lines the designer or model
//! wrote) and a dry run of the fitness on contrasting scripted behaviours
//! (random and zero actions, and a scripted controller on the cartpole and
//! the arm) are printed and stored as a [`FitnessReading`]
//! (`fitness-reading.json` and `.md`), which [`load_fitness_reading`] reads
//! back for the report.

use super::store::{RunStore, files, read_json, write_atomic, write_json};
use crate::extract::{Extracted, FITNESS_ENTRY, extract_program};
use crate::llm::vocabulary::READING_PREFIX;
use crate::llm::{DesignContext, DesignRole, LlmClient, LlmRequest, Message};
use crate::progress::RunProgress;
use crate::prompts::{PromptRole, Prompts};
use anyhow::{Context, anyhow, bail};
use rewardsmith_core::{Env, Registry, SplitMix64, Task, derive_seed};
use rewardsmith_sandbox::{FitnessProgram, Limits, SampleEpisode, check_fitness, program_fitness};
use serde::{Deserialize, Serialize};

/// The file in the run folder holding the machine-written fitness program.
pub const FITNESS_FILE: &str = super::store::files::FITNESS;

/// Attempts at a fitness program that passes the checks before the run stops.
const FITNESS_ATTEMPTS: usize = 3;

/// Random-policy episodes the fitness program is dry-run on.
const CHECK_EPISODES: usize = 4;

/// A task described in a user's own words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescribedTask {
    /// The environment (see `rewardsmith envs`).
    pub env: String,
    /// The goal, as the user wrote it.
    pub description: String,
    /// The machine-written fitness program, once written (run records leave
    /// it out: it lives in the run folder's `fitness.rhai`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitness: Option<String>,
    /// Whether the user accepted a fitness that measures only part of the
    /// description (`--accept-partial-fitness`; the offline designer refuses
    /// otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accept_partial: bool,
}

impl DescribedTask {
    /// Validates the user's words and the environment against `registry`.
    ///
    /// # Errors
    /// An empty description, or an environment no task uses (the message
    /// lists the known ones).
    pub fn new(registry: &Registry, env: &str, description: &str) -> anyhow::Result<Self> {
        let description = description.trim();
        if description.is_empty() {
            bail!(
                "--describe is empty: say what the robot should do, e.g. --describe \"walk backwards slowly\""
            );
        }
        template(registry, env)?;
        Ok(Self {
            env: env.to_string(),
            description: description.to_string(),
            fitness: None,
            accept_partial: false,
        })
    }

    /// The name the run gives the task: `ENV-described`.
    #[must_use]
    pub fn task_name(&self) -> String {
        format!("{}-described", self.env)
    }

    /// The task, once its fitness program is known; the environment, episode
    /// length and training defaults come from the environment's first task.
    ///
    /// # Errors
    /// No fitness program yet, an unknown environment, or a program that no
    /// longer compiles.
    pub fn build(&self, registry: &Registry) -> anyhow::Result<Task> {
        let source = self
            .fitness
            .as_deref()
            .ok_or_else(|| anyhow!("the described task has no fitness program yet"))?;
        let base = self.template(registry)?;
        let spec = base.env_spec();
        let program = FitnessProgram::compile(source, &spec.state, &Limits::default())
            .map_err(|e| anyhow!("the machine-written fitness program does not compile: {e}"))?;
        let mut task = base.clone();
        task.name = self.task_name();
        task.description = self.description.clone();
        task.fitness = program_fitness(
            program,
            "machine-written: the value of the run's fitness.rhai (written by the LLM from the description)",
            spec.dt,
        );
        task.human_reward = None;
        task.sparse_reward = None;
        Ok(task)
    }

    /// The environment's first registered task, whose environment, episode
    /// length and training defaults the described task takes.
    ///
    /// # Errors
    /// No task uses the environment (the message lists the known ones).
    pub fn template<'r>(&self, registry: &'r Registry) -> anyhow::Result<&'r Task> {
        template(registry, &self.env)
    }

    /// This task with the fitness program a run stored in `dir`.
    ///
    /// # Errors
    /// The run folder holds no readable `fitness.rhai`.
    pub fn with_stored_fitness(&self, dir: &std::path::Path) -> anyhow::Result<Self> {
        let path = dir.join(FITNESS_FILE);
        let source = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}, the run's machine-written fitness program",
                path.display()
            )
        })?;
        Ok(Self {
            fitness: Some(source),
            ..self.clone()
        })
    }

    /// `registry` with this task added.
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn register(&self, registry: &Registry) -> anyhow::Result<Registry> {
        let mut out = registry.clone();
        if out.get(&self.task_name()).is_none() {
            out.register(self.build(registry)?)?;
        }
        Ok(out)
    }
}

/// The first registered task over `env`: the template of a described task.
fn template<'r>(registry: &'r Registry, env: &str) -> anyhow::Result<&'r Task> {
    registry
        .tasks()
        .iter()
        .find(|t| t.env == env)
        .ok_or_else(|| {
            let mut envs: Vec<&str> = registry.tasks().iter().map(|t| t.env.as_str()).collect();
            envs.dedup();
            anyhow!(
                "unknown environment `{env}`; the environments are: {}",
                envs.join(", ")
            )
        })
}

/// A scripted behaviour a fitness program is dry-run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    /// Uniform random actions in [-1, 1].
    Random,
    /// All actions 0.
    Zero,
    /// A simple controller written for the environment.
    Scripted(Scripted),
}

impl Behaviour {
    fn name(self) -> &'static str {
        match self {
            Self::Random => "random actions",
            Self::Zero => "zero actions",
            Self::Scripted(s) => s.name(),
        }
    }
}

/// The scripted controllers of the environments that have a simple one,
/// reading the reward state (offsets of its fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scripted {
    /// The cartpole: push the cart towards the side the pole leans (a
    /// proportional-derivative law on the pole angle, with small terms in the
    /// cart's position and velocity that keep it from drifting off the rail:
    /// in the unit test it holds the pole up for every step of the episode).
    CartpoleBalancer {
        cart_pos: usize,
        cart_vel: usize,
        angle: usize,
        angvel: usize,
    },
    /// The arm: aim the fingertip at `target_pos` (the gripper command 0).
    ArmReacher { target: usize },
}

impl Scripted {
    /// The controller for `env`, if it has one and its reward state has the
    /// fields it reads.
    fn for_env(env: &str, state: &rewardsmith_core::StateSpec) -> Option<Self> {
        let at = |name: &str| state.field(name).map(|f| f.offset);
        match env {
            "cartpole" => Some(Self::CartpoleBalancer {
                cart_pos: at("cart_pos")?,
                cart_vel: at("cart_vel")?,
                angle: at("pole_angle")?,
                angvel: at("pole_angvel")?,
            }),
            "arm" => Some(Self::ArmReacher {
                target: at("target_pos")?,
            }),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::CartpoleBalancer { .. } => {
                "scripted controller (pushes the cart towards the side the pole leans)"
            }
            Self::ArmReacher { .. } => "scripted controller (aims the fingertip at target_pos)",
        }
    }

    /// The action for reward state `state`.
    fn act(self, state: &[f64], action: &mut [f32]) {
        action.fill(0.0);
        match self {
            Self::CartpoleBalancer {
                cart_pos,
                cart_vel,
                angle,
                angvel,
            } => {
                let u = 10.0 * state[angle]
                    + 2.0 * state[angvel]
                    + 0.1 * state[cart_pos]
                    + 0.3 * state[cart_vel];
                if let Some(a) = action.first_mut() {
                    *a = u.clamp(-1.0, 1.0) as f32;
                }
            }
            Self::ArmReacher { target } => {
                let aim = rewardsmith_envs::arm::tip_action([
                    state[target],
                    state[target + 1],
                    state[target + 2],
                ]);
                for (a, v) in action.iter_mut().zip(aim) {
                    *a = v;
                }
            }
        }
    }
}

/// Episodes of `task` under `behaviour`, for dry-running a fitness program.
fn sample_episodes(
    task: &Task,
    episodes: usize,
    seed: u64,
    behaviour: Behaviour,
) -> Vec<SampleEpisode> {
    let mut env: Box<dyn Env> = task.make_env();
    let spec = env.spec().clone();
    let mut rng = SplitMix64::new(derive_seed(seed, 7));
    let mut obs = vec![0.0f32; spec.obs_dim];
    let mut action = vec![0.0f32; spec.action_dim];
    let mut state = spec.state.zeroed();
    (0..episodes)
        .map(|e| {
            env.reset(derive_seed(seed, 200 + e as u64));
            env.reward_state(&mut state);
            let mut states = Vec::with_capacity(task.episode_steps * spec.state.len());
            let mut ended_early = false;
            let mut length = 0;
            while length < task.episode_steps {
                env.observe(&mut obs);
                match behaviour {
                    Behaviour::Random => {
                        for a in &mut action {
                            *a = (rng.next_f64() * 2.0 - 1.0) as f32;
                        }
                    }
                    Behaviour::Zero => {}
                    Behaviour::Scripted(s) => s.act(&state, &mut action),
                }
                let info = env.step(&action);
                env.reward_state(&mut state);
                states.extend_from_slice(&state);
                length += 1;
                if info.terminated {
                    ended_early = length < task.episode_steps;
                    break;
                }
            }
            SampleEpisode {
                states,
                length,
                max_steps: task.episode_steps,
                ended_early,
                dt: spec.dt,
            }
        })
        .collect()
}

/// The person's answer about a described task's fitness program, asked once
/// it is written, read and dry-run, before any reward is written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum FitnessAnswer {
    /// The fitness measures the task: the search starts.
    Accept,
    /// The fitness is wrong: a language model gets `text` as feedback and
    /// writes a new program; the offline designer, whose only input is the
    /// description, takes `text` as the new description.
    Correct {
        /// The person's words.
        text: String,
    },
    /// End the run before the search.
    Stop,
}

/// Asks the person about a fitness program: the question's number (0-based),
/// the program with its reading and dry run, and whether the writer is the
/// offline designer (a correction then replaces the description).
pub type AskFitness<'a> =
    dyn FnMut(usize, &FitnessReading, bool) -> anyhow::Result<FitnessAnswer> + 'a;

/// Where a described task's fitness program is asked about (`--feedback
/// human`): `ask` is set in human-feedback mode, `source` gives the answers.
pub struct FitnessReview<'a> {
    /// Whether the person is asked to accept or correct the program.
    pub ask: bool,
    /// Where the answers come from (in the CLI, the human-feedback source's
    /// `ask_fitness`).
    pub source: Option<&'a mut AskFitness<'a>>,
    /// Seconds spent waiting for the person, added to as they answer.
    pub waited_s: f64,
}

/// One answer of the person about a fitness program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FitnessRound {
    /// The description the program shown was written from.
    pub description: String,
    /// What the person answered.
    pub answer: FitnessAnswer,
    /// Why a correction could not be used, when it could not (the program
    /// shown stays, and the person is asked again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// The described task's fitness program: read from the run folder when a
/// previous (killed) run wrote it, else asked of `llm` — up to
/// [`FITNESS_ATTEMPTS`] times, each failed attempt's error fed back — checked
/// on random-policy episodes and written to `fitness.rhai`. With
/// `review.ask`, the person reads the program, its reading and dry run and
/// accepts it, corrects it (a language model gets the words as feedback; the
/// offline designer takes them as the new description) or stops the run;
/// their answers go to `fitness-feedback.json` and the stored reading, and
/// `fitness.rhai` is written only once they accept, so a resumed run never
/// asks again.
///
/// Returns the task with its fitness program and the description it was
/// written from (changed by the person's corrections).
///
/// # Errors
/// The LLM request fails, no attempt gives a program that passes the checks
/// (the last error is named), the person's answer cannot be had, or the
/// person stopped the run.
#[allow(clippy::too_many_arguments)]
pub fn fitness_program(
    registry: &Registry,
    store: &RunStore,
    described: &DescribedTask,
    prompts: &Prompts,
    llm: &dyn LlmClient,
    seed: u64,
    temperature: f64,
    review: &mut FitnessReview<'_>,
    progress: &dyn RunProgress,
) -> anyhow::Result<DescribedTask> {
    if let Some(stored) = stored_fitness(store, described)? {
        return Ok(stored);
    }
    let path = store.root().join(FITNESS_FILE);
    let ask = review.ask;
    let base = described.template(registry)?;
    let spec = base.env_spec();
    // The offline designer (or a replay of it) reads only the description.
    let offline = llm.model() == crate::llm::BUILTIN_MODEL;
    let original = described.description.clone();
    let mut description = original.clone();
    let mut messages = first_messages(base, described, &description, prompts)?;
    let mut rounds: Vec<FitnessRound> = Vec::new();
    for written in 0.. {
        let (program, mut reading) = write_fitness(
            base,
            described,
            &description,
            &mut messages,
            llm,
            seed,
            temperature,
            written,
            store,
            progress,
        )?;
        reading.answers.clone_from(&rounds);
        reading.save(store.root())?;
        if !ask {
            write_atomic(&path, program.as_bytes())?;
            return Ok(DescribedTask {
                fitness: Some(program),
                description,
                ..described.clone()
            });
        }
        let Some(source) = review.source.as_deref_mut() else {
            bail!(
                "the fitness program needs the person's answer (--feedback human), but no feedback source was given"
            );
        };
        let question = Question {
            description: &description,
            offline,
            accept_partial: described.accept_partial,
            spec,
        };
        let answered = Answered {
            store,
            progress,
            waited: &mut review.waited_s,
        };
        match answered.verdict(source, &question, &mut reading, &mut rounds)? {
            Verdict::Accepted => {
                write_atomic(&path, program.as_bytes())?;
                return Ok(DescribedTask {
                    fitness: Some(program),
                    description,
                    ..described.clone()
                });
            }
            Verdict::Corrected(text) if offline => {
                store.note(
                    progress,
                    format!("the person's words replace the description: \"{text}\""),
                )?;
                description = text;
                messages = first_messages(base, described, &description, prompts)?;
            }
            Verdict::Corrected(text) => {
                store.note(
                    progress,
                    "the person's correction goes back to the model, which writes the fitness again",
                )?;
                ask_again(&mut messages, &program, &text);
                description =
                    format!("{original} (the person's correction of the fitness: {text})");
            }
        }
    }
    unreachable!("the loop over written programs returns or fails")
}

/// The fitness program a previous (killed) run of this folder wrote and the
/// person accepted, with the description it was written from.
fn stored_fitness(
    store: &RunStore,
    described: &DescribedTask,
) -> anyhow::Result<Option<DescribedTask>> {
    let path = store.root().join(FITNESS_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let source = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let description = load_fitness_reading(store.root())?
        .map_or_else(|| described.description.clone(), |r| r.description);
    Ok(Some(DescribedTask {
        fitness: Some(source),
        description,
        ..described.clone()
    }))
}

/// What the person is asked about: a fitness program written from
/// `description`.
struct Question<'q> {
    description: &'q str,
    offline: bool,
    accept_partial: bool,
    spec: &'q rewardsmith_core::EnvSpec,
}

/// How the person's review of a fitness program ended (a stop is an error).
enum Verdict {
    /// The program stands.
    Accepted,
    /// The person's correction, usable as a description.
    Corrected(String),
}

/// Where the person's answers about a fitness program are recorded.
struct Answered<'s> {
    store: &'s RunStore,
    progress: &'s dyn RunProgress,
    /// Seconds spent waiting for the person, added to.
    waited: &'s mut f64,
}

impl Answered<'_> {
    /// Asks about `reading` until the person accepts, stops (an error) or
    /// gives a correction that can be used; the answers go to `rounds` and
    /// the stored reading.
    fn verdict(
        mut self,
        source: &mut AskFitness<'_>,
        question: &Question<'_>,
        reading: &mut FitnessReading,
        rounds: &mut Vec<FitnessRound>,
    ) -> anyhow::Result<Verdict> {
        loop {
            let (answer, refused) = self.ask(source, question, reading, rounds)?;
            match answer {
                FitnessAnswer::Accept => {
                    self.store
                        .note(self.progress, "the person accepted the fitness program")?;
                    reading.answers.clone_from(rounds);
                    reading.save(self.store.root())?;
                    return Ok(Verdict::Accepted);
                }
                FitnessAnswer::Stop => {
                    reading.answers.clone_from(rounds);
                    reading.save(self.store.root())?;
                    bail!(
                        "stopped by the person before the search: the fitness program was not accepted \
                         (its reading is in {}; `resume` asks again)",
                        self.store.root().join(files::FITNESS_READING_MD).display()
                    );
                }
                FitnessAnswer::Correct { text } => match refused {
                    Some(why) => self.store.note(
                        self.progress,
                        format!(
                            "the correction cannot be used as a description: {why}; the fitness program stays as shown"
                        ),
                    )?,
                    None => return Ok(Verdict::Corrected(text)),
                },
            }
        }
    }

    /// Asks the person about `reading` once and records the answer: the
    /// event, the round in `rounds` and `fitness-feedback.json`. Returns the
    /// answer and, for the offline designer, why a correction cannot be used
    /// as a description.
    fn ask(
        &mut self,
        source: &mut AskFitness<'_>,
        question: &Question<'_>,
        reading: &FitnessReading,
        rounds: &mut Vec<FitnessRound>,
    ) -> anyhow::Result<(FitnessAnswer, Option<String>)> {
        let asked = std::time::Instant::now();
        let answer = source(rounds.len(), reading, question.offline)?;
        let waited_s = asked.elapsed().as_secs_f64();
        *self.waited += waited_s;
        self.store
            .event(&crate::events::RunEvent::FitnessFeedback {
                question: rounds.len(),
                answer: serde_json::to_value(&answer)?,
                waited_s,
            })?;
        let refused = match &answer {
            FitnessAnswer::Correct { text } if question.offline => {
                crate::llm::vocabulary::understand(text, &question.spec.state)
                    .refusal(question.accept_partial)
            }
            _ => None,
        };
        rounds.push(FitnessRound {
            description: question.description.to_string(),
            answer: answer.clone(),
            refused: refused.clone(),
        });
        write_json(&self.store.root().join(files::FITNESS_FEEDBACK), rounds)?;
        Ok((answer, refused))
    }
}

/// Sends the person's correction of `program` back to the model.
fn ask_again(messages: &mut Vec<Message>, program: &str, text: &str) {
    messages.push(Message::assistant(format!(
        "```rhai\n{}\n```",
        program.trim_end()
    )));
    messages.push(Message::user(format!(
        "A person read this fitness program, its plain reading and its dry run, and says it does \
         not measure their task:\n\n{text}\n\nWrite a corrected fitness program, following the \
         same contract, with `// reading:` lines that say what it measures."
    )));
}

/// The fitness-writing conversation's first messages for `description`.
fn first_messages(
    base: &Task,
    described: &DescribedTask,
    description: &str,
    prompts: &Prompts,
) -> anyhow::Result<Vec<Message>> {
    let mut shown = base.clone();
    shown.name = described.task_name();
    shown.description = description.to_string();
    let system = prompts.render(PromptRole::System, &[])?;
    let first = prompts.render(
        PromptRole::FitnessTask,
        &[
            ("task_description", shown.describe().trim_end()),
            ("helpers", rewardsmith_sandbox::helpers_doc().trim_end()),
            ("fitness_tips", prompts.fitness_tips()),
        ],
    )?;
    Ok(vec![Message::system(system), Message::user(first)])
}

/// One fitness program for `description`, continuing `messages`: up to
/// [`FITNESS_ATTEMPTS`] attempts, each failed one's error fed back; the one
/// that passes its checks is shown (program, reading, dry run) with its
/// reading. `written` counts the programs written before (it varies the
/// designer's seed; 0 keeps the first program's seeds).
#[allow(clippy::too_many_arguments)]
fn write_fitness(
    base: &Task,
    described: &DescribedTask,
    description: &str,
    messages: &mut Vec<Message>,
    llm: &dyn LlmClient,
    seed: u64,
    temperature: f64,
    written: usize,
    store: &RunStore,
    progress: &dyn RunProgress,
) -> anyhow::Result<(String, FitnessReading)> {
    let spec = base.env_spec();
    let mut shown = base.clone();
    shown.name = described.task_name();
    shown.description = description.to_string();
    let episodes = sample_episodes(base, CHECK_EPISODES, seed, Behaviour::Random);
    let mut last_error = String::new();
    for attempt in 0..FITNESS_ATTEMPTS {
        let salt = (written * FITNESS_ATTEMPTS + attempt) as u64;
        let mut ctx = DesignContext::for_task(&shown, derive_seed(seed, 0xf17 + salt));
        ctx.role = DesignRole::Fitness;
        ctx.accept_partial = described.accept_partial;
        let request = LlmRequest::new(messages.clone(), 1)
            .temperature(temperature)
            .context(ctx);
        let response = llm
            .complete(&request)
            .context("the LLM request for the fitness program failed")?;
        let text = response
            .completions
            .into_iter()
            .next()
            .map(|c| c.text)
            .unwrap_or_default();
        let error = match extract_program(&text, FITNESS_ENTRY) {
            Extracted::NoCode { reason } => format!("no program found in the answer: {reason}"),
            Extracted::Code { source, .. } => {
                match check_fitness(&source, &spec.state, &episodes, &Limits::default()) {
                    Ok(check) => {
                        let reading = FitnessReading {
                            description: description.to_string(),
                            written_by: format!("{} ({})", llm.model(), llm.backend()),
                            reading: plain_reading(&source, &text),
                            dry_run: dry_run(base, &source, seed, check.values),
                            source: source.clone(),
                            answers: Vec::new(),
                        };
                        store.note(
                            progress,
                            format!(
                                "fitness program (machine-written by {}, stored as {}):",
                                reading.written_by,
                                store.root().join(FITNESS_FILE).display()
                            ),
                        )?;
                        for line in source.lines() {
                            store.note(progress, format!("  | {line}"))?;
                        }
                        store.note(progress, "what it measures (its plain reading):")?;
                        for line in &reading.reading {
                            store.note(progress, format!("  {line}"))?;
                        }
                        store.note(progress, format!("dry run: {}", reading.dry_run_line()))?;
                        return Ok((source, reading));
                    }
                    Err(e) => format!("the program failed its checks: {e}"),
                }
            }
        };
        store.note(
            progress,
            format!("fitness program, attempt {}: {error}", attempt + 1),
        )?;
        messages.push(Message::assistant(text));
        messages.push(Message::user(format!(
            "That fitness program cannot be used: {error}\nWrite a corrected one, following the same contract."
        )));
        last_error = error;
    }
    bail!(
        "no usable fitness program for \"{description}\" after {FITNESS_ATTEMPTS} attempts; the last error: {last_error}"
    )
}

/// The dry run of fitness program `source` on every scripted behaviour —
/// random and zero actions, and the environment's scripted controller when
/// it has one; `random` holds its values on the random-action episodes
/// (already checked).
fn dry_run(base: &Task, source: &str, seed: u64, random: Vec<f64>) -> Vec<DryRun> {
    let spec = base.env_spec();
    let values = |behaviour: Behaviour| {
        let episodes = sample_episodes(base, CHECK_EPISODES, seed, behaviour);
        check_fitness(source, &spec.state, &episodes, &Limits::default())
            .map(|c| c.values)
            .unwrap_or_default()
    };
    let mut out = vec![
        DryRun::new(Behaviour::Random, random),
        DryRun::new(Behaviour::Zero, values(Behaviour::Zero)),
    ];
    if let Some(s) = Scripted::for_env(&base.env, &spec.state) {
        out.push(DryRun::new(
            Behaviour::Scripted(s),
            values(Behaviour::Scripted(s)),
        ));
    }
    out
}

/// The plain reading of a fitness program: its `// reading:` comment lines;
/// else the prose the answer put before the program; else a line saying
/// there is none.
fn plain_reading(source: &str, answer: &str) -> Vec<String> {
    let prefix = READING_PREFIX.trim_end();
    let lines: Vec<String> = source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(prefix))
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end().to_string())
        .collect();
    if !lines.is_empty() {
        return lines;
    }
    let prose: Vec<String> = answer
        .split("```")
        .next()
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(12)
        .map(ToString::to_string)
        .collect();
    if prose.is_empty() {
        vec!["(the designer wrote no plain reading: read the program)".to_string()]
    } else {
        let mut out =
            vec!["(no `// reading:` lines; the answer's words before the program:)".to_string()];
        out.extend(prose);
        out
    }
}

/// The fitness figures of one scripted behaviour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DryRun {
    /// The behaviour ("random actions", "zero actions", "scripted controller
    /// (what it does)").
    pub behaviour: String,
    /// The fitness of each episode.
    pub values: Vec<f64>,
}

impl DryRun {
    fn new(behaviour: Behaviour, values: Vec<f64>) -> Self {
        Self {
            behaviour: behaviour.name().to_string(),
            values,
        }
    }

    /// The mean fitness (NaN with no episodes).
    #[must_use]
    pub fn mean(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let n = self.values.len() as f64;
        self.values.iter().sum::<f64>() / n
    }
}

/// What a described task's run understood, stored before any training:
/// the fitness program, its plain reading and a dry run of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitnessReading {
    /// The user's words.
    pub description: String,
    /// Who wrote the program ("model (backend)").
    pub written_by: String,
    /// The plain reading, one line each; a line in `**bold**` names words
    /// that are not measured (`--accept-partial-fitness`).
    pub reading: Vec<String>,
    /// The fitness on contrasting scripted behaviours.
    pub dry_run: Vec<DryRun>,
    /// The fitness program.
    pub source: String,
    /// The person's answers about the fitness programs shown, in order
    /// (`--feedback human`; the last one is `accept` once the search runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<FitnessRound>,
}

impl FitnessReading {
    /// "random actions score 0.012 (0.01, 0.02, …); zero actions score …".
    #[must_use]
    pub fn dry_run_line(&self) -> String {
        self.dry_run
            .iter()
            .map(|d| {
                format!(
                    "{} score {:.4} (episodes: {})",
                    d.behaviour,
                    d.mean(),
                    d.values
                        .iter()
                        .map(|v| format!("{v:.4}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The person's answers, one line each: "for \"D\": accepted the fitness".
    #[must_use]
    pub fn answer_lines(&self) -> Vec<String> {
        self.answers
            .iter()
            .map(|r| {
                let what = match &r.answer {
                    FitnessAnswer::Accept => "accepted the fitness".to_string(),
                    FitnessAnswer::Stop => "stopped the run".to_string(),
                    FitnessAnswer::Correct { text } => format!("corrected it: \"{text}\""),
                };
                let mut line = format!("for \"{}\": {what}", r.description);
                if let Some(why) = &r.refused {
                    line.push_str(&format!(" (not usable as a description: {why})"));
                }
                line
            })
            .collect()
    }

    /// The reading as a Markdown section, for the top of a report.
    #[must_use]
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "## What the task was understood as\n\nThe description: \"{}\"\n\nThe fitness program, written by {}, reads:\n\n",
            self.description, self.written_by
        );
        for line in &self.reading {
            md.push_str("> ");
            md.push_str(line.trim_start());
            md.push_str("  \n");
        }
        md.push_str("\nDry run of the fitness before any training:\n\n| behaviour | mean | episodes |\n|---|---|---|\n");
        for d in &self.dry_run {
            md.push_str(&format!(
                "| {} | {:.4} | {} |\n",
                d.behaviour,
                d.mean(),
                d.values
                    .iter()
                    .map(|v| format!("{v:.4}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.answers.is_empty() {
            md.push_str("\nThe person's answers before the search (`--feedback human`):\n\n");
            for (i, line) in self.answer_lines().iter().enumerate() {
                md.push_str(&format!("{}. {line}\n", i + 1));
            }
        }
        md.push_str(&format!("\n```rhai\n{}\n```\n", self.source.trim_end()));
        md
    }

    fn save(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        write_json(&dir.join(files::FITNESS_READING), self)?;
        write_atomic(
            &dir.join(files::FITNESS_READING_MD),
            self.markdown().as_bytes(),
        )
    }
}

/// The [`FitnessReading`] a described task's run stored in `dir`, if any
/// (runs of built-in tasks, and described runs made before readings were
/// stored, have none).
///
/// # Errors
/// The file exists but cannot be read or parsed.
pub fn load_fitness_reading(dir: &std::path::Path) -> anyhow::Result<Option<FitnessReading>> {
    read_json(&dir.join(files::FITNESS_READING))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scripted controllers do what their labels say: on the tasks they
    /// were written for they beat zero actions by far.
    #[test]
    fn scripted_controllers_do_what_their_labels_say() {
        let registry = rewardsmith_envs::registry();
        // (task, fitness, the scripted controller's least score; measured
        // 1.0 and 0.89, zero actions 0.07 and 0)
        for (name, fitness, least) in [
            (
                "cartpole-balance",
                // Steps with the pole up, out of the episode's length.
                "fn fitness(episode) { let n = 0.0; for s in episode.steps { if s.pole_up > 0.9 { n += 1.0; } } n / episode.max_steps }",
                0.95,
            ),
            (
                "arm-reach",
                "fn fitness(episode) { let n = 0.0; for s in episode.steps { n += s.reached; } n / episode.max_steps }",
                0.8,
            ),
        ] {
            let task = registry.task(name).unwrap();
            let runs = dry_run(task, fitness, 3, Vec::new());
            assert_eq!(runs.len(), 3, "{name}");
            let (zero, scripted) = (runs[1].mean(), runs[2].mean());
            assert!(runs[2].behaviour.starts_with("scripted controller ("));
            assert!(scripted >= least && zero < 0.1, "{name}: {runs:?}");
        }
        let quadruped = registry.task("quadruped-run").unwrap();
        assert!(Scripted::for_env(&quadruped.env, &quadruped.env_spec().state).is_none());
    }

    #[test]
    fn the_reading_comes_from_comment_lines_else_from_prose() {
        let src = "// reading: fitness = mean speed\n  // reading: 0 after a fall\nfn fitness(episode) { 0.0 }";
        assert_eq!(
            plain_reading(src, ""),
            vec![
                "fitness = mean speed".to_string(),
                "0 after a fall".to_string()
            ]
        );
        let answer = "It measures the mean speed.\n\n```rhai\nfn fitness(episode) { 0.0 }\n```";
        let r = plain_reading("fn fitness(episode) { 0.0 }", answer);
        assert_eq!(r[1], "It measures the mean speed.");
    }
}

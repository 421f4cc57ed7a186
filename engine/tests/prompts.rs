//! Prompt templates: every role renders with every placeholder filled, fails
//! on unfilled or unknown ones, and says what matters (snapshot-style asserts).

use rewardsmith::prompts::{PromptError, PromptRole, Prompts, placeholders};

fn filled(role: PromptRole) -> Vec<(&'static str, String)> {
    role.placeholders()
        .iter()
        .map(|&p| (p, format!("<<{p} value>>")))
        .collect()
}

fn render_all(prompts: &Prompts, role: PromptRole) -> Result<String, PromptError> {
    let vars = filled(role);
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    prompts.render(role, &pairs)
}

#[test]
fn every_role_renders_with_every_placeholder_filled() {
    let prompts = Prompts::embedded();
    for role in PromptRole::ALL {
        let text = render_all(&prompts, role).unwrap_or_else(|e| panic!("{role}: {e}"));
        for p in role.placeholders() {
            assert!(
                text.contains(&format!("<<{p} value>>")),
                "{role}: value of {p} missing"
            );
        }
        assert!(
            placeholders(&text).is_empty(),
            "{role}: unfilled after render"
        );
        let used = placeholders(prompts.template(role));
        let declared: std::collections::BTreeSet<String> =
            role.placeholders().iter().map(|s| s.to_string()).collect();
        assert_eq!(
            used, declared,
            "{role}: embedded template uses every placeholder"
        );
    }
}

#[test]
fn an_unfilled_placeholder_is_an_error() {
    let prompts = Prompts::embedded();
    let err = prompts
        .render(
            PromptRole::ExecutionError,
            &[("code", "x"), ("errors", "y")],
        )
        .unwrap_err();
    assert!(matches!(err, PromptError::Unfilled { ref name, .. } if name == "code_tips"));
    assert!(err.to_string().contains("{code_tips}"), "{err}");
}

#[test]
fn an_unknown_variable_is_an_error() {
    let prompts = Prompts::embedded();
    let err = prompts
        .render(PromptRole::System, &[("task", "x")])
        .unwrap_err();
    assert!(matches!(err, PromptError::UnknownVariable { ref name, .. } if name == "task"));
}

#[test]
fn overrides_replace_files_and_reject_unknown_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("critic.txt"),
        "Judge {code} for {task_description}. Map: #{ a: 1.0 } and {{code}} literal.\n{check_report}",
    )
    .unwrap();
    let prompts = Prompts::load(Some(dir.path())).unwrap();
    let text = render_all(&prompts, PromptRole::Critic).unwrap();
    assert!(text.starts_with("Judge <<code value>> for <<task_description value>>."));
    assert!(text.contains("#{ a: 1.0 }"), "{text}");
    assert!(text.contains("{code} literal"), "{text}");
    assert!(prompts.source(PromptRole::Critic).ends_with("critic.txt"));
    // Files not overridden stay embedded.
    assert_eq!(
        prompts.template(PromptRole::System),
        Prompts::embedded().template(PromptRole::System)
    );

    std::fs::write(dir.path().join("system.txt"), "You are {persona}.").unwrap();
    let err = Prompts::load(Some(dir.path())).unwrap_err();
    assert!(
        matches!(err, PromptError::UnknownPlaceholder { ref name, .. } if name == "persona"),
        "{err}"
    );
    assert!(err.to_string().contains("system.txt"), "{err}");
}

#[test]
fn values_are_not_rescanned_for_placeholders() {
    let prompts = Prompts::embedded();
    let text = prompts
        .render(
            PromptRole::HumanFeedback,
            &[
                (
                    "best_code",
                    "fn compute_reward(s, prev) { #{ a: {feedback} } }",
                ),
                ("feedback", "faster please"),
                ("code_tips", "tips"),
            ],
        )
        .unwrap();
    assert!(text.contains("#{ a: {feedback} }"));
    assert!(text.contains("faster please"));
}

#[test]
fn key_content_snapshot() {
    let p = Prompts::embedded();
    let system = render_all(&p, PromptRole::System).unwrap();
    assert!(system.contains("reward engineer"));
    assert!(system.contains("Rhai"));
    let initial = render_all(&p, PromptRole::InitialTask).unwrap();
    for needle in [
        "fn compute_reward(s, prev)",
        "`s` is the reward state after this step and `prev` the state before it",
        "#{ forward: 1.0 * v, upright: 0.2 * s.up_z, effort: -0.01 * e }",
        "finite",
        "<<task_description value>>",
        "<<helpers value>>",
        "<<code_tips value>>",
    ] {
        assert!(initial.contains(needle), "initial_task lacks {needle:?}");
    }
    let tips = p.code_tips();
    assert!(tips.contains("```rhai"));
    assert!(!tips.ends_with('\n'));
    let reflection = render_all(&p, PromptRole::PolicyFeedback).unwrap();
    assert!(reflection.contains("generation <<generation value>>"));
    assert!(reflection.contains("```rhai\n<<best_code value>>\n```"));
    assert!(reflection.contains("constant"));
    let critic = render_all(&p, PromptRole::Critic).unwrap();
    assert!(critic.contains("VERDICT: ACCEPT"));
    let error = render_all(&p, PromptRole::ExecutionError).unwrap();
    assert!(error.contains("<<errors value>>"));
}

#[test]
fn the_initial_prompt_of_a_real_task_reads_well() {
    let registry = rewardsmith_envs::registry();
    let task = registry.task("quadruped-run").unwrap();
    let p = Prompts::embedded();
    let helpers = rewardsmith_sandbox::helpers_doc();
    let text = p
        .render(
            PromptRole::InitialTask,
            &[
                ("task_description", &task.describe()),
                ("fitness", "<<fitness>>"),
                ("helpers", &helpers),
                ("code_tips", p.code_tips()),
            ],
        )
        .unwrap();
    assert!(text.contains("torso_linvel"));
    assert!(text.contains("dot(a: vec, b: vec) -> float"));
    assert!(text.contains("Answer with exactly one code block"));
}

#[test]
fn conversations_are_built_from_the_templates() {
    use rewardsmith::llm::Role;
    let p = Prompts::embedded();
    let initial = p
        .initial_messages(
            "# Task `t`\nGoal.",
            "## How the policy is judged",
            "Helpers: none",
        )
        .unwrap();
    assert_eq!(initial.len(), 2);
    assert_eq!(initial[0].role, Role::System);
    assert!(initial[1].content.contains("# Task `t`\nGoal."));
    assert!(initial[1].content.contains("Helpers: none"));
    assert!(
        initial[1]
            .content
            .contains("Answer with exactly one code block")
    );
    let feedback = p
        .render(
            PromptRole::ExecutionError,
            &[
                ("code", "fn x() {}"),
                ("errors", "syntax at line 1"),
                ("code_tips", p.code_tips()),
            ],
        )
        .unwrap();
    let next = Prompts::follow_up(&initial, "```rhai\nold\n```", &feedback);
    assert_eq!(next.len(), 4);
    assert_eq!(next[2].role, Role::Assistant);
    assert_eq!(next[3].role, Role::User);
    assert!(next[3].content.contains("syntax at line 1"));
}

/// `--prompts` is copied into the run (which refers to its copy, so `resume`
/// uses the same words from anywhere), and a misnamed template is an error
/// naming the files the folder may hold.
#[test]
fn prompt_folders_are_copied_into_the_run_and_misnamed_templates_refused() {
    let dir = tempfile::tempdir().unwrap();
    let custom = dir.path().join("mine");
    std::fs::create_dir(&custom).unwrap();
    let system = format!(
        "{}\nAlways name components in English.\n",
        Prompts::embedded().template(PromptRole::System).trim_end()
    );
    std::fs::write(custom.join("system.txt"), &system).unwrap();
    let run = dir.path().join("run");
    let bin = env!("CARGO_BIN_EXE_rewardsmith");
    let args = |prompts: &std::path::Path, out: &std::path::Path| {
        std::process::Command::new(bin)
            .args([
                "run",
                "--task",
                "cartpole-balance",
                "--samples",
                "1",
                "--generations",
                "1",
                "--budget",
                "2048",
                "--no-final-eval",
                "--no-render",
                "--threads",
                "1",
            ])
            .arg("--prompts")
            .arg(prompts)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let out = args(&custom, &run);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(run.join("prompts/system.txt")).unwrap(),
        system
    );
    let toml = std::fs::read_to_string(run.join("run.toml")).unwrap();
    assert!(toml.contains("prompts = \"prompts\""), "{toml}");
    // The request the designer got used the custom words.
    let request = std::fs::read_to_string(run.join("gen-000/request.json")).unwrap();
    assert!(request.contains("Always name components in English."));

    std::fs::write(custom.join("sytem.txt"), "typo").unwrap();
    let out = args(&custom, &dir.path().join("run2"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sytem.txt") && err.contains("system.txt"),
        "{err}"
    );
    assert!(!dir.path().join("run2/run.toml").exists(), "{err}");
}

// ---------------------------------------------------------------------------
// Every request kind, rendered as a search renders it, for a built-in task
// and a task in the user's own words: entry points, snapshots, token budget.
// ---------------------------------------------------------------------------

use rewardsmith::prompts::FitnessShown;
use rewardsmith::search::{
    DescribedTask, FieldSummary, Outcome, Rungs, TrajectorySummary, generation_reflection,
};
use rewardsmith_core::{BestCheckpoint, Checkpoint, Task, TrainReport};

/// The built-in task of the snapshots: its env has goals of other tasks.
const BUILTIN: &str = "arm-push";

/// The described task of the snapshots, and its (hand-written) fitness
/// program, as the fitness writer might have answered.
const DESCRIBED: &str = "Push the cube off the left edge of the table.";
const DESCRIBED_FITNESS: &str = r"fn fitness(episode) {
    // fraction of the episode's steps, 1 at best: the cube's centre beyond the table's left edge (y > 0.6 m)
    let beyond = 0.0;
    for s in episode.steps {
        if s.cube_pos[1] > 0.6 { beyond += 1.0; }
    }
    beyond / episode.max_steps
}

fn success(episode) {
    episode.steps[episode.length - 1].cube_pos[1] > 0.6
}";

/// A reward answer of typical length, as the assistant's turn.
const ANSWER: &str = "The cube must be pushed; I reward approach, progress and a small effort cost.\n\n```rhai\nfn compute_reward(s, prev) {\n    let approach = exp(-s.tip_to_cube / 0.05);\n    let progress = (prev.cube_pos[1] - s.cube_pos[1]) * -20.0;\n    #{\n        approach: 0.3 * approach,\n        progress: clamp(progress, -1.0, 1.0),\n        alive: 0.1,\n        effort: -0.01 * (s.action[0] * s.action[0] + s.action[1] * s.action[1])\n    }\n}\n```";

/// A reward component for the synthetic trainings: its name and its
/// per-step mean as a function of training progress in [0, 1].
type Component = (&'static str, fn(f64) -> f64);

fn described_task(registry: &rewardsmith_core::Registry) -> Task {
    let mut d = DescribedTask::new(registry, "arm", DESCRIBED).unwrap();
    d.fitness = Some(DESCRIBED_FITNESS.to_string());
    d.build(registry).unwrap()
}

/// A trained candidate's outcome with `components` (name, curve) over
/// `checkpoints` checkpoints, as a run stores it.
fn trained(
    task: &Task,
    components: &[Component],
    checkpoints: usize,
    fitness: f64,
    rungs: Option<Rungs>,
) -> Outcome {
    let steps = task.episode_steps as f64;
    let report = TrainReport {
        task: task.name.clone(),
        components: components.iter().map(|(n, _)| (*n).to_string()).collect(),
        checkpoints: (1..=checkpoints)
            .map(|c| {
                let t = c as f64 / checkpoints as f64;
                Checkpoint {
                    env_steps: c as u64 * 20_000,
                    components: components.iter().map(|(_, f)| f(t)).collect(),
                    episode_return: 10.0 * t,
                    episode_length: steps,
                    fitness: fitness * t,
                }
            })
            .collect(),
        env_steps: checkpoints as u64 * 20_000,
        final_fitness: fitness,
        max_fitness: fitness,
        wall_s: 60.0,
        env_steps_per_sec: 5000.0,
        best: Some(BestCheckpoint {
            env_steps: checkpoints as u64 * 20_000,
            selection_fitness: fitness,
            fitness,
            episodes: 16,
            success: None,
        }),
    };
    let fields = task
        .env_spec()
        .state
        .fields()
        .iter()
        .filter(|f| f.kind.len() <= 4 && task.uses_field(&f.name))
        .take(6)
        .map(|f| FieldSummary {
            name: f.name.clone(),
            mean: vec![0.25; f.kind.len()],
            change: vec![-0.05; f.kind.len()],
        })
        .collect();
    Outcome::Trained {
        check: rewardsmith_sandbox::CheckReport {
            ok: true,
            errors: Vec::new(),
            warnings: Vec::new(),
            components: Vec::new(),
            calls: 0,
            call_us_mean: 0.0,
            call_us_max: 0.0,
            printed_lines: 0,
            printed_bytes: 0,
        },
        report,
        analysis: TrajectorySummary {
            episodes: 4,
            episode_steps: task.episode_steps,
            lengths: vec![task.episode_steps; 4],
            terminated: vec![false; 4],
            fitness: vec![fitness; 4],
            fields,
        },
        rungs,
    }
}

/// A generation of four: the best trained to the budget, one stopped by
/// successive halving, one answer without code, one that crashed.
fn generation(task: &Task) -> Vec<Outcome> {
    let components: [Component; 4] = [
        ("approach", |t| 0.1 + 0.15 * t),
        ("progress", |t| 0.3 * t * t),
        ("alive", |_| 0.1),
        ("effort", |_| -0.02),
    ];
    let rungs = |scores: Vec<f64>, stopped: Option<f64>| Rungs {
        schedule: vec![22_222, 66_666, 200_000],
        errors: vec![0.05; scores.len()],
        scores,
        stopped_below: stopped,
    };
    vec![
        trained(
            task,
            &components,
            10,
            0.412,
            Some(rungs(vec![0.1, 0.3, 0.412], None)),
        ),
        trained(
            task,
            &components[..2],
            2,
            0.031,
            Some(rungs(vec![0.031], Some(0.1))),
        ),
        Outcome::NoCode {
            reason: "the answer holds no ```rhai block".into(),
        },
        Outcome::Crashed {
            error: "component `progress` is not finite (NaN) at step 812".into(),
        },
    ]
}

/// Every request a search sends for `task`, by kind: the reward writer's
/// first request (system and user turns), the reflection after a
/// generation, the error and human-feedback requests, and the fitness
/// request (which only a described task sends, rendered for every task
/// here). `program` is a described task's fitness program.
fn requests(task: &Task, program: Option<&str>, hidden: bool) -> Vec<(&'static str, String)> {
    let prompts = Prompts::embedded();
    let helpers = rewardsmith_sandbox::helpers_doc();
    let fitness = FitnessShown {
        task,
        program,
        plain_reading: None,
        hidden,
    }
    .render();
    let initial = prompts
        .initial_messages(&task.describe(), &fitness, &helpers)
        .unwrap();
    let joined = |m: &[rewardsmith::llm::Message]| {
        m.iter()
            .map(|m| format!("[{:?}]\n{}", m.role, m.content))
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    let code = rewardsmith::extract::extract_code(ANSWER)
        .source()
        .unwrap()
        .to_string();
    let reflection =
        generation_reflection(&generation(task), 0, hidden, task.episode_steps).unwrap();
    let feedback = prompts
        .render(
            PromptRole::PolicyFeedback,
            &[
                ("generation", "0"),
                ("best_code", code.trim_end()),
                ("reflection", reflection.trim_end()),
                ("code_tips", prompts.code_tips()),
            ],
        )
        .unwrap();
    let error = prompts
        .render(
            PromptRole::ExecutionError,
            &[
                (
                    "code",
                    "fn compute_reward(s, prev) { #{ a: s.no_such_field } }",
                ),
                (
                    "errors",
                    "- candidate 0: unknown field `no_such_field` at line 1",
                ),
                ("code_tips", prompts.code_tips()),
            ],
        )
        .unwrap();
    let human = prompts
        .render(
            PromptRole::HumanFeedback,
            &[
                ("best_code", code.trim_end()),
                ("feedback", "It pushes the cube but too slowly."),
                ("code_tips", prompts.code_tips()),
            ],
        )
        .unwrap();
    let fitness_request = prompts
        .render(
            PromptRole::FitnessTask,
            &[
                ("task_description", task.describe().trim_end()),
                ("helpers", helpers.trim_end()),
                ("fitness_tips", prompts.fitness_tips()),
            ],
        )
        .unwrap();
    vec![
        ("reward-request", joined(&initial)),
        (
            "reflection",
            joined(&Prompts::follow_up(&initial, ANSWER, &feedback)[2..]),
        ),
        ("execution-error", error),
        ("human-feedback", human),
        (
            "fitness-request",
            format!(
                "[System]\n{}\n\n[User]\n{fitness_request}",
                prompts.render(PromptRole::System, &[]).unwrap().trim_end()
            ),
        ),
    ]
}

/// Every request kind, for every built-in task and a described task (with
/// the fitness shown and hidden), asks for its own entry point only: the
/// reward requests name `compute_reward` and never ask for `fn fitness`, the
/// fitness request names `fn fitness` and never `compute_reward`. A described
/// task's reward request quotes its fitness program for reading; outside that
/// quote it names no `fn fitness`.
#[test]
fn each_request_names_only_its_own_entry_point() {
    let registry = rewardsmith_envs::registry();
    let described = described_task(&registry);
    let mut cases: Vec<(&Task, Option<&str>, bool)> =
        registry.tasks().iter().map(|t| (t, None, false)).collect();
    cases.push((&registry.tasks()[0], None, true));
    cases.push((&described, Some(DESCRIBED_FITNESS), false));
    cases.push((&described, Some(DESCRIBED_FITNESS), true));
    for (task, program, hidden) in cases {
        for (kind, text) in requests(task, program, hidden) {
            let name = &task.name;
            if kind == "fitness-request" {
                assert!(text.contains("fn fitness(episode)"), "{name} {kind}");
                assert!(!text.contains("compute_reward"), "{name} {kind}:\n{text}");
                continue;
            }
            assert!(text.contains("compute_reward"), "{name} {kind}");
            let outside = match program {
                Some(p) => text.replace(p.trim_end(), "<<the fitness program>>"),
                None => text.clone(),
            };
            assert!(!outside.contains("fn fitness"), "{name} {kind}:\n{outside}");
            assert!(!outside.contains("fn success"), "{name} {kind}:\n{outside}");
            if kind == "reward-request" {
                assert_eq!(
                    text.contains(DESCRIBED_FITNESS.trim_end()),
                    program.is_some() && !hidden,
                    "{name} {kind}: the fitness program is shown unless hidden"
                );
            }
        }
    }
}

/// The reward writer sees what the fitness measures and its scale, and the
/// human-written reward's figure where one was measured; `--hide-fitness`
/// leaves all of that out.
#[test]
fn reward_requests_say_what_the_fitness_measures() {
    let registry = rewardsmith_envs::registry();
    for task in registry.tasks() {
        let text = &requests(task, None, false)[0].1;
        assert!(text.contains(&task.fitness.doc), "{}", task.name);
        let scale = task
            .fitness
            .scale
            .as_deref()
            .unwrap_or_else(|| panic!("{}: a built-in fitness states its scale", task.name));
        assert!(text.contains(scale), "{}", task.name);
        if let Some(r) = &task.fitness.reference {
            assert!(text.contains(r), "{}", task.name);
        }
        let hidden = &requests(task, None, true)[0].1;
        assert!(!hidden.contains(&task.fitness.doc), "{}", task.name);
        assert!(!hidden.contains(scale), "{}", task.name);
        assert!(hidden.contains("The fitness is hidden in this run"));
    }
    let reach = registry.task("cartpole-balance").unwrap();
    let text = &requests(reach, None, false)[0].1;
    assert!(
        text.contains("- Scale: 0 to 1 per episode; 1 = the pole up and the cart on the rail for all 500 steps."),
        "{text}"
    );
    assert!(
        text.contains("- The human-written reward of this task reached 1.0 within 100k env steps."),
        "{text}"
    );
}

/// A described task shows no other task's goal as a goal: the arm's
/// targets and goal spots read as unused, and its table has edges.
#[test]
fn a_described_task_marks_other_tasks_fields_unused() {
    let registry = rewardsmith_envs::registry();
    let described = described_task(&registry);
    let text = described.describe();
    for field in [
        "target_pos",
        "tip_to_target",
        "reached",
        "goal_pos",
        "cube_to_goal",
        "cube_at_goal",
        "push_spot",
    ] {
        assert!(!described.uses_field(field), "{field}");
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("- `{field}`")))
            .unwrap_or_else(|| panic!("{field} missing:\n{text}"));
        assert!(line.contains("unused by this task"), "{line}");
        assert!(!line.contains("should"), "{line}");
    }
    for field in ["cube_pos", "cube_to_edge", "tip_to_edge", "tip_pos"] {
        assert!(described.uses_field(field), "{field}");
    }
    assert!(text.contains("+y is the arm's left"), "{text}");
    assert!(text.contains("y = 0.6 m (its left edge)"), "{text}");
    // A built-in task keeps its own goal and marks the others'.
    let push = registry.task("arm-push").unwrap();
    assert!(push.uses_field("goal_pos") && !push.uses_field("target_pos"));
    let reach = registry.task("arm-reach").unwrap();
    assert!(reach.uses_field("target_pos") && !reach.uses_field("push_spot"));
}

fn snapshot_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// Every rendered request, for a built-in task and a described task, is
/// checked into `engine/tests/snapshots/` so that a change to the words shows
/// in review. `UPDATE_SNAPSHOTS=1 cargo test -p rewardsmith --test prompts`
/// rewrites them.
#[test]
fn rendered_prompts_match_their_snapshots() {
    let registry = rewardsmith_envs::registry();
    let builtin = registry.task(BUILTIN).unwrap();
    let described = described_task(&registry);
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let dir = snapshot_dir();
    let mut stale = Vec::new();
    let mut cases: Vec<(String, String)> = Vec::new();
    for (kind, text) in requests(builtin, None, false) {
        if kind != "fitness-request" {
            cases.push((format!("{BUILTIN}.{kind}"), text));
        }
    }
    cases.push((
        format!("{BUILTIN}.reward-request.hidden-fitness"),
        requests(builtin, None, true).swap_remove(0).1,
    ));
    for (kind, text) in requests(&described, Some(DESCRIBED_FITNESS), false) {
        if matches!(kind, "reward-request" | "reflection" | "fitness-request") {
            cases.push((format!("arm-described.{kind}"), text));
        }
    }
    cases.push((
        "arm-described.reward-request.hidden-fitness".to_string(),
        requests(&described, Some(DESCRIBED_FITNESS), true)
            .swap_remove(0)
            .1,
    ));
    for (name, text) in cases {
        let path = dir.join(format!("{name}.txt"));
        let text = format!("{}\n", text.trim_end());
        let old = std::fs::read_to_string(&path).ok();
        if old.as_deref() != Some(text.as_str()) {
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "rendered prompts differ from their snapshots (review the change, then rerun with UPDATE_SNAPSHOTS=1):\n{}",
        stale.join("\n")
    );
}

/// Tokens of `text`, estimated as characters / 4 rounded up: about right for
/// English prose and code with the GPT-4-family tokenizers (cl100k, o200k),
/// an estimate, not a count.
fn tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// The largest request a search sends (the conversation of a later
/// generation: system, task request, the best answer and the reflection on
/// every candidate), estimated in tokens ([`tokens`]), stays under this.
const REQUEST_TOKEN_BUDGET: usize = 7_000;
/// The reflection turn alone, for a generation of [`WIDE_GENERATION`]
/// candidates with eight components each.
const REFLECTION_TOKEN_BUDGET: usize = 3_000;
/// The widest generation the budget is stated for (the default is 8).
const WIDE_GENERATION: usize = 16;

/// The reflection on a wide generation: every candidate trained with eight
/// components, except every fourth, which failed with a long error.
fn wide_generation(task: &Task) -> Vec<Outcome> {
    let components: [Component; 8] = [
        ("forward_progress", |t| 0.4 * t),
        ("upright_posture", |t| 0.2 + 0.01 * t),
        ("alive_bonus", |_| 0.05),
        ("action_effort", |t| -0.02 - 0.01 * t),
        ("joint_velocity", |t| -0.01 * t),
        ("height_tolerance", |t| 0.3 * t),
        ("smoothness", |_| -0.001),
        ("goal_bonus", |t| 0.1 * t * t),
    ];
    (0..WIDE_GENERATION)
        .map(|i| {
            if i % 4 == 3 {
                Outcome::Crashed {
                    error: format!(
                        "component `goal_bonus` is not finite (NaN) at step {i}; {}",
                        "x".repeat(400)
                    ),
                }
            } else {
                trained(task, &components, 20, 0.1 * i as f64, None)
            }
        })
        .collect()
}

#[test]
fn the_largest_request_stays_within_the_token_budget() {
    let registry = rewardsmith_envs::registry();
    let described = described_task(&registry);
    let prompts = Prompts::embedded();
    let helpers = rewardsmith_sandbox::helpers_doc();
    let mut largest = (0, String::new());
    let mut tasks: Vec<(&Task, Option<&str>)> =
        registry.tasks().iter().map(|t| (t, None)).collect();
    tasks.push((&described, Some(DESCRIBED_FITNESS)));
    for (task, program) in tasks {
        let fitness = FitnessShown {
            task,
            program,
            plain_reading: None,
            hidden: false,
        }
        .render();
        let initial = prompts
            .initial_messages(&task.describe(), &fitness, &helpers)
            .unwrap();
        let reflection =
            generation_reflection(&wide_generation(task), 0, false, task.episode_steps).unwrap();
        let feedback = prompts
            .render(
                PromptRole::PolicyFeedback,
                &[
                    ("generation", "3"),
                    ("best_code", ANSWER),
                    ("reflection", reflection.trim_end()),
                    ("code_tips", prompts.code_tips()),
                ],
            )
            .unwrap();
        assert!(
            tokens(&feedback) <= REFLECTION_TOKEN_BUDGET,
            "{}: the reflection on {WIDE_GENERATION} candidates is ~{} tokens",
            task.name,
            tokens(&feedback)
        );
        let conversation = Prompts::follow_up(&initial, ANSWER, &feedback);
        let total: usize = conversation.iter().map(|m| tokens(&m.content)).sum();
        eprintln!(
            "{}: task request ~{} tokens, reflection ~{} tokens, whole request ~{total} tokens",
            task.name,
            tokens(&initial[1].content),
            tokens(&feedback)
        );
        if total > largest.0 {
            largest = (total, task.name.clone());
        }
    }
    assert!(
        largest.0 <= REQUEST_TOKEN_BUDGET,
        "{}: ~{} tokens",
        largest.1,
        largest.0
    );
}

/// Measured on a recorded transcript: a real search (offline designer, 4
/// candidates, 2 generations) records its requests in the run folder; the
/// second generation's request, with the reflection on every candidate of the
/// first, stays within the budget.
#[test]
fn a_recorded_search_request_stays_within_the_token_budget() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rewardsmith"))
        .args([
            "run",
            "--task",
            "cartpole-balance",
            "--samples",
            "4",
            "--generations",
            "2",
            "--budget",
            "2048",
            "--no-final-eval",
            "--no-render",
            "--threads",
            "1",
        ])
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let request = std::fs::read_to_string(run.join("gen-001/request.json")).unwrap();
    let messages: Vec<serde_json::Value> = serde_json::from_str(&request).unwrap();
    let contents: Vec<&str> = messages
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    let feedback = contents.last().unwrap();
    // Every candidate of the first generation has its line.
    for i in 0..4 {
        assert!(
            feedback.contains(&format!("- candidate {i}:")),
            "{feedback}"
        );
    }
    let total: usize = contents.iter().map(|c| tokens(c)).sum();
    eprintln!(
        "recorded cartpole-balance search, generation 1: reflection ~{} tokens, whole request ~{total} tokens",
        tokens(feedback)
    );
    assert!(tokens(feedback) <= REFLECTION_TOKEN_BUDGET);
    assert!(total <= REQUEST_TOKEN_BUDGET);
}

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
        .initial_messages("# Task `t`\nGoal.", "Helpers: none")
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

/// Every request kind, for every built-in task, asks for its own entry point
/// only: the reward requests name `compute_reward` and never `fn fitness`, the
/// fitness request (a task in the user's words) names `fn fitness` and never
/// `compute_reward` — a model that follows the tips of one must not fail the
/// contract of the other.
#[test]
fn each_request_names_only_its_own_entry_point() {
    let prompts = Prompts::embedded();
    let registry = rewardsmith_envs::registry();
    let helpers = rewardsmith_sandbox::helpers_doc();
    for task in registry.tasks() {
        let describe = task.describe();
        let reward_requests = [
            prompts
                .render(
                    PromptRole::InitialTask,
                    &[
                        ("task_description", &describe),
                        ("helpers", &helpers),
                        ("code_tips", prompts.code_tips()),
                    ],
                )
                .unwrap(),
            prompts
                .render(
                    PromptRole::PolicyFeedback,
                    &[
                        ("generation", "0"),
                        ("best_code", "fn compute_reward(s, prev) { #{ a: 1.0 } }"),
                        ("reflection", "a: [1.0]"),
                        ("code_tips", prompts.code_tips()),
                    ],
                )
                .unwrap(),
            prompts
                .render(
                    PromptRole::ExecutionError,
                    &[
                        ("code", "fn compute_reward(s, prev) { #{ a: x } }"),
                        ("errors", "unknown variable x"),
                        ("code_tips", prompts.code_tips()),
                    ],
                )
                .unwrap(),
            prompts
                .render(
                    PromptRole::HumanFeedback,
                    &[
                        ("best_code", "fn compute_reward(s, prev) { #{ a: 1.0 } }"),
                        ("feedback", "it wobbles"),
                        ("code_tips", prompts.code_tips()),
                    ],
                )
                .unwrap(),
        ];
        for text in &reward_requests {
            assert!(text.contains("compute_reward"), "{}: {text}", task.name);
            assert!(!text.contains("fn fitness"), "{}: {text}", task.name);
        }
        let fitness_request = prompts
            .render(
                PromptRole::FitnessTask,
                &[
                    ("task_description", &describe),
                    ("helpers", &helpers),
                    ("fitness_tips", prompts.fitness_tips()),
                ],
            )
            .unwrap();
        assert!(
            fitness_request.contains("fn fitness(episode)"),
            "{}",
            task.name
        );
        assert!(
            !fitness_request.contains("compute_reward"),
            "{}: the fitness request names the reward's entry point:\n{fitness_request}",
            task.name
        );
    }
}

/// The tips about constant terms give one rule with its condition, not two
/// that contradict each other.
#[test]
fn the_tips_on_constant_terms_do_not_contradict_each_other() {
    let prompts = Prompts::embedded();
    let text = prompts
        .render(
            PromptRole::PolicyFeedback,
            &[
                ("generation", "0"),
                ("best_code", "x"),
                ("reflection", "y"),
                ("code_tips", prompts.code_tips()),
            ],
        )
        .unwrap();
    // The code tips say when an alive bonus helps; the analysis tips say to
    // drop constant terms except exactly that one.
    assert!(
        text.contains("helps when episodes end on failure"),
        "{text}"
    );
    assert!(
        text.contains("The one exception is a constant bonus per step (an alive bonus) on a task whose episodes can end early"),
        "{text}"
    );
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

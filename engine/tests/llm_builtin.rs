//! The offline designer writes programs that pass the sandbox's checks for
//! every built-in task, first generation and mutated, deterministically.

use rewardsmith::extract::extract_code;
use rewardsmith::llm::{
    BestProgram, BuiltinDesigner, ComponentSummary, DesignContext, DesignRole, LlmClient,
    LlmRequest, Message,
};
use rewardsmith_core::Task;
use rewardsmith_sandbox::{CheckReport, Limits, ProgramSource, check_source};

const K: usize = 6;

fn request(ctx: DesignContext, n: usize) -> LlmRequest {
    LlmRequest::new(vec![Message::user("write a reward")], n).context(ctx)
}

fn check(task: &Task, source: &str, samples: &[(Vec<f64>, Vec<f64>)]) -> CheckReport {
    check_source(
        &ProgramSource::Rhai(source.to_string()),
        &task.env_spec().state,
        samples,
        &Limits::default(),
    )
}

fn sources(llm: &BuiltinDesigner, ctx: DesignContext, n: usize) -> Vec<String> {
    llm.complete(&request(ctx, n))
        .unwrap()
        .completions
        .iter()
        .map(|c| {
            assert!(c.text.contains("not a language model"), "{}", c.text);
            extract_code(&c.text)
                .source()
                .unwrap_or_else(|| panic!("no code in {}", c.text))
                .to_string()
        })
        .collect()
}

#[test]
fn every_task_gets_programs_that_pass_the_checks_across_generations() {
    let registry = rewardsmith_envs::registry();
    let llm = BuiltinDesigner::new(42);
    for task in registry.tasks() {
        let samples = rewardsmith_envs::rollout::sample_states(task, 64, 5);
        let first = sources(&llm, DesignContext::for_task(task, 1), K);
        assert_eq!(first.len(), K);
        let mut distinct = first.clone();
        distinct.sort();
        distinct.dedup();
        assert!(
            distinct.len() > K / 2,
            "{}: too few distinct programs",
            task.name
        );
        let mut best: Option<(String, CheckReport)> = None;
        for src in &first {
            assert!(src.contains("offline designer"), "{src}");
            let report = check(task, src, &samples);
            assert!(report.ok, "{}: {:?}\n{src}", task.name, report.errors);
            best.get_or_insert((src.clone(), report));
        }
        // Two more generations, mutating from the dry-run statistics, once
        // with a good fitness and once with a fitness of zero.
        for (generation, fitness) in [(2u64, Some(0.4)), (3, Some(0.0))] {
            let (src, report) = best.clone().unwrap();
            let mut ctx = DesignContext::for_task(task, generation);
            ctx.best = Some(BestProgram {
                source: src,
                fitness,
                components: report
                    .components
                    .iter()
                    .map(|c| ComponentSummary {
                        name: c.name.clone(),
                        mean: c.mean,
                        min: c.min,
                        max: c.max,
                    })
                    .collect(),
            });
            let next = sources(&llm, ctx, K);
            for src in &next {
                let report = check(task, src, &samples);
                assert!(
                    report.ok,
                    "{} gen {generation}: {:?}\n{src}",
                    task.name, report.errors
                );
            }
            best = Some((next[1].clone(), check(task, &next[1], &samples)));
        }
    }
}

#[test]
fn the_objective_follows_the_task() {
    let registry = rewardsmith_envs::registry();
    let llm = BuiltinDesigner::new(1);
    let canonical = |name: &str| {
        sources(
            &llm,
            DesignContext::for_task(registry.task(name).unwrap(), 0),
            1,
        )
        .remove(0)
    };
    let run = canonical("quadruped-run");
    assert!(run.contains("forward: 1.0 * (s.torso_linvel[0])"), "{run}");
    assert!(run.contains("alive:") && run.contains("effort:"), "{run}");
    let back = canonical("quadruped-backward");
    assert!(
        back.contains("backward: 1.0 * (-s.torso_linvel[0])"),
        "{back}"
    );
    let turn = canonical("quadruped-turn");
    assert!(turn.contains("turn: 1.0 * (s.torso_angvel[2])"), "{turn}");
    let stand = canonical("quadruped-stand");
    assert!(
        stand.contains("front_feet_up") && stand.contains("height"),
        "{stand}"
    );
    let balance = canonical("cartpole-balance");
    assert!(balance.contains("upright: 1.0 * (s.pole_up)"), "{balance}");
    assert!(balance.contains("centred"), "{balance}");
    let swing = canonical("cartpole-swingup");
    assert!(
        swing.contains("(s.pole_up + 1.0) / 2.0") && swing.contains("still"),
        "{swing}"
    );
    // A valve on a hinge: its one rate when spinning, the error to the target
    // when turning to an angle (and no rate then), no constant alive bonus
    // where episodes never end early.
    let spin = canonical("hand-valve-spin");
    assert!(spin.contains("turn: 1.0 * (s.valve_vel)"), "{spin}");
    assert!(
        !spin.contains("angle_error") && !spin.contains("alive"),
        "{spin}"
    );
    let to_angle = canonical("hand-valve-turn");
    assert!(
        to_angle.contains("exp(-abs(s.angle_error) / 0.3)") && to_angle.contains("progress"),
        "{to_angle}"
    );
    assert!(
        !to_angle.contains("valve_vel") && !to_angle.contains("alive"),
        "{to_angle}"
    );
    let reorient = canonical("hand-reorient");
    assert!(reorient.contains("s.orient_error"), "{reorient}");
    assert!(!reorient.contains("object_angvel"), "{reorient}");
}

#[test]
fn a_task_in_the_users_words_gets_matching_terms() {
    let registry = rewardsmith_envs::registry();
    let quad = registry.task("quadruped-run").unwrap();
    let ctx = DesignContext::new(
        "custom",
        "walk backwards slowly at 0.4 m/s while keeping the body low",
        quad.env_spec().state.clone(),
        9,
    );
    let llm = BuiltinDesigner::new(2);
    let src = sources(&llm, ctx, 1).remove(0);
    assert!(src.contains("sq(-s.torso_linvel[0] - 0.4)"), "{src}");
    assert!(src.contains("low:"), "{src}");
    let samples = rewardsmith_envs::rollout::sample_states(quad, 32, 1);
    assert!(check(quad, &src, &samples).ok);
}

#[test]
fn same_seed_same_programs_other_seed_other_programs() {
    let registry = rewardsmith_envs::registry();
    let task = registry.task("quadruped-run").unwrap();
    let a = BuiltinDesigner::new(7)
        .complete(&request(DesignContext::for_task(task, 3), 4))
        .unwrap();
    let b = BuiltinDesigner::new(7)
        .complete(&request(DesignContext::for_task(task, 3), 4))
        .unwrap();
    let c = BuiltinDesigner::new(8)
        .complete(&request(DesignContext::for_task(task, 3), 4))
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn other_roles_and_missing_context() {
    let registry = rewardsmith_envs::registry();
    let task = registry.task("cartpole-balance").unwrap();
    let llm = BuiltinDesigner::new(1);
    let mut ctx = DesignContext::for_task(task, 0);
    ctx.role = DesignRole::Critic;
    let r = llm.complete(&request(ctx, 1)).unwrap();
    assert!(r.completions[0].text.contains("not a language model"));
    assert_eq!(
        rewardsmith::extract::extract_review(&r.completions[0].text).verdict,
        rewardsmith::extract::Verdict::Accept
    );
    let err = llm
        .complete(&LlmRequest::new(vec![Message::user("hi")], 1))
        .unwrap_err();
    assert!(err.to_string().contains("DesignContext"), "{err}");
    assert_eq!(llm.totals().calls, 1);
}

#[test]
fn long_searches_and_odd_statistics_stay_valid() {
    let registry = rewardsmith_envs::registry();
    let task = registry.task("quadruped-turn").unwrap();
    let samples = rewardsmith_envs::rollout::sample_states(task, 32, 2);
    let llm = BuiltinDesigner::new(9);
    let odd = [f64::NAN, f64::INFINITY, -1e12, 0.0, 1e-9];
    let mut best = sources(&llm, DesignContext::for_task(task, 0), 1).remove(0);
    for generation in 1..=12u64 {
        let report = check(task, &best, &samples);
        assert!(report.ok, "gen {generation}: {:?}\n{best}", report.errors);
        let mut ctx = DesignContext::for_task(task, generation);
        ctx.failures = vec!["syntax error at line 3".into()];
        ctx.best = Some(BestProgram {
            source: best.clone(),
            fitness: Some(odd[generation as usize % odd.len()]),
            components: report
                .components
                .iter()
                .enumerate()
                .map(|(i, c)| ComponentSummary {
                    name: c.name.clone(),
                    mean: if i == 0 {
                        odd[(generation as usize + 1) % odd.len()]
                    } else {
                        c.mean
                    },
                    min: c.min,
                    max: c.max,
                })
                .collect(),
        });
        let next = sources(&llm, ctx, 3);
        best = next[(generation % 3) as usize].clone();
    }
    // A best program the designer did not write (a human baseline) is
    // mutated from the designer's own composition.
    let mut ctx = DesignContext::for_task(task, 99);
    ctx.best = Some(BestProgram {
        source: task.human_reward.as_ref().unwrap().source.to_string(),
        fitness: Some(0.3),
        components: vec![],
    });
    let text = llm.complete(&request(ctx, 2)).unwrap().completions[0]
        .text
        .clone();
    assert!(
        text.contains("not written by the offline designer"),
        "{text}"
    );
    let src = extract_code(&text).source().unwrap().to_string();
    assert!(check(task, &src, &samples).ok);
}

#[test]
fn best_programs_come_from_train_reports() {
    use rewardsmith_core::{Checkpoint, TrainReport};
    let cp = |f: f64, a: f64| Checkpoint {
        env_steps: 100,
        components: vec![a, 0.5, f64::NAN],
        episode_return: 1.0,
        episode_length: 10.0,
        fitness: f,
    };
    let report = TrainReport {
        task: "t".into(),
        components: vec!["forward".into(), "alive".into(), "broken".into()],
        checkpoints: vec![cp(0.1, 0.2), cp(0.3, 0.6)],
        env_steps: 200,
        final_fitness: 0.3,
        max_fitness: 0.3,
        wall_s: 1.0,
        env_steps_per_sec: 200.0,
        best: None,
    };
    let best = BestProgram::from_report("src", &report);
    assert_eq!(best.fitness, Some(0.3));
    assert_eq!(best.components[0].name, "forward");
    assert!((best.components[0].mean - 0.4).abs() < 1e-12);
    assert_eq!((best.components[0].min, best.components[0].max), (0.2, 0.6));
    assert_eq!(best.components[1].max - best.components[1].min, 0.0);
    assert_eq!(
        best.components[2].mean, 0.0,
        "a NaN-only curve summarises to 0"
    );
}

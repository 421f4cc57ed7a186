//! Reward-hacking checks on real trainings: a reward that pays for something a
//! policy can farm without doing the task (cart speed on `cartpole-balance`: the
//! cart runs and the pole falls) is flagged; the human-written reward of the
//! same task, trained the same way, is not.

use rewardsmith::search::{HackFlag, hacking_flags};
use rewardsmith::training::{TrainRequest, train_reward};
use rewardsmith_rl::PpoOverrides;
use rewardsmith_sandbox::ProgramSource;

fn flags_of(source: &str) -> (Vec<HackFlag>, Vec<f64>) {
    let registry = rewardsmith_envs::registry();
    let task = registry.task("cartpole-balance").unwrap();
    let source = ProgramSource::Rhai(source.to_string());
    let overrides = PpoOverrides {
        total_timesteps: Some(60_000),
        ..PpoOverrides::default()
    };
    let request = TrainRequest {
        task,
        source: &source,
        overrides: &overrides,
        seed: 0,
        threads: 2,
        out: None,
    };
    let trained = train_reward(&request, &mut |_| {}).unwrap().trained;
    (
        hacking_flags(&trained.report),
        trained.report.fitness_curve(),
    )
}

#[test]
fn a_farmable_reward_is_flagged_and_the_human_written_one_is_not() {
    let (flags, fitness) =
        flags_of("fn compute_reward(s, prev) {\n    #{ speed: abs(s.cart_vel) }\n}\n");
    assert!(
        flags
            .iter()
            .any(|f| matches!(f, HackFlag::ReturnRoseFitnessDid { .. })),
        "cart speed: {flags:?} (fitness {fitness:?})"
    );
    let registry = rewardsmith_envs::registry();
    let human = registry
        .task("cartpole-balance")
        .unwrap()
        .human_reward
        .clone()
        .unwrap();
    let (flags, fitness) = flags_of(&human.source);
    assert!(
        flags.iter().all(|f| !matches!(
            f,
            HackFlag::ReturnRoseFitnessDid { .. } | HackFlag::Uncorrelated { .. }
        )),
        "human-written: {flags:?} (fitness {fitness:?})"
    );
}

//! A failing reward program stops training with a typed error naming the env
//! step and the component; it never panics or hangs.

mod common;

use common::{DistanceReward, point_task};
use rewardsmith_core::{RewardError, RewardErrorKind, RewardProgram, StateView};
use rewardsmith_rl::{Error, PpoConfig, train};

fn config() -> PpoConfig {
    let mut c = PpoConfig::for_task(&point_task());
    c.total_timesteps = 8 * 64 * 4;
    c
}

#[test]
fn a_runtime_error_names_the_step_and_component() {
    let mut reward = DistanceReward::new();
    reward.fail_at = Some((100, false));
    let err = train(&point_task(), &reward, &config(), 1, 2, &mut |_| {}).unwrap_err();
    match &err {
        Error::Reward {
            env_step,
            instance,
            component,
            source,
        } => {
            // Every instance fails on its 100th step; the first one is reported.
            assert_eq!(*env_step, 99 * 8);
            assert_eq!(*instance, 0);
            assert_eq!(component.as_deref(), Some("distance"));
            assert_eq!(source.kind, RewardErrorKind::Runtime);
        }
        other => panic!("unexpected error {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("env step 792") && text.contains("`distance`"),
        "{text}"
    );
}

#[test]
fn a_non_finite_component_is_an_error() {
    let mut reward = DistanceReward::new();
    reward.fail_at = Some((5, true));
    let err = train(&point_task(), &reward, &config(), 1, 1, &mut |_| {}).unwrap_err();
    match err {
        Error::Reward {
            component, source, ..
        } => {
            assert_eq!(component.as_deref(), Some("effort"));
            assert_eq!(source.kind, RewardErrorKind::NonFinite);
        }
        other => panic!("unexpected error {other}"),
    }
}

struct NoComponents;

impl RewardProgram for NoComponents {
    fn components(&self) -> &[String] {
        &[]
    }
    fn evaluate(
        &mut self,
        _: &StateView<'_>,
        _: &StateView<'_>,
        _: &mut [f64],
    ) -> Result<(), RewardError> {
        Ok(())
    }
    fn fork(&self) -> Box<dyn RewardProgram> {
        Box::new(NoComponents)
    }
}

#[test]
fn a_program_without_components_and_a_bad_config_are_refused() {
    let err = train(&point_task(), &NoComponents, &config(), 1, 1, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::NoComponents));
    let mut c = config();
    c.total_timesteps = 10;
    let err = train(&point_task(), &DistanceReward::new(), &c, 1, 1, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

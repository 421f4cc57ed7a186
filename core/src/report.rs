//! What a training run reports: curves at evenly spaced checkpoints, and totals.

use serde::{Deserialize, Serialize};

/// Training statistics at one checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Env steps taken so far (all instances together).
    pub env_steps: u64,
    /// Mean per-step value of each reward component since the last checkpoint,
    /// aligned with [`TrainReport::components`].
    pub components: Vec<f64>,
    /// Mean undiscounted return of the training episodes that ended since the
    /// last checkpoint (NaN when none ended; `null` in JSON).
    #[serde(deserialize_with = "nan_from_null")]
    pub episode_return: f64,
    /// Mean length of those episodes, in steps (NaN when none ended; `null`
    /// in JSON).
    #[serde(deserialize_with = "nan_from_null")]
    pub episode_length: f64,
    /// Task fitness of the deterministic policy on evaluation episodes (NaN
    /// when a machine-written fitness program gave a non-finite value; `null`
    /// in JSON).
    #[serde(deserialize_with = "nan_from_null")]
    pub fitness: f64,
}

/// Reads a number that JSON wrote as `null` because it was NaN.
fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One reward component's curve over the checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentCurve {
    /// Component name.
    pub name: String,
    /// Mean per-step value at each checkpoint.
    pub curve: Vec<f64>,
}

/// The result of training one policy on one reward.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Task name.
    pub task: String,
    /// The reward's component names, in program order.
    pub components: Vec<String>,
    /// Statistics at evenly spaced checkpoints.
    pub checkpoints: Vec<Checkpoint>,
    /// Env steps taken in total.
    pub env_steps: u64,
    /// Fitness at the last checkpoint.
    pub final_fitness: f64,
    /// Best fitness over the checkpoints.
    pub max_fitness: f64,
    /// Wall-clock seconds of training.
    pub wall_s: f64,
    /// Env steps per wall-clock second, learning included.
    pub env_steps_per_sec: f64,
    /// The checkpoint kept as the training's policy (absent in reports
    /// written before best checkpoints were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<BestCheckpoint>,
}

/// The checkpoint whose evaluation was best, kept beside the last one, and
/// its score on held-out seeds (seeds that did not choose it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestCheckpoint {
    /// Env steps at that checkpoint.
    pub env_steps: u64,
    /// Its fitness on the checkpoints' evaluation episodes (which chose it).
    pub selection_fitness: f64,
    /// Its fitness on held-out episodes: the training's figure.
    pub fitness: f64,
    /// Held-out episodes run.
    pub episodes: usize,
    /// Share of those episodes that met the task's success predicate, for a
    /// fitness that has one (a described task's `fn success(episode)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<f64>,
}

impl TrainReport {
    /// The training's figure: the best checkpoint's held-out fitness, or the
    /// last checkpoint's fitness for a report without a best checkpoint.
    #[must_use]
    pub fn fitness(&self) -> f64 {
        self.best.as_ref().map_or(self.final_fitness, |b| b.fitness)
    }

    /// Env steps of the policy [`fitness`](Self::fitness) scores.
    #[must_use]
    pub fn fitness_env_steps(&self) -> u64 {
        self.best.as_ref().map_or(self.env_steps, |b| b.env_steps)
    }

    /// Fitness at each checkpoint.
    #[must_use]
    pub fn fitness_curve(&self) -> Vec<f64> {
        self.checkpoints.iter().map(|c| c.fitness).collect()
    }

    /// Mean episode length at each checkpoint.
    #[must_use]
    pub fn episode_length_curve(&self) -> Vec<f64> {
        self.checkpoints.iter().map(|c| c.episode_length).collect()
    }

    /// Mean episode return at each checkpoint.
    #[must_use]
    pub fn episode_return_curve(&self) -> Vec<f64> {
        self.checkpoints.iter().map(|c| c.episode_return).collect()
    }

    /// Each component's curve, in program order.
    #[must_use]
    pub fn component_curves(&self) -> Vec<ComponentCurve> {
        self.components
            .iter()
            .enumerate()
            .map(|(i, name)| ComponentCurve {
                name: name.clone(),
                curve: self.checkpoints.iter().map(|c| c.components[i]).collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_without_finished_episodes_round_trips_through_json() {
        let cp = Checkpoint {
            env_steps: 2048,
            components: vec![0.5],
            episode_return: f64::NAN,
            episode_length: f64::NAN,
            fitness: 0.25,
        };
        let text = serde_json::to_string(&cp).unwrap();
        assert!(text.contains("\"episode_return\":null"), "{text}");
        let back: Checkpoint = serde_json::from_str(&text).unwrap();
        assert!(back.episode_return.is_nan() && back.episode_length.is_nan());
        assert_eq!(back.fitness, 0.25);
        // A non-finite fitness (a machine-written fitness program's) too: a
        // saved training keeps its checkpoints in JSON.
        let nan = Checkpoint {
            fitness: f64::NAN,
            ..cp
        };
        let back: Checkpoint = serde_json::from_str(&serde_json::to_string(&nan).unwrap()).unwrap();
        assert!(back.fitness.is_nan());
    }

    #[test]
    fn curves_follow_checkpoints() {
        let cp = |steps, f| Checkpoint {
            env_steps: steps,
            components: vec![f, -f],
            episode_return: 1.0,
            episode_length: 10.0,
            fitness: f,
        };
        let report = TrainReport {
            task: "t".into(),
            components: vec!["a".into(), "b".into()],
            checkpoints: vec![cp(10, 0.1), cp(20, 0.3)],
            env_steps: 20,
            final_fitness: 0.3,
            max_fitness: 0.3,
            wall_s: 1.0,
            env_steps_per_sec: 20.0,
            best: None,
        };
        assert_eq!(report.fitness_curve(), vec![0.1, 0.3]);
        let curves = report.component_curves();
        assert_eq!(curves[1].name, "b");
        assert_eq!(curves[1].curve, vec![-0.1, -0.3]);
    }
}

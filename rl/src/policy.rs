//! A trained policy: observation-normalisation statistics plus the actor
//! network, saved as `policy.safetensors` (weights) and `policy.json` (the rest).

use crate::error::{Error, Result};
use crate::nn::{Mlp, MlpWorkspace};
use crate::normalize::{OBS_EPSILON, ObsNormalizer, RunningMeanStd};
use rewardsmith_core::Task;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// File name of the weights inside a policy folder.
pub const WEIGHTS_FILE: &str = "policy.safetensors";
/// File name of the metadata inside a policy folder.
pub const META_FILE: &str = "policy.json";
/// The `format` tag written into `policy.json`.
const FORMAT: &str = "rewardsmith-policy";
/// The metadata version this crate writes and reads.
const VERSION: u32 = 1;

/// A Gaussian policy's deterministic part: normalise the observation, run the
/// actor, clamp the mean action to `[-1, 1]`.
#[derive(Clone, Debug)]
pub struct Policy {
    env: String,
    task: String,
    obs_norm: ObsNormalizer,
    actor: Mlp,
    log_std: Vec<f32>,
    ws: MlpWorkspace,
    input: Vec<f32>,
}

/// `policy.json`: everything but the weights.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyMeta {
    format: String,
    version: u32,
    env: String,
    task: String,
    obs_dim: usize,
    action_dim: usize,
    /// Widths of the actor's layers, observation first, action last.
    layer_sizes: Vec<usize>,
    activation: String,
    obs_norm: ObsNormMeta,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObsNormMeta {
    enabled: bool,
    mean: Vec<f64>,
    var: Vec<f64>,
    count: f64,
    clip: f64,
    epsilon: f64,
}

impl Policy {
    /// Assembles a policy (the trainer's snapshot of its actor).
    pub(crate) fn new(task: &Task, obs_norm: ObsNormalizer, actor: Mlp, log_std: Vec<f32>) -> Self {
        Self {
            env: task.env.clone(),
            task: task.name.clone(),
            obs_norm,
            actor,
            log_std,
            ws: MlpWorkspace::default(),
            input: Vec::new(),
        }
    }

    /// The environment it was trained in.
    #[must_use]
    pub fn env(&self) -> &str {
        &self.env
    }

    /// The task it was trained for.
    #[must_use]
    pub fn task(&self) -> &str {
        &self.task
    }

    /// Observation length.
    #[must_use]
    pub fn obs_dim(&self) -> usize {
        self.actor.input_dim()
    }

    /// Action length.
    #[must_use]
    pub fn action_dim(&self) -> usize {
        self.actor.output_dim()
    }

    /// The actor network (normalised observation → mean action).
    #[must_use]
    pub fn actor(&self) -> &Mlp {
        &self.actor
    }

    /// The observation normaliser.
    #[must_use]
    pub fn obs_normalizer(&self) -> &ObsNormalizer {
        &self.obs_norm
    }

    /// Log standard deviation of the exploration noise, per action.
    #[must_use]
    pub fn log_std(&self) -> &[f32] {
        &self.log_std
    }

    /// The deterministic action for one raw observation.
    ///
    /// # Panics
    /// If `obs` or `out` has the wrong length.
    pub fn act(&mut self, obs: &[f32], out: &mut [f32]) {
        self.act_batch(obs, out);
    }

    /// Deterministic actions for a batch of raw observations (`n × obs_dim`
    /// in, `n × action_dim` out, row-major). Reuses internal buffers.
    ///
    /// # Panics
    /// If the lengths do not agree on `n`.
    pub fn act_batch(&mut self, obs: &[f32], out: &mut [f32]) {
        let (d, a) = (self.obs_dim(), self.action_dim());
        let n = obs.len() / d;
        assert_eq!(obs.len(), n * d, "observation batch has wrong length");
        assert_eq!(out.len(), n * a, "action batch has wrong length");
        self.input.clear();
        self.input.extend_from_slice(obs);
        self.obs_norm.apply(&mut self.input);
        let mean = self.actor.forward(&self.input, n, &mut self.ws);
        for (o, m) in out.iter_mut().zip(mean) {
            *o = m.clamp(-1.0, 1.0);
        }
    }

    /// Checks that the policy was trained in `task`'s environment with its
    /// dimensions.
    ///
    /// # Errors
    /// [`Error::PolicyMismatch`] saying what differs.
    pub fn check_task(&self, task: &Task) -> Result<()> {
        let spec = task.env_spec();
        let mismatch = |message: String| {
            Err(Error::PolicyMismatch {
                task: task.name.clone(),
                message,
            })
        };
        if self.env != task.env {
            return mismatch(format!(
                "it was trained in environment `{}`, the task uses `{}`",
                self.env, task.env
            ));
        }
        if self.obs_dim() != spec.obs_dim || self.action_dim() != spec.action_dim {
            return mismatch(format!(
                "it maps {} observations to {} actions, the environment has {} and {}",
                self.obs_dim(),
                self.action_dim(),
                spec.obs_dim,
                spec.action_dim
            ));
        }
        Ok(())
    }

    /// Writes `policy.safetensors` and `policy.json` into `dir` (created if
    /// needed); each file is written whole, then renamed into place.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be written.
    pub fn save(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for i in 0..self.actor.num_layers() {
            let (fan_in, fan_out) = (self.actor.sizes()[i], self.actor.sizes()[i + 1]);
            owned.push((
                format!("actor.{i}.weight"),
                vec![fan_out, fan_in],
                bytes(self.actor.weight(i)),
            ));
            owned.push((
                format!("actor.{i}.bias"),
                vec![fan_out],
                bytes(self.actor.bias(i)),
            ));
        }
        owned.push((
            "actor.log_std".into(),
            vec![self.log_std.len()],
            bytes(&self.log_std),
        ));
        let weights_path = dir.join(WEIGHTS_FILE);
        let mut views = Vec::with_capacity(owned.len());
        for (name, shape, data) in &owned {
            let view =
                TensorView::new(Dtype::F32, shape.clone(), data).map_err(|e| Error::BadPolicy {
                    path: weights_path.clone(),
                    message: e.to_string(),
                })?;
            views.push((name.clone(), view));
        }
        let blob = safetensors::serialize(views, None).map_err(|e| Error::BadPolicy {
            path: weights_path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&weights_path, &blob)?;
        let stats = &self.obs_norm.stats;
        let meta = PolicyMeta {
            format: FORMAT.into(),
            version: VERSION,
            env: self.env.clone(),
            task: self.task.clone(),
            obs_dim: self.obs_dim(),
            action_dim: self.action_dim(),
            layer_sizes: self.actor.sizes().to_vec(),
            activation: "tanh".into(),
            obs_norm: ObsNormMeta {
                enabled: self.obs_norm.enabled,
                mean: stats.mean.clone(),
                var: stats.var.clone(),
                count: stats.count,
                clip: self.obs_norm.clip,
                epsilon: OBS_EPSILON,
            },
        };
        let meta_path = dir.join(META_FILE);
        let text = serde_json::to_string_pretty(&meta).map_err(|e| Error::BadPolicy {
            path: meta_path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&meta_path, text.as_bytes())
    }

    /// [`load`](Self::load), then [`check_task`](Self::check_task).
    ///
    /// # Errors
    /// As those two.
    pub fn load_for(path: &Path, task: &Task) -> Result<Self> {
        let policy = Self::load(path)?;
        policy.check_task(task)?;
        Ok(policy)
    }

    /// Loads a policy from a folder holding `policy.json` and
    /// `policy.safetensors`, or from either file (the other is found beside it,
    /// with the same stem).
    ///
    /// # Errors
    /// [`Error::Io`] for a missing or unreadable file, [`Error::BadPolicy`] for
    /// malformed content or shapes that disagree with the metadata.
    pub fn load(path: &Path) -> Result<Self> {
        let (meta_path, weights_path) = locate(path);
        let meta_text = fs::read_to_string(&meta_path).map_err(|source| Error::Io {
            path: meta_path.clone(),
            source,
        })?;
        let bad = |path: &Path, message: String| Error::BadPolicy {
            path: path.to_path_buf(),
            message,
        };
        let meta: PolicyMeta =
            serde_json::from_str(&meta_text).map_err(|e| bad(&meta_path, e.to_string()))?;
        if meta.format != FORMAT {
            return Err(bad(
                &meta_path,
                format!("format is `{}`, expected `{FORMAT}`", meta.format),
            ));
        }
        if meta.version != VERSION {
            return Err(bad(
                &meta_path,
                format!(
                    "version {} is not supported (expected {VERSION})",
                    meta.version
                ),
            ));
        }
        if meta.activation != "tanh" {
            return Err(bad(
                &meta_path,
                format!("activation `{}` is not supported", meta.activation),
            ));
        }
        let sizes = &meta.layer_sizes;
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(bad(
                &meta_path,
                format!("layer sizes {sizes:?} do not make a network"),
            ));
        }
        if sizes[0] != meta.obs_dim || sizes[sizes.len() - 1] != meta.action_dim {
            return Err(bad(
                &meta_path,
                format!(
                    "layer sizes {sizes:?} disagree with obs_dim {} and action_dim {}",
                    meta.obs_dim, meta.action_dim
                ),
            ));
        }
        let n = &meta.obs_norm;
        if n.mean.len() != meta.obs_dim || n.var.len() != meta.obs_dim {
            return Err(bad(
                &meta_path,
                format!(
                    "obs_norm has {} means and {} variances for {} observations",
                    n.mean.len(),
                    n.var.len(),
                    meta.obs_dim
                ),
            ));
        }
        if n.var.iter().chain(&n.mean).any(|x| !x.is_finite())
            || n.var.iter().any(|&v| v < 0.0)
            || n.clip.is_nan()
            || n.clip <= 0.0
        {
            return Err(bad(
                &meta_path,
                "obs_norm holds non-finite or negative statistics".into(),
            ));
        }
        let blob = fs::read(&weights_path).map_err(|source| Error::Io {
            path: weights_path.clone(),
            source,
        })?;
        let tensors =
            SafeTensors::deserialize(&blob).map_err(|e| bad(&weights_path, e.to_string()))?;
        let read = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let t = tensors
                .tensor(name)
                .map_err(|_| bad(&weights_path, format!("tensor `{name}` is missing")))?;
            if t.dtype() != Dtype::F32 {
                return Err(bad(
                    &weights_path,
                    format!("tensor `{name}` is {:?}, expected F32", t.dtype()),
                ));
            }
            if t.shape() != shape {
                return Err(bad(
                    &weights_path,
                    format!(
                        "tensor `{name}` has shape {:?}, expected {shape:?}",
                        t.shape()
                    ),
                ));
            }
            let v: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if v.iter().any(|x| !x.is_finite()) {
                return Err(bad(
                    &weights_path,
                    format!("tensor `{name}` holds non-finite values"),
                ));
            }
            Ok(v)
        };
        // Sizes come from an untrusted file: make sure the weights file can hold
        // them before allocating anything.
        let params = sizes.windows(2).try_fold(0usize, |acc, w| {
            w[0].checked_mul(w[1])?.checked_add(w[1])?.checked_add(acc)
        });
        match params {
            Some(p) if p.saturating_mul(4) <= blob.len() => {}
            _ => {
                return Err(bad(
                    &weights_path,
                    format!("layer sizes {sizes:?} need more weights than the file holds"),
                ));
            }
        }
        let mut actor = Mlp::zeros(sizes);
        for i in 0..actor.num_layers() {
            let (fan_in, fan_out) = (sizes[i], sizes[i + 1]);
            let w = read(&format!("actor.{i}.weight"), &[fan_out, fan_in])?;
            let b = read(&format!("actor.{i}.bias"), &[fan_out])?;
            actor.weight_mut(i).copy_from_slice(&w);
            actor.bias_mut(i).copy_from_slice(&b);
        }
        let log_std = read("actor.log_std", &[meta.action_dim])?;
        let stats = RunningMeanStd {
            mean: n.mean.clone(),
            var: n.var.clone(),
            count: n.count,
        };
        Ok(Self {
            env: meta.env,
            task: meta.task,
            obs_norm: ObsNormalizer::from_stats(stats, n.clip, n.enabled),
            actor,
            log_std,
            ws: MlpWorkspace::default(),
            input: Vec::new(),
        })
    }
}

/// The metadata and weights paths for a folder or either file.
fn locate(path: &Path) -> (PathBuf, PathBuf) {
    let ext = path.extension().and_then(|e| e.to_str());
    match ext {
        Some("json") => (path.to_path_buf(), path.with_extension("safetensors")),
        Some("safetensors") => (path.with_extension("json"), path.to_path_buf()),
        _ => (path.join(META_FILE), path.join(WEIGHTS_FILE)),
    }
}

/// Writes `bytes` to a temporary sibling of `path`, then renames it into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    fs::write(&tmp, bytes).map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

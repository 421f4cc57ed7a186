//! Running statistics for observation normalisation and reward scaling.

use serde::{Deserialize, Serialize};

/// Mean and variance of a stream of vectors, merged batch by batch
/// (Chan et al.'s parallel algorithm, as gym's `RunningMeanStd`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningMeanStd {
    /// Per-dimension mean.
    pub mean: Vec<f64>,
    /// Per-dimension (population) variance.
    pub var: Vec<f64>,
    /// Number of vectors seen (starts at a tiny positive value, as gym's).
    pub count: f64,
}

impl RunningMeanStd {
    /// Statistics of `dim`-vectors with mean 0, variance 1 and a negligible count.
    #[must_use]
    pub fn new(dim: usize) -> Self {
        Self {
            mean: vec![0.0; dim],
            var: vec![1.0; dim],
            count: 1e-4,
        }
    }

    /// Dimension of the vectors.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Merges a batch of rows (`rows × dim`, row-major). `scratch` is reused.
    pub fn update_f32(&mut self, rows: &[f32], scratch: &mut Vec<f64>) {
        let d = self.dim();
        if d == 0 || rows.is_empty() {
            return;
        }
        let n = rows.len() / d;
        scratch.clear();
        scratch.resize(2 * d, 0.0);
        let (bmean, bvar) = scratch.split_at_mut(d);
        for row in rows.chunks_exact(d) {
            for (m, &x) in bmean.iter_mut().zip(row) {
                *m += f64::from(x);
            }
        }
        bmean.iter_mut().for_each(|m| *m /= n as f64);
        for row in rows.chunks_exact(d) {
            for ((v, m), &x) in bvar.iter_mut().zip(bmean.iter()).zip(row) {
                let dx = f64::from(x) - m;
                *v += dx * dx;
            }
        }
        bvar.iter_mut().for_each(|v| *v /= n as f64);
        self.merge(bmean, bvar, n as f64);
    }

    /// Merges a batch of scalars (for a 1-dimensional statistic).
    pub fn update_scalars(&mut self, xs: &[f64]) {
        if xs.is_empty() || self.dim() != 1 {
            return;
        }
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        self.merge(&[mean], &[var], n);
    }

    fn merge(&mut self, bmean: &[f64], bvar: &[f64], bcount: f64) {
        let total = self.count + bcount;
        for i in 0..self.dim() {
            let delta = bmean[i] - self.mean[i];
            let m_a = self.var[i] * self.count;
            let m_b = bvar[i] * bcount;
            let m2 = m_a + m_b + delta * delta * self.count * bcount / total;
            self.mean[i] += delta * bcount / total;
            self.var[i] = m2 / total;
        }
        self.count = total;
    }
}

/// Observation normaliser: `clip((x − mean) / √(var + 1e-8), −clip, clip)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObsNormalizer {
    /// The running statistics.
    pub stats: RunningMeanStd,
    /// Symmetric clip of normalised values.
    pub clip: f64,
    /// Whether normalisation is applied at all (when off, values pass through).
    pub enabled: bool,
    #[serde(skip)]
    scale: Vec<f32>,
    #[serde(skip)]
    shift: Vec<f32>,
}

/// Variance floor of the normaliser.
pub const OBS_EPSILON: f64 = 1e-8;

impl ObsNormalizer {
    /// A normaliser for `dim` numbers.
    #[must_use]
    pub fn new(dim: usize, clip: f64, enabled: bool) -> Self {
        let mut n = Self {
            stats: RunningMeanStd::new(dim),
            clip,
            enabled,
            scale: Vec::new(),
            shift: Vec::new(),
        };
        n.refresh();
        n
    }

    /// Rebuilds from saved statistics.
    #[must_use]
    pub fn from_stats(stats: RunningMeanStd, clip: f64, enabled: bool) -> Self {
        let mut n = Self {
            stats,
            clip,
            enabled,
            scale: Vec::new(),
            shift: Vec::new(),
        };
        n.refresh();
        n
    }

    /// Merges a batch of raw rows into the statistics.
    pub fn update(&mut self, rows: &[f32], scratch: &mut Vec<f64>) {
        if self.enabled {
            self.stats.update_f32(rows, scratch);
            self.refresh();
        }
    }

    fn refresh(&mut self) {
        let d = self.stats.dim();
        self.scale.resize(d, 1.0);
        self.shift.resize(d, 0.0);
        for i in 0..d {
            let s = 1.0 / (self.stats.var[i] + OBS_EPSILON).sqrt();
            self.scale[i] = s as f32;
            self.shift[i] = self.stats.mean[i] as f32;
        }
    }

    /// Normalises rows in place.
    pub fn apply(&self, rows: &mut [f32]) {
        let d = self.stats.dim();
        if !self.enabled || d == 0 {
            return;
        }
        let c = self.clip as f32;
        for row in rows.chunks_exact_mut(d) {
            for ((x, &m), &s) in row.iter_mut().zip(&self.shift).zip(&self.scale) {
                *x = ((*x - m) * s).clamp(-c, c);
            }
        }
    }
}

/// Reward scaling by the running standard deviation of the discounted return
/// (gym's `NormalizeReward`), with clipping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardScaler {
    stats: RunningMeanStd,
    returns: Vec<f64>,
    gamma: f64,
    clip: f64,
    enabled: bool,
}

impl RewardScaler {
    /// A scaler for `num_envs` parallel streams.
    #[must_use]
    pub fn new(num_envs: usize, gamma: f64, clip: f64, enabled: bool) -> Self {
        Self {
            stats: RunningMeanStd::new(1),
            returns: vec![0.0; num_envs],
            gamma,
            clip,
            enabled,
        }
    }

    /// Scales one step's rewards of every stream in place; `done[i]` ends
    /// stream `i`'s return after this step.
    pub fn scale(&mut self, rewards: &mut [f64], done: &[bool]) {
        if !self.enabled {
            return;
        }
        for (ret, &r) in self.returns.iter_mut().zip(rewards.iter()) {
            *ret = *ret * self.gamma + r;
        }
        self.stats.update_scalars(&self.returns);
        let std = (self.stats.var[0] + OBS_EPSILON).sqrt();
        for r in rewards.iter_mut() {
            *r = (*r / std).clamp(-self.clip, self.clip);
        }
        for (ret, &d) in self.returns.iter_mut().zip(done) {
            if d {
                *ret = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_statistics_match_the_whole_sample() {
        let data: Vec<f32> = (0..60)
            .map(|i| ((i * 37 % 11) as f32) * 0.5 - 1.0)
            .collect();
        let mut rms = RunningMeanStd::new(3);
        let mut scratch = Vec::new();
        for chunk in data.chunks(12) {
            rms.update_f32(chunk, &mut scratch);
        }
        for j in 0..3 {
            let col: Vec<f64> = data
                .iter()
                .skip(j)
                .step_by(3)
                .map(|&x| f64::from(x))
                .collect();
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            let var = col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / col.len() as f64;
            assert!((rms.mean[j] - mean).abs() < 1e-4, "mean {j}");
            assert!((rms.var[j] - var).abs() < 1e-3, "var {j}");
        }
    }

    #[test]
    fn normaliser_centres_scales_and_clips() {
        let mut n = ObsNormalizer::new(1, 2.0, true);
        let mut scratch = Vec::new();
        n.update(&[1.0, 3.0, 1.0, 3.0], &mut scratch);
        let mut x = [2.0, 3.0, 100.0];
        n.apply(&mut x);
        assert!(x[0].abs() < 1e-3);
        assert!((x[1] - 1.0).abs() < 1e-3);
        assert_eq!(x[2], 2.0);
    }

    #[test]
    fn reward_scaler_divides_by_return_std_and_resets_on_done() {
        let mut s = RewardScaler::new(2, 0.5, 10.0, true);
        let mut r = [1.0, 1.0];
        s.scale(&mut r, &[true, false]);
        assert_eq!(s.returns, vec![0.0, 1.0]);
        let mut r = [2.0, 4.0];
        s.scale(&mut r, &[false, false]);
        assert_eq!(s.returns, vec![2.0, 4.5]);
        let std = (s.stats.var[0] + OBS_EPSILON).sqrt();
        assert!((r[1] - 4.0 / std).abs() < 1e-12);
    }
}

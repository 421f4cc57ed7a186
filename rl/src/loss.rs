//! PPO's losses and their gradients, written out by hand: the clipped
//! surrogate with the entropy bonus (gradient with respect to the Gaussian's
//! mean and log-std) and the (optionally clipped) value loss.

/// `ln(2π) / 2`.
const HALF_LN_TAU: f32 = 0.918_938_5;

/// Log-density of `action` under a diagonal Gaussian, summed over dimensions.
#[inline]
#[must_use]
pub fn gaussian_log_prob(action: &[f32], mean: &[f32], log_std: &[f32]) -> f32 {
    let mut lp = 0.0f32;
    for ((&a, &m), &ls) in action.iter().zip(mean).zip(log_std) {
        let z = (a - m) * (-ls).exp();
        lp += -0.5 * z * z - ls - HALF_LN_TAU;
    }
    lp
}

/// Entropy of a diagonal Gaussian with the given log-stds.
#[must_use]
pub fn gaussian_entropy(log_std: &[f32]) -> f32 {
    log_std.iter().map(|&ls| 0.5 + HALF_LN_TAU + ls).sum()
}

/// Statistics of one minibatch's policy loss.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PolicyLossStats {
    /// Clipped surrogate loss (to minimise).
    pub pg_loss: f32,
    /// Mean entropy of the policy.
    pub entropy: f32,
    /// `mean((r − 1) − ln r)`, the low-variance KL estimator.
    pub approx_kl: f32,
    /// Fraction of samples whose ratio left `[1 − ε, 1 + ε]`.
    pub clipfrac: f32,
}

/// Inputs of the policy loss for a minibatch of `m` samples.
#[derive(Clone, Copy, Debug)]
pub struct PolicyBatch<'a> {
    /// Actions taken (`m × a`).
    pub actions: &'a [f32],
    /// Their log-probabilities under the policy that collected them.
    pub old_log_probs: &'a [f32],
    /// Advantages (already normalised if wanted).
    pub advantages: &'a [f32],
}

/// Computes `pg_loss − ent_coef · entropy` for the current `mean` (`m × a`)
/// and `log_std`, writing its gradient with respect to `mean` into `d_mean`
/// and **adding** its gradient with respect to `log_std` into `d_log_std`.
pub fn policy_loss(
    batch: &PolicyBatch<'_>,
    mean: &[f32],
    log_std: &[f32],
    clip_coef: f32,
    ent_coef: f32,
    d_mean: &mut [f32],
    d_log_std: &mut [f32],
) -> PolicyLossStats {
    let a = log_std.len();
    let m = batch.old_log_probs.len();
    assert_eq!(mean.len(), m * a, "policy loss: mean has wrong length");
    assert_eq!(
        batch.actions.len(),
        m * a,
        "policy loss: actions have wrong length"
    );
    assert_eq!(d_mean.len(), m * a, "policy loss: d_mean has wrong length");
    let inv_m = 1.0 / m as f32;
    let (mut pg, mut kl, mut clipped) = (0.0f64, 0.0f64, 0usize);
    for i in 0..m {
        let act = &batch.actions[i * a..(i + 1) * a];
        let mu = &mean[i * a..(i + 1) * a];
        let lp = gaussian_log_prob(act, mu, log_std);
        let log_ratio = lp - batch.old_log_probs[i];
        let ratio = log_ratio.exp();
        let adv = batch.advantages[i];
        let pg1 = -adv * ratio;
        let pg2 = -adv * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef);
        pg += f64::from(pg1.max(pg2));
        kl += f64::from((ratio - 1.0) - log_ratio);
        if (ratio - 1.0).abs() > clip_coef {
            clipped += 1;
        }
        // d max(pg1, pg2) / d lp: the clamp passes no gradient outside its range,
        // and pg2 > pg1 only there.
        let d_lp = if pg1 >= pg2 {
            -adv * ratio * inv_m
        } else {
            0.0
        };
        let dm = &mut d_mean[i * a..(i + 1) * a];
        for j in 0..a {
            let inv_var = (-2.0 * log_std[j]).exp();
            let diff = act[j] - mu[j];
            dm[j] = d_lp * diff * inv_var;
            d_log_std[j] += d_lp * (diff * diff * inv_var - 1.0);
        }
    }
    for g in d_log_std.iter_mut() {
        *g -= ent_coef;
    }
    PolicyLossStats {
        pg_loss: (pg / m as f64) as f32,
        entropy: gaussian_entropy(log_std),
        approx_kl: (kl / m as f64) as f32,
        clipfrac: clipped as f32 * inv_m,
    }
}

/// Value loss `vf_coef · ½ · mean(max((v − R)², (v_clip − R)²))` with
/// `v_clip = v_old + clamp(v − v_old, −clip, clip)` (or the plain squared error
/// when `clip` is `None`); writes its gradient with respect to `values` into
/// `d_values` and returns the loss **without** `vf_coef`.
pub fn value_loss(
    values: &[f32],
    returns: &[f32],
    old_values: &[f32],
    clip: Option<f32>,
    vf_coef: f32,
    d_values: &mut [f32],
) -> f32 {
    let m = values.len();
    assert_eq!(returns.len(), m, "value loss: returns have wrong length");
    assert_eq!(
        old_values.len(),
        m,
        "value loss: old values have wrong length"
    );
    assert_eq!(d_values.len(), m, "value loss: d_values has wrong length");
    let scale = vf_coef / m as f32;
    let mut total = 0.0f64;
    for i in 0..m {
        let (v, r) = (values[i], returns[i]);
        let unclipped = (v - r) * (v - r);
        let (loss, passes) = match clip {
            None => (unclipped, true),
            Some(c) => {
                let old = old_values[i];
                let vc = old + (v - old).clamp(-c, c);
                let clipped = (vc - r) * (vc - r);
                // The clipped branch wins only when the clamp is active, where
                // it passes no gradient.
                (unclipped.max(clipped), unclipped >= clipped)
            }
        };
        total += f64::from(loss);
        d_values[i] = if passes { scale * (v - r) } else { 0.0 };
    }
    (0.5 * total / m as f64) as f32
}

/// Normalises `xs` in place to mean 0 and unit (sample) standard deviation.
pub fn normalize_advantages(xs: &mut [f32]) {
    let n = xs.len();
    if n < 2 {
        return;
    }
    let mean = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let var = xs
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / (n - 1) as f64;
    let inv = 1.0 / (var.sqrt() + 1e-8);
    for x in xs {
        *x = ((f64::from(*x) - mean) * inv) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewardsmith_core::SplitMix64;

    fn rand_vec(rng: &mut SplitMix64, n: usize, lo: f64, hi: f64) -> Vec<f32> {
        (0..n).map(|_| rng.uniform(lo, hi) as f32).collect()
    }

    #[test]
    fn log_prob_matches_the_density_formula() {
        let lp = gaussian_log_prob(&[0.5], &[0.0], &[0.0]);
        let want = -0.125 - 0.5 * (std::f32::consts::TAU).ln();
        assert!((lp - want).abs() < 1e-6);
        let lp = gaussian_log_prob(&[1.0, 3.0], &[0.0, 1.0], &[0.0, 2f32.ln()]);
        let want = (-0.5 - HALF_LN_TAU) + (-0.5 - 2f32.ln() - HALF_LN_TAU);
        assert!((lp - want).abs() < 1e-5);
    }

    /// Finite differences of the full policy objective with respect to the mean
    /// and the log-std, in samples on both sides of the clip range.
    #[test]
    fn policy_loss_gradients_match_finite_differences() {
        let (m, a) = (6, 2);
        let mut rng = SplitMix64::new(4);
        let mean = rand_vec(&mut rng, m * a, -0.5, 0.5);
        let log_std = vec![-0.3f32, 0.2];
        let actions = rand_vec(&mut rng, m * a, -1.0, 1.0);
        // Old log-probs near the current ones so that some ratios fall inside
        // the clip range and some outside.
        let old: Vec<f32> = (0..m)
            .map(|i| {
                let lp = gaussian_log_prob(
                    &actions[i * a..(i + 1) * a],
                    &mean[i * a..(i + 1) * a],
                    &log_std,
                );
                lp + [0.05, -0.05, 0.4, -0.4, 0.1, -0.3][i]
            })
            .collect();
        let adv = vec![1.0f32, -0.5, 0.8, -1.2, -0.3, 0.6];
        let batch = PolicyBatch {
            actions: &actions,
            old_log_probs: &old,
            advantages: &adv,
        };
        let (clip, ent) = (0.2, 0.01);
        let objective = |mean: &[f32], ls: &[f32]| -> f64 {
            let mut dm = vec![0.0; m * a];
            let mut dl = vec![0.0; a];
            let s = policy_loss(&batch, mean, ls, clip, ent, &mut dm, &mut dl);
            f64::from(s.pg_loss) - f64::from(ent) * f64::from(s.entropy)
        };
        let mut dm = vec![0.0; m * a];
        let mut dl = vec![0.0; a];
        let stats = policy_loss(&batch, &mean, &log_std, clip, ent, &mut dm, &mut dl);
        assert!(stats.clipfrac > 0.0 && stats.clipfrac < 1.0, "{stats:?}");
        let eps = 1e-3f32;
        for k in 0..m * a {
            let (mut up, mut down) = (mean.clone(), mean.clone());
            up[k] += eps;
            down[k] -= eps;
            let num =
                (objective(&up, &log_std) - objective(&down, &log_std)) / (2.0 * f64::from(eps));
            assert!(
                (num - f64::from(dm[k])).abs() < 2e-3,
                "mean {k}: {num} vs {}",
                dm[k]
            );
        }
        for k in 0..a {
            let (mut up, mut down) = (log_std.clone(), log_std.clone());
            up[k] += eps;
            down[k] -= eps;
            let num = (objective(&mean, &up) - objective(&mean, &down)) / (2.0 * f64::from(eps));
            assert!(
                (num - f64::from(dl[k])).abs() < 2e-3,
                "log_std {k}: {num} vs {}",
                dl[k]
            );
        }
    }

    #[test]
    fn value_loss_gradients_match_finite_differences() {
        let values = vec![0.0f32, 1.0, -0.5, 2.0, 0.3];
        let returns = vec![0.5f32, 0.0, -0.4, 0.0, 1.5];
        let old = vec![0.1f32, 0.5, -0.5, 1.0, 0.3];
        for clip in [None, Some(0.2f32)] {
            let vf = 0.5;
            let mut d = vec![0.0; 5];
            value_loss(&values, &returns, &old, clip, vf, &mut d);
            let eps = 1e-3f32;
            for k in 0..5 {
                let mut scratch = vec![0.0; 5];
                let (mut up, mut down) = (values.clone(), values.clone());
                up[k] += eps;
                down[k] -= eps;
                let lu = value_loss(&up, &returns, &old, clip, vf, &mut scratch);
                let ld = value_loss(&down, &returns, &old, clip, vf, &mut scratch);
                let num = f64::from(vf) * f64::from(lu - ld) / (2.0 * f64::from(eps));
                assert!(
                    (num - f64::from(d[k])).abs() < 1e-3,
                    "{clip:?} value {k}: {num} vs {}",
                    d[k]
                );
            }
        }
    }

    #[test]
    fn advantages_are_normalised_with_the_sample_std() {
        let mut xs = vec![1.0f32, 2.0, 3.0, 4.0];
        normalize_advantages(&mut xs);
        let sum: f32 = xs.iter().sum();
        assert!(sum.abs() < 1e-6);
        // Sample std of 1..4 is sqrt(5/3).
        assert!((xs[3] - 1.5 / (5.0f32 / 3.0).sqrt()).abs() < 1e-5);
    }
}

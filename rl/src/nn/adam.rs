//! Adam over several parameter groups that share one step counter, and global
//! gradient-norm clipping.

/// Magnitude under which gradients and moments count as zero.
const TINY: f32 = 1e-30;

/// Adam (Kingma & Ba, 2015) with PyTorch's defaults except `eps`, which PPO
/// sets to 1e-5.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// Exponential decay of the first moment.
    pub beta1: f64,
    /// Exponential decay of the second moment.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    t: u64,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl Adam {
    /// An optimiser for parameter groups of the given lengths.
    #[must_use]
    pub fn new(group_lens: &[usize], eps: f64) -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps,
            t: 0,
            m: group_lens.iter().map(|&n| vec![0.0; n]).collect(),
            v: group_lens.iter().map(|&n| vec![0.0; n]).collect(),
        }
    }

    /// Steps taken so far.
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The first and second moments of every group, to save and restore.
    pub(crate) fn moments_mut(&mut self) -> (&mut [Vec<f32>], &mut [Vec<f32>]) {
        (&mut self.m, &mut self.v)
    }

    /// The step counter, to save and restore.
    pub(crate) fn steps_mut(&mut self) -> &mut u64 {
        &mut self.t
    }

    /// One update of every group with learning rate `lr`.
    ///
    /// # Panics
    /// If the groups do not match the lengths given to [`new`](Self::new).
    pub fn step(&mut self, lr: f64, params: &mut [&mut [f32]], grads: &[&[f32]]) {
        assert_eq!(params.len(), self.m.len(), "Adam: wrong number of groups");
        assert_eq!(grads.len(), self.m.len(), "Adam: wrong number of groups");
        self.t += 1;
        let t = i32::try_from(self.t).unwrap_or(i32::MAX);
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        let step_size = (lr / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let (b1, b2, eps) = (self.beta1 as f32, self.beta2 as f32, self.eps as f32);
        for (((p, g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            assert_eq!(p.len(), m.len(), "Adam: group has wrong length");
            assert_eq!(g.len(), m.len(), "Adam: gradient has wrong length");
            for (((p, &g), m), v) in p
                .iter_mut()
                .zip(g.iter())
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                // Moments below 1e-30 are flushed to zero: they cannot move a
                // parameter (eps is 1e-5) and, as subnormal floats, would make
                // every multiplication a hundred times slower.
                let g = if g.abs() < TINY { 0.0 } else { g };
                let mm = b1 * *m + (1.0 - b1) * g;
                let vv = b2 * *v + (1.0 - b2) * g * g;
                *m = if mm.abs() < TINY { 0.0 } else { mm };
                *v = if vv < TINY { 0.0 } else { vv };
                let denom = v.sqrt() / bc2_sqrt + eps;
                *p -= step_size * *m / denom;
            }
        }
    }
}

/// Scales every gradient so that their joint L2 norm is at most `max_norm`
/// (as `torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut [&mut [f32]], max_norm: f64) -> f64 {
    let total: f64 = grads
        .iter()
        .flat_map(|g| g.iter())
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        let c = coef as f32;
        for g in grads.iter_mut() {
            g.iter_mut().for_each(|x| *x *= c);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_adam_step_moves_each_parameter_by_lr_against_its_gradient() {
        let mut adam = Adam::new(&[2, 1], 1e-8);
        let mut a = vec![1.0f32, -1.0];
        let mut b = vec![0.5f32];
        adam.step(0.1, &mut [&mut a, &mut b], &[&[2.0, -3.0], &[0.25]]);
        assert!((a[0] - 0.9).abs() < 1e-6 && (a[1] + 0.9).abs() < 1e-6);
        assert!((b[0] - 0.4).abs() < 1e-6);
        assert_eq!(adam.steps(), 1);
    }

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut adam = Adam::new(&[1], 1e-5);
        let mut x = vec![5.0f32];
        for _ in 0..2000 {
            let g = [2.0 * (x[0] - 1.0)];
            adam.step(0.05, &mut [&mut x], &[&g]);
        }
        assert!((x[0] - 1.0).abs() < 1e-2, "{}", x[0]);
    }

    #[test]
    fn clipping_scales_to_the_max_norm_jointly() {
        let mut a = vec![3.0f32];
        let mut b = vec![4.0f32];
        let norm = clip_grad_norm(&mut [&mut a, &mut b], 0.5);
        assert!((norm - 5.0).abs() < 1e-9);
        assert!((a[0] - 0.3).abs() < 1e-5 && (b[0] - 0.4).abs() < 1e-5);
        let norm = clip_grad_norm(&mut [&mut a, &mut b], 10.0);
        assert!((norm - 0.5).abs() < 1e-5);
        assert!((a[0] - 0.3).abs() < 1e-5);
    }
}

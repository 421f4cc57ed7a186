//! A small fully connected network with tanh hidden layers, written for the
//! batch sizes PPO uses on a CPU: row-major batches, one `sgemm` per layer and
//! direction, buffers reused across calls.

use super::gemm::{Op, gemm};
use rewardsmith_core::SplitMix64;

/// tanh, as a rational approximation that vectorises (Eigen's
/// `generic_fast_tanh_float`): absolute error below 1e-6 over all of `f32`,
/// branch-free so that it vectorises. Plain multiply-adds, not `mul_add`:
/// without a compile-time FMA target feature `mul_add` is a libm call.
#[inline]
#[must_use]
pub fn fast_tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_672e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_7e-3;
    const B4: f32 = 1.185_347e-4;
    const B6: f32 = 1.198_258_4e-6;
    let xc = x.clamp(-CLAMP, CLAMP);
    let x2 = xc * xc;
    let mut p = x2 * A13 + A11;
    p = x2 * p + A9;
    p = x2 * p + A7;
    p = x2 * p + A5;
    p = x2 * p + A3;
    p = x2 * p + A1;
    p *= xc;
    let mut q = x2 * B6 + B4;
    q = x2 * q + B2;
    q = x2 * q + B0;
    let y = p / q;
    if x.abs() < 4e-4 { x } else { y }
}

/// Applies [`fast_tanh`] in place.
fn tanh_in_place(xs: &mut [f32]) {
    for x in xs {
        *x = fast_tanh(*x);
    }
}

/// One dense layer's place in the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layer {
    fan_in: usize,
    fan_out: usize,
    /// Offset of the `fan_out × fan_in` weight (PyTorch layout).
    w: usize,
    /// Offset of the `fan_out` bias.
    b: usize,
}

/// A multilayer perceptron: dense layers with tanh between them and a linear
/// output. Parameters live in one flat vector (weights `out × in`, row-major,
/// then biases, layer by layer), so optimisers and gradient clipping see one slice.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    sizes: Vec<usize>,
    layers: Vec<Layer>,
    params: Vec<f32>,
}

/// Buffers of one forward pass, kept for the backward pass and reused across
/// calls (they only grow).
#[derive(Clone, Debug, Default)]
pub struct MlpWorkspace {
    batch: usize,
    /// Output of each layer (after tanh for hidden layers).
    acts: Vec<Vec<f32>>,
    delta: Vec<f32>,
    delta_next: Vec<f32>,
}

impl MlpWorkspace {
    /// The output of the last forward pass (`batch × out`).
    #[must_use]
    pub fn output(&self) -> &[f32] {
        self.acts.last().map_or(&[], Vec::as_slice)
    }
}

impl Mlp {
    /// A network with layer widths `sizes` (input first, output last), all
    /// parameters zero.
    ///
    /// # Panics
    /// If fewer than two sizes are given or one is zero.
    #[must_use]
    pub fn zeros(sizes: &[usize]) -> Self {
        assert!(sizes.len() >= 2, "an MLP needs an input and an output size");
        assert!(
            sizes.iter().all(|&s| s > 0),
            "MLP layer sizes must be positive"
        );
        let mut layers = Vec::with_capacity(sizes.len() - 1);
        let mut offset = 0;
        for pair in sizes.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            layers.push(Layer {
                fan_in,
                fan_out,
                w: offset,
                b: offset + fan_in * fan_out,
            });
            offset += fan_in * fan_out + fan_out;
        }
        Self {
            sizes: sizes.to_vec(),
            layers,
            params: vec![0.0; offset],
        }
    }

    /// A network with orthogonal weights (gain `hidden_gain` for every layer but
    /// the last, `output_gain` for the last) and zero biases, as PPO
    /// implementations initialise them.
    #[must_use]
    pub fn orthogonal(sizes: &[usize], hidden_gain: f32, output_gain: f32, seed: u64) -> Self {
        let mut mlp = Self::zeros(sizes);
        let mut rng = SplitMix64::new(seed);
        let last = mlp.layers.len() - 1;
        for (i, layer) in mlp.layers.clone().iter().enumerate() {
            let gain = if i == last { output_gain } else { hidden_gain };
            let w = orthogonal_matrix(layer.fan_out, layer.fan_in, gain, &mut rng);
            mlp.params[layer.w..layer.w + w.len()].copy_from_slice(&w);
        }
        mlp
    }

    /// Layer widths, input first.
    #[must_use]
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Input width.
    #[must_use]
    pub fn input_dim(&self) -> usize {
        self.sizes[0]
    }

    /// Output width.
    #[must_use]
    pub fn output_dim(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }

    /// Number of dense layers.
    #[must_use]
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// All parameters, flat.
    #[must_use]
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// All parameters, flat and writable.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Layer `i`'s weight (`out × in`, row-major).
    #[must_use]
    pub fn weight(&self, i: usize) -> &[f32] {
        let l = self.layers[i];
        &self.params[l.w..l.w + l.fan_in * l.fan_out]
    }

    /// Layer `i`'s bias.
    #[must_use]
    pub fn bias(&self, i: usize) -> &[f32] {
        let l = self.layers[i];
        &self.params[l.b..l.b + l.fan_out]
    }

    /// Layer `i`'s weight, writable.
    pub fn weight_mut(&mut self, i: usize) -> &mut [f32] {
        let l = self.layers[i];
        &mut self.params[l.w..l.w + l.fan_in * l.fan_out]
    }

    /// Layer `i`'s bias, writable.
    pub fn bias_mut(&mut self, i: usize) -> &mut [f32] {
        let l = self.layers[i];
        &mut self.params[l.b..l.b + l.fan_out]
    }

    /// Runs `x` (`batch × in`, row-major) through the network; the result
    /// (`batch × out`) is [`MlpWorkspace::output`] and is also returned.
    ///
    /// # Panics
    /// If `x.len()` is not `batch × in`.
    pub fn forward<'w>(&self, x: &[f32], batch: usize, ws: &'w mut MlpWorkspace) -> &'w [f32] {
        assert_eq!(
            x.len(),
            batch * self.input_dim(),
            "MLP input has wrong length"
        );
        ws.batch = batch;
        if ws.acts.len() != self.layers.len() {
            ws.acts.resize_with(self.layers.len(), Vec::new);
        }
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            let (before, rest) = ws.acts.split_at_mut(i);
            let input: &[f32] = if i == 0 { x } else { &before[i - 1] };
            let out = &mut rest[0];
            out.resize(batch * l.fan_out, 0.0);
            let bias = &self.params[l.b..l.b + l.fan_out];
            for row in out.chunks_exact_mut(l.fan_out) {
                row.copy_from_slice(bias);
            }
            let w = &self.params[l.w..l.w + l.fan_in * l.fan_out];
            gemm(
                batch,
                l.fan_in,
                l.fan_out,
                1.0,
                input,
                Op::N,
                w,
                Op::T,
                1.0,
                out,
            );
            if i != last {
                tanh_in_place(out);
            }
        }
        ws.output()
    }

    /// Back-propagates `d_out` (gradient of the loss with respect to the last
    /// forward pass's output, `batch × out`) and **adds** the parameter gradient
    /// to `grads` (same layout as [`params`](Self::params)). `x` must be the
    /// input of that forward pass.
    ///
    /// # Panics
    /// If the lengths do not match the last forward pass.
    pub fn backward(&self, x: &[f32], d_out: &[f32], ws: &mut MlpWorkspace, grads: &mut [f32]) {
        let batch = ws.batch;
        assert_eq!(
            x.len(),
            batch * self.input_dim(),
            "MLP input has wrong length"
        );
        assert_eq!(
            d_out.len(),
            batch * self.output_dim(),
            "MLP output gradient has wrong length"
        );
        assert_eq!(
            grads.len(),
            self.params.len(),
            "MLP gradient has wrong length"
        );
        ws.delta.clear();
        ws.delta.extend_from_slice(d_out);
        for i in (0..self.layers.len()).rev() {
            let l = self.layers[i];
            let input: &[f32] = if i == 0 { x } else { &ws.acts[i - 1] };
            // dW (out × in) += deltaᵀ (out × batch) · input (batch × in)
            let gw = &mut grads[l.w..l.w + l.fan_in * l.fan_out];
            gemm(
                l.fan_out,
                batch,
                l.fan_in,
                1.0,
                &ws.delta,
                Op::T,
                input,
                Op::N,
                1.0,
                gw,
            );
            let gb = &mut grads[l.b..l.b + l.fan_out];
            for row in ws.delta.chunks_exact(l.fan_out) {
                for (g, d) in gb.iter_mut().zip(row) {
                    *g += d;
                }
            }
            if i > 0 {
                // d input (batch × in) = delta (batch × out) · W (out × in), then tanh'.
                ws.delta_next.resize(batch * l.fan_in, 0.0);
                let w = &self.params[l.w..l.w + l.fan_in * l.fan_out];
                gemm(
                    batch,
                    l.fan_out,
                    l.fan_in,
                    1.0,
                    &ws.delta,
                    Op::N,
                    w,
                    Op::N,
                    0.0,
                    &mut ws.delta_next,
                );
                for (d, y) in ws.delta_next.iter_mut().zip(&ws.acts[i - 1]) {
                    *d *= 1.0 - y * y;
                }
                std::mem::swap(&mut ws.delta, &mut ws.delta_next);
            }
        }
    }
}

/// A `rows × cols` matrix with orthonormal rows or columns (whichever are
/// fewer), times `gain`: Gram–Schmidt on a Gaussian matrix, as
/// `torch.nn.init.orthogonal_` does with QR.
fn orthogonal_matrix(rows: usize, cols: usize, gain: f32, rng: &mut SplitMix64) -> Vec<f32> {
    // Orthonormalise `k` vectors of length `n` (n ≥ k), then lay them out as rows
    // (rows ≤ cols) or columns (rows > cols).
    let (n, k) = if rows < cols {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let mut vs: Vec<Vec<f64>> = Vec::with_capacity(k);
    while vs.len() < k {
        let mut v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        // Modified Gram–Schmidt, twice for accuracy.
        for _ in 0..2 {
            for u in &vs {
                let dot: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(a, b)| *a -= dot * b);
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-6 {
            v.iter_mut().for_each(|a| *a /= norm);
            vs.push(v);
        }
    }
    let mut w = vec![0.0f32; rows * cols];
    for (j, v) in vs.iter().enumerate() {
        for (i, &x) in v.iter().enumerate() {
            let (r, c) = if rows < cols { (j, i) } else { (i, j) };
            w[r * cols + c] = gain * x as f32;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tanh_is_accurate_everywhere() {
        let mut worst = 0.0f32;
        let mut x = -12.0f32;
        while x < 12.0 {
            worst = worst.max((fast_tanh(x) - x.tanh()).abs());
            x += 1e-3;
        }
        for x in [0.0, 1e-8, -1e-5, 3e-4, 5e-4, 1e4, -1e30, f32::MAX] {
            worst = worst.max((fast_tanh(x) - x.tanh()).abs());
        }
        assert!(worst < 1e-6, "worst error {worst}");
    }

    #[test]
    fn orthogonal_init_gives_orthonormal_rows_and_columns() {
        let mut rng = SplitMix64::new(1);
        for (rows, cols) in [(8, 3), (3, 8), (6, 6)] {
            let w = orthogonal_matrix(rows, cols, 2.0, &mut rng);
            let (n, k, stride_is_row) = if rows < cols {
                (cols, rows, true)
            } else {
                (rows, cols, false)
            };
            let get = |v: usize, i: usize| {
                if stride_is_row {
                    w[v * cols + i]
                } else {
                    w[i * cols + v]
                }
            };
            for a in 0..k {
                for b in 0..k {
                    let dot: f32 = (0..n).map(|i| get(a, i) * get(b, i)).sum();
                    let want = if a == b { 4.0 } else { 0.0 };
                    assert!(
                        (dot - want).abs() < 1e-4,
                        "{rows}x{cols}: <{a},{b}> = {dot}"
                    );
                }
            }
        }
    }

    /// Loss = Σ c_ij · y_ij for fixed random c, so dL/dy = c.
    #[test]
    fn gradients_match_finite_differences() {
        let sizes = [3, 5, 4, 2];
        let batch = 4;
        let mut net = Mlp::orthogonal(&sizes, 1.5, 0.7, 3);
        let mut rng = SplitMix64::new(9);
        for b in 0..net.num_layers() {
            for x in net.bias_mut(b) {
                *x = rng.uniform(-0.3, 0.3) as f32;
            }
        }
        let x: Vec<f32> = (0..batch * 3)
            .map(|_| rng.uniform(-1.0, 1.0) as f32)
            .collect();
        let c: Vec<f32> = (0..batch * 2)
            .map(|_| rng.uniform(-1.0, 1.0) as f32)
            .collect();
        let loss = |net: &Mlp| -> f64 {
            let mut ws = MlpWorkspace::default();
            let y = net.forward(&x, batch, &mut ws);
            y.iter().zip(&c).map(|(a, b)| f64::from(a * b)).sum()
        };
        let mut ws = MlpWorkspace::default();
        net.forward(&x, batch, &mut ws);
        let mut grads = vec![0.0; net.params().len()];
        net.backward(&x, &c, &mut ws, &mut grads);
        let eps = 1e-2f32;
        for (i, &analytic) in grads.iter().enumerate() {
            let orig = net.params()[i];
            net.params_mut()[i] = orig + eps;
            let up = loss(&net);
            net.params_mut()[i] = orig - eps;
            let down = loss(&net);
            net.params_mut()[i] = orig;
            let numeric = (up - down) / (2.0 * f64::from(eps));
            let analytic = f64::from(analytic);
            assert!(
                (numeric - analytic).abs() < 2e-3 * (1.0 + numeric.abs()),
                "param {i}: numeric {numeric} vs analytic {analytic}"
            );
        }
    }

    #[test]
    fn forward_reuses_buffers_across_batch_sizes() {
        let net = Mlp::orthogonal(&[2, 8, 1], 1.0, 1.0, 1);
        let mut ws = MlpWorkspace::default();
        let a = net.forward(&[0.1, 0.2, 0.3, 0.4], 2, &mut ws).to_vec();
        let b = net.forward(&[0.1, 0.2], 1, &mut ws).to_vec();
        assert_eq!(a[0], b[0]);
        assert_eq!(b.len(), 1);
    }
}

//! Networks: a hand-written MLP over `matrixmultiply`'s sgemm, Adam, and
//! gradient clipping.
//!
//! Chosen by measurement over candle: at PPO's sizes (64–256 wide, batches of
//! 16–4096) candle's tanh MLP was about five times slower.

mod adam;
mod gemm;
mod mlp;

pub use adam::{Adam, clip_grad_norm};
pub use mlp::{Mlp, MlpWorkspace, fast_tanh};

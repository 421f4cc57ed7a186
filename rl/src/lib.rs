//! PPO for continuous control over vectorised environments.

//! End-to-end tests of the `rewardsmith` binary live in `tests/e2e/`.

//! Whole-loop tests of rewardsmith live in `tests/e2e/`; CLI tests beside the binary in `engine/tests/`.

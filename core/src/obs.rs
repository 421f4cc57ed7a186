//! Observation layout: named runs of a flat observation, declared one after the
//! other in `const` items, so the observation length is their sum and never a
//! hand-counted number.
//!
//! ```
//! use rewardsmith_core::ObsSpan;
//!
//! const HEIGHT: ObsSpan = ObsSpan::first(1);
//! const QUAT: ObsSpan = HEIGHT.then(4);
//! const JOINTS: ObsSpan = QUAT.then(8);
//! const OBS_DIM: usize = JOINTS.end();
//!
//! let mut obs = [0.0f32; OBS_DIM];
//! obs[QUAT.range()].copy_from_slice(&[1.0, 0.0, 0.0, 0.0]);
//! obs[JOINTS.at(2)] = 0.3;
//! assert_eq!((OBS_DIM, obs[1], obs[7]), (13, 1.0, 0.3));
//! ```

use std::ops::Range;

/// A run of consecutive numbers in a flat observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObsSpan {
    start: usize,
    len: usize,
}

impl ObsSpan {
    /// The first run of a layout: `len` numbers from index 0.
    #[must_use]
    pub const fn first(len: usize) -> Self {
        Self { start: 0, len }
    }

    /// The run of `len` numbers right after this one.
    #[must_use]
    pub const fn then(self, len: usize) -> Self {
        Self {
            start: self.end(),
            len,
        }
    }

    /// Index of the run's first number.
    #[must_use]
    pub const fn start(self) -> usize {
        self.start
    }

    /// How many numbers the run holds.
    #[must_use]
    pub const fn len(self) -> usize {
        self.len
    }

    /// Whether the run holds no number.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.len == 0
    }

    /// Index just past the run: the layout's length when this run is its last.
    #[must_use]
    pub const fn end(self) -> usize {
        self.start + self.len
    }

    /// The run's indices, to slice an observation with.
    #[must_use]
    pub const fn range(self) -> Range<usize> {
        self.start..self.end()
    }

    /// Index of the run's `i`-th number.
    ///
    /// # Panics
    /// If `i` is not below [`len`](Self::len).
    #[must_use]
    pub const fn at(self, i: usize) -> usize {
        assert!(i < self.len, "index past the end of an observation span");
        self.start + i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_each_other() {
        const A: ObsSpan = ObsSpan::first(2);
        const B: ObsSpan = A.then(3);
        assert_eq!((B.start(), B.end(), B.range()), (2, 5, 2..5));
        assert_eq!(B.at(2), 4);
    }

    #[test]
    #[should_panic(expected = "past the end")]
    fn an_index_past_the_span_is_caught() {
        let _ = ObsSpan::first(2).at(2);
    }
}

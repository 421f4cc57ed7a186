//! Per-call cost of reward programs (filled in below).

fn main() {}

//! The evolutionary reward search (`rewardsmith run`): configuration, the run
//! folder, candidate evaluation and where it runs (the [`Executor`] seam:
//! [`LocalExecutor`], [`SlurmExecutor`]), reflection, the trajectory
//! analyzer, the final evaluation and the reports.

mod allocation;
mod analyzer;
mod builder;
mod candidate;
mod config;
mod described;
mod entry;
mod executor;
mod final_eval;
mod hacking;
mod halving;
mod on_slurm;
mod record;
mod reflection;
mod report;
mod runner;
pub mod slurm;
mod slurm_batch;
mod slurm_executor;
mod store;

pub use allocation::{Allocation, Rungs};
pub use analyzer::{FieldSummary, TrajectorySummary, analyse};
pub use builder::{Search, SearchBuilder};
pub use candidate::{CandidateSpec, Outcome, Staged, evaluate_candidate, evaluate_candidate_with};
pub use config::{ExecutorConfig, ExecutorKind, FeedbackMode, FileConfig, SearchConfig};
pub use described::{
    DescribedTask, DryRun, FITNESS_FILE, FitnessAnswer, FitnessReading, FitnessReview,
    FitnessRound, fitness_program, load_fitness_reading,
};
pub use entry::{create_run, open_run, run_search, run_search_designed, run_search_with};
pub use executor::{
    Candidates, Evaluation, Executor, FinalTrained, FinalTraining, LocalExecutor, RunContext,
};
pub use hacking::{HackFlag, hacking_flags, spearman};
pub use record::{
    BestRecord, CandidateLine, FinalReport, GenerationRecord, RunRecord, RunSummary, SeedStats,
    Timing,
};
pub use reflection::{
    EpisodeEnds, all_failed, candidate_lines, constant_tip, generation_reflection, reflect,
};
pub use report::write_reports;
pub use runner::executor_for;
pub use slurm_batch::cancel_active_jobs;
pub use slurm_executor::SlurmExecutor;
pub use store::{RunStore, files, quiesce, read_json, write_atomic, write_json};

//! A generation's trainings on a Slurm cluster, under either allocation (for
//! the `SlurmExecutor`).
//!
//! Uniform: one job array, every candidate trained to the budget. Successive
//! halving: one job array per rung. A rung's job saves its paused training
//! (`cand-MM/rung-R/trainer/`), and a promoted candidate's next job goes on
//! from it (into `cand-MM/rung-R+1/`), bitwise as the local run's training
//! in memory does, so the rung scores, the promotions and the outcomes are
//! those of the same search run locally, and no step is trained twice. (A
//! rung folder without a saved training, from an older run, is trained
//! again from step 0, pausing at the rungs before, with the same result.)
//! When a candidate stops (or finishes the last rung), its rung folder's
//! files move into its own folder, which then looks as after a local run,
//! and its saved trainings are removed.

use super::allocation::{RungScore, Rungs, promote_at, rungs};
use super::candidate::{CandidateSpec, Outcome, RungResult};
use super::record::RunRecord;
use super::slurm::SlurmOptions;
use super::slurm_batch::{SlurmBatch, Unit, rung_dir, with_time_limit};
use super::store::{RunStore, files, read_json, write_json};
use crate::progress::RunProgress;
use anyhow::{Context, anyhow};
use rewardsmith_core::Task;
use rewardsmith_rl::PpoConfig;
use std::collections::BTreeMap;
use std::path::Path;

/// One generation's trainings on the cluster.
pub(super) struct SlurmGeneration<'a> {
    /// The task.
    pub task: &'a Task,
    /// The run folder (shared with the nodes).
    pub store: &'a RunStore,
    /// The run's settings (budget, η).
    pub record: &'a RunRecord,
    /// How to submit (`[executor.slurm]`).
    pub options: &'a SlurmOptions,
    /// Where the job counts go.
    pub progress: &'a dyn RunProgress,
    /// The generation.
    pub generation: usize,
}

impl SlurmGeneration<'_> {
    /// Trains the candidates of `train` (index and spec, written in the
    /// candidate's folder) with one array for all of them: uniform
    /// allocation.
    ///
    /// # Errors
    /// Slurm's tools fail, or the run folder cannot be written.
    pub(super) fn uniform(
        &self,
        train: &[(usize, CandidateSpec)],
    ) -> anyhow::Result<BTreeMap<usize, Outcome>> {
        let (g, store) = (self.generation, self.store);
        let units: Vec<Unit> = train
            .iter()
            .map(|(i, _)| Unit {
                key: *i,
                spec: store.candidate_file(g, *i, files::SPEC),
                out: store.candidate_dir(g, *i),
            })
            .collect();
        let specs: Vec<&CandidateSpec> = train.iter().map(|(_, s)| s).collect();
        self.batch(&units, &specs, self.record.budget, None)
    }

    /// Trains the candidates of `train` under successive halving, one array
    /// per rung; `done` holds the outcomes of the generation's candidates
    /// that need no training (read back on resume, or failed before it).
    ///
    /// # Errors
    /// Slurm's tools fail, or the run folder cannot be written.
    pub(super) fn halving(
        &self,
        train: &[(usize, CandidateSpec)],
        done: &BTreeMap<usize, Outcome>,
    ) -> anyhow::Result<BTreeMap<usize, Outcome>> {
        let (g, store) = (self.generation, self.store);
        let eta = self.record.search.eta;
        let batch = PpoConfig::for_task(self.task).batch_size() as u64;
        let schedule = rungs(self.record.budget, eta, batch);
        let mut courses: BTreeMap<usize, Rungs> = BTreeMap::new();
        for (i, o) in done {
            if let Outcome::Trained { rungs: Some(r), .. } = o {
                courses.insert(*i, r.clone());
            }
        }
        for (i, _) in train {
            courses.insert(*i, Rungs::new(schedule.clone()));
        }
        let mut outcomes = BTreeMap::new();
        let mut alive: Vec<&(usize, CandidateSpec)> = train.iter().collect();
        for (r, &until) in schedule.iter().enumerate() {
            let (units, specs) = self.rung_units(&alive, &schedule, r)?;
            let spec_refs: Vec<&CandidateSpec> = specs.iter().collect();
            let mut results = self.batch(&units, &spec_refs, until, Some((r, schedule.len())))?;
            let mut still = Vec::with_capacity(alive.len());
            for entry in alive {
                let i = entry.0;
                let outcome = results.remove(&i).ok_or_else(|| {
                    anyhow!("candidate {i} came back from Slurm without a result")
                })?;
                let dir = rung_dir(&store.candidate_dir(g, i), r);
                if outcome.fitness().is_none() {
                    outcomes.insert(i, self.adopt(i, &dir, outcome, None)?);
                    continue;
                }
                let rung: RungResult = read_json(&dir.join(files::RUNG))?.ok_or_else(|| {
                    anyhow!("{} has a result but no {}", dir.display(), files::RUNG)
                })?;
                let course = courses
                    .get_mut(&i)
                    .expect("every trained candidate has a course");
                course.scores.push(rung.mean.unwrap_or(f64::NAN));
                course.errors.push(rung.se);
                still.push((entry, outcome));
            }
            if r + 1 == schedule.len() {
                for ((i, _), outcome) in still {
                    let course = courses[i].clone();
                    let dir = rung_dir(&store.candidate_dir(g, *i), r);
                    outcomes.insert(*i, self.adopt(*i, &dir, outcome, Some(course))?);
                }
                break;
            }
            let at_rung: Vec<RungScore> = courses
                .iter()
                .filter(|(_, c)| c.scores.len() > r)
                .map(|(&i, c)| RungScore {
                    candidate: i,
                    mean: super::halving::finite_or_worst(c.scores[r]),
                    se: c.errors[r],
                })
                .collect();
            let entered = courses.values().filter(|c| !c.scores.is_empty()).count();
            let promotion = promote_at(&at_rung, entered, eta, r, schedule.len());
            alive = Vec::new();
            for (entry, outcome) in still {
                let i = entry.0;
                if promotion.keep.contains(&i) {
                    alive.push(entry);
                } else {
                    let course = courses.get_mut(&i).expect("a course");
                    course.stopped_below = Some(promotion.cut);
                    let course = course.clone();
                    let dir = rung_dir(&store.candidate_dir(g, i), r);
                    outcomes.insert(i, self.adopt(i, &dir, outcome, Some(course))?);
                }
            }
            store.note(
                self.progress,
                format!(
                    "generation {g}: rung {} of {} ({until} env steps): {} continue (cut {:.3})",
                    r + 1,
                    schedule.len(),
                    alive.len(),
                    promotion.cut
                ),
            )?;
        }
        Ok(outcomes)
    }

    /// The trainings of `alive` to rung `r` of `schedule`: each one's spec
    /// (stopping there, pausing at the rungs before) written in its rung
    /// folder.
    fn rung_units(
        &self,
        alive: &[&(usize, CandidateSpec)],
        schedule: &[u64],
        r: usize,
    ) -> anyhow::Result<(Vec<Unit>, Vec<CandidateSpec>)> {
        let mut units = Vec::with_capacity(alive.len());
        let mut specs = Vec::with_capacity(alive.len());
        for (i, spec) in alive {
            let cand = self.store.candidate_dir(self.generation, *i);
            let dir = rung_dir(&cand, r);
            let saved = r
                .checked_sub(1)
                .map(|before| rung_dir(&cand, before).join(files::TRAINER_DIR))
                .filter(|saved| saved.is_dir());
            let spec = CandidateSpec {
                stop_at: Some(schedule[r]),
                pause_at: if saved.is_some() {
                    Vec::new()
                } else {
                    schedule[..r].to_vec()
                },
                resume_from: saved,
                ..spec.clone()
            };
            write_json(&dir.join(files::SPEC), &spec)?;
            units.push(Unit {
                key: *i,
                spec: dir.join(files::SPEC),
                out: dir,
            });
            specs.push(spec);
        }
        Ok((units, specs))
    }

    /// Submits `units` as one batch, with a time limit for trainings of
    /// `budget` env steps; `rung` is (rung, rungs) under halving.
    fn batch(
        &self,
        units: &[Unit],
        specs: &[&CandidateSpec],
        budget: u64,
        rung: Option<(usize, usize)>,
    ) -> anyhow::Result<BTreeMap<usize, Outcome>> {
        let (g, store) = (self.generation, self.store);
        if units.iter().all(|u| u.out.join(files::RESULT).is_file()) {
            // All read back on resume: no estimate, no submission.
            return read_results(units);
        }
        let (options, line) = with_time_limit(self.options, store, self.task, budget, specs);
        if let Some(line) = line {
            store.note(self.progress, line)?;
        }
        let (label, jobs, name) = match rung {
            Some((r, n)) => (
                format!("generation {g}, rung {} of {n}", r + 1),
                format!("slurm-jobs-rung{r}.json"),
                format!("rewardsmith-gen{g}-rung{r}"),
            ),
            None => (
                format!("generation {g}"),
                files::SLURM_JOBS.to_string(),
                format!("rewardsmith-gen{g}"),
            ),
        };
        SlurmBatch {
            store,
            options: &options,
            progress: self.progress,
            label,
            dir: store.generation_dir(g),
            jobs_file: store.generation_file(g, &jobs),
            job_name: name,
        }
        .run(units)
    }

    /// Makes candidate `i`'s training in `from` (a rung folder) its own:
    /// moves the files there (but the spec, the log, the rung score and the
    /// saved training) into the candidate's folder, removes its saved
    /// trainings and writes its outcome with its course.
    fn adopt(
        &self,
        i: usize,
        from: &Path,
        outcome: Outcome,
        course: Option<Rungs>,
    ) -> anyhow::Result<Outcome> {
        let to = self.store.candidate_dir(self.generation, i);
        for entry in
            std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?
        {
            let entry = entry.with_context(|| format!("reading {}", from.display()))?;
            let name = entry.file_name();
            let keep_here = [
                files::SPEC,
                files::RUNG,
                files::RESULT,
                files::TRAINER_DIR,
                super::slurm::TASK_LOG,
            ];
            if keep_here.iter().any(|k| name == *k) {
                continue;
            }
            let target = to.join(&name);
            if target.is_dir() {
                std::fs::remove_dir_all(&target)
                    .with_context(|| format!("replacing {}", target.display()))?;
            }
            std::fs::rename(entry.path(), &target).with_context(|| {
                format!("moving {} to {}", entry.path().display(), to.display())
            })?;
        }
        for r in 0.. {
            let rung = rung_dir(&to, r);
            if !rung.is_dir() {
                break;
            }
            super::store::remove_dir(&rung.join(files::TRAINER_DIR))?;
        }
        let outcome = match (outcome, course) {
            (
                Outcome::Trained {
                    check,
                    report,
                    analysis,
                    ..
                },
                Some(course),
            ) => Outcome::Trained {
                check,
                report,
                analysis,
                rungs: Some(course),
            },
            (o, _) => o,
        };
        write_json(&to.join(files::RESULT), &outcome)?;
        Ok(outcome)
    }
}

/// The outcomes already written in `units`' folders.
fn read_results(units: &[Unit]) -> anyhow::Result<BTreeMap<usize, Outcome>> {
    units
        .iter()
        .map(|u| {
            let o = read_json::<Outcome>(&u.out.join(files::RESULT))?
                .ok_or_else(|| anyhow!("{} has no result", u.out.display()))?;
            Ok((u.key, o))
        })
        .collect()
}

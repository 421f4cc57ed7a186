//! Successive halving over one generation's candidates: every candidate
//! trains to the first rung, is scored (its best checkpoint's held-out
//! fitness), and only the best continue — from where they stopped, bitwise
//! as if they had not — to the next rung and at last to the budget.
//!
//! The candidates that continue past a rung are saved there (their paused
//! training in `cand-MM/trainer/`, their rung scores in `course.json`), so a
//! generation resumed after the run was killed goes on from the last rung
//! each reached, bitwise; a candidate not saved yet trains again from step 0,
//! and the same seeds give the same rung scores, so the same candidates
//! continue. A candidate's saved training is removed when it is done.

use super::allocation::{RungScore, Rungs, promote_at, rungs, waves};
use super::candidate::{Outcome, Prepared, Staged, TrainingInputs, prepare};
use super::record::RunRecord;
use super::store::{RunStore, files, read_json, remove_dir, write_json};
use crate::events::RunEvent;
use crate::progress::RunProgress;
use rayon::prelude::*;
use rewardsmith_core::Task;
use rewardsmith_rl::PpoConfig;
use std::time::Instant;

/// One generation's trainings under successive halving.
pub(super) struct Halving<'a> {
    /// The task.
    pub task: &'a Task,
    /// The run folder.
    pub store: &'a RunStore,
    /// The run's settings.
    pub record: &'a RunRecord,
    /// Runs trainings side by side.
    pub pool: &'a rayon::ThreadPool,
    /// Where training progress goes.
    pub progress: &'a dyn RunProgress,
    /// The generation.
    pub generation: usize,
}

/// A candidate still training, by index.
type Alive<'a> = Vec<(usize, Prepared<'a>)>;

impl Halving<'_> {
    /// Trains the candidates of `staged` (those already done stay as they
    /// are) and returns every candidate's outcome, in order, with the wall
    /// seconds its thread spent on it (check, training, analysis).
    ///
    /// # Errors
    /// An unwritable folder.
    pub(super) fn run(&self, staged: Vec<Staged>) -> anyhow::Result<(Vec<Outcome>, Vec<f64>)> {
        let n = staged.len();
        let mut spent = vec![0.0; n];
        let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
        let batch = PpoConfig::for_task(self.task).batch_size() as u64;
        let eta = self.record.search.eta;
        let schedule = rungs(self.record.budget, eta, batch);
        let mut specs = Vec::new();
        // The courses of the candidates that go on from a saved rung.
        let mut saved_courses = vec![None; n];
        for (i, s) in staged.into_iter().enumerate() {
            match s {
                Staged::Done(o) => outcomes[i] = Some(o),
                Staged::Train(mut spec) => {
                    if let Some((trainer, course)) = self.saved(i, &schedule)? {
                        spec.resume_from = Some(trainer);
                        saved_courses[i] = Some(course);
                    }
                    specs.push((i, spec));
                }
            }
        }
        let inputs: Vec<TrainingInputs> =
            specs.iter().map(|(_, s)| TrainingInputs::new(s)).collect();
        let dirs: Vec<_> = specs
            .iter()
            .map(|(i, _)| self.store.candidate_dir(self.generation, *i))
            .collect();
        let mut alive: Alive<'_> = Vec::new();
        for (k, (i, spec)) in specs.iter().enumerate() {
            let started = Instant::now();
            let prepared = prepare(self.task, spec, &inputs[k], &dirs[k])?;
            spent[*i] += started.elapsed().as_secs_f64();
            match prepared {
                Ok(p) => alive.push((*i, p)),
                Err(o) => outcomes[*i] = Some(o),
            }
        }
        // Every candidate's course; those read back from disk bring theirs.
        let mut courses: Vec<Rungs> = (0..n)
            .map(|i| match (&outcomes[i], saved_courses[i].take()) {
                (Some(Outcome::Trained { rungs: Some(r), .. }), _) => r.clone(),
                (_, Some(saved)) => saved,
                _ => Rungs::new(schedule.clone()),
            })
            .collect();
        for (r, &until) in schedule.iter().enumerate() {
            alive = self.train_to(alive, until, &mut outcomes, &mut spent)?;
            self.score(&mut alive, &mut courses, r, &mut spent);
            if r + 1 == schedule.len() {
                break;
            }
            let at_rung: Vec<RungScore> = (0..n)
                .filter(|&i| courses[i].scores.len() > r)
                .map(|i| RungScore {
                    candidate: i,
                    mean: finite_or_worst(courses[i].scores[r]),
                    se: courses[i].errors[r],
                })
                .collect();
            let entered = courses.iter().filter(|c| !c.scores.is_empty()).count();
            let promotion = promote_at(&at_rung, entered, eta, r, schedule.len());
            let (keep, stop): (Alive<'_>, Alive<'_>) = alive
                .into_iter()
                .partition(|(i, _)| promotion.keep.contains(i));
            for (i, _) in &stop {
                courses[*i].stopped_below = Some(promotion.cut);
            }
            self.finish(stop, &courses, &mut outcomes, &mut spent)?;
            alive = keep;
            self.save(&mut alive, &courses, r)?;
            self.store.note(
                self.progress,
                format!(
                    "generation {}: rung {} of {} ({until} env steps): {} continue (cut {:.3})",
                    self.generation,
                    r + 1,
                    schedule.len(),
                    alive.len(),
                    promotion.cut
                ),
            )?;
        }
        self.finish(alive, &courses, &mut outcomes, &mut spent)?;
        for i in 0..n {
            self.forget_saved(i)?;
        }
        let outcomes = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| o.ok_or_else(|| anyhow::anyhow!("candidate {i} has no outcome")))
            .collect::<anyhow::Result<_>>()?;
        Ok((outcomes, spent))
    }

    /// Candidate `i`'s training saved at a rung of `schedule` (its folder)
    /// and its course to there, when both are in its folder and fit (said
    /// in a note).
    ///
    /// # Errors
    /// The note cannot be written.
    fn saved(
        &self,
        i: usize,
        schedule: &[u64],
    ) -> anyhow::Result<Option<(std::path::PathBuf, Rungs)>> {
        let dir = self.store.candidate_dir(self.generation, i);
        let trainer = dir.join(files::TRAINER_DIR);
        let Ok(Some(course)) = read_json::<Rungs>(&dir.join(files::COURSE)) else {
            return Ok(None);
        };
        let r = course.scores.len();
        let fits = course.schedule == schedule
            && r > 0
            && r < schedule.len()
            && course.errors.len() == r
            && trainer.is_dir();
        if !fits {
            return Ok(None);
        }
        self.store.note(
            self.progress,
            format!(
                "generation {}: candidate {i} goes on from its training saved at rung {r} of {} \
                 ({} env steps)",
                self.generation,
                schedule.len(),
                schedule[r - 1]
            ),
        )?;
        Ok(Some((trainer, course)))
    }

    /// Scores every candidate of `alive` at rung `r` (its best checkpoint's
    /// held-out fitness) into its course, but those scored there before the
    /// run was resumed.
    fn score(&self, alive: &mut Alive<'_>, courses: &mut [Rungs], r: usize, spent: &mut [f64]) {
        let scored: Vec<(Option<(f64, f64)>, f64)> = self.pool.install(|| {
            alive
                .par_iter_mut()
                .map(|(_, p)| {
                    let started = Instant::now();
                    (p.score(), started.elapsed().as_secs_f64())
                })
                .collect()
        });
        for ((i, _), (score, took)) in alive.iter().zip(scored) {
            spent[*i] += took;
            if courses[*i].scores.len() > r {
                continue;
            }
            let (mean, se) = score.unwrap_or((f64::NAN, 0.0));
            courses[*i].scores.push(mean);
            courses[*i].errors.push(se);
        }
    }

    /// Removes candidate `i`'s saved training and course, once it is done.
    fn forget_saved(&self, i: usize) -> anyhow::Result<()> {
        let dir = self.store.candidate_dir(self.generation, i);
        remove_dir(&dir.join(files::TRAINER_DIR))?;
        match std::fs::remove_file(dir.join(files::COURSE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(anyhow::anyhow!("cannot remove {}: {e}", dir.display()))
            }
            _ => Ok(()),
        }
    }

    /// Saves the trainings of `alive`, which continue past rung `r`, with
    /// their courses: where a resumed run goes on from.
    fn save(&self, alive: &mut Alive<'_>, courses: &[Rungs], r: usize) -> anyhow::Result<()> {
        let g = self.generation;
        let saved: Vec<anyhow::Result<()>> = self.pool.install(|| {
            alive
                .par_iter_mut()
                .filter(|(i, _)| courses[*i].scores.len() == r + 1)
                .map(|(i, p)| {
                    let dir = self.store.candidate_dir(g, *i);
                    p.save(&dir.join(files::TRAINER_DIR))?;
                    write_json(&dir.join(files::COURSE), &courses[*i])
                })
                .collect()
        });
        saved.into_iter().collect()
    }

    /// Trains every candidate of `alive` to `until` env steps side by side,
    /// in [`waves`] over the run's threads; the failed ones leave.
    fn train_to<'p>(
        &self,
        mut alive: Alive<'p>,
        until: u64,
        outcomes: &mut [Option<Outcome>],
        spent: &mut [f64],
    ) -> anyhow::Result<Alive<'p>> {
        if alive.is_empty() {
            return Ok(alive);
        }
        let (g, progress) = (self.generation, self.progress);
        let mut results: Vec<(anyhow::Result<Option<Outcome>>, f64)> =
            Vec::with_capacity(alive.len());
        let waves = waves(
            alive.len(),
            self.pool.current_num_threads(),
            self.record.threads_per_candidate,
        );
        for (wave, threads) in waves {
            results.extend(self.pool.install(|| {
                alive[wave]
                    .par_iter_mut()
                    .with_max_len(1) // one job per training: no thread trains two in a row while another idles
                    .map(|(i, p)| {
                        let started = Instant::now();
                        let i = *i;
                        let result = p.set_threads(threads).and_then(|()| {
                            p.advance(until, &|steps| {
                                progress.event(&RunEvent::TrainingSteps {
                                    generation: g,
                                    candidate: i,
                                    steps,
                                });
                            })
                        });
                        (result, started.elapsed().as_secs_f64())
                    })
                    .collect::<Vec<_>>()
            }));
        }
        let mut still = Vec::with_capacity(alive.len());
        for ((i, p), (result, took)) in alive.into_iter().zip(results) {
            spent[i] += took;
            match result? {
                Some(failed) => outcomes[i] = Some(failed),
                None => still.push((i, p)),
            }
        }
        Ok(still)
    }

    /// Ends the trainings of `done` with their courses so far.
    fn finish(
        &self,
        done: Alive<'_>,
        courses: &[Rungs],
        outcomes: &mut [Option<Outcome>],
        spent: &mut [f64],
    ) -> anyhow::Result<()> {
        let finished: Vec<(usize, anyhow::Result<Outcome>, f64)> = self.pool.install(|| {
            done.into_par_iter()
                .map(|(i, p)| {
                    let started = Instant::now();
                    let o = p.finish(Some(courses[i].clone()));
                    (i, o, started.elapsed().as_secs_f64())
                })
                .collect()
        });
        for (i, o, took) in finished {
            spent[i] += took;
            outcomes[i] = Some(o?);
            self.forget_saved(i)?;
        }
        Ok(())
    }
}

/// A score to rank by: a non-finite one ranks last.
pub(super) fn finite_or_worst(x: f64) -> f64 {
    if x.is_finite() { x } else { f64::NEG_INFINITY }
}

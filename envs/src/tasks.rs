//! The built-in tasks: goals, fitness measures, baseline rewards and training
//! defaults for each environment.

use crate::arm::{Actuation, Arm};
use crate::cartpole::{Cartpole, FALL_ANGLE, OUT_OF_BOUNDS, Start};
use crate::hand::{Hand, Object};
use crate::quadruped::Quadruped;
use crate::valve::Valve;
use rewardsmith_core::{
    Fitness, FitnessMeter, Registry, RewardSource, StateView, StepInfo, Task, TrainDefaults,
};

macro_rules! rewards {
    ($name:literal) => {
        (
            RewardSource::embedded(
                concat!("envs/rewards/", $name, ".human.rhai"),
                include_str!(concat!("../rewards/", $name, ".human.rhai")),
            ),
            RewardSource::embedded(
                concat!("envs/rewards/", $name, ".sparse.rhai"),
                include_str!(concat!("../rewards/", $name, ".sparse.rhai")),
            ),
        )
    };
}

fn field(s: &StateView<'_>, name: &str) -> f64 {
    s.scalar(name).unwrap_or(f64::NAN)
}

fn field_at(s: &StateView<'_>, name: &str, i: usize) -> f64 {
    s.get(name)
        .and_then(|v| v.get(i).copied())
        .unwrap_or(f64::NAN)
}

/// Training defaults for the cart-pole: small and quick.
fn cartpole_defaults() -> TrainDefaults {
    TrainDefaults {
        budget: 200_000,
        search_budget: 100_000,
        num_envs: 8,
        num_steps: 256,
        ..TrainDefaults::default()
    }
}

/// Training defaults for the quadruped (after cleanrl's MuJoCo settings),
/// with its search and final budgets.
fn quadruped_defaults(search_budget: u64, budget: u64) -> TrainDefaults {
    TrainDefaults {
        budget,
        search_budget,
        num_envs: 16,
        num_steps: 256,
        ..TrainDefaults::default()
    }
}

/// Counts the steps of an episode's final part on which a 0/1 flag is set.
struct FinalFraction {
    flag: &'static str,
    /// First step (1-based) of the final part.
    from: usize,
    t: usize,
    hits: usize,
}

impl FitnessMeter for FinalFraction {
    fn step(&mut self, s: &StateView<'_>, _info: StepInfo) {
        self.t += 1;
        if self.t >= self.from && field(s, self.flag) > 0.5 {
            self.hits += 1;
        }
    }

    fn finish(&self, episode_steps: usize) -> f64 {
        let span = episode_steps + 1 - self.from.min(episode_steps);
        self.hits as f64 / span.max(1) as f64
    }
}

/// The fraction of the last quarter of a `steps`-step episode on which `flag` is 1
/// (steps an episode did not live count as 0).
fn final_quarter(doc: &str, flag: &'static str, steps: usize) -> Fitness {
    let from = steps - steps / 4 + 1;
    Fitness::custom(doc, move || {
        Box::new(FinalFraction {
            flag,
            from,
            t: 0,
            hits: 0,
        })
    })
}

/// Training defaults for the arm.
fn arm_defaults(budget: u64) -> TrainDefaults {
    TrainDefaults {
        budget,
        search_budget: budget / 5,
        num_envs: 16,
        num_steps: 128,
        ..TrainDefaults::default()
    }
}

/// The arm's tasks.
fn arm_tasks(build: &dyn Fn(rewardsmith_core::TaskBuilder) -> Task) -> Vec<Task> {
    let (h, s) = rewards!("arm-reach");
    let reach = build(
        Task::builder("arm-reach", || Box::new(Arm::new()))
            .description(
                "Move the fingertip to the target point (target_pos) and hold it there, within \
                 3 cm, until the episode ends. The target changes every episode. Ignore the cube.",
            )
            .episode_steps(100)
            .fitness(final_quarter(
                "success rate: fraction of the last 25 of the 100 steps (1 s) with the fingertip within 3 cm of the target",
                "reached",
                100,
            )
            .with_scale("0 to 1 per episode; 1 = the fingertip within 3 cm of the target on every one of the last 25 steps")
            .with_reference("0.98 over 64 episodes after 300k env steps"))
            .human_reward(h)
            .sparse_reward(s)
            // The human reward's curve (seed 1, trained for 2M, 32-episode
            // checkpoints): 0.03 at 100k, 0.85 at 200k, 1.0 from 300k on.
            // Trained for 500k: 1.0 and 0.98 over 64 episodes (seeds 0, 1).
            .defaults(TrainDefaults {
                search_budget: 200_000,
                ..arm_defaults(500_000)
            }),
    );
    let (h, s) = rewards!("arm-push");
    let push = build(
        Task::builder("arm-push", || {
            Box::new(Arm::with_actuation(Actuation::Steps))
        })
            .description(
                "Move the cube across the table so that its centre ends within 5 cm of the goal \
                 (goal_pos), and leave it there until the episode ends: push it, or grip it \
                 between the fingers and drag it. The cube and the goal change every episode.",
            )
            .episode_steps(200)
            .fitness(final_quarter(
                "success rate: fraction of the last 50 of the 200 steps (2 s) with the cube's centre within 5 cm of the goal in the table plane",
                "cube_at_goal",
                200,
            )
            .with_scale("0 to 1 per episode; 1 = the cube's centre within 5 cm of the goal on every one of the last 50 steps")
            .with_reference("0.82 over 64 episodes after 3M env steps, from its best checkpoint (other seeds: 0.47 and 0.84)"))
            .human_reward(h)
            .sparse_reward(s)
            // Measured on the human reward (README), over 64 episodes at 3M.
            // Pushing with the closed fingers never passed ~0.3: with
            // joint-angle actions 0.14 at best; naming the fingertip target's
            // place, 0.28 and 0.18 (seeds 0, 1), the cube often pushed on
            // through the goal; stepped targets 0.21 and 0.04. Gripping the
            // cube and dragging it (a scripted drag delivers every cube,
            // `tests/arm_hand.rs`) needs stepped targets, as arm-lift's grasp
            // does, and σ = 1: with σ = 0.37 or 0.61 the policies gripped the
            // cube and held it still. A loose grip drags badly, hence the
            // `squeeze` term; paying for an open gripper only near the cube
            // keeps a policy from waiting far away with it open. Then: 0.82,
            // 0.47, 0.84 and 0.63 (seeds 0-3; best checkpoints). The result
            // hangs on the training's whole course, which the budget sets
            // (the learning rate anneals over it): trained for 4M, seeds 0
            // and 1 gave 0.16 and 0.03; for 1.5M (where the 3M runs'
            // checkpoints pass 80 % of their final figure), 0.05 and 0.12.
            // So the search trains candidates for the 3M that works too.
            .defaults(TrainDefaults {
                num_envs: 64,
                num_steps: 64,
                search_budget: 3_000_000,
                ..arm_defaults(3_000_000)
            }),
    );
    let (h, s) = rewards!("arm-lift");
    let lift = build(
        Task::builder("arm-lift", || {
            Box::new(Arm::with_actuation(Actuation::Steps))
        })
            .description(
                "Grip the cube between the two fingers and lift it off the table: its centre \
                 higher than 0.1 m (cube_height; 0.025 at rest) while both fingers touch it \
                 (lifted = 1), held there for 10 consecutive steps (0.4 s). The cube's place and \
                 turn change every episode.",
            )
            .episode_steps(150)
            .fitness(Fitness::custom(
                "success rate: 1 when the cube is held in the gripper with its centre above 0.1 m for 10 consecutive steps (0.4 s) within the 150-step (6 s) episode, else 0",
                || Box::new(HeldFor::new("lifted", 10)),
            )
            .with_scale("0 or 1 per episode (its mean over episodes is a success rate)")
            .with_reference("0.92 over 64 episodes after 1M env steps for two of three seeds; 0.0 for the third"))
            .human_reward(h)
            .sparse_reward(s)
            // Actions step the fingertip target (`Actuation::Steps`): with
            // actions naming its place the human reward stayed at 0.0 through
            // 10M (seed 0). With steps, trained for 1M (the learning rate
            // anneals over the budget) it holds the cube up in 0.92 of 64
            // episodes for seeds 0 and 2, from about 600k on; seed 1 grips
            // the cube and never lifts it. Trained for 10M, seed 0 peaked at
            // 0.78 at 1M and wandered after. Hence 600k / 1M.
            .defaults(TrainDefaults {
                search_budget: 600_000,
                ..arm_defaults(1_000_000)
            }),
    );
    vec![reach, push, lift]
}

/// Success once a 0/1 flag has been set for `hold` consecutive steps.
struct HeldFor {
    flag: &'static str,
    hold: usize,
    run: usize,
    done: bool,
}

impl HeldFor {
    fn new(flag: &'static str, hold: usize) -> Self {
        Self {
            flag,
            hold,
            run: 0,
            done: false,
        }
    }
}

impl FitnessMeter for HeldFor {
    fn step(&mut self, s: &StateView<'_>, _info: StepInfo) {
        self.run = if field(s, self.flag) > 0.5 {
            self.run + 1
        } else {
            0
        };
        self.done |= self.run >= self.hold;
    }

    fn finish(&self, _episode_steps: usize) -> f64 {
        f64::from(u8::from(self.done))
    }
}

/// Success once a 0/1 flag has been set for `hold` consecutive steps.
struct HeldFlag {
    flag: &'static str,
    hold: usize,
    run: usize,
    done: bool,
}

impl FitnessMeter for HeldFlag {
    fn step(&mut self, s: &StateView<'_>, _info: StepInfo) {
        if field(s, self.flag) > 0.5 && field(s, "dropped") < 0.5 {
            self.run += 1;
        } else {
            self.run = 0;
        }
        self.done |= self.run >= self.hold;
    }

    fn finish(&self, _episode_steps: usize) -> f64 {
        f64::from(u8::from(self.done))
    }
}

/// `|Σ axis_spin| / episode_steps` over the steps before a drop: steady rolling
/// of the pen in either direction counts, rocking back and forth cancels out.
#[derive(Default)]
struct AxisSpin {
    sum: f64,
}

impl FitnessMeter for AxisSpin {
    fn step(&mut self, s: &StateView<'_>, _info: StepInfo) {
        if field(s, "dropped") < 0.5 {
            self.sum += field(s, "axis_spin");
        }
    }

    fn finish(&self, episode_steps: usize) -> f64 {
        self.sum.abs() / episode_steps.max(1) as f64
    }
}

/// Training defaults for the hand. The human rewards' curves to 20M (seed 0,
/// one thread, 1M apart; README) are flat from the first checkpoint on:
/// hand-spin 0.0–0.08 rad/s, hand-reorient 0.0, hand-pen-spin 0.27–0.43
/// (random actions: 0.31). Their plateau begins at 1M, so the budgets are
/// 1M and 2M: 20M per final training bought nothing but hours.
fn hand_defaults() -> TrainDefaults {
    TrainDefaults {
        budget: 2_000_000,
        search_budget: 1_000_000,
        num_envs: 32,
        num_steps: 128,
        ..TrainDefaults::default()
    }
}

/// The hand's tasks.
fn hand_tasks(build: &dyn Fn(rewardsmith_core::TaskBuilder) -> Task) -> Vec<Task> {
    let (h, s) = rewards!("hand-spin");
    let spin = build(
        Task::builder("hand-spin", || Box::new(Hand::new(Object::Cube)))
            .description(
                "Spin the cube about the vertical axis, counter-clockwise seen from above, as \
                 fast as possible, without dropping it off the palm (a drop ends the episode).",
            )
            .episode_steps(200)
            .fitness(Fitness::mean_score(
                "mean counter-clockwise angular velocity of the cube about world z over the 200-step episode, rad/s (steps after a drop count as 0)",
                |s| {
                    if field(s, "dropped") > 0.5 {
                        0.0
                    } else {
                        field_at(s, "object_angvel", 2)
                    }
                },
            )
            .with_scale("rad/s; 0 = no net turn, negative = clockwise; no fixed maximum, higher is better")
            .with_reference("0.06 rad/s over 64 episodes after 20M env steps (checkpoints 0.0 to 0.08 all along): the task is hard"))
            .human_reward(h)
            .sparse_reward(s)
            .defaults(hand_defaults()),
    );
    let (h, s) = rewards!("hand-reorient");
    let reorient = build(
        Task::builder("hand-reorient", || Box::new(Hand::new(Object::Cube)))
            .description(
                "Turn the cube in the hand until its orientation matches the target orientation \
                 (target_quat) within 0.4 rad, and hold it there, without dropping it. The target \
                 is a random turn about the vertical plus a tilt of up to 0.5 rad, at least 0.8 rad \
                 from the start, new every episode.",
            )
            .episode_steps(200)
            .fitness(Fitness::custom(
                "success rate: 1 when the cube's orientation error stays below 0.4 rad for 5 consecutive steps (0.25 s) before any drop, else 0",
                || {
                    Box::new(HeldFlag {
                        flag: "aligned",
                        hold: 5,
                        run: 0,
                        done: false,
                    })
                },
            )
            .with_scale("0 or 1 per episode (its mean over episodes is a success rate)")
            .with_reference("0.0 over 64 episodes after 20M env steps, and at every checkpoint: the task is hard"))
            .human_reward(h)
            .sparse_reward(s)
            .defaults(hand_defaults()),
    );
    let (h, s) = rewards!("hand-pen-spin");
    let pen = build(
        Task::builder("hand-pen-spin", || Box::new(Hand::new(Object::Pen)))
            .description(
                "Roll the pen (a capsule lying on the palm) about its own long axis (object_axis), \
                 steadily in one direction, as fast as possible, without dropping it.",
            )
            .episode_steps(200)
            .fitness(Fitness::custom(
                "absolute value of the pen's mean angular velocity about its long axis over the 200-step episode, rad/s (steps after a drop count as 0)",
                || Box::new(AxisSpin::default()),
            )
            .with_scale("rad/s, 0 or more; 0 = no steady roll; no fixed maximum, higher is better")
            .with_reference("0.38 over 64 episodes after 20M env steps, about what random actions do (0.31): the task is hard"))
            .human_reward(h)
            .sparse_reward(s)
            .defaults(hand_defaults()),
    );
    vec![spin, reorient, pen]
}

/// Success when a 0/1 flag is set on the episode's last step.
struct EndsWith {
    flag: &'static str,
    last: bool,
}

impl FitnessMeter for EndsWith {
    fn step(&mut self, s: &StateView<'_>, _info: StepInfo) {
        self.last = field(s, self.flag) > 0.5;
    }

    fn finish(&self, _episode_steps: usize) -> f64 {
        f64::from(u8::from(self.last))
    }
}

/// Training defaults for the valve: short episodes, budgets from the human
/// rewards' learning curves (README).
fn valve_defaults(search_budget: u64, budget: u64) -> TrainDefaults {
    TrainDefaults {
        budget,
        search_budget,
        num_envs: 32,
        num_steps: 80,
        ..TrainDefaults::default()
    }
}

/// The valve's tasks (the hand turning a valve on a fixed hinge).
fn valve_tasks(build: &dyn Fn(rewardsmith_core::TaskBuilder) -> Task) -> Vec<Task> {
    let (h, s) = rewards!("hand-valve-turn");
    let turn = build(
        Task::builder("hand-valve-turn", || Box::new(Valve::new()))
            .description(
                "Turn the valve until its angle (valve_angle) matches the target angle \
                 (target_angle) within 0.1 rad, and keep it there until the episode ends \
                 (80 steps, 4 s). angle_error says which way and how far. The start and the \
                 target change every episode; the target is between pi/3 and pi from the start.",
            )
            .episode_steps(80)
            .fitness(Fitness::custom(
                "success rate: 1 when the episode's last step has |angle_error| < 0.1 rad, else 0",
                || {
                    Box::new(EndsWith {
                        flag: "at_target",
                        last: false,
                    })
                },
            )
            .with_scale("0 or 1 per episode (its mean over episodes is a success rate)")
            .with_reference("1.00 and 0.92 over 64 episodes after 3M env steps (two seeds)"))
            .human_reward(h)
            .sparse_reward(s)
            // Human reward, seeds 0 and 1, 8-episode checkpoints: 0.75 at 1M
            // (about 80% of the final figure), 0.875-1.0 from 1.5M on. With
            // 32 envs seed 1 learned to turn clockwise poorly (0.77 over 64
            // episodes at 5M); 64 envs × 80 steps per update gave 0.92 at 3M.
            .defaults(TrainDefaults {
                num_envs: 64,
                ..valve_defaults(1_000_000, 3_000_000)
            }),
    );
    let (h, s) = rewards!("hand-valve-spin");
    let spin = build(
        Task::builder("hand-valve-spin", || Box::new(Valve::new()))
            .description(
                "Turn the valve counter-clockwise (seen from above) as fast as possible, \
                 continuously, for the whole episode (100 steps, 5 s).",
            )
            .episode_steps(100)
            .fitness(Fitness::mean_score(
                "mean counter-clockwise angular velocity of the valve over the 100-step episode, rad/s (its total turn / 5 s)",
                |s| field(s, "valve_vel"),
            )
            .with_scale("rad/s; 0 = no net turn, negative = clockwise; no fixed maximum, higher is better")
            .with_reference("5.14 and 3.44 rad/s over 64 episodes after 5M env steps (two seeds)"))
            .human_reward(h)
            .sparse_reward(s)
            // Human reward, seeds 0 and 1: 4.9 and 3.2 rad/s at 1M (over 80%
            // of the final figure), 5.1 and 3.4 from 2M to 5M.
            .defaults(valve_defaults(1_000_000, 2_000_000)),
    );
    vec![turn, spin]
}

/// Every built-in task, in a stable order.
#[must_use]
pub fn builtin_tasks() -> Vec<Task> {
    let build = |b: rewardsmith_core::TaskBuilder| b.build().expect("built-in task is complete");
    let (h, s) = rewards!("cartpole-balance");
    let balance = build(
        Task::builder("cartpole-balance", || Box::new(Cartpole::new(Start::Upright)))
            .description(
                "Keep the pole balanced upright on the cart for the whole episode without \
                 letting the cart run off the rail. The episode ends early if the pole leans \
                 more than 0.2 rad from vertical or the cart passes ±2.3 m.",
            )
            .episode_steps(500)
            .fitness(Fitness::mean_score(
                "fraction of the episode's 500 steps with the pole within 0.2 rad of upright and the cart within ±2.3 m",
                |s| {
                    let up = field(s, "pole_angle").abs() < f64::from(FALL_ANGLE);
                    let inside = field(s, "cart_pos").abs() < f64::from(OUT_OF_BOUNDS);
                    f64::from(u8::from(up && inside))
                },
            )
            .with_scale("0 to 1 per episode; 1 = the pole up and the cart on the rail for all 500 steps")
            .with_reference("1.0 within 100k env steps"))
            .human_reward(h)
            .sparse_reward(s)
            .defaults(cartpole_defaults()),
    );
    let (h, s) = rewards!("cartpole-swingup");
    let swingup = build(
        Task::builder("cartpole-swingup", || Box::new(Cartpole::new(Start::Hanging)))
            .description(
                "The pole starts hanging down. Swing it up by moving the cart back and forth, \
                 then keep it balanced upright for the rest of the episode.",
            )
            .episode_steps(500)
            .fitness(Fitness::mean_score(
                "fraction of the episode's 500 steps with the pole within about 18° of upright (cos angle > 0.95)",
                |s| f64::from(u8::from(field(s, "pole_up") > 0.95)),
            )
            .with_scale("0 to 1 per episode; 1 = the pole up on all 500 steps, which the swing-up itself makes impossible")
            .with_reference("0.84 from 200k to 1M env steps"))
            .human_reward(h)
            .sparse_reward(s)
            // From the human reward's curve (seed 1, 8-episode checkpoints):
            // 0.70 at 100k (83 % of its final figure), 0.84 from 200k to 1M.
            .defaults(TrainDefaults {
                budget: 300_000,
                search_budget: 100_000,
                ..cartpole_defaults()
            }),
    );
    let quad = |name: &str,
                description: &str,
                fitness: Fitness,
                (h, s): (RewardSource, RewardSource),
                (search_budget, budget): (u64, u64)| {
        build(
            Task::builder(name, || Box::new(Quadruped::new()))
                .description(description)
                .episode_steps(1000)
                .fitness(fitness)
                .human_reward(h)
                .sparse_reward(s)
                .defaults(quadruped_defaults(search_budget, budget)),
        )
    };
    let run = quad(
        "quadruped-run",
        "Run forward (along +x) as fast as possible without falling.",
        Fitness::mean_score(
            "mean forward speed along +x over the 1000-step episode, m/s (steps after a fall count as 0)",
            |s| field_at(s, "torso_linvel", 0),
        )
        .with_scale("m/s; 0 = no progress (or a fall at once), negative = backwards; no fixed maximum, higher is better")
        .with_reference("3.76 m/s after 5M env steps (2.83 after 0.5M)"),
        rewards!("quadruped-run"),
        // From the human reward's curve (seed 1, 8-episode checkpoints):
        // 2.32 m/s at 300k, 2.93 at 600k, 3.38 at 1.2M (93 % of 3.64 at 3M),
        // then 2 % or less per 300k; 80 % of the 1.2M figure falls near 500k.
        // 1.2M rather than 1.5M (3.44) keeps the default search in an hour.
        (500_000, 1_200_000),
    );
    let backward = quad(
        "quadruped-backward",
        "Walk backwards (along -x) as fast as possible without falling.",
        Fitness::mean_score(
            "mean speed along -x over the 1000-step episode, m/s (steps after a fall count as 0)",
            |s| -field_at(s, "torso_linvel", 0),
        )
        .with_scale("m/s; 0 = no progress (or a fall at once), negative = forwards; no fixed maximum, higher is better"),
        rewards!("quadruped-backward"),
        (1_000_000, 5_000_000),
    );
    let turn = quad(
        "quadruped-turn",
        "Turn on the spot counter-clockwise (seen from above) as fast as possible without falling.",
        Fitness::mean_score(
            "mean counter-clockwise yaw rate over the 1000-step episode, rad/s (steps after a fall count as 0)",
            |s| field_at(s, "torso_angvel", 2),
        )
        .with_scale("rad/s; 0 = no net turn (or a fall at once), negative = clockwise; no fixed maximum, higher is better"),
        rewards!("quadruped-turn"),
        (1_000_000, 5_000_000),
    );
    let stand = quad(
        "quadruped-stand",
        "Rear up: lift both front feet off the ground and hold the torso high, for as much \
         of the episode as possible, without falling.",
        Fitness::mean_score(
            "fraction of the 1000-step episode with the torso above 0.6 m and both front feet more than 0.1 m off the ground",
            |s| {
                let up = field(s, "torso_height") > 0.6
                    && field_at(s, "foot_height", 0) > 0.1
                    && field_at(s, "foot_height", 1) > 0.1;
                f64::from(u8::from(up))
            },
        )
        .with_scale("0 to 1 per episode; 1 = reared up on every one of the 1000 steps"),
        rewards!("quadruped-stand"),
        (1_000_000, 5_000_000),
    );
    let mut tasks = vec![balance, swingup, run, backward, turn, stand];
    tasks.extend(arm_tasks(&build));
    tasks.extend(hand_tasks(&build));
    tasks.extend(valve_tasks(&build));
    tasks
}

/// A registry holding every built-in task; register your own tasks on top.
#[must_use]
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    for task in builtin_tasks() {
        registry
            .register(task)
            .expect("built-in task names are unique");
    }
    registry
}

//! Scripted finger gaits on `hand-spin`, to see whether (and how fast) the hand
//! can turn the cube at all:
//! `cargo run --release -p rewardsmith-envs --example gait_hand -- [solo] GRIP SWEEP RELEASE RETURN CLOSE OPEN DISTAL`
//! runs 16 episodes of a gait that repeats four phases (steps each): grip (all
//! abductions at −1, proximal flexion action CLOSE), sweep (abductions to +1),
//! release (proximal flexion action OPEN) and return (abductions back to −1
//! while open); DISTAL is the distal flexion action throughout. With `solo` the
//! fingers take turns, one gait cycle each, the other two open and out of the
//! way. Prints the task's fitness (mean yaw rate, rad/s), the drops, and the
//! cube's yaw during the first two cycles of seed 0. Actions set joint targets
//! around the grasp pose (`Object::joint_targets`: abduction ±1 is ±0.5 rad, a
//! flexion action x is the grasp pose + 0.5·x rad); the gaits in the README were
//! measured when actions spanned the whole joint ranges.

use rewardsmith_core::Env;
use rewardsmith_envs::hand::{Hand, Object};
use rewardsmith_envs::registry;
use rewardsmith_envs::rollout::{Controller, ControllerFactory, run_episodes};

/// One gait: phase lengths in steps, flexion actions, and whether fingers take turns.
#[derive(Clone, Copy)]
struct Gait {
    phases: [usize; 4],
    close: f32,
    open: f32,
    distal: f32,
    solo: bool,
    t: usize,
}

impl Controller for Gait {
    fn act(&mut self, _obs: &[f32], action: &mut [f32]) {
        let [grip, sweep, release, back] = self.phases;
        let period = grip + sweep + release + back;
        let k = self.t % period;
        let ramp = |i: usize, n: usize| 2.0 * (i + 1) as f32 / n as f32;
        let (abduction, flexion) = if k < grip {
            (-1.0, self.close)
        } else if k < grip + sweep {
            (-1.0 + ramp(k - grip, sweep), self.close)
        } else if k < grip + sweep + release {
            (1.0, self.open)
        } else {
            (1.0 - ramp(k - grip - sweep - release, back), self.open)
        };
        let turn = (self.t / period) % 3;
        for f in 0..3 {
            let idle = self.solo && f != turn;
            action[3 * f] = if idle { 1.0 } else { abduction };
            action[3 * f + 1] = if idle { self.open } else { flexion };
            action[3 * f + 2] = self.distal;
        }
        self.t += 1;
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let solo = args.first().is_some_and(|a| a == "solo");
    if solo {
        args.remove(0);
    }
    let n: Vec<f32> = args.iter().map(|a| a.parse().expect("a number")).collect();
    assert_eq!(n.len(), 7, "GRIP SWEEP RELEASE RETURN CLOSE OPEN DISTAL");
    let gait = Gait {
        phases: [0, 1, 2, 3].map(|i| n[i] as usize),
        close: n[4],
        open: n[5],
        distal: n[6],
        solo,
        t: 0,
    };

    let mut env = Hand::new(Object::Cube);
    let spec = env.spec().clone();
    let quat = spec.state.field("object_quat").unwrap().offset;
    let (mut obs, mut action) = (vec![0.0; spec.obs_dim], vec![0.0; spec.action_dim]);
    let mut state = spec.state.zeroed();
    let mut trace = gait;
    env.reset(0);
    let period: usize = gait.phases.iter().sum();
    let mut yaws = Vec::new();
    for _ in 0..2 * period {
        env.observe(&mut obs);
        trace.act(&obs, &mut action);
        env.step(&action);
        env.reward_state(&mut state);
        let q = &state[quat..quat + 4];
        let yaw =
            (2.0 * (q[0] * q[3] + q[1] * q[2])).atan2(1.0 - 2.0 * (q[2] * q[2] + q[3] * q[3]));
        yaws.push(format!("{yaw:.2}"));
    }
    println!("seed 0, cube yaw per step: {}", yaws.join(" "));

    let registry = registry();
    let task = registry.task("hand-spin").expect("hand-spin is registered");
    let factory: &ControllerFactory<'_> = &|_| Box::new(gait);
    let report = run_episodes(task, 16, 0, factory, None).expect("episodes run");
    let drops = report.episodes.iter().filter(|e| e.terminated).count();
    println!(
        "{} gait {:?}, flexion {} / {}, distal {}: fitness {:.3} rad/s, {drops} drops in 16",
        if solo { "solo" } else { "all-finger" },
        gait.phases,
        gait.close,
        gait.open,
        gait.distal,
        report.fitness_mean()
    );
}

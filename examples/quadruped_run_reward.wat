;; quadruped-run reward as a WebAssembly module (the same terms as the
;; human-written `envs/rewards/quadruped-run.human.rhai`).
;;
;; Reward ABI v1 (see `rewardsmith_sandbox::wasm_abi_doc`): no imports; the host
;; writes `s` then `prev` as little-endian f64 in reward-state order at `input()`
;; and calls `compute_reward(s, prev, out)`; we write one f64 per component at
;; `out`, in the order `components()` lists them.
;;
;; quadruped reward state (61 values), offsets in f64 slots:
;;   torso_pos 0..3, torso_height 3, torso_quat 4..8 [w, x, y, z],
;;   torso_linvel 8..11, torso_angvel 11..14, up_z 14, heading 15,
;;   joint_pos 16..24, joint_vel 24..32, foot_pos 32..44, foot_height 44..48,
;;   foot_contact 48..52, action 52..60, fallen 60
;;
;; Check it with: rewardsmith check --task quadruped-run examples/quadruped_run_reward.wat
(module
  (memory (export "memory") 1)
  ;; Component names, newline separated, at offset 0 (34 bytes).
  (data (i32.const 0) "forward\nalive\nupright\ndrift\neffort")

  (func (export "components") (result i32 i32)
    (i32.const 0) (i32.const 34))

  ;; Scratch area: s (61 f64), prev (61 f64), out (5 f64) = 1016 bytes.
  (func (export "input") (result i32)
    (i32.const 64))

  (func (export "state_len") (result i32)
    (i32.const 61))

  ;; f64 at slot `i` of the state at `base`.
  (func $at (param $base i32) (param $i i32) (result f64)
    (f64.load (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 3)))))

  (func (export "compute_reward") (param $s i32) (param $prev i32) (param $out i32)
    (local $i i32)
    (local $a f64)
    (local $effort f64)
    ;; forward: s.torso_linvel[0]
    (f64.store offset=0 (local.get $out) (call $at (local.get $s) (i32.const 8)))
    ;; alive: 0.5 unless fallen
    (f64.store offset=8 (local.get $out)
      (select (f64.const 0.0) (f64.const 0.5)
        (f64.gt (call $at (local.get $s) (i32.const 60)) (f64.const 0.5))))
    ;; upright: 0.2 * s.up_z
    (f64.store offset=16 (local.get $out)
      (f64.mul (f64.const 0.2) (call $at (local.get $s) (i32.const 14))))
    ;; drift: -0.1 * |s.torso_linvel[1]|
    (f64.store offset=24 (local.get $out)
      (f64.mul (f64.const -0.1) (f64.abs (call $at (local.get $s) (i32.const 9)))))
    ;; effort: -0.02 * dot(s.action, s.action)
    (local.set $i (i32.const 52))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 60)))
        (local.set $a (call $at (local.get $s) (local.get $i)))
        (local.set $effort (f64.add (local.get $effort) (f64.mul (local.get $a) (local.get $a))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (f64.store offset=32 (local.get $out)
      (f64.mul (f64.const -0.02) (local.get $effort))))
)

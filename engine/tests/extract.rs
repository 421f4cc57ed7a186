//! Code extraction from real-looking completions, table-driven.

use rewardsmith::extract::{Extracted, extract_code};

const REWARD: &str = "fn compute_reward(s, prev) {\n    #{ forward: s.torso_linvel[0] }\n}";

struct Case {
    name: &'static str,
    completion: String,
    /// `Some(substrings the source must contain)` or `None` for NoCode.
    expect: Option<&'static [&'static str]>,
    /// Substrings the source must not contain.
    absent: &'static [&'static str],
    truncated: bool,
}

fn case(name: &'static str, completion: &str, expect: Option<&'static [&'static str]>) -> Case {
    Case {
        name,
        completion: completion.to_string(),
        expect,
        absent: &[],
        truncated: false,
    }
}

#[test]
fn table() {
    let cases = vec![
        case(
            "rhai fence with prose",
            &format!(
                "Here is a reward that pays for forward speed.\n\n```rhai\n{REWARD}\n```\n\nIt should work well."
            ),
            Some(&["fn compute_reward(s, prev)", "forward"]),
        ),
        case(
            "rust fence",
            &format!("```rust\n{REWARD}\n```"),
            Some(&["forward: s.torso_linvel[0]"]),
        ),
        case(
            "js fence",
            &format!("```js\n{REWARD}\n```"),
            Some(&["forward"]),
        ),
        case(
            "unlabelled fence",
            &format!("Reward:\n```\n{REWARD}\n```"),
            Some(&["forward"]),
        ),
        case(
            "tilde fence with attributes",
            &format!("~~~rhai title=reward.rhai\n{REWARD}\n~~~"),
            Some(&["forward"]),
        ),
        Case {
            absent: &["old_term"],
            ..case(
                "draft then revision: the last defining block wins",
                "First attempt:\n```rhai\nfn compute_reward(s, prev) { #{ old_term: 1.0 } }\n```\nBetter:\n```rhai\nfn compute_reward(s, prev) { #{ new_term: s.up_z } }\n```",
                Some(&["new_term"]),
            )
        },
        case(
            "helper in its own block is prepended",
            "Helper:\n```rhai\nfn speed(s) {\n    s.torso_linvel[0]\n}\n```\nReward:\n```rhai\nfn compute_reward(s, prev) {\n    #{ forward: speed(s) }\n}\n```",
            Some(&["fn speed(s)", "forward: speed(s)"]),
        ),
        Case {
            absent: &["\"up_z\""],
            ..case(
                "a JSON block and an example output are skipped",
                &format!(
                    "```json\n{{\"fields\": [\"up_z\"]}}\n```\n```rhai\n{REWARD}\n```\n```text\nforward: 0.3\n```"
                ),
                Some(&["forward"]),
            )
        },
        case(
            "no fence, bare code after prose",
            &format!(
                "Sure! The reward is below.\n\n// pays for speed\n{REWARD}\n\nLet me know if you need more."
            ),
            Some(&["// pays for speed", "fn compute_reward"]),
        ),
        Case {
            absent: &["Sure!", "Let me know"],
            ..case(
                "no fence, helper function before the entry point",
                "Sure! Here:\nfn speed(s) {\n    s.torso_linvel[0]\n}\n\nfn compute_reward(s, prev) {\n    #{ forward: speed(s) }\n}\nLet me know.",
                Some(&["fn speed(s)", "fn compute_reward"]),
            )
        },
        Case {
            absent: &["draft"],
            ..case(
                "think section is ignored",
                &format!(
                    "<think>\nmaybe ```rhai\nfn compute_reward(s, prev) {{ #{{ draft: 1.0 }} }}\n```\n</think>\n```rhai\n{REWARD}\n```"
                ),
                Some(&["forward"]),
            )
        },
        Case {
            truncated: true,
            ..case(
                "unclosed fence (finish_reason: length)",
                "```rhai\nfn compute_reward(s, prev) {\n    #{ forward: s.torso_linvel[0],",
                Some(&["forward"]),
            )
        },
        case(
            "strings and comments with braces do not confuse bare extraction",
            "fn compute_reward(s, prev) {\n    // a } brace in a comment\n    let note = \"}\";\n    #{ a: 1.0 }\n}\ntrailing prose",
            Some(&["#{ a: 1.0 }\n}"]),
        ),
        case("empty completion", "", None),
        case("whitespace only", "  \n\t\n", None),
        case(
            "refusal, no code",
            "I'm sorry, I can't help with that.",
            None,
        ),
        case(
            "code blocks without compute_reward",
            "```rhai\nfn reward(s) { s.up_z }\n```\n```python\ndef compute(s): pass\n```",
            None,
        ),
        case(
            "bare code cut off",
            "fn compute_reward(s, prev) {\n    #{ a: 1.0",
            None,
        ),
        case(
            "the name in prose only",
            "You should define compute_reward with forward speed.",
            None,
        ),
    ];
    for c in cases {
        let got = extract_code(&c.completion);
        match (c.expect, &got) {
            (
                Some(needles),
                Extracted::Code {
                    source, truncated, ..
                },
            ) => {
                for n in needles {
                    assert!(source.contains(n), "{}: {n:?} missing in\n{source}", c.name);
                }
                for n in c.absent {
                    assert!(
                        !source.contains(n),
                        "{}: {n:?} present in\n{source}",
                        c.name
                    );
                }
                assert!(!source.contains("```"), "{}: fence kept", c.name);
                assert_eq!(*truncated, c.truncated, "{}", c.name);
            }
            (None, Extracted::NoCode { reason }) => {
                assert!(!reason.is_empty(), "{}", c.name);
            }
            _ => panic!("{}: unexpected {got:?}", c.name),
        }
    }
}

#[test]
fn reasons_say_what_was_wrong() {
    let Extracted::NoCode { reason } = extract_code("```rhai\nlet x = 1;\n```") else {
        panic!()
    };
    assert!(reason.contains("1 code block"), "{reason}");
    assert!(reason.contains("compute_reward"), "{reason}");
    let Extracted::NoCode { reason } = extract_code("") else {
        panic!()
    };
    assert_eq!(reason, "the answer is empty");
}

#[test]
fn extracted_source_compiles_in_the_sandbox() {
    let registry = rewardsmith_envs::registry();
    let task = registry.task("quadruped-run").unwrap();
    let spec = &task.env_spec().state;
    let completion = format!(
        "Reasoning about the task...\n\n```rhai\n{}\n```\n",
        task.human_reward.as_ref().unwrap().source
    );
    let src = extract_code(&completion).source().unwrap().to_string();
    let samples = rewardsmith_envs::rollout::sample_states(task, 8, 1);
    let report = rewardsmith_sandbox::check_source(
        &rewardsmith_sandbox::ProgramSource::Rhai(src),
        spec,
        &samples,
        &rewardsmith_sandbox::Limits::default(),
    );
    assert!(report.ok, "{:?}", report.errors);
}

#[test]
fn critic_reviews_are_read() {
    use rewardsmith::extract::{Verdict, extract_review};
    let cases: &[(&str, Verdict, usize)] = &[
        ("VERDICT: ACCEPT\n- fine", Verdict::Accept, 1),
        (
            "Let me look.\n\n**Verdict:** reject\n1. wrong axis\n2) no alive bonus\n* huge effort term",
            Verdict::Reject,
            3,
        ),
        (
            "<think>VERDICT: REJECT</think>\nVERDICT: ACCEPT",
            Verdict::Accept,
            0,
        ),
        (
            "## VERDICT: REJECT\n- a\n- b\n- c\n- d\n- e\n- f",
            Verdict::Reject,
            5,
        ),
        ("Looks good to me.", Verdict::Unclear, 0),
        ("VERDICT: maybe", Verdict::Unclear, 0),
    ];
    for (text, verdict, n) in cases {
        let r = extract_review(text);
        assert_eq!(r.verdict, *verdict, "{text}");
        assert_eq!(r.reasons.len(), *n, "{text}: {:?}", r.reasons);
    }
}

//! The `[llm]` configuration as the engine's TOML file spells it: defaults,
//! unknown keys rejected by name, validation, and the backend it builds.

use rewardsmith::llm::{Backend, LlmConfig, build_client, build_recorded_client};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    llm: LlmConfig,
}

fn parse(text: &str) -> Result<LlmConfig, String> {
    toml::from_str::<File>(text)
        .map(|f| f.llm)
        .map_err(|e| e.to_string())
}

#[test]
fn an_empty_file_selects_the_offline_designer() {
    let cfg = parse("").unwrap();
    assert_eq!(cfg, LlmConfig::default());
    assert_eq!(cfg.resolved_backend(), Backend::Builtin);
    let llm = build_client(&cfg, 1).unwrap();
    assert_eq!(llm.backend(), "builtin");
    assert_eq!(llm.model(), "offline-designer-v1");
}

#[test]
fn a_full_table_parses() {
    let cfg = parse(
        r#"
[llm]
backend = "openai"
base_url = "http://127.0.0.1:11434/v1"
model = "qwen2.5-coder:7b"
temperature = 0.8
api_key_env = "MY_KEY"
timeout_s = 60.0
connect_timeout_s = 5.0
max_retries = 2
backoff_initial_ms = 100
backoff_max_ms = 1000
concurrency = 2
max_tokens = 2048
max_cost_usd = 1.5
[llm.prices."qwen2.5-coder:7b"]
prompt = 0.0
completion = 0.0
[llm.prices."*"]
prompt = 1.0
completion = 4.0
"#,
    )
    .unwrap();
    assert_eq!(cfg.resolved_backend(), Backend::Openai);
    assert_eq!(cfg.concurrency, 2);
    assert_eq!(cfg.max_tokens, Some(2048));
    assert_eq!(cfg.price("other").completion, 4.0);
    assert!(cfg.validate().is_ok());
    let llm = build_client(&cfg, 1).unwrap();
    assert_eq!((llm.backend(), llm.model()), ("openai", "qwen2.5-coder:7b"));
}

#[test]
fn unknown_keys_are_named() {
    let err = parse("[llm]\nmodle = \"x\"\n").unwrap_err();
    assert!(err.contains("modle"), "{err}");
    let err = parse("[llm.prices.m]\nprompt = 1.0\ncompletoin = 2.0\n").unwrap_err();
    assert!(err.contains("completoin"), "{err}");
    let err = parse("[llm]\nbackend = \"gpt\"\n").unwrap_err();
    assert!(err.contains("gpt"), "{err}");
}

#[test]
fn bad_values_fail_validation_with_the_field_name() {
    for (text, field) in [
        ("[llm]\nconcurrency = 0", "llm.concurrency"),
        ("[llm]\ntimeout_s = -1.0", "llm.timeout_s"),
        ("[llm]\nbase_url = \"localhost:8000\"", "llm.base_url"),
        ("[llm]\napi_key_env = \"sk-abc def\"", "llm.api_key_env"),
        ("[llm]\nmax_cost_usd = -2.0", "llm.max_cost_usd"),
        (
            "[llm]\nbackoff_initial_ms = 5000\nbackoff_max_ms = 10",
            "llm.backoff_initial_ms",
        ),
        ("[llm]\nbackend = \"replay\"", "llm.replay"),
    ] {
        let cfg = parse(text).unwrap();
        let err = build_client(&cfg, 0)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(field), "{text}: {err}");
    }
}

#[test]
fn the_recorded_client_writes_into_the_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run").join("llm");
    let llm = build_recorded_client(&LlmConfig::default(), 3, &dir).unwrap();
    let registry = rewardsmith_envs::registry();
    let task = registry.task("quadruped-turn").unwrap();
    let req = rewardsmith::llm::LlmRequest::new(vec![rewardsmith::llm::Message::user("go")], 2)
        .context(rewardsmith::llm::DesignContext::for_task(task, 0));
    use rewardsmith::llm::LlmClient;
    assert_eq!(llm.complete(&req).unwrap().completions.len(), 2);
    assert!(dir.join("0000.json").is_file());
    let replay_cfg = LlmConfig {
        backend: Some(Backend::Replay),
        replay: Some(dir.clone()),
        ..LlmConfig::default()
    };
    let replay = build_client(&replay_cfg, 0).unwrap();
    assert_eq!(replay.model(), "offline-designer-v1");
    let plain = rewardsmith::llm::LlmRequest::new(vec![rewardsmith::llm::Message::user("go")], 2);
    assert_eq!(replay.complete(&plain).unwrap().completions.len(), 2);
}

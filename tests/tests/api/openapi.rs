//! The committed `openapi.yaml` is exactly what `yiwang openapi` prints, and the server refuses
//! to start on a URL scheme it does not know.

use yiwang_tests::TestApp;

#[test]
fn committed_spec_matches_the_code() {
    let generated = yiwang_api::openapi::yaml().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.yaml is stale: run `cargo run -p yiwang-api -- openapi --output openapi.yaml`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misconfiguration_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = yiwang_api::config::Settings {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        database_url: Some("mysql://root@127.0.0.1/yiwang".into()),
        ..Default::default()
    };
    let err = yiwang_api::startup::Application::build(settings.clone())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("mysql"), "{err}");
    settings.database_url = None;
    settings.redis_url = Some("memcached://127.0.0.1:11211".into());
    let err = yiwang_api::startup::Application::build(settings.clone())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("memcached"), "{err}");
    // An AppID that is set but empty is a mistake, not a request for the emulator.
    settings.redis_url = None;
    settings.wechat_appid = Some("  ".into());
    let err = yiwang_api::startup::Application::build(settings)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("YIWANG_WECHAT_APPID"), "{err}");
    // The embedded default with no configuration at all starts.
    let _ok: TestApp = TestApp::spawn(yiwang_tests::Shape::Embedded).await;
}

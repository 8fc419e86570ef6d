//! The committed `openapi.yaml` is exactly what `yiwang openapi` prints, every documented type
//! has a schema name of its own, and the server refuses to start on a URL scheme it does not
//! know.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// The `.rs` files under `dir`.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The schema names the API's types take: each type deriving `ToSchema`, named after the
/// type unless `#[schema(as = …)]` renames it, with the files it is declared in.
fn schema_names() -> BTreeMap<String, Vec<String>> {
    let mut files = Vec::new();
    sources(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../api/src")),
        &mut files,
    );
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut deriving = false;
        let mut renamed: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") && line.contains("ToSchema") {
                deriving = true;
            } else if deriving && line.starts_with("#[schema(") && line.contains("as = ") {
                let after = line.split("as = ").nth(1).unwrap();
                let path: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                renamed = path.rsplit("::").next().map(str::to_owned);
            } else if deriving && !line.starts_with("#[") && !line.starts_with("//") {
                let item = line
                    .split_whitespace()
                    .skip_while(|w| !matches!(*w, "struct" | "enum"))
                    .nth(1)
                    .map(|w| w.split(['<', '{', '(', ';']).next().unwrap().to_owned());
                if let Some(name) = renamed.take().or(item) {
                    names
                        .entry(name)
                        .or_default()
                        .push(file.display().to_string());
                }
                deriving = false;
            }
        }
    }
    names
}

/// Two types sharing a schema name collapse into one schema, and the document then describes
/// one route's body with another's (the claim reviewer's reject form documented as legal
/// aid's `{reason}`): every name is taken once.
#[test]
fn every_schema_name_is_taken_once() {
    let names = schema_names();
    assert!(names.len() > 100, "read only {} schema names", names.len());
    assert!(names.contains_key("ClaimRejectForm"), "{:?}", names.keys());
    let shared: Vec<_> = names.iter().filter(|(_, files)| files.len() > 1).collect();
    assert!(shared.is_empty(), "schema names taken twice: {shared:?}");

    // What a generated client sends to reject a claim is what the server requires.
    let doc = serde_json::to_value(yiwang_api::openapi::document()).unwrap();
    let body = &doc["paths"]["/api/v1/admin/mutual-aid/claims/{id}/reject"]["post"]["requestBody"]
        ["content"]["application/json"]["schema"]["$ref"];
    let name = body.as_str().unwrap().rsplit('/').next().unwrap();
    let required = &doc["components"]["schemas"][name]["required"];
    assert_eq!(*required, serde_json::json!(["reason", "text"]), "{name}");
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

//! The closed vocabularies: listed with Chinese labels for the app's pickers, and the same
//! codes as `enum`s in the spec, so a generated client and the server agree on every status,
//! kind and reason.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;
use yiwang_tests::{both_shapes, Shape, TestApp};

both_shapes!(
    pickers_read_every_vocabulary_with_chinese_labels,
    the_spec_has_each_vocabulary_as_an_enum,
);

/// The answer of `GET /api/v1/vocabularies`, without logging in.
async fn vocabularies(app: &TestApp) -> Value {
    let resp = app.get("/api/v1/vocabularies", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    resp.json().await.unwrap()
}

/// The label of `code` in the vocabulary `name`.
fn label<'a>(v: &'a Value, name: &str, code: &str) -> &'a str {
    v[name]
        .as_array()
        .unwrap_or_else(|| panic!("no vocabulary {name}"))
        .iter()
        .find(|t| t["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {name}"))["label"]
        .as_str()
        .unwrap()
}

async fn pickers_read_every_vocabulary_with_chinese_labels(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let v = vocabularies(&app).await;
    assert_eq!(label(&v, "employment_forms", "courier"), "快递员");
    assert_eq!(
        label(&v, "document_kinds", "diagnosis_certificate"),
        "诊断证明"
    );
    assert_eq!(
        label(&v, "claim_reject_reasons", "waiting_period"),
        "费用发生在等待期内"
    );
    assert_eq!(label(&v, "payment_methods", "paid_by_union"), "工会代付");
    assert_eq!(label(&v, "roles", "lawyer"), "律师");
    for (name, terms) in v.as_object().unwrap() {
        let terms = terms.as_array().unwrap();
        assert!(!terms.is_empty(), "{name} has no terms");
        for t in terms {
            let label = t["label"].as_str().unwrap();
            assert!(
                !label.is_ascii(),
                "{name}.{} has no Chinese label",
                t["code"]
            );
        }
    }
}

async fn the_spec_has_each_vocabulary_as_an_enum(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let served: BTreeSet<Vec<String>> = vocabularies(&app)
        .await
        .as_object()
        .unwrap()
        .values()
        .map(|terms| {
            terms
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["code"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    let spec = serde_json::to_value(yiwang_api::openapi::document()).unwrap();
    let documented: BTreeSet<Vec<String>> = spec["components"]["schemas"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| {
            s["description"]
                .as_str()
                .is_some_and(|d| d.contains("Codes and labels:"))
        })
        .map(|s| {
            s["enum"]
                .as_array()
                .expect("a vocabulary schema is an enum")
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(served, documented);
    // A field that carries a vocabulary refers to it: the claim status.
    assert_eq!(
        spec["components"]["schemas"]["ClaimView"]["properties"]["status"]["$ref"],
        "#/components/schemas/ClaimStatus"
    );
}

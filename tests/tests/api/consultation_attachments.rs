//! Images and voice in a consultation thread: the worker sends a photo and a recording, the
//! lawyer hears them on the live socket and reads them through signed links (each read
//! audited); the bytes come back as sent. A file that is not an image or a recording, a bad
//! length, a stranger's link and an expired one are refused with nothing stored.

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use yiwang_tests::{both_shapes, multipart, Shape, TestApp};

use crate::consultations::lawyer;
use yiwang_tests::world::{assert_problem_zh, expect, World};

both_shapes!(images_and_voice_travel_the_thread_sealed_and_audited);

const ASK: &str = "/api/v1/consultations";
const ADMIN: &str = "/api/v1/admin/consultations";
/// The start of a PNG file: what its signature needs.
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H',
];
/// The start of an MP3 file with an ID3v2 tag.
const MP3: &[u8] = b"ID3\x04\x00\x00\x00\x00\x00\x00recording";

async fn send(
    app: &TestApp,
    path: &str,
    tok: &str,
    fields: &[(&str, &str)],
    bytes: &[u8],
) -> Response {
    let (content_type, body) = multipart(fields, "upload.bin", bytes);
    app.client
        .post(format!("{}{path}", app.base))
        .bearer_auth(tok)
        .header("content-type", content_type)
        .header(
            "Idempotency-Key",
            format!("k-{}", bytes.len() + fields.len()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn link(app: &TestApp, path: &str, tok: &str) -> Response {
    app.post(path, &json!({}), Some(tok)).await
}

async fn images_and_voice_travel_the_thread_sealed_and_audited(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("courier").await;
    let stranger = w.worker("stranger").await;
    let (zhang_tok, zhang) = lawyer(
        &w,
        "zz-zhang",
        "张明",
        "14101201010123456",
        &["wage_arrears"],
    )
    .await;
    let question = json!({ "category": "wage_arrears", "title": "欠薪",
                           "message": "这是工资条的照片", "lawyer_id": zhang });
    let asked = expect(
        app.post(ASK, &question, Some(&worker)).await,
        StatusCode::CREATED,
    )
    .await;
    let id = asked["id"].as_str().unwrap().to_owned();
    expect(
        app.post(
            &format!("{ADMIN}/{id}/accept"),
            &json!({}),
            Some(&zhang_tok),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let mut zhang_ws = zhang_socket(app, &zhang_tok).await;

    // The worker sends a photo (twice, on a weak network: once) and a 12-second recording.
    // Each answer names the message it sent, the replay the same one.
    let attachments = format!("{ASK}/{id}/attachments");
    let photo_sent = expect(
        send(app, &attachments, &worker, &[], PNG).await,
        StatusCode::OK,
    )
    .await;
    let again = send(app, &attachments, &worker, &[], PNG).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let replayed: Value = again.json().await.unwrap();
    assert_eq!(replayed["message_id"], photo_sent["message_id"]);
    let voice_sent = expect(
        send(app, &attachments, &worker, &[("seconds", "12")], MP3).await,
        StatusCode::OK,
    )
    .await;
    assert_ne!(voice_sent["message_id"], photo_sent["message_id"]);
    // The worker reads the lawyer by name.
    let seen = expect(
        app.get(&format!("{ASK}/{id}"), Some(&worker)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (seen["lawyer_id"].as_str(), seen["lawyer_name"].as_str()),
        (Some(zhang.as_str()), Some("张明"))
    );
    let mine = expect(app.get(ASK, Some(&worker)).await, StatusCode::OK).await;
    assert_eq!(mine["items"][0]["lawyer_name"], "张明");
    let heard = zhang_ws.frame_of("consultation.message").await;
    assert_eq!(heard["message"]["attachment"]["kind"], "image", "{heard}");

    // Refused, with nothing stored: not an image or a recording, a bad length, no file.
    let resp = send(app, &attachments, &worker, &[], b"%PDF-1.7 not a photo").await;
    assert_problem_zh(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_file_type",
    )
    .await;
    let resp = send(app, &attachments, &worker, &[("seconds", "601")], MP3).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = send(app, &attachments, &worker, &[], b"").await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = send(app, &format!("{ASK}/{id}/attachments"), &stranger, &[], PNG).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let thread = expect(
        app.get(&format!("{ASK}/{id}/messages"), Some(&worker))
            .await,
        StatusCode::OK,
    )
    .await;
    let sent: Vec<&Value> = thread["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m["attachment"].is_null())
        .collect();
    assert_eq!(sent.len(), 2, "{thread}");
    assert_eq!(
        (
            sent[0]["body"].as_str(),
            sent[0]["attachment"]["media_type"].as_str()
        ),
        (Some("[图片]"), Some("image/png"))
    );
    assert_eq!(
        sent[1]["attachment"],
        json!({ "kind": "voice", "media_type": "audio/mpeg", "bytes": MP3.len(), "seconds": 12 })
    );
    assert_eq!(
        (&sent[0]["id"], &sent[1]["id"]),
        (&photo_sent["message_id"], &voice_sent["message_id"])
    );
    let (photo, voice) = (
        sent[0]["id"].as_str().unwrap(),
        sent[1]["id"].as_str().unwrap(),
    );

    // The lawyer reads both through links; the bytes are those sent, each read audited.
    for (message, bytes, media_type) in [(photo, PNG, "image/png"), (voice, MP3, "audio/mpeg")] {
        let l = expect(
            link(
                app,
                &format!("{ADMIN}/{id}/messages/{message}/link"),
                &zhang_tok,
            )
            .await,
            StatusCode::OK,
        )
        .await;
        let resp = app.get(l["url"].as_str().unwrap(), None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], media_type);
        assert_eq!(resp.headers()["cache-control"], "private, no-store");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes);
    }
    let reads = yiwang_tests::world::audit_actions(&w, "consultation.attachment.read").await;
    assert_eq!(reads, 2);

    // The worker links their own; a stranger, a text message and an altered link do not.
    expect(
        link(app, &format!("{ASK}/{id}/messages/{photo}/link"), &worker).await,
        StatusCode::OK,
    )
    .await;
    let resp = link(app, &format!("{ASK}/{id}/messages/{photo}/link"), &stranger).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let text = thread["items"][0]["id"].as_str().unwrap();
    let resp = link(app, &format!("{ASK}/{id}/messages/{text}/link"), &worker).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = app
        .get("/api/v1/consultation-attachments/not.a.token", None)
        .await;
    assert_problem_zh(resp, StatusCode::NOT_FOUND, "link_expired").await;

    // The lawyer sends a photo back.
    expect(
        send(
            app,
            &format!("{ADMIN}/{id}/attachments"),
            &zhang_tok,
            &[],
            PNG,
        )
        .await,
        StatusCode::OK,
    )
    .await;
}

async fn zhang_socket(app: &TestApp, tok: &str) -> yiwang_tests::Socket {
    let mut socket = app.socket(Some(tok)).await;
    assert_eq!(socket.frame().await["type"], "ready");
    socket
}

//! The live socket `/api/v1/ws`: a consultation's participants hear its messages and changes
//! as they happen (a held message reaches no lawyer, a stranger hears nothing, a lawyer never
//! reads the rating's comment); across two API processes through Redis; a socket without a
//! live token is closed with 4401, also when its token expires while it is open.

use reqwest::StatusCode;
use serde_json::{json, Value};
use yiwang_tests::proxy::{Mode, Proxy};
use yiwang_tests::{assert_problem, both_shapes, token, Heard, Shape, Socket, TestApp};

use crate::auth::{claims_of, header_of, now, sign_eddsa};
use crate::consultations::lawyer;
use yiwang_tests::world::{expect, World};

both_shapes!(
    participants_hear_their_thread_as_it_happens,
    read_marks_move_forward_and_reach_the_other_side,
    the_pool_hears_work_arrive_and_leave,
    a_socket_without_a_live_token_is_closed_with_4401,
    stopping_closes_sockets_with_1001_at_once,
);

const ASK: &str = "/api/v1/consultations";
const ADMIN: &str = "/api/v1/admin/consultations";

async fn ready(app: &TestApp, tok: &str) -> Socket {
    let mut socket = app.socket(Some(tok)).await;
    let hello = socket.frame().await;
    assert_eq!(hello["type"], "ready", "{hello}");
    assert!(hello["expires_at"].is_string(), "{hello}");
    socket
}

/// The next frames up to and including the `consultation.updated` one: the messages' bodies
/// and the consultation.
async fn step(socket: &mut Socket) -> (Vec<String>, Value) {
    let mut bodies = Vec::new();
    loop {
        let f = socket.frame().await;
        match f["type"].as_str() {
            Some("consultation.message") => {
                bodies.push(f["message"]["body"].as_str().unwrap().to_owned());
            }
            Some("consultation.updated") => return (bodies, f["consultation"].clone()),
            _ => panic!("unexpected frame {f}"),
        }
    }
}

/// Zhang, a wage-arrears lawyer on duty: `(token, id)`.
async fn lawyer_zhang(w: &World) -> (String, String) {
    let specialties = &["wage_arrears"];
    lawyer(w, "zz-zhang", "张明", "14101201010123456", specialties).await
}

/// The worker behind `tok` asks Zhang (`zhang`) through `app`: the consultation's id.
async fn ask(app: &TestApp, tok: &str, zhang: &str, message: &str) -> String {
    let question = json!({ "category": "wage_arrears", "title": "拖欠工资",
                           "message": message, "lawyer_id": zhang });
    let asked = expect(
        app.post(ASK, &question, Some(tok)).await,
        StatusCode::CREATED,
    )
    .await;
    asked["id"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, path: &str, body: Value, tok: &str) -> Value {
    expect(app.post(path, &body, Some(tok)).await, StatusCode::OK).await
}

async fn participants_hear_their_thread_as_it_happens(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("rider").await;
    let stranger = w.worker("stranger").await;
    let (zhang_tok, zhang) = lawyer_zhang(&w).await;
    let mut worker_ws = ready(app, &worker).await;
    let mut zhang_ws = ready(app, &zhang_tok).await;
    let mut stranger_ws = ready(app, &stranger).await;

    // The worker asks Zhang: both hear the question and the waiting consultation.
    let id = ask(app, &worker, &zhang, "老板拖欠两个月工资").await;
    for socket in [&mut worker_ws, &mut zhang_ws] {
        let (bodies, c) = step(socket).await;
        assert_eq!(bodies, ["老板拖欠两个月工资"]);
        assert_eq!(
            (c["id"].as_str(), c["status"].as_str()),
            (Some(id.as_str()), Some("waiting"))
        );
    }

    // Zhang accepts and answers: the worker hears each as it happens.
    post(app, &format!("{ADMIN}/{id}/accept"), json!({}), &zhang_tok).await;
    let (bodies, c) = step(&mut worker_ws).await;
    assert_eq!(
        (bodies, c["status"].as_str()),
        (vec!["张明 律师已接单".to_owned()], Some("open"))
    );
    let answer = json!({ "text": "请先收集考勤记录和工资转账记录" });
    post(app, &format!("{ADMIN}/{id}/messages"), answer, &zhang_tok).await;
    let (bodies, _) = step(&mut worker_ws).await;
    assert_eq!(bodies, ["请先收集考勤记录和工资转账记录"]);
    step(&mut zhang_ws).await;
    step(&mut zhang_ws).await;

    // Text WeChat holds reaches its author, not the lawyer.
    let held = json!({ "text": "待审 这是老板的电话" });
    post(app, &format!("{ASK}/{id}/messages"), held, &worker).await;
    let f = worker_ws.frame_of("consultation.message").await;
    assert_eq!(f["message"]["held"], true, "{f}");
    let (bodies, _) = step(&mut zhang_ws).await;
    assert!(bodies.is_empty(), "the lawyer heard held text: {bodies:?}");

    // Resolved and rated: the lawyer hears the stars, not the comment.
    post(app, &format!("{ADMIN}/{id}/resolve"), json!({}), &zhang_tok).await;
    step(&mut zhang_ws).await;
    let rating = json!({ "stars": 4, "comment": "回复及时" });
    post(app, &format!("{ASK}/{id}/rating"), rating, &worker).await;
    let (_, c) = step(&mut zhang_ws).await;
    assert_eq!(
        (c["rating"].as_u64(), &c["rating_comment"]),
        (Some(4), &Value::Null)
    );
    let c = loop {
        let (_, c) = step(&mut worker_ws).await;
        if !c["rating"].is_null() {
            break c;
        }
    };
    assert_eq!(c["rating_comment"], "回复及时");

    // A stranger heard nothing of it; a text ping is answered.
    assert_eq!(stranger_ws.hear(300).await, Heard::Nothing);
    stranger_ws.send(r#"{"type":"ping"}"#).await;
    assert_eq!(stranger_ws.frame().await, json!({ "type": "pong" }));
    stranger_ws.close().await;
    assert_eq!(stranger_ws.hear(3_000).await, Heard::Closed(1000));
}

async fn read_marks_move_forward_and_reach_the_other_side(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("reader").await;
    let (zhang_tok, zhang) = lawyer_zhang(&w).await;
    let id = ask(app, &worker, &zhang, "老板拖欠两个月工资").await;
    post(app, &format!("{ADMIN}/{id}/accept"), json!({}), &zhang_tok).await;
    let answer = json!({ "text": "请保留工资条" });
    post(app, &format!("{ADMIN}/{id}/messages"), answer, &zhang_tok).await;
    let thread = expect(
        app.get(&format!("{ASK}/{id}/messages"), Some(&worker))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(thread["read_marks"], json!([]));
    let ids: Vec<String> = thread["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    let (first, last) = (&ids[0], ids.last().unwrap());
    let mut zhang_ws = ready(app, &zhang_tok).await;

    // The worker reads up to the answer: the lawyer hears it and the thread shows it.
    let read = format!("{ASK}/{id}/read");
    let mark = post(app, &read, json!({ "message_id": last }), &worker).await;
    assert_eq!(
        (mark["reader"].as_str(), mark["message_id"].as_str()),
        (Some("worker"), Some(last.as_str()))
    );
    let heard = zhang_ws.frame_of("consultation.read").await;
    assert_eq!(heard["mark"]["message_id"], last.as_str());
    // An older message does not move it back; one of another thread, or none, is refused.
    let kept = post(app, &read, json!({ "message_id": first }), &worker).await;
    assert_eq!(kept["message_id"], last.as_str());
    let resp = app
        .post(&read, &json!({ "message_id": id }), Some(&worker))
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = app.post(&read, &json!({}), Some(&worker)).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The lawyer marks too; an official, not a participant, may not.
    let lawyer_read = format!("{ADMIN}/{id}/read");
    post(app, &lawyer_read, json!({ "message_id": last }), &zhang_tok).await;
    let resp = app
        .post(&lawyer_read, &json!({ "message_id": last }), Some(&w.root))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let thread = expect(
        app.get(&format!("{ADMIN}/{id}/messages"), Some(&zhang_tok))
            .await,
        StatusCode::OK,
    )
    .await;
    let readers: Vec<&str> = thread["read_marks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reader"].as_str().unwrap())
        .collect();
    assert_eq!(readers.len(), 2);
    assert!(
        readers.contains(&"worker") && readers.contains(&"lawyer"),
        "{readers:?}"
    );
}

async fn the_pool_hears_work_arrive_and_leave(shape: Shape) {
    let w = World::new(shape).await;
    let app = &w.app;
    let worker = w.worker("picker").await;
    let (zhang_tok, _) = lawyer_zhang(&w).await;
    let (li_tok, _) = lawyer(&w, "zz-li", "李静", "14101201110654321", &["wage_arrears"]).await;
    let (wang_tok, _) = lawyer(&w, "zz-wang", "王刚", "14101201210777777", &["criminal"]).await;
    let mut li_ws = ready(app, &li_tok).await;
    let mut wang_ws = ready(app, &wang_tok).await;

    // Asked of nobody in particular: the on-duty lawyers of the category hear it waiting.
    let question =
        json!({ "category": "wage_arrears", "title": "拖欠工资", "message": "老板跑路了" });
    let asked = expect(
        app.post(ASK, &question, Some(&worker)).await,
        StatusCode::CREATED,
    )
    .await;
    let id = asked["id"].as_str().unwrap();
    let heard = li_ws.frame_of("consultation.updated").await;
    assert_eq!(
        (
            heard["consultation"]["id"].as_str(),
            heard["consultation"]["status"].as_str()
        ),
        (Some(id), Some("waiting"))
    );

    // Zhang takes it: Li hears it leave the pool; Wang, of another specialty, heard nothing.
    post(app, &format!("{ADMIN}/{id}/accept"), json!({}), &zhang_tok).await;
    let heard = li_ws.frame_of("consultation.updated").await;
    assert_eq!(heard["consultation"]["status"], "open");
    assert_eq!(wang_ws.hear(300).await, Heard::Nothing);
}

async fn a_socket_without_a_live_token_is_closed_with_4401(shape: Shape) {
    let app = TestApp::spawn_with(shape, |s| s.access_token_ttl_secs = 3).await;
    let login = app.login_worker("courier").await;
    let live = token(&login);

    // No token, a forged one, one expired an hour ago.
    assert_eq!(
        app.socket(None).await.hear(5_000).await,
        Heard::Closed(4401)
    );
    let forged = format!("{live}x");
    let mut socket = app.socket(Some(&forged)).await;
    assert_eq!(socket.hear(5_000).await, Heard::Closed(4401));
    let mut claims = claims_of(&live);
    claims["exp"] = json!(now() - 3600);
    let kid = header_of(&live)["kid"].as_str().unwrap().to_owned();
    let expired = sign_eddsa(&app, &kid, &claims);
    let mut socket = app.socket(Some(&expired)).await;
    assert_eq!(socket.hear(5_000).await, Heard::Closed(4401));

    // A live token opens it, and its expiry (3 s here) closes it with 4401.
    let mut socket = ready(&app, &live).await;
    assert_eq!(socket.hear(8_000).await, Heard::Closed(4401));

    // Not a WebSocket handshake at all: a problem, not a socket.
    let resp = app.get("/api/v1/ws", Some(&live)).await;
    assert_problem(resp, StatusCode::BAD_REQUEST, "not_a_websocket").await;
}

/// Two API processes sharing PostgreSQL and Redis: the worker's socket is on one, the
/// lawyer's on the other, and each hears what went through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_through_one_process_reaches_a_socket_on_the_other() {
    let w = World::new(Shape::Production).await;
    let (one, two) = (&w.app, &w.app.replica().await);
    let worker = w.worker("driver").await;
    let (zhang_tok, zhang) = lawyer_zhang(&w).await;
    let mut worker_on_two = ready(two, &worker).await;
    let mut zhang_on_one = ready(one, &zhang_tok).await;

    let id = ask(two, &worker, &zhang, "跑了三趟车，运费一直没结").await;
    let (bodies, _) = step(&mut zhang_on_one).await;
    assert_eq!(bodies, ["跑了三趟车，运费一直没结"]);

    post(one, &format!("{ADMIN}/{id}/accept"), json!({}), &zhang_tok).await;
    let answer = json!({ "text": "可以先向劳动监察大队投诉" });
    post(one, &format!("{ADMIN}/{id}/messages"), answer, &zhang_tok).await;
    let heard = [
        step(&mut worker_on_two).await.0,
        step(&mut worker_on_two).await.0,
    ];
    assert_eq!(heard, [["跑了三趟车，运费一直没结"], ["张明 律师已接单"]]);
    let (bodies, c) = step(&mut worker_on_two).await;
    assert_eq!(bodies, ["可以先向劳动监察大队投诉"]);
    assert_eq!(c["lawyer_id"], zhang.as_str());
}

/// Issue 18, item 22: told to stop, the server closes every live socket with 1001 ("going
/// away") at once, so the app reconnects to another replica, instead of holding it for the
/// whole shutdown timeout and dropping it (1006).
async fn stopping_closes_sockets_with_1001_at_once(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let login = app.login_worker("leaving").await;
    let mut socket = ready(&app, &token(&login)).await;
    let started = std::time::Instant::now();
    let stopping = {
        let stopper = app.stop_gracefully();
        tokio::time::timeout(std::time::Duration::from_secs(5), stopper)
    };
    let (heard, stopped) = tokio::join!(socket.hear(2_000), stopping);
    assert_eq!(heard, Heard::Closed(1001));
    assert!(stopped.is_ok(), "the server did not stop within 5 s");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// Redis restarted between two frames (issue 18, item 21): every connection to it dropped,
/// the subscription too. The next frame still reaches the worker's socket: the publish
/// reconnects and, when no process heard it, is sent again once this one listens again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_right_after_a_redis_restart_still_arrives() {
    let proxy = Proxy::start(&Proxy::target_of(&yiwang_tests::redis_url())).await;
    let app = TestApp::spawn_with(Shape::Production, |s| {
        let url = s.redis_url.clone().unwrap();
        s.redis_url = Some(proxy.url_through(&url));
    })
    .await;
    let w = World::on(app).await;
    let app = &w.app;
    let worker = w.worker("restart").await;
    let (zhang_tok, zhang) = lawyer_zhang(&w).await;
    let id = ask(app, &worker, &zhang, "工资拖了三个月").await;
    post(app, &format!("{ADMIN}/{id}/accept"), json!({}), &zhang_tok).await;
    let mut worker_ws = ready(app, &worker).await;

    for (round, text) in ["先别签离职协议", "把聊天记录截图保存"]
        .into_iter()
        .enumerate()
    {
        proxy.set(Mode::Stopped);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        proxy.set(Mode::Open);
        let answer = json!({ "text": text });
        post(app, &format!("{ADMIN}/{id}/messages"), answer, &zhang_tok).await;
        let (bodies, _) = step(&mut worker_ws).await;
        assert_eq!(bodies, [text], "restart {round}");
    }
}

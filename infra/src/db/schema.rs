//! The one schema both backends share (ARCHITECTURE.md item 8): ids as text, naive UTC
//! timestamps, booleans, JSON as text. Written to match `migrations/postgres` and
//! `migrations/sqlite`; the migration test checks every column here exists on both.

diesel::table! {
    organisations (id) {
        id -> Text,
        parent_id -> Nullable<Text>,
        name -> Text,
        kind -> Text,
        accepts_individuals -> Bool,
        path -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    officials (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        org_id -> Text,
        org_path -> Text,
        role -> Text,
        password_hash -> Text,
        disabled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    workers (id) {
        id -> Text,
        openid -> Text,
        unionid -> Nullable<Text>,
        phone -> Nullable<Text>,
        phone_country_code -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        record_type -> Text,
        record_id -> Text,
        ip -> Nullable<Text>,
        request_id -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        topic -> Text,
        payload -> Text,
        created_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
        attempts -> Integer,
    }
}

diesel::joinable!(officials -> organisations (org_id));
diesel::allow_tables_to_appear_in_same_query!(organisations, officials, workers, audit_log, outbox);

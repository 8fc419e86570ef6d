-- The union organisation tree, accounts, the audit log and the outbox (issue #2).
CREATE TABLE organisations (
    id                  TEXT PRIMARY KEY,
    parent_id           TEXT REFERENCES organisations (id),
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL,
    accepts_individuals BOOLEAN NOT NULL DEFAULT 0,
    -- '/<root id>/…/<own id>/': a subtree is one range scan on this index.
    path                TEXT NOT NULL UNIQUE,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX organisations_sibling_name ON organisations (COALESCE(parent_id, ''), name);

CREATE TABLE officials (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    org_id        TEXT NOT NULL REFERENCES organisations (id),
    org_path      TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled_at   TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX officials_org_path ON officials (org_path, id);

CREATE TABLE workers (
    id                 TEXT PRIMARY KEY,
    openid             TEXT NOT NULL UNIQUE,
    unionid            TEXT,
    phone              TEXT,
    phone_country_code TEXT,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    last_login_at      TIMESTAMP NOT NULL
);
CREATE INDEX workers_unionid ON workers (unionid);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          TIMESTAMP NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    ip          TEXT,
    request_id  TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_record ON audit_log (record_type, record_id, at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at);

CREATE TABLE outbox (
    id           TEXT PRIMARY KEY,
    topic        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    published_at TIMESTAMP,
    attempts     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;

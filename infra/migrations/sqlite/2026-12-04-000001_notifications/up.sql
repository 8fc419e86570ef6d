-- Telling people what happened (issue 20): the outbox relay's per-consumer deliveries, the
-- in-app inbox, WeChat subscribe messages (templates, the subscriptions each worker has left,
-- what was sent) and the kinds of message a person switched off.

-- When an event may next be claimed: a claim leases it until then, a failed delivery puts
-- it off by its backoff. NULL: at once.
ALTER TABLE outbox ADD COLUMN not_before TIMESTAMP;
-- Events written before the relay existed are not news to anyone any more.
UPDATE outbox SET published_at = created_at WHERE published_at IS NULL;

-- How one consumer fared with one event, written only when not every consumer succeeded at
-- the first try: done, retrying (with its attempts) or parked (failed for good, with why).
CREATE TABLE outbox_deliveries (
    event_id   TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    consumer   TEXT NOT NULL,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (event_id, consumer)
);
CREATE INDEX outbox_deliveries_parked ON outbox_deliveries (updated_at, event_id)
    WHERE state = 'parked';

-- The in-app inbox: one row per event and person told.
CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    read_at     TIMESTAMP
);
CREATE UNIQUE INDEX notifications_once ON notifications (event_id, account_id);
CREATE INDEX notifications_inbox ON notifications (account_id, created_at, id);
CREATE INDEX notifications_unread ON notifications (account_id) WHERE read_at IS NULL;

-- Which WeChat template an event sends, its fields (key → text with {fact} placeholders,
-- JSON) and the page it opens ({id} placeholders); edited by a super_admin.
CREATE TABLE subscribe_templates (
    topic       TEXT PRIMARY KEY,
    template_id TEXT NOT NULL,
    page        TEXT NOT NULL,
    data        TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- One-time subscriptions a worker accepted and has not spent, per template.
CREATE TABLE subscriptions (
    account_id  TEXT NOT NULL,
    template_id TEXT NOT NULL,
    remaining   INTEGER NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, template_id)
);

-- Each subscribe message sent (or tried) for an event, so a retried delivery spends no
-- second subscription: sending, sent, refused (43101).
CREATE TABLE subscribe_sends (
    event_id    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    template_id TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    at          TIMESTAMP NOT NULL,
    PRIMARY KEY (event_id, account_id)
);

-- Kinds of WeChat message a person switched off.
CREATE TABLE notification_mutes (
    account_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    PRIMARY KEY (account_id, kind)
);

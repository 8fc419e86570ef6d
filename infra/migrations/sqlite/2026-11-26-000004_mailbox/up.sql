-- The chairman mailbox (主席信箱, issue #6): letters from workers to an organisation's
-- chairman, answered by its officials; public ones with replies are listed, names masked.

CREATE TABLE mailbox_letters (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES workers (id),
    org_id     TEXT NOT NULL REFERENCES organisations (id),
    org_path   TEXT NOT NULL,
    name       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    public     BOOLEAN NOT NULL,
    anonymous  BOOLEAN NOT NULL,
    held       BOOLEAN NOT NULL,
    status     TEXT NOT NULL,
    reply      TEXT,
    replied_by TEXT,
    replied_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX mailbox_letters_by_worker ON mailbox_letters (account_id, created_at);
CREATE INDEX mailbox_letters_scope ON mailbox_letters (org_path, created_at, id);

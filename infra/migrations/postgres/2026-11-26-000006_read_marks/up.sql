-- Read marks (已读) of a consultation's participants: the newest message each has read.
CREATE TABLE consultation_read_marks (
    consultation_id TEXT NOT NULL REFERENCES consultations (id),
    account_id      TEXT NOT NULL,
    -- worker or lawyer
    reader          TEXT NOT NULL,
    message_id      TEXT NOT NULL REFERENCES consultation_messages (id),
    at              TIMESTAMP NOT NULL,
    PRIMARY KEY (consultation_id, account_id)
);

-- Online consultation (issue #6), the roster: the categories a worker picks from (data
-- officials edit, with each one's service levels) and the lawyers' profiles (云律团). A lawyer
-- is an official with the `lawyer` role; the profile is what workers browse.

CREATE TABLE consultation_categories (
    code                   TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    position               INTEGER NOT NULL,
    active                 BOOLEAN NOT NULL,
    -- Minutes a chosen lawyer has to accept before the pool may.
    accept_minutes         INTEGER NOT NULL,
    -- Deadlines in minutes of sla_clock: 'all_hours' (7x24) or 'business_hours'.
    first_response_minutes INTEGER NOT NULL,
    resolution_minutes     INTEGER NOT NULL,
    sla_clock              TEXT NOT NULL,
    -- Counts towards the employer early warning.
    watched                BOOLEAN NOT NULL,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL
);

-- The twelve modules of 垦利's 云律团 (DOMAIN.md); the service levels are assumed (README).
INSERT INTO consultation_categories (code, name, position, active, accept_minutes,
    first_response_minutes, resolution_minutes, sla_clock, watched, created_at, updated_at)
VALUES
    ('labour_dispute', '劳动争议', 1, TRUE, 15, 120, 4320, 'all_hours', TRUE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('wage_arrears', '欠薪', 2, TRUE, 15, 120, 4320, 'all_hours', TRUE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('labour_contract', '劳动合同', 3, TRUE, 15, 120, 4320, 'all_hours', FALSE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('work_injury', '工伤', 4, TRUE, 15, 120, 4320, 'all_hours', FALSE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('social_insurance', '社会保险', 5, TRUE, 15, 120, 4320, 'all_hours', FALSE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('contract_dispute', '合同纠纷', 6, TRUE, 15, 120, 4320, 'all_hours', FALSE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('marriage_family', '婚姻家庭', 7, TRUE, 15, 120, 4320, 'all_hours', FALSE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('traffic_accident', '交通事故', 8, TRUE, 15, 120, 4320, 'all_hours', FALSE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('housing_property', '房产物业', 9, TRUE, 15, 120, 4320, 'all_hours', FALSE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('debt', '借贷纠纷', 10, TRUE, 15, 120, 4320, 'all_hours', FALSE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('criminal', '刑事', 11, TRUE, 15, 120, 4320, 'all_hours', FALSE, '2026-11-26 00:00:00', '2026-11-26 00:00:00'),
    ('other', '其他', 12, TRUE, 15, 120, 4320, 'all_hours', FALSE, '2026-11-26 00:00:00', '2026-11-26 00:00:00');

CREATE TABLE lawyers (
    account_id        TEXT PRIMARY KEY REFERENCES officials (id),
    org_id            TEXT NOT NULL REFERENCES organisations (id),
    org_path          TEXT NOT NULL,
    name              TEXT NOT NULL,
    law_firm          TEXT NOT NULL,
    licence_number    TEXT NOT NULL UNIQUE,
    years_in_practice INTEGER NOT NULL,
    bio               TEXT NOT NULL,
    on_duty           BOOLEAN NOT NULL,
    rating_sum        BIGINT NOT NULL,
    rating_count      BIGINT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX lawyers_scope ON lawyers (org_path, account_id);

CREATE TABLE lawyer_specialties (
    account_id    TEXT NOT NULL REFERENCES lawyers (account_id) ON DELETE CASCADE,
    category_code TEXT NOT NULL REFERENCES consultation_categories (code),
    PRIMARY KEY (account_id, category_code)
);
CREATE INDEX lawyer_specialties_by_category ON lawyer_specialties (category_code, account_id);

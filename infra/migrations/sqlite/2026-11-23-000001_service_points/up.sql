-- Service points (issue #4): the catalogue officials keep, workers' visits ("served persons")
-- and ratings. Coordinates are GCJ-02 degrees. Every write to service_points takes the next
-- value of the one-row change counter service_point_revision under its row lock, so counter
-- order is commit order: each API process's in-memory nearest-point index reads
-- "revision > last seen" and misses nothing. Deleted points stay (deleted_at) so indexes learn
-- of the deletion; their visits and reviews stay on record.

CREATE TABLE service_point_revision (
    id    INTEGER PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO service_point_revision (id, value) VALUES (1, 0);

CREATE TABLE service_points (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organisations (id),
    org_path         TEXT NOT NULL,
    external_id      TEXT,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    address          TEXT NOT NULL,
    province         TEXT,
    city             TEXT,
    district         TEXT,
    lat              DOUBLE NOT NULL,
    lng              DOUBLE NOT NULL,
    -- The opening-hours text as written ('' when none); it is parsed on every read.
    hours_text       TEXT NOT NULL,
    -- Dated exceptions, JSON: [{"date":"2026-10-01","intervals":[{"start":540,"end":720}]}].
    hours_exceptions TEXT NOT NULL,
    -- Amenity codes joined by ';' ('' when none).
    amenities        TEXT NOT NULL,
    phone            TEXT,
    status           TEXT NOT NULL,
    star_grade       SMALLINT,
    quality_flag     TEXT,
    quality_note     TEXT,
    -- Shown ratings: sum and count, kept by the review writes.
    rating_sum       BIGINT NOT NULL DEFAULT 0,
    rating_count     INTEGER NOT NULL DEFAULT 0,
    revision         BIGINT NOT NULL,
    deleted_at       TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
-- Re-imports find a point by its external id within the owning organisation.
CREATE UNIQUE INDEX service_points_external_id ON service_points (org_id, external_id);
CREATE INDEX service_points_revision ON service_points (revision);
CREATE INDEX service_points_scope ON service_points (org_path, id);
CREATE INDEX service_points_lat ON service_points (lat, lng);

CREATE TABLE service_point_visits (
    service_point_id TEXT NOT NULL REFERENCES service_points (id),
    account_id       TEXT NOT NULL REFERENCES workers (id),
    -- China Standard Time day: one visit per worker, point and day counts.
    visited_on       DATE NOT NULL,
    visited_at       TIMESTAMP NOT NULL,
    lat              DOUBLE NOT NULL,
    lng              DOUBLE NOT NULL,
    distance_m       DOUBLE NOT NULL,
    PRIMARY KEY (service_point_id, account_id, visited_on)
);
CREATE INDEX service_point_visits_day ON service_point_visits (visited_on, service_point_id);

CREATE TABLE service_point_reviews (
    id               TEXT PRIMARY KEY,
    service_point_id TEXT NOT NULL REFERENCES service_points (id),
    account_id       TEXT NOT NULL REFERENCES workers (id),
    rating           SMALLINT NOT NULL,
    comment          TEXT,
    -- shown | held | refused (msgSecCheck, WECHAT.md)
    moderation       TEXT NOT NULL,
    trace_id         TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX service_point_reviews_author ON service_point_reviews (service_point_id, account_id);
CREATE INDEX service_point_reviews_recent ON service_point_reviews (service_point_id, updated_at, id);

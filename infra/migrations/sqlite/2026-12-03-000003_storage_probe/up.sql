-- One row that readiness rewrites after a write found the disk full, to learn when writes
-- succeed again (issue 18, item 20).
CREATE TABLE storage_probe (
    id INTEGER PRIMARY KEY,
    writes BIGINT NOT NULL DEFAULT 0
);
INSERT INTO storage_probe (id) VALUES (1);

DROP INDEX service_points_revision;
CREATE INDEX service_points_revision ON service_points (revision);

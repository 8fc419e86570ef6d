-- The nearest-point index reads the catalogue in change order, (revision, id), a page at a
-- time: one index range read per page instead of a sort of the whole revision.
DROP INDEX service_points_revision;
CREATE INDEX service_points_revision ON service_points (revision, id);

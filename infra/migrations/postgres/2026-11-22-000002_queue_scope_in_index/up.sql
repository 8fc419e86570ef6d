-- The review queues carry the organisation path in their index (issue #3). An official of a
-- small subtree walks the queue in age order past other subtrees' rows; with the path in the
-- index entry the subtree test is made there, and only the rows returned are read from the
-- table (measured in docs/benchmarks.md: a 0.5 % subtree's first page went from 14–20 ms to
-- about 2 ms per query). The path is the last column, so the order and the early stop at
-- LIMIT stay as before and no planner is tempted into a sort.
DROP INDEX membership_applications_queue;
CREATE INDEX membership_applications_queue ON membership_applications (status, submitted_at, id, org_path);
DROP INDEX membership_applications_by_age;
CREATE INDEX membership_applications_by_age ON membership_applications (submitted_at, id, org_path);
DROP INDEX membership_transfers_queue;
CREATE INDEX membership_transfers_queue ON membership_transfers (status, requested_at, id, to_org_path);

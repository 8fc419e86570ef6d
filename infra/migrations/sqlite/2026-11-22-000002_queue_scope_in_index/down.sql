DROP INDEX membership_transfers_queue;
CREATE INDEX membership_transfers_queue ON membership_transfers (status, requested_at, id);
DROP INDEX membership_applications_by_age;
CREATE INDEX membership_applications_by_age ON membership_applications (submitted_at, id);
DROP INDEX membership_applications_queue;
CREATE INDEX membership_applications_queue ON membership_applications (status, submitted_at, id);

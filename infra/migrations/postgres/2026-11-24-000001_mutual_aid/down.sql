DROP TABLE idempotency_keys;
DROP TABLE mutual_aid_claim_events;
DROP TABLE mutual_aid_documents;
DROP TABLE mutual_aid_claim_lines;
DROP TABLE mutual_aid_claims;
DROP TABLE mutual_aid_enrollments;
DROP TABLE mutual_aid_plan_versions;
DROP TABLE mutual_aid_plans;

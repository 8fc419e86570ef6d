DROP TABLE employer_alerts;
DROP TABLE early_warning_rule;
DROP INDEX consultations_by_employer;
ALTER TABLE consultations DROP COLUMN employer_key;
ALTER TABLE consultations DROP COLUMN employer_credit_code;

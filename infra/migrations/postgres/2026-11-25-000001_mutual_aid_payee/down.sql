ALTER TABLE mutual_aid_claims DROP COLUMN payee_account_masked;
ALTER TABLE mutual_aid_claims DROP COLUMN payee_account_sealed;
ALTER TABLE mutual_aid_claims DROP COLUMN payee_account_kid;
ALTER TABLE mutual_aid_claims DROP COLUMN payee_bank;
ALTER TABLE mutual_aid_claims DROP COLUMN payee_name;

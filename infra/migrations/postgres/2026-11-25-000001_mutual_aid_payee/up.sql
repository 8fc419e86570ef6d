-- Where a claim's payout is paid: the member's bank account. The number is personal financial
-- information, sealed like an ID number (key id + AES-256-GCM ciphertext) with a masked copy
-- for display.
ALTER TABLE mutual_aid_claims ADD COLUMN payee_name TEXT;
ALTER TABLE mutual_aid_claims ADD COLUMN payee_bank TEXT;
ALTER TABLE mutual_aid_claims ADD COLUMN payee_account_kid TEXT;
ALTER TABLE mutual_aid_claims ADD COLUMN payee_account_sealed TEXT;
ALTER TABLE mutual_aid_claims ADD COLUMN payee_account_masked TEXT;

-- One invoice, one claim, however it is typed (issue 18, item 4). The number's identity
-- (letters and digits, upper case, no leading zeros) is kept beside the number as typed, and
-- an invoice is claimed once by two keys: hospital|identity (was hospital|number) and the
-- new identity|day|total, which holds whatever form of the hospital's name was typed.
-- Stored numbers hold only letters, digits and '-', so the identity is computed here as the
-- domain computes it (yiwang_domain::mutual_aid::claim::invoice_identity). A line whose new
-- key repeats an earlier line's loses that key (it was filed twice already): nothing filed
-- is refused, and the reviewer sees the pair flagged as similar.
ALTER TABLE mutual_aid_claim_lines ADD COLUMN invoice_identity TEXT NOT NULL DEFAULT '';
ALTER TABLE mutual_aid_claim_lines ADD COLUMN invoice_day_key TEXT;
UPDATE mutual_aid_claim_lines
   SET invoice_identity = COALESCE(NULLIF(ltrim(replace(upper(invoice_number), '-', ''), '0'), ''), '0');
UPDATE mutual_aid_claim_lines
   SET invoice_key = NULL
 WHERE invoice_key IS NOT NULL
   AND EXISTS (
       SELECT 1 FROM mutual_aid_claim_lines l
        WHERE l.invoice_key IS NOT NULL
          AND l.id < mutual_aid_claim_lines.id
          AND substr(l.invoice_key, 1, instr(l.invoice_key, '|')) = substr(mutual_aid_claim_lines.invoice_key, 1, instr(mutual_aid_claim_lines.invoice_key, '|'))
          AND l.invoice_identity = mutual_aid_claim_lines.invoice_identity);
UPDATE mutual_aid_claim_lines
   SET invoice_key = substr(invoice_key, 1, instr(invoice_key, '|')) || invoice_identity
 WHERE invoice_key IS NOT NULL;
UPDATE mutual_aid_claim_lines
   SET invoice_day_key = invoice_identity || '|' || treated_on || '|' || total_fen
 WHERE invoice_key IS NOT NULL
   AND NOT EXISTS (
       SELECT 1 FROM mutual_aid_claim_lines l
        WHERE l.invoice_key IS NOT NULL
          AND l.id < mutual_aid_claim_lines.id
          AND l.invoice_identity = mutual_aid_claim_lines.invoice_identity
          AND l.treated_on = mutual_aid_claim_lines.treated_on
          AND l.total_fen = mutual_aid_claim_lines.total_fen);
CREATE UNIQUE INDEX mutual_aid_claim_lines_invoice_day ON mutual_aid_claim_lines (invoice_day_key);
CREATE INDEX mutual_aid_claim_lines_identity ON mutual_aid_claim_lines (invoice_identity);
CREATE INDEX mutual_aid_claim_lines_day_total ON mutual_aid_claim_lines (treated_on, total_fen);
CREATE INDEX mutual_aid_documents_sha256 ON mutual_aid_documents (sha256);

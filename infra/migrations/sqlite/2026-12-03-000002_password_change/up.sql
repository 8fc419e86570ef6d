-- An official whose password an administrator set must change it at the next login (issue 18,
-- item 13).
ALTER TABLE officials ADD COLUMN password_change_required BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE officials DROP COLUMN password_change_required;

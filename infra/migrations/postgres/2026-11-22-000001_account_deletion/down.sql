ALTER TABLE workers DROP COLUMN deleted_at;

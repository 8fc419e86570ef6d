ALTER TABLE consultation_messages DROP COLUMN attachment_seconds;
ALTER TABLE consultation_messages DROP COLUMN attachment_bytes;
ALTER TABLE consultation_messages DROP COLUMN attachment_type;
ALTER TABLE consultation_messages DROP COLUMN attachment_key;

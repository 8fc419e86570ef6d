-- Images and voice in consultation threads: the bytes are sealed in the document store
-- under attachment_key; the message keeps what they are.
ALTER TABLE consultation_messages ADD COLUMN attachment_key TEXT;
ALTER TABLE consultation_messages ADD COLUMN attachment_type TEXT;
ALTER TABLE consultation_messages ADD COLUMN attachment_bytes BIGINT;
ALTER TABLE consultation_messages ADD COLUMN attachment_seconds INTEGER;

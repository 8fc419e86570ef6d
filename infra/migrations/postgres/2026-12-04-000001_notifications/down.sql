DROP TABLE notification_mutes;
DROP TABLE subscribe_sends;
DROP TABLE subscriptions;
DROP TABLE subscribe_templates;
DROP TABLE notifications;
DROP TABLE outbox_deliveries;
ALTER TABLE outbox DROP COLUMN not_before;

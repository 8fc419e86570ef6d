DROP TABLE outbox;
DROP TABLE audit_log;
DROP TABLE workers;
DROP TABLE officials;
DROP TABLE organisations;

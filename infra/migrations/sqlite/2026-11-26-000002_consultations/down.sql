DROP TABLE consultation_messages;
DROP TABLE consultations;

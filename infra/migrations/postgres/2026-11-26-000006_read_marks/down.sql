DROP TABLE consultation_read_marks;

DROP TABLE mailbox_letters;

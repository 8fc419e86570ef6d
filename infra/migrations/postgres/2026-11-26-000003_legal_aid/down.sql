DROP TABLE legal_aid_applications;

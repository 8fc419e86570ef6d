DROP TABLE lawyer_specialties;
DROP TABLE lawyers;
DROP TABLE consultation_categories;

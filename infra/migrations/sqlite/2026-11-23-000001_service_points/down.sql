DROP TABLE service_point_reviews;
DROP TABLE service_point_visits;
DROP TABLE service_points;
DROP TABLE service_point_revision;

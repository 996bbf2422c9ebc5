-- User names are unique in any letter case (`Alice` and `alice` would be two accounts people cannot tell apart).
CREATE UNIQUE INDEX km_users_name_any_case ON km_users (lower(username));

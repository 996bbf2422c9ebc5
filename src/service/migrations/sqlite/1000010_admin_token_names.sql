-- Admin token names are unique in any letter case (`Ops` and `ops` would be two tokens an operator cannot tell apart).
CREATE UNIQUE INDEX km_admin_tokens_name_any_case ON km_admin_tokens (lower(name));

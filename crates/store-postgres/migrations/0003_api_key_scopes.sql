-- API key scopes: a space-separated list. `auditor` lets a key read the Access Log and its
-- proofs, like a System Manager. Keep in step with the other backend's 0003.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';

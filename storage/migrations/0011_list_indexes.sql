-- Lists at 100k rows in a tenant (issue 17): indexes for the tag filter
-- (tags @> ARRAY[tag]), name search (ILIKE '%…%' through trigrams, pg_trgm
-- is in Debian's postgresql-15 and trusted, so the database owner may add
-- it) and sort by name.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX jobs_tags_idx ON jobs USING GIN (tags);
CREATE INDEX jobs_name_trgm_idx ON jobs USING GIN (name gin_trgm_ops);
CREATE INDEX jobs_tenant_kind_name_idx ON jobs (tenant_id, kind, name, id);

CREATE INDEX data_name_trgm_idx ON data USING GIN (name gin_trgm_ops);
CREATE INDEX data_tenant_name_idx ON data (tenant_id, name, id);

CREATE INDEX datasets_name_trgm_idx ON datasets USING GIN (name gin_trgm_ops);
CREATE INDEX datasets_tenant_name_idx ON datasets (tenant_id, name, id);

CREATE INDEX preprocess_histories_tenant_idx ON preprocess_histories (tenant_id, id DESC);

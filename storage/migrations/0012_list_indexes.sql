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

-- A datum's file count and total size, kept with its files by a trigger
-- (whatever path adds or removes a file), so that the data list neither
-- sums every datum's files to sort by size nor for the rows it skips.
ALTER TABLE data ADD COLUMN file_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE data ADD COLUMN total_size BIGINT NOT NULL DEFAULT 0;
UPDATE data d SET file_count = f.n, total_size = f.size
    FROM (SELECT data_id, count(*) AS n, sum(size) AS size FROM data_files GROUP BY data_id) f
    WHERE f.data_id = d.id;
CREATE FUNCTION data_files_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE data SET file_count = file_count + 1, total_size = total_size + NEW.size WHERE id = NEW.data_id;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE data SET file_count = file_count - 1, total_size = total_size - OLD.size WHERE id = OLD.data_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER data_files_totals AFTER INSERT OR UPDATE OR DELETE ON data_files
    FOR EACH ROW EXECUTE FUNCTION data_files_totals();
CREATE INDEX data_tenant_size_idx ON data (tenant_id, total_size, id);

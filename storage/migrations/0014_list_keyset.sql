-- Lists at 100k rows in a tenant, second part (issue 17): an index for
-- every order a list offers, so that a page by cursor (keyset: the rows
-- past the last one shown) is a short walk of an index whatever the sort
-- and however deep, and the data page's tag suggestions read from a small
-- table kept by a trigger instead of unnesting every datum's tags.

CREATE INDEX jobs_tenant_kind_status_idx ON jobs (tenant_id, kind, status, id);
CREATE INDEX jobs_tenant_kind_created_idx ON jobs (tenant_id, kind, created_at, id);
-- Jobs without a value come last in both directions: one index each.
CREATE INDEX jobs_tenant_kind_value_idx ON jobs (tenant_id, kind, output_value ASC NULLS LAST, id);
CREATE INDEX jobs_tenant_kind_value_desc_idx ON jobs (tenant_id, kind, output_value DESC NULLS LAST, id DESC);

-- The tag filter and the name search of the job lists, one index per
-- listed kind: a tag or a search then reads the rows of that kind only
-- (the statements are planned with their kind). Other kinds have no list.
DROP INDEX jobs_tags_idx;
DROP INDEX jobs_name_trgm_idx;
CREATE INDEX jobs_training_tags_idx ON jobs USING GIN (tags) WHERE kind = 'training';
CREATE INDEX jobs_inference_tags_idx ON jobs USING GIN (tags) WHERE kind = 'inference';
CREATE INDEX jobs_training_name_trgm_idx ON jobs USING GIN (name gin_trgm_ops) WHERE kind = 'training';
CREATE INDEX jobs_inference_name_trgm_idx ON jobs USING GIN (name gin_trgm_ops) WHERE kind = 'inference';

CREATE INDEX data_tenant_created_idx ON data (tenant_id, created_at, id);
CREATE INDEX datasets_tenant_created_idx ON datasets (tenant_id, created_at, id);

CREATE INDEX preprocesses_tenant_name_idx ON preprocesses (tenant_id, name, id);
CREATE INDEX preprocesses_tenant_created_idx ON preprocesses (tenant_id, created_at, id);
CREATE INDEX preprocesses_name_trgm_idx ON preprocesses USING GIN (name gin_trgm_ops);

-- A preprocess's history, newest first (the list of one preprocess).
CREATE INDEX preprocess_histories_preprocess_idx ON preprocess_histories (tenant_id, preprocess_id, id);

-- How many of a tenant's data carry each tag (a datum counts a tag once).
CREATE TABLE data_tags (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    tag       TEXT NOT NULL,
    uses      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, tag)
);
INSERT INTO data_tags (tenant_id, tag, uses)
    SELECT tenant_id, tag, count(*) FROM (SELECT DISTINCT id, tenant_id, unnest(tags) AS tag FROM data) t GROUP BY 1, 2;
CREATE FUNCTION data_tags_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE data_tags SET uses = uses - 1 WHERE tenant_id = OLD.tenant_id AND tag = ANY (OLD.tags);
        DELETE FROM data_tags WHERE tenant_id = OLD.tenant_id AND tag = ANY (OLD.tags) AND uses <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        -- In tag order, so that two writers lock the shared rows alike.
        INSERT INTO data_tags (tenant_id, tag, uses)
            SELECT DISTINCT NEW.tenant_id, t, 1 FROM unnest(NEW.tags) t ORDER BY 2
            ON CONFLICT (tenant_id, tag) DO UPDATE SET uses = data_tags.uses + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER data_tags_count AFTER INSERT OR DELETE ON data
    FOR EACH ROW EXECUTE FUNCTION data_tags_count();
CREATE TRIGGER data_tags_change AFTER UPDATE OF tags ON data
    FOR EACH ROW WHEN (OLD.tags IS DISTINCT FROM NEW.tags) EXECUTE FUNCTION data_tags_count();

-- How many history entries a preprocess has, kept by a trigger: the list
-- shows which preprocesses have run, and a probe of the history per row
-- is misplanned when one preprocess holds most of it (the planner expects
-- an entry at once and scans the whole history for each that has none).
ALTER TABLE preprocesses ADD COLUMN history_count INTEGER NOT NULL DEFAULT 0;
UPDATE preprocesses p SET history_count = h.n
    FROM (SELECT preprocess_id, count(*) AS n FROM preprocess_histories GROUP BY preprocess_id) h
    WHERE h.preprocess_id = p.id;
CREATE FUNCTION preprocess_history_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE preprocesses SET history_count = history_count + 1 WHERE id = NEW.preprocess_id;
    ELSE
        UPDATE preprocesses SET history_count = history_count - 1 WHERE id = OLD.preprocess_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER preprocess_history_count AFTER INSERT OR DELETE ON preprocess_histories
    FOR EACH ROW EXECUTE FUNCTION preprocess_history_count();

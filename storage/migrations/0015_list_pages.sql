-- Lists at 100k rows in a tenant, third part (issue 17): the list pages'
-- own reads from an index alone.

-- The inference list's parent filter and the job forms offer the newest
-- 200 jobs of a kind (id, name, kind): read from this index alone rather
-- than from 200 rows of the table.
CREATE INDEX jobs_tenant_kind_choices_idx ON jobs (tenant_id, kind, id DESC) INCLUDE (name);

-- The data of one tag, by id. The data's GIN index on tags finds
-- them, but only through the heap: the data page filtered by a tag read
-- every datum carrying it (a heap page each) to count them and pick the
-- newest. Each datum's tags, one row each, kept by a trigger as data_tags
-- is; the page's total is then the tag's count in data_tags.
CREATE TABLE data_tag_items (
    tenant_id BIGINT NOT NULL,
    tag       TEXT NOT NULL,
    data_id   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, tag, data_id)
);
INSERT INTO data_tag_items (tenant_id, tag, data_id)
    SELECT DISTINCT tenant_id, unnest(tags), id FROM data;
-- No foreign keys: a datum's rows go with it (the trigger), and the data
-- of a deleted tenant are deleted row by row (their cascade fires it).
CREATE FUNCTION data_tag_items_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        DELETE FROM data_tag_items WHERE tenant_id = OLD.tenant_id AND tag = ANY (OLD.tags) AND data_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO data_tag_items (tenant_id, tag, data_id)
            SELECT DISTINCT NEW.tenant_id, t, NEW.id FROM unnest(NEW.tags) t;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER data_tag_items_keep AFTER INSERT OR DELETE ON data
    FOR EACH ROW EXECUTE FUNCTION data_tag_items_keep();
CREATE TRIGGER data_tag_items_change AFTER UPDATE OF tags ON data
    FOR EACH ROW WHEN (OLD.tags IS DISTINCT FROM NEW.tags) EXECUTE FUNCTION data_tag_items_keep();

-- The choices index serves every read jobs_tenant_kind_idx (0005) did, by
-- the same keys: one index fewer for each job insert and status change.
DROP INDEX jobs_tenant_kind_idx;

-- Data (files a tenant registered) and datasets (data split into areas).
CREATE TABLE data (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    memo       TEXT NOT NULL DEFAULT '',
    tags       TEXT[] NOT NULL DEFAULT '{}',
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX data_tenant_idx ON data (tenant_id, id DESC);
CREATE INDEX data_tags_idx ON data USING GIN (tags);

CREATE TABLE data_files (
    id         BIGSERIAL PRIMARY KEY,
    data_id    BIGINT NOT NULL REFERENCES data(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (data_id, name)
);

CREATE TABLE datasets (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    memo       TEXT NOT NULL DEFAULT '',
    frozen_at  TIMESTAMPTZ,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX datasets_tenant_idx ON datasets (tenant_id, id DESC);

-- A datum sits in at most one area of a dataset.
CREATE TABLE dataset_entries (
    dataset_id BIGINT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    data_id    BIGINT NOT NULL REFERENCES data(id) ON DELETE CASCADE,
    area       TEXT NOT NULL CHECK (area IN ('training', 'validation', 'testing')),
    PRIMARY KEY (dataset_id, data_id)
);
CREATE INDEX dataset_entries_data_idx ON dataset_entries (data_id);

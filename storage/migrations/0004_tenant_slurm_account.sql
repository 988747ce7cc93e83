-- The Slurm account a tenant's jobs are charged to, where the site uses
-- accounting; '' submits with the cluster user's default account.
ALTER TABLE tenants ADD COLUMN slurm_account TEXT NOT NULL DEFAULT '';

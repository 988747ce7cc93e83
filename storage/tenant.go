package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Tenant is the unit of use: everything a user makes belongs to one tenant.
type Tenant struct {
	ID            int64
	Name          string
	QuotaCPU      *int // nil: no limit
	QuotaMemoryGB *int
	QuotaGPU      *int
	// SlurmAccount is the Slurm account the tenant's jobs are charged to,
	// where the site uses accounting; "" = the cluster user's default.
	SlurmAccount string
	CreatedAt    time.Time
}

const tenantColumns = `id, name, quota_cpu, quota_memory_gb, quota_gpu, slurm_account, created_at`

func scanTenant(row interface{ Scan(...any) error }) (*Tenant, error) {
	var t Tenant
	var cpu, mem, gpu sql.NullInt32
	if err := row.Scan(&t.ID, &t.Name, &cpu, &mem, &gpu, &t.SlurmAccount, &t.CreatedAt); err != nil {
		return nil, err
	}
	t.QuotaCPU, t.QuotaMemoryGB, t.QuotaGPU = nullInt(cpu), nullInt(mem), nullInt(gpu)
	return &t, nil
}

func nullInt(n sql.NullInt32) *int {
	if !n.Valid {
		return nil
	}
	v := int(n.Int32)
	return &v
}

// CreateTenant inserts a tenant; ErrConflict when the name is taken.
func (s *Store) CreateTenant(ctx context.Context, name string) (*Tenant, error) {
	row := s.db.QueryRowContext(ctx,
		`INSERT INTO tenants (name) VALUES ($1) RETURNING `+tenantColumns, name)
	t, err := scanTenant(row)
	if isUniqueViolation(err) {
		return nil, ErrConflict
	}
	if err != nil {
		return nil, fmt.Errorf("storage: create tenant: %w", err)
	}
	return t, nil
}

// TenantByID returns the tenant or ErrNotFound.
func (s *Store) TenantByID(ctx context.Context, id int64) (*Tenant, error) {
	return s.tenantWhere(ctx, `id = $1`, id)
}

// TenantByName returns the tenant or ErrNotFound.
func (s *Store) TenantByName(ctx context.Context, name string) (*Tenant, error) {
	return s.tenantWhere(ctx, `name = $1`, name)
}

// TenantByRef resolves a tenant given by name, or by id when ref is a number
// and no tenant has that name.
func (s *Store) TenantByRef(ctx context.Context, ref string) (*Tenant, error) {
	t, err := s.TenantByName(ctx, ref)
	if !errors.Is(err, ErrNotFound) {
		return t, err
	}
	id, convErr := strconv.ParseInt(ref, 10, 64)
	if convErr != nil {
		return nil, ErrNotFound
	}
	return s.TenantByID(ctx, id)
}

func (s *Store) tenantWhere(ctx context.Context, cond string, arg any) (*Tenant, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE `+cond, arg)
	t, err := scanTenant(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: tenant: %w", err)
	}
	return t, nil
}

// Tenants lists every tenant by name (system administrators only).
func (s *Store) Tenants(ctx context.Context) ([]Tenant, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("storage: tenants: %w", err)
	}
	defer rows.Close()
	var out []Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: tenants: %w", err)
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// SetTenantSlurmAccount sets the Slurm account of a tenant's jobs; ""
// means the cluster user's default.
func (s *Store) SetTenantSlurmAccount(ctx context.Context, tenantID int64, account string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tenants SET slurm_account = $2 WHERE id = $1`, tenantID, account)
	return oneRow("set slurm account", res, err)
}

// RenameTenant gives a tenant a new name; its id, and so everything of
// it, stays. ErrConflict when the name is taken, ErrNotFound for no such
// tenant.
func (s *Store) RenameTenant(ctx context.Context, tenantID int64, name string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tenants SET name = $2 WHERE id = $1`, tenantID, name)
	if isUniqueViolation(err) {
		return ErrConflict
	}
	return oneRow("rename tenant", res, err)
}

// TenantContents counts what a tenant still holds. Its members and their
// tokens are not counted: they go with it.
type TenantContents struct {
	Data, Datasets, Jobs, ActiveJobs, Preprocesses, Members int
}

// Empty reports whether nothing but members is left.
func (c TenantContents) Empty() bool {
	return c.Data == 0 && c.Datasets == 0 && c.Jobs == 0 && c.Preprocesses == 0
}

const tenantContents = `SELECT
	(SELECT count(*) FROM data WHERE tenant_id = $1),
	(SELECT count(*) FROM datasets WHERE tenant_id = $1),
	(SELECT count(*) FROM jobs WHERE tenant_id = $1),
	(SELECT count(*) FROM jobs WHERE tenant_id = $1 AND status IN ('submitting', 'queued', 'running')),
	(SELECT count(*) FROM preprocesses WHERE tenant_id = $1),
	(SELECT count(*) FROM memberships WHERE tenant_id = $1)`

func scanContents(row *sql.Row) (TenantContents, error) {
	var c TenantContents
	err := row.Scan(&c.Data, &c.Datasets, &c.Jobs, &c.ActiveJobs, &c.Preprocesses, &c.Members)
	return c, err
}

// ContentsOfTenant counts what a tenant holds.
func (s *Store) ContentsOfTenant(ctx context.Context, tenantID int64) (TenantContents, error) {
	c, err := scanContents(s.db.QueryRowContext(ctx, tenantContents, tenantID))
	return c, wrap("tenant contents", err)
}

// TenantNotEmptyError refuses to delete a tenant that still holds things.
type TenantNotEmptyError struct{ Contents TenantContents }

func (e *TenantNotEmptyError) Error() string {
	return fmt.Sprintf("storage: tenant still holds %+v", e.Contents)
}

// DeleteTenant deletes an empty tenant (memberships, sessions' choice of
// it and API tokens for it go with it); *TenantNotEmptyError while it
// holds data, datasets, jobs or preprocessing definitions, ErrNotFound
// for no such tenant. The tenant row is locked first, so nothing can be
// added to it between the count and the delete.
func (s *Store) DeleteTenant(ctx context.Context, tenantID int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM tenants WHERE id = $1 FOR UPDATE`, tenantID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return wrap("delete tenant", err)
		}
		c, err := scanContents(tx.QueryRowContext(ctx, tenantContents, tenantID))
		if err != nil {
			return wrap("delete tenant", err)
		}
		if !c.Empty() {
			return &TenantNotEmptyError{Contents: c}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = $1`, tenantID)
		return oneRow("delete tenant", res, err)
	})
}

package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ShellSession is one shell a user opened into a running job.
type ShellSession struct {
	ID          int64
	TenantID    int64
	JobID       int64
	UserID      int64 // 0 once the user is deleted
	Username    string
	Via         string // "web" (the page's terminal) or "ssh"
	RemoteAddr  string // where the user connected from
	Interactive bool   // a shell, rather than one command
	StartedAt   time.Time
	EndedAt     *time.Time // nil while open
	ExitCode    *int
	EndReason   string // why it ended: a code such as "exit", "idle", "job_ended"
}

// NewShellSession is a session about to start.
type NewShellSession struct {
	TenantID, JobID, UserID int64
	Via, RemoteAddr         string
	Interactive             bool
}

// ErrShellLimit is returned when a user already has as many open shells
// as allowed.
var ErrShellLimit = errors.New("storage: too many open shells")

const shellColumns = `s.id, s.tenant_id, s.job_id, COALESCE(s.user_id, 0), s.username, s.via, s.remote_addr, s.interactive,
	s.started_at, s.ended_at, s.exit_code, s.end_reason`

func scanShellSession(row interface{ Scan(...any) error }) (*ShellSession, error) {
	var ss ShellSession
	var ended sql.NullTime
	var code sql.NullInt32
	if err := row.Scan(&ss.ID, &ss.TenantID, &ss.JobID, &ss.UserID, &ss.Username, &ss.Via, &ss.RemoteAddr, &ss.Interactive,
		&ss.StartedAt, &ended, &code, &ss.EndReason); err != nil {
		return nil, err
	}
	ss.EndedAt = nullTime(ended)
	if code.Valid {
		c := int(code.Int32)
		ss.ExitCode = &c
	}
	return &ss, nil
}

// OpenShellSession records a session as open, unless the user has max
// open already (ErrShellLimit). The user's row is locked meanwhile, so two
// sessions opening at once cannot both take the last place.
func (s *Store) OpenShellSession(ctx context.Context, n NewShellSession, max int) (*ShellSession, error) {
	var ss *ShellSession
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var username string
		if err := tx.QueryRowContext(ctx, `SELECT username FROM users WHERE id = $1 FOR UPDATE`, n.UserID).Scan(&username); err != nil {
			return fmt.Errorf("storage: open shell session: %w", err)
		}
		var open int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM shell_sessions WHERE user_id = $1 AND ended_at IS NULL`, n.UserID).Scan(&open); err != nil {
			return fmt.Errorf("storage: open shell session: %w", err)
		}
		if open >= max {
			return ErrShellLimit
		}
		var err error
		ss, err = scanShellSession(tx.QueryRowContext(ctx,
			`INSERT INTO shell_sessions AS s (tenant_id, job_id, user_id, username, via, remote_addr, interactive)
			 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+shellColumns,
			n.TenantID, n.JobID, n.UserID, username, n.Via, n.RemoteAddr, n.Interactive))
		if err != nil {
			return fmt.Errorf("storage: open shell session: %w", err)
		}
		return nil
	})
	return ss, err
}

// EndShellSession records how an open session ended; exitCode is nil when
// the shell left none (its connection was cut).
func (s *Store) EndShellSession(ctx context.Context, id int64, exitCode *int, reason string) error {
	_, err := s.db.ExecContext(ctx,
		`UPDATE shell_sessions SET ended_at = now(), exit_code = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL`,
		id, exitCode, reason)
	if err != nil {
		return fmt.Errorf("storage: end shell session: %w", err)
	}
	return nil
}

// EndOpenShellSessions closes every session still open, for a portal
// starting up: the shells a stopped portal served ended with it.
func (s *Store) EndOpenShellSessions(ctx context.Context, reason string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE shell_sessions SET ended_at = now(), end_reason = $1 WHERE ended_at IS NULL`, reason)
	if err != nil {
		return 0, fmt.Errorf("storage: end open shell sessions: %w", err)
	}
	return res.RowsAffected()
}

// ShellSessions lists the newest sessions into one of the tenant's jobs.
func (s *Store) ShellSessions(ctx context.Context, tenantID, jobID int64, limit int) ([]ShellSession, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+shellColumns+` FROM shell_sessions s
		WHERE s.tenant_id = $1 AND s.job_id = $2 ORDER BY s.started_at DESC, s.id DESC LIMIT $3`, tenantID, jobID, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: shell sessions: %w", err)
	}
	defer rows.Close()
	var out []ShellSession
	for rows.Next() {
		ss, err := scanShellSession(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: shell sessions: %w", err)
		}
		out = append(out, *ss)
	}
	return out, rows.Err()
}

// JobOfMember returns a job of any tenant the user is a member of, for
// the SSH endpoint, where the login names a job but no tenant;
// ErrNotFound for another tenant's job as for none.
func (s *Store) JobOfMember(ctx context.Context, userID, jobID int64) (*Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+jobFrom+`
		JOIN memberships m ON m.tenant_id = j.tenant_id AND m.user_id = $1 WHERE j.id = $2`, userID, jobID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: job of member: %w", err)
	}
	return j, nil
}

// HistoryJobOfMember returns the job of a preprocessing history entry of
// any tenant the user is a member of (the SSH login preprocess-{entry});
// ErrNotFound for another tenant's entry, one without a job, or none.
func (s *Store) HistoryJobOfMember(ctx context.Context, userID, historyID int64) (*Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+jobFrom+`
		JOIN preprocess_histories h ON h.job_id = j.id
		JOIN memberships m ON m.tenant_id = j.tenant_id AND m.user_id = $1 WHERE h.id = $2`, userID, historyID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: history job of member: %w", err)
	}
	return j, nil
}

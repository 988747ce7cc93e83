package config

import "flag"

// SMTP is the mail server notifications are sent through; Addr "" = no
// mail (users can still choose a webhook).
type SMTP struct {
	Addr         string // KQI_SMTP_ADDR: host:port of the site's mail server
	From         string // KQI_SMTP_FROM: the sender address
	Username     string // KQI_SMTP_USERNAME: for SMTP AUTH PLAIN ("" = none)
	PasswordFile string // KQI_SMTP_PASSWORD_FILE: file holding its password (mode 0600)
}

func (s *SMTP) flags(fs *flag.FlagSet, env func(key, def string) string) {
	fs.StringVar(&s.Addr, "smtp-addr", env("KQI_SMTP_ADDR", ""), "mail server host:port for notifications (KQI_SMTP_ADDR; none if empty)")
	fs.StringVar(&s.From, "smtp-from", env("KQI_SMTP_FROM", "kqi@localhost"), "sender address of notification mails (KQI_SMTP_FROM)")
	fs.StringVar(&s.Username, "smtp-username", env("KQI_SMTP_USERNAME", ""), "SMTP AUTH user (KQI_SMTP_USERNAME)")
	fs.StringVar(&s.PasswordFile, "smtp-password-file", env("KQI_SMTP_PASSWORD_FILE", ""), "file holding the SMTP AUTH password (KQI_SMTP_PASSWORD_FILE)")
}

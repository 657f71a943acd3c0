package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"
)

// setting is one environment variable pamelding reads.
type setting struct {
	name   string
	def    string
	secret bool
	help   string
	check  func(string) error
	set    func(*config, string)
}

// config is the service's configuration, read from the environment.
type config struct {
	Addr       string
	DataDir    string
	MongoURI   string
	Database   string
	AdminToken string
	PublicURL  string
	LogLevel   slog.Level
}

// settings declares every variable with its default, in one table. A
// secret may also be read from the file named by NAME_FILE.
var settings = []setting{
	{name: "PAMELDING_ADDR", def: ":8080", help: "address to listen on (host:port)",
		check: checkAddr, set: func(c *config, v string) { c.Addr = v }},
	{name: "PAMELDING_DATA_DIR", def: "./data", help: "embedded store's directory (when MONGODB_URI is unset)",
		check: nonEmpty, set: func(c *config, v string) { c.DataDir = v }},
	{name: "MONGODB_URI", def: "", secret: true, help: "MongoDB to use; unset runs the embedded store",
		check: checkMongoURI, set: func(c *config, v string) { c.MongoURI = v }},
	{name: "MONGODB_DATABASE", def: "pamelding", help: "database name",
		check: checkDatabase, set: func(c *config, v string) { c.Database = v }},
	{name: "PAMELDING_ADMIN_TOKEN", def: "", secret: true, help: "accepted as an admin bearer token (at least 32 characters)",
		check: checkAdminToken, set: func(c *config, v string) { c.AdminToken = v }},
	{name: "PAMELDING_PUBLIC_URL", def: "http://localhost:8080", help: "the service's public base URL, for links in e-mails and payment redirects",
		check: checkPublicURL, set: func(c *config, v string) { c.PublicURL = strings.TrimRight(v, "/") }},
	{name: "PAMELDING_LOG_LEVEL", def: "info", help: "debug, info, warn or error",
		check: checkLogLevel, set: func(c *config, v string) { _ = c.LogLevel.UnmarshalText([]byte(v)) }},
}

// loadConfig reads every setting; an invalid value is an error that names
// its variable (and never echoes a secret).
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var errs []error
	for _, s := range settings {
		v, err := value(s, getenv)
		if err == nil && v != "" && s.check != nil {
			err = s.check(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			continue
		}
		s.set(&c, v)
	}
	return c, errors.Join(errs...)
}

func value(s setting, getenv func(string) string) (string, error) {
	v := getenv(s.name)
	if s.secret {
		if file := getenv(s.name + "_FILE"); file != "" {
			if v != "" {
				return "", fmt.Errorf("set either %s or %s_FILE, not both", s.name, s.name)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("read %s_FILE: %w", s.name, err)
			}
			v = strings.TrimSpace(string(b))
		}
	}
	if v == "" {
		v = s.def
	}
	return v, nil
}

// printConfig writes the effective configuration with secrets masked.
func printConfig(w io.Writer, getenv func(string) string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tVALUE\tDESCRIPTION")
	for _, s := range settings {
		v, err := value(s, getenv)
		switch {
		case err != nil:
			v = "(error: " + err.Error() + ")"
		case s.secret && v != "":
			v = mask(s.name, v)
		case v == "":
			v = "(unset)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.name, v, s.help)
	}
	tw.Flush()
}

// mask hides a secret: a MongoDB URI keeps its hosts, without credentials.
func mask(name, v string) string {
	if name == "MONGODB_URI" {
		if u, err := url.Parse(v); err == nil {
			if u.User != nil {
				u.User = url.UserPassword("***", "***")
			}
			u.RawQuery = ""
			return u.Redacted()
		}
	}
	return "***"
}

func nonEmpty(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func checkAddr(v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return errors.New("want host:port, e.g. :8080 or 127.0.0.1:8080")
	}
	return nil
}

func checkMongoURI(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") || u.Host == "" {
		return errors.New("want a mongodb:// or mongodb+srv:// URI")
	}
	return nil
}

var databaseRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

func checkDatabase(v string) error {
	if !databaseRE.MatchString(v) {
		return errors.New("want 1-63 letters, digits, _ or -")
	}
	return nil
}

func checkAdminToken(v string) error {
	if len(v) < 32 {
		return errors.New("too short: use at least 32 random characters (e.g. openssl rand -base64 32)")
	}
	return nil
}

func checkPublicURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want an absolute http(s) URL without query, e.g. https://pamelding.example.no")
	}
	return nil
}

func checkLogLevel(v string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		return errors.New("want debug, info, warn or error")
	}
	return nil
}

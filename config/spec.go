package config

// The file as written. These types mirror docs/config.schema.json key for
// key (a test holds them together); every field is optional to the
// decoder, and validation says what is required.

type fileSpec struct {
	// Store is the directory of snapshots, batches and run history.
	Store string `yaml:"store"`
	// Timezone is the IANA zone schedules are read in (default UTC).
	Timezone string                `yaml:"timezone"`
	Systems  map[string]systemSpec `yaml:"systems"`
	Jobs     map[string]jobSpec    `yaml:"jobs"`
	// State names where the run history is kept when several hosts
	// share it (default: the store).
	State stateSpec `yaml:"state"`
	// Serve is the access control of the web page of `reconcile serve`.
	Serve serveSpec `yaml:"serve"`
}

type serveSpec struct {
	// PublicRead lets the pages and the /api GETs be read without
	// credentials; approve, reject and apply always need them.
	PublicRead bool `yaml:"public_read"`
	// Users sign in with HTTP basic auth.
	Users []userSpec `yaml:"users"`
	// Tokens are bearer tokens for automation.
	Tokens []tokenSpec `yaml:"tokens"`
}

type userSpec struct {
	Name string `yaml:"name"`
	// PasswordHash is a bcrypt hash; passwords are never stored.
	PasswordHash string `yaml:"password_hash"`
}

type tokenSpec struct {
	Name string `yaml:"name"`
	// TokenEnv names the environment variable that holds the token: there
	// is no key for the token itself, so it is never in the file.
	TokenEnv string `yaml:"token_env"`
}

type stateSpec struct {
	// System is a PostgreSQL system that keeps the run history.
	System string `yaml:"system"`
}

type systemSpec struct {
	URL string `yaml:"url"`
	// PasswordEnv names the environment variable that holds the password
	// put into URL at run time.
	PasswordEnv string `yaml:"password_env"`
}

type sideSpec struct {
	System string `yaml:"system"`
	Table  string `yaml:"table"`
	Where  string `yaml:"where"`
	Query  string `yaml:"query"`
}

type replicaSpec struct {
	System string            `yaml:"system"`
	Table  string            `yaml:"table"`
	Where  string            `yaml:"where"`
	Query  string            `yaml:"query"`
	Map    map[string]string `yaml:"map"`
}

type jobSpec struct {
	Schedule       string                    `yaml:"schedule"`
	Timeout        string                    `yaml:"timeout"`
	SystemOfRecord sideSpec                  `yaml:"system_of_record"`
	Replicas       []replicaSpec             `yaml:"replicas"`
	Key            []string                  `yaml:"key"`
	Columns        []string                  `yaml:"columns"`
	Ignore         []string                  `yaml:"ignore"`
	Where          string                    `yaml:"where"`
	InFlight       string                    `yaml:"in_flight"`
	InFlightColumn string                    `yaml:"in_flight_column"`
	Normalize      map[string][]any          `yaml:"normalize"`
	Tolerance      map[string]map[string]any `yaml:"tolerance"`
	Rules          rulesSpec                 `yaml:"rules"`
	Limits         limitsSpec                `yaml:"limits"`
	Batch          batchSpec                 `yaml:"batch"`
}

type rulesSpec struct {
	Default       string            `yaml:"default"`
	Columns       map[string]string `yaml:"columns"`
	SourceOfTruth string            `yaml:"source_of_truth"`
	NewestColumn  string            `yaml:"newest_column"`
	Actions       map[string]string `yaml:"actions"`
}

type limitsSpec struct {
	MaxChanges  *int64   `yaml:"max_changes"`
	MaxFraction *float64 `yaml:"max_fraction"`
	MaxShrink   *float64 `yaml:"max_shrink"`
}

type batchSpec struct {
	Expiry string `yaml:"expiry"`
}

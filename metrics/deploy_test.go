package metrics

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var (
	metricRef = regexp.MustCompile(`\breconcile_[a-z0-9_]+`)
	// selectorRef matches a metric with a label selector, reconcile_x{a="b", c=~"d"}.
	selectorRef = regexp.MustCompile(`\b(reconcile_[a-z0-9_]+)\{([^}]*)\}`)
	matcherName = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	byClause    = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// jsonStrings collects every string in a decoded JSON value.
func jsonStrings(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		*out = append(*out, v)
	case []any:
		for _, e := range v {
			jsonStrings(e, out)
		}
	case map[string]any:
		for _, e := range v {
			jsonStrings(e, out)
		}
	}
}

// checkQueries checks that every reconcile metric a text names exists
// in the registry, that its label matchers name labels the metric has,
// and that every metric of the registry is used somewhere.
func checkQueries(t *testing.T, file string, texts []string) {
	t.Helper()
	mfs, err := populated(t).Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string][]string{}
	for _, mf := range mfs {
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels[mf.GetName()] = append(labels[mf.GetName()], lp.GetName())
		}
	}
	if len(labels) != 8 {
		t.Fatalf("populated registry has %d families, want all 8", len(labels))
	}
	used := map[string]bool{}
	allLabels := map[string]bool{"le": true}
	for _, ls := range labels {
		for _, l := range ls {
			allLabels[l] = true
		}
	}
	for _, s := range texts {
		for _, name := range metricRef.FindAllString(s, -1) {
			if labels[name] == nil {
				t.Errorf("%s: %q uses %s, which the registry does not have", file, s, name)
			}
			used[name] = true
		}
		for _, m := range selectorRef.FindAllStringSubmatch(s, -1) {
			for _, lm := range matcherName.FindAllStringSubmatch(m[2], -1) {
				if !slices.Contains(labels[m[1]], lm[1]) {
					t.Errorf("%s: %q matches label %s, which %s does not have", file, s, lm[1], m[1])
				}
			}
		}
		if strings.Contains(s, "reconcile_") {
			for _, m := range byClause.FindAllStringSubmatch(s, -1) {
				for l := range strings.SplitSeq(m[1], ",") {
					if l = strings.TrimSpace(l); l != "" && !allLabels[l] {
						t.Errorf("%s: %q groups by %s, which no reconcile metric has", file, s, l)
					}
				}
			}
		}
	}
	for name := range labels {
		if !used[name] {
			t.Errorf("%s does not use %s", file, name)
		}
	}
}

func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		SchemaVersion int `json:"schemaVersion"`
		Templating    struct {
			List []struct {
				Name, Type string
				Query      any
			}
		}
		Panels []struct {
			Title      string
			Datasource struct{ UID string }
			Targets    []struct {
				Expr       string
				Datasource struct{ UID string }
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("parse dashboard: %v", err)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want >= 36", d.SchemaVersion)
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
	}
	if !hasDS {
		t.Error("no Prometheus data source variable")
	}
	if len(d.Panels) < 7 {
		t.Errorf("%d panels, want at least 7", len(d.Panels))
	}
	for _, p := range d.Panels {
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %q, %d queries", p.Title, p.Datasource.UID, len(p.Targets))
		}
		for _, q := range p.Targets {
			if q.Expr == "" || q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: query %q on data source %q", p.Title, q.Expr, q.Datasource.UID)
			}
		}
	}
	var all any
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	var texts []string
	jsonStrings(all, &texts)
	checkQueries(t, "grafana-dashboard.json", texts)
}

func TestPrometheusRules(t *testing.T) {
	b, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("parse alerts.yml: %v", err)
	}
	var exprs []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("rule %+v: alert or expr missing", r)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	// Every family need not have an alert; check names and labels only.
	texts := append(exprs, "reconcile_rows reconcile_column_differences reconcile_run_duration_seconds")
	checkQueries(t, "alerts.yml", texts)
}

type k8sProbe struct {
	HTTPGet struct{ Path string } `yaml:"httpGet"`
}

// k8sPod is the part of a pod spec the checks read.
type k8sPod struct {
	SecurityContext struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
		RunAsUser    int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []struct {
		Args    []string
		EnvFrom []struct {
			SecretRef struct{ Name string } `yaml:"secretRef"`
		} `yaml:"envFrom"`
		LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
		ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
		Resources      struct {
			Requests map[string]string
		}
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	}
	Volumes []struct {
		Name                  string
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	}
}

func readK8s(t *testing.T, file string) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile("../deploy/kubernetes/" + file)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d map[string]any
		if err := dec.Decode(&d); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("parse %s: %v", file, err)
		}
		kind, _ := d["kind"].(string)
		if kind == "" || d["apiVersion"] == nil {
			t.Fatalf("%s: document without kind or apiVersion", file)
		}
		docs[kind] = d
	}
	return docs
}

// podOf decodes the pod spec found at path (keys) in doc.
func podOf(t *testing.T, doc map[string]any, path ...string) k8sPod {
	t.Helper()
	var v any = doc
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no %s in %v", k, path)
		}
		v = m[k]
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var p k8sPod
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkPod(t *testing.T, name string, p k8sPod, probes bool) {
	t.Helper()
	if !p.SecurityContext.RunAsNonRoot || p.SecurityContext.RunAsUser == 0 {
		t.Errorf("%s: not run as non-root", name)
	}
	if len(p.Containers) != 1 {
		t.Fatalf("%s: %d containers", name, len(p.Containers))
	}
	c := p.Containers[0]
	if len(c.EnvFrom) == 0 || c.EnvFrom[0].SecretRef.Name == "" {
		t.Errorf("%s: passwords not from a Secret", name)
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
		t.Errorf("%s: no resource requests", name)
	}
	if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation || !c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("%s: container security context too loose", name)
	}
	if probes && (c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz") {
		t.Errorf("%s: probes are not /healthz and /readyz", name)
	}
	store := false
	for _, v := range p.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "reconcile-store" {
			for _, m := range c.VolumeMounts {
				store = store || (m.Name == v.Name && m.MountPath == "/var/lib/reconcile")
			}
		}
	}
	if !store {
		t.Errorf("%s: store claim not mounted at /var/lib/reconcile", name)
	}
}

func TestKubernetes(t *testing.T) {
	dep := readK8s(t, "deployment.yaml")
	for _, k := range []string{"Deployment", "PersistentVolumeClaim", "Service"} {
		if dep[k] == nil {
			t.Fatalf("deployment.yaml lacks a %s", k)
		}
	}
	p := podOf(t, dep["Deployment"], "spec", "template", "spec")
	checkPod(t, "deployment", p, true)
	if got := strings.Join(p.Containers[0].Args, " "); got != "serve --config /etc/reconcile/reconcile.yaml --listen 0.0.0.0:8080" {
		t.Errorf("deployment runs %q", got)
	}

	cj := readK8s(t, "cronjob.yaml")
	if cj["CronJob"] == nil {
		t.Fatal("cronjob.yaml lacks a CronJob")
	}
	p = podOf(t, cj["CronJob"], "spec", "jobTemplate", "spec", "template", "spec")
	checkPod(t, "cronjob", p, false)
	args := p.Containers[0].Args
	if len(args) < 2 || args[0] != "run" || !slices.Contains(args, "--metrics-file") || !strings.HasSuffix(args[len(args)-1], ".prom") {
		t.Errorf("cronjob runs %q", args)
	}
}

func TestSystemdAndCron(t *testing.T) {
	read := func(f string) string {
		b, err := os.ReadFile("../deploy/" + f)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := map[string][]string{
		"reconcile.service": {
			"ExecStart=/usr/local/bin/reconcile serve --config /etc/reconcile/reconcile.yaml --listen 127.0.0.1:8080",
			"EnvironmentFile=/etc/reconcile/secrets.env", "ProtectSystem=strict", "ReadWritePaths=/var/lib/reconcile",
			"NoNewPrivileges=yes", "User=reconcile", "ExecReload=/bin/kill -HUP $MAINPID",
		},
		"reconcile-run@.service": {
			"ExecStart=/usr/local/bin/reconcile run %i --config /etc/reconcile/reconcile.yaml --metrics-file /var/lib/node_exporter/textfile_collector/reconcile-%i.prom",
			"EnvironmentFile=/etc/reconcile/secrets.env", "ProtectSystem=strict",
			"ReadWritePaths=/var/lib/reconcile /var/lib/node_exporter/textfile_collector", "SuccessExitStatus=1", "Type=oneshot",
		},
		"reconcile-run@.timer": {"OnCalendar=", "Persistent=true", "WantedBy=timers.target"},
	}
	for f, lines := range want {
		text := read(f)
		for _, l := range lines {
			found := false
			for line := range strings.Lines(text) {
				found = found || strings.HasPrefix(strings.TrimSpace(line), l)
			}
			if !found {
				t.Errorf("%s: no line %q", f, l)
			}
		}
	}
	var entries []string
	for line := range strings.Lines(read("crontab")) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			entries = append(entries, line)
		}
	}
	if len(entries) != 1 {
		t.Fatalf("crontab has %d entries, want 1", len(entries))
	}
	// minute hour dom month dow user command
	if f := strings.Fields(entries[0]); len(f) < 7 || f[5] != "reconcile" ||
		!strings.Contains(entries[0], "/usr/local/bin/reconcile run --config /etc/reconcile/reconcile.yaml --metrics-file /var/lib/node_exporter/textfile_collector/reconcile.prom") {
		t.Errorf("crontab entry %q", entries[0])
	}
}

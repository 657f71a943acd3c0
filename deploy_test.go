// Tests of the deployment files. No container engine runs on our machines,
// so the compose file and the Dockerfile are parsed and checked for
// completeness and consistency instead of being run.
package pamelding_test

import (
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"gopkg.in/yaml.v3"
)

type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		Build       struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Healthcheck struct {
			Test        []string `yaml:"test"`
			Interval    string   `yaml:"interval"`
			Timeout     string   `yaml:"timeout"`
			StartPeriod string   `yaml:"start_period"`
			Retries     int      `yaml:"retries"`
		} `yaml:"healthcheck"`
		Restart   string `yaml:"restart"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true) // a misspelt key fails here instead of being ignored by compose
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	mongo, ok := c.Services["mongo"]
	if !ok {
		t.Fatal("no mongo service")
	}
	if !strings.HasPrefix(mongo.Image, "mongo:8") {
		t.Errorf("mongo image %q, want MongoDB 8", mongo.Image)
	}
	i := slices.Index(mongo.Command, "--replSet")
	if i < 0 || i+1 >= len(mongo.Command) {
		t.Fatalf("mongo does not run as a replica set: %v", mongo.Command)
	}
	rs := mongo.Command[i+1]
	check := strings.Join(mongo.Healthcheck.Test, " ")
	if !strings.Contains(check, "rs.initiate") || !strings.Contains(check, "_id: '"+rs+"'") || !strings.Contains(check, "host: 'mongo:27017'") {
		t.Errorf("the health check does not initiate replica set %s on mongo:27017: %s", rs, check)
	}
	for _, v := range mongo.Volumes {
		name, _, _ := strings.Cut(v, ":")
		if _, ok := c.Volumes[name]; !ok && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "/") {
			t.Errorf("volume %s is not declared", name)
		}
	}

	sm, ok := c.Services["stripe-mock"]
	if !ok || !strings.HasPrefix(sm.Image, "stripe/stripe-mock:") {
		t.Errorf("stripe-mock service %+v", sm)
	}

	app, ok := c.Services["app"]
	if !ok {
		t.Fatal("no app service")
	}
	if app.Build.Context != "." || app.Build.Dockerfile == "" {
		t.Errorf("app build %+v", app.Build)
	}
	if _, err := os.Stat(app.Build.Dockerfile); err != nil {
		t.Errorf("app Dockerfile: %v", err)
	}
	u, err := url.Parse(app.Environment["MONGODB_URI"])
	if err != nil || u.Scheme != "mongodb" || u.Hostname() != "mongo" || u.Query().Get("replicaSet") != rs {
		t.Errorf("MONGODB_URI %q does not point at the mongo service's replica set %s", app.Environment["MONGODB_URI"], rs)
	}
	if app.DependsOn["mongo"].Condition != "service_healthy" {
		t.Errorf("app does not wait for a healthy mongo: %+v", app.DependsOn)
	}
	if _, ok := app.DependsOn["stripe-mock"]; !ok {
		t.Error("app does not depend on stripe-mock")
	}
	if b := app.Environment["STRIPE_API_BASE"]; !strings.Contains(b, "stripe-mock:") {
		t.Errorf("STRIPE_API_BASE %q", b)
	}
	for _, secret := range []string{"PAMELDING_ADMIN_TOKEN", "PAMELDING_ENCRYPTION_KEY"} {
		if !strings.Contains(app.Environment[secret], ":?") {
			t.Errorf("%s is missing or has a default in the compose file; it must be required from the environment", secret)
		}
	}
	_, port, _ := strings.Cut(app.Environment["PAMELDING_ADDR"], ":")
	if len(app.Ports) == 0 || !strings.HasSuffix(app.Ports[0], ":"+port) {
		t.Errorf("ports %v do not publish PAMELDING_ADDR's port %s", app.Ports, port)
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("not a multi-stage build: %v", froms)
	}
	if !strings.Contains(df, "CGO_ENABLED=0") {
		t.Error("the binary is not built static (CGO_ENABLED=0)")
	}
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(users) == 0 {
		t.Fatal("no USER: the image would run as root")
	}
	if u := users[len(users)-1][1]; u == "root" || u == "0" || strings.HasPrefix(u, "0:") {
		t.Errorf("runs as %s", u)
	}
	if !strings.Contains(df, "./cmd/pamelding") {
		t.Error("does not build ./cmd/pamelding")
	}
	// The builder's Go is the one go.mod asks for.
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.ParseLax("go.mod", mod, nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(mf.Go.Version, ".")
	want := "golang:" + parts[0] + "." + parts[1]
	if !strings.HasPrefix(froms[0][1], want) {
		t.Errorf("builder %s, go.mod needs %s", froms[0][1], want)
	}
}

// TestComposeEnvironmentStarts feeds the app service's environment, with
// its required variables given values, to `pamelding config`, which checks
// the configuration as start-up does.
func TestComposeEnvironmentStarts(t *testing.T) {
	raw, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	given := map[string]string{
		"PAMELDING_ADMIN_TOKEN":    "compose-admin-token-0123456789abcdefghijk",
		"PAMELDING_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
	ref := regexp.MustCompile(`\$\{([A-Z_]+)(:[-?][^}]*)?\}`)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GOCACHE=" + os.Getenv("GOCACHE"), "GOPATH=" + os.Getenv("GOPATH"), "GOFLAGS=" + os.Getenv("GOFLAGS")}
	for k, v := range c.Services["app"].Environment {
		v = ref.ReplaceAllStringFunc(v, func(m string) string {
			sub := ref.FindStringSubmatch(m)
			if g, ok := given[sub[1]]; ok {
				return g
			}
			if strings.HasPrefix(sub[2], ":-") {
				return strings.TrimPrefix(sub[2], ":-")
			}
			t.Fatalf("%s needs %s, which the test does not give", k, sub[1])
			return ""
		})
		env = append(env, k+"="+v)
	}
	cmd := exec.Command("go", "run", "./cmd/pamelding", "config")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the compose environment does not pass the app's configuration check: %v\n%s", err, out)
	}
}

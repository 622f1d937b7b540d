// Package deploy holds Warden's packaging (Dockerfile, Helm chart, compose
// file); its tests check them without a container runtime or a cluster:
// the image builds the README's binary, the chart lints and renders valid
// manifests whose configuration Warden accepts, and so does the compose
// stack's.
package deploy

import (
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/warden"
)

// helmVersion is the helm the tests run (go run, from the module proxy).
const helmVersion = "helm.sh/helm/v3/cmd/helm@v3.22.0"

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDockerfileBuildsTheREADMEBinary checks statically that the image's
// build is the README's (CGO_ENABLED=0, package ./cmd/warden), lands in a
// distroless image as a non-root user, and runs that binary; then it runs
// the Dockerfile's go build here and checks the result is static.
func TestDockerfileBuildsTheREADMEBinary(t *testing.T) {
	df := read(t, "Dockerfile")
	readme := read(t, "../README.md")
	want := regexp.MustCompile("`CGO_ENABLED=0 go build -o warden (\\./cmd/warden)`").FindStringSubmatch(readme)
	if want == nil {
		t.Fatal("README no longer says how to build the binary (CGO_ENABLED=0 go build -o warden ./cmd/warden)")
	}
	build := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build (.*) -o (\S+) (\S+))`).FindStringSubmatch(df)
	if build == nil {
		t.Fatal("Dockerfile has no RUN CGO_ENABLED=0 go build")
	}
	if build[4] != want[1] {
		t.Fatalf("Dockerfile builds %s, README %s", build[4], want[1])
	}
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(df, -1)
	last := froms[len(froms)-1][1]
	if !strings.HasPrefix(last, "gcr.io/distroless/static") || !strings.HasSuffix(last, ":nonroot") {
		t.Errorf("final stage is %s, want distroless static nonroot", last)
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindAllStringSubmatch(df, -1)
	if len(user) == 0 || strings.HasPrefix(user[len(user)-1][1], "0") || strings.HasPrefix(user[len(user)-1][1], "root") {
		t.Errorf("image runs as %v, want a non-root USER", user)
	}
	bin := regexp.MustCompile(`(?m)^COPY --from=build ` + regexp.QuoteMeta(build[3]) + ` (\S+)`).FindStringSubmatch(df)
	if bin == nil || !strings.Contains(df, `ENTRYPOINT ["`+bin[1]+`"]`) {
		t.Errorf("the entry point is not the built binary (%v)", bin)
	}
	if testing.Short() {
		return
	}
	// The same command, here: the binary must build and be static.
	out := filepath.Join(t.TempDir(), "warden")
	args := shellFields(build[2])
	cmd := exec.Command("go", append(append([]string{"build"}, args...), "-o", out, build[4])...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Skipf("not an ELF platform: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary needs a dynamic loader: not static, distroless/static cannot run it")
		}
	}
}

// helm runs the pinned helm with args; it skips (fails under CI=true) when
// helm cannot be built, e.g. without the module proxy.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"run", helmVersion}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil && strings.Contains(stderr.String(), "go: ") && !strings.Contains(stderr.String(), "Error:") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot run helm: %v\n%s", err, stderr.String())
		}
		t.Skipf("cannot run helm: %v\n%s", err, stderr.String())
	}
	if err != nil {
		return stdout.String(), errors.New(stderr.String())
	}
	return stdout.String(), nil
}

type manifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Template struct {
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []struct {
					Image          string `yaml:"image"`
					ReadinessProbe struct {
						HTTPGet struct{ Path string } `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
					LivenessProbe struct {
						HTTPGet struct{ Path string } `yaml:"httpGet"`
					} `yaml:"livenessProbe"`
					EnvFrom []struct {
						SecretRef struct{ Name string } `yaml:"secretRef"`
					} `yaml:"envFrom"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		MaxUnavailable any `yaml:"maxUnavailable"`
	} `yaml:"spec"`
}

func render(t *testing.T, args ...string) map[string]manifest {
	t.Helper()
	out, err := helm(t, append([]string{"template", "warden", "helm/warden"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	got := map[string]manifest{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var m manifest
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("helm template %v: invalid YAML: %v\n%s", args, err, out)
		}
		if m.Kind == "" {
			continue
		}
		if m.APIVersion == "" || m.Metadata.Name == "" {
			t.Fatalf("manifest without apiVersion or name: %+v", m)
		}
		got[m.Kind+"/"+m.Metadata.Name] = m
	}
	return got
}

// checkRendered checks what every rendering must have, and that Warden
// accepts the configuration the chart writes.
func checkRendered(t *testing.T, got map[string]manifest, replicas int, env map[string]string) *config.Config {
	t.Helper()
	for _, k := range []string{"Deployment/warden", "Service/warden", "Service/warden-admin", "ConfigMap/warden", "PodDisruptionBudget/warden"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %s in the rendering (have %d manifests)", k, len(got))
		}
	}
	d := got["Deployment/warden"]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != replicas {
		t.Errorf("replicas %v, want %d", d.Spec.Replicas, replicas)
	}
	ps := d.Spec.Template.Spec
	if !ps.SecurityContext.RunAsNonRoot || len(ps.Containers) != 1 {
		t.Fatalf("pod spec: %+v", ps)
	}
	c := ps.Containers[0]
	if c.ReadinessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes: %+v %+v", c.ReadinessProbe, c.LivenessProbe)
	}
	cfg, err := config.Parse([]byte(got["ConfigMap/warden"].Data["warden.yaml"]), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("Warden refuses the chart's configuration: %v\n%s", err, got["ConfigMap/warden"].Data["warden.yaml"])
	}
	if _, err := warden.DecodeSections(cfg); err != nil {
		t.Fatalf("Warden refuses the chart's configuration: %v\n%s", err, got["ConfigMap/warden"].Data["warden.yaml"])
	}
	return cfg
}

func TestHelmChart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds helm")
	}
	for _, values := range [][]string{nil, {"-f", "helm/warden/values-ha.yaml"}} {
		if out, err := helm(t, append([]string{"lint", "--strict", "helm/warden"}, values...)...); err != nil {
			t.Fatalf("helm lint %v: %v\n%s", values, err, out)
		}
	}
	env := map[string]string{"POD_NAME": "warden-0", "WARDEN_PG_PASSWORD": "pw", "WARDEN_REDIS_PASSWORD": "pw"}

	cfg := checkRendered(t, render(t), 1, env)
	if cfg.Store != "" || cfg.Redis != "" {
		t.Errorf("default values use store %q, redis %q; want SQLite and no Redis", cfg.Store, cfg.Redis)
	}

	ha := render(t, "-f", "helm/warden/values-ha.yaml")
	cfg = checkRendered(t, ha, 3, env)
	if !strings.HasPrefix(cfg.Store, "postgres://warden:pw@") || !strings.HasPrefix(cfg.Redis, "redis://:pw@") {
		t.Errorf("HA values: store %q, redis %q", cfg.Store, cfg.Redis)
	}
	secs, err := warden.DecodeSections(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if secs.Audit.Origin == "" || secs.Audit.SigningKeyFile == "" || cfg.Instance != "warden-0" {
		t.Errorf("HA values: replicas must share the audit origin and key and name themselves: %+v %q", secs.Audit, cfg.Instance)
	}
	if ef := ha["Deployment/warden"].Spec.Template.Spec.Containers[0].EnvFrom; len(ef) != 1 || ef[0].SecretRef.Name != "warden-env" {
		t.Errorf("HA values: envFrom %+v", ef)
	}

	// Several replicas on SQLite, or without shared secret files, are refused.
	for _, bad := range [][]string{
		{"--set", "replicaCount=3"},
		{"-f", "helm/warden/values-ha.yaml", "--set", "secrets.files="},
	} {
		if _, err := helm(t, append([]string{"template", "warden", "helm/warden"}, bad...)...); err == nil {
			t.Errorf("helm template %v renders; want a refusal", bad)
		}
	}
}

// TestCompose checks the compose stack: three Warden instances from the
// Dockerfile, PostgreSQL, Redis and a load balancer that is the only
// trusted proxy, with a configuration Warden accepts.
func TestCompose(t *testing.T) {
	var c struct {
		Services map[string]struct {
			Build *struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
			Image    string `yaml:"image"`
			Networks map[string]struct {
				IPv4 string `yaml:"ipv4_address"`
			} `yaml:"networks"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(read(t, "compose/compose.yaml")), &c); err != nil {
		t.Fatal(err)
	}
	wardens := 0
	for name, s := range c.Services {
		if strings.HasPrefix(name, "warden-") {
			wardens++
			if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" || filepath.Clean(filepath.Join("compose", s.Build.Context)) != ".." {
				t.Errorf("%s is not built from deploy/Dockerfile at the repository root: %+v", name, s.Build)
			}
		}
	}
	for _, s := range []string{"postgres", "redis", "lb"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("no %s service", s)
		}
	}
	if wardens != 3 {
		t.Errorf("%d Warden instances, want 3", wardens)
	}
	cfg, err := config.Parse([]byte(read(t, "compose/warden.yaml")), func(string) (string, bool) { return "pw", true })
	if err != nil {
		t.Fatalf("Warden refuses the compose configuration: %v", err)
	}
	if _, err := warden.DecodeSections(cfg); err != nil {
		t.Fatalf("Warden refuses the compose configuration: %v", err)
	}
	lb := c.Services["lb"].Networks["warden"].IPv4
	if len(cfg.TrustedProxies) != 1 || cfg.TrustedProxies[0] != lb+"/32" {
		t.Errorf("trusted proxies %v, want only the load balancer %s", cfg.TrustedProxies, lb)
	}
	if !strings.HasPrefix(cfg.Store, "postgres://") || !strings.HasPrefix(cfg.Redis, "redis://") {
		t.Errorf("store %q, redis %q", cfg.Store, cfg.Redis)
	}
	nginx := read(t, "compose/nginx.conf")
	for _, w := range []string{"warden-1:8080", "warden-2:8080", "warden-3:8080", "ip_hash", "X-Forwarded-Proto"} {
		if !strings.Contains(nginx, w) {
			t.Errorf("nginx.conf lacks %s", w)
		}
	}
}

// shellFields splits s at spaces outside double quotes and drops the quotes
// (enough for the Dockerfile's go build flags).
func shellFields(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, any = !quoted, true
		case r == ' ' && !quoted:
			if any {
				out = append(out, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}

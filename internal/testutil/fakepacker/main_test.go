package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSleepFor(t *testing.T) {
	tests := []struct {
		spec, layer string
		want        time.Duration
	}{
		{"", "base", 100 * time.Millisecond},
		{"base=200ms,app-web=1s", "base", 200 * time.Millisecond},
		{"base=200ms,app-web=1s", "app-web", time.Second},
		{"base=200ms,app-web=1s", "db", 100 * time.Millisecond},
		{"base=200ms,50ms", "db", 50 * time.Millisecond},
		{"*=3s,base=1s", "db", 3 * time.Second},
		{"base=1s,*=3s", "base", time.Second},
		{"base=junk", "base", 100 * time.Millisecond},
		{"base=-1s", "base", 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := sleepFor(tt.spec, tt.layer); got != tt.want {
			t.Errorf("sleepFor(%q, %q) = %v, want %v", tt.spec, tt.layer, got, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-machine-readable", "-color=false", "-var", "a=b=c", "-var=x=y", "t.pkr.hcl"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.machine || o.template != "t.pkr.hcl" || o.vars["a"] != "b=c" || o.vars["x"] != "y" {
		t.Errorf("parsed %+v", o)
	}
	for _, args := range [][]string{{}, {"-var"}, {"-var", "novalue", "t"}, {"a", "b"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

func TestReadTemplate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	li, err := readTemplate(write("x.pkr.hcl", "# Rendered by amibake 0.1 for layer \"app-web\" of project \"p\".\n"+
		"data \"amazon-parameterstore\" \"s\" {\n  region = \"eu-west-1\"\n}\n  ami_regions = [\"us-east-1\", \"eu-west-1\"]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if li.name != "app-web" || li.region != "eu-west-1" || len(li.regions) != 2 || li.regions[1] != "us-east-1" {
		t.Errorf("got %+v", li)
	}
	li, _ = readTemplate(write("tagged.pkr.hcl", `tags = { "amibake:layer" = "db" }`), nil)
	if li.name != "db" || li.region != "us-east-1" {
		t.Errorf("got %+v", li)
	}
	li, _ = readTemplate(write("cache.pkr.hcl", ``), nil)
	if li.name != "cache" {
		t.Errorf("got %+v", li)
	}
	a, _ := readTemplate(write("v.pkr.hcl", ``), map[string]string{"k": "1"})
	b, _ := readTemplate(write("v.pkr.hcl", ``), map[string]string{"k": "2"})
	if a.digest == b.digest {
		t.Error("vars do not change the AMI ids")
	}
	if _, err := readTemplate(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("missing template accepted")
	}
}

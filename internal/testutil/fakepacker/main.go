// Command fakepacker stands in for `packer` in benchmarks and crash tests
// only: it speaks packer's -machine-readable output for amibake's rendered
// layer templates without building anything (or, with FAKEPACKER_AWS=1,
// building through the sandbox), so a scheduler can be timed and killed at
// will. The end-to-end tests use the real packer binary.
//
//	fakepacker version                      prints "Packer v1.11.2"
//	fakepacker validate [flags] TEMPLATE    exits 0 when TEMPLATE is readable
//	fakepacker build [flags] TEMPLATE       simulates an amazon-ebs build
//
// The layer is read from the template (the `for layer "NAME"` header amibake
// renders, else the "amibake:layer" tag, else the file name); the build
// region from its first `region = "…"` and the copy regions from
// `ami_regions`. Behaviour is set through the environment:
//
//	FAKEPACKER_SLEEP=100ms,base=200ms,app-web=1s  build time: a bare duration
//	                                 (or *=D) is the default, NAME=D per layer
//	FAKEPACKER_FAIL=app-web,base     layers whose build fails (exit 1); * = all
//	FAKEPACKER_CLEANUP=200ms         cleanup time after SIGINT/SIGTERM
//	FAKEPACKER_ECHO_ENV=A,B          print these variables as a provisioner
//	                                 would (tests of secret redaction)
//	FAKEPACKER_NOISE=1               also print lines that are not
//	                                 machine-readable, CRLF and stderr output
//	FAKEPACKER_RECORD=FILE           append "start|end|fail|interrupted|killed
//	                                 LAYER UNIXNANO pid=PID" lines to FILE
//
// On SIGINT or SIGTERM it prints packer's cleanup messages, waits
// FAKEPACKER_CLEANUP, prints "Cleanly cancelled builds after being
// interrupted." and exits 1, like packer. AMI ids are derived from the
// layer, region and template, so they are stable across runs. It never
// talks to AWS, unless:
//
//	FAKEPACKER_AWS=1                 build through EC2 and SSM at the
//	                                 template's aws_endpoint (the sandbox):
//	                                 source AMI from the parent channel or
//	                                 source parameter, RunInstances with the
//	                                 run tags, StopInstances, CreateImage,
//	                                 CopyImage per ami_regions, launch
//	                                 permissions, tags on AMIs and snapshots,
//	                                 deprecation, TerminateInstances, then
//	                                 the amibake-lineage channels (aws.go).
//	                                 FAKEPACKER_SLEEP is spread over its
//	                                 steps; FAKEPACKER_FAIL is not honoured.
//	FAKEPACKER_MAX_BACKOFF=1ms       caps the SDK's retry backoff (storms)
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/amibake/amibake/internal/crashpoint"
)

const version = "1.11.2"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "Usage: packer [--version] [--help] <command> [<args>]")
		return 127
	}
	switch args[0] {
	case "version", "--version", "-v":
		fmt.Printf("Packer v%s\n", version)
		return 0
	case "validate":
		o, err := parseFlags(args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := os.ReadFile(o.template); err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			return 1
		}
		fmt.Println("The configuration is valid.")
		return 0
	case "build":
		o, err := parseFlags(args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return build(o)
	default:
		fmt.Fprintf(os.Stderr, "fakepacker: unknown command %q\n", args[0])
		return 127
	}
}

type options struct {
	machine  bool
	vars     map[string]string
	template string
}

func parseFlags(args []string) (options, error) {
	o := options{vars: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-machine-readable":
			o.machine = true
		case a == "-var":
			if i+1 >= len(args) {
				return o, fmt.Errorf("flag needs an argument: -var")
			}
			i++
			k, v, ok := strings.Cut(args[i], "=")
			if !ok {
				return o, fmt.Errorf("-var %q: expected NAME=VALUE", args[i])
			}
			o.vars[k] = v
		case strings.HasPrefix(a, "-var="):
			k, v, _ := strings.Cut(strings.TrimPrefix(a, "-var="), "=")
			o.vars[k] = v
		case strings.HasPrefix(a, "-"):
			// -color=false, -timestamp-ui=false, -force, …: accepted, ignored.
		default:
			if o.template != "" {
				return o, fmt.Errorf("only one template may be given, got %q and %q", o.template, a)
			}
			o.template = a
		}
	}
	if o.template == "" {
		return o, fmt.Errorf("a template path is required")
	}
	return o, nil
}

var (
	layerHeaderRE = regexp.MustCompile(`for layer "([^"]+)"`)
	layerTagRE    = regexp.MustCompile(`"amibake:layer"\s*=\s*"([^"]+)"`)
	regionRE      = regexp.MustCompile(`(?m)^\s*region\s*=\s*"([a-z0-9-]+)"`)
	amiRegionsRE  = regexp.MustCompile(`(?m)^\s*ami_regions\s*=\s*\[([^\]]*)\]`)
	quotedRE      = regexp.MustCompile(`"([a-z0-9-]+)"`)
)

type layerInfo struct {
	name    string
	region  string
	regions []string // build region first, then copies
	digest  string
}

func readTemplate(path string, vars map[string]string) (layerInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return layerInfo{}, err
	}
	src := string(b)
	li := layerInfo{region: "us-east-1"}
	if m := layerHeaderRE.FindStringSubmatch(src); m != nil {
		li.name = m[1]
	} else if m := layerTagRE.FindStringSubmatch(src); m != nil {
		li.name = m[1]
	} else {
		base := filepath.Base(path)
		li.name = strings.TrimSuffix(strings.TrimSuffix(base, ".hcl"), ".pkr")
	}
	if m := regionRE.FindStringSubmatch(src); m != nil {
		li.region = m[1]
	}
	li.regions = []string{li.region}
	if m := amiRegionsRE.FindStringSubmatch(src); m != nil {
		for _, q := range quotedRE.FindAllStringSubmatch(m[1], -1) {
			if q[1] != li.region {
				li.regions = append(li.regions, q[1])
			}
		}
	}
	h := sha256.New()
	h.Write(b)
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "\x00%s=%s", k, vars[k])
	}
	li.digest = hex.EncodeToString(h.Sum(nil))
	return li, nil
}

// ui writes packer's two forms of output.
type ui struct {
	machine bool
}

func escape(s string) string {
	s = strings.ReplaceAll(s, ",", "%!(PACKER_COMMA)")
	s = strings.ReplaceAll(s, "\r", `\r`)
	return strings.ReplaceAll(s, "\n", `\n`)
}

func (u ui) machineLine(target, typ string, data ...string) {
	if !u.machine {
		return
	}
	parts := []string{fmt.Sprint(time.Now().Unix()), target, typ}
	for _, d := range data {
		parts = append(parts, escape(d))
	}
	fmt.Println(strings.Join(parts, ","))
}

func (u ui) say(kind, text string) {
	if u.machine {
		u.machineLine("", "ui", kind, text)
		return
	}
	if kind == "error" {
		fmt.Fprintln(os.Stderr, text)
		return
	}
	fmt.Println(text)
}

func build(o options) int {
	u := ui{machine: o.machine}
	li, err := readTemplate(o.template, o.vars)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: Failed to read template: %v\n", err)
		return 1
	}
	rec := recorder(os.Getenv("FAKEPACKER_RECORD"))
	rec.log("start", li.name)

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)

	started := time.Now()
	target := "amazon-ebs.layer"
	total := sleepFor(os.Getenv("FAKEPACKER_SLEEP"), li.name)
	cleanup := parseDuration(os.Getenv("FAKEPACKER_CLEANUP"), 200*time.Millisecond)
	if os.Getenv("FAKEPACKER_AWS") != "" {
		return buildAWS(o, li, u, target, total, cleanup, sigs, rec)
	}
	instance := "i-" + li.digest[:17]
	amis := map[string]string{}
	for _, r := range li.regions {
		sum := sha256.Sum256([]byte(li.digest + "/" + r))
		amis[r] = "ami-" + hex.EncodeToString(sum[:])[:17]
	}

	steps := []func(){
		func() {
			u.say("say", "==> "+target+": Prevalidating any provided VPC information")
			u.say("say", "==> "+target+": Prevalidating AMI Name: amibake-"+li.name)
			u.say("message", "    "+target+": Found Image ID: ami-00000000000000001")
		},
		func() {
			u.say("say", "==> "+target+": Creating temporary keypair: packer_"+li.digest[:8])
			u.say("say", "==> "+target+": Creating temporary security group for this instance: packer_"+li.digest[8:16])
		},
		func() {
			u.say("say", "==> "+target+": Launching a source AWS instance...")
			u.say("message", "    "+target+": Instance ID: "+instance)
			u.say("say", "==> "+target+": Waiting for instance ("+instance+") to become ready...")
		},
		func() {
			u.say("say", "==> "+target+": Provisioning layer "+li.name+" with fakepacker, no instance was touched")
			for _, name := range splitList(os.Getenv("FAKEPACKER_ECHO_ENV")) {
				u.say("message", "    "+target+": "+name+"="+os.Getenv(name))
			}
			if os.Getenv("FAKEPACKER_NOISE") != "" {
				fmt.Println("2026/11/25 12:00:00 [INFO] (fakepacker) plugin chatter, not machine-readable")
				fmt.Print(fmt.Sprint(time.Now().Unix()) + ",,ui,message,    " + target + ": CRLF line\r\n")
				fmt.Fprintln(os.Stderr, "fakepacker: a line on stderr")
			}
		},
		func() {
			u.say("say", "==> "+target+": Stopping the source instance...")
			u.say("say", "==> "+target+": Waiting for the instance to stop...")
		},
		func() {
			u.say("say", "==> "+target+": Creating AMI amibake-"+li.name+" from instance "+instance)
			u.say("message", "    "+target+": AMI: "+amis[li.region])
			u.say("say", "==> "+target+": Waiting for AMI to become ready...")
			if len(li.regions) > 1 {
				u.say("say", "==> "+target+": Copying/Encrypting AMI ("+amis[li.region]+") to other regions...")
			}
		},
		func() {
			u.say("say", "==> "+target+": Adding tags to AMI ("+amis[li.region]+")...")
			u.say("say", "==> "+target+": Terminating the source AWS instance...")
			u.say("say", "==> "+target+": Cleaning up any extra volumes...")
			u.say("say", "==> "+target+": Deleting temporary security group...")
			u.say("say", "==> "+target+": Deleting temporary keypair...")
		},
	}
	fail := matches(os.Getenv("FAKEPACKER_FAIL"), li.name)
	if fail {
		steps = steps[:4]
	}
	per := total / time.Duration(len(steps))
	for _, step := range steps {
		step()
		select {
		case <-sigs:
			return interrupted(u, target, li.name, instance, started, cleanup, rec)
		case <-time.After(per):
		}
	}
	elapsed := time.Since(started)
	if fail {
		msg := "Script exited with non-zero exit status: 1. Allowed exit codes are: [0]"
		u.say("say", "==> "+target+": Provisioning step had errors: Running the cleanup provisioner, if present...")
		u.say("say", "==> "+target+": Terminating the source AWS instance...")
		u.say("say", "==> "+target+": Deleting temporary keypair...")
		u.say("error", fmt.Sprintf("Build '%s' errored after %s: %s", target, elapsed.Round(time.Millisecond), msg))
		u.say("say", "\n==> Wait completed after "+elapsed.Round(time.Millisecond).String())
		u.machineLine("", "error-count", "1")
		u.say("error", "\n==> Some builds didn't complete successfully and had errors:")
		u.machineLine(target, "error", msg)
		u.say("error", "--> "+target+": "+msg)
		u.say("say", "\n==> Builds finished but no artifacts were created.")
		rec.log("fail", li.name)
		return 1
	}
	artifacts(u, target, amis, elapsed)
	rec.log("end", li.name)
	return 0
}

// artifacts prints packer's end of a successful build.
func artifacts(u ui, target string, amis map[string]string, elapsed time.Duration) {
	var ids, human []string
	for _, r := range sortedRegions(amis) {
		ids = append(ids, r+":"+amis[r])
		human = append(human, r+": "+amis[r])
	}
	str := "AMIs were created:\n" + strings.Join(human, "\n") + "\n"
	u.say("say", fmt.Sprintf("Build '%s' finished after %s.", target, elapsed.Round(time.Millisecond)))
	u.say("say", "\n==> Wait completed after "+elapsed.Round(time.Millisecond).String())
	u.say("say", "\n==> Builds finished. The artifacts of successful builds are:")
	u.machineLine(target, "artifact-count", "1")
	u.machineLine(target, "artifact", "0", "builder-id", "mitchellh.amazonebs")
	u.machineLine(target, "artifact", "0", "id", strings.Join(ids, ","))
	u.machineLine(target, "artifact", "0", "string", str)
	u.machineLine(target, "artifact", "0", "files-count", "0")
	u.machineLine(target, "artifact", "0", "end")
	u.say("say", "--> "+target+": "+str)
}

// buildAWS is the FAKEPACKER_AWS build: through the sandbox (aws.go).
func buildAWS(o options, li layerInfo, u ui, target string, total, cleanup time.Duration, sigs <-chan os.Signal, rec recorder) int {
	started := time.Now()
	endpoint := o.vars["aws_endpoint"]
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	t, err := parseAWSTemplate(o.template, o.vars)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		rec.log("fail", li.name)
		return 1
	}
	u.say("say", "==> "+target+": Prevalidating AMI Name: "+t.amiName)
	b := newSandboxBuild(t, endpoint, u, target, total/5, sigs)
	b.layer = li.name
	// A crash point here is the machine lost: amibake dies with packer,
	// and the record says this build will never end.
	crashpoint.BeforeKill = func() {
		rec.log("killed", li.name)
		_ = syscall.Kill(os.Getppid(), syscall.SIGKILL)
	}
	ctx := context.Background()
	amis, err := b.run(ctx)
	if err == nil {
		err = b.postProcess(ctx, amis)
	}
	elapsed := time.Since(started).Round(time.Millisecond)
	switch {
	case errors.Is(err, errInterrupted):
		u.say("error", "Cancelling build after receiving interrupt")
		time.Sleep(cleanup)
		u.say("error", fmt.Sprintf("Build '%s' errored after %s: context canceled", target, elapsed))
		u.say("say", "Cleanly cancelled builds after being interrupted.")
		rec.log("interrupted", li.name)
		return 1
	case err != nil:
		u.say("error", fmt.Sprintf("Build '%s' errored after %s: %v", target, elapsed, err))
		u.machineLine("", "error-count", "1")
		u.machineLine(target, "error", err.Error())
		u.say("say", "\n==> Builds finished but no artifacts were created.")
		rec.log("fail", li.name)
		return 1
	}
	artifacts(u, target, amis, elapsed)
	rec.log("end", li.name)
	return 0
}

func interrupted(u ui, target, layer, instance string, started time.Time, cleanup time.Duration, rec recorder) int {
	u.say("error", "Cancelling build after receiving interrupt")
	u.say("say", "==> "+target+": Terminating the source AWS instance...")
	time.Sleep(cleanup / 2)
	u.say("say", "==> "+target+": Cleaning up any extra volumes...")
	u.say("say", "==> "+target+": Deleting temporary security group...")
	u.say("say", "==> "+target+": Deleting temporary keypair...")
	time.Sleep(cleanup - cleanup/2)
	elapsed := time.Since(started).Round(time.Millisecond)
	u.say("error", fmt.Sprintf("Build '%s' errored after %s: context canceled", target, elapsed))
	u.say("say", "\n==> Wait completed after "+elapsed.String())
	u.say("say", "Cleanly cancelled builds after being interrupted.")
	rec.log("interrupted", layer)
	return 1
}

// sleepFor reads FAKEPACKER_SLEEP for one layer; 100ms when unset.
func sleepFor(spec, layer string) time.Duration {
	def := 100 * time.Millisecond
	var own *time.Duration
	for _, item := range splitList(spec) {
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			def = parseDuration(k, def)
			continue
		}
		switch k {
		case "*":
			def = parseDuration(v, def)
		case layer:
			d := parseDuration(v, def)
			own = &d
		}
	}
	if own != nil {
		return *own
	}
	return def
}

func parseDuration(s string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return def
	}
	return d
}

func matches(list, layer string) bool {
	for _, item := range splitList(list) {
		if item == "*" || item == layer {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func sortedRegions(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// recorder appends one line per event to a file shared by concurrent
// fakepackers (O_APPEND keeps the short lines whole).
type recorder string

func (r recorder) log(what, layer string) {
	if r == "" {
		return
	}
	f, err := os.OpenFile(string(r), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakepacker: record: %v\n", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s %d pid=%d\n", what, layer, time.Now().UnixNano(), os.Getpid())
}

package bench

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/byok-go/byok/bench/opensslbench"
)

// Environment is the machine and software a report was measured on.
type Environment struct {
	// Time is when the run started.
	Time time.Time `json:"time"`
	// CPU is the processor model (Linux: /proc/cpuinfo), Cores the
	// logical CPUs and GOMAXPROCS the Go scheduler's limit.
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// OS and Arch are GOOS and GOARCH.
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// GoVersion is the Go toolchain the program was built with.
	GoVersion string `json:"go_version"`
	// Build lists the build settings that change the figures (-tags,
	// CGO_ENABLED, GOAMD64, -race), from the binary's build information.
	Build []string `json:"build,omitempty"`
	// OpenSSL is the version OpenSSL reports at run time, or why there is
	// none.
	OpenSSL string `json:"openssl"`
	// Modules are the versions of byok, of the Go modules the figures
	// depend on and of the PKCS#11 modules measured.
	Modules []Module `json:"modules"`
	// LoadStart and LoadEnd are the one-minute load averages before and
	// after the run (Linux; -1 elsewhere). A loaded machine inflates every
	// figure; the ratios, measured in interleaved rounds, suffer less.
	LoadStart float64 `json:"load_start"`
	LoadEnd   float64 `json:"load_end"`
}

// Module is a software module and its version.
type Module struct {
	// Name is the Go module path, or the PKCS#11 library and what it says
	// of itself (C_GetInfo).
	Name string `json:"name"`
	// Version is the Go module version, or the library version.
	Version string `json:"version"`
}

// depsOfInterest are the Go modules whose versions a report lists.
var depsOfInterest = []string{
	"github.com/aws/aws-sdk-go-v2/service/kms",
	"github.com/decred/dcrd/dcrec/secp256k1/v4",
	"github.com/miekg/pkcs11",
	"github.com/ThalesGroup/crypto11",
}

func environment() Environment {
	e := Environment{
		Time:       time.Now().UTC(),
		CPU:        cpuModel(),
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		GoVersion:  runtime.Version(),
		LoadStart:  loadAverage(),
	}
	if opensslbench.Available {
		e.OpenSSL = opensslbench.Version()
	} else {
		e.OpenSSL = "none: " + opensslbench.ErrUnavailable.Error()
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v += " " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					v += " (modified)"
				}
			case "-tags", "CGO_ENABLED", "GOAMD64", "-race":
				e.Build = append(e.Build, s.Key+"="+s.Value)
			}
		}
		if bi.Main.Path != "" {
			e.Modules = append(e.Modules, Module{bi.Main.Path, v})
		}
		for _, want := range depsOfInterest {
			for _, d := range bi.Deps {
				if d.Path == want {
					ver := d.Version
					if d.Replace != nil {
						ver += " => " + d.Replace.Path + " " + d.Replace.Version
					}
					e.Modules = append(e.Modules, Module{d.Path, ver})
				}
			}
		}
	}
	return e
}

// cpuModel returns the CPU's model name, or the architecture.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			k, v, ok := strings.Cut(s.Text(), ":")
			if ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// loadAverage returns the one-minute load average, or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	l, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return l
}

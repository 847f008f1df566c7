//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the master for the test, the
// slave as the terminal of the byok under test.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestPassphrasePromptEchoOff runs byok on a terminal without
// --passphrase-env: it asks, and what is typed is not echoed.
func TestPassphrasePromptEchoOff(t *testing.T) {
	const pass = "byok-test-passphrase"
	master, slave := openPTY(t)
	cmd := exec.Command(byokBinary(t), "inspect", keyFile("p256.enc.pem"))
	cmd.Env = cleanEnv(t)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	read := make(chan struct{})
	prompted := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		once := false
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if !once && strings.Contains(out.String(), "Passphrase for") {
				once = true
				close(prompted)
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-prompted:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no prompt; output so far: %q", out.String())
	}
	time.Sleep(300 * time.Millisecond) // echo is turned off right after the prompt
	master.Write([]byte(pass + "\r"))
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	master.Close()
	<-read
	if err != nil {
		t.Fatalf("byok inspect on a terminal: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), pass) {
		t.Errorf("the passphrase was echoed or printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "ECC_NIST_P256") {
		t.Errorf("the key was not loaded:\n%s", out.String())
	}
}

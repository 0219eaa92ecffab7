package testenv

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Process is a program the test started, with its combined output captured.
type Process struct {
	Cmd    *exec.Cmd
	output *SyncBuffer
	done   chan struct{}
	err    error
}

// Start runs bin with args and env (added to a minimal environment) and kills
// it when the test ends if it is still running.
func Start(t testing.TB, env []string, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{Cmd: exec.Command(bin, args...), output: &SyncBuffer{}, done: make(chan struct{})}
	p.Cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.output, p.output
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", bin, p.Output())
		}
	})
	return p
}

// Output is what the process printed so far.
func (p *Process) Output() string { return p.output.String() }

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", sig, err)
	}
}

// Wait waits up to deadline for the process to exit and returns its exit code.
func (p *Process) Wait(t testing.TB, deadline time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(deadline):
		t.Fatalf("%s still running after %s; output:\n%s", p.Cmd.Path, deadline, p.Output())
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

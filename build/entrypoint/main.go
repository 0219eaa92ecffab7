package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
)

// Exit codes; otherwise supervisord's exit status.
const (
	// exitFailed: supervisord could not be started.
	exitFailed = 1
	// exitSettings: LB_ENGINE, a program file or an argument is wrong;
	// nothing was started.
	exitSettings = 2
	// exitSignaled is added to the signal that ended supervisord, as a
	// shell reports it.
	exitSignaled = 128
)

// logPrefix starts every line the entrypoint logs; the end-to-end suite
// finds its lines by it.
const logPrefix = "entrypoint: "

func main() {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	supervisord := "/usr/local/bin/supervisord"
	// supervisord's own RPC socket ([unix_http_server] in supervisord.conf).
	socket := "unix:///tmp/supervisord.sock"
	e := entrypoint{
		args:        os.Args[1:],
		env:         os.LookupEnv,
		layout:      supervisorconf.Image,
		supervisord: []string{supervisord, "-c", "/etc/supervisord/supervisord.conf"},
		ctl:         supervisordCtl{binary: supervisord, server: socket},
		signals:     signals,
		stdout:      os.Stdout,
		stderr:      os.Stderr,
	}
	os.Exit(e.run())
}

// entrypoint is one run; tests replace supervisord, its ctl and the signals.
type entrypoint struct {
	args        []string
	env         func(string) (string, bool)
	layout      supervisorconf.Layout
	supervisord []string
	ctl         ctl
	signals     <-chan os.Signal
	stdout      io.Writer
	stderr      io.Writer
}

// run checks the settings, runs supervisord until it exits, stops its
// programs in order on the first signal, and returns the exit code.
func (e entrypoint) run() int {
	logger := log.New(e.stdout, logPrefix, 0)
	if len(e.args) > 0 {
		fmt.Fprintf(e.stderr, "%sargument %q is invalid: accepted is none (the setting is LB_ENGINE)\n", logPrefix, e.args[0])
		return exitSettings
	}
	order, err := settings(e.env, e.layout, logger)
	if err != nil {
		fmt.Fprintln(e.stderr, logPrefix+err.Error())
		return exitSettings
	}

	cmd := exec.Command(e.supervisord[0], e.supervisord[1:]...)
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(e.stderr, "%sstarting supervisord: %v\n", logPrefix, err)
		return exitFailed
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // its status is read from ProcessState
		close(exited)
	}()
	var stopped chan struct{} // closed once the ordered stop is done
	for {
		select {
		case <-exited:
			if stopped != nil {
				<-stopped
			}
			return exitStatus(cmd.ProcessState)
		case <-e.signals:
			if stopped != nil {
				continue // a stop is under way; it is not started twice
			}
			stopped = make(chan struct{})
			go func() {
				defer close(stopped)
				s := stopper{ctl: e.ctl, logf: logger.Printf}
				s.stopInOrder(order, func() { _ = cmd.Process.Signal(syscall.SIGTERM) })
			}()
		}
	}
}

// exitStatus is supervisord's exit code, or 128 + the signal that ended it.
func exitStatus(state *os.ProcessState) int {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitSignaled + int(ws.Signal())
	}
	return state.ExitCode()
}

// settings checks LB_ENGINE (in an image with engines) and the layout's
// programs, and returns the programs to stop, in order: by their
// priorities, the highest first.
func settings(env func(string) (string, bool), layout supervisorconf.Layout, logger *log.Logger) ([]supervisorconf.Program, error) {
	engines, err := layout.Engines()
	if err != nil {
		return nil, err
	}
	engine := ""
	if len(engines) > 0 {
		engine, _ = env("LB_ENGINE")
		if err := supervisorconf.ChooseEngine(engine, engines); err != nil {
			return nil, err
		}
		logger.Printf("LB_ENGINE=%s", engine)
	}
	programs, err := layout.Load()
	if err != nil {
		return nil, err
	}
	return supervisorconf.StopOrder(programs, engine)
}

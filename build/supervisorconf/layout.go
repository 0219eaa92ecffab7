package supervisorconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Layout is where a tree keeps its program files: the image's
// /etc/supervisord and /etc/lb, or the repository's build/config.
type Layout struct {
	// ProgramsDir holds the *.conf files of the programs every image runs.
	ProgramsDir string
	// EnginesDir holds one folder per load-balancer engine; a tree without
	// it has no engines (the hello_server image).
	EnginesDir string
	// EngineFiles matches the engine's program files in its folder; a
	// folder of EnginesDir without one is no engine.
	EngineFiles string
}

// Image is the layout in the hello_server and load-balancer images
// (build/dockerfiles), which supervisord.conf includes. The load-balancer
// image holds build/config/lb/ as /etc/lb/, each engine's folder as it is.
var Image = Layout{
	ProgramsDir: "/etc/supervisord/programs",
	EnginesDir:  "/etc/lb",
	EngineFiles: RepoEngineFiles,
}

// The repository's layout, relative to its root: the files the images copy
// to Image's paths.
const (
	RepoProgramsDir = "build/config/supervisord/programs"
	RepoEnginesDir  = "build/config/lb"
	// RepoEngineFiles is an engine's program file: one name, not *.conf,
	// since the folder holds the engine's own .conf files too.
	RepoEngineFiles = "supervisord.conf"
)

// DefaultEngine is LB_ENGINE's default: the load-balancer image's
// ENV LB_ENGINE and compose's ${LB_ENGINE:-nginx}.
const DefaultEngine = "nginx"

// Repository is the layout of the repository at root.
func Repository(root string) Layout {
	return Layout{
		ProgramsDir: filepath.Join(root, RepoProgramsDir),
		EnginesDir:  filepath.Join(root, RepoEnginesDir),
		EngineFiles: RepoEngineFiles,
	}
}

// RepoEngines are the engines of the repository at root, DefaultEngine
// first, then the others sorted: the order in which the tests and the
// messages that list them name them.
func RepoEngines(root string) ([]string, error) {
	engines, err := Repository(root).Engines()
	if err != nil {
		return nil, err
	}
	if i := slices.Index(engines, DefaultEngine); i > 0 {
		engines = slices.Concat([]string{DefaultEngine}, engines[:i], engines[i+1:])
	}
	return engines, nil
}

// Engines are the folders of EnginesDir that hold an engine's program
// file (EngineFiles), sorted; none when EnginesDir does not exist. Any
// other entry (the README, a folder without the file) is no engine.
func (l Layout) Engines() ([]string, error) {
	entries, err := os.ReadDir(l.EnginesDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var engines []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		files, err := filepath.Glob(filepath.Join(l.EnginesDir, e.Name(), l.EngineFiles))
		if err != nil {
			return nil, err
		}
		if len(files) > 0 {
			engines = append(engines, e.Name())
		}
	}
	return engines, nil
}

// Load reads every program of the layout, the shared ones' and then every
// engine's, each engine's with its Engine, file by file in name order. A program defined twice is an
// error: supervisord, which reads all its files into one INI, would merge
// the two.
func (l Layout) Load() ([]Program, error) {
	files, err := filepath.Glob(filepath.Join(l.ProgramsDir, "*.conf"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no program files (*.conf)", l.ProgramsDir)
	}
	engineOf := map[string]string{}
	engines, err := l.Engines()
	if err != nil {
		return nil, err
	}
	for _, engine := range engines {
		engineFiles, err := filepath.Glob(filepath.Join(l.EnginesDir, engine, l.EngineFiles))
		if err != nil {
			return nil, err
		}
		for _, f := range engineFiles {
			engineOf[f] = engine
		}
		files = append(files, engineFiles...)
	}
	var programs []Program
	fileOf := map[string]string{}
	for _, file := range files {
		read, err := ReadFile(file, engineOf[file])
		if err != nil {
			return nil, err
		}
		for _, p := range read {
			if other, dup := fileOf[p.Name]; dup {
				return nil, fmt.Errorf("program %s is defined twice: in %s and in %s", p.Name, other, file)
			}
			fileOf[p.Name] = file
		}
		programs = append(programs, read...)
	}
	return programs, nil
}

package stopbudget

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
)

// BaseDockerfile builds the base image, which build/scripts/build-images.sh
// passes to the other images as BASE_IMAGE.
const BaseDockerfile = "build/dockerfiles/Dockerfile"

// imageRoots are the image's folders that hold supervisord's files: its
// own (the program files) and the load-balancer engines' folders.
var imageRoots = []string{"/etc/supervisord/", supervisorconf.Image.EnginesDir + "/"}

// inImageRoots says whether the image path dst is under one of imageRoots.
func inImageRoots(dst string) bool {
	return slices.ContainsFunc(imageRoots, func(root string) bool { return strings.HasPrefix(dst, root) })
}

// ImageDockerfiles are the Dockerfiles, relative to the repository, whose
// layers make the image dockerfile builds: BaseDockerfile first when one of
// its stages starts FROM ${BASE_IMAGE}, then dockerfile.
func ImageDockerfiles(root, dockerfile string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(root, dockerfile))
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if args := strings.Fields(line); len(args) >= 2 && args[0] == "FROM" && args[1] == "${BASE_IMAGE}" {
			return []string{BaseDockerfile, dockerfile}, nil
		}
	}
	return []string{dockerfile}, nil
}

// WriteImageSupervisord writes into dir what an image's /etc/supervisord
// and /etc/lb hold (imageRoots), at the same paths below dir: the
// repository's files that its Dockerfiles' COPY lines put there (a folder's
// files for a folder), in the Dockerfiles' order. It returns the image's
// layout under dir (supervisorconf.Image's) and, for each file written, the
// repository file it copies, relative to root. A COPY --from copies another
// stage's files, never the repository's; none of those may reach
// imageRoots.
func WriteImageSupervisord(root, dir string, dockerfiles ...string) (supervisorconf.Layout, map[string]string, error) {
	sources := map[string]string{}
	for _, dockerfile := range dockerfiles {
		raw, err := os.ReadFile(filepath.Join(root, dockerfile))
		if err != nil {
			return supervisorconf.Layout{}, nil, err
		}
		for _, line := range strings.Split(string(raw), "\n") {
			args := strings.Fields(line)
			if len(args) < 3 || args[0] != "COPY" || !inImageRoots(args[len(args)-1]) {
				continue
			}
			dst := args[len(args)-1]
			var srcs []string
			for _, arg := range args[1 : len(args)-1] {
				if strings.HasPrefix(arg, "--from=") {
					return supervisorconf.Layout{}, nil, fmt.Errorf("%s: %q copies another stage's files to %s: accepted is the repository's files", dockerfile, line, dst)
				}
				if !strings.HasPrefix(arg, "--") {
					srcs = append(srcs, arg)
				}
			}
			for _, src := range srcs {
				to := filepath.Join(dir, dst)
				info, err := os.Stat(filepath.Join(root, src))
				if err != nil {
					return supervisorconf.Layout{}, nil, fmt.Errorf("%s: %w", dockerfile, err)
				}
				if strings.HasSuffix(dst, "/") && !info.IsDir() {
					to = filepath.Join(to, filepath.Base(src))
				}
				if err := copyTree(root, src, to, sources); err != nil {
					return supervisorconf.Layout{}, nil, fmt.Errorf("%s: %w", dockerfile, err)
				}
			}
		}
	}
	return supervisorconf.Layout{
		ProgramsDir: filepath.Join(dir, supervisorconf.Image.ProgramsDir),
		EnginesDir:  filepath.Join(dir, supervisorconf.Image.EnginesDir),
		EngineFiles: supervisorconf.Image.EngineFiles,
	}, sources, nil
}

// copyTree copies the repository's file src to the path to, or what the
// folder src holds into the folder to, as COPY does, and records each file
// in sources.
func copyTree(root, src, to string, sources map[string]string) error {
	return filepath.WalkDir(filepath.Join(root, src), func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		dst := to
		if inner, _ := filepath.Rel(filepath.Join(root, src), path); inner != "." {
			dst = filepath.Join(to, inner)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		sources[dst] = rel
		return os.WriteFile(dst, raw, 0o644)
	})
}

package stopbudget

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// Each image's /etc/supervisord holds the programs its Dockerfiles copy,
// each a copy of its repository file.
func TestRepositoryImages(t *testing.T) {
	root := testenv.RepoRoot(t)
	for _, c := range []struct {
		dockerfile string
		want       string // name@engine of each program the image holds
	}{
		{"build/dockerfiles/Dockerfile", "consul-agent@ registrar@"},
		{"build/dockerfiles/Dockerfile.grpc", "consul-agent@ grpc-server@ registrar@"},
		{"build/dockerfiles/Dockerfile.lb", "consul-agent@ consul-template@ lb-reflection@ registrar@ haproxy@haproxy nginx@nginx"},
	} {
		t.Run(filepath.Base(c.dockerfile), func(t *testing.T) {
			dockerfiles, err := ImageDockerfiles(root, c.dockerfile)
			if err != nil {
				t.Fatal(err)
			}
			if c.dockerfile != BaseDockerfile && !slices.Equal(dockerfiles, []string{BaseDockerfile, c.dockerfile}) {
				t.Errorf("expected the image to be built on %s, received %v", BaseDockerfile, dockerfiles)
			}
			layout, sources, err := WriteImageSupervisord(root, t.TempDir(), dockerfiles...)
			if err != nil {
				t.Fatal(err)
			}
			programs, err := layout.Load()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range programs {
				got = append(got, p.Name+"@"+p.Engine)
				written, err1 := os.ReadFile(p.File)
				source, err2 := os.ReadFile(filepath.Join(root, sources[p.File]))
				if err1 != nil || err2 != nil || string(written) != string(source) {
					t.Errorf("program %s: %s is not a copy of %q (%v, %v)", p.Name, p.File, sources[p.File], err1, err2)
				}
			}
			if strings.Join(got, " ") != c.want {
				t.Errorf("expected the programs %q, received %q", c.want, strings.Join(got, " "))
			}
		})
	}
}

// COPY as Docker reads it: flags, a folder's files, several sources into a
// folder; another stage's files are refused.
func TestWriteImageSupervisord(t *testing.T) {
	root := t.TempDir()
	for path, content := range map[string]string{
		"conf/a.conf":                "[program:a]\n",
		"conf/b.conf":                "[program:b]\n",
		"engines/x/supervisord.conf": "[program:x]\n",
		"engines/x/notes/y.conf":     "[program:y]\n",
		"Dockerfile": "FROM ${BASE_IMAGE}\n" +
			"COPY --chown=app:app conf/a.conf conf/b.conf /etc/supervisord/programs/\n" +
			"COPY engines/ /etc/lb/\n" +
			"COPY conf/a.conf /etc/a.conf\n",
		"Dockerfile.stage": "COPY --from=programs /out/x.conf /etc/supervisord/programs/x.conf\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, path), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	_, sources, err := WriteImageSupervisord(root, dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"etc/supervisord/programs/a.conf": "conf/a.conf",
		"etc/supervisord/programs/b.conf": "conf/b.conf",
		"etc/lb/x/supervisord.conf":       "engines/x/supervisord.conf",
		"etc/lb/x/notes/y.conf":           "engines/x/notes/y.conf",
	}
	for written, source := range want {
		if sources[filepath.Join(dir, written)] != source {
			t.Errorf("expected %s to be a copy of %s, received %q", written, source, sources[filepath.Join(dir, written)])
		}
	}
	if len(sources) != len(want) {
		t.Errorf("expected %d files, received %v", len(want), sources)
	}
	_, _, err = WriteImageSupervisord(root, t.TempDir(), "Dockerfile.stage")
	if want := `Dockerfile.stage: "COPY --from=programs /out/x.conf /etc/supervisord/programs/x.conf" copies another stage's files to /etc/supervisord/programs/x.conf: accepted is the repository's files`; err == nil || err.Error() != want {
		t.Errorf("expected %q, received %v", want, err)
	}
}

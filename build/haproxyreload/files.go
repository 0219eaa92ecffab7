package main

import (
	"os"
	"path/filepath"
)

// copyFile replaces dst with src's content through a temporary file and a
// rename, so HAProxy or a reader never sees half a file. dst keeps its
// mode, or gets 0644 if it is new (the perms of HAProxy's
// consul-template.hcl for the render).
func copyFile(src, dst string) error {
	raw, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeFile(dst, raw)
}

// writeFile is copyFile from raw instead of a file.
func writeFile(dst string, raw []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(dst); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// Package e2e is the end-to-end suite: it runs the README's steps in order
// against the real compose deployment (`make up`, scaling, `make down`) and
// checks what a user would see. Run it with `make e2e`; it needs Docker.
package e2e

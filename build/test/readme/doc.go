// Package readme holds tests that hold the README to the code: what it tells
// a user to have and to type, and the layout it shows, must match what the
// project does and has.
package readme

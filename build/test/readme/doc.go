// Package readme holds tests that hold the README to the code: what it tells
// a user to have and to type must match what the project does.
package readme

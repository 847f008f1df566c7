//go:build race

package kmstest_test

// raceEnabled: the race detector slows JSON decoding about tenfold.
const raceEnabled = true

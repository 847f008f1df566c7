//go:build !race

package kmstest_test

const raceEnabled = false

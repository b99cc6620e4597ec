// Package ml holds xsoc's machine-learning detectors: a DGA classifier for
// DNS query names and a beaconing detector for source→destination pairs.
// They run on the live stream on a CPU, with models trained by xsoc itself
// ("xsoc ml train") and built into the binary, and every alert says which
// features drove its score.
//
// Each detector implements detect.Detector. Events that lack the fields a
// detector needs are skipped and counted (see the detectors' Stats), never
// an error. State is bounded: the beaconing table holds a fixed number of
// pairs and a fixed number of timestamps per pair, and idle pairs expire.
package ml

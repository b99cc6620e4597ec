// Package ml holds xsoc's machine-learning detectors: a DGA classifier for
// DNS query names, a beaconing detector for source→destination pairs, a
// per-entity streaming anomaly detector (Half-Space Trees over windows of
// each host's, user's and source address's activity) and a first-seen
// detector (Bloom filters of what each member has seen). They run on the
// live stream on a CPU, with models trained by xsoc itself ("xsoc ml
// train") or learnt online, and every alert says which features drove it.
// The triage model (Triage) scores every alert, whatever raised it, by the
// probability that an analyst will confirm it, learning online from each
// member's verdicts.
//
// Each detector implements detect.Detector. Events that lack the fields a
// detector needs are skipped and counted (see the detectors' Stats), never
// an error. State is bounded: tables of pairs and entities hold a fixed
// number of entries that expire, and sketches (HyperLogLog, count-min,
// Bloom filters) are sized when they are made. The anomaly and first-seen
// detectors save what they learnt in versioned state files (SaveState,
// LoadState) that survive restarts.
package ml

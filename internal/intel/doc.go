// Package intel is xsoc's repository of shared threat intelligence: STIX 2.1
// objects grouped in collections, with every version kept, exactly as a
// TAXII 2.1 server needs them (package intel/taxii serves this repository
// over HTTP).
//
// # Storage
//
// Each object version is one row: the object's JSON text as received, plus
// the few envelope properties the repository needs to answer queries without
// decoding it again (collection, id, type, version, spec_version), the
// member that added it (its owner), its TLP level and the members it names
// as recipients. Rows are never rewritten; a new version is a new row.
//
// Every row gets a date_added from one repository-wide clock that only moves
// forward: writers take the clock row first, so they are serialised and
// their commit order is the order of their date_added values. A reader that
// pages with added_after therefore never misses an object that commits
// later with an earlier date_added, on SQLite and on PostgreSQL alike. The
// same clock orders deletions, so Since gives the detection engine's IOC
// index one exact, resumable feed of additions and removals.
//
// # Who sees what
//
// Visibility is decided in one place, Viewer.mayRead: a viewer sees an
// object only if it may read the collection (a right given to it, or a
// collection open to the whole community) and tlp.MayReceive allows the
// object's TLP level for the viewer's relation to the object's owner. An
// object without a TLP marking takes its collection's default level, or
// TLP:AMBER when the collection has none: unmarked intelligence is never
// shared wider than the originator's clients.
//
// # Validation
//
// The repository parses only the envelope it stores (type, id, spec_version,
// created, modified, markings, named recipients). Deeper STIX validation is
// a hook, Options.Validate, that the node wires to the STIX validator. An
// object that fails either check is reported as a failure in the request's
// Status and nothing of it is stored; the other objects of the request are
// stored together in one transaction.
package intel

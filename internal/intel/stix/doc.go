// Package stix models STIX 2.1 objects and bundles for xsoc's
// intelligence sharing: decoding with per-object validation, faithful
// re-encoding, TLP markings, and builders for the objects xsoc produces
// (indicators, sightings, identities).
//
// # One object type, typed views
//
// Every STIX object, standard or custom, is an Object: the decoded
// properties themselves, with numbers kept as their JSON text. Nothing is
// lost on the way through xsoc: unknown properties, x_ custom properties,
// extensions and custom object types re-encode as they came (property
// order aside). Typed views (Indicator, Sighting, Identity, Malware,
// AttackPattern, Relationship, Report, ObservedData, MarkingDefinition)
// are decoded from an Object on demand with As or the typed accessors, and
// written back with Update, which leaves the properties the view does not
// name untouched.
//
// # Validation
//
// Validate checks the common rules (type names, "<type>--<UUID>" ids,
// spec_version, created/modified with millisecond precision and in order,
// timestamps in UTC with 'Z', identifier syntax of every *_ref and *_refs
// property) and each type's required properties and constraints,
// including the syntax of "stix" patterns (package pattern). Errors name
// the property. DecodeBundle validates every object of a bundle on its
// own: invalid objects are dropped and reported (ObjectError), the rest
// are kept. Limits bounds the size of what is accepted.
//
// # STIX 2.0
//
// Older feeds and servers still send STIX 2.0. DecodeBundle converts
// every 2.0 object to its 2.1 form first (Upgrade20, which Is20 decides
// on: spec_version "2.0", or created without spec_version) and lists the
// converted ids in Bundle.Converted; the intel repository does the same
// for objects added over TAXII.
//
// # TLP
//
// TLPOf reads an object's sharing level from object_marking_refs,
// understanding both the TLP 2.0 marking definitions OASIS publishes
// (TLPClearRef ... TLPRedRef) and the TLP 1.0 ones built into STIX 2.1
// (WHITE is CLEAR). MarkingRef and SetTLP write TLP 2.0 markings;
// TLPMarkingDefinition returns the standard marking-definition objects to
// ship alongside.
//
// # Identifiers
//
// SDOs and SROs get random UUIDv4 ids (NewID). Cyber observables get the
// deterministic UUIDv5 the specification defines over their
// ID-contributing properties (SCOID), so that the same IP or hash has the
// same id wherever it is produced. NameID gives importers deterministic
// ids for objects derived from external records.
package stix

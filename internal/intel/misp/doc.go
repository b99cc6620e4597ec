// Package misp imports MISP threat-intelligence data into STIX 2.1
// indicators and exports members' shared indicators as a MISP feed.
//
// # Import
//
// ImportEvent reads one MISP event (as the MISP API and feeds write it);
// ImportFeed reads a MISP feed directory (manifest.json plus one
// <uuid>.json per event). Each attribute, at event level or inside a MISP
// object, becomes one STIX indicator when it is meant for detection
// (to_ids, or Options.IncludeNonIDS) and its type has a pattern
// (AttributePattern lists the mapping). The others are kept as context,
// never matched: observed data referring to the observables the value
// describes, or a note for types that describe none (text, links). Each
// event becomes a report (its uuid, info, creator, tags, TLP) referring to
// all of them, and every object keeps its MISP attribute in
// AttributeProperty. Ids derive from the event and attribute uuids, so a
// re-import updates rather than duplicates.
//
// Validity: valid_from is the attribute's (or its object's) first_seen,
// else its last change; last_seen becomes valid_until, and an attribute
// whose last_seen has passed is skipped as expired. Options.MaxAge drops
// attributes without last_seen that have not changed for that long
// (decay), because stale indicators mostly produce false positives.
//
// Sharing level: an explicit tlp tag decides (the attribute's own tag over
// the event's; the most restrictive if several): tlp:clear and tlp:white
// are CLEAR, tlp:green, tlp:amber, tlp:amber+strict and tlp:red map to
// their TLP 2.0 levels. Without a tag, the MISP distribution decides (the
// attribute's, else its object's, else the event's) as DistributionTLP
// documents: "your organisation only" is AMBER+STRICT, "this community"
// and sharing groups are AMBER (a MISP community is not xsoc's community,
// and sharing-group members cannot be mapped onto xsoc members), connected
// and all communities are GREEN (only an explicit tlp:clear makes data
// public). Options.DefaultTLP covers data with neither.
//
// Every input item is reported in Result.Items as imported, kept as
// context (to_ids off, no pattern mapping for the type) or skipped with
// the reason (deleted, malformed value, expired, decayed, unreadable
// event file), so the caller can tell a member what became of it.
//
// ImportFreetext and ImportCSV read plain feeds, one value per line or
// row, sniffing the type (SniffType) unless the CSV spec names it, and
// refanging defanged values.
//
// # Export
//
// ExportFeed writes STIX objects as a MISP feed (manifest.json, event
// files, hashes.csv) that MISP instances, and ImportFeed, can read. A
// report becomes the event it came from, with the attributes kept on its
// objects, so import then export gives MISP users their events back;
// other indicators become attributes through PatternAttributes, the
// reverse of AttributePattern. What has no MISP form (several
// observations, qualifiers, operators other than equality, properties no
// attribute type holds) is reported as skipped with the reason.
package misp

// Package misp imports MISP threat-intelligence data into STIX 2.1
// indicators and exports members' shared indicators as a MISP feed.
//
// # Import
//
// ImportEvent reads one MISP event (as the MISP API and feeds write it);
// ImportFeed reads a MISP feed directory (manifest.json plus one
// <uuid>.json per event). Each attribute, at event level or inside a MISP
// object, becomes one STIX indicator when it is meant for detection
// (to_ids, unless Options.IncludeNonIDS) and its type has a pattern
// (AttributePattern lists the mapping). Indicator ids derive from the
// attribute uuid, so a re-import updates rather than duplicates.
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
// Every input item is reported in Result.Items as imported or skipped with
// the reason (to_ids off, deleted, no pattern mapping for the type,
// malformed value, expired, decayed, unreadable event file), so the
// caller can tell a member why something was dropped.
//
// ImportFreetext and ImportCSV read plain feeds, one value per line or
// row, sniffing the type (SniffType) unless the CSV spec names it, and
// refanging defanged values.
//
// # Export
//
// ExportFeed writes indicators as a MISP feed (manifest.json, event files,
// hashes.csv) that MISP instances, and ImportFeed, can read. Simple
// indicators (one or more exact IPs, networks, domains, URLs, hashes or
// e-mail addresses) export; others are reported as skipped.
package misp

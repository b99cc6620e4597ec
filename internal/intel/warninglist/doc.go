// Package warninglist checks values against MISP warning lists: lists of
// values known to be benign or too common to be indicators of compromise
// (private networks, public DNS resolvers, the most visited domains, the
// hashes of empty files...). xsoc checks every indicator at import and
// drops the ones on a list, recording the list's name as the reason.
//
// Load reads the lists of the MISP misp-warninglists repository
// (<dir>/<list>/list.json); Default returns the built-in set of
// special-purpose networks. InstallFrom checks such a folder and installs
// it into a node's data directory as one versioned set, made active by a
// single rename; Active returns what a node checks against: a folder given
// explicitly, else the installed set, and always the built-in ranges after
// them. A list applies only to the MISP attribute types in its
// matching_attributes, so a domain list does not catch an e-mail address
// that contains the domain.
//
// Matching follows MISP: string lists compare whole values, hostname lists
// also match names below an entry, substring lists match values containing
// an entry, cidr lists match addresses in a range, and regex lists match a
// regular expression (RE2 syntax: the few PCRE features Go lacks make an
// entry unusable, and Set.Skipped reports it).
package warninglist

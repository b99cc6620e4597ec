// Package taxii serves xsoc's intelligence repository (package intel) as a
// TAXII 2.1 server, and pulls and pushes STIX objects from and to other
// TAXII 2.1 servers.
//
// # Server
//
// Server is an http.Handler mounted at /taxii2/ (configurable) with the
// discovery resource there and one API root below it (/taxii2/api/ by
// default):
//
//	GET    /taxii2/                                          discovery
//	GET    /taxii2/api/                                      API root
//	GET    /taxii2/api/collections/                          collections
//	GET    /taxii2/api/collections/{id}/                     collection
//	GET    /taxii2/api/collections/{id}/objects/             objects (envelope)
//	POST   /taxii2/api/collections/{id}/objects/             add objects (202 + status)
//	GET    /taxii2/api/collections/{id}/objects/{oid}/       one object's versions
//	DELETE /taxii2/api/collections/{id}/objects/{oid}/       delete versions
//	GET    /taxii2/api/collections/{id}/objects/{oid}/versions/
//	GET    /taxii2/api/collections/{id}/manifest/
//	GET    /taxii2/api/status/{status-id}/
//
// Pages are filled to the requested limit with the objects the caller may
// see (TLP is applied row by row in the repository), carry more and next,
// and the X-TAXII-Date-Added-First/Last headers, so a client may continue
// either with next or with added_after. next is the date_added of the
// page's last entry: it stays valid however long the client waits.
//
// STIX versions: every object version is held in STIX 2.1, and a version
// a member gave in STIX 2.0 (converted on the way in) also in the form it
// was given. match[spec_version] lists the STIX versions to return, one
// entry per object version and STIX version held (2.0 before 2.1; the
// manifest names each entry's media type, application/stix+json with
// version=2.0 or 2.1, both of which collections list); without it every
// entry is in 2.1, the latest each object has. match[version] picks among
// the versions the spec_version filter keeps. A version that reads
// major.minor but that nothing is held in ("2.2") selects nothing;
// anything else is a 400. A page ends between the 2.0 and 2.1 forms of
// one version only when limit is 1 (next then says so), so that resuming
// with added_after from X-TAXII-Date-Added-Last misses nothing. Deleting
// with match[spec_version]=2.0 deletes only the 2.0 forms.
//
// Authentication is the node's business: Config.Authenticate maps a
// request (HTTP Basic member:apikey, or a Bearer API key) to an
// intel.Viewer. Every resource, discovery included, needs it; a request
// without valid credentials gets 401 with WWW-Authenticate challenges for
// both schemes.
//
// Errors are TAXII error messages ({"title", "description",
// "http_status"}): 400 for malformed filters or bodies, 401, 403 for a
// collection the member may not read or write, 404 for unknown resources
// (and for objects the caller may not see, so that their existence does
// not leak), 405, 406 when the Accept header admits no TAXII 2.1 JSON, 413
// for bodies above max_content_length, 415 for a POST that is neither
// application/taxii+json;version=2.1 nor a STIX 2.1 or 2.0 bundle.
//
// Adding objects is synchronous: the 202 answer already carries the
// complete status resource, which stays readable at the status endpoint.
// A malformed envelope is refused whole (400) and nothing is stored; a
// well-formed envelope is stored object by object, each object whole or
// not at all, in one transaction, with each failure's reason in the
// status.
//
// # Client and Feed
//
// Client implements every TAXII 2.1 call against one API root, with HTTP
// Basic or Bearer credentials and pluggable TLS. Client.Pull and
// Client.PullPages read a collection incrementally from an added_after
// cursor, following more and next. Feed pulls a remote collection on a
// schedule, hands each page to a callback (typically adding the objects
// to the local repository) and stores its cursor in the taxii_feeds table
// only after the callback succeeded.
package taxii

package taxii

import "encoding/json"

// Media types of TAXII 2.1 resources and of the STIX objects they carry
// (STIX 2.1, and STIX 2.0 for what members gave in 2.0).
const (
	MediaTAXII  = "application/taxii+json;version=2.1"
	MediaSTIX   = "application/stix+json;version=2.1"
	MediaSTIX20 = "application/stix+json;version=2.0"
)

// Headers that carry the date_added of the first and last object of a
// page, so that a client can resume with added_after.
const (
	HeaderDateAddedFirst = "X-TAXII-Date-Added-First"
	HeaderDateAddedLast  = "X-TAXII-Date-Added-Last"
)

// Discovery is the server's discovery resource.
type Discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// APIRoot is an API root's information resource.
type APIRoot struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// Collection is a collection resource.
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// collections is the collections resource.
type collections struct {
	Collections []Collection `json:"collections,omitempty"`
}

// envelope is the envelope resource: a page of STIX objects.
type envelope struct {
	More    *bool             `json:"more,omitempty"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
}

// ManifestRecord describes one object version without its content.
type ManifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type,omitempty"`
}

// manifest is the manifest resource.
type manifest struct {
	More    *bool            `json:"more,omitempty"`
	Next    string           `json:"next,omitempty"`
	Objects []ManifestRecord `json:"objects,omitempty"`
}

// versions is the versions resource.
type versions struct {
	More     *bool    `json:"more,omitempty"`
	Next     string   `json:"next,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

// Status is the status resource of an add request.
type Status struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	RequestTimestamp string `json:"request_timestamp,omitempty"`
	TotalCount       int    `json:"total_count"`
	SuccessCount     int    `json:"success_count"`
	// Successes, Failures and Pendings are always present, empty lists
	// included, so that clients need not tell a missing list from an
	// empty one.
	Successes    []StatusDetail `json:"successes"`
	FailureCount int            `json:"failure_count"`
	Failures     []StatusDetail `json:"failures"`
	PendingCount int            `json:"pending_count"`
	Pendings     []StatusDetail `json:"pendings"`
}

// Status values.
const (
	StatusComplete = "complete"
	StatusPending  = "pending"
)

// StatusDetail is the outcome of one object of an add request.
type StatusDetail struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// Error is a TAXII error message, returned by the server with every error
// status and by the client as its error value.
type Error struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	ErrorID     string `json:"error_id,omitempty"`
	ErrorCode   string `json:"error_code,omitempty"`
	// HTTPStatus is the status code as a string, as TAXII 2.1 defines it.
	HTTPStatus string `json:"http_status,omitempty"`
}

// Error returns the title and description.
func (e *Error) Error() string {
	s := "taxii: " + e.HTTPStatus + " " + e.Title
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

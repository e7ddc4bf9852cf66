package zoho

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
)

// DataCentre is one of Zoho's data centres: an accounts server that issues
// tokens and the API domain it normally hands out.
type DataCentre struct {
	// Name is the short name used by --dc and ZOHO_DC.
	Name string
	// AccountsURL is the accounts server's base URL.
	AccountsURL string
	// APIDomain is the API base URL; the token response's api_domain
	// takes precedence.
	APIDomain string
}

// dataCentres lists Zoho's data centres as the official SDKs and Zoho's
// accounts multi-DC page do (US, EU, IN, AU, JP, CA, SA, UK, CN). Canada is
// the odd one: its accounts host is zohocloud.ca, not zoho.ca.
var dataCentres = map[string]DataCentre{
	"us": {"us", "https://accounts.zoho.com", "https://www.zohoapis.com"},
	"eu": {"eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"},
	"in": {"in", "https://accounts.zoho.in", "https://www.zohoapis.in"},
	"au": {"au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"},
	"jp": {"jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"},
	"ca": {"ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"},
	"sa": {"sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"},
	// The UK centre is on Zoho's accounts multi-DC page; its API domain
	// follows the others' pattern (the token response names it anyway).
	"uk": {"uk", "https://accounts.zoho.uk", "https://www.zohoapis.uk"},
	"cn": {"cn", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"},
}

// DefaultDC is the data centre used when none is named.
const DefaultDC = "us"

// LookupDC returns the data centre with the given short name (case
// insensitive; "" means DefaultDC).
func LookupDC(name string) (DataCentre, error) {
	if name == "" {
		name = DefaultDC
	}
	dc, ok := dataCentres[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return DataCentre{}, fmt.Errorf("unknown data centre %q (want one of %s)", name, strings.Join(DCNames(), ", "))
	}
	return dc, nil
}

// DCNames returns the short names of the data centres, sorted.
func DCNames() []string {
	names := make([]string, 0, len(dataCentres))
	for n := range dataCentres {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkBaseURL parses a base URL and refuses anything but https, except
// plain http to a loopback host (the simulator and tests).
func checkBaseURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(raw), "/"))
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a URL: %w", what, raw, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s %q has no host", what, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s %q must be a plain base URL, with no user, query or fragment", what, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%s %q: plain http is allowed only for loopback hosts; use https", what, raw)
		}
	default:
		return nil, fmt.Errorf("%s %q: scheme must be https", what, raw)
	}
	return u, nil
}

// IsLocal reports whether base is a plain-http URL on this machine's
// loopback: a simulator (offboard sandbox, a test's), never Zoho.
func IsLocal(base string) bool {
	u, err := url.Parse(base)
	return err == nil && u.Scheme == "http" && isLoopback(u.Hostname())
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apiZone is the domain every API host of the data centre is under, e.g.
// zohoapis.eu for https://www.zohoapis.eu.
func (dc DataCentre) apiZone() string {
	u, err := url.Parse(dc.APIDomain)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Hostname(), "www.")
}

// hasAPIHost reports whether u is an https URL on one of dc's API hosts:
// its zone or a name under it, on the https port.
func (dc DataCentre) hasAPIHost(u *url.URL) bool {
	zone, host := dc.apiZone(), strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if u.Scheme != "https" || zone == "" || (u.Port() != "" && u.Port() != "443") {
		return false
	}
	return host == zone || strings.HasSuffix(host, "."+zone)
}

// accountsDC is the data centre whose API domains a token may name: the one
// named, or else the one whose accounts server accounts is (the default
// data centre for another server).
func accountsDC(name string, accounts *url.URL) (DataCentre, error) {
	if name == "" {
		for _, dc := range dataCentres {
			if u, err := url.Parse(dc.AccountsURL); err == nil && strings.EqualFold(u.Host, accounts.Host) {
				return dc, nil
			}
		}
	}
	return LookupDC(name)
}

package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"offboard/zoho"
)

// unreachable says, in a person's words, that offboard could not reach a
// server, why, and what to check; "" when err is no failure to connect.
// The Go error ("dial tcp: lookup …: no such host") is what the log's
// debug lines are for, not the operator's last line.
func unreachable(err error) string {
	var (
		auth    *zoho.AuthError
		host    string
		tries   string
		server  = "the Zoho API"
		isToken bool
	)
	if errors.As(err, &auth) && auth.Unreachable {
		isToken = true
		server = "the Zoho accounts server"
		host = hostOf(auth.URL)
		tries = fmt.Sprintf(" (%d tries over %s)", auth.Tries, auth.Took)
	}
	why, where, ok := netCause(err)
	if !ok && !isToken {
		return ""
	}
	if host == "" {
		host = where
	}
	if !ok {
		why = "it did not answer"
		if auth.Err != nil {
			var inner *zoho.AuthError
			if errors.As(auth.Err, &inner) && inner.Err != nil && strings.Contains(inner.Err.Error(), "HTTP 5") {
				why = "it answered with server errors (" + inner.Err.Error() + ")"
			} else if strings.Contains(fmt.Sprint(auth.Err), "no answer within") {
				why = "it did not answer in time"
			}
		}
	}
	check := "check --api-domain (or ZOHO_API_DOMAIN), and this machine's network, DNS, firewall and proxy (HTTPS_PROXY)"
	if isToken {
		check = "check the data centre (--dc or ZOHO_DC) or --accounts-url, and this machine's network, DNS, firewall and proxy (HTTPS_PROXY)"
	}
	at := ""
	if host != "" {
		at = " at " + host
	}
	return fmt.Sprintf("could not reach %s%s%s: %s; %s", server, at, tries, why, check)
}

// netCause names the network failure in err's chain and the host or
// address it concerned.
func netCause(err error) (why, where string, ok bool) {
	var (
		dns      *net.DNSError
		op       *net.OpError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		uerr     *url.Error
		nerr     net.Error
	)
	if errors.As(err, &uerr) {
		where = hostOf(uerr.URL)
	}
	if errors.As(err, &op) && op.Addr != nil {
		where = op.Addr.String()
	}
	msg := err.Error()
	switch {
	case errors.As(err, &dns):
		where = dns.Name
		switch {
		case dns.IsNotFound:
			return "the name does not resolve (DNS: no such host)", where, true
		case dns.IsTimeout:
			return "the DNS lookup timed out", where, true
		}
		return "the DNS lookup failed", where, true
	case errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(msg, "connection refused") || strings.Contains(msg, "actively refused"):
		return "the connection was refused: nothing listens at that address and port", where, true
	case errors.As(err, &hostname):
		return fmt.Sprintf("the TLS (https) certificate is for another name (%s)", hostname.Host), where, true
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &verify):
		return "its TLS (https) certificate is not trusted on this machine (a proxy or firewall that inspects https?)", where, true
	case errors.As(err, &record):
		return "the TLS (https) handshake failed: it does not speak https there", where, true
	case errors.Is(err, syscall.ECONNRESET) || strings.Contains(msg, "connection reset"):
		return "the connection was reset", where, true
	case errors.As(err, &nerr) && nerr.Timeout(), strings.Contains(msg, "no answer within"):
		return "it did not answer in time (a timeout)", where, true
	case op != nil:
		return "the connection failed (" + op.Err.Error() + ")", where, true
	}
	return "", "", false
}

// hostOf is the host of a URL, or the URL itself if it does not parse.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}
